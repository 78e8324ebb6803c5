"""Branch states of the hint-update functions: measured from outside impl/, and gating verify."""

import random

import pytest

from properties import branch_coverage
from properties.configs import parse_config
from properties.harness import Harness
from tools.find import random_calls


@pytest.mark.unit
def test_a_short_walk_takes_branches_and_names_them_stably() -> None:
    rep = branch_coverage.measure(lambda: random_calls(Harness(parse_config("small16")), random.Random(0), 60))
    assert rep.reached(), "no branch of the hint-update functions taken"
    assert set(rep.reached()) <= set(rep.all_branches())
    assert all(b.startswith("branch_pcpu_") for b in rep.all_branches())
    assert set(rep.all_branches()) >= branch_coverage.REQUIRED_BRANCHES


@pytest.mark.unit
def test_an_unreached_required_branch_is_reported_missing() -> None:
    rep = branch_coverage.measure(lambda: None)  # nothing runs: every branch is missing
    required = set(sorted(branch_coverage.REQUIRED_BRANCHES)[:3])
    assert rep.missing(required) == sorted(required)
