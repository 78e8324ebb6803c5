"""The fast, seeded check a mutation tool runs against each mutant of impl/.

    python -m tools.mutation_probe [--seeds 0-2] [--steps 250]

Replays every counterexample file in corpus/ (each must give its recorded
result: a mutant that hides a kernel finding is caught here) and runs seeded
walks (tools.find) on small16 and small32 with the ledger's findings
tolerated.  Prints one line ``KILLED-BY: name,...`` naming every check that
failed (a property, ``corpus:<file>`` or ``exception:<type>``) and exits 1, or
prints ``SURVIVED`` and exits 0.  Deterministic: the seeds are printed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from properties import litmus
from properties.mutants import TOLERATED
from tools.find import campaign, parse_seeds

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ("small16", "small32")


def probe(seeds: list[int], steps: int) -> list[str]:
    """The names of the checks that fail on the code as imported now."""
    killed: list[str] = []
    for path in sorted((ROOT / "corpus").glob("*.litmus")):
        lit = litmus.load(path)
        try:
            rep = litmus.run(lit.body, lit.header["Config"], ignore=lit.ignore)
            ok, got = litmus.judge(lit, rep)
        except Exception as e:  # noqa: BLE001  (a crash is a kill)
            killed.append(f"exception:{type(e).__name__}")
            continue
        if not ok:
            killed.append(f"corpus:{path.stem}:{got.split(' at ')[0]}")
    for cfg in CONFIGS:
        try:
            hits = campaign(cfg, seeds, steps, TOLERATED, verbose=False)
        except Exception as e:  # noqa: BLE001
            killed.append(f"exception:{type(e).__name__}")
            continue
        killed += sorted(hits)
    return sorted(set(killed))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.mutation_probe")
    ap.add_argument("--seeds", default="0-2")
    ap.add_argument("--steps", type=int, default=250)
    args = ap.parse_args(argv)
    try:
        seeds = parse_seeds(args.seeds)
    except ValueError as e:
        print(f"mutation_probe: bad argument: {e}", file=sys.stderr)
        return 2
    print(f"seeds {seeds}, {args.steps} steps, configs {', '.join(CONFIGS)}")
    killed = probe(seeds, args.steps)
    if killed:
        print("KILLED-BY: " + ",".join(killed))
        return 1
    print("SURVIVED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
