"""The 2017 v1 bitmap allocator's hint logic, as posted (defects included).

Source: "[PATCH 09/10] percpu: replace area map allocator with bitmap
allocator" and "[PATCH 10/10] percpu: add optimizations on allocation path
for the bitmap allocator", Dennis Zhou, linux-mm, 2017-07-16
(/work/shared/seeds/003_85577c02b60da03b.txt).  Ported function by
function with the posted names, statement order, local names and units:
offsets and sizes in bitmap bits (one bit per PCPU_MIN_ALLOC_SIZE bytes),
PCPU_BITMAP_BLOCK_SIZE = bits per block (PAGE_SIZE >> PCPU_MIN_ALLOC_SHIFT,
the port's ``PCPU_BITMAP_BLOCK_BITS``).  ``self`` is the booted ``Percpu``
(the kernel's globals).

How v1 maps onto the 6.12 port it is plugged into (``REPLACES`` below):

- v1's ``chunk->contig_hint``/``contig_hint_start`` are the port's
  ``chunk.chunk_md.contig_hint``/``contig_hint_start`` (6.12 moved them
  into chunk_md); v1 has no scan hints, so chunk and block scan_hint stay 0.
- v1's ``chunk->first_free_block`` is kept as an extra attribute on the
  chunk (0 until v1 code first sets it).
- v1 returned "update the chunk" from the block functions and let
  pcpu_alloc_area()/pcpu_free_area() call pcpu_chunk_update_hint() and
  maintain first_free_block and the freed block's first_free; the adapters
  ``_after_alloc``/``_after_free`` are exactly those caller lines, because
  the 6.12 callers call the block functions without looking at a result.
- v1 has no pcpu_block_update_scan(): it is replaced by a no-op.
- v1 keeps nr_empty_pop_pages in pcpu_chunk_update_hint() by recounting;
  the 6.12 block functions adjust it incrementally.  Population and
  depopulation (pcpu_chunk_populated()/_depopulated()) stay 6.12's.
- The first chunk is booted by the 6.12 code; v1 runs from the first call on.

Search (pcpu_find_block_fit(), pcpu_alloc_area()'s scan) stays 6.12's,
which is what the PATCH 10 "check chunk->contig_hint" fast path became.

Run: ``python -m tools.cli validate-patch variants/v1_2017.py``.
"""

from __future__ import annotations

from typing import Any

from impl.bitmap import find_last_bit, find_next_bit, find_next_zero_bit


def _weight(bitmap: Any, nbits: int) -> int:
    """bitmap_weight(): set bits among the first ``nbits``."""
    return bin(bitmap.bits & ((1 << nbits) - 1)).count("1")


# ------------------------------------------------ helpers as posted (PATCH 09)
def pcpu_nr_pages_to_blocks(self: Any, chunk: Any) -> int:
    """PATCH 09: pcpu_nr_pages_to_blocks(); md_blocks of a chunk."""
    return chunk.nr_pages * self.geo.PAGE_SIZE // 4 // self.PCPU_BITMAP_BLOCK_BITS


def pcpu_block_get_first_page(self: Any, index: int) -> int:
    """PATCH 09: pcpu_block_get_first_page(); the page holding block ``index``'s first bit."""
    return (index * self.PCPU_BITMAP_BLOCK_BITS * 4) // self.geo.PAGE_SIZE  # PFN_DOWN


def pcpu_cnt_pop_pages(self: Any, chunk: Any, start: int, end: int) -> int:
    """PATCH 09: pcpu_cnt_pop_pages(); populated pages in [start, end)."""
    return _weight(chunk.populated, end) - _weight(chunk.populated, start)


# --------------------------------------------------- hint logic (PATCH 09)
def pcpu_chunk_update_hint(self: Any, chunk: Any) -> None:
    """PATCH 09: pcpu_chunk_update_hint().

    Walks the blocks from first_free_block, joining right_free with the next
    block's left_free, to recompute the chunk contig hint; recounts the
    chunk's empty populated pages and moves the global count by the delta.
    """
    BLOCK = self.PCPU_BITMAP_BLOCK_BITS
    md = chunk.chunk_md  # v1: chunk->contig_hint, chunk->contig_hint_start
    is_page_empty = True

    md.contig_hint = cur_contig = 0
    off = nr_empty_pop_pages = 0
    first_free_block = getattr(chunk, "first_free_block", 0)
    l_pop_off = pcpu_block_get_first_page(self, first_free_block)

    for i in range(first_free_block, pcpu_nr_pages_to_blocks(self, chunk)):
        block = chunk.md_blocks[i]
        pop_off = pcpu_block_get_first_page(self, i)

        if pop_off > l_pop_off:
            if is_page_empty:
                nr_empty_pop_pages += pcpu_cnt_pop_pages(self, chunk, l_pop_off, pop_off)
            l_pop_off = pop_off
            is_page_empty = True
        if block.contig_hint != BLOCK:
            is_page_empty = False

        # a run carried over from the previous block
        if cur_contig:
            cur_contig += block.left_free
            if block.left_free == BLOCK:
                continue
            elif cur_contig > md.contig_hint:
                md.contig_hint = cur_contig
                md.contig_hint_start = off
            cur_contig = 0
        if block.contig_hint > md.contig_hint:
            md.contig_hint = block.contig_hint
            md.contig_hint_start = i * BLOCK + block.contig_hint_start  # pcpu_block_off_to_off
        cur_contig = block.right_free
        off = (i + 1) * BLOCK - block.right_free

    # the last block may end free
    if cur_contig > md.contig_hint:
        md.contig_hint = cur_contig
        md.contig_hint_start = off

    if is_page_empty:
        nr_empty_pop_pages += pcpu_cnt_pop_pages(self, chunk, l_pop_off, chunk.nr_pages)
    if chunk is not self.pcpu_reserved_chunk:
        self.pcpu_nr_empty_pop_pages += nr_empty_pop_pages - chunk.nr_empty_pop_pages
    chunk.nr_empty_pop_pages = nr_empty_pop_pages


def pcpu_block_refresh_hint(self: Any, chunk: Any, index: int) -> None:
    """PATCH 09: pcpu_block_refresh_hint(); rescans block ``index`` from its first_free."""
    BLOCK = self.PCPU_BITMAP_BLOCK_BITS
    alloc_map = self.pcpu_index_alloc_map(chunk, index)
    block = chunk.md_blocks[index]
    is_left_free = is_right_free = False

    block.contig_hint = 0
    start = end = block.first_free
    while start < BLOCK:
        start = find_next_zero_bit(alloc_map, BLOCK, start)
        if start >= BLOCK:
            break
        end = find_next_bit(alloc_map, BLOCK, start)
        contig = end - start
        if start == 0:
            block.left_free = contig
            is_left_free = True
        if end == BLOCK:
            block.right_free = contig
            is_right_free = True
        if block.contig_hint < contig:
            block.contig_hint = contig
            block.contig_hint_start = start
        start = end

    if not is_left_free:
        block.left_free = 0
    if not is_right_free:
        block.right_free = 0


def pcpu_block_update_hint_alloc(self: Any, chunk: Any, bit_off: int, bit_size: int) -> bool:
    """PATCH 09: pcpu_block_update_hint_alloc(); True when the chunk hint needs a rescan."""
    BLOCK = self.PCPU_BITMAP_BLOCK_BITS
    update_chunk = False

    s_index = bit_off // BLOCK
    e_index = (bit_off + bit_size) // BLOCK
    s_off = bit_off & (BLOCK - 1)
    e_off = (bit_off + bit_size) & (BLOCK - 1)

    # an end on a block boundary belongs to the previous block
    if e_off == 0:
        e_off = BLOCK
        e_index -= 1

    s_block = chunk.md_blocks[s_index]
    e_block = chunk.md_blocks[e_index]

    if s_off == s_block.first_free:
        s_block.first_free = find_next_zero_bit(self.pcpu_index_alloc_map(chunk, s_index), BLOCK, s_off + bit_size)

    if s_off >= s_block.contig_hint_start and s_off < s_block.contig_hint_start + s_block.contig_hint:
        pcpu_block_refresh_hint(self, chunk, s_index)
    else:
        s_block.left_free = min(s_block.left_free, s_off)
        if s_index == e_index:
            s_block.right_free = min(s_block.right_free, BLOCK - e_off)
        else:
            s_block.right_free = 0

    if s_index != e_index:
        e_block.first_free = find_next_zero_bit(self.pcpu_index_alloc_map(chunk, e_index), BLOCK, e_off)
        pcpu_block_refresh_hint(self, chunk, e_index)

    for i in range(s_index + 1, e_index):
        block = chunk.md_blocks[i]
        block.contig_hint = 0
        block.left_free = 0
        block.right_free = 0

    md = chunk.chunk_md
    if bit_off >= md.contig_hint_start and bit_off < md.contig_hint_start + md.contig_hint:
        update_chunk = True

    return update_chunk


def pcpu_block_update_hint_free(self: Any, chunk: Any, bit_off: int, bit_size: int) -> bool:
    """PATCH 09: pcpu_block_update_hint_free(); True when the chunk hint needs a rescan."""
    BLOCK = self.PCPU_BITMAP_BLOCK_BITS
    update_chunk = False

    s_index = bit_off // BLOCK
    e_index = (bit_off + bit_size) // BLOCK
    s_off = bit_off & (BLOCK - 1)
    e_off = (bit_off + bit_size) & (BLOCK - 1)

    if e_off == 0:
        e_off = BLOCK
        e_index -= 1

    s_block = chunk.md_blocks[s_index]
    e_block = chunk.md_blocks[e_index]

    # extend the freed run to its neighbours, via the contig hints when they touch
    start = s_off
    if s_off == s_block.contig_hint + s_block.contig_hint_start:
        start = s_block.contig_hint_start
    else:
        l_bit = find_last_bit(self.pcpu_index_alloc_map(chunk, s_index), start)
        start = 0 if (start == l_bit) else l_bit + 1

    end = e_off
    if e_off == e_block.contig_hint_start:
        end = e_block.contig_hint_start + e_block.contig_hint
    else:
        end = find_next_bit(self.pcpu_index_alloc_map(chunk, e_index), BLOCK, end)

    if s_index == e_index:
        contig = end - start

        if start == 0:
            s_block.left_free = contig

        if end == BLOCK:
            s_block.right_free = contig

        s_block.first_free = min(s_block.first_free, start)
        if contig > s_block.contig_hint:
            s_block.contig_hint = contig
            s_block.contig_hint_start = start
    else:
        # across blocks: a block freed from its start is reset with the middle ones
        if start == 0:
            s_index -= 1
        else:
            s_block.first_free = min(s_block.first_free, start)
            contig = BLOCK - start
            s_block.right_free = contig
            if contig > s_block.contig_hint:
                s_block.contig_hint = contig
                s_block.contig_hint_start = start
        if end == BLOCK:
            e_index += 1
        else:
            e_block.first_free = 0
            e_block.left_free = end
            if end > e_block.contig_hint:
                e_block.contig_hint = end
                e_block.contig_hint_start = 0

        for i in range(s_index + 1, e_index):
            block = chunk.md_blocks[i]
            block.first_free = 0
            block.contig_hint_start = 0
            block.contig_hint = BLOCK
            block.left_free = BLOCK
            block.right_free = BLOCK

    md = chunk.chunk_md
    if (start == 0 and end == BLOCK) or s_index != e_index:
        update_chunk = True
    elif s_block.contig_hint > md.contig_hint:
        md.contig_hint = s_block.contig_hint
        md.contig_hint_start = s_index * BLOCK + s_block.contig_hint_start  # pcpu_block_off_to_off

    return update_chunk


# ------------------------------- the caller lines of pcpu_alloc_area()/pcpu_free_area()
def _after_alloc(self: Any, chunk: Any, bit_off: int, bits: int) -> None:
    """PATCH 09 pcpu_alloc_area(), after marking the area: block hints, chunk hint, first_free_block."""
    if pcpu_block_update_hint_alloc(self, chunk, bit_off, bits):
        pcpu_chunk_update_hint(self, chunk)

    nr_blocks = pcpu_nr_pages_to_blocks(self, chunk)
    i = getattr(chunk, "first_free_block", 0)
    while i < nr_blocks:
        if chunk.md_blocks[i].contig_hint != 0:
            break
        i += 1
    chunk.first_free_block = i


def _after_free(self: Any, chunk: Any, bit_off: int, bits: int) -> None:
    """PATCH 09 pcpu_free_area(), after clearing the area: first_free, first_free_block, hints."""
    BLOCK = self.PCPU_BITMAP_BLOCK_BITS
    index = bit_off // BLOCK
    block = chunk.md_blocks[index]
    block.first_free = min(block.first_free, bit_off % BLOCK)

    chunk.first_free_block = min(getattr(chunk, "first_free_block", 0), index)

    if pcpu_block_update_hint_free(self, chunk, bit_off, bits):
        pcpu_chunk_update_hint(self, chunk)


def _no_update_scan(self: Any, chunk: Any, bit_off: int, bits: int) -> None:
    """v1 has no pcpu_block_update_scan(): holes skipped by alignment are not recorded."""


def _chunk_refresh(self: Any, chunk: Any, full_scan: bool) -> None:
    """6.12's pcpu_chunk_refresh_hint() callers get v1's pcpu_chunk_update_hint()."""
    pcpu_chunk_update_hint(self, chunk)


REPLACES = {
    "pcpu_block_update_hint_alloc": _after_alloc,
    "pcpu_block_update_hint_free": _after_free,
    "pcpu_block_refresh_hint": pcpu_block_refresh_hint,
    "pcpu_chunk_refresh_hint": _chunk_refresh,
    "pcpu_block_update_scan": _no_update_scan,
}
