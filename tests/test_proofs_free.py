"""chunk_hint_free on a chunk with pcpu_block_update() and the walk as proved summaries (freefamilies.py).

The summaries' own lemmas (summaries.py) hold on the port, and a mutant of
pcpu_block_update() breaks the row it should.  The faithful port proves every
row the ledger does not refute on two blocks of eight bits and on four of 64 bits; a mutant of
pcpu_block_update_hint_free() that leaves the freed run unmerged breaks the
precondition of pcpu_block_update()'s summary, with a model.
"""

from __future__ import annotations

import pytest
import z3

from properties.proofs.families import resolved
from properties.proofs.freefamilies import LEDGER, UPDATE_PRE, prove_free
from properties.proofs.mutants import ALL, SUMMARY_MUTANTS
from properties.proofs.parametric import NOT_PROVED, PROVED
from properties.proofs.summaries import CHUNK_UPDATE_POST, RANGES, UPDATE_POST, prove_summaries


def test_resolving_obligations_keeps_the_disjunction_and_drops_what_it_can() -> None:
    a, b, c, d = z3.Bools("a b c d")
    bads = [z3.And(a, b, c), z3.And(a, z3.Not(b), c), z3.And(a, c, d), z3.And(d, z3.Not(a))]
    out = resolved(bads)
    assert len(out) == 2  # b taken both ways merges the first two, which then hold the third
    s = z3.Solver()
    s.add(z3.Or(*bads) != z3.Or(*out))
    assert s.check() == z3.unsat
    assert len(resolved([z3.And(a, b), z3.And(a, z3.Not(b), c)])) == 2  # they differ in more than b: both kept


@pytest.mark.stateful
def test_the_summaries_of_block_update_hold_for_every_size() -> None:
    rows = prove_summaries()
    assert {r.prop: r.verdict for r in rows} == dict.fromkeys([*UPDATE_POST, RANGES, *CHUNK_UPDATE_POST], PROVED)


@pytest.mark.stateful
@pytest.mark.parametrize(("mutant", "row"), sorted(SUMMARY_MUTANTS.items()))
def test_a_mutant_of_block_update_breaks_its_summary_row(mutant: str, row: str) -> None:
    rows = {r.prop: r for r in prove_summaries(variant=ALL[mutant].apply)}
    assert rows[row].verdict == NOT_PROVED and "model" in rows[row].note


@pytest.mark.deep
def test_every_row_but_the_ledgers_is_proved_on_two_blocks() -> None:
    rows = [r for r in prove_free(2, 600, block_bits=8) if r.lemma == "chunk_hint_free"]
    assert {r.prop: r.verdict for r in rows if r.prop not in LEDGER} == dict.fromkeys(
        [r.prop for r in rows if r.prop not in LEDGER], PROVED)
    assert {r.prop for r in rows} >= {UPDATE_PRE, *LEDGER} and rows[0].bounds["blocks"] == 2


@pytest.mark.deep
def test_every_row_but_the_ledgers_is_proved_on_four_blocks_of_64_bits() -> None:
    """The chunk-level scale goal's size (about 2 minutes)."""
    every = prove_free(4, 600, block_bits=64)
    assert all(r.verdict == PROVED for r in every if r.prop not in LEDGER or r.lemma != "chunk_hint_free")
    assert next(r for r in every if r.lemma == "chunk_hint_free").bounds["blocks"] == 4


@pytest.mark.deep
def test_an_unmerged_free_breaks_the_summary_precondition_with_a_model() -> None:
    rows = {r.prop: r for r in prove_free(2, 600, block_bits=8, variant=ALL["hint_free_end_not_extended"].apply)
            if r.lemma == "chunk_hint_free"}
    assert rows[UPDATE_PRE].verdict == NOT_PROVED and "model" in rows[UPDATE_PRE].note
    assert all(r.verdict == NOT_PROVED for r in rows.values())  # no row is claimed past a broken summary
