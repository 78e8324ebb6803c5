"""Unit: the reference model's answers on hand-made chunks."""

import pytest

from model.chunk import ModelChunk
from model.system import first_chunk_layout

pytestmark = pytest.mark.unit


def test_truth_of_a_block_with_holes() -> None:
    m = ModelChunk(32, 16, 0, 32)
    m.alloc(2, 3)   # units 2..4
    m.alloc(10, 6)  # units 10..15, up to the block edge
    t = m.block_truth(0)
    assert t.largest == 5 and t.largest_starts == (5,)
    assert t.left_free == 2 and t.right_free == 0 and t.first_free == 0
    assert m.chunk_truth().largest == 16


def test_area_allowed_reasons() -> None:
    m = ModelChunk(32, 16, 4, 28)
    assert m.area_allowed(4, 4, 4) is None
    assert "aligned" in (m.area_allowed(5, 1, 2) or "")
    assert "outside" in (m.area_allowed(0, 4, 4) or "")
    m.alloc(8, 2)
    assert "overlaps" in (m.area_allowed(8, 1, 1) or "")
    assert m.fits(4, 4) == [4, 12, 16, 20, 24]


def test_first_chunk_layout_of_the_debian_machine() -> None:
    # s233472 r8192 d28672: the reserved chunk and the dynamic chunk start on page edges
    assert first_chunk_layout(4096, 233472, 8192, 0) == (2048, 0, 2048)
    assert first_chunk_layout(4096, 233472, 28672, 8192) == (7168, 0, 7168)
