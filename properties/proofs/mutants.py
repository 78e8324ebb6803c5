"""One mutant per lemma that the lemma must refute, from properties/mutants.py's one-line edits.

Where properties/mutants.py already has a mutant of the lemma's function it
is reused; the ones added here use the same :class:`~properties.mutants.Mutant`
mechanism (a one-line edit of the port's own method source).  Each entry also
names a property the lemma should refute on it which the faithful port
proves, and the small configuration its replayable sequence is searched on.
"""

from __future__ import annotations

from properties.mutants import MUTANTS, Mutant

EXTRA: dict[str, Mutant] = {
    m.name: m
    for m in (
        Mutant("hint_free_end_not_extended", "pcpu_block_update_hint_free",
               "end = e_block.contig_hint_start + e_block.contig_hint", "end = e_off",
               "a freed run that touches e_block's contig_hint is not merged with it"),
        Mutant("refresh_hint_keeps_contig", "pcpu_block_refresh_hint",
               "block.contig_hint = 0", "pass",
               "a rescan from first_free starts with the old contig_hint instead of none"),
        Mutant("hint_alloc_keeps_left_free", "pcpu_block_update_hint_alloc",
               "s_block.left_free = min(s_block.left_free, s_off)", "pass",
               "an allocation at a block's start that misses contig_hint leaves left_free as it was"),
        Mutant("hint_alloc_keeps_chunk_scan_hint", "pcpu_block_update_hint_alloc",
               "chunk_md.scan_hint = 0", "pass",
               "an allocation over the chunk's scan_hint leaves the scan_hint in place"),
        Mutant("next_fit_contig_strict", "pcpu_next_fit_region",
               "and block.contig_hint >= bits + alloc_bits", "and block.contig_hint > bits + alloc_bits",
               "a block whose contig_hint holds the request exactly is passed over"),
        Mutant("next_fit_right_free_one_more", "pcpu_next_fit_region",
               "bits = BLOCK_BITS - bit_off", "bits = BLOCK_BITS - bit_off + 1",
               "the run at a block's right edge is counted one bit longer than it is"),
        Mutant("block_update_first_free_at_start", "pcpu_block_update",
               "block.first_free = min(block.first_free, start)", "block.first_free = start",
               "first_free moves to every region offered, also past a free bit before it"),
        Mutant("block_update_left_free_one_more", "pcpu_block_update",
               "block.left_free = contig", "block.left_free = contig + 1",
               "a run at the left edge is stored one bit longer (past nr_bits for a wholly free block)"),
        Mutant("next_md_region_left_free_one_more", "pcpu_next_md_free_region",
               "bits += block.left_free", "bits += block.left_free + 1",
               "a run carried across a block edge is counted one bit into the used bit after it"),
        Mutant("hint_alloc_cross_block_scan_reset", "pcpu_block_update_hint_alloc",
               "e_block.scan_hint = 0", "s_block.scan_hint = 0",
               "e_block's scan_hint reset lands on s_block: a block written under a condition on another's hints"),
        Mutant("next_md_region_skips_contig_at_cut", "pcpu_next_md_free_region",
               "and block.contig_hint_start >= block_off", "and block.contig_hint_start > block_off",
               "a block's contig_hint that starts right where the walk resumes is passed over"),
    )
}

ALL = MUTANTS | EXTRA

# lemma -> mutant it must refute
FOR_LEMMA: dict[str, str] = {
    "block_update": "block_update_right_edge_sets_left_free",
    "block_update_scan": "update_scan_includes_used_bit",
    # refresh_hint_keeps_right_free (properties/mutants.py) only breaks right_free, which F3 already
    # breaks on the faithful port
    "block_refresh_hint": "refresh_hint_keeps_contig",
    # hint_alloc_e_off_no_plus_one (properties/mutants.py) breaks right_free, as F3 does already
    "block_hint_alloc": "hint_alloc_keeps_left_free",
    "block_hint_free": "hint_free_end_not_extended",
    "block_find_fit": "next_fit_right_free_one_more",
    "chunk_refresh_hint": "chunk_refresh_keeps_contig",
    # hint_alloc_keeps_left_free's left_free row needs more paths than the deep budget explores at
    # 2x4 bits (the chunk-level rows of the explored part are decided first)
    "chunk_hint_alloc": "hint_alloc_keeps_chunk_scan_hint",
    "chunk_hint_free": "hint_free_end_not_extended",
    "chunk_find_fit": "next_fit_no_align",
}

# mutants of pcpu_chunk_refresh_hint()'s walk -> a row of the loop-invariant proof (loopinv.py) that
# finds a model on them (2x8 bits): the invariant is not established, or not kept.  A walk that
# resumes two bits after a region (bit_off += bits + 2) was not refuted within 300 s (budget)
LOOP_MUTANTS: dict[str, str] = {
    "chunk_refresh_keeps_contig": "loop_invariant_established",
    "next_md_region_skips_contig_at_cut": "loop_invariant_kept",
}

# mutants of pcpu_block_update() -> the summary row (summaries.py) that finds a model on them
SUMMARY_MUTANTS: dict[str, str] = {
    "block_update_first_free_at_start": "inv_chunk_first_free_lower",
    "block_update_left_free_one_more": "hints_in_range",
}

# the every-size lemmas whose bounded lemma's mutant breaks only a row they leave unproved
PARAM_FOR_LEMMA: dict[str, tuple[str, str]] = {  # lemma -> (mutant, the property it breaks)
    # next_fit_no_align breaks fit_start_leads_to_fit, which the two-block proof leaves to the bounded one
    "chunk_find_fit": ("next_fit_contig_strict", "fit_found_if_one_exists"),
}

# mutants -> the row of refreshloop.py's rescan proof that finds a model on them (every size)
REFRESH_LOOP_MUTANTS: dict[str, str] = {
    "refresh_hint_keeps_contig": "loop_invariant_established",
    "refresh_hint_keeps_right_free": "loop_invariant_established",
    "block_update_first_free_at_start": "loop_invariant_kept",
}

# mutants of pcpu_next_md_free_region() -> the row of the walk's bounds contract (loopinv.py --bounds) that
# finds a model on them (two blocks of 8 bits)
BOUNDS_MUTANTS: dict[str, str] = {
    "next_md_region_left_free_one_more": "loop_invariant_kept",
}

# mutants of pcpu_block_update_hint_alloc() -> the chunk_hint_alloc row allocfamilies.py finds a model for
ALLOC_MUTANTS: dict[str, str] = {
    "hint_alloc_keeps_left_free": "inv_block_left_free",
    "hint_alloc_keeps_chunk_scan_hint": "inv_chunk_scan_hint",
}
