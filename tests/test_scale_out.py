"""The fuzz targets run under pytest-xdist on two workers and under HypoFuzz (tests/fuzz_targets.py)."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
pytestmark = pytest.mark.deep  # subprocesses and a fuzzer left running for seconds: make test-deep


def test_targets_pass_on_two_xdist_workers() -> None:
    env = dict(os.environ, PCPU_FUZZ_EXAMPLES="3")
    r = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-n", "2", "-p", "xdist", str(ROOT / "tests" / "fuzz_targets.py"),
         "-k", "Small16"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "2 passed" in r.stdout
    assert "bringing up nodes" in r.stdout  # xdist workers, not the plain runner


def test_hypofuzz_collects_and_fuzzes_the_targets(tmp_path: Path) -> None:
    """HypoFuzz runs until stopped: give it a few seconds, then check it fuzzed our targets without a failure."""
    env = dict(os.environ, HYPOTHESIS_PROFILE="fuzz")
    cmd = [str(BIN / "hypothesis"), "fuzz", "-n", "1", "--no-dashboard", "--",
           str(ROOT / "tests" / "fuzz_targets.py"), "-k", "Small16", "-p", "no:cacheprovider"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=25)
        pytest.fail(f"hypothesis fuzz stopped on its own (status {proc.returncode}):\n{out[-3000:]}")
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)  # the fuzzer and its worker processes, this session only
        out, _ = proc.communicate(timeout=30)
    assert "to fuzz 2 tests" in out, out[-3000:]  # the two Small16 targets (bitmap and area map)
    assert "Traceback" not in out and "AssertionError" not in out, out[-3000:]
