"""Unit: every structural property fails on a state corrupted the way a bug would."""

from typing import Any

import pytest

from properties.configs import parse_config
from properties.harness import Harness

pytestmark = pytest.mark.unit


def fresh() -> Harness:
    h = Harness(parse_config("small16"))
    a = h.pcpu_alloc(24, 4)
    h.pcpu_alloc(8, 4)
    assert a is not None
    h.free_percpu(a)  # leaves a hole: scan hints and several runs exist
    h.violations.clear()
    h._checked_sig.clear()
    return h


def first_chunk(h: Harness):
    return h.pcpu.pcpu_first_chunk


def _set(obj: Any, **fields: Any) -> Any:
    """Sets ``fields`` of ``obj``; returns it (the corruptions below are expressions)."""
    for k, v in fields.items():
        setattr(obj, k, v)
    return obj


CORRUPTIONS = {
    "inv_block_contig_hint": lambda c: setattr(c.md_blocks[1], "contig_hint", c.md_blocks[1].contig_hint - 1),
    "inv_block_contig_hint_start": lambda c: [
        _set(b, contig_hint_start=b.contig_hint_start + 1) for b in c.md_blocks if b.contig_hint][:1],
    "inv_block_scan_hint": lambda c: _set(c.md_blocks[1], scan_hint=15, scan_hint_start=0),
    "inv_block_scan_hint_disjoint": lambda c: _set(
        c.md_blocks[1], scan_hint=1, scan_hint_start=c.md_blocks[1].contig_hint_start),
    "inv_block_scan_hint_order": lambda c: _set(
        c.md_blocks[1], scan_hint=c.md_blocks[1].contig_hint, scan_hint_start=0),
    "inv_block_left_free": lambda c: setattr(c.md_blocks[1], "left_free", c.md_blocks[1].left_free + 1),
    "inv_block_right_free": lambda c: setattr(c.md_blocks[1], "right_free", 0),
    "inv_block_first_free_lower": lambda c: setattr(c.md_blocks[1], "first_free", 15),
    "inv_block_first_free": lambda c: setattr(c.md_blocks[1], "first_free", 15),
    "inv_block_nr_bits": lambda c: setattr(c.md_blocks[1], "nr_bits", 15),
    "inv_chunk_contig_hint_upper": lambda c: setattr(c.chunk_md, "contig_hint", 60),
    "inv_chunk_contig_hint_slack": lambda c: setattr(c.chunk_md, "contig_hint", 1),
    "inv_chunk_scan_hint": lambda c: _set(c.chunk_md, scan_hint=60, scan_hint_start=0),
    "inv_chunk_first_free_lower": lambda c: setattr(c.chunk_md, "first_free", 63),
    "inv_chunk_first_free": lambda c: setattr(c.chunk_md, "first_free", 63),
    "inv_alloc_map": lambda c: c.alloc_map.set_range(40, 1),
    "inv_bound_map": lambda c: c.bound_map.clear_range(0, c.bound_map.nbits),
    "inv_free_bytes": lambda c: setattr(c, "free_bytes", c.free_bytes - 4),
    "inv_nr_populated": lambda c: setattr(c, "nr_populated", c.nr_populated - 1),
    "inv_nr_empty_pop_pages": lambda c: setattr(c, "nr_empty_pop_pages", c.nr_empty_pop_pages + 1),
    "inv_percpu_stats_chunk": lambda c: setattr(c, "nr_alloc", c.nr_alloc + 1),
}


@pytest.mark.parametrize("prop", sorted(CORRUPTIONS))
def test_property_catches_corruption(prop: str) -> None:
    h = fresh()
    assert not [v for v in h.check(force=True) if v.prop == prop], "holds before the corruption"
    CORRUPTIONS[prop](first_chunk(h))
    found = {v.prop for v in h.check(force=True)}
    assert prop in found, f"{prop} missed the corruption; saw {sorted(found)}"


def test_slot_property_catches_a_chunk_on_the_wrong_list() -> None:
    h = fresh()
    c = first_chunk(h)
    h.pcpu._pcpu_chunk_move(c, h.pcpu.pcpu_chunk_slot(c) + 1, True)
    assert "inv_chunk_slot" in {v.prop for v in h.check(force=True)}


def test_global_empty_pages_property() -> None:
    h = fresh()
    h.pcpu.pcpu_nr_empty_pop_pages += 1
    assert "inv_global_empty_pop_pages" in {v.prop for v in h.check(force=True)}


def test_chunk_contig_in_block_property() -> None:
    from model.chunk import ModelChunk
    from properties.invariants import Window, inv_chunk_contig_hint_in_block

    m = ModelChunk(48, 16, 0, 48)
    m.alloc(0, 17)
    m.alloc(26, 22)  # the largest free run, [17, 26), lies inside block 1
    w = Window(m, 0, 48, 16)

    class Md:
        contig_hint, contig_hint_start = 9, 17

    assert inv_chunk_contig_hint_in_block(Md, m.chunk_truth(), w) is None
    Md.contig_hint = 8
    assert inv_chunk_contig_hint_in_block(Md, m.chunk_truth(), w) is not None


def test_every_registered_property_has_a_bite_test() -> None:
    from properties.registry import PROPERTIES

    covered = set(CORRUPTIONS) | {"inv_chunk_slot", "inv_global_empty_pop_pages", "inv_chunk_contig_hint_in_block"}
    assert set(PROPERTIES) <= covered, sorted(set(PROPERTIES) - covered)
