"""tools/mutation_reach.py: exhaustive bounded reachability for mutation survivors."""

from __future__ import annotations

import pytest

from properties.mutants import MUTANTS
from tools import mutation_reach as reach


@pytest.mark.stateful
def test_open_survivors_never_differ_within_a_small_bound() -> None:
    res = reach.explore(4, 2, False, [], max_depth=5)
    assert not res.complete and res.states > 1000
    w = res.witness
    for name in reach.OPEN_SURVIVORS:
        assert w.differs[name] == 0, (name, w.example.get(name))
    # the statements are exercised, so "never differs" is not vacuous (294 is never even reached)
    assert w.reached["e_block_scan_ge"] > 0 and w.reached["chunk_refresh_step_plus0"] > 0
    assert res.midrun_states == 0


@pytest.mark.stateful
def test_the_search_catches_a_mutant_that_differs_and_replays_it() -> None:
    m = MUTANTS["hint_alloc_e_off_no_plus_one"]
    res = reach.explore(4, 2, False, [m], max_depth=3)
    assert res.diffs[m.name] > 0
    path = res.first_diff[m.name]
    # the shortest sequence replays: the port and the mutant end in different states
    ends = []
    for variant in (None, m):
        pc = reach.tiny_percpu(4, 2)
        if variant is not None:
            variant.apply(pc)
        ch = reach.new_chunk(pc, False)
        offs = [reach.run_op(pc, ch, op) for op in path]
        ends.append((offs, reach.snapshot(ch)))
    assert ends[0] != ends[1]


@pytest.mark.unit
def test_midrun_predicate() -> None:
    md_ok = (0, 0, 2, 0, 2, 0, 0, 4)  # contig_hint 2@0 over a 4-bit block 1100 (bits 2, 3 used)
    md_bad = (0, 0, 1, 1, 2, 0, 0, 4)  # contig_hint 1@1: strictly inside the run [0, 2)
    assert not reach.midrun_at_0((0b1100, 0, 0, 0, (), (md_ok,)), 4)
    assert reach.midrun_at_0((0b1100, 0, 0, 0, (), (md_bad,)), 4)


@pytest.mark.unit
def test_bad_arguments_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert reach.main(["--compare", "no_such_mutant"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown mutant" in err
    assert reach.main(["--block-bits", "7"]) == 2
