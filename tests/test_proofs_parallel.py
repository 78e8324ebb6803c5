"""The proofs' forked processes: the same paths, verdicts and units as one process, and failures reported."""

from __future__ import annotations

import pytest
import z3

from properties.proofs import parallel, sym
from properties.proofs.prove import fresh_z3_context
from properties.proofs.sym import Budget, SInt, explore, integer_terms, var


def _branchy() -> int:
    """31 feasible paths over three symbolic integers (each ``if`` forks where both sides can hold)."""
    x, y, z = SInt(var("x")), SInt(var("y")), SInt(var("z"))
    k = 0
    if x < y:
        k += 1
        if y < z:
            k += 2
        if x + 1 < z:
            k += 4
    elif x == y:
        k += 8
    if z > 5:
        k += 16
    if y > 3:
        k += 32
    if x < -2:
        k += 64
    return k


def _paths(jobs: int) -> tuple[list[tuple[bool, ...]], int]:
    fresh_z3_context()  # the units depend on every term made before
    found: list[tuple[bool, ...]] = []
    budget = Budget(50_000_000)
    with integer_terms():
        s = z3.SolverFor("QF_LIA")
        explore(s, _branchy, lambda end, run: found.append(tuple(end.decisions)), budget=budget, jobs=jobs)
        assert s.num_scopes() == 0  # every level the exploration pushed is gone
    return found, budget.used


@pytest.mark.unit
def test_forked_exploration_finds_the_paths_one_process_finds(monkeypatch: pytest.MonkeyPatch) -> None:
    one, _ = _paths(1)
    two, used = _paths(2)
    assert len(one) == len(set(one)) == 31
    assert sorted(one) == sorted(two)
    assert _paths(2) == (two, used)  # the same paths in the same order, the same units
    # a child whose paths are lost is caught by the comparison above
    real = parallel.forked
    monkeypatch.setattr(parallel, "forked", lambda calls, jobs: real(calls, jobs)[:-1])
    lossy, _ = _paths(2)
    assert sorted(lossy) != sorted(one)


@pytest.mark.unit
def test_rounds_give_the_answers_and_units_of_one_process() -> None:
    def query(item: str, b: Budget, share: int) -> str:
        s = z3.Solver()
        x = z3.Int("x")
        s.add(x * x == int(item))  # a square or not: sat or unsat
        return str(b.check(s, share))

    items = ["4", "5", "9", "10", "16"]
    one, two, again = Budget(10_000_000), Budget(10_000_000), Budget(10_000_000)
    fresh_z3_context()
    r1 = parallel.rounds(query, items, one, 1)
    fresh_z3_context()
    r2 = parallel.rounds(query, items, two, 2)
    assert r1 == r2 == {"4": "sat", "5": "unsat", "9": "sat", "10": "unsat", "16": "sat"}
    assert two.used > 0
    fresh_z3_context()
    assert parallel.rounds(query, items, again, 2) == r2 and again.used == two.used
    # an exhausted budget runs nothing more
    assert parallel.rounds(query, items, Budget(1, parent=None), 2).keys() <= {"4", "5"}


@pytest.mark.unit
def test_a_failing_child_is_reported() -> None:
    def boom() -> int:
        raise ValueError("no")

    assert parallel.forked([lambda: 1, lambda: 2], 2) == [1, 2]
    with pytest.raises(RuntimeError, match="ValueError"):
        parallel.forked([lambda: 1, boom], 2)


@pytest.mark.unit
def test_a_child_out_of_budget_is_unknown_in_the_parent() -> None:
    with integer_terms(), pytest.raises(sym.Unknown):
        explore(z3.SolverFor("QF_LIA"), _branchy, lambda end, run: None, budget=Budget(1), jobs=2)


@pytest.mark.stateful
def test_parametric_ledger_rows_are_not_queried_unless_asked() -> None:
    """A row the bounded proofs refute (ledger F4) costs no query by default; asked for, its query finds a model."""
    from properties.proofs.parametric import NOT_PROVED, prove_param

    skipped = prove_param("block_update", 60, props=["inv_block_scan_hint_order"])
    queried = prove_param("block_update", 60, props=["inv_block_scan_hint_order"], ledger_rows=True)
    assert [r.verdict for r in skipped] == [r.verdict for r in queried] == [NOT_PROVED]
    assert "not queried" in skipped[0].note and "model" in queried[0].note
    assert skipped[0].units < queried[0].units
