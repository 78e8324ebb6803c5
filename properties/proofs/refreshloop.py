"""pcpu_block_refresh_hint()'s loop over a block's free runs, proved by an invariant at a cut point.

parametric.py proves block_refresh_hint for every size only on blocks of
one free run (runs_per_block=1): unrolled, the loop forks once per run.
Here the loop is cut where the port's for_each_clear_bitrange_from() asks
for the next run, as loopinv.py cuts pcpu_chunk_refresh_hint(), and three
kinds of query replace the unrolling, over the port's own code run through
sym.explore:

- established: pcpu_block_refresh_hint() from its entry up to its first
  request for a run (the scan_hint promoted, or the hints reset) leaves a
  state where the invariant holds;
- kept: from any state where it holds (the block's hints and the search
  position fresh symbols), one request of the real iterator, the real loop
  body (pcpu_block_update()) and the next request reach a state where it
  holds again;
- at the exit: where the iterator finds no run, the post-condition holds.

The cut replaces for_each_clear_bitrange_from in impl.hints with a generator
that raises loopinv.Cut with the state, or (the kept family, first request)
substitutes the fresh state and then takes one run from the real iterator
started at the cut's position.  The real iterator continues from the bit
after a run's end: starting it afresh there asks the same question.

The result is a summary (a contract) for callers that replace the call
(allocfamilies.py).  Its precondition (:func:`pre_parts`) is what the
caller shows at the call: the hints in range, first_free not past the first
free bit, and a non-zero scan_hint a maximal free run that no free stretch
starting before its end beats (the scan_hint prefix the bounded lemmas
assume and no registry property states).  Its post-condition
(:func:`post_parts`): contig_hint exact and a maximal run, the scan_hint
properties of the registry, first_free unchanged, left_free changed only by
a rescan from bit 0 (to the run there), and right_free the block's right
run when the rescan reached it, else 0 (ledger F3: a promoted scan_hint
that ends at the block end is never rescanned).
"""

from __future__ import annotations

import copy
from typing import Any

import z3

import impl.hints
from impl.internal import MD_FIELDS, pcpu_block_md, pcpu_chunk
from properties.oneline_args import OneLineParser
from properties.proofs import families
from properties.proofs.absbitmap import AbsBitmap, AbsTruth, AbsWindow, axioms, close_under_pu
from properties.proofs.abstractions import ALIGNED, BlockBits, abstract_primitives
from properties.proofs.families import ESTABLISHED, KEPT, Family, Query
from properties.proofs.lemmas import md_fields, md_range_list
from properties.proofs.loopinv import Cut
from properties.proofs.parametric import (
    FORK_ON,
    JOBS,
    holds,
    proof_start,
    scan_prefix,
    stamped,
    symbolic_geometry,
)
from properties.proofs.paramlemmas import N_MAX, POW2_SIZES, _chunk
from properties.proofs.prove import Row, fresh_z3_context
from properties.proofs.sym import Budget, PathEnd, PathLimit, Run, SInt, integer_terms, lift, merged, var

LEMMA = "block_refresh_loop"
HINTS = [f for f in MD_FIELDS if f != "nr_bits"]
# the registry's block properties the rescan leaves (right_free: ledger F3, stated exactly below instead;
# left_free and first_free: it does not rescan them, stated as what it keeps)
# inv_block_scan_hint_order is not one: three runs of one size, the third better aligned than the
# first, leave the second as a scan_hint equal to the contig_hint and before it (ledger F4)
REGISTRY_POST = ("inv_block_contig_hint", "inv_block_contig_hint_start", "inv_block_scan_hint",
                 "inv_block_scan_hint_disjoint")
KEPT_POST = ("first_free_kept", "left_free_kept", "right_free_kept", "ranges")
POST = REGISTRY_POST + KEPT_POST
PRE = ("ranges", "first_free_lower", "scan_maximal", "scan_prefix")


def maximal(bm: AbsBitmap, s: Any, k: Any) -> z3.BoolRef:
    """[s, s + k) is a free run of ``bm`` bounded by used bits or the bitmap's edges."""
    s, k = lift(s), lift(k)
    return z3.And(bm.free(s, k), z3.Or(s == 0, bm.used(s - 1)), z3.Or(s + k == bm.n, bm.used(s + k)))


def start_of(md0: pcpu_block_md) -> z3.ArithRef:
    """Where the rescan starts, from the hints at the call: after a non-zero scan_hint, else first_free."""
    sh, ss, ff = lift(md0.scan_hint), lift(md0.scan_hint_start), lift(md0.first_free)
    return z3.If(sh != 0, ss + sh, ff)


def pre_parts(md0: pcpu_block_md, bm: AbsBitmap, at: z3.ArithRef | None) -> dict[str, z3.BoolRef]:
    """The summary's precondition at a call with hints ``md0`` on the block's bitmap ``bm``, by part.

    ``at``: the point the scan_hint prefix is asked at (a caller's fresh symbol: the obligation
    then holds for every point); None leaves the part out (the proof assumes its instances).
    """
    sh, ss, ff = lift(md0.scan_hint), lift(md0.scan_hint_start), lift(md0.first_free)
    out = {
        "ranges": z3.And(*md_range_list(md0)),
        "first_free_lower": ff <= bm.nf(0),
        "scan_maximal": z3.Or(sh == 0, maximal(bm, ss, sh)),
    }
    if at is not None:
        out["scan_prefix"] = z3.Or(sh == 0, z3.Implies(z3.And(at >= 0, at < ss + sh), bm.nu(at) - at <= sh))
    return out


def post_parts(md: pcpu_block_md, md0: pcpu_block_md, t: AbsTruth, w: AbsWindow) -> dict[str, z3.BoolRef]:
    """The summary's post-condition on the hints ``md`` the call leaves (``md0``: those it got), by part."""
    bm, s0 = t.bm, start_of(md0)
    n, rf = bm.n, t.right_free.e
    out = {p: holds(p, md, t, w) for p in REGISTRY_POST}
    out["first_free_kept"] = lift(md.first_free) == lift(md0.first_free)
    out["left_free_kept"] = lift(md.left_free) == z3.If(z3.And(s0 == 0, bm.nf(0) == 0), bm.nu(0), lift(md0.left_free))
    out["right_free_kept"] = lift(md.right_free) == z3.If(z3.And(rf > 0, n - rf >= s0), rf, 0)
    out["ranges"] = z3.And(*md_range_list(md))
    return out


def inv_parts(md: pcpu_block_md, b: Any, md0: pcpu_block_md, t: AbsTruth, w: AbsWindow) -> dict[str, z3.BoolRef]:
    """What holds whenever the loop asks for the next run from position ``b``, by part.

    The runs before b have been folded in (or lie before a promoted scan_hint, which no run
    there beats), so the contig_hint is the largest of them unless the largest run of the
    block is still to come; first_free is kept, left_free only set by a run at bit 0,
    right_free only by the run at the block end.
    """
    bm, s0, b = t.bm, start_of(md0), lift(b)
    n, L, LS, rf = bm.n, t.largest.e, t.largest_start, t.right_free.e
    C, CS, SH, SS = (lift(getattr(md, f)) for f in ("contig_hint", "contig_hint_start", "scan_hint", "scan_hint_start"))
    return {
        "ranges": z3.And(b >= s0, b <= n + 1, *md_range_list(md)),
        # b is where the rescan started, or just after the used bit (or the block end) a run ended at
        "where": z3.Or(b == s0, bm.used(b - 1), b == n + 1),
        "first_free": lift(md.first_free) == lift(md0.first_free),
        "left_free": lift(md.left_free) == z3.If(z3.And(s0 == 0, bm.nf(0) == 0, b > 0), bm.nu(0), lift(md0.left_free)),
        "right_free": lift(md.right_free) == z3.If(z3.And(b > n, rf > 0, n - rf >= s0), rf, 0),
        "contig_run": z3.Or(C == 0, z3.And(CS + C <= b, maximal(bm, CS, C))),
        "scan_run": z3.Or(SH == 0, z3.And(SS + SH <= b, maximal(bm, SS, SH))),
        # two maximal runs with distinct starts are disjoint
        "scan_not_contig": z3.Or(SH == 0, SS != CS),
        "inv_block_scan_hint": holds("inv_block_scan_hint", md, t, w),
        "matched": z3.Or(C >= L, LS >= b),
    }


def prove_refresh_loop(budget_s: float = 300.0, block_bits: int | None = None, variant: Any = None,
                       verbose: bool = False, jobs: int = JOBS) -> list[Row]:
    """The summary of pcpu_block_refresh_hint() for every block size (or ``block_bits``), by induction.

    One row per post-condition part (PROVED only when the invariant is established and kept
    and the part holds at the exit) and one each for establishing and keeping the invariant.
    """
    fresh_z3_context()
    ALIGNED.clear()
    real = impl.hints.for_each_clear_bitrange_from
    try:
        with integer_terms(), abstract_primitives():
            return _prove(budget_s, block_bits, variant, verbose, jobs)
    finally:
        impl.hints.for_each_clear_bitrange_from = real  # type: ignore[attr-defined]


def _prove(budget_s: float, block_bits: int | None, variant: Any, verbose: bool, jobs: int) -> list[Row]:
    t0, budget, pcpu, terms, n = proof_start(budget_s, variant, block_bits)
    terms.add(n)
    bm = AbsBitmap("map", n, terms)
    chunk = _chunk(n, terms, bm)
    md0 = chunk.md_blocks[0]
    symbolic_geometry(pcpu, BlockBits(n), 1)
    pcpu.pcpu_block_update = merged(pcpu.pcpu_block_update, MD_FIELDS, FORK_ON)  # type: ignore[method-assign]
    t, w = AbsTruth(bm, "t"), AbsWindow(bm)
    for x in (t.largest_start, t.largest.e, n - t.right_free.e, start_of(md0), start_of(md0) - 1):
        terms.add(x)
    assume = [n >= 1, n <= N_MAX, t.defs, *pre_parts(md0, bm, None).values()]
    cut_md = md_fields("cut", 0)
    cut_md.nr_bits = SInt(n)
    cut_b = var("cut.b")
    for x in (cut_b, cut_b - 1, cut_b + 1, cut_md.contig_hint_start.e + cut_md.contig_hint.e,
              cut_md.scan_hint_start.e + cut_md.scan_hint.e, cut_md.contig_hint_start.e - 1,
              cut_md.scan_hint_start.e - 1):
        terms.add(x)
    established = Family(ESTABLISHED, "", list(assume), list(assume))
    kept_assume = [*assume, *inv_parts(cut_md, cut_b, md0, t, w).values()]
    kept = Family(KEPT, "", kept_assume, kept_assume)
    real = impl.hints.for_each_clear_bitrange_from
    current: list[pcpu_chunk] = []

    def run(family: Family) -> pcpu_chunk:
        twin = copy.copy(chunk)
        twin.md_blocks = [copy.copy(md0)]
        current[:] = [twin]

        def runs(start: Any, addr: Any, size: Any) -> Any:
            block, b, first = twin.md_blocks[0], start, True
            while True:
                if family is established or not first:
                    raise Cut(b, copy.copy(block))
                first = False
                for f in HINTS:
                    setattr(block, f, getattr(cut_md, f))
                pair = next(real(SInt(cut_b), addr, size), None)  # type: ignore[arg-type]
                if pair is None:
                    return
                yield pair
                b = pair[1] + 1

        impl.hints.for_each_clear_bitrange_from = runs  # type: ignore[attr-defined]
        pcpu.pcpu_block_refresh_hint(twin, 0)
        return twin

    def on_path(family: Family, end: PathEnd, run_: Run) -> None:
        pc = z3.And(*end.conds) if end.conds else z3.BoolVal(True)
        family.paths += 1
        if isinstance(end.error, Cut):
            for part, ok in inv_parts(end.error.md, end.error.bit_off, md0, t, w).items():
                family.obligations.setdefault(part, []).append(z3.And(pc, z3.Not(ok)))
            return
        if end.error is not None or family is established:
            raise PathLimit(f"{LEMMA} raised {end.error!r}" if end.error else "the rescan ended before its first run")
        for part, ok in post_parts(end.value.md_blocks[0], md0, t, w).items():
            family.obligations.setdefault(f"post:{part}", []).append(z3.And(pc, z3.Not(ok)))

    queries = [Query(established, ESTABLISHED, p, z3.BoolVal(True)) for p in inv_parts(cut_md, cut_b, md0, t, w)]
    queries += [Query(kept, KEPT, p, z3.BoolVal(True)) for p in inv_parts(cut_md, cut_b, md0, t, w)]
    queries += [Query(kept, p, f"post:{p}", z3.BoolVal(True)) for p in POST]
    base = dict(terms.args)

    def bitmap_facts(args: list[z3.ArithRef]) -> list[z3.BoolRef]:
        """The bitmap's axioms, its stretches at most the largest run, and the scan_hint prefix, over ``args``."""
        return [*axioms(bm, args), *[t.stretch_bounded(a) for a in args], scan_prefix(md0, t, args)]

    def facts(family: Family, before: dict[int, Any]) -> tuple[list[z3.BoolRef], int]:
        close_under_pu(bm)
        args = list(terms.args.values())
        return bitmap_facts(args), len(args)

    def vacuity(within: Budget) -> str:
        s = z3.SolverFor("QF_UFLIA")
        s.add(*assume, *bitmap_facts(list(base.values())))
        return str(within.check(s))

    plan = families.Plan([kept, established], queries, terms, families.explorer_for(run, on_path), facts, vacuity,
                         True, verbose)
    out = families.solve(plan, budget, jobs)
    bounds: dict[str, Any] = {"block_bits": POW2_SIZES if block_bits is None else block_bits, "blocks": 1,
                              "paths": out.paths, "terms": out.terms}
    rows = families.induction_rows(LEMMA, POST, out, bounds)
    return stamped(rows, t0, budget)


def main(argv: list[str] | None = None) -> int:
    import sys

    ap = OneLineParser(prog="python -m properties.proofs.refreshloop",
                       description="pcpu_block_refresh_hint()'s rescan proved by a loop invariant (a summary)")
    ap.add_argument("--budget", type=float, default=300.0, help="seconds (as Z3 units, prove.UNITS_PER_S)")
    ap.add_argument("--block-bits", type=int, default=None, help="one power-of-two block size instead of every size")
    ap.add_argument("--jobs", type=int, default=JOBS, help=f"families run in forked processes at once (default {JOBS})")
    ap.add_argument("--verbose", action="store_true", help="one line per family and solver query")
    try:
        args = ap.parse_args(argv)
    except SystemExit as e:
        return 2 if e.code else 0
    msg = families.bad_sizes(args.block_bits, args.budget, args.jobs)
    if msg:
        print(f"refreshloop: {msg}", file=sys.stderr)
        return 2
    print(f"== {LEMMA}: pcpu_block_refresh_hint() by a loop invariant, {families.sizes_text(args.block_bits)} "
          f"(budget {args.budget:g} s)", flush=True)
    rows = prove_refresh_loop(args.budget, args.block_bits, verbose=args.verbose, jobs=args.jobs)
    return 1 if families.report(rows, "by induction on one block") else 0


if __name__ == "__main__":
    raise SystemExit(main())
