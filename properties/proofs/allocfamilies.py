"""pcpu_block_update_hint_alloc()'s rows on a chunk of several blocks, with its calls as proved summaries.

parametric.py runs pcpu_alloc_area()'s whole hint update through sym.explore,
the rescans included, and bounds the free runs per block (runs_per_block):
the block rescan loops over them.  Here the port's own chunk first_free
update and pcpu_block_update_hint_alloc() run, but the two calls that loop
are replaced by their summaries, each a lemma proved on its own:

- pcpu_block_refresh_hint() on a block (refreshloop.py, every size, any
  number of runs): at the call its precondition is an obligation
  (``refresh_pre``: the hints in range, first_free not past the first free
  bit of the block's new bitmap, a non-zero scan_hint a maximal free run
  that no stretch starting before its end beats, asked at a fresh point);
  after it the block's hints are fresh values with its post-condition
  assumed (contig_hint exact, the scan_hint properties, first_free and
  left_free kept, right_free the right run or 0).  Each block is rescanned
  at most once (a second call raises PathLimit).
- pcpu_chunk_refresh_hint(full_scan=False) (walkbounds.py, proved by
  loopinv.py --bounds): at the call, chunk_md's first_free and scan_hint
  sound and every block's hints naming free regions are obligations
  (``walk_pre``); after it chunk_md's hints are fresh with its bound
  properties assumed.

The chunk rows the walk's contract does not state (inv_chunk_contig_hint_slack)
are not claimed.  The rows the faithful port refutes (ledger F1, F3, F9, and
F4: the rescan folds runs of one size forward, and a third one better
aligned than the first leaves the second as a scan_hint equal to the
contig_hint and before it) are not queried.

The allocation is assumed placed as the search places it (:func:`placed`;
``--anywhere`` drops that, and left_free then has the witness kept in
expected.TRIAGE as a reachability question).

The families and the queries are freefamilies.py's (summarised.py holds
what the two share).  The paths are explored once per block and once for
chunk_md, the others' conditions taken one way only (INDEPENDENT says why
that is sound; check_independence checks it against the full exploration).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
from typing import Any

import z3

from impl.internal import pcpu_chunk
from properties.proofs import refreshloop, walkbounds
from properties.proofs.abstractions import one_way_overlap
from properties.proofs.expected import EXPECTED
from properties.proofs.families import chunk_parser, parse_chunk_args, report, sizes_text
from properties.proofs.lemmas import BLOCK_PROPS, CHUNK_PROPS, md_fields
from properties.proofs.parametric import JOBS
from properties.proofs.paramlemmas import Instance, setup_chunk_hint_alloc
from properties.proofs.prove import Row
from properties.proofs.summarised import (
    HINTS,
    Proof,
    Summarised,
    Trace,
    hint_key,
    independence_gap,
    memo,
    memo_holds,
    prove_summarised,
)
from properties.proofs.sym import PathLimit, var

LEMMA = "chunk_hint_alloc"
MAX_BLOCKS = 4
REFRESH_PRE, WALK_PRE_ROW = "refresh_pre", "walk_pre"
# the rows the faithful port refutes: not queried
LEDGER = {p: EXPECTED[(LEMMA, p)] for p in BLOCK_PROPS + CHUNK_PROPS if (LEMMA, p) in EXPECTED}
# EXPECTED's F4, with how it is reached
LEDGER["inv_block_scan_hint_order"] = ("F4: the rescan folds runs of one size forward, and a third one better "
                                       "aligned than the first leaves the second as a scan_hint equal to the "
                                       "contig_hint before it (tests/test_proofs_alloc.py runs it at 16 bits)")
UNSTATED = {"inv_chunk_contig_hint_slack": "the walk's bounds contract (walkbounds.py) does not state it"}


def _summaries(variant: Any) -> list[Row]:
    return refreshloop.prove_refresh_loop(variant=variant)


def _calls(p: Proof) -> None:
    """Replaces the port's two looping calls by their summaries (module docstring)."""
    post_j, terms = p.post_j, p.terms

    def block_refresh(chunk: pcpu_chunk, index: Any) -> None:
        tr: Trace = p.current[0]
        block = chunk.md_blocks[index]
        i = next(k for k, md in enumerate(chunk.md_blocks) if md is block)
        if i in tr.updated:
            raise PathLimit(f"block {i} rescanned twice: the summary does not apply")
        at_call = copy.copy(block)
        t, w, _ = post_j.blocks[i]
        at = var(f"b{i}.prefix_at")
        terms.add(at)
        k = len(tr.assumed)
        key = (i, *hint_key(at_call))
        pre = memo(("refresh_pre", *key), at_call, lambda: refreshloop.pre_parts(at_call, t.bm, at))
        tr.obligations += [(f"{REFRESH_PRE}:{part}", i, f, k) for part, f in pre.items()]
        tr.assumed += list(pre.values())
        fresh = md_fields(f"b{i}.after", 0)
        fresh.nr_bits = block.nr_bits
        tr.assumed += memo(("refresh_post", *key), at_call,
                           lambda: list(refreshloop.post_parts(fresh, at_call, t, w).values()))
        for f in HINTS:
            setattr(block, f, getattr(fresh, f))
        tr.updated[i] = fresh

    def refresh(chunk: pcpu_chunk, full_scan: Any) -> None:
        tr: Trace = p.current[0]
        if full_scan is not False or tr.chunk_by:
            raise PathLimit("pcpu_chunk_refresh_hint() with full_scan, or twice: no summary")
        k = len(tr.assumed)
        t, w = post_j.chunk
        tr.obligations += [(f"{WALK_PRE_ROW}:{part}", -1, f, k)
                           for part, f in walkbounds.chunk_pre(chunk.chunk_md, t, w, memo_holds).items()]
        # the blocks' part of the precondition is asked at the end of every path (_at_end)
        tr.marks["blocks at the walk"] = [[getattr(md, f) for f in HINTS] for md in chunk.md_blocks]
        fresh = md_fields("chunk.after", 0)
        fresh.nr_bits = chunk.chunk_md.nr_bits
        tr.assumed += [memo_holds(q, fresh, t, w) for q in walkbounds.POST]
        for f in HINTS:
            setattr(chunk.chunk_md, f, getattr(fresh, f))
        tr.chunk_by = "walk"

    p.pcpu.pcpu_block_refresh_hint = block_refresh  # type: ignore[method-assign,assignment]
    p.pcpu.pcpu_chunk_refresh_hint = refresh  # type: ignore[method-assign,assignment]


def _at_end(tr: Trace, p: Proof) -> None:
    """The walk's precondition on the blocks, asked of every path's last block hints.

    Each block's exploration takes chunk_md's conditions one way only (Summarised.independent),
    so a path that calls the walk may not be explored for a block: its hints are asked on every
    path instead, which asks more.  They are the hints at the walk's call: a path that changes a
    block after the walk raises PathLimit.
    """
    blocks = tr.chunk.md_blocks
    at_walk = tr.marks.get("blocks at the walk")
    if at_walk is not None and any(v is not w for md, vals in zip(blocks, at_walk, strict=True)
                                   for v, w in zip([getattr(md, f) for f in HINTS], vals, strict=True)):
        raise PathLimit("a block changed after the walk: its precondition was asked of other hints")
    k = len(tr.assumed)
    for i, md in enumerate(blocks):
        t = p.post_j.blocks[i][0]
        parts = memo(("walk_pre", i, *hint_key(md)), [getattr(md, f) for f in HINTS],
                     functools.partial(walkbounds.block_pre, md, t))
        tr.obligations += [(f"{WALK_PRE_ROW}:{part}", i, f, k) for part, f in parts.items()]


INDEPENDENT = ("pcpu_block_update_hint_alloc() writes a block's hints (itself or through the rescan) only under "
               "conditions on that block's hints and the allocation's place, and chunk_md's only under conditions "
               "on chunk_md's; tests/test_proofs_alloc.py checks the obligations against the full exploration")

SPEC = Summarised(LEMMA, "pcpu_block_update_hint_alloc", setup_chunk_hint_alloc, _calls,
                  (REFRESH_PRE, WALK_PRE_ROW), LEDGER, UNSTATED, _summaries,
                  "given refreshloop.py's summary above and the walk's bounds contract (make proofs-chunk-loop "
                  "BLOCKS={nb} LOOP_BITS={bits} BOUNDS=1)", independent=INDEPENDENT, at_end=_at_end)


def placed(pre: Any, s: z3.ArithRef, n: Any, nb: int) -> z3.BoolRef:
    """The allocation does not start strictly inside the free run a block begins with.

    pcpu_alloc_area() searches first-fit from where pcpu_find_block_fit() points: a block's
    first_free, the end of a scan_hint before its contig_hint, or a run carried over from the
    block before (which starts in that block).  From the start of a block's leading free run,
    offset 0 (aligned to every alignment) is where a request that fits in it lands.  Without this
    assumption the lemma has a witness no search reached (README: the left_free reachability
    question): an allocation at offset 1 of a contig_hint at offset 0 with a scan_hint after it,
    whose rescan starts after the scan_hint and leaves left_free at the old run's length.
    """
    return z3.And(*[z3.Implies(z3.And(i * n <= s, s < (i + 1) * n), z3.Or(s == i * n, pre.nu(i * n) < s))
                    for i in range(nb)])


def _setup_placed(n: Any, terms: Any, nb: int = 2) -> Instance:
    inst = setup_chunk_hint_alloc(n, terms, nb)
    inst.assume.append(placed(inst.pre, inst.post.changed[0], n, nb))  # type: ignore[index]
    return inst


def prove_alloc(blocks: int = 4, budget_s: float = 600.0, block_bits: int | None = None, variant: Any = None,
                verbose: bool = False, jobs: int = JOBS, rounds: int = 2, anywhere: bool = False) -> list[Row]:
    """chunk_hint_alloc's rows on ``blocks`` blocks (every size, or ``block_bits``), with the summaries'
    preconditions as rows of their own, after the block rescan summary's own rows.  ``anywhere``: the
    allocation may start anywhere in a free area (not assuming :func:`placed`)."""
    with one_way_overlap():
        return prove_summarised(spec(anywhere), blocks, budget_s, block_bits, variant, verbose, jobs, rounds)


def check_independence(blocks: int, block_bits: int, variant: Any = None) -> tuple[int, int]:
    """summarised.independence_gap for this lemma: (obligations of the full exploration the pruned ones do
    not cover, obligations of the full exploration)."""
    with one_way_overlap():
        return independence_gap(spec(), blocks, block_bits, variant=variant)


def spec(anywhere: bool = False) -> Summarised:
    """The lemma with the placement assumption (:func:`placed`), or without it (``anywhere``)."""
    return SPEC if anywhere else dataclasses.replace(SPEC, setup=_setup_placed)


def run(blocks: int, budget_s: float, block_bits: int | None = None, verbose: bool = False,
        jobs: int = JOBS, anywhere: bool = False) -> list[str]:
    """Proves chunk_hint_alloc's rows on ``blocks`` blocks and prints them; returns the rows left open."""
    rows = prove_alloc(blocks, budget_s, block_bits, verbose=verbose, jobs=jobs, anywhere=anywhere)
    # the ledger's rows are refuted on the faithful port, and no summary states the unstated ones
    return [r for r in report(rows, f"on {blocks} blocks") if r.split(":")[1] not in {**LEDGER, **UNSTATED}]


def main(argv: list[str] | None = None) -> int:
    ap = chunk_parser("allocfamilies", "pcpu_block_update_hint_alloc()'s rows on several blocks, with summaries",
                      MAX_BLOCKS)
    ap.add_argument("--anywhere", action="store_true",
                    help="the allocation may start anywhere in a free area (no placement assumption: left_free "
                         "and the walk's precondition then have the reachability question's model)")
    args = parse_chunk_args(ap, argv, "allocfamilies", MAX_BLOCKS)
    if isinstance(args, int):
        return args
    bb, sizes = args.block_bits, sizes_text(args.block_bits)
    where = "anywhere in a free area" if args.anywhere else "placed as the search places it"
    print(f"== {LEMMA} with summaries, {args.blocks} blocks of {sizes}, the allocation {where} "
          f"(budget {args.budget:g} s)", flush=True)
    return 1 if run(args.blocks, args.budget, bb, args.verbose, args.jobs, args.anywhere) else 0


if __name__ == "__main__":
    raise SystemExit(main())
