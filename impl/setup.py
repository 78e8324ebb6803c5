"""Port of pcpu_setup_first_chunk() of mm/percpu.c (Linux 6.12)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from impl.internal import PCPU_MIN_ALLOC_SIZE
from impl.klist import ListHead
from impl.slots import _pcpu_size_to_slot

if TYPE_CHECKING:
    from impl.percpu import Percpu

UINT_MAX = 0xFFFFFFFF


class PcpuSetupError(Exception):
    """A PCPU_SETUP_BUG_ON() condition held: the kernel would BUG() at boot."""

    def __init__(self, rule: str) -> None:
        super().__init__(f"failed to initialize, {rule}")
        self.rule = rule


def PCPU_SETUP_BUG_ON(cond: bool, rule: str) -> None:
    """Port of the PCPU_SETUP_BUG_ON() macro: raise naming the violated rule."""
    if cond:
        raise PcpuSetupError(rule)


class SetupMixin:
    """Boot-time set-up of the unit map, the slots and the first chunk."""

    def pcpu_setup_first_chunk(self: Percpu, ai: Any, base_addr: int) -> None:
        """Port of mm/percpu.c: pcpu_setup_first_chunk().

        Checks the allocation info, builds the cpu to unit tables, the slot
        lists, and the reserved and dynamic chunks that share the first
        chunk's units: <static | reserved | dynamic>.
        """
        geo = self.geo
        PAGE_SIZE = geo.PAGE_SIZE
        size_sum = ai.static_size + ai.reserved_size + ai.dyn_size
        nr_cpu_ids = self.nr_cpu_ids
        NR_CPUS = self.NR_CPUS

        def offset_in_page(x: int) -> int:
            return x & (PAGE_SIZE - 1)

        # sanity checks
        PCPU_SETUP_BUG_ON(ai.nr_groups <= 0, "ai->nr_groups <= 0")
        PCPU_SETUP_BUG_ON(not ai.static_size, "!ai->static_size")
        PCPU_SETUP_BUG_ON(offset_in_page(self.per_cpu_start) != 0, "offset_in_page(__per_cpu_start)")
        PCPU_SETUP_BUG_ON(not base_addr, "!base_addr")
        PCPU_SETUP_BUG_ON(offset_in_page(base_addr) != 0, "offset_in_page(base_addr)")
        PCPU_SETUP_BUG_ON(ai.unit_size < size_sum, "ai->unit_size < size_sum")
        PCPU_SETUP_BUG_ON(offset_in_page(ai.unit_size) != 0, "offset_in_page(ai->unit_size)")
        PCPU_SETUP_BUG_ON(ai.unit_size < geo.min_unit_size, "ai->unit_size < PCPU_MIN_UNIT_SIZE")
        PCPU_SETUP_BUG_ON(
            ai.unit_size % geo.PCPU_BITMAP_BLOCK_SIZE != 0,
            "!IS_ALIGNED(ai->unit_size, PCPU_BITMAP_BLOCK_SIZE)",
        )
        PCPU_SETUP_BUG_ON(ai.dyn_size < geo.dynamic_early_size, "ai->dyn_size < PERCPU_DYNAMIC_EARLY_SIZE")
        PCPU_SETUP_BUG_ON(
            ai.reserved_size % PCPU_MIN_ALLOC_SIZE != 0,
            "!IS_ALIGNED(ai->reserved_size, PCPU_MIN_ALLOC_SIZE)",
        )
        PCPU_SETUP_BUG_ON(self.backend.pcpu_verify_alloc_info(self, ai) < 0, "pcpu_verify_alloc_info(ai) < 0")

        # group tables
        group_offsets = [0] * ai.nr_groups
        group_sizes = [0] * ai.nr_groups
        unit_map = [UINT_MAX] * nr_cpu_ids
        unit_off = [0] * nr_cpu_ids

        self.pcpu_low_unit_cpu = NR_CPUS
        self.pcpu_high_unit_cpu = NR_CPUS

        unit = 0
        for group in range(ai.nr_groups):
            gi = ai.groups[group]

            group_offsets[group] = gi.base_offset
            group_sizes[group] = gi.nr_units * ai.unit_size

            i = 0
            while i < gi.nr_units:
                cpu = gi.cpu_map[i]
                if cpu == NR_CPUS:
                    i += 1
                    continue

                PCPU_SETUP_BUG_ON(cpu >= nr_cpu_ids, "cpu >= nr_cpu_ids")
                PCPU_SETUP_BUG_ON(cpu not in self.possible_set, "!cpu_possible(cpu)")
                PCPU_SETUP_BUG_ON(unit_map[cpu] != UINT_MAX, "unit_map[cpu] != UINT_MAX")

                unit_map[cpu] = unit + i
                unit_off[cpu] = gi.base_offset + i * ai.unit_size

                # lowest and highest unit addresses
                if self.pcpu_low_unit_cpu == NR_CPUS or unit_off[cpu] < unit_off[self.pcpu_low_unit_cpu]:
                    self.pcpu_low_unit_cpu = cpu
                if self.pcpu_high_unit_cpu == NR_CPUS or unit_off[cpu] > unit_off[self.pcpu_high_unit_cpu]:
                    self.pcpu_high_unit_cpu = cpu
                i += 1
            unit += i
        self.pcpu_nr_units = unit

        for cpu in self.possible_cpus:
            PCPU_SETUP_BUG_ON(unit_map[cpu] == UINT_MAX, "unit_map[cpu] == UINT_MAX")

        self.pcpu_nr_groups = ai.nr_groups
        self.pcpu_group_offsets = group_offsets
        self.pcpu_group_sizes = group_sizes
        self.pcpu_unit_map = unit_map
        self.pcpu_unit_offsets = unit_off

        # basic parameters
        self.pcpu_unit_pages = ai.unit_size >> geo.PAGE_SHIFT
        self.pcpu_unit_size = self.pcpu_unit_pages << geo.PAGE_SHIFT
        self.pcpu_atom_size = ai.atom_size

        self.pcpu_stats_save_ai(ai)

        # slots: the size slots, then sidelined, free and to_depopulate
        self.pcpu_sidelined_slot = _pcpu_size_to_slot(self.pcpu_unit_size) + 1
        self.pcpu_free_slot = self.pcpu_sidelined_slot + 1
        self.pcpu_to_depopulate_slot = self.pcpu_free_slot + 1
        self.pcpu_nr_slots = self.pcpu_to_depopulate_slot + 1
        self.pcpu_chunk_lists = [ListHead() for _ in range(self.pcpu_nr_slots)]

        # the static size is rounded to an allocation unit; dyn_size gives it back
        static_size = (ai.static_size + PCPU_MIN_ALLOC_SIZE - 1) & ~(PCPU_MIN_ALLOC_SIZE - 1)
        dyn_size = ai.dyn_size - (static_size - ai.static_size)

        # the first chunk: <static | [reserved] | dynamic>
        tmp_addr = base_addr + static_size
        if ai.reserved_size:
            self.pcpu_reserved_chunk = self.pcpu_alloc_first_chunk(tmp_addr, ai.reserved_size)
        tmp_addr = base_addr + static_size + ai.reserved_size
        self.pcpu_first_chunk = self.pcpu_alloc_first_chunk(tmp_addr, dyn_size)

        self.pcpu_nr_empty_pop_pages = self.pcpu_first_chunk.nr_empty_pop_pages
        self.pcpu_chunk_relocate(self.pcpu_first_chunk, -1)

        # every region of the first chunk counts as populated
        self.pcpu_nr_populated += size_sum // PAGE_SIZE

        self.pcpu_stats_chunk_alloc()
        self.trace("percpu_create_chunk", base_addr=base_addr)

        self.pcpu_base_addr = base_addr
