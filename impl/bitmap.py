"""Bitmap primitives the allocator uses, kernel names and argument order kept.

The kernel passes ``unsigned long *`` bitmaps; here a bitmap is an object with
the small method set of :class:`Bitmap` (``find_next_bit`` and friends).  The
module-level functions keep the kernel's call shape (``find_next_bit(map,
size, offset)``) and only dispatch to the object, so a different bitmap
representation, such as the symbolic one the Z3 layer uses, can run the very
same ported code.

Concrete bitmaps store their bits in one Python int: bit ``i`` of the int is
bit ``i`` of the map.  A :class:`BitmapView` is what ``pcpu_index_alloc_map()``
returns: the same storage seen from a bit offset (the kernel's pointer
arithmetic), read-only.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol


class BitmapLike(Protocol):
    """The operations ported code may perform on a bitmap."""

    def find_next_bit(self, size: int, offset: int) -> int: ...
    def find_next_zero_bit(self, size: int, offset: int) -> int: ...
    def find_last_bit(self, size: int) -> int: ...
    def test_bit(self, nr: int) -> bool: ...
    def set_range(self, start: int, nr: int) -> None: ...
    def clear_range(self, start: int, nr: int) -> None: ...


class Bitmap:
    """A bitmap of ``nbits`` bits held in a Python int."""

    __slots__ = ("bits", "nbits")

    def __init__(self, nbits: int, bits: int = 0) -> None:
        self.nbits = nbits
        self.bits = bits

    def find_next_bit(self, size: int, offset: int) -> int:
        if offset >= size:
            return size
        x = (self.bits >> offset) & ((1 << (size - offset)) - 1)
        if not x:
            return size
        return offset + (x & -x).bit_length() - 1

    def find_next_zero_bit(self, size: int, offset: int) -> int:
        if offset >= size:
            return size
        x = (~self.bits >> offset) & ((1 << (size - offset)) - 1)
        if not x:
            return size
        return offset + (x & -x).bit_length() - 1

    def find_last_bit(self, size: int) -> int:
        x = self.bits & ((1 << size) - 1)
        if not x:
            return size
        return x.bit_length() - 1

    def test_bit(self, nr: int) -> bool:
        return bool((self.bits >> nr) & 1)

    def set_range(self, start: int, nr: int) -> None:
        if nr > 0:
            self.bits |= ((1 << nr) - 1) << start

    def clear_range(self, start: int, nr: int) -> None:
        if nr > 0:
            self.bits &= ~(((1 << nr) - 1) << start)

    def copy(self) -> Bitmap:
        return Bitmap(self.nbits, self.bits)

    def __repr__(self) -> str:
        return f"Bitmap({self.nbits}, {self.bits:#x})"


class BitmapView:
    """Read-only window onto a :class:`Bitmap` starting at bit ``base``."""

    __slots__ = ("map", "base")

    def __init__(self, map: Bitmap, base: int) -> None:
        self.map = map
        self.base = base

    @property
    def bits(self) -> int:
        return self.map.bits >> self.base

    def find_next_bit(self, size: int, offset: int) -> int:
        b = self.base
        return self.map.find_next_bit(size + b, offset + b) - b

    def find_next_zero_bit(self, size: int, offset: int) -> int:
        b = self.base
        return self.map.find_next_zero_bit(size + b, offset + b) - b

    def find_last_bit(self, size: int) -> int:
        x = (self.map.bits >> self.base) & ((1 << size) - 1)
        if not x:
            return size
        return x.bit_length() - 1

    def test_bit(self, nr: int) -> bool:
        return self.map.test_bit(nr + self.base)

    def set_range(self, start: int, nr: int) -> None:
        raise TypeError("BitmapView is read-only")

    def clear_range(self, start: int, nr: int) -> None:
        raise TypeError("BitmapView is read-only")


def find_next_bit(addr: BitmapLike, size: int, offset: int) -> int:
    """Port of include/linux/find.h: find_next_bit(); ``size`` if none is set."""
    return addr.find_next_bit(size, offset)


def find_next_zero_bit(addr: BitmapLike, size: int, offset: int) -> int:
    """Port of include/linux/find.h: find_next_zero_bit(); ``size`` if all set."""
    return addr.find_next_zero_bit(size, offset)


def find_last_bit(addr: BitmapLike, size: int) -> int:
    """Port of include/linux/find.h: find_last_bit(); ``size`` if none below it."""
    return addr.find_last_bit(size)


def test_bit(nr: int, addr: BitmapLike) -> bool:
    """Port of include/linux/bitops.h: test_bit()."""
    return addr.test_bit(nr)


def set_bit(nr: int, addr: BitmapLike) -> None:
    """Port of include/linux/bitops.h: set_bit()."""
    addr.set_range(nr, 1)


def clear_bit(nr: int, addr: BitmapLike) -> None:
    """Port of include/linux/bitops.h: clear_bit()."""
    addr.clear_range(nr, 1)


def bitmap_set(map: BitmapLike, start: int, nbits: int) -> None:
    """Port of lib/bitmap.c: __bitmap_set(); sets ``nbits`` bits from ``start``."""
    map.set_range(start, nbits)


def bitmap_clear(map: BitmapLike, start: int, nbits: int) -> None:
    """Port of lib/bitmap.c: __bitmap_clear(); clears ``nbits`` bits from ``start``."""
    map.clear_range(start, nbits)


def bitmap_fill(dst: BitmapLike, nbits: int) -> None:
    """Port of include/linux/bitmap.h: bitmap_fill(); sets bits [0, nbits)."""
    dst.set_range(0, nbits)


def for_each_clear_bitrange_from(start: int, addr: BitmapLike, size: int) -> Iterator[tuple[int, int]]:
    """Port of include/linux/find.h: for_each_clear_bitrange_from().

    Yields each maximal run ``[b, e)`` of clear bits in ``[start, size)``.
    """
    b = find_next_zero_bit(addr, size, start)
    while b < size:
        e = find_next_bit(addr, size, b + 1)
        yield b, e
        b = find_next_zero_bit(addr, size, e + 1)


def for_each_clear_bitrange(addr: BitmapLike, size: int) -> Iterator[tuple[int, int]]:
    """Port of include/linux/find.h: for_each_clear_bitrange()."""
    return for_each_clear_bitrange_from(0, addr, size)


def for_each_set_bitrange(addr: BitmapLike, size: int) -> Iterator[tuple[int, int]]:
    """Port of include/linux/find.h: for_each_set_bitrange()."""
    b = find_next_bit(addr, size, 0)
    while b < size:
        e = find_next_zero_bit(addr, size, b + 1)
        yield b, e
        b = find_next_bit(addr, size, e + 1)


def _ffs(word: int) -> int:
    """Port of include/asm-generic/bitops/_ffs.h: index of the lowest set bit.

    The kernel leaves ``_ffs(0)`` undefined; x86-64 ``tzcnt`` gives 64 for it.
    """
    if word == 0:
        return 64
    return (word & -word).bit_length() - 1


def fls(x: int) -> int:
    """Port of include/asm-generic/bitops/fls.h: 1-based index of the top bit, 0 for 0."""
    return x.bit_length()
