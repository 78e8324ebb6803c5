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
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from pathlib import Path

from impl.percpu import Percpu

HINT_FUNCTIONS = (
    "pcpu_block_update", "pcpu_block_update_scan", "pcpu_chunk_refresh_hint", "pcpu_block_refresh_hint",
    "pcpu_block_update_hint_alloc", "pcpu_block_update_hint_free",
)
# every branch the verify walk (small16, 1500 calls) takes; measured with this module, see docs/mutation/README.md.
# Not required: branch_pcpu_block_update_scan_10_11 (the early return for a skipped free area that crosses
# the block end), never taken by the seeded walks.
REQUIRED_BRANCHES = frozenset({
    "branch_pcpu_block_refresh_hint_10_11",
    "branch_pcpu_block_refresh_hint_10_16",
    "branch_pcpu_block_refresh_hint_22_25",
    "branch_pcpu_block_refresh_hint_22_exit",
    "branch_pcpu_block_update_12_13",
    "branch_pcpu_block_update_12_15",
    "branch_pcpu_block_update_15_17",
    "branch_pcpu_block_update_15_28",
    "branch_pcpu_block_update_17_18",
    "branch_pcpu_block_update_17_25",
    "branch_pcpu_block_update_18_19",
    "branch_pcpu_block_update_18_21",
    "branch_pcpu_block_update_21_23",
    "branch_pcpu_block_update_21_26",
    "branch_pcpu_block_update_28_29",
    "branch_pcpu_block_update_28_42",
    "branch_pcpu_block_update_29_33",
    "branch_pcpu_block_update_29_36",
    "branch_pcpu_block_update_34_35",
    "branch_pcpu_block_update_34_exit",
    "branch_pcpu_block_update_36_38",
    "branch_pcpu_block_update_36_exit",
    "branch_pcpu_block_update_42_46",
    "branch_pcpu_block_update_42_exit",
    "branch_pcpu_block_update_9_10",
    "branch_pcpu_block_update_9_12",
    "branch_pcpu_block_update_hint_alloc_102_108",
    "branch_pcpu_block_update_hint_alloc_102_exit",
    "branch_pcpu_block_update_hint_alloc_22_23",
    "branch_pcpu_block_update_hint_alloc_22_26",
    "branch_pcpu_block_update_hint_alloc_26_27",
    "branch_pcpu_block_update_hint_alloc_26_31",
    "branch_pcpu_block_update_hint_alloc_31_37",
    "branch_pcpu_block_update_hint_alloc_31_39",
    "branch_pcpu_block_update_hint_alloc_39_46",
    "branch_pcpu_block_update_hint_alloc_39_51",
    "branch_pcpu_block_update_hint_alloc_46_47",
    "branch_pcpu_block_update_hint_alloc_46_48",
    "branch_pcpu_block_update_hint_alloc_52_53",
    "branch_pcpu_block_update_hint_alloc_52_55",
    "branch_pcpu_block_update_hint_alloc_58_59",
    "branch_pcpu_block_update_hint_alloc_58_90",
    "branch_pcpu_block_update_hint_alloc_59_60",
    "branch_pcpu_block_update_hint_alloc_59_63",
    "branch_pcpu_block_update_hint_alloc_67_69",
    "branch_pcpu_block_update_hint_alloc_67_71",
    "branch_pcpu_block_update_hint_alloc_71_72",
    "branch_pcpu_block_update_hint_alloc_71_74",
    "branch_pcpu_block_update_hint_alloc_75_77",
    "branch_pcpu_block_update_hint_alloc_75_79",
    "branch_pcpu_block_update_hint_alloc_83_84",
    "branch_pcpu_block_update_hint_alloc_83_90",
    "branch_pcpu_block_update_hint_alloc_90_91",
    "branch_pcpu_block_update_hint_alloc_90_93",
    "branch_pcpu_block_update_hint_alloc_93_102",
    "branch_pcpu_block_update_hint_alloc_93_99",
    "branch_pcpu_block_update_hint_free_22_23",
    "branch_pcpu_block_update_hint_free_22_26",
    "branch_pcpu_block_update_hint_free_30_31",
    "branch_pcpu_block_update_hint_free_30_33",
    "branch_pcpu_block_update_hint_free_37_38",
    "branch_pcpu_block_update_hint_free_37_39",
    "branch_pcpu_block_update_hint_free_41_43",
    "branch_pcpu_block_update_hint_free_41_57",
    "branch_pcpu_block_update_hint_free_43_44",
    "branch_pcpu_block_update_hint_free_43_45",
    "branch_pcpu_block_update_hint_free_49_50",
    "branch_pcpu_block_update_hint_free_49_57",
    "branch_pcpu_block_update_hint_free_57_58",
    "branch_pcpu_block_update_hint_free_57_61",
    "branch_pcpu_block_update_hint_free_61_62",
    "branch_pcpu_block_update_hint_free_61_64",
    "branch_pcpu_block_update_scan_10_13",
    "branch_pcpu_chunk_refresh_hint_22_23",
    "branch_pcpu_chunk_refresh_hint_22_exit",
    "branch_pcpu_chunk_refresh_hint_9_10",
    "branch_pcpu_chunk_refresh_hint_9_15",
})
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

    def missing(self, required: Collection[str] | None = None) -> list[str]:
        names = self.taken if required is None else required
        return sorted(k for k in names if not self.taken.get(k, False))


def start() -> object:
    """Starts measuring branch coverage of impl/hints.py; pass the result to :func:`stop`."""
    import coverage

    cov = coverage.Coverage(branch=True, include=[str(HINTS_FILE)], data_file=None)
    cov.set_option("run:disable_warnings", ["no-data-collected", "module-not-measured"])
    cov.start()
    return cov


def stop(cov: object) -> BranchReport:
    """Stops the measurement and reports every branch of the hint-update functions."""
    from coverage.exceptions import NoDataError

    cov.stop()  # type: ignore[attr-defined]
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "cov.json"
        try:
            cov.json_report(outfile=str(path), include=[str(HINTS_FILE)])  # type: ignore[attr-defined]
        except NoDataError:  # impl/hints.py never ran: no branch taken
            return BranchReport([], [])
        files = json.loads(path.read_text())["files"]
    data: dict[str, list[list[int]]] = next(iter(files.values()), {"executed_branches": [], "missing_branches": []})
    return BranchReport([(x[0], x[1]) for x in data["executed_branches"]],
                        [(x[0], x[1]) for x in data["missing_branches"]])


def measure(fn: Callable[[], object]) -> BranchReport:
    """Runs ``fn`` under branch measurement and reports."""
    cov = start()
    try:
        fn()
    finally:
        report = stop(cov)
    return report


@contextmanager
def measuring() -> Iterator[list[BranchReport]]:
    """Measures while the block runs; the yielded list holds the report on exit."""
    out: list[BranchReport] = []
    cov = start()
    try:
        yield out
    finally:
        out.append(stop(cov))
