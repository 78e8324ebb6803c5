"""A proof split into families of paths, each explored and queried in a forked process of its own.

A family is a slice of a lemma's paths (for the walk's invariant, loopinv.py:
where it is established, and where it is kept, per block the cut lies in and
whether the next region is found in that block).  Each family's
paths are explored under its own assumptions, its bitmap facts are
instantiated over its own terms only, and its queries (one per row or part
of a row, and case) are answered in three passes:

- pass 0: a fresh solver without the bitmap facts, a quarter of a fair share
  each (a proof without them is one with them; about half the walk's
  queries are decided here);
- passes 1 and 2: one solver holding the family's assumptions and facts,
  each query pushed and popped (``pushed``; four blocks of the walk: 507.7M
  units and 194 s, against 700.5M and 297 s with a fresh solver per query),
  half a fair share of what is left, then the undecided share the rest.

The families run at most ``jobs`` at once, in the order given (the costliest
first, so the pool's processes end close together), each with a share of the
budget fixed before any starts: a twentieth for the vacuity check (``Plan.vacuity_part``), the rest
by number of queries (each counted ``weight`` times, when its family sets
one).  A second round shares what the first left among the
queries still undecided (their families explored again, passes 1 and 2), its
shares too fixed before it starts.  So the verdicts and units depend on
neither ``jobs`` nor the machine.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import z3

from properties.oneline_args import OneLineParser
from properties.proofs.absbitmap import Terms
from properties.proofs.parallel import forked
from properties.proofs.parametric import JOBS, RESULT_OF, row_line, row_verdict
from properties.proofs.paramlemmas import N_MAX, block_bits_ok
from properties.proofs.prove import PROVED, Row
from properties.proofs.sym import Budget, PathEnd, PathLimit, Run, Unknown, explore
from properties.registry import PROPERTIES

_RANK = [z3.unsat, z3.unknown, z3.sat]  # CheckSatResult is not hashable


@dataclass
class Family:
    """One family of paths: its assumptions, and per row or part the cases that would break it."""

    name: str  # the row its parts roll up to, or a name for the verbose lines
    label: str  # what slice of the paths it is, for the verbose lines
    assume: list[z3.BoolRef]
    explore_assume: list[z3.BoolRef]  # what the path checks assume
    obligations: dict[str, list[z3.BoolRef]] = field(default_factory=dict)  # row or part -> bad cases
    paths: int = 0
    facts: list[z3.BoolRef] = field(default_factory=list)  # the bitmap facts over the family's terms
    weight: int = 1  # its queries' share of the first round, against 1 for every other family's


@dataclass(frozen=True)
class Query:
    """Does ``family`` break ``part`` in ``case``?  Its answer counts toward row ``row``."""

    family: Family
    row: str
    part: str
    case: z3.BoolRef


@dataclass
class Plan:
    """The families (in pool order), their queries, and what a child does for its family."""

    families: list[Family]
    queries: list[Query]
    terms: Terms
    explore: Callable[[Family, Budget], None]  # fills family.obligations and .paths; may raise Unknown
    facts: Callable[[Family, dict[int, Any]], tuple[list[z3.BoolRef], int]]  # (facts, terms) given the
    # terms before the family's exploration
    vacuity: Callable[[Budget], str]  # whether some state meets the assumptions
    pushed: bool = True
    verbose: bool = False
    rounds: int = 2  # 1: no second round (what a family leaves of its share is not used)
    vacuity_part: int = 20  # the vacuity check gets one part in this many of the budget


@dataclass
class Outcome:
    results: dict[str, z3.CheckSatResult]  # per row: unsat only if every query of the row is, sat if any is
    why: str  # a reason no row can be claimed (an exploration or the vacuity check out of budget)
    vacuous: bool
    paths: int
    terms: int


def solve(plan: Plan, budget: Budget, jobs: int) -> Outcome:
    """Runs every family in a forked process, then rolls the answers up per row."""
    ks_of = {id(f): [k for k, q in enumerate(plan.queries) if q.family is f] for f in plan.families}
    left = budget.remaining()
    vac_units = left // plan.vacuity_part
    share = (left - vac_units) // sum(f.weight * len(ks_of[id(f)]) for f in plan.families)
    calls: list[Callable[[], Any]] = [functools.partial(_work, plan, f, ks_of[id(f)],
                                                        share * f.weight * len(ks_of[id(f)])) for f in plan.families]
    done = forked([*calls, functools.partial(_vacuity, plan, vac_units)], jobs)
    vac, vac_used = done[-1]
    budget.charge(vac_used)
    # a proof needs assumptions some state meets: a vacuity check out of budget proves nothing
    why = "vacuity check: budget" if vac == str(z3.unknown) else ""
    answers: list[z3.CheckSatResult] = [z3.unknown] * len(plan.queries)
    paths = nterms = 0
    for fam, (got, used, failed, fam_paths, fam_terms) in zip(plan.families, done[:-1], strict=True):
        budget.charge(used)
        why = why or failed
        paths, nterms = paths + fam_paths, max(nterms, fam_terms)
        for k, r in zip(ks_of[id(fam)], got, strict=False):
            answers[k] = RESULT_OF[r]
    if plan.rounds > 1 and not why and vac == str(z3.sat):
        why = _second_round(plan, budget, jobs, ks_of, answers)
    # a row is unsat if every query of it is, sat if any is (a model in one family is one whichever
    # family ran out of budget before it), else unknown
    results: dict[str, z3.CheckSatResult] = {}
    for q, answer_ in zip(plan.queries, answers, strict=True):
        results[q.row] = max(results.get(q.row, z3.unsat), answer_, key=_RANK.index)
    return Outcome(results, why, vac == str(z3.unsat), paths, nterms)


def _second_round(plan: Plan, budget: Budget, jobs: int, ks_of: dict[int, list[int]],
                  answers: list[z3.CheckSatResult]) -> str:
    """What the families left of the budget, shared by the queries still undecided in rows no model
    refutes (updating ``answers``); returns why a family failed, if one did.

    Each such family is explored again in a child of its own (its obligations are Z3 terms of the
    first child, which is gone), and its queries get passes 1 and 2 only.  Four blocks of every
    size: block 0's kept family ran out of its first share on two queries with 2.7G units unused.
    """
    refuted = {q.row for q, a in zip(plan.queries, answers, strict=True) if a == z3.sat}
    retry = {id(f): [k for k in ks_of[id(f)] if answers[k] == z3.unknown and plan.queries[k].row not in refuted]
             for f in plan.families}
    again = [f for f in plan.families if retry[id(f)]]
    if not again:
        return ""
    nq = sum(len(retry[id(f)]) for f in again)
    share = budget.remaining() // nq
    if plan.verbose:
        print(f"  second round: {nq} queries of {len(again)} families, {share / 1e6:.1f}M units each", flush=True)
    calls: list[Callable[[], Any]] = [functools.partial(_work, plan, f, retry[id(f)], share * len(retry[id(f)]),
                                                          (1, 2)) for f in again]
    why = ""
    for fam, (got, used, failed, _, _) in zip(again, forked(calls, jobs), strict=True):
        budget.charge(used)
        why = why or failed
        for k, r in zip(retry[id(fam)], got, strict=False):
            answers[k] = RESULT_OF[r]
    return why


def _vacuity(plan: Plan, units: int) -> tuple[str, int]:
    b = Budget(units)
    return plan.vacuity(b), b.used


def _work(plan: Plan, family: Family, ks: list[int], units: int, passes: tuple[int, ...] = (0, 1, 2)
          ) -> tuple[list[str], int, str, int, int]:
    """One family in a process of its own: its paths (a quarter of its share), facts, and answers."""
    b, why, tw = Budget(units), "", time.perf_counter()
    before = dict(plan.terms.args)
    try:
        plan.explore(family, Budget(units // 4, parent=b))
    except (Unknown, PathLimit) as e:
        why = f"{family.name} {family.label}: {e}"
    family.facts, nterms = plan.facts(family, before)
    if plan.verbose:
        print(f"  {family.name} {family.label}: {family.paths} paths, {b.used / 1e6:.1f}M units, "
              f"{time.perf_counter() - tw:.1f}s", flush=True)
    got = [] if why else answer(family, plan.queries, ks, b, plan.pushed, plan.verbose, passes)
    if plan.verbose:
        print(f"  {family.name} {family.label} done: {b.used / 1e6:.1f}M units, {time.perf_counter() - tw:.1f}s",
              flush=True)
    return got, b.used, why, family.paths, nterms


def answer(family: Family, queries: list[Query], ks: list[int], within: Budget, pushed: bool = True,
           verbose: bool = False, passes: tuple[int, ...] = (0, 1, 2)) -> list[str]:
    """The answers to the family's queries ``ks``, in the passes of the module docstring (``passes``)."""
    out = dict.fromkeys(ks, z3.unknown)
    solver = None
    for pass_ in passes:
        refuted = {queries[k].row for k in ks if out[k] == z3.sat}
        todo = [k for k in ks if out[k] == z3.unknown and queries[k].row not in refuted]
        for left, k in enumerate(todo):
            q = queries[k]
            bad = family.obligations.get(q.part, [])
            tq, used = time.perf_counter(), within.used
            if not bad:
                out[k] = z3.unsat
            elif pass_ == 0:
                s = z3.SolverFor("QF_UFLIA")
                s.add(*family.assume, q.case, z3.Or(*bad))
                r = within.check(s, 4 * len(todo))
                out[k] = r if r == z3.unsat else z3.unknown  # a model without the facts may be no bitmap's
            else:
                if solver is None or not pushed:
                    solver = z3.SolverFor("QF_UFLIA")
                    solver.add(*family.assume, *family.facts)
                solver.push()
                solver.add(q.case, z3.Or(*bad))
                try:
                    out[k] = within.check(solver, (2 if pass_ == 1 else 1) * (len(todo) - left))
                finally:
                    solver.pop()
            if verbose and bad:
                print(f"  pass {pass_} {q.row} {q.part} ({str(q.case).replace(chr(10), '')}): {out[k]}, "
                      f"{(within.used - used) / 1e6:.1f}M units, {time.perf_counter() - tq:.1f}s", flush=True)
    return [str(out[k]) for k in ks]


ESTABLISHED, KEPT = "loop_invariant_established", "loop_invariant_kept"  # the rows of a proof by induction


def explorer_for(run: Callable[[Family], Any], on_path: Callable[[Family, PathEnd, Run], None]
                 ) -> Callable[[Family, Budget], None]:
    """Plan.explore for a loop's families: ``run(family)`` on every path under the family's explore_assume."""
    def explore_family(family: Family, within: Budget) -> None:
        explorer = z3.SolverFor("QF_UFLIA")
        explorer.add(*family.explore_assume)
        explore(explorer, functools.partial(run, family), functools.partial(on_path, family), budget=within,
                keep=False)
    return explore_family


def induction_rows(lemma: str, exit_rows: tuple[str, ...], out: Outcome, bounds: dict[str, Any]) -> list[Row]:
    """The rows of a proof by induction: ESTABLISHED, KEPT, and each of ``exit_rows``, which is PROVED
    only when its exit queries and both induction rows are unsatisfiable."""
    induction = [out.results.get(ESTABLISHED), out.results.get(KEPT)]
    rows = []
    for row in (ESTABLISHED, KEPT, *exit_rows):
        r = out.results.get(row, z3.unknown)
        ok = not out.why and r == z3.unsat and (row in (ESTABLISHED, KEPT) or all(x == z3.unsat for x in induction))
        verdict, note = row_verdict(r, ok, out.why, out.vacuous, unclosed="the induction is not closed")
        kind = "induction" if row in (ESTABLISHED, KEPT) else PROPERTIES[row].kind if row in PROPERTIES else "summary"
        rows.append(Row(lemma, row, kind, verdict, dict(bounds), note=note))
    return rows


def report(rows: list[Row], how: str) -> list[str]:
    """Prints the rows of a proof by families and a summary line ending in ``how``; returns the rows left
    open, each as lemma:property."""
    for r in rows:
        print(row_line(r, r.note), flush=True)
    open_rows = [f"{r.lemma}:{r.prop}" for r in rows if r.verdict != PROVED]
    print(f"== {len(rows) - len(open_rows)} of {len(rows)} proved {how}"
          + (f"; not proved: {', '.join(open_rows)}" if open_rows else ""), flush=True)
    return open_rows


def resolved(bads: list[z3.BoolRef]) -> list[z3.BoolRef]:
    """The disjunction of ``bads`` (each a conjunction) as fewer, shorter conjunctions, equivalent to it.

    Two conjunctions that differ only in one condition taken both ways (a path forked on it and
    the obligation does not depend on it) are one without it, and a conjunction that holds all
    of another's conditions adds nothing to the disjunction.  Both steps are exact, repeated
    until neither applies.
    """
    def lits(b: z3.BoolRef) -> frozenset[int]:
        # through the C API: an ExprRef per condition took most of the time on four blocks
        a = b.as_ast()
        if z3.is_and(b):
            cs = [z3.Z3_get_app_arg(ctx.ref(), a, k) for k in range(z3.Z3_get_app_num_args(ctx.ref(), a))]
        else:
            cs = [a]
        ids = [z3.Z3_get_ast_id(ctx.ref(), c) for c in cs]
        for i, c in zip(ids, cs, strict=True):
            if i not in terms:
                raw[i] = c
        return frozenset(ids)

    def term(i: int) -> z3.BoolRef:
        if i not in terms:
            terms[i] = z3.BoolRef(raw[i], ctx)
        return terms[i]

    def negated(i: int) -> int:
        if i not in neg:
            c = term(i)
            n = c.arg(0) if z3.is_not(c) else z3.Not(c)
            terms.setdefault(n.get_id(), n)
            neg[i] = n.get_id()
        return neg[i]

    if not bads:
        return []
    ctx = bads[0].ctx
    raw: dict[int, Any] = {}  # the conditions' ASTs, alive while ``bads`` is
    terms: dict[int, z3.BoolRef] = {}
    neg: dict[int, int] = {}
    todo = {lits(b) for b in bads}
    changed = True
    while changed:
        changed = False
        by_rest = {(a - {i}, i) for a in todo for i in a}  # each conjunction less one condition, and that one
        out = {rest for rest, i in by_rest if (rest, negated(i)) in by_rest}
        changed = bool(out)
        merged = {a for a in todo if not any((a - {i}) in out for i in a)} | out
        # drop the conjunctions another one's conditions are a part of
        kept = {a for a in merged if not any(b < a for b in merged)}
        changed = changed or kept != todo
        todo = kept
    return [z3.And(*[term(i) for i in sorted(a)]) for a in sorted(todo, key=lambda x: (len(x), sorted(x)))]


def chunk_parser(module: str, description: str, max_blocks: int) -> Any:
    """The command line of a chunk proof by families (``python -m properties.proofs.<module>``): --blocks,
    --budget, --block-bits, --jobs and --verbose; the caller adds its own and parses with parse_chunk_args."""
    ap = OneLineParser(prog=f"python -m properties.proofs.{module}", description=description)
    ap.add_argument("--blocks", type=int, default=4, help=f"blocks per chunk, 2..{max_blocks} (default 4)")
    ap.add_argument("--budget", type=float, default=600.0,
                    help="seconds (as Z3 units, prove.UNITS_PER_S), a cap split between the families before they start")
    ap.add_argument("--block-bits", type=int, default=None, help="one power-of-two block size instead of every size")
    ap.add_argument("--jobs", type=int, default=JOBS,
                    help=f"families run in forked processes at once (default {JOBS}; the verdicts and units do not "
                         "depend on it)")
    ap.add_argument("--verbose", action="store_true", help="one line per family and solver query")
    return ap


def sizes_text(block_bits: int | None) -> str:
    return "every block size" if block_bits is None else f"{block_bits} bits"


def parse_chunk_args(ap: Any, argv: list[str] | None, tool: str, max_blocks: int) -> Any:
    """``ap``'s arguments (with --blocks, --block-bits, --budget and --jobs), or the exit status: 0 after
    --help, 2 after one line on stderr for a bad argument."""
    import sys

    try:
        args = ap.parse_args(argv)
    except SystemExit as e:
        return 2 if e.code else 0
    msg = bad_args(args.blocks, max_blocks, args.block_bits, args.budget, args.jobs)
    if msg:
        print(f"{tool}: {msg}", file=sys.stderr)
        return 2
    return args


def bad_args(blocks: int, max_blocks: int, block_bits: int | None, budget_s: float, jobs: int) -> str:
    """What is wrong with a chunk proof's command line (its blocks, block size, budget or jobs), or ""."""
    if not 2 <= blocks <= max_blocks:
        return f"--blocks must be 2..{max_blocks}"
    return bad_sizes(block_bits, budget_s, jobs)


def bad_sizes(block_bits: int | None, budget_s: float, jobs: int) -> str:
    """What is wrong with a proof's block size, budget or jobs, or ""."""
    return (f"--block-bits must be a power of two <= {N_MAX}" if not block_bits_ok(block_bits) else
            "--budget must be > 0" if budget_s <= 0 else "--jobs must be >= 1" if jobs < 1 else "")
