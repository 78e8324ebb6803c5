"""pcpu_chunk_refresh_hint()'s walk proved by a loop invariant (properties/proofs/loopinv.py).

Each mutant of the walk leaves the row it breaks (mutants.LOOP_MUTANTS) not proved,
and the faithful port proves every row.  Two blocks of eight bits keep these in the
deep tier's minutes; ``make proofs-chunk-loop`` runs four blocks of every size.
"""

from __future__ import annotations

import pytest

from properties.proofs.lemmas import CHUNK_PROPS
from properties.proofs.loopinv import ESTABLISHED, KEPT, WALK_PRE, prove_loop
from properties.proofs.mutants import ALL, LOOP_MUTANTS
from properties.proofs.parametric import NOT_PROVED, PROVED


@pytest.mark.deep
def test_the_walk_keeps_its_invariant_and_the_chunk_properties_on_two_blocks() -> None:
    rows = prove_loop(2, 300, block_bits=8)
    assert {r.prop: r.verdict for r in rows} == {p: PROVED for p in (ESTABLISHED, KEPT, *CHUNK_PROPS)}
    assert rows[0].bounds["blocks"] == 2 and rows[0].bounds["block_bits"] == 8


@pytest.mark.deep
@pytest.mark.parametrize(("mutant", "row"), sorted(LOOP_MUTANTS.items()))
def test_a_mutant_of_the_walk_breaks_the_induction(mutant: str, row: str) -> None:
    rows = {r.prop: r for r in prove_loop(2, 300, block_bits=8, variant=ALL[mutant].apply)}
    assert rows[row].verdict == NOT_PROVED and "model" in rows[row].note
    # a chunk property is claimed only with the induction closed
    assert all(rows[p].verdict == NOT_PROVED for p in CHUNK_PROPS)


@pytest.mark.deep
def test_the_walk_needs_each_block_contig_hint_start_sound() -> None:
    # WALK_PRE is what a caller of the walk must show at its call: without the contig_hint_start
    # property the blocks' contig hints may name used bits, and the induction does not close
    pre = tuple(p for p in WALK_PRE if p != "inv_block_contig_hint_start")
    rows = {r.prop: r for r in prove_loop(2, 300, block_bits=8, pre=pre)}
    assert any(rows[r].verdict == NOT_PROVED and "model" in rows[r].note for r in (ESTABLISHED, KEPT))
    assert all(rows[p].verdict == NOT_PROVED for p in CHUNK_PROPS)


@pytest.mark.stateful
def test_a_second_round_gives_undecided_queries_what_other_families_left() -> None:
    # two blocks of every size at 80 s: three queries run out of their families' first shares, and
    # the second round gives them what the other families left (13.4M units each)
    first = prove_loop(2, 80, jobs=2, rounds=1)
    assert any(r.verdict == NOT_PROVED and r.note == "budget" for r in first)
    both = prove_loop(2, 80, jobs=2)
    assert all(r.verdict == PROVED for r in both)
