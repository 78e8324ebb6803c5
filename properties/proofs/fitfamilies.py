"""pcpu_find_block_fit()'s rows on a chunk of several blocks, by families of paths.

parametric.py proves chunk_find_fit with one query per row over every path:
on three and four blocks of 64 bits fit_start_leads_to_fit runs out of budget
there (4x64: its one query unknown at 287.5M units, after a 93.7 s vacuity
check over all 156 terms).  Here the port's pcpu_find_block_fit() is explored
once, as there (pcpu_next_hint() merged into one If-valued result), and its
paths are grouped by the block the returned start lies in: the block whose
hints the start was computed from (its contig_hint, found by
pcpu_next_hint() on the block, or the ALIGN of its right_free edge).  That
is read off the returned term (:func:`_key`); a path whose start names
no block or several goes to a family of its own, so the families cover
every path whatever the grouping finds.

Each group is a families.py Family: its obligations are its own paths, its
bitmap facts are instantiated over the terms of its own assumptions and
paths only, and it is queried in a forked process.  The paths are explored
in the parent before the families fork, so a family's child and a second
round's child only select them.  fit_start_leads_to_fit's paths are sliced
to the start's block (:func:`_slice`, :func:`_pinned`, :func:`_canonical`;
properties/proofs/README.md has why each step is sound and what it saved).
"""

from __future__ import annotations

import time
from typing import Any

import z3

from properties.proofs.absbitmap import axioms, close_under_pu
from properties.proofs.abstractions import ALIGNED, BlockBits, abstract_primitives
from properties.proofs.families import Family, Plan, Query, chunk_parser, parse_chunk_args, report, sizes_text, solve
from properties.proofs.lemmas import ALL_PRE, BLOCK_PROPS, FIT_PROPS
from properties.proofs.parametric import JOBS, Judge, _twin, holds, proof_start, row_verdict, stamped, symbolic_geometry
from properties.proofs.paramlemmas import POW2_SIZES, setup_chunk_find_fit
from properties.proofs.prove import Row, fresh_z3_context
from properties.proofs.slicing import NAMES as _NAMES
from properties.proofs.slicing import applied as _applied
from properties.proofs.slicing import names_of as _names_in
from properties.proofs.slicing import on_chunk as _on_chunk
from properties.proofs.slicing import owners as _owners
from properties.proofs.slicing import terms_in
from properties.proofs.sym import (
    Budget,
    PathEnd,
    PathLimit,
    Run,
    SInt,
    Unknown,
    explore,
    integer_terms,
    merged_value,
)
from properties.registry import OUTCOME, PROPERTIES

LEMMA = "chunk_find_fit"
FUNCTION = "pcpu_find_block_fit"
MAX_BLOCKS = 4  # BlockBits knows the block arithmetic for chunks of up to four blocks


# what each row assumes.  The start the search returns is computed from one block's hints only
# (chunk_md decides where the search begins and whether it runs), so fit_start_leads_to_fit
# assumes the block properties alone: it holds whatever chunk_md says.  That a fit is found
# when one exists needs chunk_md's hints too (pcpu_check_block_hint() may give up early)
FIT_PRE = {"fit_found_if_one_exists": ALL_PRE, "fit_start_leads_to_fit": BLOCK_PROPS}


# the rows whose paths are sliced to the start's block and those after it (_slice)
SLICED = {"fit_start_leads_to_fit"}


def _aligned(found: list[tuple[Any, Any]]) -> dict[str, frozenset[str]]:
    """The path's ALIGN results by name, each with the names of the term it aligned."""
    return {c.decl().name(): _names_in(x) for c, x in found if z3.is_const(c)}


def _names(t: z3.ExprRef, aligned: dict[str, frozenset[str]]) -> frozenset[str]:
    """The names ``t`` is built from, an ALIGN result standing also for the names it aligned."""
    names = _names_in(t)
    return names.union(*[aligned[x] for x in names if x in aligned])


def _slice(conds: list[z3.BoolRef], owners: frozenset[int], nb: int,
           aligned: dict[str, frozenset[str]]) -> list[z3.BoolRef]:
    """The path's conditions that speak of no block before the start's, nor of chunk_md.

    Why the search passed over the blocks before, and where chunk_md made it begin, say nothing
    about the fit at the start, and dropping conditions only adds models: a query
    unsatisfiable without them is unsatisfiable with them.  Many paths then share one
    obligation (kept once).  The block index the search began at, a term over chunk_md's
    hints that the returned start is built on, is pinned to its value first (:func:`_pinned`).
    """
    if not owners:
        return conds
    lo = min(owners)
    keep = []
    for c in conds:
        names = _names(c, aligned)
        if not _on_chunk(names) and all(i >= lo for i in _owners(names, nb)):
            keep.append(c)
    return keep


def _canonical(bad: z3.BoolRef, found: list[tuple[Any, Any]]) -> z3.BoolRef:
    """``bad`` with each ALIGN result named after the term it aligned, not after the path's length.

    A path's names are its own: an obligation is satisfiable whatever its variables are called,
    so renaming them consistently within it changes nothing, and two ALIGN results of one term
    are one value (ALIGN is a function).  Paths that differ only before the start's block then
    give the same obligation, kept once (the last block's contig_hint family on four blocks:
    50 obligations become a few).
    """
    subs = [(c, z3.Const(f"align@{x.get_id()}", c.sort())) for c, x in found if z3.is_const(c)]
    return z3.substitute(bad, *subs) if subs else bad


def _pinned(ret: SInt, run_: Run) -> SInt:
    """``ret`` with each of its subterms over chunk_md's hints (and the request, no block's) replaced
    by the value the path's conditions on chunk_md pin it to (checked: they allow no other).

    Such a subterm is the block index the search began at (BlockBits' division of the start
    pcpu_next_hint() gave on chunk_md); the loop's index is a plain number on every path, so
    the returned start is the index's value times the block size plus the block's offset.  With
    the index pinned, the returned start no longer needs chunk_md's conditions (_slice drops
    them): the queries of the last block's families stayed undecided at 226M units with them.
    The check asks only the path's conditions on chunk_md, so its answer holds for every path
    with the same ones (_PINS); ``run_`` is the path's run (sym.explore's on_path), whose model
    proposes the value.
    """
    subs: list[tuple[z3.ExprRef, z3.ExprRef]] = []
    todo, seen = [ret.e], set()
    on_chunk = [c for c in run_.conds if _on_chunk(_names_in(c))]
    ids = frozenset(c.get_id() for c in on_chunk)
    while todo:
        u = todo.pop()
        if u.get_id() in seen:
            continue
        seen.add(u.get_id())
        names = _names_in(u)
        if _on_chunk(names) and not _owners(names, MAX_BLOCKS) and not z3.is_const(u):
            key = (u.get_id(), ids)
            if key not in _PINS:
                v = run_.path_model().eval(u, model_completion=True)
                solver = z3.SolverFor("QF_UFLIA")
                solver.add(*on_chunk, u != v)
                _PINS[key] = (u, v if run_.budget.check(solver) == z3.unsat else None)
            v_ = _PINS[key][1]
            if v_ is not None:
                subs.append((u, v_))
                continue
        todo.extend(u.children())
    return SInt(z3.substitute(ret.e, *subs)) if subs else ret


# _pinned's answers by (subterm, the path's conditions on chunk_md), with the subterm kept alive
_PINS: dict[tuple[int, frozenset[int]], tuple[z3.ExprRef, z3.ExprRef | None]] = {}


def _chunk_level(prop: str) -> bool:
    return any(PROPERTIES[q].scope == "chunk" for q in FIT_PRE[prop])


def _key(ret: Any, aligned: dict[str, frozenset[str]], nb: int) -> tuple[frozenset[int], bool]:
    """The blocks whose hints the returned start is built from, and whether it is an ALIGN result
    (a right_free edge) rather than pcpu_next_hint() on a block (its contig_hint)."""
    if not isinstance(ret, SInt):
        return frozenset(), False
    return _owners(_names(ret.e, aligned), nb), any(x in aligned for x in _names_in(ret.e))


def prove_fit(blocks: int = 4, budget_s: float = 600.0, block_bits: int | None = None, variant: Any = None,
              props: list[str] | None = None, verbose: bool = False, jobs: int = JOBS, rounds: int = 2) -> list[Row]:
    """The fit rows (default both) of pcpu_find_block_fit() on ``blocks`` blocks, one Row each.

    ``block_bits``: one power-of-two block size instead of every size; ``variant``: a mutant
    applied to the port; ``rounds``: 1 leaves out families.py's second round.
    """
    fresh_z3_context()
    ALIGNED.clear()
    try:
        with integer_terms(), abstract_primitives():
            return _prove_fit(blocks, budget_s, block_bits, variant, props or list(FIT_PROPS), verbose, jobs, rounds)
    finally:  # their terms belong to this proof's Z3 context
        _NAMES.clear()
        _PINS.clear()


def _prove_fit(nb: int, budget_s: float, block_bits: int | None, variant: Any, props: list[str], verbose: bool,
               jobs: int, rounds: int) -> list[Row]:
    t0, budget, pcpu, terms, n = proof_start(budget_s, variant, block_bits)
    inst = setup_chunk_find_fit(n, terms, nb)
    inst.pre.memoize = False  # as parametric.py's chunk lemmas (the kept terms change Z3's AST ids)
    symbolic_geometry(pcpu, BlockBits(n), nb)
    pcpu.pcpu_next_hint = merged_value(pcpu.pcpu_next_hint)  # type: ignore[method-assign]
    judge = Judge.of(inst.pre, "pre", n, nb, pcpu.PCPU_BITMAP_BLOCK_BITS)
    whole = range(nb)

    def assume(p: str, blocks: range) -> list[z3.BoolRef]:
        """What row ``p`` assumes of ``blocks`` (and, if it assumes chunk properties, of chunk_md)."""
        out = list(inst.assume)
        for q in FIT_PRE[p]:
            if PROPERTIES[q].scope == "chunk":
                out.append(judge.holds(q, inst.chunk))
            else:
                out += [holds(q, inst.chunk.md_blocks[i], *judge.blocks[i][:2]) for i in blocks]
        return [*out, *[judge.blocks[i][0].defs for i in blocks], *([judge.chunk[0].defs] if _chunk_level(p) else [])]

    block_truths = [t for t, _, _ in judge.blocks]
    scope: dict[int, range] = {}  # the blocks a family's assumptions and facts speak of
    kept: set[tuple[int, int]] = set()  # (family, obligation) ids: paths that give one obligation keep it once
    groups: dict[tuple[str, frozenset[int], bool], Family] = {}

    def run() -> tuple[Any, list[tuple[Any, Any]]]:
        ALIGNED.clear()  # the path's own ALIGN results: a defined name is the same value only along one path
        return inst.call(pcpu, _twin(inst.chunk)), list(ALIGNED.values())

    def on_path(end: PathEnd, run_: Run) -> None:
        if end.error is not None:
            raise PathLimit(f"{FUNCTION} raised {end.error!r}")
        ret, found = end.value
        aligned = _aligned(found)
        owners, via_align = _key(ret, aligned, nb)
        # the fit candidates of the block the start is in (a proof needs one; fewer is a stronger claim)
        mine = [(c, x) for c, x in found if not owners or frozenset() < _owners(_names_in(x), nb) <= owners]
        for p in props:
            # the failed searches are one family: split by the blocks they looked at (five families
            # on four blocks of every size), each got too small a share and the proof took 580.1M
            # units and 188 s, against 256.3M and 133 s
            key = (p, owners, via_align)
            fam = groups.get(key)
            if fam is None:
                at = "a right_free edge" if via_align else "a contig_hint"
                label = (f"(start at {at} of block {min(owners)})" if len(owners) == 1 else
                         f"(start from blocks {sorted(owners)})" if owners else "(no start: the search failed)")
                blocks = range(min(owners), nb) if p in SLICED and owners else whole
                fam = groups[key] = Family(p, label, assume(p, blocks), [])
                scope[id(fam)] = blocks
            fam.paths += 1
            sliced = p in SLICED and owners and isinstance(ret, SInt)
            conds = _slice(end.conds, owners, nb, aligned) if sliced else end.conds
            at_ret = _pinned(ret, run_) if sliced else ret
            assert inst.judge is not None  # the fit setups judge the returned start
            post = inst.judge(p, at_ret, block_truths, mine)
            if z3.is_true(z3.simplify(post)):  # a failed search (-1) is no start to judge
                continue
            bad = z3.And(*conds, z3.Not(post))
            if sliced:  # simplified as the bitmap's arguments are when its facts are instantiated
                bad = z3.simplify(_canonical(bad, found))
            if (id(fam), bad.get_id()) not in kept:
                kept.add((id(fam), bad.get_id()))
                fam.obligations.setdefault(p, []).append(bad)

    # the path checks assume only the ranges (parametric.py's explore_pre=False for this lemma)
    explorer = z3.SolverFor("QF_UFLIA")
    explorer.add(*inst.assume)
    why = ""
    try:
        explore(explorer, run, on_path, budget=Budget(budget.units // 4, parent=budget), keep=False)
    except (Unknown, PathLimit) as e:
        why = str(e)
    explored_s = time.perf_counter() - t0
    if verbose:
        print(f"  exploration: {sum(f.paths for f in groups.values())} paths in {len(groups)} families, "
              f"{budget.used / 1e6:.1f}M units, {explored_s:.1f}s", flush=True)
    close_under_pu(inst.pre)
    own: dict[int, dict[int, z3.ArithRef]] = {}
    for fam in groups.values():
        bads = [f for fs in fam.obligations.values() for f in fs]
        # a sliced family's obligations name their ALIGN results afresh (_canonical): its terms are
        # the arguments the bitmap's functions are applied to there, not the registered ones
        own[id(fam)] = terms_in(fam.assume, terms) | (_applied(bads, inst.pre) if fam.name in SLICED
                                                        else terms_in(bads, terms))

    def facts(family: Family, before: dict[int, Any]) -> tuple[list[z3.BoolRef], int]:
        """Instances over the terms of the family's own assumptions and paths only."""
        args = list(own[id(family)].values())
        return [*axioms(inst.pre, args),
                *judge.facts(args, inst.chunk, _chunk_level(family.name), scope[id(family)])], len(args)

    def vacuity(within: Budget) -> str:
        """Whether some bitmap meets the largest of the assumptions (every family's are a part of it)."""
        p = max(props, key=lambda q: len(FIT_PRE[q]))
        s = z3.SolverFor("QF_UFLIA")
        fs = assume(p, whole)
        args = list(terms_in(fs, terms).values())
        s.add(*fs, *axioms(inst.pre, args), *judge.facts(args, inst.chunk, _chunk_level(p)))
        return str(within.check(s))

    # the families with the most paths first, so the pool's processes end close together; a family's
    # share of the budget grows by one part per hundred obligations (four blocks of 64 bits:
    # fit_found_if_one_exists's 534 failed searches needed a second round with even shares, and
    # shares by obligations starved the sliced families of one to three)
    order = sorted(groups.values(), key=lambda f: -f.paths)
    for fam in order:
        fam.weight = 1 + sum(len(fs) for fs in fam.obligations.values()) // 100
    queries = [Query(f, f.name, f.name, z3.BoolVal(True)) for f in order]
    rows: list[Row] = []
    bounds: dict[str, Any] = {"block_bits": POW2_SIZES if block_bits is None else block_bits, "blocks": nb}
    if why or not queries:
        results: dict[str, z3.CheckSatResult] = {}
        vacuous, npaths, nterms = False, sum(f.paths for f in groups.values()), len(terms.args)
    else:
        out = solve(Plan(order, queries, terms, lambda family, within: None, facts, vacuity, True, verbose, rounds),
                    budget, jobs)
        results, why, vacuous, npaths, nterms = out.results, out.why, out.vacuous, out.paths, out.terms
    bounds |= {"paths": npaths, "terms": nterms, "families": len(groups)}
    for p in props:
        r = results.get(p, z3.unknown)
        verdict, note = row_verdict(r, not why and r == z3.unsat, why, vacuous)
        rows.append(Row(LEMMA, p, PROPERTIES[p].kind if p in PROPERTIES else OUTCOME, verdict, dict(bounds),
                        note=note))
    return stamped(rows, t0, budget)


def run(blocks: int, budget_s: float, block_bits: int | None = None, props: list[str] | None = None,
        verbose: bool = False, jobs: int = JOBS) -> list[str]:
    """Proves the fit rows on ``blocks`` blocks and prints them; returns the rows left open."""
    return report(prove_fit(blocks, budget_s, block_bits, props=props, verbose=verbose, jobs=jobs),
                  f"on {blocks} blocks")


def main(argv: list[str] | None = None) -> int:
    ap = chunk_parser("fitfamilies", "pcpu_find_block_fit()'s fit rows on several blocks, by families of paths",
                      MAX_BLOCKS)
    ap.add_argument("--prop", action="append", choices=FIT_PROPS, help="a fit row (repeatable; default both)")
    args = parse_chunk_args(ap, argv, "fitfamilies", MAX_BLOCKS)
    if isinstance(args, int):
        return args
    print(f"== {LEMMA} by families of paths, {args.blocks} blocks of {sizes_text(args.block_bits)} "
          f"(budget {args.budget:g} s)", flush=True)
    return 1 if run(args.blocks, args.budget, args.block_bits, args.prop, args.verbose, args.jobs) else 0


if __name__ == "__main__":
    raise SystemExit(main())
