"""Summaries of pcpu_block_update() for callers proved with it replaced (freefamilies.py).

A summary is a lemma about the port's own function, proved here or in
another module, that a caller's proof uses in place of running it: at the
call the summary's precondition is an obligation, after it the fields the
function writes are fresh values with the summary's post-condition assumed.

- On a block (:data:`UPDATE_POST`): folding a maximal free run of the
  block's new bitmap into hints sound for its old one.  The every-size
  lemma block_update (parametric.py) proves the rows, :func:`prove_ranges`
  here that the hints stay in [0, nr_bits].
- On chunk_md (:data:`CHUNK_UPDATE_POST`): the chunk's upper and lower
  bound hints (contig_hint not above the largest run and free, scan_hint
  free, first_free not past the first free bit) stay sound when the region
  offered is free, or empty or reversed (start >= end: pcpu_block_update_hint_free()
  offers chunk_md a block-relative end, ledger F2).  :func:`prove_chunk_update`
  proves it for every size, with one bitmap: these bounds only need the
  region free in the bitmap the hints are sound for.
"""

from __future__ import annotations

import functools
from typing import Any

import z3

from impl.internal import pcpu_chunk
from properties.proofs.absbitmap import AbsBitmap, AbsTruth, AbsWindow, Terms, axioms, close_under_pu
from properties.proofs.abstractions import ALIGNED, abstract_primitives
from properties.proofs.expected import EXPECTED
from properties.proofs.lemmas import BLOCK_PROPS, md_fields, md_range_list
from properties.proofs.parametric import _twin, holds, proof_start, row_verdict, stamped
from properties.proofs.paramlemmas import ALL_SIZES, N_MAX, Instance, setup_block_update
from properties.proofs.prove import Row, fresh_z3_context
from properties.proofs.sym import Budget, PathEnd, PathLimit, Run, SInt, Unknown, explore, integer_terms, var
from properties.registry import PROPERTIES

UPDATE_POST = tuple(p for p in BLOCK_PROPS if ("block_update", p) not in EXPECTED)
CHUNK_UPDATE_POST = ("inv_chunk_contig_hint_upper", "inv_chunk_scan_hint", "inv_chunk_first_free_lower")
RANGES = "hints_in_range"
CHUNK_MAX = 4 * N_MAX  # chunk_md of up to four blocks of every size


def prove_summaries(budget_s: float = 60.0, variant: Any = None) -> list[Row]:
    """Every row the summaries of pcpu_block_update() rest on: block_update's UPDATE_POST rows (parametric.py,
    every size), its ranges, and the chunk_md update's rows."""
    from properties.proofs.parametric import prove_param

    return [*prove_param("block_update", budget_s, variant, list(UPDATE_POST), jobs=1),
            *prove_ranges(budget_s, variant), *prove_chunk_update(budget_s, variant)]


def prove_ranges(budget_s: float = 60.0, variant: Any = None) -> list[Row]:
    """pcpu_block_update() under block_update's assumptions leaves every hint field in [0, nr_bits]."""
    def setup(n: z3.ArithRef, terms: Terms) -> tuple[Instance, list[AbsTruth], dict[str, Any]]:
        return (setup_block_update(n, terms), [],
                {RANGES: lambda chunk: z3.And(*md_range_list(chunk.md_blocks[0]))})

    return _explored("block_update", setup, budget_s, variant)


def prove_chunk_update(budget_s: float = 60.0, variant: Any = None) -> list[Row]:
    """CHUNK_UPDATE_POST kept by pcpu_block_update() on chunk_md offered a free, empty or reversed region."""
    def setup(m: z3.ArithRef, terms: Terms) -> tuple[Instance, list[AbsTruth], dict[str, Any]]:
        bm = AbsBitmap("map", m, terms)
        chunk = pcpu_chunk(0)
        chunk.chunk_md = md = md_fields("chunk", 0)
        md.nr_bits = SInt(m)
        chunk.md_blocks = []
        chunk.alloc_map = bm  # type: ignore[assignment]
        t, w = AbsTruth(bm, "t"), AbsWindow(bm)
        s, e = var("start"), var("end")
        for x in (s, e, s - 1, e - 1, m, md.contig_hint_start.e, md.scan_hint_start.e, md.first_free.e,
                  md.contig_hint_start.e + md.contig_hint.e, md.scan_hint_start.e + md.scan_hint.e):
            terms.add(x)
        assume = [m >= 1, m <= CHUNK_MAX, s >= 0, s <= m, e >= 0, e <= m, *md_range_list(md), t.defs,
                  z3.Or(s >= e, bm.free(s, e - s)), *[holds(p, md, t, w) for p in CHUNK_UPDATE_POST]]
        inst = Instance(chunk, bm, bm, assume, lambda p, c: p.pcpu_block_update(c.chunk_md, SInt(s), SInt(e)))
        posts = {p: functools.partial(lambda q, after: holds(q, after.chunk_md, t, w), p) for p in CHUNK_UPDATE_POST}
        return inst, [t], posts

    return _explored("chunk_update", setup, budget_s, variant)


def _explored(name: str, setup: Any, budget_s: float, variant: Any) -> list[Row]:
    """Runs the port's pcpu_block_update() on ``setup``'s state on every path; one Row per post-condition.

    ``setup(n, terms)`` gives the Instance, the truths whose stretch facts the queries get, and the
    post-conditions by row (each a function of the chunk the call left).
    """
    fresh_z3_context()
    ALIGNED.clear()
    with integer_terms(), abstract_primitives():
        t0, budget, pcpu, terms, n = proof_start(budget_s, variant, None)
        inst, truths, posts = setup(n, terms)
        bads: dict[str, list[z3.BoolRef]] = {p: [] for p in posts}

        def on_path(end: PathEnd, run_: Run) -> None:
            if end.error is not None:
                raise PathLimit(f"pcpu_block_update raised {end.error!r}")
            for p, post in posts.items():
                bads[p].append(z3.And(*end.conds, z3.Not(post(end.value))))

        def run() -> pcpu_chunk:
            twin = _twin(inst.chunk)
            inst.call(pcpu, twin)
            return twin

        explorer = z3.SolverFor("QF_UFLIA")
        explorer.add(*inst.assume)
        why, results = "", {}
        try:
            explore(explorer, run, on_path, budget=Budget(budget.units // 4, parent=budget), keep=False)
        except (Unknown, PathLimit) as e:
            why = str(e)
        close_under_pu(inst.pre)
        args = list(terms.args.values())
        facts = [*axioms(inst.pre, args), *[t.stretch_bounded(a) for t in truths for a in args]]
        if inst.post is not inst.pre:
            close_under_pu(inst.post)
            facts += axioms(inst.post, args)
        vac = z3.SolverFor("QF_UFLIA")
        vac.add(*inst.assume, *facts)
        vacuity = budget.check(vac) if not why else z3.unknown
        vacuous = vacuity == z3.unsat
        # a proof needs assumptions some state meets: a vacuity check out of budget proves nothing
        why = why or ("" if vacuity != z3.unknown else "vacuity check: budget")
        for p, bs in bads.items():
            if why or vacuous:
                break
            s = z3.SolverFor("QF_UFLIA")
            s.add(*inst.assume, *facts, z3.Or(*bs))
            results[p] = budget.check(s)
        rows = []
        for p in posts:
            r = results.get(p, z3.unknown)
            verdict, note = row_verdict(r, not why and r == z3.unsat, why, vacuous)
            kind = PROPERTIES[p].kind if p in PROPERTIES else "summary"
            sizes = ALL_SIZES if name == "block_update" else f"1..{CHUNK_MAX}"
            bounds: dict[str, Any] = {"block_bits": sizes, "paths": len(next(iter(bads.values())))}
            rows.append(Row(name, p, kind, verdict, bounds, note=note))
        return stamped(rows, t0, budget)
