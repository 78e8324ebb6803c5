"""chunk_hint_alloc with the block rescan and the walk as proved summaries (allocfamilies.py, refreshloop.py,
walkbounds.py with loopinv.py --bounds).

Each summary's mutants leave the row they break NOT PROVED with a model, and the faithful port proves
every claimable row.  The two witnesses the proof leaves to the ledger or to a reachability question are
replayed on the concrete port: F4 reached through the rescan, and the left_free state the placement
assumption (allocfamilies.placed) rules out.
"""

from __future__ import annotations

import pytest

from impl.bitmap import Bitmap
from impl.internal import pcpu_block_md, pcpu_chunk
from model.chunk import ModelChunk
from properties.invariants import Window
from properties.proofs import allocfamilies, refreshloop
from properties.proofs.allocfamilies import LEDGER, UNSTATED, prove_alloc
from properties.proofs.lemmas import BLOCK_PROPS, percpu_for
from properties.proofs.loopinv import BOUNDS_LEMMA, ESTABLISHED, KEPT, prove_loop
from properties.proofs.mutants import ALL, ALLOC_MUTANTS, BOUNDS_MUTANTS, REFRESH_LOOP_MUTANTS
from properties.proofs.parametric import NOT_PROVED, PROVED
from properties.proofs.refreshloop import POST, prove_refresh_loop
from properties.proofs.walkbounds import POST as BOUNDS_POST
from properties.registry import PROPERTIES

HINT_NAMES = ("contig_hint", "contig_hint_start", "scan_hint", "scan_hint_start", "left_free", "right_free",
              "first_free")


def _broken(md: pcpu_block_md, used: set[int], bits: int) -> set[str]:
    """The registry's block properties ``md`` breaks on a block of ``bits`` bits with ``used`` set."""
    m = ModelChunk(bits, bits, 0, bits)
    for b in used:
        m.alloc(b, 1)
    w = Window(m, 0, bits, bits)
    return {p for p in BLOCK_PROPS if PROPERTIES[p].fn(md, m.block_truth(0), w) is not None}


def _alloc_in_one_block(bits: int, used: set[int], hints: dict[str, int], off: int, k: int
                        ) -> tuple[set[str], set[str]]:
    """The properties the hints break before, and after the port's pcpu_block_update_hint_alloc() for
    [off, off + k) on a one-block chunk whose chunk_md holds the same hints."""
    p = percpu_for(bits)
    chunk = pcpu_chunk(0)
    chunk.nr_pages = 1
    chunk.alloc_map = Bitmap(bits, 0)
    for b in used:
        chunk.alloc_map.set_range(b, 1)
    md, cmd = pcpu_block_md(), pcpu_block_md()
    for x in (md, cmd):
        x.nr_bits = bits
        for f in HINT_NAMES:
            setattr(x, f, hints[f])
    chunk.md_blocks, chunk.chunk_md = [md], cmd
    before = _broken(md, used, bits)
    chunk.alloc_map.set_range(off, k)
    p.pcpu_block_update_hint_alloc(chunk, off, k)
    return before, _broken(md, used | set(range(off, off + k)), bits)


def test_the_rescan_reaches_f4_from_sound_hints() -> None:
    # runs of one bit at 1, 3 and 6, and of eight at 8 (the contig_hint); no scan_hint.  Allocating the
    # contig_hint rescans from first_free: 3 becomes the scan_hint, 6 (better aligned than 1) the
    # contig_hint's start, so the scan_hint equals the contig_hint and lies before it
    hints = {"contig_hint": 8, "contig_hint_start": 8, "scan_hint": 0, "scan_hint_start": 0, "left_free": 0,
             "right_free": 8, "first_free": 1}
    before, after = _alloc_in_one_block(16, {0, 2, 4, 5, 7}, hints, 8, 8)
    assert before == set()
    assert after == {"inv_block_scan_hint_order"}
    assert LEDGER["inv_block_scan_hint_order"].startswith("F4")


def test_the_left_free_witness_is_an_allocation_inside_a_leading_run() -> None:
    # contig_hint 2 at 0, an equal scan_hint at 3; allocating bit 1 breaks the contig_hint, the rescan
    # starts after the scan_hint and never sees the run at 0: left_free stays 2 though bit 1 is used
    hints = {"contig_hint": 2, "contig_hint_start": 0, "scan_hint": 2, "scan_hint_start": 3, "left_free": 2,
             "right_free": 0, "first_free": 0}
    before, after = _alloc_in_one_block(8, {2, 5, 6, 7}, hints, 1, 1)
    assert before == set()
    assert after == {"inv_block_left_free"}
    # the placement assumption rules out exactly this start: inside the free run block 0 begins with
    assert "leading free run" in (allocfamilies.placed.__doc__ or "")


@pytest.mark.stateful
def test_the_rescan_summary_holds_for_every_size() -> None:
    rows = {r.prop: r.verdict for r in prove_refresh_loop(120)}
    assert rows == {p: PROVED for p in (ESTABLISHED, KEPT, *POST)}


@pytest.mark.stateful
@pytest.mark.parametrize(("mutant", "row"), sorted(REFRESH_LOOP_MUTANTS.items()))
def test_a_mutant_of_the_rescan_breaks_its_induction(mutant: str, row: str) -> None:
    rows = {r.prop: r for r in prove_refresh_loop(120, variant=ALL[mutant].apply)}
    assert rows[row].verdict == NOT_PROVED and "model" in rows[row].note
    assert all(rows[p].verdict == NOT_PROVED for p in POST)  # claimed only with the induction closed


@pytest.mark.stateful
def test_the_walk_keeps_the_bound_hints_without_full_scan() -> None:
    rows = prove_loop(2, 300, block_bits=8, bounds=True)
    assert {r.prop: r.verdict for r in rows} == {p: PROVED for p in (ESTABLISHED, KEPT, *BOUNDS_POST)}
    assert {r.lemma for r in rows} == {BOUNDS_LEMMA}


@pytest.mark.stateful
@pytest.mark.parametrize(("mutant", "row"), sorted(BOUNDS_MUTANTS.items()))
def test_a_mutant_of_the_walk_breaks_the_bounds_contract(mutant: str, row: str) -> None:
    rows = {r.prop: r for r in prove_loop(2, 300, block_bits=8, variant=ALL[mutant].apply, bounds=True)}
    assert rows[row].verdict == NOT_PROVED and "model" in rows[row].note
    assert all(rows[p].verdict == NOT_PROVED for p in BOUNDS_POST)


def _claimable(rows: list) -> dict[str, str]:  # type: ignore[type-arg]
    return {r.prop: r.verdict for r in rows if r.lemma == allocfamilies.LEMMA
            and r.prop not in LEDGER and r.prop not in UNSTATED}


@pytest.mark.deep
def test_every_claimable_row_is_proved_on_two_blocks() -> None:
    rows = prove_alloc(2, 600, block_bits=8)
    got = _claimable(rows)
    assert got and set(got.values()) == {PROVED}
    assert all(r.verdict == PROVED for r in rows if r.lemma == refreshloop.LEMMA)


@pytest.mark.deep
@pytest.mark.parametrize(("mutant", "row"), sorted(ALLOC_MUTANTS.items()))
def test_a_mutant_of_the_hint_update_leaves_its_row_with_a_model(mutant: str, row: str) -> None:
    rows = {r.prop: r for r in prove_alloc(2, 600, block_bits=8, variant=ALL[mutant].apply)
            if r.lemma == allocfamilies.LEMMA}
    assert rows[row].verdict == NOT_PROVED and "model" in rows[row].note


@pytest.mark.deep
def test_pruning_loses_no_obligation_of_the_full_exploration() -> None:
    missing, total = allocfamilies.check_independence(2, 4)
    assert total > 1000 and missing == 0


@pytest.mark.deep
def test_a_block_written_under_another_blocks_condition_is_caught_by_the_independence_check() -> None:
    missing, total = allocfamilies.check_independence(2, 4, ALL["hint_alloc_cross_block_scan_reset"].apply)
    assert 0 < missing <= total
