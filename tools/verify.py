"""``make verify``: every check, one verdict table.

1. Replays the regression corpus; every file must match its Result line,
   and every ledger finding's file must still reproduce.
2. Seeded random campaigns on small and real block sizes, and the
   Hypothesis state machine (derandomized), with every property checked
   after every step.  A violation of a property without a ledger entry
   fails the run.
3. Prints per-property verdicts, the ledger, and how often each
   interesting state was reached.
4. Port vs the kernel's C, operation by operation (tools/c_agreement), and
   the replay of the real tracepoint log (tools/trace): each prints its
   agreement figure; any C/port difference, or a trace placement agreement
   below the goal, fails the run.
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

from oracle.build import BuildError
from properties import branch_coverage, litmus
from properties.configs import SMP_PRESETS, parse_config
from properties.harness import Harness
from properties.machine import make_machine
from properties.oneline_args import OneLineParser
from properties.registry import CALL_PROPERTIES, PROPERTIES
from tools import c_agreement, trace
from tools.find import random_calls
from tools.shared_data import REAL_TRACE

ROOT = Path(__file__).resolve().parent.parent
REQUIRED_STATES = [
    "area_straddles_blocks", "area_fills_block_exactly", "area_ends_on_block_edge", "req_align_page",
    "state_fragmented", "state_full_chunk", "state_full_block", "chunk_created", "req_reserved", "req_atomic",
    "state_block_scan_hint",
    # SMP, population, balance work, reclaim, failures (issue 3)
    "balance_work_pending", "balance_populated_pages", "balance_depopulated_pages", "balance_after_atomic_failure",
    "chunk_destroyed", "state_isolated_chunk", "inject_page_failures", "inject_chunk_failures",
    "alloc_failed_injected",
]
# the machines the SMP walks must cover between them (smp_walks counts one per walk)
REQUIRED_STATES += [f"machine_cpus={n}" for n in (1, 2, 3, 4, 64)] + [
    "machine_sparse_cpus", "machine_non_power_of_two_cpus", "machine_numa_groups", "machine_backend=vm",
    "machine_backend=km",
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


def machine_labels(h: Harness) -> list[str]:
    """What kind of machine one walk ran on, as state counts."""
    cpus = h.cfg.possible_cpus
    out = [f"machine_cpus={len(cpus)}", f"machine_backend={h.cfg.backend}"]
    out += ["machine_sparse_cpus"] if cpus != tuple(range(len(cpus))) else []
    out += ["machine_non_power_of_two_cpus"] if len(cpus) & (len(cpus) - 1) else []
    out += ["machine_numa_groups"] if h.pcpu.pcpu_nr_groups > 1 else []
    return out


def smp_walks(args: argparse.Namespace, seen: Counter[str], where: dict[str, str], events: Counter[str]) -> int:
    """One seeded walk per SMP preset; prints what each machine reached and checks the machine coverage."""
    print("\n== SMP walks (CPUs, NUMA groups, backends; per-CPU memory checked every step)")
    print(f"  {'preset':<13} {'cpus':>4} {'groups':>6} {'backend':<7} {'steps':>5} {'reserved':>8} {'atomic':>6} "
          f"{'balance':>7} {'+pages':>6} {'-pages':>6} {'isolated':>8} {'injected':>8} {'violations':>10}")
    print("  (columns: calls of each kind; +/-pages populated/depopulated by balance work; isolated = chunk-steps "
          "spent isolated; injected = allocations failed by an injected fault; violations incl. ledger findings)")
    total = 0
    for k, name in enumerate(SMP_PRESETS):
        cfg = parse_config(name)
        seed = args.seed * 1000 + k
        h = Harness(cfg)
        steps = max(100, args.steps // (5 if len(cfg.possible_cpus) > 8 else 3))
        random_calls(h, random.Random(seed), steps)
        total += h.step
        events.update(h.events)
        for v in h.violations:
            seen[v.prop] += 1
            where.setdefault(v.prop, f"{name} seed {seed}: {v.line()}")
        cpus = cfg.possible_cpus
        events.update(machine_labels(h))
        e = h.events
        print(f"  {name:<13} {len(cpus):>4} {h.pcpu.pcpu_nr_groups:>6} {cfg.backend:<7} {h.step:>5} "
              f"{e['req_reserved']:>8} "
              f"{e['req_atomic']:>6} {e['balance_work_pending'] + e['balance_work_idle']:>7} "
              f"{e['balance_populated_pages']:>6} {e['balance_depopulated_pages']:>6} {e['state_isolated_chunk']:>8} "
              f"{e['alloc_failed_injected']:>8} {len(h.violations):>10}   seed {seed}")
    return total


def kernel_steps(seed: int, c_ops: int) -> bool:
    """The C differential and the real trace replay; True when both pass."""
    print("\n== port vs the kernel's C (every operation compared bit for bit)")
    try:
        results = [c_agreement.run(12, c_ops // 4, seed), c_agreement.run(6, c_ops, seed)]
        c_ok = c_agreement.report(results)
    except (OSError, BuildError) as e:
        print(f"  FAIL: the C oracle is unavailable: {str(e).splitlines()[0]}")
        c_ok = False
    print("\n== real tracepoint log (the kernel's own placements)")
    if not REAL_TRACE.exists():
        print(f"  FAIL: {REAL_TRACE} is missing")
        return False
    t = time.time()
    r = trace.replay_file(str(REAL_TRACE), check_every=250)
    return trace.print_report(r, time.time() - t) and c_ok


def proofs_step(block_bits: int = 8, budget_s: float = 20.0) -> bool:
    """Z3 proofs of the hint lemmas on the port's own code (properties/proofs); the verdict table."""
    from properties.proofs.__main__ import run as run_proofs
    from properties.proofs.lemmas import LEMMAS

    print(f"\n== hint-invariant proofs (Z3, block_bits={block_bits}, budget {budget_s:g} s per lemma)")
    ok, _ = run_proofs(list(LEMMAS), block_bits, None, 1, budget_s)
    return ok


def all_sizes_step(budget_s: float = 300.0) -> bool:
    """Block lemmas proved for every block size (properties/proofs/parametric.py); none may be left open."""
    from properties.proofs.parametric import DEFAULT_LEMMAS
    from properties.proofs.parametric import run as run_param

    print(f"\n== hint-invariant proofs for every block size (Z3, budget {budget_s:g} s per lemma)")
    return not run_param(DEFAULT_LEMMAS, budget_s)


def loop_step(blocks: int = 2, budget_s: float = 600.0) -> bool:
    """pcpu_chunk_refresh_hint's walk proved by its loop invariant (properties/proofs/loopinv.py) on two
    blocks of every size, 15-30 s (four blocks of 64 bits: make proofs-chunk-loop); every row must be PROVED."""
    from properties.proofs.loopinv import run as run_loop

    print(f"\n== pcpu_chunk_refresh_hint by a loop invariant, {blocks} blocks of every size (budget {budget_s:g} s)")
    return not run_loop(blocks, budget_s)


def fit_step(blocks: int = 2, budget_s: float = 300.0) -> bool:
    """pcpu_find_block_fit's two rows by families of paths (properties/proofs/fitfamilies.py) on two blocks
    of every size (four blocks: make proofs-chunk-fit); both must be PROVED."""
    from properties.proofs.fitfamilies import run as run_fit

    print(f"\n== pcpu_find_block_fit by families of paths, {blocks} blocks of every size (budget {budget_s:g} s)")
    return not run_fit(blocks, budget_s)


def free_step(blocks: int = 2, budget_s: float = 600.0) -> bool:
    """chunk_hint_free with pcpu_block_update() and the walk as summaries (properties/proofs/freefamilies.py)
    on two blocks of every size; every row but the ledger's, and every summary row, must be PROVED."""
    from properties.proofs.freefamilies import run as run_free

    print(f"\n== pcpu_block_update_hint_free with summaries, {blocks} blocks of every size (budget {budget_s:g} s)")
    return not run_free(blocks, budget_s)


def alloc_step(blocks: int = 2, budget_s: float = 600.0) -> bool:
    """chunk_hint_alloc with the block rescan and the walk as summaries (properties/proofs/allocfamilies.py)
    on two blocks of every size, after the walk's bounds contract (loopinv.py --bounds) on the same; every
    claimable row, and every summary row, must be PROVED."""
    from properties.proofs.allocfamilies import run as run_alloc
    from properties.proofs.loopinv import run as run_loop

    print(f"\n== pcpu_chunk_refresh_hint(full_scan=false)'s bounds contract, {blocks} blocks of every size "
          f"(budget {budget_s:g} s)")
    walk_open = run_loop(blocks, budget_s, bounds=True)
    print(f"\n== pcpu_block_update_hint_alloc with summaries, {blocks} blocks of every size (budget {budget_s:g} s)")
    return not walk_open and not run_alloc(blocks, budget_s)


def main(argv: list[str] | None = None) -> int:
    ap = OneLineParser(prog="python -m tools.verify")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=1500, help="steps per seeded walk")
    ap.add_argument("--walks", type=int, default=4, help="seeded walks per configuration")
    ap.add_argument("--examples", type=int, default=40, help="Hypothesis examples per configuration")
    ap.add_argument("--c-ops", type=int, default=8000, help="port-vs-C operations (a quarter at PAGE_SHIFT 12)")
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
            events.update(machine_labels(h))
            for v in h.violations:
                seen[v.prop] += 1
                where.setdefault(v.prop, f"{name} seed {seed}: {v.line()}")
            print(f"  {name:<9} seed {seed:<6} {h.step} steps {h.step / dt:7.0f} steps/s  "
                  f"chunks {len(h.pcpu.all_chunks())}  violations {len(h.violations)}")

    steps_total += smp_walks(args, seen, where, events)

    # branches of the hint-update functions, as interesting states: one more small16 walk under coverage
    branches = branch_coverage.measure(
        lambda: random_calls(Harness(parse_config("small16")), random.Random(args.seed * 1000), args.steps))

    print("\n== area-map baseline (impl_areamap/, same harness and model)")
    areamap_bad = []
    for name in ("small16", "small64"):
        h = Harness(parse_config(name), implementation="areamap")
        random_calls(h, random.Random(args.seed * 1000), args.steps // 2)
        areamap_bad += h.violations
        print(f"  {name:<9} seed {args.seed * 1000:<6} {h.step} steps  chunks {len(h.pcpu.all_chunks())}"
              f"  violations {len(h.violations)}")
    for v in areamap_bad[:3]:
        print(f"  VIOLATED: {v.line()}")

    print("\n== Hypothesis state machine (derandomized)")
    for name in ("small16", "real4096", "numa4", "km3-sparse"):
        cfg = parse_config(name)
        machine = make_machine(cfg, tolerated=tolerated, name=f"PercpuMachine_{name}")
        t = time.time()
        status = "no new violation"
        try:
            run_state_machine_as_test(
                machine,
                settings=settings(
                    max_examples=(args.examples if name == "small16" else max(5, args.examples // 4)
                                  if name == "real4096" else max(5, args.examples // 2)),
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
    print(f"  hint-update branches taken: {len(branches.reached())}/{len(branches.all_branches())}"
          f" (required {len(branch_coverage.REQUIRED_BRANCHES)})")
    for b in branches.all_branches():
        if b not in branches.reached():
            print(f"  {b:<32} never{'  (REQUIRED)' if b in branch_coverage.REQUIRED_BRANCHES else ''}")
    missing += branches.missing(branch_coverage.REQUIRED_BRANCHES)
    if missing:
        print(f"  REQUIRED STATES NEVER REACHED: {', '.join(missing)}")

    kernel_ok = kernel_steps(args.seed, args.c_ops)
    proofs_ok = proofs_step()
    all_sizes_ok = all_sizes_step()
    loop_ok = loop_step()
    fit_ok = fit_step()
    free_ok = free_step()
    alloc_ok = alloc_step()

    elapsed = time.time() - t0
    ok = (corpus_ok and not new_violation and not missing and not areamap_bad and kernel_ok and proofs_ok
          and all_sizes_ok and loop_ok and fit_ok and free_ok and alloc_ok)
    print(f"\n== verdict: {'PASS' if ok else 'FAIL'}  ({steps_total} walk steps, {elapsed:.0f} s, seed {args.seed})")
    if not corpus_ok:
        print("   corpus mismatch or a ledger finding no longer reproduces")
    if new_violation:
        print("   a property without a ledger entry was violated")
    if areamap_bad:
        print("   the area-map baseline violated a property")
    if not kernel_ok:
        print("   the port differs from the kernel's C, or the trace replay is below its goal")
    if not proofs_ok:
        print("   a proof lemma was refuted without a ledger entry")
    if not all_sizes_ok:
        print("   a block lemma row is no longer proved for every block size")
    if not loop_ok:
        print("   a row of the walk's loop-invariant proof is no longer proved")
    if not fit_ok:
        print("   a row of the fit search's proof by families is no longer proved")
    if not free_ok:
        print("   a row of chunk_hint_free's proof with summaries (or a summary's own) is no longer proved")
    if not alloc_ok:
        print("   a row of chunk_hint_alloc's proof with summaries (or the rescan's, or the walk's) is not proved")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
