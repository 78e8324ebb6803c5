"""pcpu_block_update_hint_free()'s rows on a chunk of several blocks, with its calls as proved summaries.

parametric.py runs the whole of pcpu_free_area()'s hint update through
sym.explore, pcpu_block_update() and pcpu_chunk_refresh_hint() included: on
two blocks its exploration does not finish in 600 s (463 paths).  Here the
port's own pcpu_block_update_hint_free() runs, but the three calls it makes
are replaced by their summaries, each a lemma proved on its own:

- pcpu_block_update() on a block (summaries.UPDATE_POST): the every-size
  lemma block_update (parametric.py) proves that folding a maximal free run
  [start, end) of the block's new bitmap into hints sound for its old
  bitmap leaves the hints sound for the new one, and summaries.prove_ranges
  that it leaves them in range.  At the call the summary's precondition is
  an obligation (``update_pre``): 0 <= start < end <= n, the run is free and
  maximal in the new bitmap, the freed bits of the block lie in it (so the
  new bitmap is the old one with the run cleared), and the block's hints
  are still the ones the lemma assumed (each block is updated once; a second
  update raises PathLimit).  After it the block's hints are fresh values
  with the summary's properties assumed.
- pcpu_block_update() on chunk_md (summaries.CHUNK_UPDATE_POST, the branch for
  a free inside one block): summaries.prove_chunk_update proves the chunk's
  upper and lower bound hints stay sound when the region offered is free,
  empty or reversed; those, chunk_md's ranges and the region are the
  obligation (``chunk_update_pre``).
- pcpu_chunk_refresh_hint(full_scan=True) (:data:`WALK_POST`): loopinv.py
  proves by a loop invariant that from hints meeting loopinv.WALK_PRE (and
  in range) the walk leaves chunk_md with every chunk property.  At the call
  WALK_PRE and the ranges are obligations (``walk_pre``), after it chunk_md's
  hints are fresh with the chunk properties assumed.

A row is claimed only when its own queries, every summary precondition and
the pcpu_block_update() summaries' own rows (prove_summaries, run first) are
unsatisfiable; the walk's proof is not re-run, each row's note names it.

The paths are explored once, in the parent.  Each obligation goes to a
families.py Family by what it speaks of: a block's rows by the block and its
part in the free (updated, wholly freed between the first and last block,
or untouched), the block summaries' preconditions by block, chunk_md's
update precondition by the block the free lies in (that block's and
chunk_md's assumptions and facts only), the walk's preconditions on chunk_md
with chunk_md's only.  Conditions naming other blocks' hints or chunk_md's
are dropped from a block's obligations (fewer conditions only admit more
models: a query unsatisfiable without them is unsatisfiable with them).  A
post-condition that is literally one of the summary facts the path assumed
is not queried (the query would be a formula and its negation).  The path's
defined values are renamed after their defining terms (:func:`_renaming`),
and each family's obligations are resolved (families.resolved) before they
are queried.  A later obligation of a path may assume the block summaries'
preconditions made before it: each is proved as its own row.
properties/proofs/README.md has what each step saved.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import z3

from impl.internal import MD_FIELDS, pcpu_block_md, pcpu_chunk
from properties.oneline_args import OneLineParser
from properties.proofs.absbitmap import axioms, close_under_pu
from properties.proofs.abstractions import ALIGNED, BlockBits, abstract_primitives
from properties.proofs.expected import EXPECTED
from properties.proofs.families import Family, Plan, Query, parse_chunk_args, report, resolved, solve
from properties.proofs.lemmas import ALL_PRE, BLOCK_PROPS, CHUNK_PROPS, md_fields, md_range_list
from properties.proofs.loopinv import WALK_PRE
from properties.proofs.parametric import JOBS, Judge, _twin, holds, proof_start, row_verdict, stamped, symbolic_geometry
from properties.proofs.paramlemmas import NOT_PROVED, POW2_SIZES, setup_chunk_hint_free
from properties.proofs.prove import PROVED, Row, fresh_z3_context
from properties.proofs.slicing import NAMES, applied, names_of, on_chunk, owners, terms_in
from properties.proofs.summaries import CHUNK_UPDATE_POST, UPDATE_POST, prove_summaries
from properties.proofs.sym import (
    Budget,
    PathEnd,
    PathLimit,
    Run,
    SInt,
    Unknown,
    explore,
    integer_terms,
    lift,
)
from properties.registry import PROPERTIES

LEMMA = "chunk_hint_free"
FUNCTION = "pcpu_block_update_hint_free"
MAX_BLOCKS = 4
HINTS = [f for f in MD_FIELDS if f != "nr_bits"]
WALK_POST = tuple(CHUNK_PROPS)  # loopinv.py proves all five
CHUNK_ONLY = -2  # a chunk family's focus: chunk_md and the chunk's truths, no block
UPDATE_PRE, WALK_PRE_ROW, CHUNK_PRE = "update_pre", "walk_pre", "chunk_update_pre"
# the rows the faithful port refutes (ledger findings): not queried, as in parametric.py
LEDGER = {p: EXPECTED[(LEMMA, p)] for p in BLOCK_PROPS + CHUNK_PROPS if (LEMMA, p) in EXPECTED}
ROWS = BLOCK_PROPS + CHUNK_PROPS


@dataclass
class Trace:
    """What one path did at the summarised calls: obligations, and what it may assume after them."""

    chunk: pcpu_chunk
    updated: dict[int, pcpu_block_md] = field(default_factory=dict)  # block -> its fresh hints
    chunk_by: str = ""  # the summary chunk_md's hints were updated by: "walk" or "update"
    # (part, block or -1, what must hold, how many of ``assumed`` were made before it: a summary's
    # own facts never serve its precondition)
    obligations: list[tuple[str, int, z3.BoolRef, int]] = field(default_factory=list)
    assumed: list[z3.BoolRef] = field(default_factory=list)


# the defining terms _renaming names values after, kept alive (with the id, the name) until the proof ends
_KEEP: list[z3.ExprRef] = []


# holds() per property, hint values and truth: every path asks the same ones of the blocks it left
# alone and of the summaries' fresh hints (its formula() took about a third of four blocks' exploration)
_HOLDS: dict[tuple[Any, ...], z3.BoolRef] = {}
_KEEP_MD: list[Any] = []


def _holds(p: str, md: pcpu_block_md, t: Any, w: Any) -> z3.BoolRef:
    """parametric.holds, memoized by the hint values (AST ids, kept alive) and the truth."""
    vals = [getattr(md, f) for f in MD_FIELDS]
    key = (p, id(t), id(w), *[("e", v.e.get_id()) if isinstance(v, SInt) else ("v", v) for v in vals])
    if key not in _HOLDS:
        _KEEP_MD.append(vals)
        _HOLDS[key] = holds(p, md, t, w)
    return _HOLDS[key]


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


def prove_free(blocks: int = 4, budget_s: float = 600.0, block_bits: int | None = None, variant: Any = None,
               verbose: bool = False, jobs: int = JOBS, rounds: int = 2) -> list[Row]:
    """chunk_hint_free's rows on ``blocks`` blocks (every size, or ``block_bits``), one Row each, with the
    summaries' preconditions as rows of their own, after the summaries' own rows (summaries.py)."""
    summary_rows = prove_summaries(variant=variant)
    unproved = [f"{r.lemma}:{r.prop}" for r in summary_rows if r.verdict != PROVED]
    rows = _free_rows(blocks, budget_s, block_bits, variant, verbose, jobs, rounds)
    for r in rows:
        if unproved and r.verdict == PROVED and r.prop not in (UPDATE_PRE, WALK_PRE_ROW, CHUNK_PRE):
            r.verdict, r.note = NOT_PROVED, f"a summary is not proved: {', '.join(unproved)}"
    return [*summary_rows, *rows]


def _free_rows(blocks: int, budget_s: float, block_bits: int | None, variant: Any, verbose: bool, jobs: int,
               rounds: int) -> list[Row]:
    fresh_z3_context()
    ALIGNED.clear()
    try:
        with integer_terms(), abstract_primitives():
            return _prove_free(blocks, budget_s, block_bits, variant, verbose, jobs, rounds)
    finally:  # their terms belong to this proof's Z3 context
        NAMES.clear()
        _KEEP.clear()
        _HOLDS.clear()
        _KEEP_MD.clear()


def _prove_free(nb: int, budget_s: float, block_bits: int | None, variant: Any, verbose: bool, jobs: int,
                rounds: int) -> list[Row]:
    t0, budget, pcpu, terms, n = proof_start(budget_s, variant, block_bits)
    inst = setup_chunk_hint_free(n, terms, nb)
    for bm in (inst.pre, inst.post):
        bm.memoize = False
    symbolic_geometry(pcpu, BlockBits(n), nb)
    pre_j = Judge.of(inst.pre, "pre", n, nb, pcpu.PCPU_BITMAP_BLOCK_BITS)
    post_j = Judge.of(inst.post, "post", n, nb, pcpu.PCPU_BITMAP_BLOCK_BITS)
    s, e = inst.post.changed  # type: ignore[misc]
    original = inst.chunk.md_blocks
    current: list[Trace] = []

    def block_update(block: pcpu_block_md, start: Any, end: Any) -> None:
        tr = current[0]
        st, en = lift(start), lift(end)
        if block is tr.chunk.chunk_md:
            if tr.chunk_by or any(getattr(block, f) is not getattr(inst.chunk.chunk_md, f) for f in HINTS
                                  if f != "first_free"):
                raise PathLimit("chunk_md updated after its hints changed: the summary does not apply")
            m = nb * n
            t, w = post_j.chunk
            tr.obligations += [(f"{CHUNK_PRE}:{k}", -1, f, len(tr.assumed)) for k, f in (
                ("ranges", z3.And(st >= 0, st <= m, en >= 0, en <= m, *md_range_list(block))),
                ("region", z3.Or(st >= en, inst.post.free(st, en - st))),
                *[(p, _holds(p, block, t, w)) for p in CHUNK_UPDATE_POST])]
            fresh = md_fields("chunk.after", 0)
            fresh.nr_bits = block.nr_bits
            tr.assumed += [_holds(p, fresh, t, w) for p in CHUNK_UPDATE_POST]
            for f in HINTS:
                setattr(block, f, getattr(fresh, f))
            tr.chunk_by = "update"
            return
        i = next(k for k, md in enumerate(tr.chunk.md_blocks) if md is block)
        if i in tr.updated or any(getattr(block, f) is not getattr(original[i], f) for f in HINTS):
            raise PathLimit(f"block {i} updated after its hints changed: the summary does not apply")
        lo = i * n
        hi = lo + n
        tr.obligations += [(f"{UPDATE_PRE}:{k}", i, f, len(tr.assumed)) for k, f in (
            ("bounds", z3.And(st >= 0, st < en, en <= n)),
            ("free", inst.post.free(lo + st, en - st)),
            ("maximal", z3.And(z3.Or(st == 0, inst.post.used(lo + st - 1)), z3.Or(en == n, inst.post.used(lo + en)))),
            # the freed bits of the block lie in the run: the new bitmap is the old with it cleared
            ("covers", z3.Or(e <= lo, s >= hi,
                             z3.And(z3.If(s > lo, s, lo) >= lo + st, z3.If(e < hi, e, hi) <= lo + en))))]
        # the later obligations of the path may use these: each is proved on its own (row update_pre),
        # under a part of the same assumptions and conditions (chunk_md's region after a free in block 0
        # is the block's run: without it, that family's query stayed undecided at 49.4M units)
        tr.assumed += [f for _, _, f, _ in tr.obligations[-4:]]
        fresh = md_fields(f"b{i}.after", 0)
        fresh.nr_bits = block.nr_bits
        t, w, _ = post_j.blocks[i]
        tr.assumed += [*md_range_list(fresh), *[_holds(p, fresh, t, w) for p in UPDATE_POST]]
        for f in HINTS:
            setattr(block, f, getattr(fresh, f))
        tr.updated[i] = fresh

    def refresh(chunk: pcpu_chunk, full_scan: Any) -> None:
        tr = current[0]
        if full_scan is not True or tr.chunk_by:
            raise PathLimit("pcpu_chunk_refresh_hint() without full_scan, or twice: no summary")
        k = len(tr.assumed)
        for p in WALK_PRE:
            if PROPERTIES[p].scope == "chunk":
                tr.obligations.append((f"{WALK_PRE_ROW}:{p}", -1, _holds(p, chunk.chunk_md, *post_j.chunk), k))
            else:
                for i, md in enumerate(chunk.md_blocks):
                    tr.obligations.append((f"{WALK_PRE_ROW}:{p}", i, _holds(p, md, *post_j.blocks[i][:2]), k))
        for i, md in enumerate(chunk.md_blocks):
            tr.obligations.append((f"{WALK_PRE_ROW}:ranges", i, z3.And(*md_range_list(md)), k))
        tr.obligations.append((f"{WALK_PRE_ROW}:ranges", -1, z3.And(*md_range_list(chunk.chunk_md)), k))
        fresh = md_fields("chunk.after", 0)
        fresh.nr_bits = chunk.chunk_md.nr_bits
        tr.assumed += [_holds(p, fresh, *post_j.chunk) for p in WALK_POST]
        for f in HINTS:
            setattr(chunk.chunk_md, f, getattr(fresh, f))
        tr.chunk_by = "walk"

    pcpu.pcpu_block_update = block_update  # type: ignore[method-assign,assignment]
    pcpu.pcpu_chunk_refresh_hint = refresh  # type: ignore[method-assign,assignment]

    # families: (what, block, role) -> Family.  A block's role on a path: "updated" (a summary
    # call), "freed" (wholly inside the free, reset by the port's loop) or "untouched"
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
        own = [_holds(p, inst.chunk.md_blocks[i], *pre_j.blocks[i][:2]) for p in BLOCK_PROPS]
        if block < 0:
            own += [pre_j.holds(p, inst.chunk) for p in CHUNK_PROPS] + [pre_j.chunk[0].defs, post_j.chunk[0].defs]
        return [*inst.assume, *own, pre_j.blocks[i][0].defs, post_j.blocks[i][0].defs]

    # the bitmap facts a family gets: (whether the chunk's truths', which blocks')
    scopes: dict[int, tuple[bool, range | None]] = {}

    def family(what: str, block: int, role: str, focus: int | None = None) -> Family:
        key = (what, block, role)
        if key not in groups:
            label = f"({what}, block {block}, {role})" if block >= 0 else f"({what}, {role})"
            groups[key] = Family(what, label, assume_for(block, focus), [])
            i = block if block >= 0 else focus
            scopes[id(groups[key])] = (block < 0, None if i is None else range(0) if i == CHUNK_ONLY else
                                       range(i, i + 1))
        return groups[key]

    ren: list[tuple[z3.ExprRef, z3.ExprRef]] = []  # the path's defined values, renamed (_renaming)

    def add(fam: Family, part: str, conds: list[z3.BoolRef], assumed: list[z3.BoolRef], post: z3.BoolRef) -> None:
        if any(post.get_id() == a.get_id() for a in assumed) or z3.is_true(z3.simplify(post)):
            skipped[0] += 1
            return
        bad = _conjunction([*conds, *assumed, z3.Not(post)])
        bad = z3.simplify(z3.substitute(bad, *ren) if ren else bad)
        if (id(fam), bad.get_id()) not in kept:
            kept.add((id(fam), bad.get_id()))
            fam.obligations.setdefault(part, []).append(bad)

    def sliced(fs: list[z3.BoolRef], block: int) -> list[z3.BoolRef]:
        """The formulas (path conditions, summary facts) that name no other block's hints nor chunk_md's."""
        return [c for c in fs if not on_chunk(names_of(c)) and owners(names_of(c), nb) <= {block}]

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
            raise PathLimit(f"{FUNCTION} raised {end.error!r}")
        tr: Trace = end.value
        after = tr.chunk
        fams: set[int] = set()
        block_conds: dict[int, list[z3.BoolRef]] = {}  # the path's conditions sliced to each block
        ren[:] = _renaming(end.conds)

        for i, md in enumerate(after.md_blocks):
            role = ("updated" if i in tr.updated else
                    "untouched" if all(getattr(md, f) is getattr(original[i], f) for f in HINTS) else "freed")
            mine = sliced(tr.assumed, i)
            conds = block_conds[i] = sliced(end.conds, i)
            fam = family("block", i, role)
            for p in BLOCK_PROPS:
                if p not in LEDGER:
                    add(fam, p, conds, mine, _holds(p, md, *post_j.blocks[i][:2]))
            fams.add(id(fam))
        for part, i, ob, made in tr.obligations:
            row = part.split(":")[0]
            before = tr.assumed[:made]
            # chunk_md's update follows a free inside one block: that block and chunk_md are all its
            # precondition speaks of; the walk's preconditions on chunk_md speak of chunk_md only
            focus = (next(iter(tr.updated)) if row == CHUNK_PRE and len(tr.updated) == 1 else
                     CHUNK_ONLY if row == WALK_PRE_ROW and i < 0 else None)
            fam = family(row, i, "call" if focus is None else "chunk_md" if focus == CHUNK_ONLY else
                         f"free in block {focus}", focus)
            if i >= 0:
                add(fam, part, block_conds[i], sliced(before, i), ob)
            else:
                add(fam, part, end.conds, before, ob)
            fams.add(id(fam))
        fam = family("chunk", -1, tr.chunk_by)
        for p in CHUNK_PROPS:
            if p not in LEDGER:
                add(fam, p, end.conds, tr.assumed, _holds(p, after.chunk_md, *post_j.chunk))
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

    try:
        explore(explorer, run, counted, budget=Budget(budget.units // 4, parent=budget), keep=False)
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
        """Whether some state meets the assumptions before the free (every family's are a part of them,
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
    summaries = [results.get(x, z3.unsat) for x in (UPDATE_PRE, WALK_PRE_ROW, CHUNK_PRE)]
    rows: list[Row] = []
    for p in (UPDATE_PRE, CHUNK_PRE, WALK_PRE_ROW, *ROWS):
        if p in LEDGER:
            rows.append(Row(LEMMA, p, PROPERTIES[p].kind, NOT_PROVED, dict(bounds),
                            note=f"ledger {LEDGER[p]}: refuted by the bounded proofs, not queried"))
            continue
        r = results.get(p, z3.unsat if not why and not vacuous else z3.unknown)
        ok = not why and r == z3.unsat and all(x == z3.unsat for x in summaries)
        verdict, note = row_verdict(r, ok, why, vacuous, unclosed="a summary's precondition is not proved")
        if ok and p not in (UPDATE_PRE, WALK_PRE_ROW, CHUNK_PRE):
            note = (f"given the summaries above and the walk's (make proofs-chunk-loop BLOCKS={nb} "
                    f"LOOP_BITS={'all' if block_bits is None else block_bits})")
        kind = PROPERTIES[p].kind if p in PROPERTIES else "summary"
        rows.append(Row(LEMMA, p, kind, verdict, dict(bounds), note=note))
    return stamped(rows, t0, budget)


def run(blocks: int, budget_s: float, block_bits: int | None = None, verbose: bool = False,
        jobs: int = JOBS) -> list[str]:
    """Proves chunk_hint_free's rows on ``blocks`` blocks and prints them; returns the rows left open."""
    rows = prove_free(blocks, budget_s, block_bits, verbose=verbose, jobs=jobs)
    # the ledger's rows are refuted by the bounded proofs: not open
    return [r for r in report(rows, f"on {blocks} blocks") if r not in {f"{LEMMA}:{p}" for p in LEDGER}]


def main(argv: list[str] | None = None) -> int:
    ap = OneLineParser(prog="python -m properties.proofs.freefamilies",
                       description="pcpu_block_update_hint_free()'s rows on several blocks, with summaries")
    ap.add_argument("--blocks", type=int, default=4, help=f"blocks per chunk, 2..{MAX_BLOCKS} (default 4)")
    ap.add_argument("--budget", type=float, default=600.0,
                    help="seconds (as Z3 units, prove.UNITS_PER_S), a cap split between the families before they start")
    ap.add_argument("--block-bits", type=int, default=None, help="one power-of-two block size instead of every size")
    ap.add_argument("--jobs", type=int, default=JOBS, help=f"families run in forked processes at once (default {JOBS})")
    ap.add_argument("--verbose", action="store_true", help="one line per family and solver query")
    args = parse_chunk_args(ap, argv, "freefamilies", MAX_BLOCKS)
    if isinstance(args, int):
        return args
    bb = args.block_bits
    sizes = "every block size" if bb is None else f"{bb} bits"
    print(f"== {LEMMA} with summaries, {args.blocks} blocks of {sizes} (budget {args.budget:g} s)", flush=True)
    return 1 if run(args.blocks, args.budget, bb, args.verbose, args.jobs) else 0


if __name__ == "__main__":
    raise SystemExit(main())
