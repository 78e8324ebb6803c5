"""The parametric (every block size) lemmas: which ported function runs on which abstract state.

The counterparts of lemmas.py's setups for parametric.py: the bitmap is an
AbsBitmap of symbolic size, the block size n is symbolic, and the caller's
bitmap change is an AbsBitmap derived from the one before.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import z3

from impl.internal import pcpu_block_md, pcpu_chunk
from impl.percpu import Percpu
from properties.proofs.absbitmap import AbsBitmap, AbsTruth, Terms
from properties.proofs.abstractions import aligned, names_in
from properties.proofs.lemmas import (
    BLOCK_PROPS,
    CHUNK_PROPS,
    FIT_PROPS,
    REFRESH_POST,
    _after_alloc_area,
    _after_free_area,
    md_fields,
    md_range_list,
)
from properties.proofs.sym import SInt, lift, num, var

N_MAX = 1 << 20  # every block size up to 2**20 bits (kernel blocks are at most 16384)
NOT_PROVED = "NOT PROVED"
ALL_SIZES = f"1..{N_MAX}"
POW2_SIZES = f"2^k<={N_MAX}"


def block_bits_ok(bb: int | None) -> bool:
    """A --block-bits argument: absent (every size), or a power of two up to N_MAX."""
    return bb is None or (1 <= bb <= N_MAX and bb & (bb - 1) == 0)


@dataclass
class Instance:
    """One symbolic call: the chunk before it, the bitmaps, the call and its assumptions."""

    chunk: pcpu_chunk
    pre: AbsBitmap
    post: AbsBitmap
    assume: list[z3.BoolRef]
    call: Callable[[Percpu, pcpu_chunk], Any]
    # lemma-local post-conditions on the call's return value (the fit lemmas), by property name,
    # given the pre-state's block truths (those the preconditions speak of) and the path's ALIGN
    # results with the values they aligned (abstractions.ALIGNED)
    judge: Callable[[str, Any, list[AbsTruth], list[tuple[Any, Any]]], z3.BoolRef] | None = None


@dataclass(frozen=True)
class ParamLemma:
    name: str  # the bounded lemma (lemmas.LEMMAS) this one lifts to every size
    function: str
    setup: Callable[[z3.ArithRef, Terms], Instance]
    sizes: str  # ALL_SIZES, or POW2_SIZES where the code splits offsets by the block size
    post: tuple[str, ...] = tuple(BLOCK_PROPS)
    runs_bound: bool = False  # the code loops over the free runs: bound their number (runs_per_block)
    pre: tuple[str, ...] = tuple(BLOCK_PROPS)
    blocks: int = 1  # > 1: a chunk-scope lemma over that many blocks of n bits each
    # the path checks assume the preconditions too: fewer paths, each check costlier.  Without them
    # more paths are explored (never fewer: sound), those the preconditions rule out fall in the queries
    explore_pre: bool = True


def _chunk(n: z3.ArithRef, terms: Terms, alloc_map: AbsBitmap, nb: int = 1, chunk_md: bool = False) -> pcpu_chunk:
    """A chunk of ``nb`` blocks of n bits over ``alloc_map``; its hint points seed the instantiation set.

    ``chunk_md``: its hints are symbolic (chunk lemmas, and the fit search that reads them);
    otherwise concrete zeros, which fork no paths (block lemmas ignore chunk_md).
    """
    chunk = pcpu_chunk(0)
    chunk.nr_pages = nb
    chunk.md_blocks = []
    for i in range(nb):
        md = md_fields(f"b{i}", 0)
        md.nr_bits = SInt(n)
        chunk.md_blocks.append(md)
        _seed(terms, md, i * n, n)
    chunk.chunk_md = md_fields("chunk", 0) if chunk_md else pcpu_block_md()
    chunk.chunk_md.nr_bits = SInt(nb * n)
    if chunk_md:
        _seed(terms, chunk.chunk_md, num(0), nb * n)
    chunk.alloc_map = alloc_map  # type: ignore[assignment]
    terms.add(num(0))
    return chunk


def _seed(terms: Terms, md: pcpu_block_md, lo: Any, n: Any) -> None:
    """The points the code and the properties reason about, as chunk positions."""
    for f, g in (("scan_hint_start", "scan_hint"), ("contig_hint_start", "contig_hint")):
        a, k = getattr(md, f).e, getattr(md, g).e
        for t in (a, a + k, a - 1):
            terms.add(lo + t)
    for t in (lo + n, lo + md.first_free.e, lo + md.left_free.e, lo + n - md.right_free.e):
        terms.add(t)


def _region(n: z3.ArithRef, terms: Terms, a: str, b: str, nb: int = 1
            ) -> tuple[z3.ArithRef, z3.ArithRef, list[z3.BoolRef]]:
    """Two fresh positions a < b inside [0, nb n], with their neighbours in the instantiation set."""
    s, e = var(a), var(b)
    for t in (s, e, s - 1, e - 1):
        terms.add(t)
    return s, e, [n >= 1, n <= N_MAX, s >= 0, s < e, e <= nb * n]


def _all_ranges(chunk: pcpu_chunk) -> list[z3.BoolRef]:
    return [r for md in (*chunk.md_blocks, chunk.chunk_md) for r in md_range_list(md)]


@dataclass
class Change:
    """The caller's bitmap change on [s, e) of a chunk of nb blocks (``op`` "free" or "alloc")."""

    chunk: pcpu_chunk
    pre: AbsBitmap
    post: AbsBitmap
    s: z3.ArithRef
    e: z3.ArithRef
    assume: list[z3.BoolRef]  # s, e and n in range, every symbolic hint in range

    @staticmethod
    def of(n: z3.ArithRef, terms: Terms, op: str, names: tuple[str, str] = ("bit_off", "area_end"),
           nb: int = 1) -> Change:
        s, e, inside = _region(n, terms, *names, nb)
        size = n if nb == 1 else nb * n
        pre = AbsBitmap("map", size, terms)
        post = AbsBitmap("post", size, terms, base=pre, changed=(s, e), op=op)
        chunk = _chunk(n, terms, post, nb, chunk_md=nb > 1)
        ranges = _all_ranges(chunk) if nb > 1 else md_range_list(chunk.md_blocks[0])
        return Change(chunk, pre, post, s, e, [*inside, *ranges])

    def instance(self, extra: list[z3.BoolRef], call: Callable[[Percpu, pcpu_chunk, SInt, SInt], Any]) -> Instance:
        """The Instance calling ``call(percpu, chunk, s, e - s)``, with ``extra`` assumed too."""
        s, e = self.s, self.e
        return Instance(self.chunk, self.pre, self.post, [*self.assume, *extra],
                        lambda p, c: call(p, c, SInt(s), SInt(e - s)))


def setup_block_update(n: z3.ArithRef, terms: Terms) -> Instance:
    """pcpu_block_update(block, start, end) with [start, end) a maximal free run of the new bitmap."""
    ch = Change.of(n, terms, "free", ("start", "end"))
    s, e, post = ch.s, ch.e, ch.post
    maximal = [z3.Or(s == 0, post.used(s - 1)), z3.Or(e == n, post.used(e))]
    return Instance(ch.chunk, ch.pre, post, [*ch.assume, *maximal],
                    lambda p, c: p.pcpu_block_update(c.md_blocks[0], SInt(s), SInt(e)))


def setup_update_scan(n: z3.ArithRef, terms: Terms) -> Instance:
    """pcpu_block_update_scan() offered a free hole that ends at a used bit or the block end."""
    off, end, inside = _region(n, terms, "bit_off", "hole_end")
    pre = AbsBitmap("map", n, terms)
    chunk = _chunk(n, terms, pre)
    assume = [*inside, *md_range_list(chunk.md_blocks[0]), pre.free(off, end - off), z3.Or(end == n, pre.used(end))]
    return Instance(chunk, pre, pre, assume,
                    lambda p, c: p.pcpu_block_update_scan(c, SInt(off), SInt(end - off)))


def setup_hint_free(n: z3.ArithRef, terms: Terms) -> Instance:
    """pcpu_block_update_hint_free() after pcpu_free_area() cleared a live area [bit_off, bit_off + bits)."""
    ch = Change.of(n, terms, "free")
    return ch.instance([ch.pre.all_used(ch.s, ch.e - ch.s)],
                       lambda p, c, off, bits: p.pcpu_block_update_hint_free(c, off, bits))


def setup_refresh(n: z3.ArithRef, terms: Terms) -> Instance:
    """pcpu_block_refresh_hint() after an allocation inside the block's contig_hint."""
    ch = Change.of(n, terms, "alloc")
    md = ch.chunk.md_blocks[0]
    within = z3.And(md.contig_hint_start.e <= ch.s, ch.e <= md.contig_hint_start.e + md.contig_hint.e)
    return ch.instance([within], lambda p, c, off, bits: p.pcpu_block_refresh_hint(c, 0))


def setup_hint_alloc(n: z3.ArithRef, terms: Terms) -> Instance:
    """pcpu_block_update_hint_alloc() after pcpu_alloc_area() set a free [bit_off, bit_off + bits)."""
    ch = Change.of(n, terms, "alloc")
    return ch.instance([ch.pre.free(ch.s, ch.e - ch.s)],
                       lambda p, c, off, bits: p.pcpu_block_update_hint_alloc(c, off, bits))


def setup_find_block_fit(n: z3.ArithRef, terms: Terms, nb: int = 1) -> Instance:
    """pcpu_find_block_fit(pop_only=False) for alloc_bits at an alignment of align bits, on nb blocks.

    The alignment is block-relative (the ALIGN the search computes on block offsets): a chunk
    offset i n + c is as aligned as c, since align divides the block size (both powers of two,
    align <= PAGE_SIZE in bytes), which the every-size proofs need not know.
    """
    k, a = var("alloc_bits"), var("align")
    terms.add(k)
    pre = AbsBitmap("map", nb * n, terms)
    chunk = _chunk(n, terms, pre, nb, chunk_md=True)
    assume = [n >= 1, n <= N_MAX, k >= 1, k <= n, a >= 1, a <= n, *_all_ranges(chunk)]
    # a free run across a block edge lets the chunk hint lag (inv_chunk_contig_hint_slack), as in
    # lemmas._fit_found: a fit is owed only when no free run crosses a block edge
    walls = [z3.Or(pre.used(j * n - 1), pre.used(j * n)) for j in range(1, nb)]

    def judge(prop: str, ret: Any, blocks: list[AbsTruth], found: list[tuple[Any, Any]]) -> z3.BoolRef:
        r = lift(ret)
        if prop == "fit_found_if_one_exists":
            # a run of alloc_bits + align - 1 bits holds an aligned fit wherever it starts
            room = z3.Or(*[t.largest.e >= k + a - 1 for t in blocks])
            return z3.Implies(z3.And(room, *walls), r != -1)
        # fit_start_leads_to_fit: an aligned start at or after r with alloc_bits free bits before
        # r + alloc_bits + n (pcpu_alloc_area()'s search window, as in lemmas._fit_leads); the
        # candidates are the aligned values the search computed (a proof needs only one of them)
        fits = [z3.And(aligned(c, a), r <= p, p <= r + n, pre.free(p, k)) for c, p in candidates(found)]
        return z3.Implies(r >= 0, z3.Or(*fits)) if fits else r < 0

    def candidates(found: list[tuple[Any, Any]]) -> list[tuple[z3.ArithRef, z3.ArithRef]]:
        """Each ALIGN result with its chunk position: c aligned a hint of block i (names b{i}.*)
        at block offset c, so at i n + c; a value from chunk_md's hints is a chunk position."""
        out = []
        for c, x in found:
            owners = {i for name in names_in(x) for i in range(nb) if name.startswith(f"b{i}.")}
            out += [(c, i * n + c) for i in sorted(owners)] if owners else [(c, c)]
        return out

    return Instance(chunk, pre, pre, assume, lambda p, c: p.pcpu_find_block_fit(c, SInt(k), SInt(a), False),
                    judge=judge)


def setup_chunk_find_fit(n: z3.ArithRef, terms: Terms, nb: int = 2) -> Instance:
    """pcpu_find_block_fit(pop_only=False) across a chunk of nb blocks."""
    return setup_find_block_fit(n, terms, nb)


def setup_chunk_hint_free(n: z3.ArithRef, terms: Terms, nb: int = 2) -> Instance:
    """pcpu_free_area()'s chunk first_free update and pcpu_block_update_hint_free(), anywhere in the chunk."""
    ch = Change.of(n, terms, "free", nb=nb)
    return ch.instance([ch.pre.all_used(ch.s, ch.e - ch.s)], _after_free_area)


def setup_chunk_hint_alloc(n: z3.ArithRef, terms: Terms, nb: int = 2) -> Instance:
    """pcpu_alloc_area()'s chunk first_free update and pcpu_block_update_hint_alloc(), anywhere in the chunk."""
    ch = Change.of(n, terms, "alloc", nb=nb)
    return ch.instance([ch.pre.free(ch.s, ch.e - ch.s)], _after_alloc_area)


def setup_chunk_refresh(n: z3.ArithRef, terms: Terms, nb: int = 2) -> Instance:
    """pcpu_chunk_refresh_hint(full_scan=True) over blocks whose hints are sound."""
    terms.add(n)
    pre = AbsBitmap("map", nb * n, terms)
    chunk = _chunk(n, terms, pre, nb, chunk_md=True)
    return Instance(chunk, pre, pre, [n >= 1, n <= N_MAX, *_all_ranges(chunk)],
                    lambda p, c: p.pcpu_chunk_refresh_hint(c, True))


PARAM_LEMMAS: dict[str, ParamLemma] = {
    lm.name: lm
    for lm in (
        ParamLemma("block_update", "pcpu_block_update", setup_block_update, ALL_SIZES),
        ParamLemma("block_update_scan", "pcpu_block_update_scan", setup_update_scan, POW2_SIZES),
        ParamLemma("block_hint_free", "pcpu_block_update_hint_free", setup_hint_free, POW2_SIZES),
        ParamLemma("block_refresh_hint", "pcpu_block_refresh_hint", setup_refresh, POW2_SIZES,
                   post=tuple(REFRESH_POST), runs_bound=True),
        ParamLemma("block_hint_alloc", "pcpu_block_update_hint_alloc", setup_hint_alloc, POW2_SIZES,
                   runs_bound=True),
        ParamLemma("block_find_fit", "pcpu_find_block_fit", setup_find_block_fit, POW2_SIZES,
                   post=tuple(FIT_PROPS), pre=tuple(BLOCK_PROPS + CHUNK_PROPS)),
        ParamLemma("chunk_hint_free", "pcpu_block_update_hint_free", setup_chunk_hint_free, POW2_SIZES,
                   post=tuple(BLOCK_PROPS + CHUNK_PROPS), pre=tuple(BLOCK_PROPS + CHUNK_PROPS), blocks=2),
        ParamLemma("chunk_refresh_hint", "pcpu_chunk_refresh_hint", setup_chunk_refresh, POW2_SIZES,
                   post=tuple(CHUNK_PROPS), pre=("inv_chunk_first_free_lower", "inv_chunk_scan_hint", *BLOCK_PROPS),
                   # measured with pcpu_block_update unmerged: path checks with the preconditions,
                   # 1545 paths in 390M units, unfinished; without, 3279 paths in 134M
                   blocks=2, explore_pre=False),
        ParamLemma("chunk_hint_alloc", "pcpu_block_update_hint_alloc", setup_chunk_hint_alloc, POW2_SIZES,
                   post=tuple(BLOCK_PROPS + CHUNK_PROPS), pre=tuple(BLOCK_PROPS + CHUNK_PROPS), blocks=2,
                   runs_bound=True),
        # post lists the costliest row first: pass 1 runs the rows last to first (parametric._prove),
        # so fit_found_if_one_exists (50M units on two blocks) leaves the rest to fit_start_leads_to_fit
        # (about 190M); the other way round, both passes of fit_start ran out of a 300 s budget
        ParamLemma("chunk_find_fit", "pcpu_find_block_fit", setup_chunk_find_fit, POW2_SIZES,
                   post=tuple(reversed(FIT_PROPS)), pre=tuple(BLOCK_PROPS + CHUNK_PROPS), blocks=2,
                   explore_pre=False),  # fit_found on 3x64 bits: with, 270 paths in 78 s; without, 304 in 23 s
    )
}


# make proofs-all-sizes runs these; make proofs-chunk runs the chunk lemmas that finish (README.md)
DEFAULT_LEMMAS = [name for name, lm in PARAM_LEMMAS.items() if lm.blocks == 1]
