"""The fast, seeded check a mutation tool runs against each mutant of impl/.

    python -m tools.mutation_probe [--seeds 0-2] [--steps 250]

Replays every counterexample file in corpus/ (each must give its recorded
result: a mutant that hides a kernel finding is caught here) and runs seeded
walks (tools.find) on small16 and small32 with the ledger's findings
tolerated, and the chunk-level C differential (the port's offsets and
every hint against the kernel's own C, oracle/, as tests/test_port_vs_c.py
does; skipped with a note when the oracle is not built).  Prints one line
``KILLED-BY: name,...`` naming every check that failed (a property,
``corpus:<file>``, ``c_differential`` or ``exception:<type>``) and exits 1, or
prints ``SURVIVED`` and exits 0.  Deterministic: the seeds are printed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from properties import litmus
from properties.harness import Variant
from properties.mutants import TOLERATED
from tools.find import campaign, parse_seeds

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ("small16", "small32")
C_SHIFTS = (6, 8)  # 64- and 256-byte pages: 16- and 64-bit blocks
C_SEEDS = 8  # chunk-level runs are cheap: more seeds and steps than the walks
C_STEPS = 600


def c_differential(seeds: list[int], steps: int, variant: Variant | None = None) -> str | None:
    """None when the port agrees with the C bit for bit, for every page size in C_SHIFTS; else the first difference.

    ``variant`` (a harness variant: a mutant, or tools.mutation_witness's
    counters) is applied to the port before each page size's run.
    """
    for shift in C_SHIFTS:
        diff = _c_differential(shift, seeds, steps, variant)
        if diff is not None:
            return f"PAGE_SHIFT {shift}: {diff}"
    return None


def _c_differential(shift: int, seeds: list[int], steps: int, variant: Variant | None = None) -> str | None:
    import random

    from impl.boot import boot, small_config
    from oracle.cpercpu import COracle

    co = COracle(shift, 8)
    ps = 1 << shift
    pc = boot(small_config(ps // 4))
    if variant is not None:
        variant(pc)
    for seed in seeds:
        rng = random.Random(seed)
        ch = pc.pcpu_alloc_chunk(0)
        # odd seeds: an unpopulated hole in the middle, so atomic (pop_only) searches must skip it
        n = ch.nr_pages
        runs = [(0, n)] if seed % 2 == 0 else [(0, n // 4), (n // 2, n)]
        hc = co.new_chunk("dynamic", populated=seed % 2 == 0)
        for rs, re in runs:
            pc.pcpu_chunk_populated(ch, rs, re)
            if seed % 2:
                co.populate(hc, rs, re)
        pc.pcpu_chunk_relocate(ch, -1)
        live: list[int] = []
        for step in range(steps):
            if live and rng.random() < 0.45:
                off = live.pop(rng.randrange(len(live)))
                a, b = pc.pcpu_free_area(ch, off), co.free(hc, off)
            else:
                bits = rng.choice([1, 2, 3, 5, 8, 15, 16, 17, 33, ps // 4, ps // 4 + 1, rng.randint(1, 3 * ps // 4)])
                align = rng.choice([1, 1, 2, 4, 8, 16, ps // 4])
                pop_only = seed % 2 == 1 and rng.random() < 0.5
                s = pc.pcpu_find_block_fit(ch, bits, align, pop_only)
                a = -1 if s < 0 else pc.pcpu_alloc_area(ch, bits, align, s)
                b = co.alloc(hc, bits, align, pop_only)
                if a >= 0:
                    live.append(a)
            if a != b:
                return f"seed {seed} step {step}: offset python {a}, C {b}"
            sc = co.snapshot(hc)
            sp = {"alloc_map": ch.alloc_map.bits, "chunk_md": ch.chunk_md.as_tuple(),
                  "md_blocks": [md.as_tuple() for md in ch.md_blocks], "free_bytes": ch.free_bytes}
            for k, v in sp.items():
                if v != sc[k]:
                    return f"seed {seed} step {step}: {k} differs"
        co.destroy(hc)
    return None


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
    try:
        diff = c_differential(list(range(C_SEEDS)), C_STEPS)
    except ImportError as e:
        print(f"C differential skipped: {e}")
        diff = None
    except Exception as e:  # noqa: BLE001
        diff = f"exception {type(e).__name__}"
    if diff is not None:
        print(f"C differential: {diff}")
        killed.append("c_differential")
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
