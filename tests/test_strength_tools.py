"""The harness-strength scripts: the mutation probe bites, bad arguments exit 2."""

import pytest

from impl.percpu import Percpu
from properties.mutants import MUTANTS


@pytest.mark.stateful
def test_mutation_probe_passes_the_port_and_kills_a_mutant(monkeypatch: pytest.MonkeyPatch) -> None:
    from tools.mutation_probe import probe

    assert probe([0], 120) == []
    m = MUTANTS["hint_free_no_between_reset"]
    monkeypatch.setattr(Percpu, m.function, m.build())
    killed = probe([0], 120)
    assert killed and any(k.startswith("inv_") or k.startswith("corpus:") for k in killed), killed


@pytest.mark.unit
@pytest.mark.parametrize(
    "module,argv",
    [
        ("tools.time_to_detect", ["--seeds", "a-b"]),
        ("tools.mutation_probe", ["--seeds", "x"]),
        ("tools.mutation_witness", ["--walk-seeds", "x"]),
        ("tools.mutation_report", ["/nonexistent/session.sqlite"]),
        ("tools.bench_tables", ["--n", "0"]),
        ("tools.bench_tables", ["--growth", "ten"]),
    ],
)
def test_bad_arguments_exit_2(module: str, argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    import importlib

    assert importlib.import_module(module).main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
