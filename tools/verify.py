"""``make verify``: every check, one verdict table.

1. Replays the regression corpus; every file must match its Result line,
   and every ledger finding's file must still reproduce.
2. Seeded random campaigns on small and real block sizes, and the
   Hypothesis state machine (derandomized), with every property checked
   after every step.  A violation of a property without a ledger entry
   fails the run.
3. Prints per-property verdicts, the ledger, and how often each
   interesting state was reached.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import tomllib
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from properties import litmus
from properties.configs import parse_config
from properties.harness import Harness
from properties.machine import make_machine
from properties.registry import CALL_PROPERTIES, PROPERTIES
from tools.find import random_calls

ROOT = Path(__file__).resolve().parent.parent
REQUIRED_STATES = [
    "area_straddles_blocks", "area_fills_block_exactly", "area_ends_on_block_edge", "req_align_page",
    "state_fragmented", "state_full_chunk", "state_full_block", "chunk_created", "req_reserved", "req_atomic",
    "state_block_scan_hint",
]


def load_ledger() -> list[dict[str, str]]:
    with open(ROOT / "findings" / "ledger.toml", "rb") as f:
        return list(tomllib.load(f)["finding"])


def replay_corpus(ledger: list[dict[str, str]]) -> tuple[bool, list[str]]:
    ok_all = True
    lines = []
    ledger_files = {f["file"]: f for f in ledger}
    for path in sorted((ROOT / "corpus").glob("*.litmus")):
        lit = litmus.load(path)
        rep = litmus.run(lit.body, lit.header["Config"], ignore=lit.ignore)
        ok, got = litmus.judge(lit, rep)
        rel = str(path.relative_to(ROOT))
        tag = ledger_files[rel]["id"] if rel in ledger_files else "-"
        lines.append(f"  {'MATCH   ' if ok else 'MISMATCH'} {tag:<4} {rel}: {got}")
        ok_all &= ok
    for f in ledger:
        if not (ROOT / f["file"]).exists():
            lines.append(f"  MISSING  {f['id']:<4} {f['file']}")
            ok_all = False
    return ok_all, lines


def proofs_step(block_bits: int = 8, budget_s: float = 20.0) -> bool:
    """Z3 proofs of the hint lemmas on the port's own code (properties/proofs); the verdict table."""
    from properties.proofs.__main__ import run as run_proofs
    from properties.proofs.lemmas import LEMMAS

    print(f"\n== hint-invariant proofs (Z3, block_bits={block_bits}, budget {budget_s:g} s per lemma)")
    ok, _ = run_proofs(list(LEMMAS), block_bits, None, 1, budget_s)
    return ok


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.verify")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=1500, help="steps per seeded walk")
    ap.add_argument("--walks", type=int, default=4, help="seeded walks per configuration")
    ap.add_argument("--examples", type=int, default=40, help="Hypothesis examples per configuration")
    args = ap.parse_args(argv)
    t0 = time.time()
    ledger = load_ledger()
    tolerated = frozenset(f["property"] for f in ledger)
    print(f"pcpu-verify: seed {args.seed}; kernel linux-source-6.12 6.12.117-1~deb12u1")
    print("\n== regression corpus")
    corpus_ok, lines = replay_corpus(ledger)
    print("\n".join(lines))

    seen: Counter[str] = Counter()
    where: dict[str, str] = {}
    events: Counter[str] = Counter()
    steps_total = 0
    configs = ["small16", "small32", "small64", "real4096"]
    print("\n== seeded walks (every property after every step)")
    for name in configs:
        cfg = parse_config(name)
        n_walks = args.walks if name != "real4096" else max(1, args.walks // 2)
        steps = args.steps if name != "real4096" else args.steps // 3
        for k in range(n_walks):
            seed = args.seed * 1000 + k
            h = Harness(cfg)
            t = time.time()
            random_calls(h, random.Random(seed), steps)
            dt = time.time() - t
            steps_total += h.step
            events.update(h.events)
            for v in h.violations:
                seen[v.prop] += 1
                where.setdefault(v.prop, f"{name} seed {seed}: {v.line()}")
            print(f"  {name:<9} seed {seed:<6} {h.step} steps {h.step / dt:7.0f} steps/s  "
                  f"chunks {len(h.pcpu.all_chunks())}  violations {len(h.violations)}")

    print("\n== Hypothesis state machine (derandomized)")
    for name in ("small16", "real4096"):
        cfg = parse_config(name)
        machine = make_machine(cfg, tolerated=tolerated, name=f"PercpuMachine_{name}")
        t = time.time()
        status = "no new violation"
        try:
            run_state_machine_as_test(
                machine,
                settings=settings(
                    max_examples=args.examples if name != "real4096" else max(5, args.examples // 4),
                    stateful_step_count=40, derandomize=True, database=None, deadline=None,
                    suppress_health_check=list(HealthCheck), print_blob=False,
                ),
            )
        except AssertionError as e:
            status = "NEW VIOLATION: " + str(e).splitlines()[0]
            prop = str(e).split(" @")[0].strip()
            seen[prop] += 1
            where.setdefault(prop, f"hypothesis {name}: {str(e).splitlines()[0]}")
        print(f"  {name:<9} {time.time() - t:6.1f} s  {status}")

    print("\n== per-property verdicts")
    new_violation = False
    ids = {f["property"]: f["id"] for f in ledger}
    for pname in sorted(PROPERTIES) + CALL_PROPERTIES:
        kind = PROPERTIES[pname].kind if pname in PROPERTIES else "allowed outcome"
        if seen[pname] and pname in ids:
            verdict = f"FINDING {ids[pname]} ({seen[pname]} hits)"
        elif seen[pname]:
            verdict = f"VIOLATED ({seen[pname]} hits): {where[pname]}"
            new_violation = True
        else:
            verdict = "holds"
        print(f"  {pname:<34} {kind:<16} {verdict}")

    print("\n== findings ledger")
    for f in ledger:
        print(f"  {f['id']:<3} {f['property']:<32} [{f['severity']}] {f['summary']}")

    print("\n== interesting states reached (seeded walks)")
    missing = []
    for ev in sorted(events):
        print(f"  {ev:<32} {events[ev]}")
    for ev in REQUIRED_STATES:
        if not events[ev]:
            missing.append(ev)
    if missing:
        print(f"  REQUIRED STATES NEVER REACHED: {', '.join(missing)}")

    proofs_ok = proofs_step()

    elapsed = time.time() - t0
    ok = corpus_ok and not new_violation and not missing and proofs_ok
    print(f"\n== verdict: {'PASS' if ok else 'FAIL'}  ({steps_total} walk steps, {elapsed:.0f} s, seed {args.seed})")
    if not corpus_ok:
        print("   corpus mismatch or a ledger finding no longer reproduces")
    if new_violation:
        print("   a property without a ledger entry was violated")
    if not proofs_ok:
        print("   a proof lemma was refuted without a ledger entry")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
