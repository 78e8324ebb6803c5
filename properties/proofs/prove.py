"""Proving one lemma: assume the pre-properties, explore every path of the call, judge the post-properties.

Verdicts, per (lemma, property):

- PROVED: no feasible path violates the property, for the bounds printed;
- REFUTED: a model of the path condition violates it; the witness holds the
  bitmaps, the hints before and after, and the call's arguments;
- UNKNOWN: the budget ran out (or the solver said unknown) first;
- VACUOUS: the assumptions alone are unsatisfiable (checked on every run).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import z3

from impl.internal import MD_FIELDS
from impl.percpu import Percpu
from properties import invariants  # noqa: F401  (registers the inv_* properties)
from properties.proofs.lemmas import FIT_CHECKS, LEMMAS, NO_EXCEPTION, Lemma, State, percpu_for, scan_hint_prefix
from properties.proofs.sym import Budget, PathEnd, PathLimit, Run, SInt, Unknown, explore, formula, merged
from properties.proofs.symbitmap import Runs, SymBitmap, SymTruth, SymWindow
from properties.registry import OUTCOME, PROPERTIES

PROVED, REFUTED, UNKNOWN, VACUOUS = "PROVED", "REFUTED", "UNKNOWN", "VACUOUS"

# The budget is counted in Z3 resource units (rlimit), so a verdict never depends on the
# clock or on the machine's load.  Budgets are still given in "seconds": this many units
# per second, measured on the 2-core reference machine over the proof step of make verify
# (tools/bench_proofs.py --calibrate prints the figure for the machine it runs on).
UNITS_PER_S = 1_300_000
CAP_FACTOR = 4  # the wall-clock safety net: this many times the budget (sym.Budget)


@dataclass
class Row:
    lemma: str
    prop: str
    kind: str
    verdict: str
    bounds: dict[str, int]
    seconds: float = 0.0
    units: int = 0  # Z3 resource units the lemma used (deterministic, unlike seconds)
    witness: dict[str, Any] | None = None
    note: str = ""

    def bounds_text(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.bounds.items())


@dataclass
class Judge:
    """Per-window symbolic truths of one bitmap."""

    truths: list[tuple[str, SymTruth, SymWindow]] = field(default_factory=list)

    @staticmethod
    def of(bm: SymBitmap, tag: str, bb: int, nb: int) -> Judge:
        j = Judge()
        for i in range(nb):
            r = Runs(bm, i * bb, (i + 1) * bb)
            j.truths.append((f"block {i}", SymTruth(r, f"{tag}.b{i}"), SymWindow(r, i * bb, (i + 1) * bb, bb)))
        r = Runs(bm, 0, bb * nb)
        j.truths.append(("chunk", SymTruth(r, f"{tag}.chunk"), SymWindow(r, 0, bb * nb, bb)))
        j.chunk_runs = r  # type: ignore[attr-defined]
        return j

    def defs(self) -> z3.BoolRef:
        return z3.And(*[t.defs for _, t, _ in self.truths])

    def holds(self, prop: str, st: State) -> list[tuple[str, z3.BoolRef]]:
        """(where, condition under which the registry's property function returns None)."""
        p = PROPERTIES[prop]
        out = []
        for where, t, w in self.truths:
            if (p.scope == "block") != (where != "chunk"):
                continue
            md = st.chunk.chunk_md if where == "chunk" else st.chunk.md_blocks[int(where.split()[1])]
            out.append((where, formula(functools.partial(p.fn, md, t, w))))
        return out


def merge_block_update(pcpu: Percpu) -> None:
    """Callers of pcpu_block_update() see it as one path whose hint fields are If-terms (sym.merged)."""
    pcpu.pcpu_block_update = merged(pcpu.pcpu_block_update, MD_FIELDS)  # type: ignore[method-assign]


def slice_chunk_md(pcpu: Percpu) -> None:
    """Block-scope lemmas judge block hints only: drop the chunk_md updates (always the last statements).

    pcpu_chunk_refresh_hint() and pcpu_block_update() on chunk_md only write chunk_md, after every
    block has been updated, so skipping them changes no block field; the chunk-scope lemmas run them.
    """
    update = pcpu.pcpu_block_update

    def block_update_blocks_only(block: Any, start: Any, end: Any) -> None:
        if block.nr_bits == pcpu.PCPU_BITMAP_BLOCK_BITS:
            update(block, start, end)

    pcpu.pcpu_chunk_refresh_hint = lambda chunk, full_scan: None  # type: ignore[method-assign]
    pcpu.pcpu_block_update = block_update_blocks_only  # type: ignore[method-assign]


def _runs_at_most(bm: SymBitmap, lo: int, hi: int, r: int) -> z3.BoolRef:
    """The window has at most r maximal free runs (clear the lowest run start r times)."""
    free = ~z3.Extract(hi - 1, lo, bm.e)
    starts = free & ~(free << 1)
    for _ in range(r):
        starts = starts & (starts - 1)
    return starts == 0


def _val(m: z3.ModelRef, x: Any) -> int:
    if isinstance(x, SInt):
        return m.eval(x.e, model_completion=True).as_signed_long()  # type: ignore[no-any-return,union-attr]
    return int(x)


def _bits(m: z3.ModelRef, bm: SymBitmap, bb: int) -> list[str]:
    v = m.eval(bm.e, model_completion=True).as_long()  # type: ignore[union-attr]
    s = "".join("1" if (v >> i) & 1 else "0" for i in range(bm.nbits))
    return [s[i : i + bb] for i in range(0, bm.nbits, bb)]


def witness(m: z3.ModelRef, pre_state: State, post: State | None, ret: Any, bb: int, where: str) -> dict[str, Any]:
    """Concrete values of one counterexample: bitmaps (bit 0 first, '1' = in use), hints, arguments."""

    def mds(st: State) -> dict[str, dict[str, int]]:
        out = {f"block {i}": {f: _val(m, getattr(md, f)) for f in MD_FIELDS} for i, md in enumerate(st.chunk.md_blocks)}
        out["chunk"] = {f: _val(m, getattr(st.chunk.chunk_md, f)) for f in MD_FIELDS}
        return out

    w: dict[str, Any] = {
        "where": where,
        "args": {k: _val(m, v) for k, v in pre_state.args.items()},
        "map_before": _bits(m, pre_state.pre_map, bb),
        "map_after": _bits(m, pre_state.post_map, bb),
        "hints_before": mds(pre_state),
    }
    if post is not None:
        w["hints_after"] = mds(post)
        if ret is not None:
            w["returned"] = _val(m, ret)
    return w


def fresh_z3_context() -> None:
    """Starts Z3's default context afresh: the solver's search (and so the units a lemma uses)
    depends on every term created before, so each lemma starts from an empty context."""
    z3.z3._main_ctx = None  # main_ctx() builds a new Context on its next call


def budget_note(budget: Budget, budget_s: float) -> str:
    if budget.capped:
        return f"wall-clock safety cap {CAP_FACTOR * budget_s:g} s (budget {budget_s:g} s not used up)"
    return f"budget {budget_s:g} s = {budget.units / 1e6:g}M Z3 units"


def prove(
    lemma: Lemma | str,
    block_bits: int = 64,
    nblocks: int | None = None,
    runs: int = 1,
    budget_s: float = 60.0,
    variant: Callable[[Percpu], None] | None = None,
    prune_with_pre: bool = True,
    merge: bool | None = None,
) -> list[Row]:
    """Judges every post-property of ``lemma`` on the (possibly mutated) port; one Row per property."""
    lm = LEMMAS[lemma] if isinstance(lemma, str) else lemma
    bb, nb = block_bits, nblocks or lm.blocks
    fresh_z3_context()
    t0 = time.perf_counter()
    budget = Budget(max(1, int(budget_s * UNITS_PER_S)), cap_s=CAP_FACTOR * budget_s)
    bounds = {"block_bits": bb, "blocks": nb}
    if lm.runs_bound:
        bounds["runs_per_block"] = runs
    pcpu = percpu_for(bb)
    if variant is not None:
        variant(pcpu)
    if lm.scope == "block":
        slice_chunk_md(pcpu)
    if merge is None:
        merge = True  # the chunk-scope refutation that once kept merging off there is F9 (README.md)
    if lm.function != "pcpu_block_update" and merge:
        merge_block_update(pcpu)

    st0 = lm.setup(bb, nb)
    pre_j = Judge.of(st0.pre_map, "pre", bb, nb)
    post_j = pre_j if st0.post_map is st0.pre_map else Judge.of(st0.post_map, "post", bb, nb)
    # the exploring solver over-approximates (no run-length definitions): it only prunes paths
    explorer = z3.SolverFor("QF_BV")
    explorer.add(*st0.assume)
    pre_fs: list[z3.BoolRef] = []
    for prop in lm.pre:
        pre_fs += [f for _, f in pre_j.holds(prop, st0)]
    for where, _, w in pre_j.truths:
        md = st0.chunk.chunk_md if where == "chunk" else st0.chunk.md_blocks[int(where.split()[1])]
        pre_fs.append(scan_hint_prefix(md, w.runs))
    if lm.runs_bound:
        for i in range(nb):
            explorer.add(_runs_at_most(st0.post_map, i * bb, (i + 1) * bb, runs))
    if prune_with_pre:
        explorer.add(*pre_fs)
    light = z3.And(*explorer.assertions(), *pre_fs)
    base = z3.And(light, pre_j.defs(), post_j.defs())

    props = list(lm.post) + [NO_EXCEPTION]
    kinds = {p: (PROPERTIES[p].kind if p in PROPERTIES else OUTCOME) for p in props}
    rows = {p: Row(lm.name, p, kinds[p], PROVED, dict(bounds)) for p in props}

    def check(*fs: z3.BoolRef, share: int = 1) -> tuple[z3.CheckSatResult, z3.ModelRef | None]:
        # first without the largest-run definitions (an over-approximation: unsat there is unsat),
        # then, if that finds a model, with everything
        for b in (light, base):
            s = z3.SolverFor("QF_BV")
            s.add(b, *fs)
            r = budget.check(s, share)
            if r == z3.unsat:
                return r, None
        return r, (s.model() if r == z3.sat else None)

    r, _ = check()
    if r != z3.sat:
        verdict = VACUOUS if r == z3.unsat else UNKNOWN
        for row in rows.values():
            row.verdict, row.seconds = verdict, round(time.perf_counter() - t0, 2)
            why_not = f"vacuity check: {budget_note(budget, budget_s)}"
            row.note = "assumptions unsatisfiable" if r == z3.unsat else why_not
        return list(rows.values())

    def run() -> tuple[State, Any]:
        st = lm.setup(bb, nb)
        return st, st.call(pcpu)

    ends: list[tuple[z3.BoolRef, State | None, Any, dict[str, list[tuple[str, z3.BoolRef]]]]] = []

    def on_path(end: PathEnd, run_: Run) -> None:
        if budget.exhausted():
            raise Unknown("budget")
        pc = z3.And(*end.conds) if end.conds else z3.BoolVal(True)
        if end.error is not None:
            ends.append((pc, None, repr(end.error), {NO_EXCEPTION: [("call", z3.BoolVal(False))]}))
            return
        st, ret = end.value
        holds: dict[str, list[tuple[str, z3.BoolRef]]] = {NO_EXCEPTION: [("call", z3.BoolVal(True))]}
        for p in lm.post:
            if p in FIT_CHECKS:
                holds[p] = [("chunk", FIT_CHECKS[p](st, ret, post_j.chunk_runs, bb, nb))]  # type: ignore[attr-defined]
            else:
                holds[p] = post_j.holds(p, st)
        ends.append((pc, st, ret, holds))

    complete, why = True, ""
    try:
        # exploration gets 70% of the budget; the property queries the rest
        # every path from the base (keep=False): with the levels kept, the bit-vector path checks
        # got slower (make verify's 8-bit step: chunk_refresh_hint hit the wall-clock cap)
        explore(explorer, run, on_path, budget=Budget(int(0.7 * budget.units), parent=budget), keep=False)
    except (Unknown, PathLimit) as e:
        complete, why = False, (budget_note(budget, budget_s) if str(e) == "budget" else str(e))
    # one query per property over every path: some path whose condition holds violates it.
    # Pass 1 gives each query a fair share of what is left; pass 2 retries the undecided ones
    # (typically the EXACT contig_hint row) with the whole remainder.
    undecided: list[str] = []
    for pass_ in (1, 2):
        todo = props if pass_ == 1 else undecided
        undecided = []
        for k, p in enumerate(todo):
            bad = [z3.And(pc, z3.Not(f)) for pc, _, _, h in ends for _, f in h.get(p, [])]
            if not bad:
                r, m = z3.unsat, None
            elif not budget.exhausted():
                r, m = check(z3.Or(*bad), share=len(todo) - k)
            else:
                r, m = z3.unknown, None  # out of time: never a proof
            if r == z3.unknown and pass_ == 1:
                undecided.append(p)
                continue
            if r == z3.sat:
                assert m is not None
                rows[p].verdict = REFUTED
                for pc, st, ret, h in ends:
                    hit = [w for w, f in h.get(p, [])
                           if z3.is_true(m.eval(z3.And(pc, z3.Not(f)), model_completion=True))]
                    if hit:
                        rows[p].witness = witness(m, st0, st, None if st is None else ret, bb, hit[0])
                        if st is None:
                            rows[p].note = str(ret)
                        break
            elif r == z3.unknown or not complete:
                # a refutation found on part of the paths is real; a proof needs every path
                rows[p].verdict = UNKNOWN
                rows[p].note = why or budget_note(budget, budget_s)
    dt = round(time.perf_counter() - t0, 2)
    for row in rows.values():
        row.seconds = dt
        row.units = budget.used
        row.bounds["paths"] = len(ends)
        if not complete:
            row.note = (row.note + f"; {len(ends)} paths explored before the budget").lstrip("; ")
    return list(rows.values())
