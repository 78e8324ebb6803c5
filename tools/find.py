"""Seeded random campaigns that turn each new violation into a shrunk counterexample file.

    python -m tools.find --config small16 --seeds 0-20 --steps 400 --out corpus/new

Prints the seed of every run.  For each property violated first in some
run (and not already tolerated), the run's calls are shrunk by delta
debugging and written as a counterexample file.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

from properties import litmus
from properties.configs import ConfigError, parse_config
from properties.harness import Harness, Variant
from properties.oneline_args import OneLineParser


def random_calls(h: Harness, rng: random.Random, steps: int) -> None:
    """Drives ``h`` with a seeded mix of the kernel entry points."""
    ps = h.cfg.page_size
    sizes = [4, 8, 12, 16, 40, 64, ps // 2, ps - 4, ps, ps + 4, 2 * ps, 3 * ps - 4]
    aligns = [4, 4, 4, 8, 16, 64, ps]
    for _ in range(steps):
        r = rng.random()
        live = h.live_handles()
        if r < 0.004:
            # a burst of small allocations that fills chunks to the brim
            for _ in range(h.cfg.min_unit_size // 16):
                h.pcpu_alloc(rng.choice([4, 8, 12, 16]), 4, False, False)
        elif live and r < 0.42:
            h.free_percpu(rng.choice(live))
        elif r < 0.46:
            h.pcpu_balance_workfn()
        elif r < 0.47:
            h.inject_page_failures(rng.randint(1, 4))
        elif r < 0.475:
            h.inject_chunk_failures(1)
        else:
            size = rng.choice(sizes) if rng.random() < 0.7 else rng.randint(1, 3 * ps)
            h.pcpu_alloc(size, rng.choice([a for a in aligns if a <= ps]), rng.random() < 0.08, rng.random() < 0.1)


def campaign(
    cfg_text: str, seeds: list[int], steps: int, tolerated: frozenset[str] = frozenset(),
    variant: Variant | None = None, verbose: bool = True,
) -> dict[str, tuple[int, list[str]]]:
    """Runs one seeded walk per seed; returns property -> (seed, calls) of first hits."""
    cfg = parse_config(cfg_text)
    hits: dict[str, tuple[int, list[str]]] = {}
    for seed in seeds:
        h = Harness(cfg, variant)
        rng = random.Random(seed)
        # a harness records violations without stopping; walk until a new property fails
        while True:
            before = len(h.violations)
            random_calls(h, rng, 1)
            new = [v for v in h.violations[before:] if v.prop not in tolerated and v.prop not in hits]
            h.violations = [v for v in h.violations if v.prop not in tolerated]
            if new:
                hits[new[0].prop] = (seed, list(h.ops))
                if verbose:
                    print(f"seed {seed}: {new[0].line()}")
                break
            if h.step >= steps:
                break
        if verbose:
            print(f"seed {seed}: {h.step} steps, {len(h.pcpu.all_chunks())} chunks")
    return hits


def parse_seeds(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        a, sep, b = part.partition("-")
        out += list(range(int(a), int(b) + 1)) if sep else [int(a)]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = OneLineParser(prog="python -m tools.find")
    ap.add_argument("--config", default="small16")
    ap.add_argument("--seeds", default="0-9")
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--tolerate", default="", help="comma-separated properties to look past")
    ap.add_argument("--out", default="")
    args = ap.parse_args(argv)
    try:
        seeds = parse_seeds(args.seeds)
        parse_config(args.config)
    except (ValueError, ConfigError) as e:
        print(f"find: bad argument: {e}", file=sys.stderr)
        return 2
    tol = frozenset(p for p in args.tolerate.split(",") if p)
    hits = campaign(args.config, seeds, args.steps, tol)
    for prop, (seed, calls) in sorted(hits.items()):
        small = litmus.shrink(calls, args.config, prop, ignore=tol)
        lit = litmus.make(f"{prop}-{args.config}-seed{seed}", args.config, small, f"tools.find seed {seed}", ignore=tol)
        print(f"\n# {prop}: {len(calls)} calls shrunk to {len(small)}")
        print(lit.text())
        if args.out:
            Path(args.out).mkdir(parents=True, exist_ok=True)
            (Path(args.out) / f"{prop}-{args.config}.litmus").write_text(lit.text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
