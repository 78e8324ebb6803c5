"""One booted instance of the ported allocator: the kernel's globals and its functions.

The kernel keeps its state in file-scope globals of mm/percpu.c; here they are
attributes of a :class:`Percpu` object, so several kernels (page sizes,
backends, patched variants) can live in one process.  The ported functions
are methods gathered from one mixin per area of the source.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from impl.alloc import AllocMixin
from impl.area import AreaMixin
from impl.balance import BalanceMixin
from impl.chunk import ChunkMixin
from impl.hints import HintsMixin
from impl.internal import Geometry, pcpu_chunk, pcpu_chunk_map_bits, pcpu_chunk_nr_blocks
from impl.kernel import Machine, page
from impl.km import KmBackend
from impl.search import SearchMixin
from impl.setup import SetupMixin
from impl.slots import SlotsMixin
from impl.vm import VmBackend


@dataclass
class percpu_stats:
    """Port of mm/percpu-internal.h: struct percpu_stats (CONFIG_PERCPU_STATS)."""

    nr_alloc: int = 0
    nr_dealloc: int = 0
    nr_cur_alloc: int = 0
    nr_max_alloc: int = 0
    nr_chunks: int = 0
    nr_max_chunks: int = 0
    min_alloc_size: int = 0
    max_alloc_size: int = 0


@dataclass
class TraceEvent:
    """One tracepoint hit, with the fields of include/trace/events/percpu.h."""

    name: str
    fields: dict[str, int] = field(default_factory=dict)


class Percpu(
    HintsMixin, SearchMixin, AreaMixin, SlotsMixin, ChunkMixin, AllocMixin, BalanceMixin, SetupMixin
):
    """The globals of mm/percpu.c for one boot, and every ported function."""

    def __init__(
        self,
        geo: Geometry,
        possible_cpus: list[int],
        nr_cpu_ids: int | None = None,
        backend: str = "vm",
        per_cpu_start: int = 0,
    ) -> None:
        geo.validate()
        self.geo = geo
        self.PCPU_BITMAP_BLOCK_BITS = geo.PCPU_BITMAP_BLOCK_BITS
        self.possible_cpus = sorted(possible_cpus)
        self.possible_set = frozenset(self.possible_cpus)
        self.nr_cpu_ids = nr_cpu_ids if nr_cpu_ids is not None else self.possible_cpus[-1] + 1
        self.NR_CPUS = 8192
        self.per_cpu_start = per_cpu_start
        self.machine = Machine(geo.page_size)
        self.backend: Any = KmBackend() if backend == "km" else VmBackend()
        self.current_cpu = self.possible_cpus[0]

        # file-scope globals of mm/percpu.c
        self.pcpu_unit_pages = 0
        self.pcpu_unit_size = 0
        self.pcpu_nr_units = 0
        self.pcpu_atom_size = 0
        self.pcpu_nr_slots = 0
        self.pcpu_free_slot = 0
        self.pcpu_sidelined_slot = 0
        self.pcpu_to_depopulate_slot = 0
        self.pcpu_low_unit_cpu = 0
        self.pcpu_high_unit_cpu = 0
        self.pcpu_base_addr = 0
        self.pcpu_unit_map: list[int] = []
        self.pcpu_unit_offsets: list[int] = []
        self.pcpu_nr_groups = 0
        self.pcpu_group_offsets: list[int] = []
        self.pcpu_group_sizes: list[int] = []
        self.pcpu_first_chunk: pcpu_chunk = None  # type: ignore[assignment]
        self.pcpu_reserved_chunk: pcpu_chunk | None = None  # type: ignore[assignment]
        self.pcpu_chunk_lists: list[Any] = []
        self.pcpu_nr_empty_pop_pages = 0
        self.pcpu_nr_populated = 0
        self.pcpu_async_enabled = True
        self.pcpu_atomic_alloc_failed = False
        self.pcpu_stats = percpu_stats()
        self.pcpu_stats_ai: Any = None
        self.warn_limit = 10
        self._pcpu_pages: dict[int, page] = {}
        self._per_cpu_offset: dict[int, int] = {}
        self._slot_of_head: dict[int, int] = {}

        # harness bookkeeping (not kernel state)
        self._chunk_serial = 0
        self.dead_chunks: set[int] = set()
        self.balance_work_pending = False
        self.chunks_created = 0
        self.chunks_destroyed = 0
        self.last_alloc_err = ""
        self.last_free_size = 0
        self.log: list[str] = []
        self.tracing = False
        self.trace_log: list[TraceEvent] = []

    # ----------------------------------------------------------- helpers
    def pcpu_chunk_map_bits(self, chunk: pcpu_chunk) -> int:
        """Port of mm/percpu-internal.h: pcpu_chunk_map_bits()."""
        return pcpu_chunk_map_bits(self.geo, chunk)

    def pcpu_chunk_nr_blocks(self, chunk: pcpu_chunk) -> int:
        """Port of mm/percpu-internal.h: pcpu_chunk_nr_blocks()."""
        return pcpu_chunk_nr_blocks(self.geo, chunk)

    def raw_smp_processor_id(self) -> int:
        return self.current_cpu

    def printk(self, msg: str) -> None:
        self.log.append(msg)

    def trace(self, name: str, **fields: int) -> None:
        if self.tracing:
            self.trace_log.append(TraceEvent(name, dict(fields)))

    # ------------------------------------------------------------- stats
    def pcpu_stats_save_ai(self, ai: Any) -> None:
        """Port of mm/percpu-internal.h: pcpu_stats_save_ai()."""
        self.pcpu_stats_ai = ai
        self.pcpu_stats.min_alloc_size = ai.unit_size

    def pcpu_stats_area_alloc(self, chunk: pcpu_chunk, size: int) -> None:
        """Port of mm/percpu-internal.h: pcpu_stats_area_alloc()."""
        s = self.pcpu_stats
        s.nr_alloc += 1
        s.nr_cur_alloc += 1
        s.nr_max_alloc = max(s.nr_max_alloc, s.nr_cur_alloc)
        s.min_alloc_size = min(s.min_alloc_size, size)
        s.max_alloc_size = max(s.max_alloc_size, size)

        chunk.nr_alloc += 1
        chunk.max_alloc_size = max(chunk.max_alloc_size, size)

    def pcpu_stats_area_dealloc(self, chunk: pcpu_chunk) -> None:
        """Port of mm/percpu-internal.h: pcpu_stats_area_dealloc()."""
        self.pcpu_stats.nr_dealloc += 1
        self.pcpu_stats.nr_cur_alloc -= 1

        chunk.nr_alloc -= 1

    def pcpu_stats_chunk_alloc(self) -> None:
        """Port of mm/percpu-internal.h: pcpu_stats_chunk_alloc()."""
        s = self.pcpu_stats
        s.nr_chunks += 1
        s.nr_max_chunks = max(s.nr_max_chunks, s.nr_chunks)

    def pcpu_stats_chunk_dealloc(self) -> None:
        """Port of mm/percpu-internal.h: pcpu_stats_chunk_dealloc()."""
        self.pcpu_stats.nr_chunks -= 1

    # -------------------------------------------------------------- boot
    def map_first_chunk_memory(self, ai: Any, base_addr: int) -> None:
        """What pcpu_embed_first_chunk() leaves mapped: each unit's first size_sum bytes."""
        size_sum = ai.static_size + ai.reserved_size + ai.dyn_size
        ps = self.geo.PAGE_SIZE
        for cpu in self.possible_cpus:
            unit_base = base_addr + self.pcpu_unit_offsets[cpu]
            for i in range((size_sum + ps - 1) // ps):
                # the embedded first chunk lives in the direct map: its pfn follows from its address
                pg = self.machine.direct_map_page(unit_base + i * ps)
                self.machine.map_page(unit_base + i * ps, pg)
        for cpu in self.possible_cpus:
            self._per_cpu_offset[cpu] = base_addr - self.per_cpu_start + self.pcpu_unit_offsets[cpu]

    def all_chunks(self) -> list[pcpu_chunk]:
        """Harness helper: every live chunk, reserved chunk included, in a stable order."""
        seen: dict[int, pcpu_chunk] = {}
        if self.pcpu_reserved_chunk is not None:
            seen[self.pcpu_reserved_chunk.id] = self.pcpu_reserved_chunk
        for head in self.pcpu_chunk_lists:
            pos = head.next
            while pos is not head:
                seen[pos.owner.id] = pos.owner
                pos = pos.next
        return [seen[k] for k in sorted(seen)]

    def slot_of(self, chunk: pcpu_chunk) -> int:
        """Harness helper: the index of the slot list the chunk is on, or -1.

        Walks the chunk's own list to its head (the one node with no owner).
        """
        if not self._slot_of_head:
            self._slot_of_head = {id(h): i for i, h in enumerate(self.pcpu_chunk_lists)}
        pos = chunk.list.next
        while pos.owner is not None:
            if pos is chunk.list:
                return -1
            pos = pos.next
        return self._slot_of_head.get(id(pos), -1)
