"""Block-size-independent proofs: the port's block hint code for every block size at once.

The bounded proofs (prove.py) give each bit of the bitmap its own variable,
so their cost grows with the block size.  Here the block size n is a
symbolic integer (1 <= n <= N_MAX), and the bitmap is an
:class:`~properties.proofs.absbitmap.AbsBitmap`, known only through its
next-used, next-free and previous-used functions.  The ported functions run
unchanged through sym.explore, with ``nr_bits`` and PCPU_BITMAP_BLOCK_BITS
the symbolic n; the pre- and post-conditions are the registry's property
functions, as in the bounded proofs.

The terms are integers (sym.integer_terms(), Z3's QF_UFLIA): the port runs on
Python ints, which are unbounded, so this is its own arithmetic.  Each query
gets instances of the bitmap facts (absbitmap.axioms) over every term it
applies the functions to; the path checks of lemmas with a loop over free
runs get them too, incrementally (absbitmap.FactSolver), so the loop is seen
to end.  Unsatisfiable means no bitmap of any size in the lemma's range
violates the property: PROVED.  A satisfiable answer may come from a model
no bitmap has (too few instances, or an abstraction); it is reported as NOT
PROVED, never as REFUTED: the bounded proofs (with concrete witnesses) say
which rows are refuted.  VACUOUS is checked first.

Abstractions (abstractions.py), each an over-approximation (a proof with it
is a proof without):

- ``_ffs`` (the tie-break on better-aligned starts in pcpu_block_update) is an
  uninterpreted function: the properties hold whichever start wins the tie;
- ``ALIGN(x, a)`` is a named value r with x <= r <= x + a - 1 and aligned(r, a);
- PCPU_BITMAP_BLOCK_BITS is a BlockBits: ``x & (n - 1)``, ``x // n`` and
  ``i * n`` (pcpu_off_to_block_off / _index, pcpu_index_alloc_map) have their
  true values for 0 <= x < 5 n and 0 <= i < 5 (chunks of up to four blocks,
  and the position after them) and are left uninterpreted elsewhere.
  ``x & (n - 1) == x - i n`` needs n to be a power of two, as
  PCPU_BITMAP_BLOCK_BITS always is, so lemmas whose code uses it are claimed
  for power-of-two sizes only (their bounds say so).

Block-scope lemmas judge block hints only, as in the bounded proofs: the
chunk_md updates (pcpu_chunk_refresh_hint and pcpu_block_update on chunk_md)
are sliced off, and so is the caller's chunk_md.first_free update.

A block lemma's exploration and queries run in ``jobs`` forked processes
(parallel.py, sym._forked_paths) with every split fixed before a child starts, so
the verdicts and units depend on ``jobs`` (default JOBS = 2), never on the machine.
Rows the bounded proofs refute (expected.EXPECTED) are not queried unless asked.

Measured (make proofs-all-sizes, docs/bench/proofs-all-sizes.txt): every
provable row of the six block lemmas, 78 s for all six; make proofs-chunk (docs/bench/proofs-chunk.txt):
chunk_refresh_hint on two blocks of every size, chunk_find_fit on two blocks of
every size, and its fit_found_if_one_exists on four.  Chunk lemmas merge
pcpu_block_update's paths only where they leave the same contig and scan hints
(sym.merged fork_on; fully merged, chunk_refresh_hint's queries stayed undecided
at 1500 s; not merged, 3279 paths in 334 s; keyed, 1074 paths in 150-179 s).
Before the integer reading, the
bit-vector queries (QF_UFBV) left pcpu_block_update's contig_hint_start and
right_free rows undecided at 580M units each; tried and dropped then: merged
paths, one query per path, per-property instantiation sets, two passes,
Ackermann reduction with bit-blasting, and bitwuzla.  Tried and dropped with
integers: merging pcpu_block_update's paths into If-terms (sym.merged) in the
block lemmas (block_hint_free: 19 paths but 224 s with rows undecided, against
192 paths and 47 s), one solver with pushed queries (fewer rows decided), and
the bitmap facts in every path check (block_hint_free: 125 s against 38 s;
only the lemmas with a loop over free runs get them).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import time
from dataclasses import dataclass
from typing import Any

import z3

from impl.internal import MD_FIELDS, pcpu_block_md, pcpu_chunk
from impl.percpu import Percpu
from properties import invariants  # noqa: F401  (registers the inv_* properties)
from properties.oneline_args import OneLineParser
from properties.proofs.absbitmap import (
    AbsBitmap,
    AbsTruth,
    AbsView,
    AbsWindow,
    FactSolver,
    Terms,
    axioms,
    close_under_pu,
    runs_at_most,
)
from properties.proofs.abstractions import ALIGNED, BlockBits, abstract_primitives
from properties.proofs.expected import EXPECTED
from properties.proofs.lemmas import BLOCK_PROPS, CHUNK_PROPS, FIT_PROPS, percpu_for
from properties.proofs.parallel import rounds
from properties.proofs.paramlemmas import DEFAULT_LEMMAS, N_MAX, NOT_PROVED, PARAM_LEMMAS, ParamLemma, block_bits_ok
from properties.proofs.prove import PROVED, UNITS_PER_S, VACUOUS, Row, fresh_z3_context
from properties.proofs.sym import (
    Budget,
    PathEnd,
    PathLimit,
    Run,
    SInt,
    Unknown,
    explore,
    formula,
    integer_terms,
    merged,
    merged_value,
    var,
)
from properties.registry import OUTCOME, PROPERTIES

__all__ = ["DEFAULT_LEMMAS", "N_MAX", "NOT_PROVED", "PARAM_LEMMAS", "PROVED", "ParamLemma", "prove_param", "run"]


# the hint fields pcpu_block_update() reads back to branch on: its paths are merged except where these differ
FORK_ON = ("contig_hint", "contig_hint_start", "scan_hint", "scan_hint_start")


def holds(prop: str, md: pcpu_block_md, t: AbsTruth, w: AbsWindow) -> z3.BoolRef:
    return formula(functools.partial(PROPERTIES[prop].fn, md, t, w))


def scan_prefix(md: pcpu_block_md, t: AbsTruth, args: list[z3.ArithRef]) -> z3.BoolRef:
    """Instances of the bounded lemmas' scan_hint precondition: no stretch before the scan_hint's end beats it."""
    sh, ss = md.scan_hint.e, md.scan_hint_start.e
    return z3.Or(sh == 0, z3.And(*[z3.Implies(z3.And(p >= 0, p < ss + sh), t.bm.nu(p) - p <= sh) for p in args]))


def block_scope(pcpu: Percpu, current: list[pcpu_chunk]) -> None:
    """Slices off the chunk_md updates (as prove.slice_chunk_md): block lemmas judge block hints only."""
    update = pcpu.pcpu_block_update

    def block_update_blocks_only(block: Any, start: Any, end: Any) -> None:
        if block is not current[0].chunk_md:
            update(block, start, end)

    pcpu.pcpu_chunk_refresh_hint = lambda chunk, full_scan: None  # type: ignore[method-assign]
    pcpu.pcpu_block_update = block_update_blocks_only  # type: ignore[method-assign]


def symbolic_geometry(pcpu: Percpu, bits: Any, nb: int) -> None:
    """PCPU_BITMAP_BLOCK_BITS as ``bits`` (a BlockBits of the symbolic size n), and percpu-internal.h's
    chunk geometry helpers for a chunk of ``nb`` blocks of n bits."""
    n = bits.e
    pcpu.PCPU_BITMAP_BLOCK_BITS = bits
    pcpu.pcpu_chunk_map_bits = lambda chunk: SInt(nb * n)  # type: ignore[method-assign,assignment,return-value]
    pcpu.pcpu_chunk_nr_blocks = lambda chunk: nb  # type: ignore[method-assign]


def proof_start(budget_s: float, variant: Any, block_bits: int | None) -> tuple[float, Budget, Percpu, Terms, Any]:
    """What a chunk proof starts from, made in this order: its clock, its budget (``budget_s`` in Z3 units),
    the port (``variant`` applied, if any), an empty instantiation set, and the block size (symbolic
    n, or ``block_bits``)."""
    t0 = time.perf_counter()
    budget = Budget(max(1, int(budget_s * UNITS_PER_S)))
    pcpu = percpu_for(8)
    if variant is not None:
        variant(pcpu)
    return t0, budget, pcpu, Terms(), var("n") if block_bits is None else z3.IntVal(block_bits)


def row_verdict(r: z3.CheckSatResult, ok: bool, why: str, vacuous: bool, unclosed: str = "") -> tuple[str, str]:
    """A row's verdict and note from its answer ``r`` (unsat: no counterexample) when ``ok`` says whether
    it may be claimed; ``why``: a reason none can be; ``unclosed``: the note for an unsat row not claimed."""
    note = why or ("assumptions unsatisfiable" if vacuous else "" if ok else "budget" if r == z3.unknown else
                   unclosed if r == z3.unsat else "a model of the instantiated axioms: see the bounded proofs")
    return VACUOUS if vacuous else PROVED if ok else NOT_PROVED, note


def _twin(chunk: pcpu_chunk) -> pcpu_chunk:
    """A copy whose hint blocks are the path's own (every path of the exploration updates its copy)."""
    twin = copy.copy(chunk)
    twin.md_blocks = [copy.copy(md) for md in chunk.md_blocks]
    twin.chunk_md = copy.copy(chunk.chunk_md)
    return twin


def prove_param(name: str, budget_s: float = 300.0, variant: Any = None, props: list[str] | None = None,
                verbose: bool = False, runs: int = 1, blocks: int | None = None,
                block_bits: int | None = None, ledger_rows: bool = False, jobs: int = 1) -> list[Row]:
    """Judges block properties (default all) of one lemma for every block size in its range; one Row each.

    First the assumptions alone are checked (VACUOUS if unsatisfiable), then each property is
    one query (two passes: a fair share of what is left, then the remainder for the undecided).
    ``blocks``: a chunk lemma's block count (2..4; default the lemma's); ``block_bits``: one
    power-of-two block size instead of every size.  The port's rows the bounded proofs refute
    (ledger findings, expected.EXPECTED) cannot hold for every size and are not queried
    unless ``ledger_rows`` (block_hint_alloc's F3 row took 29-37M units, 13 s).  ``jobs``:
    forked processes for a block lemma's exploration and queries (the verdicts and units
    depend on it, not on the machine; chunk lemmas run in one).
    """
    fresh_z3_context()
    ALIGNED.clear()
    with integer_terms(), abstract_primitives():
        lm = PARAM_LEMMAS[name]
        if blocks is not None and lm.blocks > 1:
            setup: Any = functools.partial(lm.setup, nb=blocks)  # type: ignore[call-arg]  # chunk setups take nb
            lm = dataclasses.replace(lm, blocks=blocks, setup=setup)
        if block_bits is not None:
            lm = dataclasses.replace(lm, sizes=str(block_bits))
        return _prove(lm, budget_s, variant, [p for p in (props or lm.post) if p in lm.post], verbose, runs,
                      block_bits, ledger_rows or variant is not None, jobs)


@dataclass
class Judge:
    """The truths of one bitmap: one per block (views of the chunk's bitmap) and the chunk's."""

    blocks: list[tuple[AbsTruth, AbsWindow, z3.ArithRef]]  # (truth, window, block start)
    chunk: tuple[AbsTruth, AbsWindow]

    @staticmethod
    def of(bm: AbsBitmap, tag: str, n: z3.ArithRef, nb: int, block_bits: Any) -> Judge:
        views = [bm] if nb == 1 else [AbsView(bm, i * n, n) for i in range(nb)]
        blocks = [(AbsTruth(v, f"{tag}.b{i}"), AbsWindow(v), i * n) for i, v in enumerate(views)]
        chunk = (blocks[0][0] if nb == 1 else AbsTruth(bm, f"{tag}.chunk")), AbsWindow(bm)
        chunk[1].block_bits = block_bits
        return Judge(blocks, chunk)  # type: ignore[arg-type]

    def holds(self, prop: str, chunk: pcpu_chunk) -> z3.BoolRef:
        if PROPERTIES[prop].scope == "chunk":
            return holds(prop, chunk.chunk_md, *self.chunk)
        return z3.And(*[holds(prop, md, t, w) for md, (t, w, _) in zip(chunk.md_blocks, self.blocks, strict=True)])

    def truths(self) -> list[AbsTruth]:
        return [t for t, _, _ in self.blocks] + ([self.chunk[0]] if len(self.blocks) > 1 else [])

    def facts(self, args: list[z3.ArithRef], chunk: pcpu_chunk | None, chunk_level: bool = True,
              blocks: range | None = None) -> list[z3.BoolRef]:
        """Every stretch is at most the largest run; with ``chunk``, its hints' scan_hint precondition.
        ``chunk_level`` False: the blocks' only (not the chunk's truth nor chunk_md's hints);
        ``blocks``: those blocks' only (default all)."""
        out: list[z3.BoolRef] = []
        for i, (t, _, lo) in enumerate(self.blocks):
            if blocks is not None and i not in blocks:
                continue
            rel = args if len(self.blocks) == 1 else [z3.simplify(a - lo) for a in args]
            out += [t.stretch_bounded(p) for p in rel]
            if chunk is not None:
                out.append(scan_prefix(chunk.md_blocks[i], t, rel))
        if not chunk_level:
            return out
        if len(self.blocks) > 1:
            out += [self.chunk[0].stretch_bounded(p) for p in args]
        if chunk is not None and isinstance(chunk.chunk_md.scan_hint, SInt):
            out.append(scan_prefix(chunk.chunk_md, self.chunk[0], args))
        return out


def _prove(lm: ParamLemma, budget_s: float, variant: Any, todo: list[str], verbose: bool, runs: int,
           block_bits: int | None, ledger_rows: bool, jobs: int) -> list[Row]:
    t0 = time.perf_counter()
    # what speeds up a block lemma is kept from the chunk lemmas, each measured on them: solver
    # levels kept between paths (sym.explore keep: chunk_find_fit's query on 4 blocks then took
    # 520M units, not 359M), the nu/nf memo (AbsBitmap.memoize: over 585M, not 392.6M) and forked
    # processes (their query rounds cost more units, chunk_refresh_hint 696M against 581M, and
    # chunk_find_fit's fit_start_leads_to_fit on two blocks ran out of a 300 s budget it is proved
    # in; their merged calls' results, sym._sub_paths, do not cross to a forked exploration's parent)
    block = lm.blocks == 1
    jobs = jobs if block else 1
    refuted = {} if ledger_rows else {p: EXPECTED[(lm.name, p)] for p in todo if (lm.name, p) in EXPECTED}
    budget = Budget(max(1, int(budget_s * UNITS_PER_S)))
    pcpu = percpu_for(8)
    if variant is not None:
        variant(pcpu)
    terms = Terms()
    n, nb = var("n") if block_bits is None else z3.IntVal(block_bits), lm.blocks
    inst = lm.setup(n, terms)
    for bm in (inst.pre, inst.post):
        bm.memoize = block
    symbolic_geometry(pcpu, BlockBits(n), nb)
    current = [inst.chunk]
    if nb == 1:
        block_scope(pcpu, current)
    else:  # pcpu_next_hint() (pure) as one If-valued result: chunk_find_fit on 3x64 bits, 270 paths, not 1852
        pcpu.pcpu_next_hint = merged_value(pcpu.pcpu_next_hint)  # type: ignore[method-assign]
        pcpu.pcpu_block_update = merged(pcpu.pcpu_block_update, MD_FIELDS, fork_on=FORK_ON)  # type: ignore[method-assign]
    # pcpu_block_update()'s paths are merged where they leave the same contig and scan hints
    # (sym.merged fork_on): chunk_refresh_hint on two blocks, 1074 paths and all five rows proved
    # in 150-179 s.  Fully merged (as prove.merge_block_update), 89 paths but two rows undecided at
    # 1500 s; not merged, 3279 paths in 334 s (docs/bench/proofs-chunk.txt)
    pre_j = Judge.of(inst.pre, "pre", n, nb, pcpu.PCPU_BITMAP_BLOCK_BITS)
    pre_fs = [pre_j.holds(p, inst.chunk) for p in lm.pre]
    pre_defs = [t.defs for t in pre_j.truths()]
    if lm.runs_bound:  # at most ``runs`` free runs in each block
        views = [inst.post] if nb == 1 else [AbsView(inst.post, i * n, n) for i in range(nb)]
        inst.assume += [runs_at_most(v, runs) for v in views]
    # a loop over free runs needs the bitmap facts to be seen to end (the derived bitmap's follow
    # from the base's); elsewhere they only slow the path checks down (block_hint_free: 125 s, not 38 s)
    explorer: Any = FactSolver([inst.pre], terms) if lm.runs_bound else z3.SolverFor("QF_UFLIA")
    explorer.add(*inst.assume, *([*pre_fs, *pre_defs] if lm.explore_pre else []))
    ends: list[tuple[z3.BoolRef, tuple[pcpu_chunk, Any, list[Any]]]] = []

    def run() -> tuple[pcpu_chunk, Any, list[Any]]:
        # the path's own ALIGN results: a defined name means the same value only along one path
        ALIGNED.clear()
        current[0] = _twin(inst.chunk)
        ret = inst.call(pcpu, current[0])
        return current[0], ret, list(ALIGNED.values())

    def on_path(end: PathEnd, run_: Run) -> None:
        if end.error is not None:
            raise PathLimit(f"{lm.function} raised {end.error!r}")
        ends.append((z3.And(*end.conds) if end.conds else z3.BoolVal(True), end.value))

    complete, why = True, ""
    if budget.check(explorer) == z3.unsat:  # vacuous before any path: report it as such below
        complete, why = False, "assumptions unsatisfiable"
    try:
        if complete:
            explore(explorer, run, on_path, budget=Budget(int(0.5 * budget.units), parent=budget),
                    keep=block, jobs=jobs)
    except (Unknown, PathLimit) as e:
        complete, why = False, str(e)
    explored_units, explored_s = budget.used, time.perf_counter() - t0
    if verbose:
        print(f"  exploration: {len(ends)} paths, {explored_units / 1e6:.1f}M units, {explored_s:.1f}s", flush=True)
    post_j = pre_j if inst.post is inst.pre else Judge.of(inst.post, "post", n, nb, pcpu.PCPU_BITMAP_BLOCK_BITS)

    block_truths = [t for t, _, _ in pre_j.blocks]

    def post_holds(p: str, end: tuple[pcpu_chunk, Any, list[Any]]) -> z3.BoolRef:
        after, ret, found = end
        if inst.judge is not None:
            return inst.judge(p, ret, block_truths, found)
        return post_j.holds(p, after)

    bads = {p: z3.Or(*[z3.And(pc, z3.Not(post_holds(p, end))) for pc, end in ends]) for p in todo}
    for bm in (inst.post, inst.pre):  # post first: its pu is defined by pre's
        close_under_pu(bm)
    args = list(terms.args.values())
    facts = [*axioms(inst.pre, args), *pre_j.facts(args, inst.chunk)]
    if inst.post is not inst.pre:
        facts += [*axioms(inst.post, args), *post_j.facts(args, None)]
    post_defs = [] if post_j is pre_j else [t.defs for t in post_j.truths()]
    base = [*inst.assume, *pre_fs, *pre_defs, *post_defs, *facts]

    def check(*fs: z3.BoolRef, share: int = 1, within: Budget = budget) -> z3.CheckSatResult:
        # a fresh solver per query: pushing the properties onto one solver decided fewer rows
        s = z3.SolverFor("QF_UFLIA")
        s.add(*base, *fs)
        return within.check(s, share)

    tv = time.perf_counter()
    vacuity = check() if complete else z3.unsat if why == "assumptions unsatisfiable" else z3.unknown
    if verbose:
        print(f"  queries built in {tv - t0 - explored_s:.1f}s; vacuity {vacuity}, {time.perf_counter() - tv:.1f}s",
              flush=True)
    bounds: dict[str, Any] = {"block_bits": lm.sizes, "blocks": nb}
    if lm.runs_bound:
        bounds["runs_per_block"] = runs
    bounds |= {"paths": len(ends), "terms": len(args)}
    # pass 1 gives each query a fair share of what is left; pass 2 retries the undecided ones
    # with the whole remainder.  The exact contig_hint rows need the most and come first in the
    # registry: pass 1 runs the rows last to first, so they get what the cheap rows leave
    # (block_hint_alloc: 88 s, not 101 s, no longer spending 55M units on a first try).
    # ``jobs`` > 1: the queries run in rounds of ``jobs`` forked processes (parallel.rounds)
    results: dict[str, z3.CheckSatResult] = {}
    for pass_ in (1, 2):
        again = [p for p in (todo if pass_ == 2 else todo[::-1]) if p not in refuted]
        again = [p for p in again if results.get(p, z3.unknown) == z3.unknown]
        if vacuity != z3.sat or not again:
            break

        def query(prop: str, within: Budget, share: int, pass_: int = pass_) -> str:
            tq, before = time.perf_counter(), within.used
            r = check(bads[prop], share=share, within=within)
            if verbose:
                print(f"  pass {pass_} {prop}: {r}, {(within.used - before) / 1e6:.1f}M units, "
                      f"{time.perf_counter() - tq:.1f}s (exploration {explored_units / 1e6:.1f}M)", flush=True)
            return str(r)

        results |= {p: RESULT_OF[r] for p, r in rounds(query, again, budget, jobs).items()}
    rows = []
    for prop in todo:
        r = results.get(prop, z3.unknown)
        note = why or ("assumptions unsatisfiable" if vacuity == z3.unsat else
                       "vacuity check: budget" if vacuity == z3.unknown else "")
        verdict = VACUOUS if vacuity == z3.unsat else PROVED if r == z3.unsat else NOT_PROVED
        if verdict == NOT_PROVED and not note:
            note = (f"ledger {refuted[prop]}: refuted by the bounded proofs, not queried" if prop in refuted else
                    "budget" if r == z3.unknown else "a model of the instantiated axioms: see the bounded proofs")
        kind = PROPERTIES[prop].kind if prop in PROPERTIES else OUTCOME
        rows.append(Row(lm.name, prop, kind, verdict, dict(bounds), note=note))
    return stamped(rows, t0, budget)


def stamped(rows: list[Row], t0: float, budget: Budget) -> list[Row]:
    """``rows`` with the seconds since ``t0`` and the units ``budget`` used, the whole proof's."""
    dt = round(time.perf_counter() - t0, 2)
    for row in rows:
        row.seconds, row.units = dt, budget.used
    return rows


# forked processes for the block lemmas in make's runs (a fixed number: the unit counts depend on it)
JOBS = 2
RESULT_OF = {str(r): r for r in (z3.sat, z3.unsat, z3.unknown)}


def row_line(r: Row, tail: str) -> str:
    """One row of the every-size tables, ``tail`` (its note or ledger entry) last."""
    return (f"  {r.lemma:<18} {r.prop:<31} {r.kind:<15} {r.verdict:<11} {r.seconds:6.1f}s  "
            f"{r.units / 1e6:6.1f}M units  {r.bounds_text()}  {tail}")


def run(names: list[str], budget_s: float, props: list[str] | None = None, verbose: bool = False,
        runs: int = 1, blocks: int | None = None, block_bits: int | None = None,
        ledger_rows: bool = False, jobs: int = JOBS) -> list[str]:
    """Proves the named lemmas for every size and prints their table; returns the rows left open.

    A row the bounded proofs refute (a ledger entry, expected.EXPECTED) cannot be proved here and
    is not open; any other row not PROVED is (budget, abstraction, or a regression of the code).
    """
    total = proved = 0
    open_rows: list[str] = []
    for name in names:
        for r in prove_param(name, budget_s, props=props, verbose=verbose, runs=runs, blocks=blocks,
                             block_bits=block_bits, ledger_rows=ledger_rows, jobs=jobs):
            fid = EXPECTED.get((name, r.prop))
            tag = f"ledger {fid}: refuted by the bounded proofs, so it cannot hold for every size" if fid else ""
            if fid and "not queried" in r.note:
                tag += " (not queried)"
            print(row_line(r, tag or r.note), flush=True)
            total += 1
            proved += r.verdict == PROVED
            if r.verdict != PROVED and not fid:
                open_rows.append(f"{name}:{r.prop}")
    print(f"== {proved} of {total} proved" + (" for every size" if block_bits is None else f" at {block_bits} bits")
          + (f"; not proved (budget, abstraction or a regression): {', '.join(open_rows)}" if open_rows else ""))
    return open_rows


def main(argv: list[str] | None = None) -> int:
    import sys

    ap = OneLineParser(prog="python -m properties.proofs.parametric",
                       description="block hint lemmas for every block size")
    others = [m for m in PARAM_LEMMAS if m not in DEFAULT_LEMMAS]
    ap.add_argument("--lemma", action="append", default=[], help="a lemma (repeatable); default the block "
                    f"lemmas: {', '.join(DEFAULT_LEMMAS)}; also {', '.join(others)}")
    ap.add_argument("--budget", type=float, default=300.0,
                    help="seconds (as Z3 units, prove.UNITS_PER_S) per lemma")
    ap.add_argument("--prop", action="append", default=[], help="a property (repeatable); default all the lemma judges")
    ap.add_argument("--runs", type=int, default=1,
                    help="free runs per block, for the lemmas that loop over them (default 1)")
    ap.add_argument("--blocks", type=int, default=None,
                    help="blocks per chunk for the chunk lemmas, 2..4 (default each lemma's own)")
    ap.add_argument("--block-bits", type=int, default=None,
                    help="one power-of-two block size instead of every size (chunk lemmas: e.g. 64)")
    ap.add_argument("--ledger-rows", action="store_true",
                    help="query the rows the bounded proofs refute (ledger findings) too")
    ap.add_argument("--jobs", type=int, default=JOBS,
                    help=f"forked processes for a block lemma (default {JOBS}; chunk lemmas run in one)")
    ap.add_argument("--verbose", action="store_true", help="one line per solver query")
    try:
        args = ap.parse_args(argv)
    except SystemExit as e:
        return 2 if e.code else 0
    bad_prop = [p for p in args.prop if p not in BLOCK_PROPS + CHUNK_PROPS + FIT_PROPS]
    bad_lemma = [m for m in args.lemma if m not in PARAM_LEMMAS]
    bb = args.block_bits
    bad_size = not block_bits_ok(bb)
    bad_blocks = args.blocks is not None and not 2 <= args.blocks <= BlockBits.BLOCKS - 1
    if bad_prop or bad_lemma or args.budget <= 0 or args.runs < 1 or args.jobs < 1 or bad_size or bad_blocks:
        msg = (f"unknown property {bad_prop[0]!r}" if bad_prop else
               f"unknown lemma {bad_lemma[0]!r} (have {', '.join(PARAM_LEMMAS)})" if bad_lemma else
               f"--block-bits must be a power of two <= {N_MAX}" if bad_size else
               f"--blocks must be 2..{BlockBits.BLOCKS - 1}" if bad_blocks else
               "--budget must be > 0, --runs and --jobs >= 1")
        print(f"parametric: {msg}", file=sys.stderr)
        return 2
    sizes = "every block size" if bb is None else f"blocks of {bb} bits"
    print(f"== hint lemmas for {sizes} (budget {args.budget:g} s per lemma)")
    run(args.lemma or DEFAULT_LEMMAS, args.budget, args.prop or None, args.verbose, args.runs, args.blocks, bb,
        args.ledger_rows, args.jobs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
