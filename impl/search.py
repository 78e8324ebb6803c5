"""Port of the free-area search code of mm/percpu.c (Linux 6.12).

The kernel's in/out pointer parameters (``int *bit_off, int *bits``) become
arguments plus a returned tuple.  The ``pcpu_for_each_*_region`` macros are
expanded in place at their call sites, because the kernel's loop bodies
assign to the loop variables.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from impl.bitmap import _ffs, find_next_bit, find_next_zero_bit
from impl.hints import ALIGN
from impl.internal import PCPU_MIN_ALLOC_SIZE, pcpu_chunk

if TYPE_CHECKING:
    from impl.percpu import Percpu


def _ALIGN_MASK(x, mask):  # type: ignore[no-untyped-def]
    """Port of include/linux/align.h: _ALIGN_MASK()."""
    return (x + mask) & ~mask


class SearchMixin:
    """Finding a block to start from and a free area to allocate."""

    def pcpu_next_md_free_region(self: Percpu, chunk: pcpu_chunk, bit_off, bits):  # type: ignore[no-untyped-def]
        """Port of mm/percpu.c: pcpu_next_md_free_region().

        From ``bit_off``, returns the next free region the block hints know of
        as ``(bit_off, bits)``: a block's contig_hint not yet visited, or a run
        joined across block edges from right_free and left_free.  ``bit_off``
        reaches the map size when there is none.
        """
        BLOCK_BITS = self.PCPU_BITMAP_BLOCK_BITS
        i = self.pcpu_off_to_block_index(bit_off)
        block_off = self.pcpu_off_to_block_off(bit_off)
        nr_blocks = self.pcpu_chunk_nr_blocks(chunk)

        bits = 0
        while i < nr_blocks:
            block = chunk.md_blocks[i]
            # a run carried over from the previous block
            if bits:
                bits += block.left_free
                if block.left_free == BLOCK_BITS:
                    i += 1
                    continue
                return bit_off, bits

            # the contig_hint, if not visited yet and not running off the end
            bits = block.contig_hint
            if (
                bits
                and block.contig_hint_start >= block_off
                and bits + block.contig_hint_start < BLOCK_BITS
            ):
                bit_off = self.pcpu_block_off_to_off(i, block.contig_hint_start)
                return bit_off, bits
            # later blocks are visited from their start
            block_off = 0

            bits = block.right_free
            bit_off = (i + 1) * BLOCK_BITS - block.right_free
            i += 1
        return bit_off, bits

    def pcpu_next_fit_region(self: Percpu, chunk: pcpu_chunk, alloc_bits, align, bit_off, bits):  # type: ignore[no-untyped-def]
        """Port of mm/percpu.c: pcpu_next_fit_region().

        From ``bit_off``, returns ``(bit_off, bits)`` of the next region the
        hints say can hold ``alloc_bits`` at ``align``; inside a block whose
        contig_hint fits, the scan start is the block's next hint so earlier
        holes are tried first.  ``bit_off`` is the map size when none fits.
        """
        BLOCK_BITS = self.PCPU_BITMAP_BLOCK_BITS
        i = self.pcpu_off_to_block_index(bit_off)
        block_off = self.pcpu_off_to_block_off(bit_off)
        nr_blocks = self.pcpu_chunk_nr_blocks(chunk)

        bits = 0
        while i < nr_blocks:
            block = chunk.md_blocks[i]
            # a run carried over from the previous block
            if bits:
                bits += block.left_free
                if bits >= alloc_bits:
                    return bit_off, bits
                if block.left_free == BLOCK_BITS:
                    i += 1
                    continue

            # the block's contig_hint
            bits = ALIGN(block.contig_hint_start, align) - block.contig_hint_start
            # block_off tells whether this hint was tried already
            if (
                block.contig_hint
                and block.contig_hint_start >= block_off
                and block.contig_hint >= bits + alloc_bits
            ):
                start = self.pcpu_next_hint(block, alloc_bits)

                bits += alloc_bits + block.contig_hint_start - start
                bit_off = self.pcpu_block_off_to_off(i, start)
                return bit_off, bits
            # later blocks are visited from their start
            block_off = 0

            bit_off = ALIGN(BLOCK_BITS - block.right_free, align)
            bits = BLOCK_BITS - bit_off
            bit_off = self.pcpu_block_off_to_off(i, bit_off)
            if bits >= alloc_bits:
                return bit_off, bits
            i += 1

        # nothing fits
        bit_off = self.pcpu_chunk_map_bits(chunk)
        return bit_off, bits

    def pcpu_is_populated(self: Percpu, chunk: pcpu_chunk, bit_off, bits, next_off):  # type: ignore[no-untyped-def]
        """Port of mm/percpu.c: pcpu_is_populated().

        Returns ``(populated, next_off)``: whether every page under the area is
        populated, and otherwise the bit offset just past the first hole.
        """
        PAGE_SIZE = self.geo.PAGE_SIZE
        start = (bit_off * PCPU_MIN_ALLOC_SIZE) // PAGE_SIZE  # PFN_DOWN
        end = ((bit_off + bits) * PCPU_MIN_ALLOC_SIZE + PAGE_SIZE - 1) // PAGE_SIZE  # PFN_UP

        start = find_next_zero_bit(chunk.populated, end, start)
        if start >= end:
            return True, next_off

        end = find_next_bit(chunk.populated, end, start + 1)

        next_off = end * PAGE_SIZE // PCPU_MIN_ALLOC_SIZE
        return False, next_off

    def pcpu_find_block_fit(self: Percpu, chunk: pcpu_chunk, alloc_bits, align, pop_only):  # type: ignore[no-untyped-def]
        """Port of mm/percpu.c: pcpu_find_block_fit().

        The bit offset to start the area search from, or -1.  Gives up at
        once if the chunk's contig_hint cannot hold the aligned request, and
        skips regions whose hints cannot: not first fit.
        """
        chunk_md = chunk.chunk_md
        next_off = 0

        # the chunk hint is trusted: no scan when it does not fit
        if not self.pcpu_check_block_hint(chunk_md, alloc_bits, align):
            return -1

        bit_off = self.pcpu_next_hint(chunk_md, alloc_bits)
        bits = 0
        # expansion of pcpu_for_each_fit_region(chunk, alloc_bits, align, bit_off, bits)
        map_bits = self.pcpu_chunk_map_bits(chunk)
        bit_off, bits = self.pcpu_next_fit_region(chunk, alloc_bits, align, bit_off, bits)
        while bit_off < map_bits:
            if not pop_only:
                break
            populated, next_off = self.pcpu_is_populated(chunk, bit_off, bits, next_off)
            if populated:
                break

            bit_off = next_off
            bits = 0
            bit_off += bits
            bit_off, bits = self.pcpu_next_fit_region(chunk, alloc_bits, align, bit_off, bits)

        if bit_off == self.pcpu_chunk_map_bits(chunk):
            return -1

        return bit_off

    def pcpu_find_zero_area(self: Percpu, map, size, start, nr, align_mask, largest_off, largest_bits):  # type: ignore[no-untyped-def]
        """Port of mm/percpu.c: pcpu_find_zero_area().

        First aligned run of ``nr`` clear bits at or after ``start`` below
        ``size``; returns ``(index, largest_off, largest_bits)`` where the
        last two remember the largest aligned hole that was too small.  An
        index whose end passes ``size`` means failure.
        """
        while True:  # the kernel's "again:" label
            index = find_next_zero_bit(map, size, start)

            # align
            index = _ALIGN_MASK(index, align_mask)
            area_off = index

            end = index + nr
            if end > size:
                return end, largest_off, largest_bits
            i = find_next_bit(map, end, index)
            if i < end:
                area_bits = i - area_off
                # keep the largest hole, the better aligned one on a tie
                if area_bits > largest_bits or (
                    area_bits == largest_bits
                    and largest_off
                    and (not area_off or _ffs(area_off) > _ffs(largest_off))
                ):
                    largest_off = area_off
                    largest_bits = area_bits

                start = i + 1
                continue
            return index, largest_off, largest_bits
