"""Port of the embedding part of mm/percpu.c: pcpu_embed_first_chunk().

The kernel allocates one bootmem area per group, takes the lowest area as
the first chunk's base address and stores each group's distance from it as
``base_offset``.  Here memory allocation is a callable with the signature of
``pcpu_fc_alloc(cpu, size, align, cpu_to_nd_fn)`` returning an address (an
``int``) or ``None`` for NULL; :class:`BootmemAllocator` is a deterministic
one.  Nothing is copied: the model has addresses, not memory contents.

:func:`format_unit_map` renders an info's CPU -> group/unit/offset mapping as
a Markdown table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from impl.alloc_info import (
    BITS_PER_LONG_DEFAULT,
    EINVAL,
    ENOMEM,
    KIND_BUG_ON,
    KIND_MODEL,
    NR_CPUS_DEFAULT,
    NUMA_NO_NODE,
    PAGE_SIZE_DEFAULT,
    PERCPU_DYNAMIC_EARLY_SIZE,
    R_EMBED_EMPTY_GROUP,
    CpuDistanceFn,
    FirstChunkTables,
    PcpuSetupError,
    pcpu_alloc_info,
    pcpu_build_alloc_info,
    pcpu_free_alloc_info,
    pcpu_setup_first_chunk_checks,
)

# VMALLOC_TOTAL on x86_64 is VMALLOC_END - VMALLOC_START, one byte short of
# the region size (32 TiB with 4-level paging, 12800 TiB with 5-level; a
# quarter of that under KMSAN).
VMALLOC_TOTAL_X86_64_L4 = (32 << 40) - 1
VMALLOC_TOTAL_X86_64_L5 = (12800 << 40) - 1

CpuToNodeFn = Callable[[int], int]
PcpuFcAllocFn = Callable[[int, int, int, CpuToNodeFn | None], int | None]
PcpuFcFreeFn = Callable[[int, int], None]
SetupFirstChunkFn = Callable[[pcpu_alloc_info, int], Any]


class BootmemAllocator:
    """A deterministic stand-in for memblock behind mm/percpu.c: pcpu_fc_alloc().

    ``nodes`` maps a node id to its ``[start, end)`` address range.  Like
    memblock's default mode, allocations are carved top-down from each node
    (``top_down=False`` carves bottom-up); freed ranges are recorded in
    ``frees`` but never reused, so results depend only on the call sequence.
    Calling the object follows pcpu_fc_alloc(): a CPU whose node (from
    ``cpu_to_nd_fn``) is ``NUMA_NO_NODE`` or not in ``nodes`` is served from
    any node, highest range first, and the kernel's info line is appended to
    ``log``; a node without room also falls back to the other nodes, as
    memblock_alloc_try_nid() does.
    """

    def __init__(
        self,
        nodes: Mapping[int, tuple[int, int]] | None = None,
        *,
        top_down: bool = True,
    ) -> None:
        if nodes is None:
            nodes = {0: (0xFFFF888000000000, 0xFFFF888040000000)}  # 1 GiB direct map
        self.nodes = dict(nodes)
        self.top_down = top_down
        self._cursor = {n: (end if top_down else start) for n, (start, end) in self.nodes.items()}
        self.allocs: list[tuple[int, int, int | None]] = []  # (addr, size, node)
        self.frees: list[tuple[int, int]] = []
        self.log: list[str] = []

    def _alloc_node(self, size: int, align: int, nid: int) -> int | None:
        start, end = self.nodes[nid]
        cur = self._cursor[nid]
        if self.top_down:
            p = (cur - size) // align * align
            if p < start or size <= 0:
                return None
            self._cursor[nid] = p
        else:
            p = -(-cur // align) * align
            if p + size > end or size <= 0:
                return None
            self._cursor[nid] = p + size
        self.allocs.append((p, size, nid))
        return p

    def alloc_from(self, size: int, align: int) -> int | None:
        """Any-node allocation, highest node range first."""
        order = sorted(self.nodes, key=lambda n: self.nodes[n][1], reverse=self.top_down)
        for nid in order:
            p = self._alloc_node(size, align, nid)
            if p is not None:
                return p
        return None

    def alloc_try_nid(self, size: int, align: int, nid: int) -> int | None:
        """Node-local allocation falling back to any node."""
        p = self._alloc_node(size, align, nid)
        return p if p is not None else self.alloc_from(size, align)

    def __call__(
        self, cpu: int, size: int, align: int, cpu_to_nd_fn: CpuToNodeFn | None
    ) -> int | None:
        node = NUMA_NO_NODE
        if cpu_to_nd_fn:
            node = cpu_to_nd_fn(cpu)
        if node == NUMA_NO_NODE or node not in self.nodes:
            ptr = self.alloc_from(size, align)
            self.log.append(f"percpu: cpu {cpu} has no node {node} or node-local memory")
            return ptr
        return self.alloc_try_nid(size, align, node)

    def free(self, ptr: int, size: int) -> None:
        """pcpu_fc_free(): record the release."""
        self.frees.append((ptr, size))


@dataclass
class EmbedResult:
    """Outcome of :func:`pcpu_embed_first_chunk`.

    ``rc`` is the kernel's return value (0, ``-ENOMEM`` or ``-EINVAL``).
    ``base`` is the chosen base address (``None`` unless ``rc == 0``),
    ``areas`` the per-group area addresses (``None`` for NULL),
    ``max_distance`` the span checked against vmalloc space, ``log`` the
    kernel messages, and ``setup`` whatever the first-chunk set-up returned.
    """

    rc: int
    ai: pcpu_alloc_info
    base: int | None
    areas: list[int | None]
    highest_group: int
    max_distance: int | None
    log: list[str] = field(default_factory=list)
    setup: Any = None


def pcpu_embed_first_chunk(
    reserved_size: int,
    dyn_size: int,
    atom_size: int,
    cpu_distance_fn: CpuDistanceFn | None,
    cpu_to_nd_fn: CpuToNodeFn | None,
    *,
    pcpu_fc_alloc: PcpuFcAllocFn,
    pcpu_fc_free: PcpuFcFreeFn | None = None,
    static_size: int,
    possible_cpus: Iterable[int],
    nr_cpu_ids: int | None = None,
    NR_CPUS: int = NR_CPUS_DEFAULT,
    page_size: int = PAGE_SIZE_DEFAULT,
    PCPU_MIN_UNIT_SIZE: int | None = None,
    PERCPU_DYNAMIC_EARLY_SIZE: int = PERCPU_DYNAMIC_EARLY_SIZE,
    VMALLOC_TOTAL: int = VMALLOC_TOTAL_X86_64_L4,
    CONFIG_NEED_PER_CPU_PAGE_FIRST_CHUNK: bool = True,
    setup_first_chunk: SetupFirstChunkFn | None = None,
    backend: str = "vm",
    bits_per_long: int = BITS_PER_LONG_DEFAULT,
) -> EmbedResult:
    """Port of mm/percpu.c: pcpu_embed_first_chunk().

    Builds the info with :func:`~impl.alloc_info.pcpu_build_alloc_info`,
    allocates one ``atom_size``-aligned area per group through
    ``pcpu_fc_alloc`` (asked for the group's first CPU), takes the lowest
    area as ``base`` and checks the span from ``base`` to the end of the
    highest area against three quarters of ``VMALLOC_TOTAL``.  An oversized
    span only warns unless the page first-chunk fallback is configured
    (``CONFIG_NEED_PER_CPU_PAGE_FIRST_CHUNK``, set on x86), in which case the
    areas are released and ``-EINVAL`` returned.  On success the unused
    tail of every unit, and every empty unit, go back through
    ``pcpu_fc_free``, each group's ``base_offset`` becomes its distance from
    ``base``, and ``setup_first_chunk(ai, base)`` runs (by default
    :func:`~impl.alloc_info.pcpu_setup_first_chunk_checks` with the same
    parameters).  Kernel BUG_ONs raise :class:`PcpuSetupError`.
    """
    fn = "pcpu_embed_first_chunk"
    mask = (1 << bits_per_long) - 1
    possible = list(possible_cpus)
    base = mask  # (void *)ULONG_MAX
    log: list[str] = []
    rc = 0

    ai = pcpu_build_alloc_info(
        reserved_size, dyn_size, atom_size, cpu_distance_fn,
        static_size=static_size, possible_cpus=possible, nr_cpu_ids=nr_cpu_ids,
        NR_CPUS=NR_CPUS, page_size=page_size, PCPU_MIN_UNIT_SIZE=PCPU_MIN_UNIT_SIZE,
        PERCPU_DYNAMIC_EARLY_SIZE=PERCPU_DYNAMIC_EARLY_SIZE, bits_per_long=bits_per_long,
    )
    if ai.nr_groups <= 0:
        # only an empty possible mask gets here; the kernel always has the boot CPU
        raise PcpuSetupError("model: no possible CPU, no group to allocate", kind=KIND_MODEL,
                             function=fn)

    size_sum = ai.static_size + ai.reserved_size + ai.dyn_size

    areas: list[int | None] = [None] * ai.nr_groups

    def _free(ptr: int, size: int) -> None:
        if pcpu_fc_free is not None:
            pcpu_fc_free(ptr, size)

    def out_free_areas() -> EmbedResult:
        for group in range(ai.nr_groups):
            a = areas[group]
            if a:
                _free(a, ai.groups[group].nr_units * ai.unit_size)
        pcpu_free_alloc_info(ai)
        return EmbedResult(rc, ai, None, areas, highest_group, max_distance, log)

    # allocate each group and find base address and max_distance
    highest_group = 0
    max_distance: int | None = None
    for group in range(ai.nr_groups):
        gi = ai.groups[group]
        cpu = NR_CPUS
        assert gi.cpu_map is not None

        i = 0
        while i < gi.nr_units and cpu == NR_CPUS:
            cpu = gi.cpu_map[i]
            i += 1
        if cpu == NR_CPUS:
            raise PcpuSetupError(R_EMBED_EMPTY_GROUP, kind=KIND_BUG_ON, function=fn,
                                 detail=f"group={group}", log=log)

        # one allocation for the whole group
        ptr = pcpu_fc_alloc(cpu, gi.nr_units * ai.unit_size, atom_size, cpu_to_nd_fn)
        if not ptr:
            rc = -ENOMEM
            return out_free_areas()
        areas[group] = ptr

        base = min(ptr, base)
        hg = areas[highest_group]
        assert hg is not None
        if ptr > hg:
            highest_group = group
    top = areas[highest_group]
    assert top is not None
    max_distance = (top - base) & mask
    max_distance = (max_distance + ai.unit_size * ai.groups[highest_group].nr_units) & mask

    # the whole span must fit comfortably into vmalloc space
    if max_distance > (VMALLOC_TOTAL * 3 & mask) // 4:
        log.append(
            f"percpu: max_distance={max_distance:#x} too large for vmalloc space "
            f"{VMALLOC_TOTAL:#x}"
        )
        if CONFIG_NEED_PER_CPU_PAGE_FIRST_CHUNK:
            rc = -EINVAL
            return out_free_areas()

    # give back empty units and the unused end of each unit
    for group in range(ai.nr_groups):
        gi = ai.groups[group]
        ptr = areas[group]
        assert ptr is not None and gi.cpu_map is not None

        for i in range(gi.nr_units):
            if gi.cpu_map[i] == NR_CPUS:
                _free(ptr, ai.unit_size)
            else:
                _free(ptr + size_sum, ai.unit_size - size_sum)
            ptr += ai.unit_size

    # base is known: record each group's offset from it
    for group in range(ai.nr_groups):
        a = areas[group]
        assert a is not None
        ai.groups[group].base_offset = (a - base) & mask

    log.append(
        f"percpu: Embedded {size_sum // page_size} pages/cpu s{ai.static_size} "
        f"r{ai.reserved_size} d{ai.dyn_size} u{ai.unit_size}"
    )

    if setup_first_chunk is not None:
        setup = setup_first_chunk(ai, base)
    else:
        setup = pcpu_setup_first_chunk_checks(
            ai, base, possible, nr_cpu_ids, page_size, backend, NR_CPUS=NR_CPUS,
            PCPU_MIN_UNIT_SIZE=PCPU_MIN_UNIT_SIZE,
            PERCPU_DYNAMIC_EARLY_SIZE=PERCPU_DYNAMIC_EARLY_SIZE, bits_per_long=bits_per_long,
        )
    return EmbedResult(rc, ai, base, areas, highest_group, max_distance, log, setup)


def unit_table(ai: pcpu_alloc_info, *, NR_CPUS: int = NR_CPUS_DEFAULT) -> list[
    tuple[int | None, int, int, int]
]:
    """Rows ``(cpu, group, unit, unit_offset)`` in unit order.

    ``unit`` is the global unit number and ``unit_offset`` the byte offset
    from the chunk base, numbered as pcpu_setup_first_chunk() numbers them;
    ``cpu`` is ``None`` for an empty unit.
    """
    rows: list[tuple[int | None, int, int, int]] = []
    unit = 0
    for group in range(min(ai.nr_groups, len(ai.groups))):
        gi = ai.groups[group]
        cm = gi.cpu_map if gi.cpu_map is not None else []
        n = max(min(gi.nr_units, len(cm)), 0)
        for i in range(n):
            cpu = cm[i]
            rows.append((None if cpu == NR_CPUS else cpu, group, unit + i,
                         gi.base_offset + i * ai.unit_size))
        unit += max(gi.nr_units, 0)
    return rows


def format_unit_map(
    ai: pcpu_alloc_info,
    *,
    NR_CPUS: int = NR_CPUS_DEFAULT,
    show_empty: bool = True,
    base_addr: int | None = None,
) -> str:
    """A Markdown table of the unit map: CPU -> group, unit, unit offset.

    Rows follow unit order; empty units appear as ``(empty)`` unless
    ``show_empty`` is False.  With ``base_addr`` an address column is added.
    """
    head = ["CPU", "group", "unit", "unit offset"]
    if base_addr is not None:
        head.append("address")
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---:" for _ in head) + "|"]
    for cpu, group, unit, off in unit_table(ai, NR_CPUS=NR_CPUS):
        if cpu is None and not show_empty:
            continue
        cells = ["(empty)" if cpu is None else str(cpu), str(group), str(unit), f"{off:#x}"]
        if base_addr is not None:
            cells.append(f"{base_addr + off:#x}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


__all__ = [
    "VMALLOC_TOTAL_X86_64_L4",
    "VMALLOC_TOTAL_X86_64_L5",
    "BootmemAllocator",
    "EmbedResult",
    "FirstChunkTables",
    "pcpu_embed_first_chunk",
    "unit_table",
    "format_unit_map",
]
