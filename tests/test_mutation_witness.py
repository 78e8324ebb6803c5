"""tools.mutation_witness: its counters see the states where a survivor differs, its mutants track impl/."""

import pytest

from impl.boot import boot, small_config
from tools.mutation_witness import SURVIVORS, Witness


def _witnessed() -> tuple[object, Witness]:
    pc = boot(small_config(16))
    w = Witness()
    w.apply(pc)
    return pc, w


@pytest.mark.unit
def test_every_survivor_mutant_still_builds_from_the_port() -> None:
    for s in SURVIVORS:
        assert "# MUTANT:" in s.mutant.source()
        s.mutant.build()


@pytest.mark.unit
def test_witness_counts_a_smaller_region_at_contig_hint_start() -> None:
    pc, w = _witnessed()
    block = pc.pcpu_alloc_chunk(0).md_blocks[0]  # type: ignore[attr-defined]
    block.contig_hint, block.contig_hint_start, block.scan_hint, block.scan_hint_start = 8, 4, 0, 0
    pc.pcpu_block_update(block, 4, 6)  # type: ignore[attr-defined]
    assert (w.reached["smaller_start_le"], w.differs["smaller_start_le"]) == (1, 1)
    pc.pcpu_block_update(block, 13, 15)  # type: ignore[attr-defined]  # not at contig_hint_start
    assert w.reached["smaller_start_le"] == 1


@pytest.mark.unit
def test_witness_counts_a_tie_at_scan_hint_start_under_a_larger_scan_hint() -> None:
    pc, w = _witnessed()
    block = pc.pcpu_alloc_chunk(0).md_blocks[0]  # type: ignore[attr-defined]
    # contig_hint 2@8 below a (stale) scan_hint 3@4; a 2-bit region at 4 is a tie, not better aligned
    block.contig_hint, block.contig_hint_start, block.scan_hint, block.scan_hint_start = 2, 8, 3, 4
    pc.pcpu_block_update(block, 4, 6)  # type: ignore[attr-defined]
    assert w.differs["tie_start_ge"] == 1


@pytest.mark.stateful
def test_mutant_vs_c_reports_a_difference_for_a_real_mutant() -> None:
    pytest.importorskip("oracle.cpercpu")
    from properties.mutants import MUTANTS
    from tools.mutation_probe import c_differential

    try:
        assert c_differential([0, 1], 120) is None
    except OSError as e:
        pytest.skip(f"C oracle unavailable: {e}")
    assert c_differential([0, 1], 120, MUTANTS["hint_alloc_e_off_no_plus_one"].apply) is not None


@pytest.mark.unit
def test_witness_sees_a_hint_inside_the_run_at_bit_0() -> None:
    pc, w = _witnessed()
    ch = pc.pcpu_alloc_chunk(0)  # type: ignore[attr-defined]
    md = ch.md_blocks[0]
    md.contig_hint, md.contig_hint_start = 8, 4  # the block is all free: its run at bit 0 covers bit 4
    w._midrun_at_0(ch, pc.PCPU_BITMAP_BLOCK_BITS)  # type: ignore[attr-defined]
    assert w.states["contig_hint starts inside the run at bit 0"] == 1
    assert w.states["scan_hint starts inside the run at bit 0"] == 0
