"""Block-size-independent proofs: the port's block hint code for every block size at once.

The bounded proofs (prove.py) give each bit of the bitmap its own variable,
so their cost grows with the block size.  Here the block size n is a
symbolic integer (1 <= n <= N_MAX), and the bitmap is an
:class:`~properties.proofs.absbitmap.AbsBitmap`, known only through its
next-used, next-free and previous-used functions.  The ported functions run
unchanged through sym.explore, with ``nr_bits`` and PCPU_BITMAP_BLOCK_BITS
the symbolic n; the pre- and post-conditions are the registry's property
functions, as in the bounded proofs.

Each query is then read as linear integer arithmetic with uninterpreted
functions (intlift.py; the port's ints are unbounded, so this is its own
semantics) and handed to Z3 with instances of the bitmap facts
(absbitmap.axioms) over every term the query applies the functions to.
Unsatisfiable means no bitmap of any size 1..N_MAX violates the property:
PROVED.  A satisfiable answer may come from a model no bitmap has (too few
instances, or an abstraction below); it is reported as NOT PROVED, never as
REFUTED: the bounded proofs (with concrete witnesses) say which rows are
refuted.

Abstractions, each an over-approximation (a proof with it is a proof without):

- ``_ffs`` (the tie-break on better-aligned starts in pcpu_block_update) is an
  uninterpreted function: the properties hold whichever start wins the tie;
- PCPU_BITMAP_BLOCK_BITS is a :class:`BlockBits`: ``x & (n - 1)``, ``x // n``
  and ``i * n`` (pcpu_off_to_block_off / _index, pcpu_index_alloc_map) have
  their true values for 0 <= x < 2 n and i in {0, 1} (a block and the one
  after it, where a search ends), and are left uninterpreted elsewhere.  ``x & (n - 1) == x`` needs n to be a
  power of two, as PCPU_BITMAP_BLOCK_BITS always is, so lemmas whose code
  uses it are claimed for power-of-two sizes only (their bounds say so).

Block-scope lemmas judge block hints only, as in the bounded proofs: the
chunk_md updates (pcpu_chunk_refresh_hint and pcpu_block_update on chunk_md)
are sliced off, and so is the caller's chunk_md.first_free update.

Measured (make proofs-all-sizes, docs/bench/proofs.txt): every provable row
of pcpu_block_update, pcpu_block_update_scan and pcpu_block_update_hint_free.
Before the integer reading, the bit-vector queries (QF_UFBV) left
contig_hint_start and right_free of pcpu_block_update undecided at 580M
units each; tried and dropped then: merged paths, one query per path,
per-property instantiation sets, two passes, Ackermann reduction with
bit-blasting, and bitwuzla.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import z3

import impl.hints
import impl.search
from impl.bitmap import _ffs
from impl.internal import pcpu_block_md, pcpu_chunk
from impl.percpu import Percpu
from properties import invariants  # noqa: F401  (registers the inv_* properties)
from properties.proofs.absbitmap import (
    AbsBitmap,
    AbsTruth,
    AbsWindow,
    FactSolver,
    Terms,
    axioms,
    close_under_pu,
    runs_at_most,
)
from properties.proofs.lemmas import BLOCK_PROPS, CHUNK_PROPS, FIT_PROPS, REFRESH_POST, md_fields, percpu_for
from properties.proofs.prove import PROVED, UNITS_PER_S, VACUOUS, Row, fresh_z3_context
from properties.proofs.sym import (
    Budget,
    PathEnd,
    PathLimit,
    Run,
    SInt,
    Unknown,
    define,
    explore,
    formula,
    integer_terms,
    lift,
    num,
    side_fact,
    sort,
    var,
)
from properties.registry import OUTCOME, PROPERTIES

N_MAX = 1 << 20  # every block size up to 2**20 bits (kernel blocks are at most 16384)
NOT_PROVED = "NOT PROVED"
ALL_SIZES = f"1..{N_MAX}"
POW2_SIZES = f"2^k<={N_MAX}"


@dataclass
class Instance:
    """One symbolic call: the chunk before it, the bitmaps, the call and its assumptions."""

    chunk: pcpu_chunk
    pre: AbsBitmap
    post: AbsBitmap
    assume: list[z3.BoolRef]
    call: Callable[[Percpu, pcpu_chunk], Any]
    # lemma-local post-conditions on the call's return value (the fit lemma), by property name
    judge: Callable[[str, Any], z3.BoolRef] | None = None
    chunk_pre: bool = False  # chunk_md is symbolic and assumed sound (the fit search reads it)


@dataclass(frozen=True)
class ParamLemma:
    name: str  # the bounded lemma (lemmas.LEMMAS) this one lifts to every size
    function: str
    setup: Callable[[z3.ArithRef, Terms], Instance]
    sizes: str  # ALL_SIZES, or POW2_SIZES where the code splits offsets by the block size
    post: tuple[str, ...] = tuple(BLOCK_PROPS)
    runs_bound: bool = False  # the code loops over the free runs: bound their number (runs_per_block)


def _chunk(n: z3.ArithRef, terms: Terms, alloc_map: AbsBitmap) -> pcpu_chunk:
    """A one-block chunk over ``alloc_map``; its hint points seed the instantiation set."""
    chunk = pcpu_chunk(0)
    chunk.nr_pages = 1
    md = md_fields("b0", 0)
    md.nr_bits = SInt(n)
    chunk.md_blocks = [md]
    chunk.chunk_md = pcpu_block_md()  # block lemmas ignore chunk_md: concrete zeros fork no paths
    chunk.chunk_md.nr_bits = SInt(n)
    chunk.alloc_map = alloc_map  # type: ignore[assignment]
    for f, g in (("scan_hint_start", "scan_hint"), ("contig_hint_start", "contig_hint")):
        a, k = getattr(md, f).e, getattr(md, g).e
        for t in (a, a + k, a - 1):
            terms.add(t)
    for t in (n, num(0), md.first_free.e, md.left_free.e, n - md.right_free.e):
        terms.add(t)
    return chunk


def _ranges(md: pcpu_block_md, n: z3.ArithRef) -> list[z3.BoolRef]:
    return [z3.And(getattr(md, f).e >= 0, getattr(md, f).e <= n) for f in (
        "scan_hint", "scan_hint_start", "contig_hint", "contig_hint_start", "left_free", "right_free", "first_free")]


def _region(n: z3.ArithRef, terms: Terms, a: str, b: str) -> tuple[z3.ArithRef, z3.ArithRef, list[z3.BoolRef]]:
    """Two fresh positions a < b inside [0, n], with their neighbours in the instantiation set."""
    s, e = var(a), var(b)
    for t in (s, e, s - 1, e - 1):
        terms.add(t)
    return s, e, [n >= 1, n <= N_MAX, s >= 0, s < e, e <= n]


def setup_block_update(n: z3.ArithRef, terms: Terms) -> Instance:
    """pcpu_block_update(block, start, end) with [start, end) a maximal free run of the new bitmap."""
    s, e, inside = _region(n, terms, "start", "end")
    pre = AbsBitmap("map", n, terms)
    post = AbsBitmap("post", n, terms, base=pre, changed=(s, e))
    chunk = _chunk(n, terms, post)
    assume = [*inside, *_ranges(chunk.md_blocks[0], n), z3.Or(s == 0, post.used(s - 1)), z3.Or(e == n, post.used(e))]
    return Instance(chunk, pre, post, assume,
                    lambda p, c: p.pcpu_block_update(c.md_blocks[0], SInt(s), SInt(e)))


def setup_update_scan(n: z3.ArithRef, terms: Terms) -> Instance:
    """pcpu_block_update_scan() offered a free hole that ends at a used bit or the block end."""
    off, end, inside = _region(n, terms, "bit_off", "hole_end")
    pre = AbsBitmap("map", n, terms)
    chunk = _chunk(n, terms, pre)
    assume = [*inside, *_ranges(chunk.md_blocks[0], n), pre.free(off, end - off), z3.Or(end == n, pre.used(end))]
    return Instance(chunk, pre, pre, assume,
                    lambda p, c: p.pcpu_block_update_scan(c, SInt(off), SInt(end - off)))


def setup_hint_free(n: z3.ArithRef, terms: Terms) -> Instance:
    """pcpu_block_update_hint_free() after pcpu_free_area() cleared a live area [bit_off, bit_off + bits)."""
    off, end, inside = _region(n, terms, "bit_off", "area_end")
    pre = AbsBitmap("map", n, terms)
    post = AbsBitmap("post", n, terms, base=pre, changed=(off, end))
    chunk = _chunk(n, terms, post)
    assume = [*inside, *_ranges(chunk.md_blocks[0], n), pre.all_used(off, end - off)]
    return Instance(chunk, pre, post, assume,
                    lambda p, c: p.pcpu_block_update_hint_free(c, SInt(off), SInt(end - off)))


def setup_refresh(n: z3.ArithRef, terms: Terms) -> Instance:
    """pcpu_block_refresh_hint() after an allocation inside the block's contig_hint."""
    off, end, inside = _region(n, terms, "bit_off", "area_end")
    pre = AbsBitmap("map", n, terms)
    post = AbsBitmap("post", n, terms, base=pre, changed=(off, end), op="alloc")
    chunk = _chunk(n, terms, post)
    md = chunk.md_blocks[0]
    within = z3.And(md.contig_hint_start.e <= off, end <= md.contig_hint_start.e + md.contig_hint.e)
    return Instance(chunk, pre, post, [*inside, *_ranges(md, n), within],
                    lambda p, c: p.pcpu_block_refresh_hint(c, 0))


def setup_hint_alloc(n: z3.ArithRef, terms: Terms) -> Instance:
    """pcpu_block_update_hint_alloc() after pcpu_alloc_area() set a free [bit_off, bit_off + bits)."""
    off, end, inside = _region(n, terms, "bit_off", "area_end")
    pre = AbsBitmap("map", n, terms)
    post = AbsBitmap("post", n, terms, base=pre, changed=(off, end), op="alloc")
    chunk = _chunk(n, terms, post)
    return Instance(chunk, pre, post, [*inside, *_ranges(chunk.md_blocks[0], n), pre.free(off, end - off)],
                    lambda p, c: p.pcpu_block_update_hint_alloc(c, SInt(off), SInt(end - off)))


def setup_find_block_fit(n: z3.ArithRef, terms: Terms) -> Instance:
    """pcpu_find_block_fit(pop_only=False) for alloc_bits at an alignment of align bits, on one block."""
    k, a = var("alloc_bits"), var("align")
    terms.add(k)
    pre = AbsBitmap("map", n, terms)
    chunk = _chunk(n, terms, pre)
    chunk.chunk_md = md_fields("chunk", 0)
    chunk.chunk_md.nr_bits = SInt(n)
    md, cmd = chunk.md_blocks[0], chunk.chunk_md
    assume = [n >= 1, n <= N_MAX, k >= 1, k <= n, a >= 1, a <= n, *_ranges(md, n), *_ranges(cmd, n)]
    t = AbsTruth(pre, "fit")  # the pre-state's truth (the search changes no bitmap)
    assume.append(t.defs)

    def judge(prop: str, ret: Any) -> z3.BoolRef:
        r = lift(ret)
        if prop == "fit_found_if_one_exists":
            # a run of alloc_bits + align - 1 bits holds an aligned fit wherever it starts
            return z3.Implies(t.largest.e >= k + a - 1, r != -1)
        # fit_start_leads_to_fit: some aligned start in [r, n - k] has alloc_bits free bits; the
        # candidates are the aligned values the search computed (a proof needs only one of them)
        fits = [z3.And(aligned(c, a), r <= c, pre.free(c, k)) for c in ALIGNED.values()]
        return z3.Implies(r >= 0, z3.Or(*fits)) if fits else r < 0

    return Instance(chunk, pre, pre, assume, lambda p, c: p.pcpu_find_block_fit(c, SInt(k), SInt(a), False),
                    judge=judge, chunk_pre=True)


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
                   post=tuple(FIT_PROPS)),
    )
}


def holds(prop: str, md: pcpu_block_md, t: AbsTruth, w: AbsWindow) -> z3.BoolRef:
    return formula(functools.partial(PROPERTIES[prop].fn, md, t, w))


def scan_prefix(md: pcpu_block_md, t: AbsTruth, args: list[z3.ArithRef]) -> z3.BoolRef:
    """Instances of the bounded lemmas' scan_hint precondition: no stretch before the scan_hint's end beats it."""
    sh, ss = md.scan_hint.e, md.scan_hint_start.e
    return z3.Or(sh == 0, z3.And(*[z3.Implies(z3.And(p >= 0, p < ss + sh), t.bm.nu(p) - p <= sh) for p in args]))


@contextlib.contextmanager
def abstract_primitives() -> Iterator[None]:
    """While proving, ``_ffs`` and ``ALIGN`` on symbolic values are uninterpreted (see the module doc).

    ALIGN(x, a) is a named value r with x <= r <= x + a - 1 and aligned(r, a), facts of the
    real ALIGN for every power-of-two a, added to the path (sym.side_fact).
    """

    def ffs(word: Any) -> Any:
        if isinstance(word, SInt):
            return SInt(z3.Function("ffs", sort(), sort())(lift(word)))
        return _ffs(word)

    def align(x: Any, a: Any) -> Any:
        if not isinstance(x, SInt) and not isinstance(a, SInt):
            return saved_align(x, a)
        xe, ae = lift(x), lift(a)
        r = define(z3.Function("ALIGN", sort(), sort(), sort())(xe, ae), "align")
        ALIGNED.setdefault(r.get_id(), r)
        side_fact(z3.Implies(ae >= 1, z3.And(xe <= r, r <= xe + ae - 1, aligned(r, ae))))
        return SInt(r)

    saved_ffs, saved_align = impl.hints._ffs, impl.hints.ALIGN
    impl.hints._ffs = ffs  # type: ignore[assignment]
    impl.hints.ALIGN = impl.search.ALIGN = align
    try:
        yield
    finally:
        impl.hints._ffs = saved_ffs
        impl.hints.ALIGN = impl.search.ALIGN = saved_align


ALIGNED: dict[int, z3.ArithRef] = {}  # every ALIGN result of the current proof (the fit lemma's candidates)


def aligned(r: Any, a: Any) -> z3.BoolRef:
    """r is a multiple of a (uninterpreted: only ALIGN's results are known to be)."""
    return z3.Function("aligned", sort(), sort(), z3.BoolSort())(lift(r), lift(a))


class BlockBits(SInt):
    """The symbolic block size n as PCPU_BITMAP_BLOCK_BITS: the arithmetic the port does on it, without bit operations.

    Being a subclass of SInt, its reflected operators run first in ``x // n``,
    ``x * n`` and ``x & (n - 1)`` (``n - 1`` is a :class:`BlockMask`).
    """

    __slots__ = ()

    def _uf(self, name: str, *xs: Any) -> z3.ArithRef:
        return z3.Function(name, *([sort()] * (len(xs) + 1)))(*[lift(x) for x in xs])

    def _block(self, x: Any, i: int) -> z3.BoolRef:
        return z3.And(lift(x) >= i * self.e, lift(x) < (i + 1) * self.e)

    def __rfloordiv__(self, x: Any) -> SInt:
        return SInt(z3.If(self._block(x, 0), num(0), z3.If(self._block(x, 1), num(1), self._uf("div_n", x))))

    def __rmul__(self, i: Any) -> SInt:
        return SInt(z3.If(lift(i) == 0, num(0), z3.If(lift(i) == 1, self.e, self._uf("mul_n", i))))

    __mul__ = __rmul__

    def __sub__(self, o: Any) -> SInt:
        return BlockMask(self.e - 1) if isinstance(o, int) and o == 1 else SInt(self.e - lift(o))


class BlockMask(SInt):
    """n - 1 for the symbolic block size n; ``x & (n - 1)`` is x on block offsets (n a power of two)."""

    __slots__ = ()

    def __rand__(self, x: Any) -> SInt:
        x_, n = lift(x), self.e + 1
        off = z3.Function("mod_n", sort(), sort())(x_)
        return SInt(z3.If(z3.And(x_ >= 0, x_ < n), x_, z3.If(z3.And(x_ >= n, x_ < 2 * n), x_ - n, off)))


def block_scope(pcpu: Percpu, current: list[pcpu_chunk]) -> None:
    """Slices off the chunk_md updates (as prove.slice_chunk_md): block lemmas judge block hints only."""
    update = pcpu.pcpu_block_update

    def block_update_blocks_only(block: Any, start: Any, end: Any) -> None:
        if block is not current[0].chunk_md:
            update(block, start, end)

    pcpu.pcpu_chunk_refresh_hint = lambda chunk, full_scan: None  # type: ignore[method-assign]
    pcpu.pcpu_block_update = block_update_blocks_only  # type: ignore[method-assign]


def _twin(chunk: pcpu_chunk) -> pcpu_chunk:
    """A copy whose hint blocks are the path's own (every path of the exploration updates its copy)."""
    twin = copy.copy(chunk)
    twin.md_blocks = [copy.copy(md) for md in chunk.md_blocks]
    twin.chunk_md = copy.copy(chunk.chunk_md)
    return twin


def prove_param(name: str, budget_s: float = 300.0, variant: Any = None, props: list[str] | None = None,
                verbose: bool = False, runs: int = 1) -> list[Row]:
    """Judges block properties (default all) of one lemma for every block size in its range; one Row each.

    First the assumptions alone are checked (VACUOUS if unsatisfiable), then each property is
    one query (two passes: a fair share of what is left, then the remainder for the undecided).
    """
    fresh_z3_context()
    ALIGNED.clear()
    with integer_terms(), abstract_primitives():
        lm = PARAM_LEMMAS[name]
        return _prove(lm, budget_s, variant, [p for p in (props or lm.post) if p in lm.post], verbose, runs)


def _prove(lm: ParamLemma, budget_s: float, variant: Any, todo: list[str], verbose: bool, runs: int) -> list[Row]:
    t0 = time.perf_counter()
    budget = Budget(max(1, int(budget_s * UNITS_PER_S)))
    pcpu = percpu_for(8)
    if variant is not None:
        variant(pcpu)
    terms = Terms()
    n = var("n")
    inst = lm.setup(n, terms)
    pcpu.PCPU_BITMAP_BLOCK_BITS = BlockBits(n)  # type: ignore[assignment]
    # the chunk geometry helpers of percpu-internal.h, for a one-block chunk of n bits
    pcpu.pcpu_chunk_map_bits = lambda chunk: SInt(n)  # type: ignore[method-assign,assignment,return-value]
    pcpu.pcpu_chunk_nr_blocks = lambda chunk: 1  # type: ignore[method-assign]
    current = [inst.chunk]
    block_scope(pcpu, current)
    pre_t, pre_w = AbsTruth(inst.pre, "pre"), AbsWindow(inst.pre)
    pre_w.block_bits = pcpu.PCPU_BITMAP_BLOCK_BITS  # type: ignore[assignment]
    md0 = inst.chunk.md_blocks[0]
    pre_fs = [holds(p, md0, pre_t, pre_w) for p in BLOCK_PROPS]
    if inst.chunk_pre:  # one block: the chunk's bitmap is the block's
        pre_fs += [holds(p, inst.chunk.chunk_md, pre_t, pre_w) for p in CHUNK_PROPS]
    if lm.runs_bound:
        inst.assume.append(runs_at_most(inst.post, runs))
    # a loop over free runs needs the bitmap facts to be seen to end (the derived bitmap's follow
    # from the base's); elsewhere they only slow the path checks down (block_hint_free: 125 s, not 38 s)
    explorer: Any = FactSolver([inst.pre], terms) if lm.runs_bound else z3.SolverFor("QF_UFLIA")
    explorer.add(*inst.assume, *pre_fs, pre_t.defs)
    ends: list[tuple[z3.BoolRef, tuple[pcpu_block_md, Any]]] = []

    def run() -> tuple[pcpu_block_md, Any]:
        current[0] = _twin(inst.chunk)
        ret = inst.call(pcpu, current[0])
        return current[0].md_blocks[0], ret

    def on_path(end: PathEnd, run_: Run) -> None:
        if end.error is not None:
            raise PathLimit(f"{lm.function} raised {end.error!r}")
        ends.append((z3.And(*end.conds) if end.conds else z3.BoolVal(True), end.value))

    complete, why = True, ""
    if budget.check(explorer) == z3.unsat:  # vacuous before any path: report it as such below
        complete, why = False, "assumptions unsatisfiable"
    try:
        if complete:
            explore(explorer, run, on_path, budget=Budget(int(0.5 * budget.units), parent=budget))
    except (Unknown, PathLimit) as e:
        complete, why = False, str(e)
    explored_units = budget.used
    post_t, post_w = AbsTruth(inst.post, "post"), AbsWindow(inst.post)
    def post_holds(p: str, md: pcpu_block_md, ret: Any) -> z3.BoolRef:
        return inst.judge(p, ret) if inst.judge is not None else holds(p, md, post_t, post_w)

    bads = {p: z3.Or(*[z3.And(pc, z3.Not(post_holds(p, md, ret))) for pc, (md, ret) in ends]) for p in todo}
    for bm in (inst.post, inst.pre):  # post first: its pu is defined by pre's
        close_under_pu(bm)
    args = list(terms.args.values())
    facts = [*axioms(inst.pre, args), *[pre_t.stretch_bounded(p) for p in args],
             *[post_t.stretch_bounded(p) for p in args], scan_prefix(md0, pre_t, args)]
    if inst.chunk_pre:
        facts.append(scan_prefix(inst.chunk.chunk_md, pre_t, args))
    if inst.post is not inst.pre:
        facts += axioms(inst.post, args)
    base = [*inst.assume, *pre_fs, pre_t.defs, post_t.defs, *facts]

    def check(*fs: z3.BoolRef, share: int = 1) -> z3.CheckSatResult:
        # a fresh solver per query: pushing the properties onto one solver decided fewer rows
        s = z3.SolverFor("QF_UFLIA")
        s.add(*base, *fs)
        return budget.check(s, share)

    vacuity = check() if complete else z3.unsat if why == "assumptions unsatisfiable" else z3.unknown
    bounds: dict[str, Any] = {"block_bits": lm.sizes, "blocks": 1}
    if lm.runs_bound:
        bounds["runs_per_block"] = runs
    bounds |= {"paths": len(ends), "terms": len(args)}
    # pass 1 gives each query a fair share of what is left; pass 2 retries the undecided ones
    # with the whole remainder (the exact contig_hint rows need the most)
    results: dict[str, z3.CheckSatResult] = {}
    for pass_ in (1, 2):
        again = [p for p in todo if results.get(p, z3.unknown) == z3.unknown] if pass_ == 2 else todo
        for k, prop in enumerate(again):
            if vacuity != z3.sat or budget.exhausted():
                break
            before, tq = budget.used, time.perf_counter()
            results[prop] = check(bads[prop], share=len(again) - k)
            if verbose:
                print(f"  pass {pass_} {prop}: {results[prop]}, {(budget.used - before) / 1e6:.1f}M units, "
                      f"{time.perf_counter() - tq:.1f}s (exploration {explored_units / 1e6:.1f}M)", flush=True)
    rows = []
    for prop in todo:
        r = results.get(prop, z3.unknown)
        note = why or ("assumptions unsatisfiable" if vacuity == z3.unsat else
                       "vacuity check: budget" if vacuity == z3.unknown else "")
        verdict = VACUOUS if vacuity == z3.unsat else PROVED if r == z3.unsat else NOT_PROVED
        if verdict == NOT_PROVED and not note:
            note = "budget" if r == z3.unknown else "a model of the instantiated axioms: see the bounded proofs"
        kind = PROPERTIES[prop].kind if prop in PROPERTIES else OUTCOME
        rows.append(Row(lm.name, prop, kind, verdict, dict(bounds), note=note))
    dt = round(time.perf_counter() - t0, 2)
    for row in rows:
        row.seconds, row.units = dt, budget.used
    return rows


def prove_block_update(budget_s: float = 300.0, variant: Any = None, props: list[str] | None = None,
                       verbose: bool = False) -> list[Row]:
    """pcpu_block_update for every block size (prove_param on the block_update lemma)."""
    return prove_param("block_update", budget_s, variant, props, verbose)


def run(names: list[str], budget_s: float, props: list[str] | None = None, verbose: bool = False,
        runs: int = 1) -> list[str]:
    """Proves the named lemmas for every size and prints their table; returns the rows left open.

    A row the bounded proofs refute (a ledger entry, expected.EXPECTED) cannot be proved here and
    is not open; any other row not PROVED is (budget, abstraction, or a regression of the code).
    """
    from properties.proofs.expected import EXPECTED

    total = proved = 0
    open_rows: list[str] = []
    for name in names:
        for r in prove_param(name, budget_s, props=props, verbose=verbose, runs=runs):
            fid = EXPECTED.get((name, r.prop))
            tag = f"ledger {fid}: refuted by the bounded proofs, so it cannot hold for every size" if fid else ""
            print(f"  {r.lemma:<18} {r.prop:<31} {r.kind:<15} {r.verdict:<11} {r.seconds:6.1f}s  "
                  f"{r.units / 1e6:6.1f}M units  {r.bounds_text()}  {tag or r.note}", flush=True)
            total += 1
            proved += r.verdict == PROVED
            if r.verdict != PROVED and not fid:
                open_rows.append(f"{name}:{r.prop}")
    print(f"== {proved} of {total} proved for every size"
          + (f"; not proved (budget, abstraction or a regression): {', '.join(open_rows)}" if open_rows else ""))
    return open_rows


def main(argv: list[str] | None = None) -> int:
    import argparse
    import sys

    ap = argparse.ArgumentParser(prog="python -m properties.proofs.parametric",
                                 description="block hint lemmas for every block size")
    ap.add_argument("--lemma", action="append", default=[], help="a lemma (repeatable); default all: "
                    + ", ".join(PARAM_LEMMAS))
    ap.add_argument("--budget", type=float, default=300.0,
                    help="seconds (as Z3 units, prove.UNITS_PER_S) per lemma")
    ap.add_argument("--prop", action="append", default=[], help="a block property (repeatable); default all")
    ap.add_argument("--runs", type=int, default=1,
                    help="free runs per block, for the lemmas that loop over them (default 1)")
    ap.add_argument("--verbose", action="store_true", help="one line per solver query")
    try:
        args = ap.parse_args(argv)
    except SystemExit as e:
        return 2 if e.code else 0
    bad_prop = [p for p in args.prop if p not in BLOCK_PROPS + FIT_PROPS]
    bad_lemma = [m for m in args.lemma if m not in PARAM_LEMMAS]
    if bad_prop or bad_lemma or args.budget <= 0 or args.runs < 1:
        msg = (f"unknown block property {bad_prop[0]!r}" if bad_prop else
               f"unknown lemma {bad_lemma[0]!r} (have {', '.join(PARAM_LEMMAS)})" if bad_lemma else
               "--budget must be > 0 and --runs >= 1")
        print(f"parametric: {msg}", file=sys.stderr)
        return 2
    print(f"== block hint lemmas for every block size (budget {args.budget:g} s per lemma)")
    run(args.lemma or list(PARAM_LEMMAS), args.budget, args.prop or None, args.verbose, args.runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
