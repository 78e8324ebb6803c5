"""Unit: the bitmap primitives against bit-by-bit definitions."""

import random

import pytest

from impl.bitmap import (
    Bitmap,
    BitmapView,
    find_last_bit,
    find_next_bit,
    find_next_zero_bit,
    for_each_clear_bitrange_from,
    for_each_set_bitrange,
)

pytestmark = pytest.mark.unit


def naive_next(bits: int, size: int, off: int, want: int) -> int:
    for i in range(off, size):
        if (bits >> i) & 1 == want:
            return i
    return size


@pytest.mark.parametrize("seed", range(20))
def test_find_functions_match_bit_by_bit(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.choice([16, 64, 100, 1024])
    bits = rng.getrandbits(n) & rng.getrandbits(n)
    m = Bitmap(n, bits)
    for off in range(0, n + 2, 3):
        assert find_next_bit(m, n, off) == naive_next(bits, n, off, 1)
        assert find_next_zero_bit(m, n, off) == naive_next(bits, n, off, 0)
    for size in range(0, n + 1, 7):
        want = max((i for i in range(size) if (bits >> i) & 1), default=size)
        assert find_last_bit(m, size) == want


def test_view_is_offset_and_read_only() -> None:
    m = Bitmap(64, 0b1011 << 16)
    v = BitmapView(m, 16)
    assert find_next_bit(v, 16, 0) == 0
    assert find_next_zero_bit(v, 16, 0) == 2
    assert find_last_bit(v, 16) == 3
    with pytest.raises(TypeError):
        v.set_range(0, 1)


def test_bitranges() -> None:
    m = Bitmap(16, 0b0110_0001_1100_0011)
    assert list(for_each_set_bitrange(m, 16)) == [(0, 2), (6, 9), (13, 15)]
    assert list(for_each_clear_bitrange_from(3, m, 16)) == [(3, 6), (9, 13), (15, 16)]
