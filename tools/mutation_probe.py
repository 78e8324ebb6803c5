"""The fast, seeded check a mutation tool runs against each mutant of impl/.

    python -m tools.mutation_probe [--seeds 0-2] [--steps 250]

Replays every counterexample file in corpus/ (each must give its recorded
result: a mutant that hides a kernel finding is caught here) and runs seeded
walks (tools.find) on small16 and small32 with the ledger's findings
tolerated, and the chunk-level C differential (the port's offsets and
every hint against the kernel's own C, oracle/, as tests/test_port_vs_c.py
does, over seeded walks and the directed runs of :func:`scenarios`; skipped
with a note when the oracle is not built).  Prints one line
``KILLED-BY: name,...`` naming every check that failed (a property,
``corpus:<file>``, ``c_differential`` or ``exception:<type>``) and exits 1, or
prints ``SURVIVED`` and exits 0.  Deterministic: the seeds are printed.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from properties import litmus
from properties.harness import Variant
from properties.mutants import TOLERATED
from properties.oneline_args import OneLineParser
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


Op = tuple[str, int, int, bool]  # ("alloc", bits, align, pop_only) or ("free", byte_off, 0, False)


def _random_ops(rng: random.Random, ps: int, steps: int, atomic: bool, live: list[int]) -> Iterator[Op]:
    """The seeded walk: frees of live areas and allocations of mixed sizes and alignments."""
    for _ in range(steps):
        if live and rng.random() < 0.45:
            yield ("free", live[rng.randrange(len(live))], 0, False)
        else:
            bits = rng.choice([1, 2, 3, 5, 8, 15, 16, 17, 33, ps // 4, ps // 4 + 1, rng.randint(1, 3 * ps // 4)])
            align = rng.choice([1, 1, 2, 4, 8, 16, ps // 4])
            yield ("alloc", bits, align, atomic and rng.random() < 0.5)


def scenarios(ps: int) -> dict[str, tuple[bool, list[Op]]]:
    """Directed runs (name -> (holed chunk, ops)) for states the seeded walks do not reach."""
    bb = ps // 4  # PCPU_BITMAP_BLOCK_BITS: one block per page
    fill = [("alloc", 1, 1, False)] * (2 * bb)  # bits 0 .. 2*bb-1 allocated one by one, in order
    # block 1 (the last populated page before the hole) keeps a misaligned 6-bit run at 1 and a
    # 4-bit run at its end: an atomic 4-bit, 4-aligned request fits exactly in that right_free
    frees = [("free", 4 * b, 0, False) for b in [*range(bb + 1, bb + 7), *range(2 * bb - 4, 2 * bb)]]
    return {"right_free_exact_fit_before_hole": (True, [*fill, *frees, ("alloc", 4, 4, True)])}


def _c_differential(shift: int, seeds: list[int], steps: int, variant: Variant | None = None) -> str | None:
    from impl.boot import boot, small_config
    from oracle.cpercpu import COracle

    co = COracle(shift, 8)
    ps = 1 << shift
    pc = boot(small_config(ps // 4))
    if variant is not None:
        variant(pc)
    for seed in seeds:
        live: list[int] = []
        # odd seeds: an unpopulated hole in the middle, so atomic (pop_only) searches must skip it
        ops = _random_ops(random.Random(seed), ps, steps, seed % 2 == 1, live)
        diff = _c_walk(pc, co, seed % 2 == 1, ops, live)
        if diff is not None:
            return f"seed {seed} {diff}"
    for name, (holed, sops) in scenarios(ps).items():
        diff = _c_walk(pc, co, holed, iter(sops), [])
        if diff is not None:
            return f"scenario {name} {diff}"
    return None


def _c_walk(pc: Any, co: Any, holed: bool, ops: Iterator[Op], live: list[int]) -> str | None:
    """Runs ``ops`` on a fresh chunk of the port and of the C; the first difference, or None."""
    ch = pc.pcpu_alloc_chunk(0)
    n = ch.nr_pages
    runs = [(0, n // 4), (n // 2, n)] if holed else [(0, n)]
    hc = co.new_chunk("dynamic", populated=not holed)
    for rs, re in runs:
        pc.pcpu_chunk_populated(ch, rs, re)
        if holed:
            co.populate(hc, rs, re)
    pc.pcpu_chunk_relocate(ch, -1)
    try:
        for step, (kind, x, align, pop_only) in enumerate(ops):
            if kind == "free":
                live.remove(x)
                a, b = pc.pcpu_free_area(ch, x), co.free(hc, x)
            else:
                s = pc.pcpu_find_block_fit(ch, x, align, pop_only)
                a = -1 if s < 0 else pc.pcpu_alloc_area(ch, x, align, s)
                b = co.alloc(hc, x, align, pop_only)
                if a >= 0:
                    live.append(a)
            if a != b:
                return f"step {step}: offset python {a}, C {b}"
            sc = co.snapshot(hc)
            sp = {"alloc_map": ch.alloc_map.bits, "chunk_md": ch.chunk_md.as_tuple(),
                  "md_blocks": [md.as_tuple() for md in ch.md_blocks], "free_bytes": ch.free_bytes}
            for k, v in sp.items():
                if v != sc[k]:
                    return f"step {step}: {k} differs"
    finally:
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
    ap = OneLineParser(prog="python -m tools.mutation_probe")
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
