"""Proof runner: ``python -m properties.proofs [--lemma NAME]... [--block-bits N] [--blocks N]``.

Prints one row per (lemma, property): verdict, kind (EXACT/UPPER/LOWER from
the registry), bounds and time.  A REFUTED row is matched against the
expected-refuted table (ledger findings); any other refutation fails the run
(exit status 1).  Bad arguments: one line on stderr, exit status 2.
"""

from __future__ import annotations

import json
import sys

from properties.oneline_args import OneLineParser
from properties.proofs.expected import EXPECTED, expectation
from properties.proofs.lemmas import LEMMAS
from properties.proofs.prove import REFUTED, Row, prove


def table(rows: list[Row]) -> list[str]:
    out = []
    for r in rows:
        tag = ""
        if r.verdict == REFUTED:
            tag = expectation(r.lemma, r.prop) or "NEW (no ledger entry)"
        elif (r.lemma, r.prop) in EXPECTED:
            tag = f"ledger {EXPECTED[(r.lemma, r.prop)]} not refuted at these bounds"
        note = f" [{r.note}]" if r.note else ""
        out.append(f"  {r.lemma:<19} {r.prop:<31} {r.kind:<15} {r.verdict:<8} {r.seconds:6.1f}s  "
                   f"{r.bounds_text()}  {tag}{note}")
    return out


def run(names: list[str], block_bits: int, blocks: int | None, runs: int, budget_s: float,
        show_witness: bool = False) -> tuple[bool, list[Row]]:
    """Proves the named lemmas; prints the table; returns (no unexpected refutation, rows)."""
    ok = True
    all_rows: list[Row] = []
    for name in names:
        lm = LEMMAS[name]
        nb = blocks if (blocks and lm.scope == "chunk") else None
        rows = prove(lm, block_bits, nb, runs, budget_s)
        for line in table(rows):
            print(line, flush=True)
        for r in rows:
            if r.verdict == REFUTED and not expectation(r.lemma, r.prop):
                ok = False
            if show_witness and r.witness:
                print(f"    witness {r.prop}: {json.dumps(r.witness, sort_keys=True)}")
        all_rows += rows
    return ok, all_rows


def main(argv: list[str] | None = None) -> int:
    ap = OneLineParser(prog="python -m properties.proofs")
    ap.add_argument("--lemma", action="append", default=[], help="lemma name (repeatable); default all")
    ap.add_argument("--block-bits", type=int, default=8)
    ap.add_argument("--blocks", type=int, default=0, help="blocks for chunk-level lemmas (default: each lemma's)")
    ap.add_argument("--runs", type=int, default=1, help="free runs per block, for lemmas that loop over runs")
    ap.add_argument("--budget", type=float, default=60.0, help="seconds per lemma")
    ap.add_argument("--witness", action="store_true", help="print the witness of each REFUTED row")
    ap.add_argument("--list", action="store_true", help="list the lemmas and exit")
    try:
        args = ap.parse_args(argv)
    except SystemExit as e:
        return 2 if e.code else 0
    if args.list:
        for lm in LEMMAS.values():
            print(f"{lm.name:<20} {lm.function:<30} {lm.scope:<6} {lm.doc}")
        return 0
    bad = [n for n in args.lemma if n not in LEMMAS]
    bb = args.block_bits
    if bad:
        print(f"proofs: unknown lemma {bad[0]!r}; --list shows them", file=sys.stderr)
        return 2
    if bb < 4 or bb & (bb - 1) or args.blocks < 0 or args.runs < 1 or args.budget <= 0:
        print("proofs: --block-bits must be a power of two >= 4; --blocks >= 0, --runs >= 1, --budget > 0",
              file=sys.stderr)
        return 2
    print(f"== hint-invariant proofs on the port's own code (block_bits={bb}, budget {args.budget:g} s per lemma)")
    ok, _ = run(args.lemma or list(LEMMAS), bb, args.blocks or None, args.runs, args.budget, args.witness)
    print(f"== proofs: {'no unexpected refutation' if ok else 'UNEXPECTED REFUTATION (no ledger entry)'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
