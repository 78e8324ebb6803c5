"""Mutation score and per-check kill matrix from a cosmic-ray session.

    python -m tools.mutation_report SESSION.sqlite [--equivalent docs/mutation/equivalent.toml]

The session comes from ``make mutation`` (cosmic-ray over impl/hints.py and
impl/search.py with tools/mutation_probe.py as the test command).  Prints:
the score (killed / (run - equivalent)), the kill matrix (for each check,
the mutants it kills and those only it kills) and every survivor with its
line, the mutation and the recorded reason (equivalent mutants are listed in
the TOML file with a one-line argument each).
"""

from __future__ import annotations

import sqlite3
import sys
import tomllib
from collections import defaultdict
from pathlib import Path

from properties.oneline_args import OneLineParser

ROOT = Path(__file__).resolve().parent.parent


def mutant_id(module: str, row: int, op: str, occurrence: int) -> str:
    return f"{module}:{row}:{op.removeprefix('core/')}:{occurrence}"


def load(session: Path) -> list[dict[str, object]]:
    con = sqlite3.connect(str(session))
    rows = con.execute(
        "select s.module_path, s.operator_name, s.occurrence, s.start_pos_row, s.definition_name,"
        " r.worker_outcome, r.test_outcome, r.output, r.diff"
        " from mutation_specs s left join work_results r on s.job_id = r.job_id"
    ).fetchall()
    out = []
    for module, op, occ, row, defn, worker, test, output, diff in rows:
        killed_by: list[str] = []
        for line in (output or "").splitlines():
            if line.startswith("KILLED-BY: "):
                killed_by = line.removeprefix("KILLED-BY: ").split(",")
        if worker == "TIMEOUT" or (output or "").strip() == "timeout":
            killed_by = ["timeout"]  # the probe ran past cosmic-ray's timeout: the mutant loops
        elif test == "KILLED" and not killed_by:
            killed_by = ["probe-crash"]  # the probe itself exited non-zero before its KILLED-BY line
        plus = [ln for ln in (diff or "").splitlines() if ln.startswith("+") and not ln.startswith("+++")]
        changed = [ln[1:].strip() for ln in plus]
        out.append({"id": mutant_id(module, row, op, occ), "function": defn, "worker": worker, "test": test,
                    "killed_by": killed_by, "change": changed[0] if changed else ""})
    return out


def main(argv: list[str] | None = None) -> int:
    ap = OneLineParser(prog="python -m tools.mutation_report")
    ap.add_argument("session")
    ap.add_argument("--equivalent", default=str(ROOT / "docs" / "mutation" / "equivalent.toml"))
    args = ap.parse_args(argv)
    session = Path(args.session)
    if not session.is_file():
        print(f"mutation_report: no such session file: {session}", file=sys.stderr)
        return 2
    try:
        equivalent = tomllib.loads(Path(args.equivalent).read_text()).get("mutant", {}) if Path(
            args.equivalent).is_file() else {}
    except tomllib.TOMLDecodeError as e:
        print(f"mutation_report: bad equivalent file: {e}", file=sys.stderr)
        return 2
    ms = load(session)
    skipped = [m for m in ms if m["worker"] == "SKIPPED"]
    run = [m for m in ms if m["test"] in ("KILLED", "SURVIVED") or m["worker"] == "TIMEOUT"]
    pending = [m for m in ms if m not in skipped and m not in run]
    killed = [m for m in run if m["test"] == "KILLED" or m["worker"] == "TIMEOUT"]
    survived = [m for m in run if m not in killed]
    eq = [m for m in survived if m["id"] in equivalent]
    gaps = [m for m in survived if m["id"] not in equivalent]
    denom = len(run) - len(eq)
    print(f"session {session}: {len(ms)} mutants generated, {len(skipped)} filtered out (cr.toml), "
          f"{len(pending)} not run, {len(run)} run")
    print(f"killed {len(killed)}, survived {len(survived)} ({len(eq)} equivalent, {len(gaps)} not explained)")
    if denom:
        print(f"mutation score: {len(killed)}/{denom} = {100 * len(killed) / denom:.1f} % of non-equivalent mutants")

    matrix: dict[str, list[str]] = defaultdict(list)
    only: dict[str, int] = defaultdict(int)
    for m in killed:
        checks = [str(c) for c in m["killed_by"]]  # type: ignore[attr-defined]
        for check in checks:
            matrix[":".join(check.split(":")[:2])].append(str(m["id"]))
        if len(checks) == 1:
            only[checks[0]] += 1
    print("\nkill matrix: check -> mutants killed (killed by this check alone)")
    for check, ids in sorted(matrix.items(), key=lambda kv: -len(kv[1])):
        print(f"  {check:52} {len(ids):4d}  ({only.get(check, 0)} alone)")
    print("\nper mutant (killed): id -> checks")
    for m in killed:
        print(f"  {m['id']:64} {','.join(m['killed_by'])}")  # type: ignore[arg-type]
    print("\nsurvivors")
    for m in survived:
        why = equivalent.get(m["id"], {}).get("reason", "NOT EXPLAINED")
        print(f"  {m['id']:64} in {m['function']}: `{m['change']}`\n      {why}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
