"""The lemmas: which ported function runs on which symbolic state, judged by which properties.

Each lemma builds a chunk of ``nblocks`` blocks of ``block_bits`` bits whose
alloc_map is a :class:`~properties.proofs.symbitmap.SymBitmap` and whose hint
fields are fresh symbolic integers, assumes the registry's properties named in
``pre`` on the state before the call, applies the bitmap change the kernel's
caller makes first (pcpu_alloc_area() sets the bits, pcpu_free_area() clears
them), runs the Percpu method itself and judges the properties in ``post`` on
the state after it.  The pre- and post-conditions are the functions of
properties/invariants.py, run on symbolic values (see sym.formula).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import z3

from impl.bitmap import find_next_zero_bit
from impl.internal import Geometry, pcpu_block_md, pcpu_chunk
from impl.percpu import Percpu
from properties.proofs.sym import SInt, W, lift, sint
from properties.proofs.symbitmap import Runs, SymBitmap, ones_below

BLOCK_PROPS = [
    "inv_block_contig_hint", "inv_block_contig_hint_start", "inv_block_scan_hint", "inv_block_scan_hint_disjoint",
    "inv_block_scan_hint_order", "inv_block_left_free", "inv_block_right_free", "inv_block_first_free_lower",
    "inv_block_first_free",
]
CHUNK_PROPS = [
    "inv_chunk_contig_hint_upper", "inv_chunk_contig_hint_slack", "inv_chunk_contig_hint_in_block",
    "inv_chunk_scan_hint", "inv_chunk_first_free_lower",
]
# lemma-local predicates of pcpu_find_block_fit() (the harness judges the same on a call's outcome)
FIT_PROPS = ["fit_found_if_one_exists", "fit_start_leads_to_fit"]
NO_EXCEPTION = "no_exception"


def md_fields(name: str, nr_bits: int) -> pcpu_block_md:
    md = pcpu_block_md()
    for f in ("scan_hint", "scan_hint_start", "contig_hint", "contig_hint_start", "left_free", "right_free",
              "first_free"):
        setattr(md, f, sint(f"{name}.{f}"))
    md.nr_bits = nr_bits
    return md


def md_range_list(md: pcpu_block_md) -> list[z3.BoolRef]:
    """Every hint field of ``md`` (symbolic, or a value the code assigned) in [0, nr_bits] (an int,
    or the parametric lemmas' symbolic size)."""
    n = lift(md.nr_bits)
    return [z3.And(lift(getattr(md, f)) >= 0, lift(getattr(md, f)) <= n) for f in (
        "scan_hint", "scan_hint_start", "contig_hint", "contig_hint_start", "left_free", "right_free", "first_free")]


def md_ranges(md: pcpu_block_md) -> z3.BoolRef:
    return z3.And(*md_range_list(md))


@dataclass
class State:
    """One symbolic instance: the chunk before the call, the bitmaps, the call and its assumptions."""

    chunk: pcpu_chunk
    pre_map: SymBitmap
    post_map: SymBitmap
    args: dict[str, SInt]
    assume: list[z3.BoolRef]
    call: Callable[[Percpu], Any]


Setup = Callable[[int, int], State]


@dataclass(frozen=True)
class Lemma:
    name: str
    function: str  # the Percpu method under test
    scope: str  # "block" (one block) or "chunk" (several)
    setup: Setup
    pre: list[str]
    post: list[str]
    blocks: int = 1
    runs_bound: bool = False  # the code loops over the free runs of a block: bound their number
    doc: str = ""


def fresh_chunk(block_bits: int, nblocks: int) -> tuple[pcpu_chunk, SymBitmap]:
    chunk = pcpu_chunk(0)
    chunk.nr_pages = nblocks
    pre = SymBitmap.fresh("map", block_bits * nblocks)
    chunk.md_blocks = [md_fields(f"b{i}", block_bits) for i in range(nblocks)]
    chunk.chunk_md = md_fields("chunk", block_bits * nblocks)
    return chunk, pre


def region(nbits: int, name_off: str = "bit_off", name_bits: str = "bits") -> tuple[SInt, SInt, z3.BoolRef]:
    off, bits = sint(name_off), sint(name_bits)
    return off, bits, z3.And(off.e >= 0, bits.e >= 1, off.e <= nbits, bits.e <= nbits, off.e + bits.e <= nbits)


def chunk_ranges(chunk: pcpu_chunk) -> list[z3.BoolRef]:
    return [md_ranges(md) for md in chunk.md_blocks] + [md_ranges(chunk.chunk_md)]


def _used(bm: SymBitmap, off: Any, bits: Any) -> z3.BoolRef:
    m = bm.range_mask(off, bits)
    return (bm.e & m) == m


def _free(bm: SymBitmap, off: Any, bits: Any) -> z3.BoolRef:
    return (bm.e & bm.range_mask(off, bits)) == 0


# ----------------------------------------------------------------- setups
def setup_block_update(bb: int, nb: int) -> State:
    """pcpu_block_update() folding a maximal free run of the new bitmap (the free path's use)."""
    chunk, pre = fresh_chunk(bb, nb)
    start, end = sint("start"), sint("end")
    post = pre.copy()
    post.clear_range(start, end - start)
    left_ok = z3.Or(start.e == 0, post.test_bit(start - 1).e)
    right_ok = z3.Or(end.e == bb, post.test_bit(end).e)
    assume = [start.e >= 0, start.e < end.e, end.e <= bb, left_ok, right_ok, *chunk_ranges(chunk)]
    chunk.alloc_map = post  # type: ignore[assignment]
    return State(chunk, pre, post, {"start": start, "end": end}, assume,
                 lambda p: p.pcpu_block_update(chunk.md_blocks[0], start, end))


def setup_update_scan(bb: int, nb: int) -> State:
    """pcpu_block_update_scan() offered a free hole that ends at a used bit or the block end."""
    chunk, pre = fresh_chunk(bb, nb)
    off, bits, ok = region(bb)
    right_ok = z3.Or(off.e + bits.e == bb, pre.test_bit(off + bits).e)
    assume = [ok, _free(pre, off, bits), right_ok, *chunk_ranges(chunk)]
    chunk.alloc_map = pre  # type: ignore[assignment]
    return State(chunk, pre, pre, {"bit_off": off, "bits": bits}, assume,
                 lambda p: p.pcpu_block_update_scan(chunk, off, bits))


def setup_refresh(bb: int, nb: int) -> State:
    """pcpu_block_refresh_hint() after an allocation inside the block's contig_hint."""
    chunk, pre = fresh_chunk(bb, nb)
    off, bits, ok = region(bb)
    md = chunk.md_blocks[0]
    inside = z3.And(md.contig_hint_start.e <= off.e, off.e + bits.e <= md.contig_hint_start.e + md.contig_hint.e)
    post = pre.copy()
    post.set_range(off, bits)
    assume = [ok, inside, *chunk_ranges(chunk)]
    chunk.alloc_map = post  # type: ignore[assignment]
    return State(chunk, pre, post, {"bit_off": off, "bits": bits}, assume,
                 lambda p: p.pcpu_block_refresh_hint(chunk, 0))


def _setup_area_change(bb: int, nb: int, alloc: bool) -> State:
    """The caller's bitmap change on [bit_off, bit_off + bits) (set if ``alloc``, else cleared), then its update."""
    chunk, pre = fresh_chunk(bb, nb)
    off, bits, ok = region(bb * nb)
    post = pre.copy()
    (post.set_range if alloc else post.clear_range)(off, bits)
    assume = [ok, (_free if alloc else _used)(pre, off, bits), *chunk_ranges(chunk)]
    chunk.alloc_map = post  # type: ignore[assignment]
    after = _after_alloc_area if alloc else _after_free_area
    return State(chunk, pre, post, {"bit_off": off, "bits": bits}, assume, lambda p: after(p, chunk, off, bits))


def setup_hint_alloc(bb: int, nb: int) -> State:
    """pcpu_block_update_hint_alloc() after pcpu_alloc_area() set [bit_off, bit_off + bits)."""
    return _setup_area_change(bb, nb, alloc=True)


def setup_hint_free(bb: int, nb: int) -> State:
    """pcpu_block_update_hint_free() after pcpu_free_area() cleared a live area [bit_off, bit_off + bits)."""
    return _setup_area_change(bb, nb, alloc=False)


# The caller's own chunk_md.first_free update comes between its bitmap change and the hint update
# (mm/percpu.c pcpu_alloc_area() / pcpu_free_area()); without it the chunk lemmas judge a state no
# caller leaves (a stale chunk first_free ahead of a freed run), which once gave false refutations.
def _after_alloc_area(p: Percpu, chunk: pcpu_chunk, off: SInt, bits: SInt) -> None:
    if off == chunk.chunk_md.first_free:
        chunk.chunk_md.first_free = find_next_zero_bit(chunk.alloc_map, p.pcpu_chunk_map_bits(chunk), off + bits)  # type: ignore[arg-type]
    p.pcpu_block_update_hint_alloc(chunk, off, bits)


def _after_free_area(p: Percpu, chunk: pcpu_chunk, off: SInt, bits: SInt) -> None:
    chunk.chunk_md.first_free = min(chunk.chunk_md.first_free, off)
    p.pcpu_block_update_hint_free(chunk, off, bits)


def setup_chunk_refresh(bb: int, nb: int) -> State:
    """pcpu_chunk_refresh_hint(full_scan=True) over blocks whose hints are sound."""
    chunk, pre = fresh_chunk(bb, nb)
    chunk.alloc_map = pre  # type: ignore[assignment]
    return State(chunk, pre, pre, {}, [*chunk_ranges(chunk)], lambda p: p.pcpu_chunk_refresh_hint(chunk, True))


def setup_find_block_fit(bb: int, nb: int) -> State:
    """pcpu_find_block_fit(pop_only=False) for a request of alloc_bits at an alignment of align bits."""
    chunk, pre = fresh_chunk(bb, nb)
    alloc_bits, align = sint("alloc_bits"), sint("align")
    pow2 = z3.Or(*[align.e == (1 << j) for j in range(bb.bit_length()) if (1 << j) <= bb])
    assume = [alloc_bits.e >= 1, alloc_bits.e <= bb, pow2, *chunk_ranges(chunk)]
    chunk.alloc_map = pre  # type: ignore[assignment]
    return State(chunk, pre, pre, {"alloc_bits": alloc_bits, "align": align}, assume,
                 lambda p: p.pcpu_find_block_fit(chunk, alloc_bits, align, False))


def scan_hint_prefix(md: pcpu_block_md, runs: Runs) -> z3.BoolRef:
    """Lemma-local precondition: no free run longer than scan_hint starts before the scan_hint's end.

    This is what pcpu_block_refresh_hint() and pcpu_chunk_refresh_hint() rely on when they
    promote the scan_hint and rescan only after it (percpu-internal.h: the scan_hint is the
    largest known free area before contig_hint_start).  The registry has no property for it,
    so it is assumed, never proved (see README.md).
    """
    sh, ss = md.scan_hint.e, md.scan_hint_start.e
    early = runs.starts_of(SInt(sh + 1)) & ones_below(SInt(ss + sh), runs.n)
    return z3.Or(sh == 0, early == 0)


def _fit_found(st: State, ret: Any, runs: Runs, bb: int, nb: int) -> z3.BoolRef:
    """-1 only if no block holds a free run with room for alloc_bits after any alignment padding.

    A run of alloc_bits + align - 1 bits holds an aligned fit wherever it starts; shorter runs
    may be passed over (the hints keep one start per size), and so may fits across blocks.
    """
    k, a = st.args["alloc_bits"], st.args["align"]
    need = SInt(k.e + a.e - 1)
    any_fit = z3.Or(*[runs.fit(need, 1, i * bb, (i + 1) * bb) for i in range(nb)])
    # a free run across a block edge lets the chunk hint lag by up to a block (inv_chunk_contig_hint_slack):
    # the fit is owed only when no free run crosses a block edge
    walls = [z3.Or(runs.bit_used(j * bb - 1), runs.bit_used(j * bb)) for j in range(1, nb)]
    any_fit = z3.And(any_fit, *walls)
    return z3.Implies(any_fit, SInt(_lift_ret(ret)).e != -1)


def _fit_leads(st: State, ret: Any, runs: Runs, bb: int, nb: int) -> z3.BoolRef:
    """A returned start has an aligned fit before start + alloc_bits + block bits (pcpu_alloc_area()'s window)."""
    k, a = st.args["alloc_bits"], st.args["align"]
    r = _lift_ret(ret)
    end = z3.If(r + k.e + bb < bb * nb, r + k.e + bb, z3.BitVecVal(bb * nb, W))
    return z3.Implies(r >= 0, runs.fit(k, a, SInt(r), SInt(end)))


def _lift_ret(ret: Any) -> z3.BitVecRef:
    return ret.e if isinstance(ret, SInt) else z3.BitVecVal(int(ret), W)


FIT_CHECKS = {"fit_found_if_one_exists": _fit_found, "fit_start_leads_to_fit": _fit_leads}

ALL_BLOCK_PRE = BLOCK_PROPS
# left_free and first_free are the caller's (pcpu_block_update_hint_alloc()) to update, not the rescan's
REFRESH_POST = [p for p in BLOCK_PROPS if p not in ("inv_block_left_free", "inv_block_first_free")]
ALL_PRE = BLOCK_PROPS + CHUNK_PROPS

LEMMAS: dict[str, Lemma] = {
    lm.name: lm
    for lm in (
        Lemma("block_update", "pcpu_block_update", "block", setup_block_update, ALL_BLOCK_PRE, BLOCK_PROPS,
              doc="folding a maximal free run of the new bitmap keeps every block hint property"),
        Lemma("block_update_scan", "pcpu_block_update_scan", "block", setup_update_scan, ALL_BLOCK_PRE,
              BLOCK_PROPS, doc="offering a skipped hole keeps every block hint property"),
        Lemma("block_refresh_hint", "pcpu_block_refresh_hint", "block", setup_refresh, ALL_BLOCK_PRE,
              REFRESH_POST, runs_bound=True,
              doc="the rescan after an allocation inside contig_hint restores the hints it owns"),
        Lemma("block_hint_alloc", "pcpu_block_update_hint_alloc", "block", setup_hint_alloc, ALL_BLOCK_PRE,
              BLOCK_PROPS, runs_bound=True, doc="an allocation inside one block keeps the block hint properties"),
        Lemma("block_hint_free", "pcpu_block_update_hint_free", "block", setup_hint_free, ALL_BLOCK_PRE,
              BLOCK_PROPS, doc="a free inside one block keeps the block hint properties"),
        Lemma("block_find_fit", "pcpu_find_block_fit", "block", setup_find_block_fit, ALL_PRE, FIT_PROPS,
              doc="the fit search finds a fit when one exists, and only returns useful starts"),
        Lemma("chunk_refresh_hint", "pcpu_chunk_refresh_hint", "chunk", setup_chunk_refresh,
              ["inv_chunk_first_free_lower", "inv_chunk_scan_hint", *BLOCK_PROPS], CHUNK_PROPS, blocks=2,
              doc="rebuilding chunk_md from sound block hints gives sound chunk hints"),
        Lemma("chunk_hint_alloc", "pcpu_block_update_hint_alloc", "chunk", setup_hint_alloc, ALL_PRE,
              BLOCK_PROPS + CHUNK_PROPS, blocks=2, runs_bound=True,
              doc="an allocation anywhere in the chunk (across blocks) keeps every hint property"),
        Lemma("chunk_hint_free", "pcpu_block_update_hint_free", "chunk", setup_hint_free, ALL_PRE,
              BLOCK_PROPS + CHUNK_PROPS, blocks=2,
              doc="a free anywhere in the chunk (across blocks) keeps every hint property"),
        Lemma("chunk_find_fit", "pcpu_find_block_fit", "chunk", setup_find_block_fit, ALL_PRE, FIT_PROPS,
              blocks=2, doc="across blocks: the fit search finds single-block fits and returns useful starts"),
    )
}


def percpu_for(block_bits: int) -> Percpu:
    """A bare Percpu whose PCPU_BITMAP_BLOCK_BITS is ``block_bits`` (no boot: the hint code needs none)."""
    return Percpu(Geometry(page_size=4 * block_bits), [0])
