"""pcpu_find_block_fit()'s rows on a chunk by families of paths (properties/proofs/fitfamilies.py).

The faithful port proves both rows on two blocks of eight bits; each mutant of
pcpu_next_fit_region() leaves exactly the row it breaks with a model.  ``make
proofs-chunk-fit`` runs four blocks.
"""

from __future__ import annotations

import pytest

from properties.proofs.fitfamilies import prove_fit
from properties.proofs.lemmas import FIT_PROPS
from properties.proofs.mutants import ALL
from properties.proofs.parametric import NOT_PROVED, PROVED


@pytest.mark.stateful
def test_the_search_finds_fits_and_returns_useful_starts_on_two_blocks() -> None:
    rows = prove_fit(2, 200, block_bits=8)
    assert {r.prop: r.verdict for r in rows} == dict.fromkeys(FIT_PROPS, PROVED)
    assert rows[0].bounds["blocks"] == 2 and rows[0].bounds["block_bits"] == 8
    assert rows[0].bounds["families"] >= 5  # a family per block and kind of start, and the failed searches


@pytest.mark.deep
@pytest.mark.parametrize(("mutant", "row"), [
    ("next_fit_no_align", "fit_start_leads_to_fit"),
    ("next_fit_right_free_one_more", "fit_start_leads_to_fit"),
    ("next_fit_contig_strict", "fit_found_if_one_exists"),
])
def test_a_mutant_of_the_fit_search_leaves_the_row_it_breaks_with_a_model(mutant: str, row: str) -> None:
    rows = {r.prop: r for r in prove_fit(2, 200, block_bits=8, variant=ALL[mutant].apply)}
    assert rows[row].verdict == NOT_PROVED and "model" in rows[row].note
    other = next(p for p in FIT_PROPS if p != row)
    assert rows[other].verdict == PROVED  # the slicing keeps the row the mutant does not break provable
