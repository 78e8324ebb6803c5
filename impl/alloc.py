"""Port of pcpu_alloc() and free_percpu() of mm/percpu.c (Linux 6.12).

Locks are not modelled: the harness runs one call at a time, so every
critical section is atomic.  memcg and allocation-profiling hooks are
configured out (see impl/DIVERGENCES.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from impl.bitmap import for_each_clear_bitrange_from
from impl.internal import PCPU_MIN_ALLOC_SHIFT, PCPU_MIN_ALLOC_SIZE
from impl.kernel import _GFP_NORETRY, _GFP_NOWARN, GFP_KERNEL, gfpflags_allow_blocking
from impl.klist import list_empty, list_for_each_entry, list_for_each_entry_safe
from impl.slots import PCPU_SLOT_FAIL_THRESHOLD

if TYPE_CHECKING:
    from impl.percpu import Percpu

PCPU_EMPTY_POP_PAGES_LOW = 2


def is_power_of_2(n: int) -> bool:
    """Port of include/linux/log2.h: is_power_of_2()."""
    return n != 0 and (n & (n - 1)) == 0


class AllocMixin:
    """The allocator's entry points."""

    def pcpu_schedule_balance_work(self: Percpu) -> None:
        """Port of mm/percpu.c: pcpu_schedule_balance_work(); queued until the harness runs it."""
        if self.pcpu_async_enabled:
            self.balance_work_pending = True

    def pcpu_alloc(self: Percpu, size: int, align: int, reserved: bool, gfp: int = GFP_KERNEL) -> int | None:
        """Port of mm/percpu.c: pcpu_alloc_noprof().

        Returns the percpu pointer, or None for NULL.  Reserved requests are
        served only by the reserved chunk.  Others walk the slots from the
        request's size class up to the free slot, then create a chunk and
        retry (non-atomic only).  Non-atomic requests populate the pages
        under the area afterwards; atomic ones only take populated pages.
        """
        pcpu_gfp = gfp & (GFP_KERNEL | _GFP_NORETRY | _GFP_NOWARN)
        is_atomic = not gfpflags_allow_blocking(gfp)
        do_warn = not (gfp & _GFP_NOWARN)

        # requests are rounded to whole allocation units
        if align < PCPU_MIN_ALLOC_SIZE:
            align = PCPU_MIN_ALLOC_SIZE

        size = (size + PCPU_MIN_ALLOC_SIZE - 1) & ~(PCPU_MIN_ALLOC_SIZE - 1)
        bits = size >> PCPU_MIN_ALLOC_SHIFT
        bit_align = align >> PCPU_MIN_ALLOC_SHIFT

        if not size or size > self.geo.min_unit_size or align > self.geo.PAGE_SIZE or not is_power_of_2(align):
            if do_warn:
                self.printk(f"illegal size ({size}) or align ({align}) for percpu allocation")
            self.last_alloc_err = "illegal size or align"
            return None

        chunk = None
        off = -1
        err = ""
        found = False
        # serve reserved requests from the reserved chunk if there is one
        if reserved and self.pcpu_reserved_chunk:
            chunk = self.pcpu_reserved_chunk

            off = self.pcpu_find_block_fit(chunk, bits, bit_align, is_atomic)
            if off < 0:
                err = "alloc from reserved chunk failed"
                return self._pcpu_alloc_fail(reserved, is_atomic, size, align, err, do_warn)

            off = self.pcpu_alloc_area(chunk, bits, bit_align, off)
            if off >= 0:
                found = True
            else:
                err = "alloc from reserved chunk failed"
                return self._pcpu_alloc_fail(reserved, is_atomic, size, align, err, do_warn)

        while not found:  # the kernel's "restart:" label
            # walk the normal chunks
            for slot in range(self.pcpu_size_to_slot(size), self.pcpu_free_slot + 1):
                for chunk in list_for_each_entry_safe(self.pcpu_chunk_lists[slot]):
                    off = self.pcpu_find_block_fit(chunk, bits, bit_align, is_atomic)
                    if off < 0:
                        if slot < PCPU_SLOT_FAIL_THRESHOLD:
                            self.pcpu_chunk_move(chunk, 0)
                        continue

                    off = self.pcpu_alloc_area(chunk, bits, bit_align, off)
                    if off >= 0:
                        self.pcpu_reintegrate_chunk(chunk)
                        found = True
                        break
                if found:
                    break
            if found:
                break

            if is_atomic:
                err = "atomic alloc failed, no space left"
                return self._pcpu_alloc_fail(reserved, is_atomic, size, align, err, do_warn)

            # nothing fits: create a chunk, unless a free one already exists
            if list_empty(self.pcpu_chunk_lists[self.pcpu_free_slot]):
                chunk = self.backend.pcpu_create_chunk(self, pcpu_gfp)
                if not chunk:
                    err = "failed to allocate new chunk"
                    return self._pcpu_alloc_fail(reserved, is_atomic, size, align, err, do_warn)

                self.pcpu_chunk_relocate(chunk, -1)
                self.chunks_created += 1

        assert chunk is not None
        # area_found:
        self.pcpu_stats_area_alloc(chunk, size)

        # populate the pages under the area that are not there yet
        if not is_atomic:
            rs = off // self.geo.PAGE_SIZE
            page_end = (off + size + self.geo.PAGE_SIZE - 1) // self.geo.PAGE_SIZE

            for rs, re in for_each_clear_bitrange_from(rs, chunk.populated, page_end):  # noqa: B020 (the kernel macro reuses rs)
                if chunk.immutable:
                    self.printk("WARNING: populating an immutable chunk")

                ret = self.backend.pcpu_populate_chunk(self, chunk, rs, re, pcpu_gfp)

                if ret:
                    self.pcpu_free_area(chunk, off)
                    err = "failed to populate"
                    return self._pcpu_alloc_fail(reserved, is_atomic, size, align, err, do_warn)
                self.pcpu_chunk_populated(chunk, rs, re)

        if self.pcpu_nr_empty_pop_pages < PCPU_EMPTY_POP_PAGES_LOW:
            self.pcpu_schedule_balance_work()

        # zero the area on every CPU
        for cpu in self.possible_cpus:
            self.machine.memset(self.pcpu_chunk_addr(chunk, cpu, 0) + off, 0, size)

        ptr = self._addr_to_pcpu_ptr(chunk.base_addr + off)

        self.trace(
            "percpu_alloc_percpu",
            reserved=int(reserved),
            is_atomic=int(is_atomic),
            size=size,
            align=align,
            base_addr=chunk.base_addr,
            off=off,
            ptr=ptr,
        )
        self.last_alloc_err = ""
        return ptr

    def _pcpu_alloc_fail(
        self: Percpu, reserved: bool, is_atomic: bool, size: int, align: int, err: str, do_warn: bool
    ) -> None:
        """The ``fail:`` tail of mm/percpu.c: pcpu_alloc_noprof()."""
        self.trace("percpu_alloc_percpu_fail", reserved=int(reserved), is_atomic=int(is_atomic), size=size, align=align)
        self.last_alloc_err = err
        if do_warn and self.warn_limit:
            self.printk(f"allocation failed, size={size} align={align} atomic={int(is_atomic)}, {err}")
            self.warn_limit -= 1

        if is_atomic:
            # the balance work refills populated pages after this
            self.pcpu_atomic_alloc_failed = True
            self.pcpu_schedule_balance_work()
        return None

    def free_percpu(self: Percpu, ptr: int | None) -> None:
        """Port of mm/percpu.c: free_percpu().

        Frees the area; a chunk that became wholly free wakes the balance work
        if another free chunk exists, and a chunk with enough empty pages may
        be isolated for reclaim.
        """
        if not ptr:
            return

        addr = self._pcpu_ptr_to_addr(ptr)
        chunk = self.pcpu_chunk_addr_search(addr)
        off = addr - chunk.base_addr

        size = self.pcpu_free_area(chunk, off)
        self.last_free_size = size

        need_balance = False
        # a wholly free chunk: wake the balance work if it is not the only one
        if not chunk.isolated and chunk.free_bytes == self.pcpu_unit_size:
            for pos in list_for_each_entry(self.pcpu_chunk_lists[self.pcpu_free_slot]):
                if pos is not chunk:
                    need_balance = True
                    break
        elif self.backend.pcpu_should_reclaim_chunk(self, chunk):
            self.pcpu_isolate_chunk(chunk)
            need_balance = True

        self.trace("percpu_free_percpu", base_addr=chunk.base_addr, off=off, ptr=ptr)

        if need_balance:
            self.pcpu_schedule_balance_work()

    def _addr_to_pcpu_ptr(self: Percpu, addr: int) -> int:
        """Port of mm/percpu.c: _addr_to_pcpu_ptr() (the SMP default)."""
        return addr - self.pcpu_base_addr + self.per_cpu_start

    def _pcpu_ptr_to_addr(self: Percpu, ptr: int) -> int:
        """Port of mm/percpu.c: _pcpu_ptr_to_addr() (the SMP default)."""
        return ptr + self.pcpu_base_addr - self.per_cpu_start

    def per_cpu_ptr(self: Percpu, ptr: int, cpu: int) -> int:
        """Port of include/linux/percpu-defs.h: per_cpu_ptr(); the CPU's address."""
        return ptr + self._per_cpu_offset[cpu]
