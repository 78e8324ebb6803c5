"""Port of pcpu_setup_first_chunk() of mm/percpu.c (Linux 6.12)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from impl.alloc_info import pcpu_setup_first_chunk_checks
from impl.internal import PCPU_MIN_ALLOC_SIZE
from impl.klist import ListHead
from impl.slots import _pcpu_size_to_slot

if TYPE_CHECKING:
    from impl.percpu import Percpu


class SetupMixin:
    """Boot-time set-up of the unit map, the slots and the first chunk."""

    def pcpu_setup_first_chunk(self: Percpu, ai: Any, base_addr: int) -> None:
        """Port of mm/percpu.c: pcpu_setup_first_chunk().

        The sanity checks and the cpu to unit tables, the first half of the
        kernel function, are ported once, in
        :func:`impl.alloc_info.pcpu_setup_first_chunk_checks` (which raises
        :class:`impl.alloc_info.PcpuSetupError` naming the violated rule);
        this method takes its tables and goes on with the slot lists and the
        reserved and dynamic chunks that share the first chunk's units:
        <static | reserved | dynamic>.
        """
        geo = self.geo
        PAGE_SIZE = geo.PAGE_SIZE
        size_sum = ai.static_size + ai.reserved_size + ai.dyn_size

        tables = pcpu_setup_first_chunk_checks(
            ai, base_addr, self.possible_cpus, self.nr_cpu_ids, PAGE_SIZE, self.backend.name,
            NR_CPUS=self.NR_CPUS, PCPU_MIN_UNIT_SIZE=geo.min_unit_size,
            PERCPU_DYNAMIC_EARLY_SIZE=geo.dynamic_early_size, per_cpu_start=self.per_cpu_start,
        )
        self.log += tables.log
        self.pcpu_low_unit_cpu = tables.pcpu_low_unit_cpu
        self.pcpu_high_unit_cpu = tables.pcpu_high_unit_cpu
        self.pcpu_nr_units = tables.pcpu_nr_units
        self.pcpu_nr_groups = tables.pcpu_nr_groups
        self.pcpu_group_offsets = tables.pcpu_group_offsets
        self.pcpu_group_sizes = tables.pcpu_group_sizes
        self.pcpu_unit_map = tables.pcpu_unit_map
        self.pcpu_unit_offsets = tables.pcpu_unit_offsets

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
