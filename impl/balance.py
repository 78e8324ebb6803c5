"""Port of the balance work of mm/percpu.c (Linux 6.12): free chunks, populate, reclaim."""

from __future__ import annotations

from typing import TYPE_CHECKING

from impl.bitmap import for_each_clear_bitrange, for_each_set_bitrange, test_bit
from impl.kernel import _GFP_NORETRY, _GFP_NOWARN, GFP_KERNEL
from impl.klist import (
    ListHead,
    list_empty,
    list_first_entry_or_null,
    list_for_each_entry,
    list_for_each_entry_safe,
    list_move,
    list_move_tail,
)
from impl.vm import PCPU_EMPTY_POP_PAGES_HIGH

if TYPE_CHECKING:
    from impl.percpu import Percpu


class BalanceMixin:
    """The asynchronous side: keeping free chunks and populated pages in range."""

    def pcpu_balance_free(self: Percpu, empty_only: bool) -> None:
        """Port of mm/percpu.c: pcpu_balance_free().

        Destroys every fully free chunk but the first on the free slot (with
        ``empty_only``, only those without populated empty pages), after
        depopulating what they still have.
        """
        to_free = ListHead()
        free_head = self.pcpu_chunk_lists[self.pcpu_free_slot]

        # keep one free chunk, destroy the others
        for chunk in list_for_each_entry_safe(free_head):
            if chunk.immutable:
                self.printk("WARNING: immutable chunk on the free slot")

            # spare the first one
            if chunk is list_first_entry_or_null(free_head):
                continue

            if not empty_only or chunk.nr_empty_pop_pages == 0:
                list_move(chunk.list, to_free)

        if list_empty(to_free):
            return

        for chunk in list_for_each_entry_safe(to_free):
            for rs, re in list(for_each_set_bitrange(chunk.populated, chunk.nr_pages)):
                self.backend.pcpu_depopulate_chunk(self, chunk, rs, re)
                self.pcpu_chunk_depopulated(chunk, rs, re)
            self.backend.pcpu_destroy_chunk(self, chunk)
            self.chunks_destroyed += 1

    def pcpu_balance_populated(self: Percpu) -> None:
        """Port of mm/percpu.c: pcpu_balance_populated().

        Populates pages, most packed chunks first, until the empty populated
        page count reaches PCPU_EMPTY_POP_PAGES_HIGH (or by the full amount
        after an atomic failure); creates a chunk if none has room.
        """
        gfp = GFP_KERNEL | _GFP_NORETRY | _GFP_NOWARN

        while True:  # the kernel's "retry_pop:" label
            if self.pcpu_atomic_alloc_failed:
                nr_to_pop = PCPU_EMPTY_POP_PAGES_HIGH
                # best effort
                self.pcpu_atomic_alloc_failed = False
            else:
                nr_to_pop = min(
                    max(PCPU_EMPTY_POP_PAGES_HIGH - self.pcpu_nr_empty_pop_pages, 0),
                    PCPU_EMPTY_POP_PAGES_HIGH,
                )

            for slot in range(self.pcpu_size_to_slot(self.geo.PAGE_SIZE), self.pcpu_free_slot + 1):
                nr_unpop = 0

                if not nr_to_pop:
                    break

                chunk = None
                for chunk in list_for_each_entry(self.pcpu_chunk_lists[slot]):
                    nr_unpop = chunk.nr_pages - chunk.nr_populated
                    if nr_unpop:
                        break

                if not nr_unpop:
                    continue

                assert chunk is not None
                for rs, re in list(for_each_clear_bitrange(chunk.populated, chunk.nr_pages)):
                    nr = min(re - rs, nr_to_pop)

                    ret = self.backend.pcpu_populate_chunk(self, chunk, rs, rs + nr, gfp)
                    if not ret:
                        nr_to_pop -= nr
                        self.pcpu_chunk_populated(chunk, rs, rs + nr)
                    else:
                        nr_to_pop = 0

                    if not nr_to_pop:
                        break

            if nr_to_pop:
                # no chunk left to populate: create one and retry
                chunk = self.backend.pcpu_create_chunk(self, gfp)
                if chunk:
                    self.pcpu_chunk_relocate(chunk, -1)
                    self.chunks_created += 1
                    continue
            return

    def pcpu_reclaim_populated(self: Percpu) -> None:
        """Port of mm/percpu.c: pcpu_reclaim_populated().

        For each chunk on to_depopulate, gives back empty populated pages from
        the end of the chunk towards its start, stopping early if the system
        runs short of empty pages (then the chunk is reintegrated).  Done
        chunks go to the sidelined slot, or back if wholly free.
        """
        BLOCK_BITS = self.PCPU_BITMAP_BLOCK_BITS

        while True:
            chunk = list_first_entry_or_null(self.pcpu_chunk_lists[self.pcpu_to_depopulate_slot])
            if not chunk:
                break
            if chunk.immutable:
                self.printk("WARNING: immutable chunk on to_depopulate")

            # walk the pages backwards
            freed_page_start = chunk.nr_pages
            freed_page_end = 0
            reintegrate = False
            i = chunk.nr_pages - 1
            end = -1
            while i >= 0:
                # nothing left to give back
                if chunk.nr_empty_pop_pages == 0:
                    break

                # keep enough empty pages for atomic allocations
                if self.pcpu_nr_empty_pop_pages < PCPU_EMPTY_POP_PAGES_HIGH:
                    reintegrate = True
                    break

                # an empty populated page starts or extends the range
                block = chunk.md_blocks[i]
                if block.contig_hint == BLOCK_BITS and test_bit(i, chunk.populated):
                    if end == -1:
                        end = i
                    if i > 0:
                        i -= 1
                        continue
                    i -= 1

                # depopulate the range, if any
                if end == -1:
                    i -= 1
                    continue

                self.backend.pcpu_depopulate_chunk(self, chunk, i + 1, end + 1)

                self.pcpu_chunk_depopulated(chunk, i + 1, end + 1)
                freed_page_start = min(freed_page_start, i + 1)
                freed_page_end = max(freed_page_end, end + 1)

                # start a new range
                end = -1
                i -= 1

            # one tlb flush per chunk
            if freed_page_start < freed_page_end:
                self.backend.pcpu_post_unmap_tlb_flush(self, chunk, freed_page_start, freed_page_end)

            if reintegrate or chunk.free_bytes == self.pcpu_unit_size:
                self.pcpu_reintegrate_chunk(chunk)
            else:
                list_move_tail(chunk.list, self.pcpu_chunk_lists[self.pcpu_sidelined_slot])

    def pcpu_balance_workfn(self: Percpu) -> None:
        """Port of mm/percpu.c: pcpu_balance_workfn(); the four passes in kernel order."""
        self.balance_work_pending = False
        self.pcpu_balance_free(False)
        self.pcpu_reclaim_populated()
        self.pcpu_balance_populated()
        self.pcpu_balance_free(True)
