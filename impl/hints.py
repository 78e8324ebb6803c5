"""Port of the block and chunk hint code of mm/percpu.c (Linux 6.12).

Every method keeps the kernel's name, statement order and local names.  The
kernel's pointer arithmetic over ``md_blocks`` becomes list indexing; where a
kernel pointer is advanced (``e_block++``) the index that stands for it is
named after the pointer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from impl.bitmap import (
    BitmapView,
    _ffs,
    find_last_bit,
    find_next_bit,
    find_next_zero_bit,
    for_each_clear_bitrange_from,
)
from impl.internal import pcpu_block_md, pcpu_chunk

if TYPE_CHECKING:
    from impl.percpu import Percpu


def ALIGN(x, a):  # type: ignore[no-untyped-def]
    """Port of include/linux/align.h: ALIGN() for a power-of-two ``a``."""
    return (x + (a - 1)) & ~(a - 1)


def pcpu_region_overlap(a, b, x, y):  # type: ignore[no-untyped-def]
    """Port of mm/percpu.c: pcpu_region_overlap(); half-open [a, b) vs [x, y)."""
    return (a < y) and (x < b)


class HintsMixin:
    """Hint maintenance: block and chunk metadata on alloc and free paths."""

    PCPU_BITMAP_BLOCK_BITS: int

    def pcpu_index_alloc_map(self: Percpu, chunk: pcpu_chunk, index: int) -> BitmapView:
        """Port of mm/percpu.c: pcpu_index_alloc_map(); the alloc_map from block ``index``."""
        return BitmapView(chunk.alloc_map, index * self.PCPU_BITMAP_BLOCK_BITS)

    def pcpu_off_to_block_index(self: Percpu, off):  # type: ignore[no-untyped-def]
        """Port of mm/percpu.c: pcpu_off_to_block_index()."""
        return off // self.PCPU_BITMAP_BLOCK_BITS

    def pcpu_off_to_block_off(self: Percpu, off):  # type: ignore[no-untyped-def]
        """Port of mm/percpu.c: pcpu_off_to_block_off()."""
        return off & (self.PCPU_BITMAP_BLOCK_BITS - 1)

    def pcpu_block_off_to_off(self: Percpu, index, off):  # type: ignore[no-untyped-def]
        """Port of mm/percpu.c: pcpu_block_off_to_off()."""
        return index * self.PCPU_BITMAP_BLOCK_BITS + off

    def pcpu_check_block_hint(self: Percpu, block: pcpu_block_md, bits, align):  # type: ignore[no-untyped-def]
        """Port of mm/percpu.c: pcpu_check_block_hint().

        Whether a request of ``bits`` at alignment ``align`` (bits) fits in the
        hint's contig_hint once its start is aligned up.
        """
        bit_off = ALIGN(block.contig_hint_start, align) - block.contig_hint_start

        return bit_off + bits <= block.contig_hint

    def pcpu_next_hint(self: Percpu, block: pcpu_block_md, alloc_bits):  # type: ignore[no-untyped-def]
        """Port of mm/percpu.c: pcpu_next_hint().

        Where to begin scanning a block: past the scan_hint when it exists,
        lies before the contig_hint and is too small for the request;
        otherwise at first_free.
        """
        if (
            block.scan_hint
            and block.contig_hint_start > block.scan_hint_start
            and alloc_bits > block.scan_hint
        ):
            return block.scan_hint_start + block.scan_hint

        return block.first_free

    def pcpu_update_empty_pages(self: Percpu, chunk: pcpu_chunk, nr) -> None:  # type: ignore[no-untyped-def]
        """Port of mm/percpu.c: pcpu_update_empty_pages().

        Adjusts the chunk's empty populated page count, and the global one
        unless the chunk is the reserved chunk or isolated.
        """
        chunk.nr_empty_pop_pages += nr
        if chunk is not self.pcpu_reserved_chunk and not chunk.isolated:
            self.pcpu_nr_empty_pop_pages += nr

    def pcpu_block_update(self: Percpu, block: pcpu_block_md, start, end) -> None:  # type: ignore[no-untyped-def]
        """Port of mm/percpu.c: pcpu_block_update().

        Folds one known free region [start, end) into the hints of ``block``;
        on a tie in size, the better aligned start wins the contig_hint.
        """
        contig = end - start

        block.first_free = min(block.first_free, start)
        if start == 0:
            block.left_free = contig

        if end == block.nr_bits:
            block.right_free = contig

        if contig > block.contig_hint:
            # the old contig_hint may become the scan_hint
            if start > block.contig_hint_start:
                if block.contig_hint > block.scan_hint:
                    block.scan_hint_start = block.contig_hint_start
                    block.scan_hint = block.contig_hint
                elif start < block.scan_hint_start:
                    # keep scan_hint_start below contig_hint_start
                    block.scan_hint = 0
            else:
                block.scan_hint = 0
            block.contig_hint_start = start
            block.contig_hint = contig
        elif contig == block.contig_hint:
            if block.contig_hint_start and (
                not start or _ffs(start) > _ffs(block.contig_hint_start)
            ):
                # better aligned start
                block.contig_hint_start = start
                if start < block.scan_hint_start and block.contig_hint > block.scan_hint:
                    block.scan_hint = 0
            elif start > block.scan_hint_start or block.contig_hint > block.scan_hint:
                # same size as contig_hint: remember it as the scan_hint
                block.scan_hint_start = start
                block.scan_hint = contig
        else:
            # smaller than contig_hint: scan_hint only if larger, or equal and later
            if start < block.contig_hint_start and (
                contig > block.scan_hint
                or (contig == block.scan_hint and start > block.scan_hint_start)
            ):
                block.scan_hint_start = start
                block.scan_hint = contig

    def pcpu_block_update_scan(self: Percpu, chunk: pcpu_chunk, bit_off, bits) -> None:  # type: ignore[no-untyped-def]
        """Port of mm/percpu.c: pcpu_block_update_scan().

        Offers a free hole that an aligned search skipped to the block hints,
        extending it backwards over free bits lost to alignment.  Holes that
        would cross the block end are ignored.
        """
        s_off = self.pcpu_off_to_block_off(bit_off)
        e_off = s_off + bits

        if e_off > self.PCPU_BITMAP_BLOCK_BITS:
            return

        s_index = self.pcpu_off_to_block_index(bit_off)
        block = chunk.md_blocks[s_index]

        # look backwards for free bits skipped by alignment
        l_bit = find_last_bit(self.pcpu_index_alloc_map(chunk, s_index), s_off)
        s_off = 0 if (s_off == l_bit) else l_bit + 1

        self.pcpu_block_update(block, s_off, e_off)

    def pcpu_chunk_refresh_hint(self: Percpu, chunk: pcpu_chunk, full_scan) -> None:  # type: ignore[no-untyped-def]
        """Port of mm/percpu.c: pcpu_chunk_refresh_hint().

        Rebuilds chunk_md from the block hints.  Without ``full_scan`` a
        scan_hint is promoted to contig_hint and the walk starts after it.
        """
        chunk_md = chunk.chunk_md

        # promote the scan_hint
        if not full_scan and chunk_md.scan_hint:
            bit_off = chunk_md.scan_hint_start + chunk_md.scan_hint
            chunk_md.contig_hint_start = chunk_md.scan_hint_start
            chunk_md.contig_hint = chunk_md.scan_hint
            chunk_md.scan_hint = 0
        else:
            bit_off = chunk_md.first_free
            chunk_md.contig_hint = 0

        bits = 0
        # expansion of pcpu_for_each_md_free_region(chunk, bit_off, bits)
        map_bits = self.pcpu_chunk_map_bits(chunk)
        bit_off, bits = self.pcpu_next_md_free_region(chunk, bit_off, bits)
        while bit_off < map_bits:
            self.pcpu_block_update(chunk_md, bit_off, bit_off + bits)
            bit_off += bits + 1
            bit_off, bits = self.pcpu_next_md_free_region(chunk, bit_off, bits)

    def pcpu_block_refresh_hint(self: Percpu, chunk: pcpu_chunk, index) -> None:  # type: ignore[no-untyped-def]
        """Port of mm/percpu.c: pcpu_block_refresh_hint().

        Rescans block ``index`` from first_free (or from the end of a promoted
        scan_hint) and refolds every free run into its hints.
        """
        block = chunk.md_blocks[index]
        alloc_map = self.pcpu_index_alloc_map(chunk, index)

        # promote the scan_hint
        if block.scan_hint:
            start = block.scan_hint_start + block.scan_hint
            block.contig_hint_start = block.scan_hint_start
            block.contig_hint = block.scan_hint
            block.scan_hint = 0
        else:
            start = block.first_free
            block.contig_hint = 0

        block.right_free = 0

        # fold every free run into the hints
        for start, end in for_each_clear_bitrange_from(  # noqa: B020 (the kernel macro reuses start)
            start, alloc_map, self.PCPU_BITMAP_BLOCK_BITS
        ):
            self.pcpu_block_update(block, start, end)

    def pcpu_block_update_hint_alloc(self: Percpu, chunk: pcpu_chunk, bit_off, bits) -> None:  # type: ignore[no-untyped-def]
        """Port of mm/percpu.c: pcpu_block_update_hint_alloc().

        Updates block and chunk hints after [bit_off, bit_off + bits) was
        allocated.  A block is rescanned only if its contig_hint was hit; the
        chunk is refreshed only if its contig_hint was hit.
        """
        BLOCK_BITS = self.PCPU_BITMAP_BLOCK_BITS
        chunk_md = chunk.chunk_md
        nr_empty_pages = 0

        # per block offsets; e_index is the last block touched
        s_index = self.pcpu_off_to_block_index(bit_off)
        e_index = self.pcpu_off_to_block_index(bit_off + bits - 1)
        s_off = self.pcpu_off_to_block_off(bit_off)
        e_off = self.pcpu_off_to_block_off(bit_off + bits - 1) + 1

        s_block = chunk.md_blocks[s_index]
        e_block = chunk.md_blocks[e_index]
        e_block_i = e_index  # index standing for the e_block pointer

        # s_block
        if s_block.contig_hint == BLOCK_BITS:
            nr_empty_pages += 1

        # first_free moves if the allocation starts on it
        if s_off == s_block.first_free:
            s_block.first_free = find_next_zero_bit(
                self.pcpu_index_alloc_map(chunk, s_index), BLOCK_BITS, s_off + bits
            )

        if pcpu_region_overlap(
            s_block.scan_hint_start,
            s_block.scan_hint_start + s_block.scan_hint,
            s_off,
            s_off + bits,
        ):
            s_block.scan_hint = 0

        if pcpu_region_overlap(
            s_block.contig_hint_start,
            s_block.contig_hint_start + s_block.contig_hint,
            s_off,
            s_off + bits,
        ):
            # the block's contig_hint was hit: rescan
            if not s_off:
                s_block.left_free = 0
            self.pcpu_block_refresh_hint(chunk, s_index)
        else:
            # only the edge runs can have shrunk
            s_block.left_free = min(s_block.left_free, s_off)
            if s_index == e_index:
                s_block.right_free = min(s_block.right_free, BLOCK_BITS - e_off)
            else:
                s_block.right_free = 0

        # e_block
        if s_index != e_index:
            if e_block.contig_hint == BLOCK_BITS:
                nr_empty_pages += 1

            # a straddling allocation covers the left of e_block
            e_block.first_free = find_next_zero_bit(
                self.pcpu_index_alloc_map(chunk, e_index), BLOCK_BITS, e_off
            )

            if e_off == BLOCK_BITS:
                # e_block is wholly allocated: the loop below resets it
                e_block_i += 1
            else:
                if e_off > e_block.scan_hint_start:
                    e_block.scan_hint = 0

                e_block.left_free = 0
                if e_off > e_block.contig_hint_start:
                    # the block's contig_hint was hit: rescan
                    self.pcpu_block_refresh_hint(chunk, e_index)
                else:
                    e_block.right_free = min(e_block.right_free, BLOCK_BITS - e_off)

            # blocks in between are now full
            nr_empty_pages += e_index - s_index - 1
            for block in chunk.md_blocks[s_index + 1 : e_block_i]:
                block.scan_hint = 0
                block.contig_hint = 0
                block.left_free = 0
                block.right_free = 0

        # pages counted here may be unpopulated yet; population adds them back
        if nr_empty_pages:
            self.pcpu_update_empty_pages(chunk, -nr_empty_pages)

        if pcpu_region_overlap(
            chunk_md.scan_hint_start,
            chunk_md.scan_hint_start + chunk_md.scan_hint,
            bit_off,
            bit_off + bits,
        ):
            chunk_md.scan_hint = 0

        # the chunk hint needs a refresh only if the allocation hit it
        if pcpu_region_overlap(
            chunk_md.contig_hint_start,
            chunk_md.contig_hint_start + chunk_md.contig_hint,
            bit_off,
            bit_off + bits,
        ):
            self.pcpu_chunk_refresh_hint(chunk, False)

    def pcpu_block_update_hint_free(self: Percpu, chunk: pcpu_chunk, bit_off, bits) -> None:  # type: ignore[no-untyped-def]
        """Port of mm/percpu.c: pcpu_block_update_hint_free().

        Updates hints after [bit_off, bit_off + bits) was freed.  The free run
        is extended to its neighbours within the first and last block (using
        the contig hints when they touch, else a bitmap scan).  The chunk hint
        is rebuilt when the run spans blocks or reaches a block's size, and
        otherwise only offered the new run.
        """
        BLOCK_BITS = self.PCPU_BITMAP_BLOCK_BITS
        nr_empty_pages = 0

        s_index = self.pcpu_off_to_block_index(bit_off)
        e_index = self.pcpu_off_to_block_index(bit_off + bits - 1)
        s_off = self.pcpu_off_to_block_off(bit_off)
        e_off = self.pcpu_off_to_block_off(bit_off + bits - 1) + 1

        s_block = chunk.md_blocks[s_index]
        e_block = chunk.md_blocks[e_index]

        # extend the freed run backwards and forwards inside its blocks
        start = s_off
        if s_off == s_block.contig_hint + s_block.contig_hint_start:
            start = s_block.contig_hint_start
        else:
            # find_last_bit() returns its size argument when nothing is set
            l_bit = find_last_bit(self.pcpu_index_alloc_map(chunk, s_index), start)
            start = 0 if (start == l_bit) else l_bit + 1

        end = e_off
        if e_off == e_block.contig_hint_start:
            end = e_block.contig_hint_start + e_block.contig_hint
        else:
            end = find_next_bit(self.pcpu_index_alloc_map(chunk, e_index), BLOCK_BITS, end)

        # s_block
        e_off = end if (s_index == e_index) else BLOCK_BITS
        if not start and e_off == BLOCK_BITS:
            nr_empty_pages += 1
        self.pcpu_block_update(s_block, start, e_off)

        if s_index != e_index:
            # e_block
            if end == BLOCK_BITS:
                nr_empty_pages += 1
            self.pcpu_block_update(e_block, 0, end)

            # blocks in between are now wholly free
            nr_empty_pages += e_index - s_index - 1
            for block in chunk.md_blocks[s_index + 1 : e_index]:
                block.first_free = 0
                block.scan_hint = 0
                block.contig_hint_start = 0
                block.contig_hint = BLOCK_BITS
                block.left_free = BLOCK_BITS
                block.right_free = BLOCK_BITS

        if nr_empty_pages:
            self.pcpu_update_empty_pages(chunk, nr_empty_pages)

        # rebuild the chunk hint only for block-sized or spanning runs
        if ((end - start) >= BLOCK_BITS) or s_index != e_index:
            self.pcpu_chunk_refresh_hint(chunk, True)
        else:
            self.pcpu_block_update(
                chunk.chunk_md, self.pcpu_block_off_to_off(s_index, start), end
            )

    def pcpu_init_md_block(self: Percpu, block: pcpu_block_md, nr_bits: int) -> None:
        """Port of mm/percpu.c: pcpu_init_md_block(); an all-free block of ``nr_bits``."""
        block.scan_hint = 0
        block.contig_hint = nr_bits
        block.left_free = nr_bits
        block.right_free = nr_bits
        block.first_free = 0
        block.nr_bits = nr_bits

    def pcpu_init_md_blocks(self: Percpu, chunk: pcpu_chunk) -> None:
        """Port of mm/percpu.c: pcpu_init_md_blocks(); chunk_md and every block."""
        self.pcpu_init_md_block(chunk.chunk_md, self.pcpu_chunk_map_bits(chunk))

        for md_block in chunk.md_blocks:
            self.pcpu_init_md_block(md_block, self.PCPU_BITMAP_BLOCK_BITS)

