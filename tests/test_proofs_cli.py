"""The command lines of the chunk proofs and the rescan proof: a bad argument is one line on stderr, naming the
tool, and exit status 2 (each tool's own checks as well as argparse's)."""

from __future__ import annotations

import importlib

import pytest

COMMON = [["--blocks", "5"], ["--blocks", "1"], ["--block-bits", "48"], ["--budget", "0"], ["--nope"]]
CASES = [
    *[("fitfamilies", a) for a in [*COMMON, ["--jobs", "0"], ["--prop", "nope"]]],
    *[("freefamilies", a) for a in [*COMMON, ["--jobs", "0"]]],
    *[("allocfamilies", a) for a in [*COMMON, ["--jobs", "0"]]],
    *[("loopinv", a) for a in [*COMMON, ["--merge", "some"]]],
    *[("refreshloop", a) for a in [["--block-bits", "48"], ["--budget", "-1"], ["--jobs", "0"], ["--blocks", "2"]]],
]


@pytest.mark.parametrize(("tool", "argv"), CASES)
def test_bad_arguments_get_one_line_and_status_2(tool: str, argv: list[str],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    main = importlib.import_module(f"properties.proofs.{tool}").main
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith((f"{tool}:", f"python -m properties.proofs.{tool}:"))
