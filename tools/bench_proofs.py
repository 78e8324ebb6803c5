"""Scale benchmark of the Z3 proofs: time per lemma against block size, and chunk lemmas against block count.

    python -m tools.bench_proofs [--budget 60] [--max-bits 1024] [--lemma NAME]...

For each block-scope lemma, block sizes 8, 16, 32, ... up to --max-bits are tried
in order until one does not finish within the budget; for each chunk-scope lemma,
2, 3, 4 blocks of --chunk-block-bits.  A size counts as decided when every property
is PROVED or REFUTED (exploration complete).  Prints one line per run and the
largest decided size per lemma.  Figures depend on the machine's load: the
2-core box is shared.
"""

from __future__ import annotations

import argparse
import sys

from properties.proofs.lemmas import LEMMAS
from properties.proofs.prove import PROVED, REFUTED, prove


def decided(rows: list) -> bool:  # type: ignore[type-arg]
    return all(r.verdict in (PROVED, REFUTED) for r in rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.bench_proofs")
    ap.add_argument("--budget", type=float, default=60.0, help="seconds per lemma and size")
    ap.add_argument("--max-bits", type=int, default=1024)
    ap.add_argument("--chunk-block-bits", type=int, default=8)
    ap.add_argument("--max-blocks", type=int, default=4)
    ap.add_argument("--lemma", action="append", default=[])
    try:
        args = ap.parse_args(argv)
    except SystemExit as e:
        return 2 if e.code else 0
    names = args.lemma or list(LEMMAS)
    if any(n not in LEMMAS for n in names) or args.budget <= 0:
        print("bench_proofs: unknown lemma or bad budget", file=sys.stderr)
        return 2
    best: dict[str, str] = {}
    for name in names:
        lm = LEMMAS[name]
        if lm.scope == "block":
            sizes = [(b, 1) for b in (8, 16, 32, 64, 128, 256, 512, 1024) if b <= args.max_bits]
        else:
            sizes = [(args.chunk_block_bits, n) for n in range(2, args.max_blocks + 1)]
        best[name] = "none"
        for bb, nb in sizes:
            rows = prove(lm, bb, nb, budget_s=args.budget)
            ok = decided(rows)
            verdicts = sorted({r.verdict for r in rows})
            print(f"{name:<20} block_bits={bb:<5} blocks={nb}  {rows[0].seconds:7.1f} s  "
                  f"paths={rows[0].bounds['paths']:<5} {'decided' if ok else 'NOT decided'} {','.join(verdicts)}",
                  flush=True)
            if not ok:
                break
            best[name] = f"{nb}x{bb} bits"
    print("\nlargest size decided within the budget:")
    for name, b in best.items():
        print(f"  {name:<20} {b}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
