"""Port of the chunk slot machinery of mm/percpu.c (Linux 6.12).

Chunks sit on ``pcpu_chunk_lists[slot]`` by the size of their contig_hint;
after the size slots come the sidelined, free and to_depopulate slots.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from impl.bitmap import fls
from impl.internal import PCPU_MIN_ALLOC_SIZE, pcpu_chunk
from impl.klist import list_move, list_move_tail

if TYPE_CHECKING:
    from impl.percpu import Percpu

PCPU_SLOT_BASE_SHIFT = 5
PCPU_SLOT_FAIL_THRESHOLD = 3


def _pcpu_size_to_slot(size: int) -> int:
    """Port of mm/percpu.c: _pcpu_size_to_slot(); the size slot of ``size`` bytes."""
    highbit = fls(size)
    return max(highbit - PCPU_SLOT_BASE_SHIFT + 2, 1)


class SlotsMixin:
    """Slot computation and the moves between slot lists."""

    def pcpu_size_to_slot(self: Percpu, size: int) -> int:
        """Port of mm/percpu.c: pcpu_size_to_slot(); a whole unit maps to the free slot."""
        if size == self.pcpu_unit_size:
            return self.pcpu_free_slot
        return _pcpu_size_to_slot(size)

    def pcpu_chunk_slot(self: Percpu, chunk: pcpu_chunk) -> int:
        """Port of mm/percpu.c: pcpu_chunk_slot(); slot 0 for a chunk with no usable room."""
        chunk_md = chunk.chunk_md

        if chunk.free_bytes < PCPU_MIN_ALLOC_SIZE or chunk_md.contig_hint == 0:
            return 0

        return self.pcpu_size_to_slot(chunk_md.contig_hint * PCPU_MIN_ALLOC_SIZE)

    def _pcpu_chunk_move(self: Percpu, chunk: pcpu_chunk, slot: int, move_front: bool) -> None:
        """Port of mm/percpu.c: _pcpu_chunk_move(); never moves the reserved chunk."""
        if chunk is not self.pcpu_reserved_chunk:
            if move_front:
                list_move(chunk.list, self.pcpu_chunk_lists[slot])
            else:
                list_move_tail(chunk.list, self.pcpu_chunk_lists[slot])

    def pcpu_chunk_move(self: Percpu, chunk: pcpu_chunk, slot: int) -> None:
        """Port of mm/percpu.c: pcpu_chunk_move(); to the front of ``slot``."""
        self._pcpu_chunk_move(chunk, slot, True)

    def pcpu_chunk_relocate(self: Percpu, chunk: pcpu_chunk, oslot: int) -> None:
        """Port of mm/percpu.c: pcpu_chunk_relocate().

        Moves the chunk to the slot its state now calls for (front if it
        moved up, back if down); isolated chunks stay where they are.
        """
        nslot = self.pcpu_chunk_slot(chunk)

        # isolated chunks stay put
        if chunk.isolated:
            return

        if oslot != nslot:
            self._pcpu_chunk_move(chunk, nslot, oslot < nslot)

    def pcpu_isolate_chunk(self: Percpu, chunk: pcpu_chunk) -> None:
        """Port of mm/percpu.c: pcpu_isolate_chunk(); onto to_depopulate, out of the count."""
        if not chunk.isolated:
            chunk.isolated = True
            self.pcpu_nr_empty_pop_pages -= chunk.nr_empty_pop_pages
        list_move(chunk.list, self.pcpu_chunk_lists[self.pcpu_to_depopulate_slot])

    def pcpu_reintegrate_chunk(self: Percpu, chunk: pcpu_chunk) -> None:
        """Port of mm/percpu.c: pcpu_reintegrate_chunk(); back into the size slots."""
        if chunk.isolated:
            chunk.isolated = False
            self.pcpu_nr_empty_pop_pages += chunk.nr_empty_pop_pages
            self.pcpu_chunk_relocate(chunk, -1)
