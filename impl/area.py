"""Port of pcpu_alloc_area() and pcpu_free_area() of mm/percpu.c (Linux 6.12)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from impl.bitmap import bitmap_clear, bitmap_set, find_next_bit, find_next_zero_bit, set_bit
from impl.internal import PCPU_MIN_ALLOC_SIZE, pcpu_chunk

if TYPE_CHECKING:
    from impl.percpu import Percpu


class AreaMixin:
    """Carving an area out of a chunk and giving it back."""

    def pcpu_alloc_area(self: Percpu, chunk: pcpu_chunk, alloc_bits, align, start):  # type: ignore[no-untyped-def]
        """Port of mm/percpu.c: pcpu_alloc_area().

        Scans the alloc_map from ``start`` (at most one block past the
        request) for an aligned free run, marks it in alloc_map and
        bound_map, updates hints and the chunk's slot.  Returns the byte
        offset, or -1.
        """
        chunk_md = chunk.chunk_md
        align_mask = (align - 1) if align else 0
        area_off = 0
        area_bits = 0

        oslot = self.pcpu_chunk_slot(chunk)

        # search
        end = min(start + alloc_bits + self.PCPU_BITMAP_BLOCK_BITS, self.pcpu_chunk_map_bits(chunk))
        bit_off, area_off, area_bits = self.pcpu_find_zero_area(
            chunk.alloc_map, end, start, alloc_bits, align_mask, area_off, area_bits
        )
        if bit_off >= end:
            return -1

        if area_bits:
            self.pcpu_block_update_scan(chunk, area_off, area_bits)

        # alloc map
        bitmap_set(chunk.alloc_map, bit_off, alloc_bits)

        # boundary map
        set_bit(bit_off, chunk.bound_map)
        bitmap_clear(chunk.bound_map, bit_off + 1, alloc_bits - 1)
        set_bit(bit_off + alloc_bits, chunk.bound_map)

        chunk.free_bytes -= alloc_bits * PCPU_MIN_ALLOC_SIZE

        # first free bit
        if bit_off == chunk_md.first_free:
            chunk_md.first_free = find_next_zero_bit(
                chunk.alloc_map, self.pcpu_chunk_map_bits(chunk), bit_off + alloc_bits
            )

        self.pcpu_block_update_hint_alloc(chunk, bit_off, alloc_bits)

        self.pcpu_chunk_relocate(chunk, oslot)

        return bit_off * PCPU_MIN_ALLOC_SIZE

    def pcpu_free_area(self: Percpu, chunk: pcpu_chunk, off: int) -> int:
        """Port of mm/percpu.c: pcpu_free_area().

        Frees the area starting at byte offset ``off``; its length comes from
        the next bound_map bit.  Returns the number of bytes freed.
        """
        chunk_md = chunk.chunk_md

        self.pcpu_stats_area_dealloc(chunk)

        oslot = self.pcpu_chunk_slot(chunk)

        bit_off = off // PCPU_MIN_ALLOC_SIZE

        # the area ends at the next boundary bit
        end = find_next_bit(chunk.bound_map, self.pcpu_chunk_map_bits(chunk), bit_off + 1)
        bits = end - bit_off
        bitmap_clear(chunk.alloc_map, bit_off, bits)

        freed = bits * PCPU_MIN_ALLOC_SIZE

        chunk.free_bytes += freed

        chunk_md.first_free = min(chunk_md.first_free, bit_off)

        self.pcpu_block_update_hint_free(chunk, bit_off, bits)

        self.pcpu_chunk_relocate(chunk, oslot)

        return freed
