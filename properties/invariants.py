"""Structural properties: every hint recomputed from the raw bitmap.

Block properties run on each ``md_blocks[i]`` and, where the statement holds
for chunk_md too, on the chunk.  Each function gets the hint record ``md``,
the :class:`~model.chunk.BlockTruth` the model computed for the same window,
and a :class:`Window` to ask the model about single runs.  It returns None
when the property holds, else ``(expected, actual, detail)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from model.chunk import BlockTruth, ModelChunk
from properties.registry import EXACT, LOWER, UPPER, prop

Result = tuple[object, object, str] | None


@dataclass(frozen=True)
class Window:
    """A block (or the whole chunk) of a model chunk: units [lo, hi)."""

    mc: ModelChunk
    lo: int
    hi: int
    block_bits: int

    def free(self, start: int, length: int) -> bool:
        return length >= 0 and self.lo + start + length <= self.hi and self.mc.is_free(self.lo + start, length)

    def maximal(self, start: int, length: int) -> bool:
        """[start, start+length) is free and bounded by used units or window edges."""
        if not self.free(start, length):
            return False
        a, b = self.lo + start, self.lo + start + length
        left_ok = a == self.lo or self.mc.used[a - 1]
        right_ok = b == self.hi or self.mc.used[b]
        return bool(left_ok and right_ok)


# ---------------------------------------------------------------- blocks
@prop(EXACT, "block")
def inv_block_contig_hint(md: Any, t: BlockTruth, w: Window) -> Result:
    """percpu-internal.h: contig_hint is the block's largest free run (exact)."""
    if md.contig_hint != t.largest:
        return t.largest, md.contig_hint, "contig_hint vs largest free run"
    return None


@prop(EXACT, "block")
def inv_block_contig_hint_start(md: Any, t: BlockTruth, w: Window) -> Result:
    """percpu-internal.h: contig_hint_start is where a free run of contig_hint bits begins."""
    if md.contig_hint and not w.maximal(md.contig_hint_start, md.contig_hint):
        return f"a maximal free run of {md.contig_hint} at {md.contig_hint_start}", "not free or not maximal", ""
    return None


@prop(UPPER, "block")
def inv_block_scan_hint(md: Any, t: BlockTruth, w: Window) -> Result:
    """percpu-internal.h: scan_hint is a known free area no larger than contig_hint."""
    if md.scan_hint and not w.free(md.scan_hint_start, md.scan_hint):
        return f"[{md.scan_hint_start}, +{md.scan_hint}) free", "overlaps used bits", ""
    if md.scan_hint > md.contig_hint:
        return f"scan_hint <= contig_hint ({md.contig_hint})", md.scan_hint, ""
    return None


@prop(EXACT, "block")
def inv_block_scan_hint_disjoint(md: Any, t: BlockTruth, w: Window) -> Result:
    """percpu-internal.h: the scan_hint is an area other than the contig_hint (the two never overlap)."""
    if md.scan_hint and md.contig_hint:
        a, b = md.scan_hint_start, md.scan_hint_start + md.scan_hint
        x, y = md.contig_hint_start, md.contig_hint_start + md.contig_hint
        if a < y and x < b:
            return "disjoint scan and contig hints", f"scan [{a}, {b}) overlaps contig [{x}, {y})", ""
    return None


@prop(EXACT, "block")
def inv_block_scan_hint_order(md: Any, t: BlockTruth, w: Window) -> Result:
    """percpu-internal.h: scan_hint_start > contig_hint_start iff scan_hint == contig_hint."""
    if md.scan_hint:
        after = md.scan_hint_start > md.contig_hint_start
        equal = md.scan_hint == md.contig_hint
        if after != equal:
            return (
                "scan_hint_start > contig_hint_start <=> scan_hint == contig_hint",
                f"scan {md.scan_hint}@{md.scan_hint_start}, contig {md.contig_hint}@{md.contig_hint_start}",
                "",
            )
    return None


@prop(EXACT, "block")
def inv_block_left_free(md: Any, t: BlockTruth, w: Window) -> Result:
    """percpu-internal.h: left_free is the free run touching the block's left edge (exact)."""
    if md.left_free != t.left_free:
        return t.left_free, md.left_free, ""
    return None


@prop(EXACT, "block")
def inv_block_right_free(md: Any, t: BlockTruth, w: Window) -> Result:
    """percpu-internal.h: right_free is the free run touching the block's right edge (exact)."""
    if md.right_free != t.right_free:
        return t.right_free, md.right_free, ""
    return None


@prop(LOWER, "block")
def inv_block_first_free_lower(md: Any, t: BlockTruth, w: Window) -> Result:
    """percpu.c pcpu_alloc_area(): scanning from first_free must not skip a free bit (first_free <= first free bit)."""
    if md.first_free > t.first_free:
        return f"<= {t.first_free}", md.first_free, ""
    return None


@prop(EXACT, "block")
def inv_block_first_free(md: Any, t: BlockTruth, w: Window) -> Result:
    """percpu-internal.h: first_free is the block position of the first free bit (exact)."""
    if md.first_free != t.first_free:
        return t.first_free, md.first_free, ""
    return None


@prop(EXACT, "block")
def inv_block_nr_bits(md: Any, t: BlockTruth, w: Window) -> Result:
    """percpu.c pcpu_init_md_block(): nr_bits is the size of the window the record covers."""
    if md.nr_bits != w.hi - w.lo:
        return w.hi - w.lo, md.nr_bits, ""
    return None


# ----------------------------------------------------------------- chunk
@prop(UPPER, "chunk")
def inv_chunk_contig_hint_upper(md: Any, t: BlockTruth, w: Window) -> Result:
    """percpu.c pcpu_block_update_hint_free(): chunk contig_hint is never more than the available space."""
    if md.contig_hint > t.largest:
        return f"<= {t.largest}", md.contig_hint, "chunk contig_hint exceeds largest free run"
    if md.contig_hint and not w.free(md.contig_hint_start, md.contig_hint):
        return f"[{md.contig_hint_start}, +{md.contig_hint}) free", "overlaps used bits", ""
    return None


@prop(LOWER, "chunk")
def inv_chunk_contig_hint_slack(md: Any, t: BlockTruth, w: Window) -> Result:
    """percpu.c pcpu_block_update_hint_free(): chunk contig_hint may be off by up to a page, no more."""
    if t.largest - md.contig_hint > w.block_bits:
        return f">= {t.largest - w.block_bits}", md.contig_hint, f"largest free run {t.largest}"
    return None


@prop(EXACT, "chunk")
def inv_chunk_contig_hint_in_block(md: Any, t: BlockTruth, w: Window) -> Result:
    """percpu.c pcpu_block_update_hint_free(): a contig hint contained in one block is accurate."""
    bb = w.block_bits
    inside = any(s // bb == (s + t.largest - 1) // bb for s in t.largest_starts)
    if t.largest and inside and md.contig_hint != t.largest:
        return t.largest, md.contig_hint, f"largest free run(s) at {list(t.largest_starts)} lie in one block"
    return None


@prop(UPPER, "chunk")
def inv_chunk_scan_hint(md: Any, t: BlockTruth, w: Window) -> Result:
    """percpu-internal.h: the chunk's scan_hint is a known free area no larger than contig_hint."""
    return inv_block_scan_hint(md, t, w)


@prop(LOWER, "chunk")
def inv_chunk_first_free_lower(md: Any, t: BlockTruth, w: Window) -> Result:
    """percpu.c pcpu_alloc_area(): chunk first_free never lies past the first free bit."""
    return inv_block_first_free_lower(md, t, w)


@prop(EXACT, "chunk")
def inv_chunk_first_free(md: Any, t: BlockTruth, w: Window) -> Result:
    """percpu.c pcpu_alloc_area()/pcpu_free_area(): chunk first_free is the first free bit (exact)."""
    return inv_block_first_free(md, t, w)
