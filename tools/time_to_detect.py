"""Time to detect: how fast the seeded walks find each mutant and known-bad variant.

    python -m tools.time_to_detect [--seeds 0-4] [--steps 800] [--config small16]

For every mutant in properties/mutants.py (and every module ``variants/*.py``
that defines functions named like the port's methods, when that folder
exists) runs one seeded walk (tools.find) per seed until a property outside
the ledger's findings fails.  Prints per mutant: seeds that detected it, the
median wall time and median number of calls to detection, the property, and
the length of the counterexample after shrinking (delta debugging of the
first detecting seed's calls).  Deterministic apart from the wall times.
"""

from __future__ import annotations

import importlib.util
import statistics
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

from impl.percpu import Percpu
from properties import litmus
from properties.mutants import MUTANTS, TOLERATED
from properties.oneline_args import OneLineParser
from tools.find import campaign, parse_seeds

ROOT = Path(__file__).resolve().parent.parent


def variant_modules(folder: Path) -> dict[str, Callable[[Percpu], None]]:
    """Harness variants from ``folder/*.py``: each module's functions named like Percpu methods replace them."""
    out: dict[str, Callable[[Percpu], None]] = {}
    if not folder.is_dir():
        return out
    for path in sorted(folder.glob("*.py")):
        if path.name.startswith("_"):
            continue
        spec = importlib.util.spec_from_file_location(f"variant_{path.stem}", path)
        if spec is None or spec.loader is None:
            continue
        mod = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(mod)
        except Exception as e:  # noqa: BLE001  (a variant that does not import is reported, not fatal)
            print(f"variant {path.name}: does not import: {e}", file=sys.stderr)
            continue
        fns = {n: f for n, f in vars(mod).items() if isinstance(f, types.FunctionType) and hasattr(Percpu, n)}
        if not fns:
            continue

        def apply(pcpu: Percpu, fns: dict[str, Any] = fns) -> None:
            for n, f in fns.items():
                setattr(pcpu, n, types.MethodType(f, pcpu))

        out[f"variants/{path.name}"] = apply
    return out


def measure(name: str, apply: Callable[[Percpu], None], cfg: str, seeds: list[int], steps: int) -> dict[str, Any]:
    times, counts, props = [], [], []
    first: tuple[str, list[str]] | None = None
    for seed in seeds:
        t = time.perf_counter()
        try:
            hits = campaign(cfg, [seed], steps, TOLERATED, apply, verbose=False)
        except Exception as e:  # noqa: BLE001  (the mutant crashes the port: detected, but no program to shrink)
            times.append(time.perf_counter() - t)
            props.append(f"crash:{type(e).__name__}")
            continue
        dt = time.perf_counter() - t
        if hits:
            prop, (_, calls) = next(iter(hits.items()))
            times.append(dt)
            counts.append(len(calls))
            props.append(prop)
            if first is None:
                first = (prop, calls)
    shrunk = None
    if first is not None:
        shrunk = len(litmus.shrink(first[1], cfg, first[0], apply, ignore=TOLERATED))
    return {
        "name": name, "detected": len(times), "seeds": len(seeds),
        "median_s": statistics.median(times) if times else None,
        "median_steps": statistics.median(counts) if counts else None,  # seeds that crashed are not counted
        "property": max(set(props), key=props.count) if props else None, "shrunk": shrunk,
    }


def main(argv: list[str] | None = None) -> int:
    ap = OneLineParser(prog="python -m tools.time_to_detect")
    ap.add_argument("--seeds", default="0-4")
    ap.add_argument("--steps", type=int, default=800)
    ap.add_argument("--config", default="small16")
    ap.add_argument("--variants", default=str(ROOT / "variants"))
    args = ap.parse_args(argv)
    try:
        seeds = parse_seeds(args.seeds)
    except ValueError as e:
        print(f"time_to_detect: bad argument: {e}", file=sys.stderr)
        return 2
    targets: dict[str, Callable[[Percpu], None]] = {f"mutant {n}": m.apply for n, m in MUTANTS.items()}
    targets.update(variant_modules(Path(args.variants)))
    print(f"config {args.config}, seeds {seeds}, at most {args.steps} calls per seed, ledger findings tolerated")
    print(f"{'target':48} {'found':>6} {'median s':>9} {'median calls':>13} {'shrunk':>7}  property")
    for name, apply in targets.items():
        r = measure(name, apply, args.config, seeds, args.steps)
        med_s = f"{r['median_s']:.2f}" if r["median_s"] is not None else "-"
        med_n = f"{r['median_steps']:.0f}" if r["median_steps"] is not None else "-"
        print(f"{name:48} {r['detected']:>3}/{r['seeds']:<2} {med_s:>9} {med_n:>13} {r['shrunk'] or '-':>7}  "
              f"{r['property'] or 'not detected'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
