"""Unit: per-CPU memory properties, invalid frees and port exceptions, each shown to fire."""

from __future__ import annotations

import pytest

from model.memory import ModelMemory, pattern
from properties.configs import parse_config
from properties.harness import Harness

pytestmark = pytest.mark.unit


def live_pair(cfg: str = "small16") -> tuple[Harness, int, int]:
    h = Harness(parse_config(cfg))
    a = h.pcpu_alloc(24, 4)
    b = h.pcpu_alloc(40, 8)
    assert a is not None and b is not None
    assert not h.violations, [v.line() for v in h.violations]
    return h, a, b


def props(h: Harness) -> set[str]:
    return {v.prop for v in h.check(force=True)}


def test_faithful_port_holds_every_memory_property() -> None:
    h, a, b = live_pair()
    h.free_percpu(a)
    h.pcpu_balance_workfn()
    assert not props(h)


def test_pattern_differs_per_cpu_and_allocation() -> None:
    assert pattern(1, 0, 8) != pattern(1, 1, 8) != pattern(2, 1, 8)
    assert all(pattern(k, c, 16) for k in range(300) for c in range(64))  # never an all-zero byte


def test_model_memory_zeroes_on_alloc_and_on_depopulation() -> None:
    mem = ModelMemory({0: 0, 2: 0x100}, 0x100, 0x40)
    mem.add_chunk(7, 0x100)
    mem.write(7, 2, 8, b"\x01\x02")
    mem.alloc(7, 8, 4)
    assert mem.expected(7, 2, 8, 4) == bytes(4) and mem.is_populated(7, 0)
    mem.write(7, 2, 0x48, b"\x09")
    mem.set_populated(7, 1, False)
    assert mem.expected(7, 2, 0x48, 1) == b"\x00" and mem.unit_addr(0x1000, 2, 4) == 0x1104


def test_write_through_one_cpu_is_checked_on_every_cpu() -> None:
    h, a, _ = live_pair()
    area = h.model.live[a]
    ptr = h.pcpu.per_cpu_ptr(h.handles[a], 1)
    h.pcpu.machine.write(ptr, b"\xee")  # a stray write on CPU 1's copy only
    h.pcpu_balance_workfn()  # any later step rechecks the dirtied bytes
    bad = [v for v in h.violations if v.prop == "inv_percpu_memory"]
    assert bad and "cpu 1" in bad[0].where and f"off={area.start_unit * 4}" in bad[0].detail


def test_area_on_populated_pages_catches_a_cleared_bit() -> None:
    h = Harness(parse_config("small16"))
    hd = h.pcpu_alloc(16, 4)  # a dynamic area needs a new chunk only once the first is full
    assert hd is not None
    c = h.chunk_by_id()[h.model.live[hd].chunk_id]
    page = h.model.live[hd].start_unit * 4 // h.cfg.page_size
    c.populated.clear_range(page, 1)
    assert "inv_area_on_populated_pages" in props(h)


def test_populated_is_mapped_catches_a_populated_page_unmapped() -> None:
    h = Harness(parse_config("small16"))
    for _ in range(40):  # fill the first chunk so that a vm chunk with unpopulated pages exists
        h.pcpu_alloc(64, 4)
    dyn = [c for c in h.pcpu.all_chunks() if c is not h.pcpu.pcpu_first_chunk and c is not h.pcpu.pcpu_reserved_chunk]
    assert dyn, "no dynamic chunk"
    c = dyn[-1]
    page = max(p for p in range(c.nr_pages) if c.populated.test_bit(p))
    h.pcpu.machine.unmap_page(h.pcpu.pcpu_chunk_addr(c, 1, page))  # CPU 1 loses a populated page
    assert "inv_populated_is_mapped" in props(h)


def test_overlap_between_cpus_is_caught() -> None:
    h, a, b = live_pair()
    span_a = h.memory.spans[(a, 0)]
    h.memory.spans[(b, 1)] = (span_a[0], span_a[1]) + h.memory.spans[(b, 1)][2:]
    assert "inv_no_overlap_any_cpu" in props(h)


def test_addr_search_owner_is_checked() -> None:
    h, a, _ = live_pair()
    h.pcpu.pcpu_chunk_addr_search = lambda addr: h.pcpu.pcpu_reserved_chunk  # type: ignore[method-assign]
    assert "inv_addr_search_owner" in props(h)


def test_zero_on_return_sees_an_unzeroed_reused_area() -> None:
    h, a, _ = live_pair()
    h.free_percpu(a)
    h.pcpu.machine.memset = lambda addr, value, size: None  # type: ignore[method-assign]
    assert h.pcpu_alloc(24, 4) is not None
    assert "diff_zero_on_return" in {v.prop for v in h.violations}


def test_ptr_to_phys_first_chunk_and_dynamic_chunks() -> None:
    h = Harness(parse_config("numa4"))
    handles = [h.pcpu_alloc(60, 4) for _ in range(12)]  # the first chunk, then new vm chunks
    machine = h.pcpu.machine
    for hd in handles:
        assert hd is not None
        for cpu in h.pcpu.possible_cpus:
            addr = h.pcpu.per_cpu_ptr(h.handles[hd], cpu) + 8
            want = machine.page_to_phys(machine.vmalloc_to_page(addr)) + addr % h.cfg.page_size
            assert h.pcpu.per_cpu_ptr_to_phys(addr) == want
    assert handles[0] is not None
    first = h.pcpu.per_cpu_ptr(h.handles[handles[0]], 3)
    assert h.pcpu.per_cpu_ptr_to_phys(first) == first - machine.direct_map_start  # __pa() of the embedded chunk
    assert not [v for v in h.violations if v.prop == "inv_ptr_to_phys"]
    h.pcpu.per_cpu_ptr_to_phys = lambda addr: 0  # type: ignore[method-assign]
    h.pcpu_alloc(8, 4)
    assert "inv_ptr_to_phys" in {v.prop for v in h.violations}


def test_area_in_cpu_unit_sees_a_wrong_offset() -> None:
    h = Harness(parse_config("small16"))
    h.pcpu._per_cpu_offset[1] += h.cfg.page_size
    h.pcpu_alloc(8, 4)
    assert "inv_area_in_cpu_unit" in {v.prop for v in h.violations}


# ---- invalid frees ----------------------------------------------------------------
def test_double_free_is_misuse_and_leaves_the_port_alone() -> None:
    h, a, _ = live_pair()
    h.free_percpu(a)
    free_bytes = h.pcpu.pcpu_first_chunk.free_bytes
    h.free_percpu(a)
    assert [v.prop for v in h.violations] == ["diff_free_live_start"]
    assert h.pcpu.pcpu_first_chunk.free_bytes == free_bytes
    assert h.events["misuse_invalid_free"] == 1 and h.ops[-1] == f"free_percpu(h{a})"


def test_interior_pointer_free_is_misuse_and_live_start_frees() -> None:
    h, a, b = live_pair()
    h.free_percpu_ptr(h.handles[b] + 4)
    assert [v.prop for v in h.violations] == ["diff_free_live_start"]
    assert b in h.handles
    h.violations.clear()
    h.free_percpu_ptr(h.handles[b])
    assert b not in h.handles and not h.violations


def test_double_free_in_a_counterexample_file_is_reported() -> None:
    from properties import litmus

    r = litmus.run(["h0 = pcpu_alloc(size=8, align=4, reserved=0, atomic=0)", "free_percpu(h0)", "free_percpu(h0)"],
                   "small16")
    assert r.first is not None and r.first[1].prop == "diff_free_live_start" and r.first[0] == 3


def test_port_exception_is_recorded_not_raised() -> None:
    from impl.chunk import KernelOops

    h, a, _ = live_pair()

    def oops(ptr: int) -> None:
        raise KernelOops("BUG: bad free")

    h.pcpu.free_percpu = oops  # type: ignore[method-assign]
    h.free_percpu(a)
    bad = [v for v in h.violations if v.prop == "diff_port_exception"]
    assert bad and "KernelOops" in str(bad[0].actual)
