"""Every command line of the project: an unknown or malformed argument is one line on stderr, exit status 2."""

from __future__ import annotations

import importlib

import pytest

MODULES = [
    "oracle.extract", "oracle.build", "properties.proofs.__main__", "properties.proofs.parametric",
    "tools.verify", "tools.mutation_reach", "tools.battery", "tools.find", "tools.mutation_report",
    "tools.bench_tables", "tools.bench_c_vs_port", "tools.mutation_probe", "tools.time_to_detect",
    "tools.mutation_witness", "tools.bench_proofs", "tools.c_agreement", "tools.cli",
]


def _exit_code(main, argv: list[str]) -> object:  # type: ignore[no-untyped-def]
    try:
        return main(argv)
    except SystemExit as e:
        return e.code


@pytest.mark.unit
@pytest.mark.parametrize("module", MODULES)
def test_unknown_argument_is_one_line_and_exit_2(module: str, capsys: pytest.CaptureFixture[str]) -> None:
    main = importlib.import_module(module).main
    assert _exit_code(main, ["--no-such-flag"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and ("--no-such-flag" in err or "required" in err), err


@pytest.mark.unit
def test_a_plain_argparse_parser_would_fail_this_rule(capsys: pytest.CaptureFixture[str]) -> None:
    """The check above can fail: argparse's own error() prints the usage block too."""
    import argparse

    ap = argparse.ArgumentParser(prog="plain")
    assert _exit_code(lambda argv: ap.parse_args(argv), ["--no-such-flag"]) == 2
    assert capsys.readouterr().err.count("\n") > 1
