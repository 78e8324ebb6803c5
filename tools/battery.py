"""The check battery that validate-patch runs on a port (patched or not).

    python -m tools.battery --out DIR [--module FILE.py] [--label L] [--seeds 0-3] [--steps 1000] [--examples 30]

1. Seeded walks (tools.find.random_calls) on small16 and small32 (and a
   short one on real4096), every property after every step; the first hit
   of each property is kept with the calls that led to it.
2. The Hypothesis state machine on small16, looking past what the walks
   and the ledger already know, so it hunts for something new.
3. The regression corpus, each file judged against its Result line.
4. The Z3 lemmas of properties/proofs at 8-bit blocks (:func:`proofs_hook`).

Each violated property that has no ledger entry gets a counterexample file
shrunk by delta debugging and a picture of the state at the violating
step.  The result is a JSON-ready dict (printed by the command line), so a
run inside a scratch copy of a patched port can hand it to the parent.
"""

from __future__ import annotations

import json
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from properties import litmus
from properties.configs import parse_config
from properties.failures import run_machine, write_atomically, write_failure
from properties.harness import Harness, Variant
from properties.mutants import ledger_findings
from properties.oneline_args import OneLineParser
from properties.registry import CALL_PROPERTIES, PROPERTIES
from tools.find import parse_seeds, random_calls

ROOT = Path(__file__).resolve().parent.parent
SHRINK_DEADLINE_S = 5.0
SHRINK_BUDGET_S = 10.0  # per property; the file says when shrinking stopped on the budget
SHRINK_TOTAL_S = 30.0  # for all properties of one run; later files are written unshrunk


@dataclass
class Budget:
    """How hard the battery looks; the report states it as the bounds of every 'holds'."""

    seeds: list[int] = field(default_factory=lambda: [0, 1, 2, 3])
    steps: int = 1000
    configs: tuple[str, ...] = ("small16", "small32")
    real_steps: int = 300  # one walk on real4096 (1024-bit blocks)
    examples: int = 30
    machine_steps: int = 40

    def describe(self) -> str:
        seeds = f"{self.seeds[0]}-{self.seeds[-1]}" if self.seeds == list(range(self.seeds[0], self.seeds[-1] + 1)) \
            else ",".join(map(str, self.seeds))
        walks = f"{len(self.seeds)} seeded walks (seeds {seeds}) x {self.steps} steps on {', '.join(self.configs)}"
        real = f"; 1 walk x {self.real_steps} steps on real4096" if self.real_steps else ""
        hyp = f"; Hypothesis machine on small16, {self.examples} examples x {self.machine_steps} steps"
        return walks + real + hyp


@dataclass
class PropertyResult:
    """One property's verdict from one battery run (also built by the kernel-C validator)."""

    name: str
    kind: str
    status: str  # "holds" or "violated"
    where: str = ""  # the first violation, one line
    file: str | None = None  # shrunk counterexample file
    picture: str | None = None  # SVG of the state at the violating step
    finding: str | None = None  # ledger id when the property is a recorded kernel finding


@dataclass
class CorpusResult:
    file: str
    finding: str | None
    expected: str
    got: str
    match: bool


@dataclass
class BatteryResult:
    label: str
    bounds: str
    properties: dict[str, PropertyResult]
    corpus: list[CorpusResult]
    proofs: list[dict[str, Any]] | str
    steps: int = 0
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> BatteryResult:
        return cls(
            d["label"], d["bounds"], {k: PropertyResult(**v) for k, v in d["properties"].items()},
            [CorpusResult(**c) for c in d["corpus"]], d["proofs"], d["steps"], d["seconds"],
        )


def _ledger_ids() -> dict[str, str]:
    import tomllib

    with open(ROOT / "findings" / "ledger.toml", "rb") as f:
        return {e["property"]: e["id"] for e in tomllib.load(f).get("finding", [])}


def _better(cfg_text: str, calls: list[str], old: tuple[Any, ...] | None) -> bool:
    """A hit on a small configuration with fewer calls is cheaper to shrink and to read."""
    return old is None or (cfg_text == "real4096", len(calls)) < (old[0] == "real4096", len(old[1]))


def _guarded(fn: Any) -> Any:
    def call(*args: Any) -> Any:
        with litmus.call_deadline():
            return fn(*args)

    return call


def _walk(cfg_text: str, seed: int, steps: int, variant: Variant | None,
          hits: dict[str, tuple[Any, ...]]) -> int:
    """One seeded walk; records the first (shortest) call sequence violating each property."""
    h = Harness(parse_config(cfg_text), variant)
    for entry in ("pcpu_alloc", "free_percpu", "pcpu_balance_workfn"):  # each call under the deadline
        setattr(h, entry, _guarded(getattr(h, entry)))
    rng = random.Random(seed)
    while h.step < steps:
        before = len(h.violations)
        try:
            random_calls(h, rng, 1)
        except Exception as e:  # the patched port raised: the call never returns
            line = f"{litmus.CRASH} @ {cfg_text} seed {seed} step {h.step}: {type(e).__name__}: {e}"
            if _better(cfg_text, h.ops, hits.get(litmus.CRASH)):
                hits[litmus.CRASH] = (cfg_text, list(h.ops), line)
            break
        for v in h.violations[before:]:
            if _better(cfg_text, h.ops, hits.get(v.prop)):
                hits[v.prop] = (cfg_text, list(h.ops), f"{cfg_text} seed {seed}: {v.line()}")
        h.violations.clear()
    return h.step


PROOF_BLOCK_BITS = 8
PROOF_BUDGET_S = 10.0


def proofs_hook(variant: Variant | None) -> list[dict[str, Any]] | str:
    """Runs every Z3 lemma of properties/proofs on the (patched) port's own hint code.

    One result per (lemma, property): ``holds`` unless the lemma is REFUTED;
    a refutation the ledger expects on the faithful port is marked with its
    finding in ``detail``, so the report can tell a kernel finding from a
    new break.  Returns a one-line reason when the proof layer is missing.
    """
    try:
        from properties.proofs.expected import expectation
        from properties.proofs.lemmas import LEMMAS
        from properties.proofs.prove import REFUTED, prove
    except ImportError as e:
        return f"not available ({e})"
    out = []
    for name in LEMMAS:
        for r in prove(name, PROOF_BLOCK_BITS, None, 1, PROOF_BUDGET_S, variant=variant):
            known = expectation(r.lemma, r.prop) if r.verdict == REFUTED else None
            detail = f"{r.verdict} ({r.bounds_text()}, {r.seconds:.1f} s)" + (f"; {known}" if known else "")
            out.append({"name": f"{r.lemma}:{r.prop}", "holds": r.verdict != REFUTED or bool(known),
                        "detail": detail})
    return out


def _picture(path: Path, cfg_text: str, variant: Variant | None, prop: str, ignore: frozenset[str]) -> str:
    from tools.svg import render_svg

    lit = litmus.load(path)
    drawn: list[str] = []
    step = lit.expected[1] or len(lit.body)

    def on_step(h: Harness, n: int) -> None:
        if n == step:
            bad = [v.line() for v in h.violations if v.prop == prop]
            drawn.append(render_svg(h, f"{lit.header['Name']}: after step {n}", bad[-1] if bad else ""))

    r = litmus.run(lit.body, cfg_text, variant, on_step=on_step, ignore=ignore)
    if not drawn:  # the call raised: draw the state it left behind
        drawn.append(render_svg(r.harness, f"{lit.header['Name']}: step {step} raised",
                                r.first[1].line() if r.first else ""))
    svg = path.with_suffix(".svg")
    write_atomically(svg, drawn[0])
    return str(svg)


def run_battery(variant: Variant | None = None, label: str = "faithful", budget: Budget | None = None,
                out_dir: Path | str = "out/validate", verbose: bool = False) -> BatteryResult:
    """Runs every check on the port (with ``variant`` applied); see the module docstring."""
    budget = budget or Budget()
    t0 = time.perf_counter()
    out = Path(out_dir)
    ledger = _ledger_ids()
    tolerated = ledger_findings(ROOT / "findings" / "ledger.toml")
    hits: dict[str, tuple[Any, ...]] = {}
    total = 0
    runs = [(c, s, budget.steps) for c in budget.configs for s in budget.seeds]
    if budget.real_steps:
        runs.append(("real4096", budget.seeds[0], budget.real_steps))
    for cfg_text, seed, steps in runs:
        total += _walk(cfg_text, seed, steps, variant, hits)
        if verbose:
            print(f"battery: {label}: walk {cfg_text} seed {seed}: {total} steps so far", file=sys.stderr)
    machine = run_machine("small16", variant=variant, variant_label=label, tolerated=tolerated | set(hits),
                          examples=budget.examples, steps=budget.machine_steps, seed=budget.seeds[0], out_dir=None,
                          hypothesis_shrink=False)
    if machine.prop and machine.prop not in hits:
        hits[machine.prop] = ("small16", machine.calls or [], f"Hypothesis small16: {machine.message}")
    corpus = []
    ledger_files = {f: i for i, f in _ledger_files().items()}
    for path in sorted((ROOT / "corpus").glob("*.litmus")):
        lit = litmus.load(path)
        rep = litmus.run(lit.body, lit.header["Config"], variant, ignore=lit.ignore)
        ok, got = litmus.judge(lit, rep)
        rel = f"corpus/{path.name}"
        corpus.append(CorpusResult(rel, ledger_files.get(rel), lit.header["Result"], got, ok))
        for v in rep.harness.violations:  # the corpus is evidence too: the file is the counterexample
            hits.setdefault(v.prop, (lit.header["Config"], [], f"{rel}: {v.line()}", rel))
    results: dict[str, PropertyResult] = {}
    t_shrink = time.perf_counter()
    for name in sorted(PROPERTIES) + CALL_PROPERTIES:
        kind = PROPERTIES[name].kind if name in PROPERTIES else "allowed outcome"
        if name not in hits:
            results[name] = PropertyResult(name, kind, "holds", finding=ledger.get(name))
            continue
        cfg_text, calls, where, *known = hits[name]
        res = PropertyResult(name, kind, "violated", where, file=known[0] if known else None,
                             finding=ledger.get(name))
        if name not in tolerated and calls:
            ignore = frozenset(tolerated)
            litmus.CALL_DEADLINE_S = SHRINK_DEADLINE_S  # candidates that hang fail fast while shrinking
            left_s = SHRINK_TOTAL_S - (time.perf_counter() - t_shrink)
            try:
                path = write_failure(calls, cfg_text, name, variant=variant, variant_label=label,
                                     origin=f"validate-patch battery: {where.split(':')[0]}", ignore=ignore,
                                     out_dir=out, shrink=left_s > 0,
                                     shrink_budget_s=min(SHRINK_BUDGET_S, max(left_s, 0)))
            except ValueError:  # e.g. a call that timed out under load returns in time on replay
                res.where += " (did not reproduce on replay; no file)"
                results[name] = res
                continue
            if verbose:
                print(f"battery: {label}: {name}: {len(calls)} calls -> {path}", file=sys.stderr)
            res.file = str(path)
            res.picture = _picture(path, cfg_text, variant, name, ignore)
        results[name] = res
    return BatteryResult(label, budget.describe(), results, corpus, proofs_hook(variant), total,
                         round(time.perf_counter() - t0, 1))


def _ledger_files() -> dict[str, str]:
    import tomllib

    with open(ROOT / "findings" / "ledger.toml", "rb") as f:
        return {e["id"]: e["file"] for e in tomllib.load(f).get("finding", [])}


def main(argv: list[str] | None = None) -> int:
    ap = OneLineParser(prog="python -m tools.battery")
    ap.add_argument("--out", default="out/validate")
    ap.add_argument("--module", default=None, help="a Python module of replacement hint functions")
    ap.add_argument("--label", default="faithful")
    ap.add_argument("--seeds", default="0-3")
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--examples", type=int, default=30)
    args = ap.parse_args(argv)
    variant = None
    try:
        if args.module:
            from tools.patching import PatchError, load_module, load_patch

            try:
                variant, _ = load_module(load_patch(args.module))
            except PatchError as e:
                print(f"pcpu-verify: {e}", file=sys.stderr)
                return 2
        budget = Budget(seeds=parse_seeds(args.seeds), steps=args.steps, examples=args.examples)
        print(f"battery: {args.label}: seeds {args.seeds}", file=sys.stderr)
        res = run_battery(variant, args.label, budget, args.out)
    except Exception as e:  # the patched port does not even boot
        print(f"pcpu-verify: the battery failed on the patched port: {type(e).__name__}: {e} {litmus.raise_site(e)}",
              file=sys.stderr)
        return 2
    print(json.dumps(res.to_json()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
