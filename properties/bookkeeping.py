"""Structural properties of a chunk's maps and counters, and of the slot lists.

Each function gets the port's allocator ``pcpu``, one of its chunks and the
model of that chunk, and returns None or ``(expected, actual, detail)``.
"""

from __future__ import annotations

from typing import Any

from model.chunk import ModelChunk
from properties.invariants import Result
from properties.registry import EXACT, prop

PCPU_SLOT_FAIL_THRESHOLD = 3  # mm/percpu.c


_TO_DIGITS = bytes.maketrans(b"\x00\x01", b"01")


def _bits_of(mc: ModelChunk) -> int:
    """The model's in-use flags as an int, bit i = unit i."""
    return int(bytes(mc.used[::-1]).translate(_TO_DIGITS) or b"0", 2)


@prop(EXACT, "chunk_state")
def inv_alloc_map(pcpu: Any, chunk: Any, mc: ModelChunk) -> Result:
    """percpu.c pcpu_alloc_area()/pcpu_free_area(): alloc_map marks exactly the used and hidden bits."""
    want = _bits_of(mc)
    got = chunk.alloc_map.bits
    if want != got:
        diff = want ^ got
        first = (diff & -diff).bit_length() - 1
        return f"bit {first} = {(want >> first) & 1}", (got >> first) & 1, f"{bin(diff).count('1')} bits differ"
    return None


@prop(EXACT, "chunk_state")
def inv_bound_map(pcpu: Any, chunk: Any, mc: ModelChunk) -> Result:
    """percpu.c pcpu_alloc_area(): bound_map has a bit at each live area's start and end, none inside."""
    bm = chunk.bound_map.bits
    for start, length in sorted(mc.live.items()):
        if not (bm >> start) & 1:
            return f"bound bit at {start}", 0, f"start of area [{start}, +{length})"
        if not (bm >> (start + length)) & 1:
            return f"bound bit at {start + length}", 0, f"end of area [{start}, +{length})"
        inner = (bm >> (start + 1)) & ((1 << (length - 1)) - 1)
        if inner:
            first = start + 1 + (inner & -inner).bit_length() - 1
            return "no bound bits inside the area", f"bit {first}", f"area [{start}, +{length})"
    return None


@prop(EXACT, "chunk_state")
def inv_free_bytes(pcpu: Any, chunk: Any, mc: ModelChunk) -> Result:
    """percpu-internal.h: free_bytes is the free space of the region the chunk serves."""
    want = mc.free_units() * 4
    if chunk.free_bytes != want:
        return want, chunk.free_bytes, ""
    return None


def size_slot(pcpu: Any, size_bytes: int) -> int:
    """The size slot of ``size_bytes`` (PCPU_SLOT_BASE_SHIFT 5); a whole unit is the free slot."""
    if size_bytes == pcpu.pcpu_unit_size:
        return int(pcpu.pcpu_free_slot)
    return max(size_bytes.bit_length() - 5 + 2, 1)


def slot_check(pcpu: Any, chunk: Any, want: int) -> Result:
    """A chunk sits on slot ``want``, or where a documented kernel path may leave it.

    Allowed exceptions, each from the kernel: the reserved chunk is on no
    list; isolated chunks sit on to_depopulate or sidelined; a chunk whose
    slot is below PCPU_SLOT_FAIL_THRESHOLD may have been moved to slot 0
    after a failed fit (pcpu_alloc_noprof()); reclaim moves depopulated
    chunks to the sidelined slot.
    """
    slot = pcpu.slot_of(chunk)
    if chunk is pcpu.pcpu_reserved_chunk:
        return None if slot == -1 else ("no slot", slot, "reserved chunk")
    if slot == want:
        return None
    if chunk.isolated and slot == pcpu.pcpu_to_depopulate_slot:
        return None
    if slot == pcpu.pcpu_sidelined_slot:
        return None
    if slot == 0 and want < PCPU_SLOT_FAIL_THRESHOLD:
        return None
    return want, slot, f"isolated={chunk.isolated}"


@prop(EXACT, "chunk_state")
def inv_chunk_slot(pcpu: Any, chunk: Any, mc: ModelChunk) -> Result:
    """percpu.c pcpu_chunk_relocate(): a chunk sits on the slot of its contig_hint.

    The expected slot is written from the slot rules, not by calling the
    port's pcpu_chunk_slot(), so a defect there shows.
    """
    contig_bytes = chunk.chunk_md.contig_hint * 4
    if chunk.free_bytes < 4 or contig_bytes == 0:
        return slot_check(pcpu, chunk, 0)
    return slot_check(pcpu, chunk, size_slot(pcpu, contig_bytes))


@prop(EXACT, "chunk_state")
def inv_nr_populated(pcpu: Any, chunk: Any, mc: ModelChunk) -> Result:
    """percpu-internal.h: nr_populated counts the set bits of the populated bitmap."""
    want = bin(chunk.populated.bits).count("1")
    if chunk.nr_populated != want:
        return want, chunk.nr_populated, ""
    return None


@prop(EXACT, "chunk_state")
def inv_nr_empty_pop_pages(pcpu: Any, chunk: Any, mc: ModelChunk) -> Result:
    """percpu.c pcpu_update_empty_pages(): nr_empty_pop_pages counts populated pages whose block is wholly free."""
    bb = mc.block_bits
    want = 0
    for i in range(len(mc.used) // bb):
        if chunk.populated.test_bit(i) and mc.used.find(1, i * bb, (i + 1) * bb) == -1:
            want += 1
    if chunk.nr_empty_pop_pages != want:
        return want, chunk.nr_empty_pop_pages, ""
    return None


@prop(EXACT, "system")
def inv_global_empty_pop_pages(pcpu: Any, chunks: list[Any]) -> Result:
    """percpu.c pcpu_nr_empty_pop_pages: the sum over chunks that are neither reserved nor isolated."""
    want = sum(
        c.nr_empty_pop_pages for c in chunks if c is not pcpu.pcpu_reserved_chunk and not c.isolated
    )
    if pcpu.pcpu_nr_empty_pop_pages != want:
        return want, pcpu.pcpu_nr_empty_pop_pages, ""
    return None
