"""A chunk hint update proved with the calls it makes replaced by summaries: what freefamilies.py and
allocfamilies.py share.

A caller module gives a :class:`Summarised`: the lemma's setup (paramlemmas),
a function that installs its summaries on the port (each records its
precondition as obligations on the path's :class:`Trace` and assumes its
post-condition on fresh hints), the rows those preconditions roll up to,
the rows the faithful port refutes (ledger, not queried) and those no
summary states (not claimed), and the summaries' own proofs, run first.

The port's own update then runs once through sym.explore, in the parent.
Each obligation goes to a families.py Family by what it speaks of: a
block's rows by the block and its part in the change (rewritten by a
summary, changed by the port's own code, untouched), the summaries'
preconditions by block (or chunk_md's alone, or chunk_md's with the block
the caller focuses them on), the chunk rows by the summary that last wrote
chunk_md.  Conditions naming other blocks' hints or chunk_md's are dropped
from a block's obligations (fewer conditions only admit more models: a
query unsatisfiable without them is unsatisfiable with them).  A
post-condition that is literally one of the summary facts the path assumed
is not queried.  The path's defined values are renamed after their defining
terms (:func:`_renaming`), and each family's obligations are resolved
(families.resolved) before they are queried.  A later obligation of a path
may assume the preconditions recorded before it: each is proved as its own
row.  A row is claimed only when its own queries, every summary
precondition and the summaries' own rows are unsatisfiable.

With ``Summarised.independent`` (allocfamilies.py), the paths are explored
once per block and once for chunk_md, each time with the conditions on the
others' hints taken one way only (sym.pruned), and each obligation keeps
only its cone (independence.coned).  That is sound when the update writes a
block's hints only under conditions on that block's hints and the change's
place, and chunk_md's only under chunk_md's: :func:`independence_gap`
checks it on one instance against the full exploration.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import z3

from impl.internal import MD_FIELDS, pcpu_block_md, pcpu_chunk
from impl.percpu import Percpu
from properties.proofs.absbitmap import Terms, axioms, close_under_pu
from properties.proofs.abstractions import ALIGNED, BlockBits, abstract_primitives
from properties.proofs.families import Family, Plan, Query, resolved, solve
from properties.proofs.independence import coned, uncovered
from properties.proofs.lemmas import ALL_PRE, BLOCK_PROPS, CHUNK_PROPS
from properties.proofs.parametric import Judge, _twin, holds, proof_start, row_verdict, stamped, symbolic_geometry
from properties.proofs.paramlemmas import NOT_PROVED, POW2_SIZES, Instance
from properties.proofs.prove import PROVED, Row, fresh_z3_context
from properties.proofs.slicing import NAMES, applied, names_of, on_chunk, owners, terms_in
from properties.proofs.sym import Budget, PathEnd, PathLimit, Run, SInt, Unknown, explore, integer_terms, pruned
from properties.registry import PROPERTIES

HINTS = [f for f in MD_FIELDS if f != "nr_bits"]
CHUNK_ONLY = -2  # a chunk family's focus: chunk_md and the chunk's truths, no block
CHUNK_TARGET = -1  # an exploration for chunk_md's rows and obligations (Summarised.independent)
ROWS = BLOCK_PROPS + CHUNK_PROPS


@dataclass
class Trace:
    """What one path did at the summarised calls: obligations, and what it may assume after them."""

    chunk: pcpu_chunk
    updated: dict[int, pcpu_block_md] = field(default_factory=dict)  # block -> its fresh hints
    chunk_by: str = ""  # the summary chunk_md's hints were last written by ("" if none)
    # (part, block or -1, what must hold, how many of ``assumed`` were made before it: a summary's
    # own facts never serve its precondition)
    obligations: list[tuple[str, int, z3.BoolRef, int]] = field(default_factory=list)
    assumed: list[z3.BoolRef] = field(default_factory=list)
    marks: dict[str, Any] = field(default_factory=dict)  # what a caller's summaries note for its at_end


@dataclass
class Proof:
    """What a caller's summaries see of the running proof."""

    pcpu: Percpu
    inst: Instance
    pre_j: Judge
    post_j: Judge
    terms: Terms
    n: Any
    nb: int
    current: list[Trace]


@dataclass(frozen=True)
class Summarised:
    """A lemma proved with summaries (module docstring)."""

    lemma: str
    function: str
    setup: Callable[..., Instance]  # paramlemmas.setup_chunk_hint_*(n, terms, nb)
    calls: Callable[[Proof], None]  # installs the summaries on Proof.pcpu
    pre_rows: tuple[str, ...]  # the rows the summaries' preconditions roll up to
    ledger: dict[str, str]  # rows the faithful port refutes -> ledger finding ("F<n>", or "F<n>: how"): not queried
    unstated: dict[str, str]  # rows no summary states -> why: not claimed
    summaries: Callable[[Any], list[Row]]  # the summaries' own rows, given the variant
    proved_note: str  # a claimed row's note; {nb} and {bits} are filled in
    # the family a precondition's obligation goes to: (row, block or -1, trace) -> a block whose
    # assumptions and facts it gets with chunk_md's, CHUNK_ONLY, or None (its block's, or all)
    focus: Callable[[str, int, Trace], int | None] = lambda row, i, tr: CHUNK_ONLY if i < 0 else None
    # explored once per block and once for chunk_md, each time with the conditions on the others'
    # hints taken one way only (module docstring: independence); None explores every path once
    independent: str | None = None  # why the blocks' and chunk_md's branches are independent
    # obligations added at the end of every path (with every assumption of the path before them)
    at_end: Callable[[Trace, Proof], None] | None = None


# the defining terms _renaming names values after, kept alive (with the id, the name) until the proof ends
_KEEP: list[z3.ExprRef] = []
# formulas by what they are built from (the hints' AST ids, kept alive in _KEEP_MD): holds() per property,
# hint values and truth (every path asks the same ones of the blocks it left alone and of the summaries'
# fresh hints: its formula() took about a third of four blocks' exploration), and a caller's summaries'
_MEMO: dict[tuple[Any, ...], Any] = {}
_KEEP_MD: list[Any] = []


def hint_key(md: pcpu_block_md) -> tuple[Any, ...]:
    """The hint values of ``md`` as a key: ints, or the AST ids of their terms (kept alive by the caller)."""
    return tuple(("e", v.e.get_id()) if isinstance(v, SInt) else ("v", v) for v in (getattr(md, f) for f in MD_FIELDS))


def memo(key: tuple[Any, ...], keep: Any, build: Callable[[], Any]) -> Any:
    """``build()``, once per ``key`` in a proof (``keep``: what keeps the key's AST ids alive)."""
    if key not in _MEMO:
        _KEEP_MD.append(keep)
        _MEMO[key] = build()
    return _MEMO[key]


def memo_holds(p: str, md: pcpu_block_md, t: Any, w: Any) -> z3.BoolRef:
    """parametric.holds, memoized by the hint values (AST ids, kept alive) and the truth."""
    return memo(("holds", p, id(t), id(w), *hint_key(md)), [getattr(md, f) for f in MD_FIELDS],
                lambda: holds(p, md, t, w))  # type: ignore[no-any-return]


def _conjunction(fs: list[z3.BoolRef]) -> z3.BoolRef:
    """z3.And(*fs) without z3.And's argument coercion (a quarter of four blocks' exploration)."""
    arr = (z3.Ast * len(fs))(*[f.as_ast() for f in fs])
    ctx = fs[0].ctx
    return z3.BoolRef(z3.Z3_mk_and(ctx.ref(), len(fs), arr), ctx)


def _renaming(conds: list[z3.BoolRef]) -> list[tuple[z3.ExprRef, z3.ExprRef]]:
    """Each value the path defined (sym.define: ``v == term``, named by its position on the path) renamed
    after its defining term, so that paths that define the same values in other places agree.

    A renaming within one obligation changes nothing about its satisfiability, and two values
    defined by one term are equal: obligations equal after it are one obligation.
    """
    subs: list[tuple[z3.ExprRef, z3.ExprRef]] = []
    seen: set[int] = set()
    for c in conds:  # a value's first equation is its definition (sym.define adds it as it names the value)
        if not (z3.is_eq(c) and z3.is_const(c.arg(0)) and c.arg(0).decl().kind() == z3.Z3_OP_UNINTERPRETED):
            continue
        v = c.arg(0)
        if v.get_id() in seen:
            continue
        seen.add(v.get_id())
        name = v.decl().name()
        prefix, _, pos = name.rpartition(".")
        if not pos.isdigit() or not prefix.startswith(("map.", "post.")):
            continue
        t = z3.substitute(c.arg(1), *subs) if subs else c.arg(1)
        _KEEP.append(t)  # its id names the value: no other term may get it while the proof runs
        subs.append((v, z3.Const(f"{prefix}@{t.get_id()}", v.sort())))
    return subs


def prove_summarised(spec: Summarised, blocks: int, budget_s: float, block_bits: int | None, variant: Any,
                     verbose: bool, jobs: int, rounds: int) -> list[Row]:
    """``spec``'s rows on ``blocks`` blocks (every size, or ``block_bits``), one Row each, with the summaries'
    preconditions as rows of their own, after the summaries' own rows."""
    summary_rows = spec.summaries(variant)
    unproved = [f"{r.lemma}:{r.prop}" for r in summary_rows if r.verdict != PROVED]
    rows = _in_context(spec, blocks, budget_s, block_bits, variant, verbose, jobs, rounds, None)
    for r in rows:
        if unproved and r.verdict == PROVED and r.prop not in spec.pre_rows:
            r.verdict, r.note = NOT_PROVED, f"a summary is not proved: {', '.join(unproved)}"
    return [*summary_rows, *rows]


def independence_gap(spec: Summarised, blocks: int, block_bits: int | None, budget_s: float = 600.0,
                     variant: Any = None, verbose: bool = False) -> tuple[int, int]:
    """Checks Summarised.independent on one instance: (obligations the full exploration makes that the
    pruned explorations do not, every obligation the full exploration makes).  0 missing: on this
    instance, pruning lost nothing."""
    out: list[int] = []
    _in_context(spec, blocks, budget_s, block_bits, variant, verbose, 1, 1, out)
    return out[0], out[1]


def _in_context(spec: Summarised, blocks: int, budget_s: float, block_bits: int | None, variant: Any,
                verbose: bool, jobs: int, rounds: int, check: list[int] | None) -> list[Row]:
    fresh_z3_context()
    ALIGNED.clear()
    try:
        with integer_terms(), abstract_primitives():
            return _prove(spec, blocks, budget_s, block_bits, variant, verbose, jobs, rounds, check)
    finally:  # their terms belong to this proof's Z3 context
        NAMES.clear()
        _KEEP.clear()
        _MEMO.clear()
        _KEEP_MD.clear()


def _prove(spec: Summarised, nb: int, budget_s: float, block_bits: int | None, variant: Any, verbose: bool,
           jobs: int, rounds: int, check: list[int] | None) -> list[Row]:
    t0, budget, pcpu, terms, n = proof_start(budget_s, variant, block_bits)
    inst = spec.setup(n, terms, nb)
    for bm in (inst.pre, inst.post):
        bm.memoize = False
    symbolic_geometry(pcpu, BlockBits(n), nb)
    pre_j = Judge.of(inst.pre, "pre", n, nb, pcpu.PCPU_BITMAP_BLOCK_BITS)
    post_j = Judge.of(inst.post, "post", n, nb, pcpu.PCPU_BITMAP_BLOCK_BITS)
    original = inst.chunk.md_blocks
    current: list[Trace] = []
    proof = Proof(pcpu, inst, pre_j, post_j, terms, n, nb, current)
    spec.calls(proof)
    queried = [p for p in ROWS if p not in spec.ledger and p not in spec.unstated]

    # families: (what, block, role) -> Family.  A block's role on a path: "updated" (a summary
    # call), "changed" (by the port's own code) or "untouched"
    groups: dict[tuple[str, int, str], Family] = {}
    kept: set[tuple[int, int]] = set()
    skipped = [0]
    pre_all = [pre_j.holds(p, inst.chunk) for p in ALL_PRE]
    defs = [t.defs for t in (*pre_j.truths(), *post_j.truths())]

    def assume_for(block: int, focus: int | None = None) -> list[z3.BoolRef]:
        """A block family's assumptions: the ranges and the region, its own block's properties; a chunk
        family's: every block's and chunk_md's, or (``focus``) block ``focus``'s and chunk_md's."""
        if block < 0 and focus is None:
            return [*inst.assume, *pre_all, *defs]
        if block < 0 and focus == CHUNK_ONLY:
            return [*inst.assume, *[pre_j.holds(p, inst.chunk) for p in CHUNK_PROPS], pre_j.chunk[0].defs,
                    post_j.chunk[0].defs]
        i = block if block >= 0 else focus
        assert i is not None
        own = [memo_holds(p, inst.chunk.md_blocks[i], *pre_j.blocks[i][:2]) for p in BLOCK_PROPS]
        if block < 0:
            own += [pre_j.holds(p, inst.chunk) for p in CHUNK_PROPS] + [pre_j.chunk[0].defs, post_j.chunk[0].defs]
        return [*inst.assume, *own, pre_j.blocks[i][0].defs, post_j.blocks[i][0].defs]

    # the bitmap facts a family gets: (whether the chunk's truths', which blocks')
    scopes: dict[int, tuple[bool, range | None]] = {}
    owner: dict[int, int] = {}  # the block whose hints a family's obligations are about, -1 for chunk_md

    def family(what: str, block: int, role: str, focus: int | None = None) -> Family:
        key = (what, block, role)
        if key not in groups:
            label = f"({what}, block {block}, {role})" if block >= 0 else f"({what}, {role})"
            groups[key] = Family(what, label, assume_for(block, focus), [])
            owner[id(groups[key])] = block
            i = block if block >= 0 else focus
            scopes[id(groups[key])] = (block < 0, None if i is None else range(0) if i == CHUNK_ONLY else
                                       range(i, i + 1))
        return groups[key]

    ren: list[tuple[z3.ExprRef, z3.ExprRef]] = []  # the path's defined values, renamed (_renaming)

    def add(fam: Family, part: str, conds: list[z3.BoolRef], assumed: list[z3.BoolRef], post: z3.BoolRef) -> None:
        if any(post.get_id() == a.get_id() for a in assumed) or z3.is_true(z3.simplify(post)):
            skipped[0] += 1
            return
        fs = [*conds, *assumed]
        if spec.independent is not None:
            fs = coned(fs, post, f"b{owner[id(fam)]}." if owner[id(fam)] >= 0 else "chunk.")
        bad = _conjunction([*fs, z3.Not(post)])
        bad = z3.simplify(z3.substitute(bad, *ren) if ren else bad)
        if (id(fam), bad.get_id()) not in kept:
            kept.add((id(fam), bad.get_id()))
            fam.obligations.setdefault(part, []).append(bad)

    def sliced(fs: list[z3.BoolRef], block: int) -> list[z3.BoolRef]:
        """The formulas (path conditions, summary facts) that name no other block's hints nor chunk_md's."""
        return [c for c in fs if not on_chunk(names_of(c)) and owners(names_of(c), nb) <= {block}]

    def unblocked(fs: list[z3.BoolRef]) -> list[z3.BoolRef]:
        """The formulas that name no block's hints."""
        return [c for c in fs if not owners(names_of(c), nb)]

    def pruned_for(target: int) -> Callable[[z3.BoolRef], bool]:
        """The conditions an exploration for ``target`` takes one way only: those naming another block's
        hints or chunk_md's (for a block), or a block's (for chunk_md)."""
        def pred(c: z3.BoolRef) -> bool:
            names = names_of(c)
            if target == CHUNK_TARGET:
                return bool(owners(names, nb))
            return on_chunk(names) or bool(owners(names, nb) - {target})
        return pred

    def run() -> Trace:
        ALIGNED.clear()
        tr = Trace(_twin(inst.chunk))
        current[:] = [tr]
        inst.call(pcpu, tr.chunk)
        return tr

    def on_path(end: PathEnd, run_: Run) -> None:
        if isinstance(end.error, PathLimit):
            raise end.error
        if end.error is not None:
            raise PathLimit(f"{spec.function} raised {end.error!r}")
        tr: Trace = end.value
        after = tr.chunk
        fams: set[int] = set()
        block_conds: dict[int, list[z3.BoolRef]] = {}  # the path's conditions sliced to each block
        ren[:] = _renaming(end.conds)
        if spec.at_end is not None:
            spec.at_end(tr, proof)
        target = targets[0]
        chunk_conds, chunk_assumed = end.conds, tr.assumed
        if spec.independent is not None:  # the conditions chunk_md's exploration prunes are dropped
            chunk_conds, chunk_assumed = unblocked(end.conds), unblocked(tr.assumed)

        for i, md in enumerate(after.md_blocks):
            if target not in (None, i):
                continue
            role = ("updated" if i in tr.updated else
                    "untouched" if all(getattr(md, f) is getattr(original[i], f) for f in HINTS) else "changed")
            mine = sliced(tr.assumed, i)
            conds = block_conds[i] = sliced(end.conds, i)
            fam = family("block", i, role)
            for p in BLOCK_PROPS:
                if p in queried:
                    add(fam, p, conds, mine, memo_holds(p, md, *post_j.blocks[i][:2]))
            fams.add(id(fam))
        for part, i, ob, made in tr.obligations:
            if target not in (None, i if i >= 0 else CHUNK_TARGET):
                continue
            row = part.split(":")[0]
            before = tr.assumed[:made]
            focus = spec.focus(row, i, tr)
            fam = family(row, i, "call" if focus is None else "chunk_md" if focus == CHUNK_ONLY else
                         f"in block {focus}", focus)
            if i >= 0:
                add(fam, part, block_conds[i], sliced(before, i), ob)
            else:
                add(fam, part, chunk_conds, before if spec.independent is None else unblocked(before), ob)
            fams.add(id(fam))
        if target in (None, CHUNK_TARGET):
            fam = family("chunk", -1, tr.chunk_by)
            for p in CHUNK_PROPS:
                if p in queried:
                    add(fam, p, chunk_conds, chunk_assumed, memo_holds(p, after.chunk_md, *post_j.chunk))
            fams.add(id(fam))
        for fam_ in groups.values():
            if id(fam_) in fams:
                fam_.paths += 1

    explorer = z3.SolverFor("QF_UFLIA")
    explorer.add(*inst.assume)
    why = ""
    npaths = [0]

    def counted(end: PathEnd, run_: Run) -> None:
        npaths[0] += 1
        on_path(end, run_)

    targets: list[int | None] = [None]
    within = Budget(budget.units // 4, parent=budget)

    def explore_all(prune: bool) -> None:
        """Every path once, or (``prune``) once per block and once for chunk_md, the others' conditions
        taken one way only."""
        targets[0] = None
        if not prune:
            explore(explorer, run, counted, budget=within, keep=False)
            return
        for target in (*range(nb), CHUNK_TARGET):
            targets[0] = target
            with pruned(pruned_for(target)):
                explore(explorer, run, counted, budget=within, keep=False)

    try:
        if check is not None:  # the full exploration's obligations, then the pruned ones'
            explore_all(False)
            full = {k: [b for fs in f.obligations.values() for b in fs] for k, f in groups.items()}
            groups.clear()
            kept.clear()
            explore_all(True)
            check += uncovered(full, {k: [b for fs in f.obligations.values() for b in fs]
                                       for k, f in groups.items()}, verbose)
            return []
        explore_all(spec.independent is not None)
    except (Unknown, PathLimit) as e:
        why = str(e)
    if verbose:
        nob = sum(len(fs) for f in groups.values() for fs in f.obligations.values())
        print(f"  exploration: {npaths[0]} paths, {len(groups)} families, {nob} obligations "
              f"({skipped[0]} met by a summary), {budget.used / 1e6:.1f}M units, {time.perf_counter() - t0:.1f}s",
              flush=True)
    before_n = sum(len(fs) for f in groups.values() for fs in f.obligations.values())
    for fam in groups.values():
        fam.obligations = {part: resolved(bads) for part, bads in fam.obligations.items()}
    if verbose:
        print(f"  resolved: {before_n} obligations into "
              f"{sum(len(fs) for f in groups.values() for fs in f.obligations.values())}", flush=True)
    for bm in (inst.post, inst.pre):
        close_under_pu(bm)
    own: dict[int, list[z3.ArithRef]] = {}
    for fam in groups.values():
        bads = [f for fs in fam.obligations.values() for f in fs]
        # the obligations name the path's defined values afresh (_renaming): their terms are the
        # arguments the bitmap's functions are applied to there, as well as the registered ones
        own[id(fam)] = list((terms_in(fam.assume, terms) | terms_in(bads, terms) | applied(bads, inst.pre)).values())

    def facts(fam: Family, before: dict[int, Any]) -> tuple[list[z3.BoolRef], int]:
        args = own[id(fam)]
        chunk_level, scope = scopes[id(fam)]
        return [*axioms(inst.pre, args), *axioms(inst.post, args), *pre_j.facts(args, inst.chunk, chunk_level, scope),
                *post_j.facts(args, None, chunk_level, scope)], len(args)

    def vacuity(within: Budget) -> str:
        """Whether some state meets the assumptions before the change (every family's are a part of them,
        with the new bitmap's truths, which every bitmap has).  With those truths' definitions and the
        new bitmap's facts too, the check ran out of its twentieth of the budget on two blocks."""
        sv = z3.SolverFor("QF_UFLIA")
        fs = [*inst.assume, *pre_all, *[t.defs for t in pre_j.truths()]]
        args = list(terms_in(fs, terms).values())
        sv.add(*fs, *axioms(inst.pre, args), *pre_j.facts(args, inst.chunk))
        return str(within.check(sv))

    order = sorted((f for f in groups.values() if f.obligations), key=lambda f: -f.paths)
    for fam in order:
        fam.weight = 1 + sum(len(fs) for fs in fam.obligations.values()) // 100
    # a query per (family, part); the row it counts toward is the part (a property, or a summary's precondition)
    queries = [Query(f, part.split(":")[0], part, z3.BoolVal(True)) for f in order for part in f.obligations]
    bounds: dict[str, Any] = {"block_bits": POW2_SIZES if block_bits is None else block_bits, "blocks": nb}
    if why or not queries:
        results: dict[str, z3.CheckSatResult] = {}
        vacuous, nterms = False, len(terms.args)
    else:
        # the vacuity check over every block's and chunk_md's properties took 17-30M units on four blocks
        # of 64 bits, by the AST ids of the run: a twentieth of the budget was not always enough
        out = solve(Plan(order, queries, terms, lambda f, within: None, facts, vacuity, True, verbose, rounds,
                         vacuity_part=8), budget, jobs)
        results, why, vacuous, nterms = out.results, out.why, out.vacuous, out.terms
    bounds |= {"paths": npaths[0], "terms": nterms, "families": len(order)}
    return stamped(_rows(spec, results, why, vacuous, bounds), t0, budget)


def _rows(spec: Summarised, results: dict[str, z3.CheckSatResult], why: str, vacuous: bool,
          bounds: dict[str, Any]) -> list[Row]:
    summaries = [results.get(x, z3.unsat) for x in spec.pre_rows]
    bits = "all" if bounds["block_bits"] == POW2_SIZES else bounds["block_bits"]
    rows: list[Row] = []
    for p in (*spec.pre_rows, *ROWS):
        kind = PROPERTIES[p].kind if p in PROPERTIES else "summary"
        if p in spec.ledger:
            found = spec.ledger[p] if ":" in spec.ledger[p] else f"{spec.ledger[p]}: refuted by the bounded proofs"
            rows.append(Row(spec.lemma, p, kind, NOT_PROVED, dict(bounds), note=f"ledger {found}, not queried"))
            continue
        if p in spec.unstated:
            rows.append(Row(spec.lemma, p, kind, NOT_PROVED, dict(bounds), note=f"not claimed: {spec.unstated[p]}"))
            continue
        r = results.get(p, z3.unsat if not why and not vacuous else z3.unknown)
        ok = not why and r == z3.unsat and all(x == z3.unsat for x in summaries)
        verdict, note = row_verdict(r, ok, why, vacuous, unclosed="a summary's precondition is not proved")
        if ok and p not in spec.pre_rows:
            note = spec.proved_note.format(nb=bounds["blocks"], bits=bits)
        rows.append(Row(spec.lemma, p, kind, verdict, dict(bounds), note=note))
    return rows
