"""``pcpu-verify validate-patch PATCH``: run the battery on a patched port and report.

PATCH is a unified diff against impl/ (applied to a scratch copy, run in a
subprocess whose sys.path starts at that copy) or a Python module whose
functions replace the port's hint functions (run in this process on
instances only).  The unpatched port runs the same battery with the same
budget; its result is cached under out/validate/ keyed by the sources and
the budget.  Exit status: 0 nothing new breaks, 1 a property without a
ledger entry breaks, 2 the patch is unusable (one line on stderr).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from tools.battery import ROOT, BatteryResult, Budget, run_battery
from tools.patching import PatchError, load_variant, run_in, scratch_copy
from tools.report import build_report, verdict


def _sources_digest(budget: Budget) -> str:
    h = hashlib.sha1(budget.describe().encode())
    # what the battery's outcome depends on (not the report or the command line)
    files = [ROOT / "tools" / "battery.py", ROOT / "tools" / "find.py"]
    for d in ("impl", "model", "properties", "corpus", "findings"):
        files += sorted((ROOT / d).rglob("*"))
    for p in files:
        if p.is_file() and "__pycache__" not in p.parts:
            h.update(str(p.relative_to(ROOT)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()[:12]


def baseline(budget: Budget, out_root: Path) -> BatteryResult:
    """The unpatched port's battery result (cached per sources and budget)."""
    cache = out_root / f"baseline-{_sources_digest(budget)}.json"
    if cache.exists():
        return BatteryResult.from_json(json.loads(cache.read_text()))
    res = run_battery(None, "faithful", budget, out_root / "baseline")
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(res.to_json()))
    return res


def _budget_args(budget: Budget) -> list[str]:
    return ["--seeds", ",".join(map(str, budget.seeds)), "--steps", str(budget.steps),
            "--examples", str(budget.examples)]


def run_patched(path: Path, budget: Budget, out_dir: Path) -> tuple[BatteryResult, list[str]]:
    """Loads the patch and runs the battery on the patched port; raises PatchError."""
    patch, variant, changes = load_variant(path)
    label = f"{patch.kind} {path}"
    if variant is not None:
        return run_battery(variant, label, budget, out_dir), [f"replaces {n}()" for n in changes]
    with scratch_copy(patch) as root:
        r = run_in(root, ["tools.scratch_main", "battery", "--out", str(out_dir.resolve()), "--label", label,
                          *_budget_args(budget)])
    if r.returncode != 0:
        err = [ln for ln in r.stderr.splitlines() if ln.startswith("pcpu-verify:")]
        msg = err[-1].removeprefix("pcpu-verify: ") if err else (r.stderr.strip().splitlines() or ["?"])[-1]
        raise PatchError(f"{path}: {msg}")
    return BatteryResult.from_json(json.loads(r.stdout.strip().splitlines()[-1])), changes


def validate(path: str | Path, budget: Budget | None = None, out_root: str | Path = "out/validate") -> tuple[int, str]:
    """(exit status, report text) for one patch; raises PatchError when it is unusable."""
    budget = budget or Budget()
    p = Path(path)
    out_root = Path(out_root)
    out_dir = out_root / p.stem
    patched, changes = run_patched(p, budget, out_dir)
    base = baseline(budget, out_root)
    hint = f"python -m tools.cli replay {{file}} --variant {path}"
    text = build_report(patched, base, str(path), changes, replay_hint=hint)
    status, _ = verdict(patched, base)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.txt").write_text(text)
    return status, text
