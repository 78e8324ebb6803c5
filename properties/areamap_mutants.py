"""Mutants of the area-map port (impl_areamap/), one-line edits like properties/mutants.py."""

from __future__ import annotations

from impl_areamap.percpu import AreaMapPercpu
from properties.mutants import Mutant

AREAMAP_MUTANTS: dict[str, Mutant] = {
    m.name: m
    for m in (
        Mutant("am_free_no_merge_prev", "pcpu_free_area",
               "if i > 0 and not (chunk.map[i - 1] & 1):", "if False:",
               "freeing never merges with a free area before it", AreaMapPercpu),
        Mutant("am_memmove_short", "pcpu_free_area",
               "memmove(chunk.map, i + 1, i + 1 + to_free, (chunk.map_used - i) * MAP_ENTRY_SIZE)",
               "memmove(chunk.map, i + 1, i + 1 + to_free, (chunk.map_used - i - 1) * MAP_ENTRY_SIZE)",
               "the memmove on free moves one entry too few (the sentinel stays behind)", AreaMapPercpu),
        Mutant("am_contig_hint_not_rescanned", "pcpu_alloc_area",
               "chunk.contig_hint = max_contig  # the whole map was scanned",
               "chunk.contig_hint = min(chunk.contig_hint, max_contig)",
               "a full scan that took the area keeps a lower contig_hint than the truth", AreaMapPercpu),
        Mutant("am_fit_ignores_align", "pcpu_fit_in_area",
               "head = ALIGN(cand_off, align) - off", "head = cand_off - off",
               "the head padding forgets the alignment", AreaMapPercpu),
        Mutant("am_first_free_past_area", "pcpu_alloc_area",
               "chunk.first_free = i + 1", "chunk.first_free = i + 2",
               "first_free skips the entry after the new area, which may be free", AreaMapPercpu),
    )
}
