"""Expected refutations: lemmas the faithful port SHOULD refute, tied to findings/ledger.toml.

A lemma states the kernel's intended invariant; the known kernel findings
F1-F7 break some of them, so on the faithful port those (lemma, property)
rows must come out REFUTED.  Each entry names the ledger finding whose
property is refuted and whose corpus file replays a sequence that reaches
it.  A refutation not in this table is new: it needs a ledger entry with a
replayable sequence (properties.proofs.witness.reproduce) before the proofs
step of ``make verify`` passes.
"""

from __future__ import annotations

import tomllib

from properties.mutants import _LEDGER

EXPECTED: dict[tuple[str, str], str] = {
    # pcpu_block_update(): equal-size run before contig_hint becomes scan_hint (F4); a merging free
    # leaves the old scan_hint inside the new contig_hint (F6)
    ("block_update", "inv_block_scan_hint_order"): "F4",
    ("block_update", "inv_block_scan_hint_disjoint"): "F6",
    # pcpu_block_update_scan() folds its hole through pcpu_block_update(): the same two branches
    ("block_update_scan", "inv_block_scan_hint_order"): "F4",
    ("block_update_scan", "inv_block_scan_hint_disjoint"): "F6",
    # pcpu_block_refresh_hint() promoting a scan_hint that ends at the block end loses right_free (F3)
    ("block_refresh_hint", "inv_block_right_free"): "F3",
    ("block_hint_alloc", "inv_block_right_free"): "F3",
    # pcpu_block_update_hint_free() ends in pcpu_block_update() on the block
    ("block_hint_free", "inv_block_scan_hint_order"): "F4",
    ("block_hint_free", "inv_block_scan_hint_disjoint"): "F6",
    ("chunk_hint_free", "inv_block_scan_hint_order"): "F4",
    ("chunk_hint_free", "inv_block_scan_hint_disjoint"): "F6",
    # the allocation's rescan folds equal runs forward; a third better aligned than the first leaves the
    # second as a scan_hint equal to the contig_hint and before it (F4's state; a 16-bit block, so no
    # bounded chunk lemma reaches it: allocfamilies.py's every-size proof and tests/test_proofs_alloc.py)
    ("chunk_hint_alloc", "inv_block_scan_hint_order"): "F4",
    # a block wholly covered by a straddling allocation keeps first_free = 0 (F1)
    ("chunk_hint_alloc", "inv_block_first_free"): "F1",
    ("chunk_hint_alloc", "inv_block_right_free"): "F3",
    # the chunk hint is offered a region whose end is block-relative (F2)
    ("chunk_hint_free", "inv_chunk_contig_hint_in_block"): "F2",
    # the same block-relative end leaves the chunk hint more than a page short after a free in
    # block 1 (witness at 2x4 bits: map 0000|0111, free bit 5, chunk contig_hint stays 1 of 6)
    ("chunk_hint_free", "inv_chunk_contig_hint_slack"): "F5",
    # an allocation's chunk refresh misses a run whose block lost its right_free (F9, via F3);
    # triaged 2026-11-22 from the row that was UNDER TRIAGE here
    ("chunk_hint_alloc", "inv_chunk_contig_hint_in_block"): "F9",
}


# Refutations seen on the faithful port whose witness has not been shown reachable or
# unreachable yet.  Not findings (no ledger entry): each names the witness and why it is
# suspected to be a precondition gap.  `make verify` prints them as UNDER TRIAGE and does
# not fail on them; a row leaves this table for EXPECTED (with a ledger entry and a
# replayable sequence) or for a strengthened precondition.
_LEFT_FREE = ("an allocation at offset 1 of a contig_hint at offset 0 with an equal scan_hint after it: the "
              "rescan promotes the scan_hint, starts after it and never sees the run at 0, so left_free keeps the "
              "old run's length (8-bit block, bits 2, 5, 6, 7 used, allocating bit 1; bounded lemma at "
              "runs_per_block=2; tests/test_proofs_alloc.py replays it on the port).  Suspected unreachable: the "
              "allocator's search never starts inside a block's leading free run (pcpu_next_hint() returns "
              "first_free there) and witness.reproduce found no sequence in 36 seeded campaigns; a stale "
              "scan_hint (F6/F7) ending inside such a run is the open way in.  allocfamilies.py assumes "
              "allocfamilies.placed")
TRIAGE: dict[tuple[str, str], str] = {
    ("block_hint_alloc", "inv_block_left_free"): _LEFT_FREE,
    ("chunk_hint_alloc", "inv_block_left_free"): _LEFT_FREE,
}


def expectation(lemma: str, prop: str) -> str | None:
    """"ledger F<n> (<corpus file>)" if this refutation is an expected one whose ledger entry exists.

    A refutation in TRIAGE returns its "under triage" text instead.
    """
    if (lemma, prop) in TRIAGE:
        return f"UNDER TRIAGE (no ledger entry): {TRIAGE[(lemma, prop)]}"
    fid = EXPECTED.get((lemma, prop))
    if fid is None:
        return None
    with open(_LEDGER, "rb") as fh:
        ledger = tomllib.load(fh).get("finding", [])
    for f in ledger:
        if f["id"] == fid and f["property"] == prop:
            return f"expected: ledger {fid} ({f['file']})"
        if f["id"] == fid:
            return f"expected: ledger {fid} ({f['file']}; same root cause, ledger property {f['property']})"
    return None
