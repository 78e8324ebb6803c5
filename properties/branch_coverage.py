"""Branch coverage of the port's hint-update functions during a run, as interesting states.

Each branch of the functions in :data:`HINT_FUNCTIONS` (impl/hints.py) is an
interesting state: ``branch_<function>_<from line>_<to line>`` (line numbers
relative to the function's ``def``, so that an edit elsewhere in the file
does not rename them).  coverage.py's branch measurement is used from the
outside: nothing in impl/ changes.  ``python -m tools.verify`` fails when a
branch in :data:`REQUIRED_BRANCHES` is never taken.
"""

from __future__ import annotations

import inspect
import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from impl.percpu import Percpu

HINT_FUNCTIONS = (
    "pcpu_block_update", "pcpu_block_update_scan", "pcpu_chunk_refresh_hint", "pcpu_block_refresh_hint",
    "pcpu_block_update_hint_alloc", "pcpu_block_update_hint_free",
)
HINTS_FILE = Path(inspect.getsourcefile(Percpu.pcpu_block_update) or "")


def _ranges() -> dict[str, tuple[int, int]]:
    """Function name -> (def line, last line) in impl/hints.py."""
    out = {}
    for name in HINT_FUNCTIONS:
        lines, start = inspect.getsourcelines(getattr(Percpu, name))
        out[name] = (start, start + len(lines) - 1)
    return out


def _name(fn: str, start: int, a: int, b: int) -> str:
    to = "exit" if b < 0 else str(b - start)
    return f"branch_{fn}_{a - start}_{to}"


class BranchReport:
    def __init__(self, executed: list[tuple[int, int]], missing: list[tuple[int, int]]) -> None:
        self.taken: dict[str, bool] = {}
        for fn, (start, end) in _ranges().items():
            for arcs, hit in ((executed, True), (missing, False)):
                for a, b in arcs:
                    if start <= a <= end:
                        self.taken[_name(fn, start, a, b)] = hit

    def all_branches(self) -> list[str]:
        return sorted(self.taken)

    def reached(self) -> list[str]:
        return sorted(k for k, v in self.taken.items() if v)

    def missing(self, required: set[str] | None = None) -> list[str]:
        names = self.taken if required is None else required
        return sorted(k for k in names if not self.taken.get(k, False))


@contextmanager
def measuring() -> Iterator[list[BranchReport]]:
    """Measures branch coverage of impl/hints.py while the block runs; yields a list filled on exit."""
    import coverage

    out: list[BranchReport] = []
    cov = coverage.Coverage(branch=True, include=[str(HINTS_FILE)], data_file=None)
    cov.start()
    try:
        yield out
    finally:
        cov.stop()
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "cov.json"
            cov.json_report(outfile=str(path), include=[str(HINTS_FILE)])
            files = json.loads(path.read_text())["files"]
            data = next(iter(files.values()), {"executed_branches": [], "missing_branches": []})
        out.append(BranchReport([tuple(x) for x in data["executed_branches"]],
                                [tuple(x) for x in data["missing_branches"]]))
