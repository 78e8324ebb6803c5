"""Long-running targets: the same state machines, for pytest-xdist campaigns and HypoFuzz.

Not collected by ``make test`` (the file name does not start with ``test_``);
name it on the command line:

    .venv/bin/pytest -n 2 -p xdist tests/fuzz_targets.py          # all cores, one machine per worker
    HYPOTHESIS_PROFILE=fuzz .venv/bin/hypothesis fuzz -n 2 -- tests/fuzz_targets.py   # continuous fuzzing

``PCPU_FUZZ_EXAMPLES`` sets the examples per target for pytest runs.
"""

import os
import tomllib
from pathlib import Path

from hypothesis import settings

from properties.configs import parse_config
from properties.machine import make_machine

ROOT = Path(__file__).resolve().parent.parent
TOLERATED = frozenset(f["property"] for f in tomllib.loads((ROOT / "findings" / "ledger.toml").read_text())["finding"])
EXAMPLES = int(os.environ.get("PCPU_FUZZ_EXAMPLES", "20"))


def _target(cfg: str, implementation: str = "bitmap"):  # type: ignore[no-untyped-def]
    machine = make_machine(parse_config(cfg), tolerated=TOLERATED, name=f"Fuzz_{implementation}_{cfg}",
                           implementation=implementation)
    case = machine.TestCase
    case.settings = settings(max_examples=EXAMPLES, stateful_step_count=50, deadline=None)
    return case


TestBitmapSmall16 = _target("small16")
TestBitmapSmall32 = _target("small32")
TestBitmapReal4096 = _target("real4096")
TestAreaMapSmall16 = _target("small16", "areamap")
