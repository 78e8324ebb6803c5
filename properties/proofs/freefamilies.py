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

The exploration, the families and the queries are summarised.py's, which
allocfamilies.py shares; chunk_md's update precondition goes to a family of
the block the free lies in (that block's and chunk_md's assumptions and
facts only).  properties/proofs/README.md has what each step saved.
"""

from __future__ import annotations

from typing import Any

import z3

from impl.internal import pcpu_block_md, pcpu_chunk
from properties.proofs.expected import EXPECTED
from properties.proofs.families import chunk_parser, parse_chunk_args, report, sizes_text
from properties.proofs.lemmas import BLOCK_PROPS, CHUNK_PROPS, md_fields, md_range_list
from properties.proofs.loopinv import WALK_PRE
from properties.proofs.parametric import JOBS
from properties.proofs.paramlemmas import setup_chunk_hint_free
from properties.proofs.prove import Row
from properties.proofs.summaries import CHUNK_UPDATE_POST, UPDATE_POST, prove_summaries
from properties.proofs.summarised import (
    CHUNK_ONLY,
    HINTS,
    Proof,
    Summarised,
    Trace,
    memo_holds,
    prove_summarised,
)
from properties.proofs.sym import PathLimit, lift
from properties.registry import PROPERTIES

LEMMA = "chunk_hint_free"
MAX_BLOCKS = 4
WALK_POST = tuple(CHUNK_PROPS)  # loopinv.py proves all five
UPDATE_PRE, WALK_PRE_ROW, CHUNK_PRE = "update_pre", "walk_pre", "chunk_update_pre"
# the rows the faithful port refutes (ledger findings): not queried, as in parametric.py
LEDGER = {p: EXPECTED[(LEMMA, p)] for p in BLOCK_PROPS + CHUNK_PROPS if (LEMMA, p) in EXPECTED}


def _calls(p: Proof) -> None:
    """Replaces pcpu_block_update() and pcpu_chunk_refresh_hint() by their summaries (module docstring)."""
    inst, post_j, n, nb = p.inst, p.post_j, p.n, p.nb
    s, e = inst.post.changed  # type: ignore[misc]
    original = inst.chunk.md_blocks

    def block_update(block: pcpu_block_md, start: Any, end: Any) -> None:
        tr = p.current[0]
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
                *[(q, memo_holds(q, block, t, w)) for q in CHUNK_UPDATE_POST])]
            fresh = md_fields("chunk.after", 0)
            fresh.nr_bits = block.nr_bits
            tr.assumed += [memo_holds(q, fresh, t, w) for q in CHUNK_UPDATE_POST]
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
        tr.assumed += [*md_range_list(fresh), *[memo_holds(q, fresh, t, w) for q in UPDATE_POST]]
        for f in HINTS:
            setattr(block, f, getattr(fresh, f))
        tr.updated[i] = fresh

    def refresh(chunk: pcpu_chunk, full_scan: Any) -> None:
        tr = p.current[0]
        if full_scan is not True or tr.chunk_by:
            raise PathLimit("pcpu_chunk_refresh_hint() without full_scan, or twice: no summary")
        k = len(tr.assumed)
        for q in WALK_PRE:
            if PROPERTIES[q].scope == "chunk":
                tr.obligations.append((f"{WALK_PRE_ROW}:{q}", -1, memo_holds(q, chunk.chunk_md, *post_j.chunk), k))
            else:
                for i, md in enumerate(chunk.md_blocks):
                    tr.obligations.append((f"{WALK_PRE_ROW}:{q}", i, memo_holds(q, md, *post_j.blocks[i][:2]), k))
        for i, md in enumerate(chunk.md_blocks):
            tr.obligations.append((f"{WALK_PRE_ROW}:ranges", i, z3.And(*md_range_list(md)), k))
        tr.obligations.append((f"{WALK_PRE_ROW}:ranges", -1, z3.And(*md_range_list(chunk.chunk_md)), k))
        fresh = md_fields("chunk.after", 0)
        fresh.nr_bits = chunk.chunk_md.nr_bits
        tr.assumed += [memo_holds(q, fresh, *post_j.chunk) for q in WALK_POST]
        for f in HINTS:
            setattr(chunk.chunk_md, f, getattr(fresh, f))
        tr.chunk_by = "walk"

    p.pcpu.pcpu_block_update = block_update  # type: ignore[method-assign,assignment]
    p.pcpu.pcpu_chunk_refresh_hint = refresh  # type: ignore[method-assign,assignment]


def _focus(row: str, i: int, tr: Trace) -> int | None:
    """chunk_md's update follows a free inside one block: that block and chunk_md are all its
    precondition speaks of; the walk's preconditions on chunk_md speak of chunk_md only."""
    return (next(iter(tr.updated)) if row == CHUNK_PRE and len(tr.updated) == 1 else
            CHUNK_ONLY if row == WALK_PRE_ROW and i < 0 else None)


SPEC = Summarised(LEMMA, "pcpu_block_update_hint_free", setup_chunk_hint_free, _calls,
                  (UPDATE_PRE, CHUNK_PRE, WALK_PRE_ROW), LEDGER, {}, lambda variant: prove_summaries(variant=variant),
                  "given the summaries above and the walk's (make proofs-chunk-loop BLOCKS={nb} LOOP_BITS={bits})",
                  _focus)


def prove_free(blocks: int = 4, budget_s: float = 600.0, block_bits: int | None = None, variant: Any = None,
               verbose: bool = False, jobs: int = JOBS, rounds: int = 2) -> list[Row]:
    """chunk_hint_free's rows on ``blocks`` blocks (every size, or ``block_bits``), one Row each, with the
    summaries' preconditions as rows of their own, after the summaries' own rows (summaries.py)."""
    return prove_summarised(SPEC, blocks, budget_s, block_bits, variant, verbose, jobs, rounds)

def run(blocks: int, budget_s: float, block_bits: int | None = None, verbose: bool = False,
        jobs: int = JOBS) -> list[str]:
    """Proves chunk_hint_free's rows on ``blocks`` blocks and prints them; returns the rows left open."""
    rows = prove_free(blocks, budget_s, block_bits, verbose=verbose, jobs=jobs)
    # the ledger's rows are refuted by the bounded proofs: not open
    return [r for r in report(rows, f"on {blocks} blocks") if r not in {f"{LEMMA}:{p}" for p in LEDGER}]


def main(argv: list[str] | None = None) -> int:
    ap = chunk_parser("freefamilies", "pcpu_block_update_hint_free()'s rows on several blocks, with summaries",
                      MAX_BLOCKS)
    args = parse_chunk_args(ap, argv, "freefamilies", MAX_BLOCKS)
    if isinstance(args, int):
        return args
    print(f"== {LEMMA} with summaries, {args.blocks} blocks of {sizes_text(args.block_bits)} "
          f"(budget {args.budget:g} s)", flush=True)
    return 1 if run(args.blocks, args.budget, args.block_bits, args.verbose, args.jobs) else 0


if __name__ == "__main__":
    raise SystemExit(main())
