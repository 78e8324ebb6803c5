"""Mutants: the port with one realistic patch-author mistake each, to show the checks bite.

Each mutant rebinds ONE method on a booted :class:`~impl.percpu.Percpu` to a
copy of the ported method (impl/*.py) with a single change, marked by a
``# MUTANT:`` comment.  A mutant is a harness ``variant``::

    Harness(cfg, MUTANTS["free_area_one_bit_short"].apply)

:func:`detect` runs seeded campaigns against a mutant until some property
outside :data:`TOLERATED` fails, shrinks the calls, and replays the shrunk
program on the faithful port; tests/test_mutants.py asserts on it and a
benchmark can print its numbers as a table.

Mutants left out on purpose:

- pcpu_chunk_relocate() always moving to slot 0: a new chunk is relocated
  from slot -1 to slot 0, which pcpu_alloc() never walks, so the first
  pcpu_alloc() creates chunks forever (tried: 94k chunks in 5 s); "never
  moving" leaves the new chunk on no list, the same loop.  The mutant below
  (never demoting) is the terminating form of the mistake.
- pcpu_block_update() with ``contig >= contig_hint`` for ``>``: only
  inv_block_scan_hint_order (a tolerated kernel finding) sees it, on every
  small config; it is equivalent under the tolerated set.
- pcpu_region_overlap(): a module-level function, not a method, so it cannot
  be rebound on one instance.
- pcpu_chunk_slot() and pcpu_size_to_slot(): inv_chunk_slot computes the
  expected slot with ``pcpu.pcpu_chunk_slot()``, the method under test, so a
  mutant there judges itself.
"""

from __future__ import annotations

import time
import tomllib
import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from impl.bitmap import (
    _ffs,
    bitmap_clear,
    bitmap_set,
    find_last_bit,
    find_next_bit,
    find_next_zero_bit,
    for_each_clear_bitrange_from,
    set_bit,
    test_bit,
)
from impl.hints import ALIGN, pcpu_region_overlap
from impl.internal import PCPU_MIN_ALLOC_SIZE, pcpu_block_md, pcpu_chunk
from impl.klist import list_first_entry_or_null, list_move_tail
from impl.vm import PCPU_EMPTY_POP_PAGES_HIGH

if TYPE_CHECKING:
    from impl.percpu import Percpu

_LEDGER = Path(__file__).resolve().parent.parent / "findings" / "ledger.toml"

# Properties the faithful port is known to violate (kernel findings), looked
# past in every mutant run.  TODO: tools/verify.py should replace this with
# the property list of findings/ledger.toml once the ledger is settled.
KNOWN_FINDINGS: frozenset[str] = frozenset(
    {
        "inv_block_first_free",
        "inv_chunk_contig_hint_in_block",
        "inv_block_right_free",
        "inv_block_scan_hint_order",
        "inv_chunk_first_free",
    }
)


def ledger_findings(path: Path = _LEDGER) -> frozenset[str]:
    """The properties findings/ledger.toml records as kernel findings (empty if absent)."""
    try:
        with open(path, "rb") as f:
            return frozenset(e["property"] for e in tomllib.load(f).get("finding", []))
    except FileNotFoundError:
        return frozenset()


# What a mutant run looks past: the known findings above and every ledger entry,
# so that only violations the faithful port does not show count as a detection.
TOLERATED: frozenset[str] = KNOWN_FINDINGS | ledger_findings()


@dataclass(frozen=True)
class Mutant:
    """One mistake in one ported function; ``apply`` is a harness variant."""

    name: str
    function: str
    description: str
    apply: Callable[[Percpu], None]


def _rebind(method: str, fn: Callable[..., Any]) -> Callable[[Percpu], None]:
    """A variant that replaces ``method`` on one booted instance by ``fn``."""

    def apply(pcpu: Percpu) -> None:
        assert hasattr(pcpu, method), method
        setattr(pcpu, method, types.MethodType(fn, pcpu))

    apply.__name__ = f"mutate_{method}"
    return apply


# ------------------------------------------------------------------ impl/hints.py
def pcpu_update_empty_pages(self: Percpu, chunk: pcpu_chunk, nr) -> None:  # type: ignore[no-untyped-def]
    chunk.nr_empty_pop_pages += nr
    if chunk is not self.pcpu_reserved_chunk and not chunk.isolated:
        self.pcpu_nr_empty_pop_pages -= nr  # MUTANT: sign error, was += nr


def pcpu_block_update(self: Percpu, block: pcpu_block_md, start, end) -> None:  # type: ignore[no-untyped-def]
    contig = end - start

    block.first_free = min(block.first_free, start)
    if start == 0:
        block.left_free = contig

    if end == block.nr_bits:
        block.left_free = contig  # MUTANT: copy-paste of the line above, was right_free

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
    s_off = self.pcpu_off_to_block_off(bit_off)
    e_off = s_off + bits

    if e_off > self.PCPU_BITMAP_BLOCK_BITS:
        return

    s_index = self.pcpu_off_to_block_index(bit_off)
    block = chunk.md_blocks[s_index]

    # look backwards for free bits skipped by alignment
    l_bit = find_last_bit(self.pcpu_index_alloc_map(chunk, s_index), s_off)
    s_off = 0 if (s_off == l_bit) else l_bit  # MUTANT: was l_bit + 1

    self.pcpu_block_update(block, s_off, e_off)


def pcpu_chunk_refresh_hint(self: Percpu, chunk: pcpu_chunk, full_scan) -> None:  # type: ignore[no-untyped-def]
    chunk_md = chunk.chunk_md

    # promote the scan_hint
    if not full_scan and chunk_md.scan_hint:
        bit_off = chunk_md.scan_hint_start + chunk_md.scan_hint
        chunk_md.contig_hint_start = chunk_md.scan_hint_start
        chunk_md.contig_hint = chunk_md.scan_hint
        chunk_md.scan_hint = 0
    else:
        bit_off = chunk_md.first_free
        # MUTANT: dropped "chunk_md.contig_hint = 0" before the rescan

    bits = 0
    # expansion of pcpu_for_each_md_free_region(chunk, bit_off, bits)
    map_bits = self.pcpu_chunk_map_bits(chunk)
    bit_off, bits = self.pcpu_next_md_free_region(chunk, bit_off, bits)
    while bit_off < map_bits:
        self.pcpu_block_update(chunk_md, bit_off, bit_off + bits)
        bit_off += bits + 1
        bit_off, bits = self.pcpu_next_md_free_region(chunk, bit_off, bits)


def pcpu_block_refresh_hint(self: Percpu, chunk: pcpu_chunk, index) -> None:  # type: ignore[no-untyped-def]
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

    # MUTANT: dropped "block.right_free = 0" before the rescan

    # fold every free run into the hints
    for start, end in for_each_clear_bitrange_from(  # noqa: B020 (as in impl/hints.py)
        start, alloc_map, self.PCPU_BITMAP_BLOCK_BITS
    ):
        self.pcpu_block_update(block, start, end)


def pcpu_block_update_hint_alloc(self: Percpu, chunk: pcpu_chunk, bit_off, bits) -> None:  # type: ignore[no-untyped-def]
    BLOCK_BITS = self.PCPU_BITMAP_BLOCK_BITS
    chunk_md = chunk.chunk_md
    nr_empty_pages = 0

    # per block offsets; e_index is the last block touched
    s_index = self.pcpu_off_to_block_index(bit_off)
    e_index = self.pcpu_off_to_block_index(bit_off + bits - 1)
    s_off = self.pcpu_off_to_block_off(bit_off)
    e_off = self.pcpu_off_to_block_off(bit_off + bits - 1)  # MUTANT: dropped the + 1

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
        # MUTANT: dropped the loop that resets the blocks in between to wholly free

    if nr_empty_pages:
        self.pcpu_update_empty_pages(chunk, nr_empty_pages)

    # rebuild the chunk hint only for block-sized or spanning runs
    if ((end - start) >= BLOCK_BITS) or s_index != e_index:
        self.pcpu_chunk_refresh_hint(chunk, True)
    else:
        self.pcpu_block_update(
            chunk.chunk_md, self.pcpu_block_off_to_off(s_index, start), end
        )


# ----------------------------------------------------------------- impl/search.py
def pcpu_next_fit_region(self: Percpu, chunk: pcpu_chunk, alloc_bits, align, bit_off, bits):  # type: ignore[no-untyped-def]
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
        bits = 0  # MUTANT: forgot the alignment padding ALIGN(start, align) - start
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
    PAGE_SIZE = self.geo.PAGE_SIZE
    start = (bit_off * PCPU_MIN_ALLOC_SIZE) // PAGE_SIZE  # PFN_DOWN
    end = ((bit_off + bits) * PCPU_MIN_ALLOC_SIZE) // PAGE_SIZE  # MUTANT: PFN_DOWN, was PFN_UP

    start = find_next_zero_bit(chunk.populated, end, start)
    if start >= end:
        return True, next_off

    end = find_next_bit(chunk.populated, end, start + 1)

    next_off = end * PAGE_SIZE // PCPU_MIN_ALLOC_SIZE
    return False, next_off


def pcpu_find_zero_area(self: Percpu, map, size, start, nr, align_mask, largest_off, largest_bits):  # type: ignore[no-untyped-def]
    while True:  # the kernel's "again:" label
        index = find_next_zero_bit(map, size, start)

        # align
        # MUTANT: dropped "index = _ALIGN_MASK(index, align_mask)"
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


# ------------------------------------------------------------------- impl/area.py
def pcpu_alloc_area(self: Percpu, chunk: pcpu_chunk, alloc_bits, align, start):  # type: ignore[no-untyped-def]
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
    if bit_off >= chunk_md.first_free:  # MUTANT: >= for ==
        chunk_md.first_free = find_next_zero_bit(
            chunk.alloc_map, self.pcpu_chunk_map_bits(chunk), bit_off + alloc_bits
        )

    self.pcpu_block_update_hint_alloc(chunk, bit_off, alloc_bits)

    self.pcpu_chunk_relocate(chunk, oslot)

    return bit_off * PCPU_MIN_ALLOC_SIZE


def pcpu_free_area(self: Percpu, chunk: pcpu_chunk, off: int) -> int:
    chunk_md = chunk.chunk_md

    self.pcpu_stats_area_dealloc(chunk)

    oslot = self.pcpu_chunk_slot(chunk)

    bit_off = off // PCPU_MIN_ALLOC_SIZE

    # the area ends at the next boundary bit
    end = find_next_bit(chunk.bound_map, self.pcpu_chunk_map_bits(chunk), bit_off + 1)
    bits = end - bit_off - 1  # MUTANT: one bit short, was end - bit_off
    bitmap_clear(chunk.alloc_map, bit_off, bits)

    freed = bits * PCPU_MIN_ALLOC_SIZE

    chunk.free_bytes += freed

    chunk_md.first_free = min(chunk_md.first_free, bit_off)

    self.pcpu_block_update_hint_free(chunk, bit_off, bits)

    self.pcpu_chunk_relocate(chunk, oslot)

    return freed


# ------------------------------------------------------------------ impl/slots.py
def pcpu_chunk_relocate(self: Percpu, chunk: pcpu_chunk, oslot: int) -> None:
    nslot = self.pcpu_chunk_slot(chunk)

    # isolated chunks stay put
    if chunk.isolated:
        return

    if oslot < nslot:  # MUTANT: < for != (moves up, never down)
        self._pcpu_chunk_move(chunk, nslot, oslot < nslot)


# ---------------------------------------------------------------- impl/balance.py
def pcpu_reclaim_populated(self: Percpu) -> None:
    BLOCK_BITS = self.PCPU_BITMAP_BLOCK_BITS  # noqa: F841 (unused once the test below is wrong)

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
            if block.contig_hint >= 0 and test_bit(i, chunk.populated):  # MUTANT: was == BLOCK_BITS
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


# ----------------------------------------------------------------------- registry
def _m(name: str, fn: Callable[..., Any], description: str) -> Mutant:
    return Mutant(name, fn.__name__, description, _rebind(fn.__name__, fn))


MUTANTS: dict[str, Mutant] = {
    m.name: m
    for m in (
        _m("hint_alloc_e_off_no_plus_one", pcpu_block_update_hint_alloc,
           "e_off computed without + 1: the end offset points at the last allocated bit"),
        _m("refresh_hint_keeps_right_free", pcpu_block_refresh_hint,
           "right_free is not reset before the block rescan"),
        _m("block_update_right_edge_sets_left_free", pcpu_block_update,
           "a run touching the right edge is stored in left_free (copy-paste slip)"),
        _m("alloc_area_first_free_ge", pcpu_alloc_area,
           "chunk first_free moved on bit_off >= first_free, not only when equal"),
        _m("next_fit_no_align", pcpu_next_fit_region,
           "the contig_hint fit test forgets the alignment padding"),
        _m("zero_area_no_align", pcpu_find_zero_area,
           "the candidate index is not aligned up"),
        _m("relocate_never_demotes", pcpu_chunk_relocate,
           "oslot < nslot instead of !=: a chunk never moves to a lower slot"),
        _m("free_area_one_bit_short", pcpu_free_area,
           "the freed size is one bit short of the next boundary"),
        _m("empty_pages_sign", pcpu_update_empty_pages,
           "the global empty page count moves the wrong way"),
        _m("reclaim_live_pages", pcpu_reclaim_populated,
           "contig_hint >= 0 instead of == BLOCK_BITS: pages with live areas are depopulated"),
        _m("hint_free_no_between_reset", pcpu_block_update_hint_free,
           "blocks between s_block and e_block are not reset to wholly free"),
        _m("chunk_refresh_keeps_contig", pcpu_chunk_refresh_hint,
           "chunk contig_hint is not reset before a rescan from first_free"),
        _m("update_scan_includes_used_bit", pcpu_block_update_scan,
           "the backward extension starts at the used bit, not after it"),
    )
}

# Mutants the harness cannot judge yet: the port raises before any property is
# checked (here: the zeroing memset of pcpu_alloc() hits an unmapped page), and
# the exception escapes Harness.pcpu_alloc() and tools.find.campaign().
CRASHING: dict[str, Mutant] = {
    m.name: m
    for m in (
        _m("is_populated_pfn_down", pcpu_is_populated,
           "the page range end is rounded down: the last page is not checked"),
    )
}


# ---------------------------------------------------------------------- detection
def detect(
    mutant_name: str,
    cfg_text: str = "small16",
    seeds: Iterable[int] = range(8),
    steps: int = 300,
    tolerated: frozenset[str] = TOLERATED,
) -> dict[str, Any]:
    """Runs seeds in order until a property outside ``tolerated`` fails on the mutant.

    Returns a dict: ``mutant``, ``function``, ``config``; ``property`` that
    caught it (None if none did), ``seed``, ``steps`` (raw calls) and
    ``shrunk`` (calls after :func:`properties.litmus.shrink`), ``calls`` (the
    shrunk program), ``where`` and ``mutant_replay`` (the first violation when
    the shrunk program is replayed on the mutant), ``faithful`` (every
    non-tolerated property the faithful port violates on the shrunk program;
    empty when it agrees), ``seeds_tried`` and ``seconds`` (wall clock).
    """
    from properties import litmus
    from tools.find import campaign

    m = MUTANTS[mutant_name]
    t0 = time.perf_counter()
    out: dict[str, Any] = {
        "mutant": m.name, "function": m.function, "config": cfg_text, "property": None,
        "seed": None, "steps": None, "shrunk": None, "calls": [], "where": None,
        "mutant_replay": None, "faithful": [], "seeds_tried": 0,
    }
    for seed in seeds:
        out["seeds_tried"] += 1
        hits = campaign(cfg_text, [seed], steps, tolerated, m.apply, verbose=False)
        if not hits:
            continue
        prop, (seed, calls) = next(iter(hits.items()))
        small = litmus.shrink(calls, cfg_text, prop, m.apply, ignore=tolerated)
        r = litmus.run(small, cfg_text, m.apply, stop_at_first=True, ignore=tolerated)
        f = litmus.run(small, cfg_text, None, ignore=tolerated)
        out.update(
            property=prop, seed=seed, steps=len(calls), shrunk=len(small), calls=small,
            where=r.first[1].line() if r.first else None,
            mutant_replay=r.first[1].prop if r.first else None,
            faithful=sorted({v.prop for v in f.harness.violations} - tolerated),
        )
        break
    out["seconds"] = round(time.perf_counter() - t0, 2)
    return out
