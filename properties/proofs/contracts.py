"""CrossHair contracts (PEP 316 docstrings) on the port's pure helpers.

Each function here calls the impl helper unchanged and states what the
kernel expects of it; ``make crosshair`` runs ``crosshair check`` with a
bounded per-condition timeout, and ``crosshair diffbehavior`` on the model's
and the port's block-level answers (:func:`model_largest_run` vs
:func:`port_largest_run`).  CrossHair is a bug finder: "no counterexample
within the timeout" is not a proof.
"""

from __future__ import annotations

from impl.bitmap import Bitmap, for_each_clear_bitrange
from impl.hints import ALIGN, HintsMixin, pcpu_region_overlap
from model.chunk import ModelChunk

WIDTH = 16  # bitmap width the contracts quantify over


class _Geo:
    """The one attribute the offset conversions read."""

    PCPU_BITMAP_BLOCK_BITS = 64


def align_up(x: int, shift: int) -> int:
    """ALIGN() rounds up to the next multiple of a power of two.

    pre: 0 <= x < 2**20
    pre: 0 <= shift <= 12
    post: __return__ % (1 << shift) == 0
    post: x <= __return__ < x + (1 << shift)
    """
    return ALIGN(x, 1 << shift)  # type: ignore[no-any-return]


def region_overlap(a: int, b: int, x: int, y: int) -> bool:
    """pcpu_region_overlap() on half-open, non-empty regions: some bit lies in both.

    pre: 0 <= a < b <= 4096
    pre: 0 <= x < y <= 4096
    post: __return__ == (max(a, x) < min(b, y))
    """
    return pcpu_region_overlap(a, b, x, y)  # type: ignore[no-any-return]


def block_offsets_round_trip(off: int) -> int:
    """pcpu_off_to_block_index/_off and pcpu_block_off_to_off() are inverse.

    pre: 0 <= off < 2**20
    post: __return__ == off
    post: 0 <= HintsMixin.pcpu_off_to_block_off(_Geo(), off) < _Geo.PCPU_BITMAP_BLOCK_BITS
    """
    g = _Geo()
    i = HintsMixin.pcpu_off_to_block_index(g, off)  # type: ignore[arg-type]
    o = HintsMixin.pcpu_off_to_block_off(g, off)  # type: ignore[arg-type]
    return HintsMixin.pcpu_block_off_to_off(g, i, o)  # type: ignore[arg-type,no-any-return]


def next_bit(bits: int, size: int, offset: int) -> int:
    """find_next_bit(): the first set bit in [offset, size), else size.

    pre: 0 <= bits < 2**16
    pre: 0 <= offset <= 16 and 0 <= size <= 16
    post: __return__ == size or (offset <= __return__ < size and (bits >> __return__) & 1 == 1)
    post: all((bits >> i) & 1 == 0 for i in range(offset, min(__return__, size)))
    """
    return Bitmap(WIDTH, bits).find_next_bit(size, offset)


def next_zero_bit(bits: int, size: int, offset: int) -> int:
    """find_next_zero_bit(): the first clear bit in [offset, size), else size.

    pre: 0 <= bits < 2**16
    pre: 0 <= offset <= 16 and 0 <= size <= 16
    post: __return__ == size or (offset <= __return__ < size and (bits >> __return__) & 1 == 0)
    post: all((bits >> i) & 1 == 1 for i in range(offset, min(__return__, size)))
    """
    return Bitmap(WIDTH, bits).find_next_zero_bit(size, offset)


def last_bit(bits: int, size: int) -> int:
    """find_last_bit(): the last set bit below size, else size.

    pre: 0 <= bits < 2**16
    pre: 1 <= size <= 16
    post: __return__ == size or (0 <= __return__ < size and (bits >> __return__) & 1 == 1)
    post: all((bits >> i) & 1 == 0 for i in range(__return__ + 1 if __return__ < size else 0, size))
    """
    return Bitmap(WIDTH, bits).find_last_bit(size)


def model_largest_run(bits: int) -> int:
    """The model's largest free run of a 16-bit block (bit set = in use).

    pre: 0 <= bits < 2**16
    """
    mc = ModelChunk(WIDTH, WIDTH, 0, WIDTH, bytearray((bits >> i) & 1 for i in range(WIDTH)))
    return mc.truth(0, WIDTH).largest


def port_largest_run(bits: int) -> int:
    """The port's answer to the same question: the longest run for_each_clear_bitrange() yields.

    pre: 0 <= bits < 2**16
    """
    return max((e - b for b, e in for_each_clear_bitrange(Bitmap(WIDTH, bits), WIDTH)), default=0)
