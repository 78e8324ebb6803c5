"""Tests for impl/alloc_info.py and impl/unitmap.py (first-chunk unit mapping)."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from impl.alloc_info import (
    EINVAL,
    KIND_BUG_ON,
    KIND_DIVIDE_ERROR,
    KIND_MODEL,
    KIND_SETUP_BUG_ON,
    LOCAL_DISTANCE,
    NR_CPUS_DEFAULT,
    PCPU_SETUP_BUG_ON_RULES,
    PERCPU_DYNAMIC_EARLY_SIZE,
    PERCPU_DYNAMIC_EARLY_SIZE_RANDOM_KMALLOC,
    PERCPU_DYNAMIC_RESERVE,
    PERCPU_MODULE_RESERVE,
    PMD_SIZE_X86_64,
    R_BLOCK_VS_PAGE,
    R_CPU_DUPLICATE,
    R_CPU_NR_CPU_IDS,
    R_CPU_POSSIBLE,
    R_CPU_UNMAPPED,
    R_DUMP_NR_UNITS,
    R_DYN_SIZE,
    R_MODEL_UNEXPECTED,
    R_NR_GROUPS,
    R_PER_CPU_START,
    R_RESERVED_ALIGN,
    R_STATIC_SIZE,
    R_UNIT_SIZE_BLOCK,
    R_UNIT_SIZE_MIN,
    R_UNIT_SIZE_PAGE,
    R_UNIT_SIZE_SUM,
    R_VERIFY,
    REMOTE_DISTANCE,
    UINT_MAX,
    CpuMapPtr,
    PcpuSetupError,
    bitmap_string,
    pcpu_alloc_alloc_info,
    pcpu_alloc_info,
    pcpu_build_alloc_info,
    pcpu_dump_alloc_info,
    pcpu_group_info,
    pcpu_setup_first_chunk_checks,
    pcpu_verify_alloc_info,
    pcpu_verify_alloc_info_km,
)
from impl.unitmap import (
    VMALLOC_TOTAL_X86_64_L4,
    BootmemAllocator,
    format_unit_map,
    pcpu_embed_first_chunk,
    unit_table,
)
from tools.shared_data import TRACE_DIR

pytestmark = pytest.mark.unit

DMESG = TRACE_DIR / "dmesg_percpu.txt"

# The Debian 6.12.117 amd64 guest (qemu -smp 4, one node).
STATIC_SIZE = 233472
RESERVED = PERCPU_MODULE_RESERVE  # x86_64 PERCPU_FIRST_CHUNK_RESERVE
DYN = PERCPU_MODULE_RESERVE + PERCPU_DYNAMIC_RESERVE - PERCPU_MODULE_RESERVE  # arch/x86 dyn_size
ATOM = PMD_SIZE_X86_64
BASE = 0xFFFF88803E000000
MB = 1 << 20


def one_node(_a: int, _b: int) -> int:
    return LOCAL_DISTANCE


def two_nodes(a: int, b: int) -> int:
    return LOCAL_DISTANCE if a // 2 == b // 2 else REMOTE_DISTANCE


def build(possible, distance=one_node, **kw) -> pcpu_alloc_info:
    kw.setdefault("static_size", STATIC_SIZE)
    return pcpu_build_alloc_info(RESERVED, DYN, ATOM, distance, possible_cpus=possible, **kw)


def dump(ai: pcpu_alloc_info, possible) -> list[str]:
    return pcpu_dump_alloc_info("KERN_DEBUG", ai, possible_cpus=possible)


def dmesg_lines() -> list[str]:
    text = DMESG.read_text()
    return [re.sub(r"^\[\s*[0-9.]+\] ", "", ln) for ln in text.split("\n") if ln]


# ---------------------------------------------------------------------------
# The real machine
# ---------------------------------------------------------------------------


def test_constants_match_debian_build() -> None:
    assert DYN == 28672
    assert RESERVED == 8192
    assert PERCPU_DYNAMIC_EARLY_SIZE == 20 << 10


@pytest.mark.skipif(not DMESG.exists(), reason="trace directory not available")
def test_debian_smp4_dump_matches_dmesg() -> None:
    ai = build(range(4))
    lines = dump(ai, range(4))
    kernel = [ln for ln in dmesg_lines() if ln.startswith("pcpu-alloc: ")]
    assert lines == kernel
    assert lines == [
        "pcpu-alloc: s233472 r8192 d28672 u524288 alloc=1*2097152",
        "pcpu-alloc: [0] 0 1 2 3 ",
    ]


def test_debian_smp4_alloc_info_fields() -> None:
    ai = build(range(4))
    assert (ai.static_size, ai.reserved_size, ai.dyn_size) == (233472, 8192, 28672)
    assert (ai.unit_size, ai.atom_size, ai.alloc_size) == (524288, 2 * MB, 2 * MB)
    assert ai.nr_groups == 1
    gi = ai.groups[0]
    assert (gi.nr_units, gi.base_offset, gi.units()) == (4, 0, [0, 1, 2, 3])
    assert ai._ai_size == 4096


@pytest.mark.skipif(not DMESG.exists(), reason="trace directory not available")
def test_debian_smp4_embed_matches_dmesg() -> None:
    mem = BootmemAllocator()
    res = pcpu_embed_first_chunk(
        RESERVED, DYN, ATOM, one_node, lambda cpu: 0,
        pcpu_fc_alloc=mem, pcpu_fc_free=mem.free, static_size=STATIC_SIZE,
        possible_cpus=range(4),
    )
    assert res.rc == 0
    kernel = dmesg_lines()
    assert res.log == [ln for ln in kernel if ln.startswith("percpu: Embedded")]
    assert res.log == ["percpu: Embedded 66 pages/cpu s233472 r8192 d28672 u524288"]
    assert res.setup.dump == [ln for ln in kernel if ln.startswith("pcpu-alloc: ")]
    # one 2 MiB area, PMD aligned, at the top of the 1 GiB node
    assert res.areas == [0xFFFF888040000000 - 2 * MB]
    assert res.base == res.areas[0]
    assert res.max_distance == 2 * MB
    assert res.setup.pcpu_unit_offsets == [0, 524288, 1048576, 1572864]
    # each unit gives back what lies beyond static+reserved+dyn
    size_sum = 270336
    assert res.base is not None
    assert mem.frees == [(res.base + u * 524288 + size_sum, 524288 - size_sum) for u in range(4)]


def test_random_kmalloc_early_size_would_not_match_dmesg() -> None:
    ai = build(range(4), PERCPU_DYNAMIC_EARLY_SIZE=PERCPU_DYNAMIC_EARLY_SIZE_RANDOM_KMALLOC)
    assert dump(ai, range(4))[0] == "pcpu-alloc: s233472 r8192 d81920 u524288 alloc=1*2097152"


# ---------------------------------------------------------------------------
# Other topologies
# ---------------------------------------------------------------------------


def test_two_numa_nodes() -> None:
    ai = build(range(4), two_nodes)
    assert ai.nr_groups == 2
    assert ai.unit_size == 1 * MB  # upa=4 would waste 4 units > 4/3
    assert [g.units() for g in ai.groups] == [[0, 1], [2, 3]]
    assert [g.base_offset for g in ai.groups] == [0, 2 * MB]  # provisional, back to back
    assert dump(ai, range(4)) == [
        "pcpu-alloc: s233472 r8192 d28672 u1048576 alloc=1*2097152",
        "pcpu-alloc: [0] 0 1 [1] 2 3 ",
    ]


def test_two_numa_nodes_embed_base_offsets() -> None:
    node0 = (0xFFFF888000000000, 0xFFFF888040000000)
    node1 = (0xFFFF888100000000, 0xFFFF888140000000)
    mem = BootmemAllocator({0: node0, 1: node1})
    res = pcpu_embed_first_chunk(
        RESERVED, DYN, ATOM, two_nodes, lambda cpu: cpu // 2,
        pcpu_fc_alloc=mem, pcpu_fc_free=mem.free, static_size=STATIC_SIZE,
        possible_cpus=range(4),
    )
    assert res.rc == 0
    assert res.areas == [node0[1] - 2 * MB, node1[1] - 2 * MB]
    assert res.base == node0[1] - 2 * MB
    assert res.highest_group == 1
    assert [g.base_offset for g in res.ai.groups] == [0, node1[1] - node0[1]]
    assert res.max_distance == node1[1] - node0[1] + 2 * MB
    t = res.setup
    assert t.pcpu_unit_map == [0, 1, 2, 3]
    assert t.pcpu_unit_offsets == [0, MB, node1[1] - node0[1], node1[1] - node0[1] + MB]
    assert (t.pcpu_low_unit_cpu, t.pcpu_high_unit_cpu) == (0, 3)


def test_three_cpus() -> None:
    ai = build(range(3))
    assert ai.unit_size == 524288 and ai.groups[0].nr_units == 4
    assert ai.groups[0].units() == [0, 1, 2, NR_CPUS_DEFAULT]
    assert dump(ai, range(3))[1] == "pcpu-alloc: [0] 0 1 2 - "
    t = pcpu_setup_first_chunk_checks(ai, BASE, range(3))
    assert t.pcpu_nr_units == 4 and t.pcpu_unit_map == [0, 1, 2]


def test_five_cpus_waste_rule() -> None:
    # upa=4 wastes 3 > 5/3 units, so the kernel settles on upa=2 (1 MiB units)
    ai = build(range(5))
    assert ai.unit_size == MB
    assert dump(ai, range(5))[1] == "pcpu-alloc: [0] 0 1 [0] 2 3 [0] 4 - "


def test_sparse_possible_cpus() -> None:
    possible = {0, 2, 5}
    ai = build(possible)
    assert ai.groups[0].units() == [0, 2, 5, NR_CPUS_DEFAULT]
    assert dump(ai, possible)[1] == "pcpu-alloc: [0] 0 2 5 - "
    t = pcpu_setup_first_chunk_checks(ai, BASE, possible)  # nr_cpu_ids defaults to 6
    assert t.pcpu_unit_map == [0, UINT_MAX, 1, UINT_MAX, UINT_MAX, 2]
    assert t.pcpu_unit_offsets[5] == 2 * 524288


def test_sparse_page_atom() -> None:
    ai = build({0, 2, 5}, None, static_size=STATIC_SIZE)
    ai2 = pcpu_build_alloc_info(RESERVED, DYN, 4096, None, static_size=STATIC_SIZE,
                                possible_cpus={0, 2, 5})
    assert ai.unit_size == 524288
    assert ai2.unit_size == 270336 and ai2.alloc_size == 270336
    assert dump(ai2, {0, 2, 5}) == [
        "pcpu-alloc: s233472 r8192 d28672 u270336 alloc=66*4096",
        "pcpu-alloc: [0] 0 [0] 2 [0] 5 ",
    ]


def test_sixty_four_cpus() -> None:
    ai = build(range(64))
    assert ai.unit_size == 524288 and ai.groups[0].nr_units == 64
    lines = dump(ai, range(64))
    assert len(lines) == 9
    assert lines[1] == "pcpu-alloc: [0] 00 01 02 03 [0] 04 05 06 07 "
    assert lines[8] == "pcpu-alloc: [0] 56 57 58 59 [0] 60 61 62 63 "
    t = pcpu_setup_first_chunk_checks(ai, BASE, range(64))
    assert t.pcpu_unit_map == list(range(64))


def test_sixty_four_cpus_eight_nodes() -> None:
    def dist(a: int, b: int) -> int:
        return LOCAL_DISTANCE if a % 8 == b % 8 else REMOTE_DISTANCE  # interleaved nodes

    ai = build(range(64), dist)
    assert ai.nr_groups == 8
    assert ai.groups[1].units() == [1, 9, 17, 25, 33, 41, 49, 57]
    lines = dump(ai, range(64))
    assert lines[1] == "pcpu-alloc: [0] 00 08 16 24 [0] 32 40 48 56 "
    assert lines[2] == "pcpu-alloc: [1] 01 09 17 25 [1] 33 41 49 57 "
    assert len(lines) == 9


def test_allocations_of_several_groups_share_a_line() -> None:
    ai = build(range(8), two_nodes)  # four nodes of two CPUs
    assert dump(ai, range(8)) == [
        "pcpu-alloc: s233472 r8192 d28672 u1048576 alloc=1*2097152",
        "pcpu-alloc: [0] 0 1 [1] 2 3 [2] 4 5 [3] 6 7 ",
    ]


def test_asymmetric_distance_needs_both_ways() -> None:
    def dist(a: int, b: int) -> int:
        return LOCAL_DISTANCE if a <= b else REMOTE_DISTANCE

    ai = build(range(2), dist)
    assert ai.nr_groups == 2


def test_nearer_than_local_is_not_grouped() -> None:
    ai = build(range(2), lambda a, b: 5)
    assert ai.nr_groups == 2


def test_alloc_alloc_info_layout() -> None:
    ai = pcpu_alloc_alloc_info(2, 6)
    assert ai is not None
    assert ai.nr_groups == 2 and len(ai.groups) == 2
    assert list(ai.groups[0].cpu_map or []) == [NR_CPUS_DEFAULT] * 6
    assert ai.groups[1].cpu_map is None
    assert ai._ai_size == 4096
    assert pcpu_alloc_alloc_info(-1, 0) is None


def test_group_cpu_maps_alias_one_array() -> None:
    ai = build(range(4), two_nodes)
    cm0, cm1 = ai.groups[0].cpu_map, ai.groups[1].cpu_map
    assert isinstance(cm0, CpuMapPtr) and isinstance(cm1, CpuMapPtr)
    assert cm0[2] == cm1[0] == 2


def test_bitmap_string() -> None:
    assert bitmap_string(range(4), 4) == "f"
    assert bitmap_string({0, 2, 5}, 6) == "25"
    assert bitmap_string(range(64), 64) == "ffffffff,ffffffff"
    assert bitmap_string({0, 40}, 48) == "0100,00000001"


# ---------------------------------------------------------------------------
# km back end
# ---------------------------------------------------------------------------


def test_km_single_group_only() -> None:
    log: list[str] = []
    assert pcpu_verify_alloc_info_km(build(range(4), two_nodes), log=log) == -EINVAL
    assert log == ["percpu: can't handle more than one group"]
    with pytest.raises(PcpuSetupError) as ei:
        pcpu_setup_first_chunk_checks(build(range(4), two_nodes), BASE, range(4), backend="km")
    assert ei.value.rule == R_VERIFY
    assert ei.value.log[0] == "percpu: can't handle more than one group"
    # the vm back end has no restriction
    assert pcpu_verify_alloc_info(build(range(4), two_nodes), "vm") == 0


def test_km_waste_is_only_a_warning() -> None:
    log: list[str] = []
    ai = pcpu_build_alloc_info(RESERVED, DYN, 4096, None, static_size=STATIC_SIZE,
                               possible_cpus=range(3))
    assert pcpu_verify_alloc_info_km(ai, log=log) == 0
    assert log == ["percpu: wasting 58 pages per chunk"]  # 3 * 66 = 198 -> 256
    t = pcpu_setup_first_chunk_checks(ai, BASE, range(3), backend="km")
    assert t.log == ["percpu: wasting 58 pages per chunk"]
    log.clear()
    assert pcpu_verify_alloc_info_km(build(range(4)), log=log) == 0
    assert log == []  # 4 * 128 pages is a power of two


# ---------------------------------------------------------------------------
# PCPU_SETUP_BUG_ON, one configuration per rule
# ---------------------------------------------------------------------------


def debian_ai() -> pcpu_alloc_info:
    return build(range(4))


def with_map(cpu_map: list[int]) -> pcpu_alloc_info:
    ai = debian_ai()
    ai.groups[0].cpu_map = cpu_map
    return ai


def mutate(**fields: int) -> pcpu_alloc_info:
    ai = debian_ai()
    for k, v in fields.items():
        setattr(ai, k, v)
    return ai


INVALID = [
    (R_NR_GROUPS, lambda: mutate(nr_groups=0), {}),
    (R_NR_GROUPS, lambda: mutate(nr_groups=-3), {}),
    (R_STATIC_SIZE, lambda: mutate(static_size=0), {}),
    (R_PER_CPU_START, debian_ai, {"per_cpu_start": 0xFFFFFFFF82000100}),
    ("!base_addr", debian_ai, {"base_addr": None}),
    ("!base_addr", debian_ai, {"base_addr": 0}),
    ("offset_in_page(base_addr)", debian_ai, {"base_addr": BASE + 0x800}),
    (R_UNIT_SIZE_SUM, lambda: mutate(unit_size=262144), {}),
    (R_UNIT_SIZE_SUM, lambda: mutate(unit_size=0), {}),
    (R_UNIT_SIZE_PAGE, lambda: mutate(unit_size=524288 + 100), {}),
    (R_UNIT_SIZE_MIN,
     lambda: mutate(static_size=4096, reserved_size=0, dyn_size=20480, unit_size=28672), {}),
    (R_UNIT_SIZE_BLOCK, lambda: mutate(unit_size=524288 + 4096),
     {"PCPU_BITMAP_BLOCK_SIZE": 8192}),
    (R_DYN_SIZE, lambda: mutate(dyn_size=16384), {}),
    (R_RESERVED_ALIGN, lambda: mutate(reserved_size=8194), {}),
    (R_BLOCK_VS_PAGE, debian_ai, {"PCPU_BITMAP_BLOCK_SIZE": 6144}),
    (R_VERIFY, lambda: build(range(4), two_nodes), {"backend": "km"}),
    (R_CPU_NR_CPU_IDS, lambda: with_map([0, 1, 2, 4]), {}),
    (R_CPU_POSSIBLE, debian_ai, {"possible_cpus": {0, 1, 3}, "nr_cpu_ids": 4}),
    (R_CPU_DUPLICATE, lambda: with_map([0, 1, 1, 3]), {}),
    (R_CPU_UNMAPPED, lambda: with_map([0, 1, NR_CPUS_DEFAULT, 3]), {}),
    (R_CPU_UNMAPPED, debian_ai, {"possible_cpus": range(5)}),
]


@pytest.mark.parametrize(("rule", "make", "kw"), INVALID, ids=[r for r, _, _ in INVALID])
def test_setup_bug_on_rules(rule: str, make, kw: dict) -> None:
    kw = dict(kw)
    base_addr = kw.pop("base_addr", BASE)
    possible = kw.pop("possible_cpus", range(4))
    with pytest.raises(PcpuSetupError) as ei:
        pcpu_setup_first_chunk_checks(make(), base_addr, possible, **kw)
    err = ei.value
    assert err.kind == KIND_SETUP_BUG_ON
    assert err.rule == rule
    assert err.function == "pcpu_setup_first_chunk"
    # km's own message comes first for the verify rule
    at = err.log.index(f"percpu: failed to initialize, {rule}")
    assert at == (1 if rule == R_VERIFY else 0)
    assert err.log[at + 1].startswith("percpu: cpu_possible_mask=")


def test_every_setup_rule_is_exercised() -> None:
    assert {r for r, _, _ in INVALID} == set(PCPU_SETUP_BUG_ON_RULES)


def test_setup_bug_on_log_has_emergency_dump() -> None:
    with pytest.raises(PcpuSetupError) as ei:
        pcpu_setup_first_chunk_checks(mutate(dyn_size=16384), BASE, range(4))
    assert ei.value.log == [
        "percpu: failed to initialize, ai->dyn_size < PERCPU_DYNAMIC_EARLY_SIZE",
        "percpu: cpu_possible_mask=f",
        "pcpu-alloc: s233472 r8192 d16384 u524288 alloc=1*2097152",
        "pcpu-alloc: [0] 0 1 2 3 ",
    ]


def test_setup_bug_on_with_unit_size_zero_dump_traps() -> None:
    with pytest.raises(PcpuSetupError) as ei:
        pcpu_setup_first_chunk_checks(mutate(unit_size=0), BASE, range(4))
    assert ei.value.rule == R_UNIT_SIZE_SUM
    assert ei.value.log[-1] == (
        "(pcpu_dump_alloc_info stops: divide error(ai->alloc_size / ai->unit_size))"
    )


def test_size_sum_wraps_like_size_t() -> None:
    ai = mutate(static_size=1 << 63, reserved_size=1 << 63)
    t = pcpu_setup_first_chunk_checks(ai, BASE, range(4))  # size_sum wraps to dyn_size
    assert t.pcpu_nr_units == 4


def test_no_smp_skips_static_checks() -> None:
    t = pcpu_setup_first_chunk_checks(mutate(static_size=0), BASE, range(4), config_smp=False)
    assert t.pcpu_nr_units == 4


# ---------------------------------------------------------------------------
# Checks that are not PCPU_SETUP_BUG_ON
# ---------------------------------------------------------------------------


def test_dump_traps_after_sanity_checks() -> None:
    # atom_size and alloc_size are never sanity-checked, but the dump divides by them
    with pytest.raises(PcpuSetupError) as ei:
        pcpu_setup_first_chunk_checks(mutate(atom_size=0), BASE, range(4))
    assert (ei.value.kind, ei.value.function) == (KIND_DIVIDE_ERROR, "pcpu_dump_alloc_info")
    assert ei.value.rule == "ai->alloc_size / ai->atom_size"

    with pytest.raises(PcpuSetupError) as ei:
        pcpu_setup_first_chunk_checks(mutate(alloc_size=4096), BASE, range(4))
    assert (ei.value.kind, ei.value.rule) == (KIND_DIVIDE_ERROR, "gi->nr_units % upa")

    with pytest.raises(PcpuSetupError) as ei:
        pcpu_setup_first_chunk_checks(mutate(alloc_size=3 * 524288), BASE, range(4))
    assert (ei.value.kind, ei.value.rule) == (KIND_BUG_ON, R_DUMP_NR_UNITS)


def test_build_traps() -> None:
    with pytest.raises(PcpuSetupError) as ei:
        pcpu_build_alloc_info(RESERVED, DYN, 0, None, static_size=STATIC_SIZE,
                              possible_cpus=range(4))
    assert (ei.value.kind, ei.value.function) == (KIND_DIVIDE_ERROR, "pcpu_build_alloc_info")
    assert ei.value.rule == "roundup(min_unit_size, atom_size)"

    with pytest.raises(PcpuSetupError) as ei:  # no page-aligned unit divides 270000
        pcpu_build_alloc_info(RESERVED, DYN, 3000, None, static_size=STATIC_SIZE,
                              possible_cpus=range(4))
    assert (ei.value.kind, ei.value.rule) == (KIND_DIVIDE_ERROR, "alloc_size % upa")


def test_build_rejects_unrepresentable_arguments() -> None:
    for kw in ({"static_size": -1}, {"possible_cpus": [NR_CPUS_DEFAULT]},
               {"possible_cpus": [0], "nr_cpu_ids": 0}, {"page_size": 3000}):
        args: dict[str, Any] = {"static_size": STATIC_SIZE, "possible_cpus": range(4)} | kw
        with pytest.raises(PcpuSetupError) as ei:
            pcpu_build_alloc_info(RESERVED, DYN, ATOM, None, **args)
        assert ei.value.kind == KIND_MODEL


def test_empty_possible_mask_fails_the_first_setup_check() -> None:
    ai = build(set(), nr_cpu_ids=4)
    assert ai.nr_groups == 0
    with pytest.raises(PcpuSetupError) as ei:
        pcpu_setup_first_chunk_checks(ai, BASE, set(), nr_cpu_ids=4)
    assert ei.value.rule == R_NR_GROUPS


def test_cpus_beyond_nr_cpu_ids_are_not_walked() -> None:
    # with NR_CPUS > BITS_PER_LONG the mask walks stop at nr_cpu_ids
    ai = build({0, 1, 7}, nr_cpu_ids=4)
    assert ai.groups[0].units()[:2] == [0, 1] and 7 not in ai.groups[0].units()


def test_malformed_ai_is_a_model_error() -> None:
    cases = []
    ai = debian_ai()
    ai.groups = []
    cases.append(ai)
    ai = debian_ai()
    ai.groups[0].cpu_map = None
    cases.append(ai)
    ai = debian_ai()
    ai.groups[0].cpu_map = [0, 1]
    cases.append(ai)
    cases.append(mutate(dyn_size=-1))
    ai = debian_ai()
    ai.groups[0].cpu_map = [0, 1, 2, -3]
    cases.append(ai)
    for ai in cases:
        with pytest.raises(PcpuSetupError) as ei:
            pcpu_setup_first_chunk_checks(ai, BASE, range(4))
        assert ei.value.kind == KIND_MODEL, ei.value
        assert ei.value.rule.startswith("model: ")


# ---------------------------------------------------------------------------
# Embedding
# ---------------------------------------------------------------------------

FAR_NODES = {0: (0xFFFF888000000000, 0xFFFF888040000000),
             1: (0xFFFFA08000000000, 0xFFFFA08040000000)}  # ~24 TiB apart > 3/4 of 32 TiB


def test_embed_max_distance_fails_with_page_fallback() -> None:
    mem = BootmemAllocator(FAR_NODES)
    res = pcpu_embed_first_chunk(
        RESERVED, DYN, ATOM, two_nodes, lambda c: c // 2, pcpu_fc_alloc=mem,
        pcpu_fc_free=mem.free, static_size=STATIC_SIZE, possible_cpus=range(4),
    )
    assert res.rc == -EINVAL and res.base is None
    assert res.max_distance is not None and res.max_distance > VMALLOC_TOTAL_X86_64_L4 * 3 // 4
    assert res.log == [f"percpu: max_distance={res.max_distance:#x} too large for vmalloc "
                       f"space {VMALLOC_TOTAL_X86_64_L4:#x}"]
    assert sorted(mem.frees) == sorted((a, 2 * MB) for a in res.areas if a)


def test_embed_max_distance_only_warns_without_page_fallback() -> None:
    mem = BootmemAllocator(FAR_NODES)
    res = pcpu_embed_first_chunk(
        RESERVED, DYN, ATOM, two_nodes, lambda c: c // 2, pcpu_fc_alloc=mem,
        static_size=STATIC_SIZE, possible_cpus=range(4),
        CONFIG_NEED_PER_CPU_PAGE_FIRST_CHUNK=False,
    )
    assert res.rc == 0 and len(res.log) == 2
    res2 = pcpu_embed_first_chunk(
        RESERVED, DYN, ATOM, two_nodes, lambda c: c // 2, pcpu_fc_alloc=BootmemAllocator(FAR_NODES),
        static_size=STATIC_SIZE, possible_cpus=range(4), VMALLOC_TOTAL=(12800 << 40) - 1,
    )
    assert res2.rc == 0


def test_embed_enomem_releases_earlier_areas() -> None:
    calls: list[int] = []
    freed: list[tuple[int, int]] = []

    def alloc(cpu, size, align, nd):
        calls.append(cpu)
        return 0x40000000 if cpu == 0 else None

    res = pcpu_embed_first_chunk(
        RESERVED, DYN, ATOM, two_nodes, None, pcpu_fc_alloc=alloc,
        pcpu_fc_free=lambda p, s: freed.append((p, s)), static_size=STATIC_SIZE,
        possible_cpus=range(4),
    )
    assert res.rc == -12 and calls == [0, 2]
    assert freed == [(0x40000000, 2 * MB)]


def test_embed_frees_empty_units_whole() -> None:
    mem = BootmemAllocator()
    res = pcpu_embed_first_chunk(
        RESERVED, DYN, ATOM, None, None, pcpu_fc_alloc=mem, pcpu_fc_free=mem.free,
        static_size=STATIC_SIZE, possible_cpus=range(3),
    )
    assert res.rc == 0 and res.base is not None
    assert mem.frees[-1] == (res.base + 3 * 524288, 524288)
    assert mem.log == ["percpu: cpu 0 has no node -1 or node-local memory"]


def test_format_unit_map() -> None:
    ai = build({0, 2, 5})
    assert format_unit_map(ai) == "\n".join([
        "| CPU | group | unit | unit offset |",
        "|---:|---:|---:|---:|",
        "| 0 | 0 | 0 | 0x0 |",
        "| 2 | 0 | 1 | 0x80000 |",
        "| 5 | 0 | 2 | 0x100000 |",
        "| (empty) | 0 | 3 | 0x180000 |",
    ])
    assert format_unit_map(ai, show_empty=False).count("\n") == 4
    assert "| 0x40000000 |" in format_unit_map(ai, base_addr=0x40000000)
    two = build(range(4), two_nodes)
    assert [r[:3] for r in unit_table(two)] == [(0, 0, 0), (1, 0, 1), (2, 1, 2), (3, 1, 3)]


# ---------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------


@st.composite
def topologies(draw):
    possible = draw(st.sets(st.integers(0, 70), min_size=1, max_size=40))
    nodes = draw(st.integers(1, 4))
    node_of = {c: draw(st.integers(0, nodes - 1)) for c in sorted(possible)}
    atom = draw(st.sampled_from([4096, 2 * MB]))
    static = draw(st.integers(1, 100)) * 4096
    reserved = draw(st.sampled_from([0, 8192, 12]))
    dyn = draw(st.integers(0, 64)) * 1024
    return possible, node_of, atom, static, reserved, dyn


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(topologies())
def test_built_and_embedded_infos_pass_setup(topo) -> None:
    possible, node_of, atom, static, reserved, dyn = topo

    def dist(a: int, b: int) -> int:
        return LOCAL_DISTANCE if node_of[a] == node_of[b] else REMOTE_DISTANCE

    regions = {n: (0xFFFF888000000000 + n * (1 << 36), 0xFFFF888000000000 + n * (1 << 36)
                   + (1 << 32)) for n in range(4)}
    mem = BootmemAllocator(regions)
    res = pcpu_embed_first_chunk(
        reserved, dyn, atom, dist, lambda c: node_of[c], pcpu_fc_alloc=mem,
        pcpu_fc_free=mem.free, static_size=static, possible_cpus=possible,
    )
    assert res.rc == 0
    ai = res.ai
    size_sum = ai.static_size + ai.reserved_size + ai.dyn_size
    assert ai.dyn_size >= max(dyn, PERCPU_DYNAMIC_EARLY_SIZE)
    assert ai.unit_size % 4096 == 0 and ai.unit_size >= size_sum
    assert ai.alloc_size % ai.unit_size == 0 and ai.alloc_size % atom == 0
    upa = ai.alloc_size // ai.unit_size
    wasted = sum(g.units().count(NR_CPUS_DEFAULT) for g in ai.groups)
    assert upa == 1 or wasted <= len(possible) // 3
    for g in ai.groups:
        cpus = [c for c in g.units() if c != NR_CPUS_DEFAULT]
        assert g.nr_units % upa == 0 and cpus == sorted(cpus)
        assert all(node_of[c] == node_of[cpus[0]] for c in cpus)
    spans = sorted((g.base_offset, g.base_offset + g.nr_units * ai.unit_size) for g in ai.groups)
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False))
    t = res.setup
    assert sorted(t.pcpu_unit_map[c] for c in possible) == sorted(set(
        t.pcpu_unit_map[c] for c in possible))
    assert t.pcpu_unit_offsets[t.pcpu_low_unit_cpu] == 0


_sizes = st.one_of(st.integers(-2, 1 << 20), st.sampled_from([1 << 64, (1 << 64) - 1, 1 << 63]),
                   st.none())


@st.composite
def arbitrary_ai(draw):
    ai = pcpu_alloc_info(
        static_size=draw(_sizes), reserved_size=draw(_sizes), dyn_size=draw(_sizes),
        unit_size=draw(st.one_of(_sizes, st.sampled_from([524288, 32768, 65536]))),
        atom_size=draw(_sizes), alloc_size=draw(_sizes),
        nr_groups=draw(st.one_of(st.integers(-2, 4), st.just(1 << 40))),
    )
    cpu = st.one_of(st.integers(-1, 9), st.just(NR_CPUS_DEFAULT), st.just(1 << 33))
    for _ in range(draw(st.integers(0, 4))):
        cm = draw(st.one_of(st.none(), st.lists(cpu, max_size=6)))
        ai.groups.append(pcpu_group_info(
            nr_units=draw(st.integers(-1, 7)), base_offset=draw(_sizes), cpu_map=cm))
    return ai


@settings(max_examples=400, deadline=None)
@given(arbitrary_ai(), st.sampled_from([None, 0, BASE, BASE + 1]),
       st.sets(st.integers(0, 9), max_size=6), st.sampled_from(["vm", "km"]))
def test_setup_checks_never_raise_anything_else(ai, base_addr, possible, backend) -> None:
    try:
        pcpu_setup_first_chunk_checks(copy.deepcopy(ai), base_addr, possible or {0},
                                      backend=backend)
    except PcpuSetupError as err:
        assert err.rule in PCPU_SETUP_BUG_ON_RULES or err.kind != KIND_SETUP_BUG_ON
        assert err.rule != R_MODEL_UNEXPECTED, err
