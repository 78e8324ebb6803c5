"""pcpu_chunk_refresh_hint()'s walk over the free regions, proved by an invariant at a cut point.

Unrolled (parametric.py), the walk forks at every region it folds into
chunk_md, so its paths multiply per block: two blocks of every size take
150-207 s and three do not finish.  Here the loop is cut where it calls
pcpu_next_md_free_region(), and three families of queries replace the
unrolling, each over the port's own code run through sym.explore:

- established: the real function, from its entry up to its first call of
  pcpu_next_md_free_region(), leaves a state where the invariant holds;
- kept: from any state where it holds (chunk_md's fields and bit_off fresh
  symbols), one call of the real pcpu_next_md_free_region(), the real loop
  body (pcpu_block_update() on chunk_md) and the real increment reach the
  next call in a state where it holds again;
- at the exit: where that call finds no region, the registry's chunk
  properties hold for chunk_md as the function leaves it.

The cut is made by replacing pcpu_next_md_free_region() with a wrapper that
raises :class:`Cut` with the state, or (the kept family, first call)
substitutes the fresh state and then runs the real function.  The loop
statement itself, ``while bit_off < map_bits`` with its body, is the port's.

The invariant (:meth:`Walk.parts`) is the specification of the walk: the
chunk_md hints it has built so far are sound (the registry's
inv_chunk_contig_hint_upper and inv_chunk_first_free_lower; the scan_hint
area free), no free run straddles the cut, and the largest free run of the
chunk is matched by the contig_hint so far or by a region still to come: a
block's contig_hint at or after the cut that stays inside its block, or a
run from a block's right_free across the following blocks' left_free.  At
the exit no region is still to come, so the contig_hint is the largest run.
Nothing in it is assumed: a wrong invariant is a query that does not close.
What is assumed of the walk's starting state is :data:`WALK_PRE` only, the
hints the walk reads, so the proof can serve a caller as a contract.  The
families run through families.py.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import z3

from impl.internal import MD_FIELDS, pcpu_block_md, pcpu_chunk
from properties.oneline_args import OneLineParser
from properties.proofs import walkbounds
from properties.proofs.absbitmap import AbsBitmap, Terms, axioms, close_under_pu
from properties.proofs.abstractions import ALIGNED, BlockBits, abstract_primitives
from properties.proofs.families import (
    ESTABLISHED,
    KEPT,
    Family,
    Plan,
    Query,
    explorer_for,
    induction_rows,
    parse_chunk_args,
    report,
    solve,
)
from properties.proofs.lemmas import CHUNK_PROPS, md_fields, md_range_list
from properties.proofs.parametric import (
    FORK_ON,
    JOBS,
    Judge,
    holds,
    proof_start,
    stamped,
    symbolic_geometry,
)
from properties.proofs.paramlemmas import (
    POW2_SIZES,
    setup_chunk_refresh,
)
from properties.proofs.prove import Row, fresh_z3_context
from properties.proofs.sym import (
    Budget,
    PathEnd,
    PathLimit,
    Run,
    SInt,
    integer_terms,
    lift,
    merged,
    var,
)

LEMMA = "chunk_refresh_hint"
BOUNDS_LEMMA = "chunk_refresh_bounds"  # the walkbounds.py contract, full_scan false
HINTS = [f for f in MD_FIELDS if f != "nr_bits"]
# what the walk reads, as registry properties: chunk_md's first_free and scan_hint sound, the block
# hints pcpu_next_md_free_region() reads exact.  The proof assumes these and nothing more (no scan_hint
# prefix facts either), so a caller of the walk has exactly these to show at its call; without
# inv_block_contig_hint_start, two blocks of every size leave the invariant unproved (test_proofs_loop)
WALK_PRE = ("inv_chunk_first_free_lower", "inv_chunk_scan_hint", "inv_block_contig_hint",
            "inv_block_contig_hint_start", "inv_block_left_free", "inv_block_right_free")
MATCHED = "largest_matched"


class WalkBits(BlockBits):
    """BlockBits with true block indices one block further: a walk on four blocks of one bit each
    is cut at bit_off 4 n + 1 = 5 n, which BlockBits leaves uninterpreted (its loop would not end)."""

    __slots__ = ()
    BLOCKS = BlockBits.BLOCKS + 1


class Cut(Exception):
    """The walk reached pcpu_next_md_free_region() with ``bit_off``; ``md`` is chunk_md then."""

    def __init__(self, bit_off: Any, md: pcpu_block_md) -> None:
        super().__init__("cut point")
        self.bit_off, self.md = bit_off, md


@dataclass
class Walk:
    """The chunk the walk runs over, its bitmap and truths, and the invariant at a cut."""

    n: z3.ArithRef
    nb: int
    chunk: pcpu_chunk  # the block hints (read only by the walk)
    bm: AbsBitmap
    judge: Judge
    terms: Terms

    def regions_from(self, b: z3.ArithRef) -> list[tuple[z3.BoolRef, z3.ArithRef]]:
        """The regions still to come from cut ``b``: (offered at or after b, its length).

        A block's contig_hint that starts at or after b and ends inside its block, and
        for every block a run from its right_free on, across the left_free of the
        blocks after it while they are wholly free.
        """
        n, out = self.n, []
        for i, md in enumerate(self.chunk.md_blocks):
            ch, rf = md.contig_hint.e, md.right_free.e
            out.append((self.contig_ahead(i, b), ch))
            length, carry = rf, z3.BoolVal(True)
            for later in self.chunk.md_blocks[i + 1:]:
                lf = later.left_free.e
                length = length + z3.If(carry, lf, 0)
                carry = z3.And(carry, lf == n)
            out.append((z3.And(rf > 0, (i + 1) * n - rf >= b), length))
        return out

    def contig_ahead(self, i: int, b: z3.ArithRef) -> z3.BoolRef:
        """Block i's contig_hint is a region pcpu_next_md_free_region() offers from cut ``b``: it starts
        at or after b and ends inside its block."""
        md = self.chunk.md_blocks[i]
        ch, cs = md.contig_hint.e, md.contig_hint_start.e
        return z3.And(ch > 0, cs + ch < self.n, i * self.n + cs >= b)

    def matched(self, md: pcpu_block_md, b: z3.ArithRef) -> list[z3.BoolRef]:
        """The ways the chunk's largest free run is matched: by contig_hint, or by a region to come."""
        largest = self.judge.chunk[0].largest.e
        return [lift(md.contig_hint) >= largest, *[z3.And(ok, k >= largest) for ok, k in self.regions_from(b)]]

    def parts(self, md: pcpu_block_md, b: Any) -> dict[str, z3.BoolRef]:
        """What holds whenever the walk calls pcpu_next_md_free_region() with bit_off ``b``, by part."""
        b = self.terms.add(lift(b))
        t, w = self.judge.chunk
        size = self.nb * self.n
        return {
            "ranges": z3.And(*_ranges(md, b, size)),
            # bit b - 1 ends a region already folded in, or lies before the first free bit
            "no_straddle": z3.Or(b <= self.bm.nf(0), self.bm.used(b - 1), b > size),
            "contig_upper": holds("inv_chunk_contig_hint_upper", md, t, w),
            "first_free_lower": holds("inv_chunk_first_free_lower", md, t, w),
            "scan_free": z3.Or(lift(md.scan_hint) == 0, self.bm.free(md.scan_hint_start, md.scan_hint)),
            MATCHED: z3.Or(*self.matched(md, b)),
        }

    def bound_parts(self, md: pcpu_block_md, b: Any) -> dict[str, z3.BoolRef]:
        """The invariant of the bounds contract (walkbounds.py), by part: chunk_md's bound hints sound."""
        b = self.terms.add(lift(b))
        t, w = self.judge.chunk
        return {"ranges": z3.And(*_ranges(md, b, self.nb * self.n)),
                **{p: holds(p, md, t, w) for p in walkbounds.POST}}


def _ranges(md: pcpu_block_md, b: Any, size: Any) -> list[z3.BoolRef]:
    """The cut's bit_off in [0, size + 1] (past a run that ends the chunk), chunk_md's hints in [0, size]."""
    return [b >= 0, b <= size + 1, *md_range_list(md)]


MERGES = ("none", "keyed", "full")


def prove_loop(blocks: int = 4, budget_s: float = 1500.0, block_bits: int | None = None, variant: Any = None,
               verbose: bool = False, merge: str = "keyed", jobs: int = 1, pushed: bool = True,
               pre: tuple[str, ...] = WALK_PRE, rounds: int = 2, bounds: bool = False) -> list[Row]:
    """The chunk properties of pcpu_chunk_refresh_hint(full_scan=True) on ``blocks`` blocks, by induction.

    One row per chunk property (PROVED only when the invariant is established and kept
    and the property holds at the exit) and one each for establishing and keeping the
    invariant.  ``block_bits``: one power-of-two block size instead of every size; ``pre``: the
    properties the walk's state is assumed to meet (WALK_PRE; a smaller set shows what it needs);
    ``rounds``: 1 leaves out families.py's second round.  ``bounds``: the walkbounds.py contract
    instead, for full_scan false: from its preconditions (not ``pre``) the walk keeps chunk_md's
    bound hints (walkbounds.POST, one row each, lemma chunk_refresh_bounds).
    """
    fresh_z3_context()
    ALIGNED.clear()
    with integer_terms(), abstract_primitives():
        return _prove_loop(blocks, budget_s, block_bits, variant, verbose, merge, jobs, pushed, pre, rounds,
                           bounds_contract=bounds)


def _prove_loop(nb: int, budget_s: float, block_bits: int | None, variant: Any, verbose: bool,
                merge: str, jobs: int, pushed: bool, pre: tuple[str, ...], rounds: int,
                bounds_contract: bool) -> list[Row]:
    t0, budget, pcpu, terms, n = proof_start(budget_s, variant, block_bits)
    inst = setup_chunk_refresh(n, terms, nb)
    symbolic_geometry(pcpu, WalkBits(n), nb)
    if merge != "none":
        fork_on = FORK_ON if merge == "keyed" else ()
        pcpu.pcpu_block_update = merged(pcpu.pcpu_block_update, MD_FIELDS, fork_on)  # type: ignore[method-assign]
    judge = Judge.of(inst.pre, "pre", n, nb, pcpu.PCPU_BITMAP_BLOCK_BITS)
    walk = Walk(n, nb, inst.chunk, inst.pre, judge, terms)
    if bounds_contract:
        t_, w_ = judge.chunk
        pre_fs = [*walkbounds.chunk_pre(inst.chunk.chunk_md, t_, w_, holds).values(),
                  *[f for md, (t, _, _) in zip(inst.chunk.md_blocks, judge.blocks, strict=True)
                    for f in walkbounds.block_pre(md, t).values()]]
    else:
        pre_fs = [judge.holds(p, inst.chunk) for p in pre]
    parts = walk.bound_parts if bounds_contract else walk.parts
    lemma, exit_rows = (BOUNDS_LEMMA, walkbounds.POST) if bounds_contract else (LEMMA, tuple(CHUNK_PROPS))
    defs = [t.defs for t in judge.truths()]
    # the kept family's state at the cut: chunk_md's fields and bit_off fresh
    cut_md = md_fields("cut", 0)
    cut_md.nr_bits = SInt(nb * n)
    for f in ("scan_hint_start", "contig_hint_start"):
        terms.add(getattr(cut_md, f).e)
    cut_b = var("cut.bit_off")
    real_next = pcpu.pcpu_next_md_free_region
    established = Family(ESTABLISHED, "", [*inst.assume, *pre_fs, *defs], inst.assume)
    # keeping it is explored and queried once per block the cut lies in (and once past the last
    # block), and within a block once where pcpu_next_md_free_region() finds its region in that
    # block (the block's contig_hint at or after the cut, or its right_free) and once where it goes
    # on to later blocks.  On four blocks, as one family of 6150 paths, its no_straddle and
    # contig_upper parts were undecided at 150M units each; per block, the first block's family
    # (724 paths) took 83-93 s of a 105-119 s proof of four blocks of 64 bits; split in two
    # (91 and 633 paths), 20.6 s and 58.7 s, the proof 102.8 s and 311.5M units, not 483.9M.
    # Split by the block the region starts in (21 families) it used 346.4M units, but the
    # families' fixed costs (fork, facts, the exit queries) made it 131 s
    at = []
    for i in range(nb):
        c = z3.And(i * n <= cut_b, cut_b < (i + 1) * n)
        here = z3.Or(walk.contig_ahead(i, cut_b), inst.chunk.md_blocks[i].right_free.e > 0)
        at += [(f"(cut in block {i}, region in it)", z3.And(c, here)),
               (f"(cut in block {i}, region after it or none)", z3.And(c, z3.Not(here)))]
    at.append((f"(cut past block {nb - 1})", cut_b >= nb * n))
    kept = [Family(KEPT, label, [], [*inst.assume, *_ranges(cut_md, cut_b, nb * n), c]) for label, c in at]

    def run(family: Family) -> Any:
        chunk = copy.copy(inst.chunk)
        chunk.chunk_md = copy.copy(inst.chunk.chunk_md)
        calls = [0]

        def next_region(c: pcpu_chunk, bit_off: Any, bits: Any) -> Any:
            calls[0] += 1
            if family is established or calls[0] > 1:
                raise Cut(bit_off, copy.copy(c.chunk_md))
            for f in HINTS:
                setattr(c.chunk_md, f, getattr(cut_md, f))
            return real_next(c, SInt(cut_b), bits)

        pcpu.pcpu_next_md_free_region = next_region  # type: ignore[method-assign,assignment]
        pcpu.pcpu_chunk_refresh_hint(chunk, not bounds_contract)
        return chunk

    def on_path(family: Family, end: PathEnd, run_: Run) -> None:
        pc = z3.And(*end.conds) if end.conds else z3.BoolVal(True)
        family.paths += 1
        if isinstance(end.error, Cut):
            for part, holds_ in parts(end.error.md, end.error.bit_off).items():
                family.obligations.setdefault(part, []).append(z3.And(pc, z3.Not(holds_)))
            return
        if end.error is not None or family is established:
            raise PathLimit(f"{lemma} raised {end.error!r}" if end.error else "the walk ended before its first cut")
        for p in exit_rows:
            family.obligations.setdefault(p, []).append(z3.And(pc, z3.Not(judge.holds(p, end.value))))

    # one query per part of the invariant, the largest_matched part split by case: establishing
    # it by the blocks the chunk's largest run starts and ends in, keeping it by the way the
    # largest run was matched at the cut
    base = dict(terms.args)  # the setup's terms
    kept_assume = [*established.assume, z3.And(*parts(cut_md, cut_b).values())]
    for fam in kept:
        fam.assume = [*kept_assume, fam.explore_assume[-1]]
    t = judge.chunk[0]
    largest, start = t.largest.e, t.largest_start
    spans = [z3.And(largest > 0, i * n <= start, start < (i + 1) * n, j * n < start + largest,
                    start + largest <= (j + 1) * n) for i in range(nb) for j in range(i, nb)]
    cases = {ESTABLISHED: [largest == 0, *spans], KEPT: walk.matched(cut_md, cut_b)}
    queries: list[Query] = []
    for family in (established, *kept):
        for part in parts(cut_md, cut_b):
            for case in cases[family.name] if part == MATCHED else [z3.BoolVal(True)]:
                queries.append(Query(family, family.name, part, case))
    queries += [Query(fam, row, row, z3.BoolVal(True)) for fam in kept for row in exit_rows]
    cut_terms = {k: v for k, v in terms.args.items() if k not in base}

    def facts(family: Family, before: dict[int, Any]) -> tuple[list[z3.BoolRef], int]:
        """Instances over the terms of the family's own paths (and the setup's, and for the kept
        families the cut's): establishing the invariant on four blocks over every family's terms
        left a case undecided at 51M units that its own settle in 33M."""
        close_under_pu(inst.pre)
        own = {k: v for k, v in terms.args.items() if k not in before}
        args = list((base | ({} if family is established else cut_terms) | own).values())
        return [*axioms(inst.pre, args), *judge.facts(args, None)], len(args)

    def vacuity(within: Budget) -> str:
        """Whether some bitmap meets the established family's assumptions (the chunk's hints sound).

        That decides it for the kept families too once the invariant is established: the state
        at the first cut of such a bitmap meets their assumptions (the invariant, and the cut in
        some block).  Checking the kept families' assumptions directly needed 17M units on four
        blocks of 64 bits in one context and more than 68M in another.
        """
        s = z3.SolverFor("QF_UFLIA")
        args = list(base.values())
        s.add(*established.assume, *axioms(inst.pre, args), *judge.facts(args, None))
        return str(within.check(s))

    # the kept families of the early blocks first (they have the most paths), the established one
    # before the last block's, so the pool's two processes end close together
    order = [*kept[:-3], established, *kept[-3:]]
    out = solve(Plan(order, queries, terms, explorer_for(run, on_path), facts, vacuity, pushed, verbose, rounds),
                budget, jobs)
    bounds: dict[str, Any] = {"block_bits": POW2_SIZES if block_bits is None else block_bits, "blocks": nb,
                              "paths": out.paths, "terms": out.terms}
    rows = induction_rows(lemma, exit_rows, out, bounds)
    return stamped(rows, t0, budget)


def run(blocks: int, budget_s: float, block_bits: int | None = None, verbose: bool = False,
        merge: str = "keyed", jobs: int = JOBS, pushed: bool = True, bounds: bool = False) -> list[str]:
    """Proves the walk on ``blocks`` blocks and prints its rows; returns the rows left open."""
    rows = prove_loop(blocks, budget_s, block_bits, verbose=verbose, merge=merge, jobs=jobs, pushed=pushed,
                      bounds=bounds)
    return report(rows, f"by induction on {blocks} blocks")


def main(argv: list[str] | None = None) -> int:
    ap = OneLineParser(prog="python -m properties.proofs.loopinv",
                       description="pcpu_chunk_refresh_hint()'s walk proved by a loop invariant")
    ap.add_argument("--blocks", type=int, default=4, help=f"blocks per chunk, 2..{WalkBits.BLOCKS - 2} (default 4)")
    ap.add_argument("--budget", type=float, default=1500.0,
                    help="seconds (as Z3 units, prove.UNITS_PER_S), a cap split between the families before "
                         "they start: four blocks of 64 bits use about 312M units (240 such seconds) in about 90 s")
    ap.add_argument("--block-bits", type=int, default=None, help="one power-of-two block size instead of every size")
    ap.add_argument("--merge", choices=MERGES, default="keyed",
                    help="pcpu_block_update()'s paths in the kept family: one per contig and scan hint outcome "
                         "(keyed, default), one If-valued path (full), or each its own (none)")
    ap.add_argument("--jobs", type=int, default=JOBS,
                    help=f"families run in forked processes at once (default {JOBS}; the verdicts and units do not "
                         "depend on it)")
    ap.add_argument("--fresh", action="store_true",
                    help="a fresh solver per query (default: pushed on one solver per family)")
    ap.add_argument("--bounds", action="store_true",
                    help="the bounds contract (walkbounds.py) with full_scan false, as an allocation's refresh runs")
    ap.add_argument("--verbose", action="store_true", help="one line per solver query")
    args = parse_chunk_args(ap, argv, "loopinv", WalkBits.BLOCKS - 2)
    if isinstance(args, int):
        return args
    bb = args.block_bits
    sizes = "every block size" if bb is None else f"{bb} bits"
    lemma = BOUNDS_LEMMA if args.bounds else LEMMA
    print(f"== {lemma} by a loop invariant, {args.blocks} blocks of {sizes} (budget {args.budget:g} s)")
    open_rows = run(args.blocks, args.budget, bb, args.verbose, args.merge, args.jobs, not args.fresh, args.bounds)
    return 1 if open_rows else 0


if __name__ == "__main__":
    raise SystemExit(main())
