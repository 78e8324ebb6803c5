"""Stateful: the Hypothesis machine on small and real blocks finds nothing new."""

import tomllib
from pathlib import Path

import pytest
from hypothesis import Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from properties.configs import parse_config
from properties.machine import make_machine

pytestmark = pytest.mark.stateful
ROOT = Path(__file__).resolve().parent.parent
TOLERATED = frozenset(f["property"] for f in tomllib.loads((ROOT / "findings" / "ledger.toml").read_text())["finding"])


@pytest.mark.parametrize("name,examples", [("small16", 60), ("small64", 30), ("real4096", 8), ("numa4", 15),
                                           ("km3-sparse", 15), ("numa64", 4)])
def test_machine_finds_no_unrecorded_violation(name: str, examples: int) -> None:
    machine = make_machine(parse_config(name), tolerated=TOLERATED, name=f"PercpuMachine_{name}")
    run_state_machine_as_test(machine, settings=settings(max_examples=examples, stateful_step_count=40))


def test_machine_reports_a_recorded_finding_when_not_tolerated() -> None:
    machine = make_machine(parse_config("small16"), tolerated=frozenset(), name="PercpuMachine_strict")
    with pytest.raises(AssertionError, match="inv_"):
        run_state_machine_as_test(machine, settings=settings(max_examples=200, stateful_step_count=40))


def test_machine_failure_carries_the_percpu_stats_dump() -> None:
    from properties.mutants import MUTANTS

    mutant = MUTANTS["per_cpu_ptr_ignores_cpu"].apply
    machine = make_machine(parse_config("numa4"), mutant, TOLERATED, "PercpuMachine_mut")
    with pytest.raises(AssertionError) as e:
        run_state_machine_as_test(machine, settings=settings(max_examples=50, stateful_step_count=20,
                                                             phases=[Phase.generate]))
    text = str(e.value)
    assert text.startswith("inv_area_in_cpu_unit") and "Percpu Memory Statistics" in text and "nr_cur_alloc" in text
