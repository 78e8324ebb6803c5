"""Where the project's shared data lives: the seeds and the real tracepoint log.

The data sits beside the checkout (``../shared``) on a developer's machine; a
clone elsewhere (a CI scratch directory) finds it through ``$PCPU_SHARED`` or
the machine's fixed location.  The first candidate that holds ``traces/`` wins.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_CANDIDATES = (os.environ.get("PCPU_SHARED"), ROOT.parent / "shared", "/work/shared")


def shared_dir() -> Path:
    """The shared data folder; the ``../shared`` path beside the checkout when none holds traces/."""
    for cand in _CANDIDATES:
        if cand and (Path(cand) / "traces").is_dir():
            return Path(cand)
    return ROOT.parent / "shared"


TRACE_DIR = shared_dir() / "traces" / "debian-6.12.117-smp4"
REAL_TRACE = TRACE_DIR / "trace_percpu.txt.xz"

if __name__ == "__main__":
    print(REAL_TRACE)
