"""A bitmap held in one Z3 bit-vector, with exact quantifier-free definitions.

:class:`SymBitmap` implements impl.bitmap's BitmapLike seam, so the ported
hint code calls ``find_next_bit(map, size, off)`` on it unchanged.  Every
answer is a term, not a fresh variable:

- lowest set bit: a binary ladder over constant shifts (log2 n muxes);
- highest set bit: the same ladder (:func:`~properties.proofs.sym.fls_term`);
- "a free run of >= k bits starts at p", for symbolic k: the run vectors
  R_1 = free, R_2m = R_m & (R_m >> m) are built once by constant shifts, and k
  is decomposed into its binary digits (log2 n symbolic shifts);
- the largest free run L is a fresh variable pinned by the definition
  has_run(L) and not has_run(L + 1) (exact: run existence is monotone in k).

:class:`SymWindow` and :class:`SymTruth` have the attributes the registry's
property functions read from :class:`~properties.invariants.Window` and
:class:`~model.chunk.BlockTruth`, so those very functions judge symbolic
states.
"""

from __future__ import annotations

from typing import Any

import z3

from properties.proofs.sym import LowMask, SBool, SInt, W, fls_term, lift


def to_n(x: Any, n: int) -> z3.BitVecRef:
    """A W-bit position as an n-bit vector (positions are non-negative)."""
    e = lift(x)
    if n > W:
        return z3.ZeroExt(n - W, e)
    if n < W:
        return z3.Extract(n - 1, 0, e)
    return e


def from_n(e: z3.BitVecRef) -> SInt:
    n = e.size()
    if n < W:
        return SInt(z3.ZeroExt(W - n, e))
    if n > W:
        return SInt(z3.Extract(W - 1, 0, e))
    return SInt(e)


def ones_below(k: Any, n: int) -> z3.BitVecRef:
    """n-bit vector with bits [0, k) set, for 0 <= k <= n (k clamped)."""
    kk = lift(k)
    kk = z3.If(kk < 0, z3.BitVecVal(0, W), z3.If(kk > n, z3.BitVecVal(n, W), kk))
    ones = z3.BitVecVal((1 << n) - 1, n)
    return z3.If(kk == 0, z3.BitVecVal(0, n), z3.LShR(ones, to_n(n - SInt(kk), n)))


def ctz_term(x: z3.BitVecRef) -> z3.BitVecRef:
    """Index of the lowest set bit of a non-zero vector (binary ladder over constant shifts)."""
    n = x.size()
    c = z3.BitVecVal(0, n)
    cur = x
    s = 1
    while s < n:
        s <<= 1
    s >>= 1
    while s >= 1:
        if s < n:
            low_zero = z3.Extract(s - 1, 0, cur) == 0
            c = z3.If(low_zero, c + s, c)
            cur = z3.If(low_zero, z3.LShR(cur, s), cur)
        s >>= 1
    return c


class SBits:
    """A symbolic bit-vector as the ``.bits`` int that BitmapView.find_last_bit() reads."""

    __slots__ = ("e",)

    def __init__(self, e: z3.BitVecRef) -> None:
        self.e = e

    def __rshift__(self, o: Any) -> SBits:
        return SBits(z3.LShR(self.e, to_n(o, self.e.size())))

    def __and__(self, o: Any) -> SBits:
        n = self.e.size()
        if isinstance(o, LowMask):
            return SBits(self.e & ones_below(o.k, n))
        if isinstance(o, int):
            return SBits(self.e & z3.BitVecVal(o & ((1 << n) - 1), n))
        raise TypeError(type(o).__name__)

    def __bool__(self) -> bool:
        return bool(SBool(self.e != 0))

    def bit_length(self) -> SInt:
        return from_n(fls_term(self.e))


class SymBitmap:
    """An alloc_map of ``nbits`` bits: bit i of the vector set = unit i in use."""

    def __init__(self, nbits: int, e: z3.BitVecRef) -> None:
        self.nbits = nbits
        self.e = e

    @staticmethod
    def fresh(name: str, nbits: int) -> SymBitmap:
        return SymBitmap(nbits, z3.BitVec(name, nbits))

    @property
    def bits(self) -> SBits:
        return SBits(self.e)

    def _next(self, v: z3.BitVecRef, size: Any, offset: Any) -> SInt:
        n = self.nbits
        size_, off = lift(size), lift(offset)
        x = z3.LShR(v, to_n(offset, n)) & ones_below(size_ - off, n)
        found = off + from_n(ctz_term(x)).e
        return SInt(z3.If(off >= size_, size_, z3.If(x == 0, size_, found)))

    def find_next_bit(self, size: Any, offset: Any) -> SInt:
        return self._next(self.e, size, offset)

    def find_next_zero_bit(self, size: Any, offset: Any) -> SInt:
        return self._next(~self.e, size, offset)

    def find_last_bit(self, size: Any) -> SInt:
        x = self.e & ones_below(size, self.nbits)
        return SInt(z3.If(x == 0, lift(size), from_n(fls_term(x)).e - 1))

    def test_bit(self, nr: Any) -> SBool:
        return SBool(z3.Extract(0, 0, z3.LShR(self.e, to_n(nr, self.nbits))) == 1)

    def range_mask(self, start: Any, nr: Any) -> z3.BitVecRef:
        return ones_below(nr, self.nbits) << to_n(start, self.nbits)

    def set_range(self, start: Any, nr: Any) -> None:
        self.e = self.e | self.range_mask(start, nr)

    def clear_range(self, start: Any, nr: Any) -> None:
        self.e = self.e & ~self.range_mask(start, nr)

    def copy(self) -> SymBitmap:
        return SymBitmap(self.nbits, self.e)


# --------------------------------------------------------------- run lengths
class Runs:
    """Free-run facts of the window [lo, hi) of a symbolic bitmap, as terms."""

    def __init__(self, bm: SymBitmap, lo: int, hi: int) -> None:
        self.n = n = hi - lo
        self.used = z3.Extract(hi - 1, lo, bm.e)
        self.free = ~self.used
        self.pow: list[z3.BitVecRef] = [self.free]  # pow[i]: a run of >= 2**i starts here
        m = 1
        while 2 * m <= n:
            r = self.pow[-1]
            self.pow.append(r & z3.LShR(r, m))
            m *= 2

    def starts_of(self, k: Any) -> z3.BitVecRef:
        """Bit p set iff a free run of at least k bits (1 <= k <= n) starts at p in the window.

        Two overlapping power-of-two windows cover [p, p + k): with 2**j <= k < 2**(j+1),
        a run of >= k starts at p iff runs of >= 2**j start at p and at p + k - 2**j.  So one
        multiplexer over the run vectors and one symbolic shift: O(n log n) gates.
        """
        kk = lift(k)
        sel = self.pow[0]
        top = z3.BitVecVal(1, W)
        for i in range(1, len(self.pow)):
            ge = kk >= (1 << i)
            sel = z3.If(ge, self.pow[i], sel)
            top = z3.If(ge, z3.BitVecVal(1 << i, W), top)
        g = sel & z3.LShR(sel, to_n(SInt(kk - top), self.n))
        return z3.If(z3.And(kk >= 1, kk <= self.n), g, z3.BitVecVal(0, self.n))

    def has_run(self, k: Any) -> z3.BoolRef:
        """Some free run of at least k bits lies in the window (true for k <= 0)."""
        kk = lift(k)
        return z3.Or(kk <= 0, self.starts_of(k) != 0)

    def fit(self, k: Any, align: Any, lo: Any, hi: Any) -> z3.BoolRef:
        """Some p with p % align == 0 (window-relative) and lo <= p, p + k <= hi starts a free run of >= k."""
        a = lift(align)
        aligned = z3.BitVecVal(0, self.n)
        j = 0
        while (1 << j) <= self.n:
            m = sum(1 << p for p in range(0, self.n, 1 << j))
            aligned = z3.If(a == (1 << j), z3.BitVecVal(m, self.n), aligned)
            j += 1
        rng = ones_below(SInt(lift(hi) - lift(k) + 1), self.n) & ~ones_below(lo, self.n)
        return (self.starts_of(k) & aligned & rng) != 0

    def run_at(self, start: Any, length: Any) -> z3.BoolRef:
        """[start, start + length) lies in the window and is free (the Window.free() predicate)."""
        s, ln = lift(start), lift(length)
        inside = z3.And(s >= 0, ln >= 0, s + ln <= self.n)
        mask = ones_below(ln, self.n) << to_n(SInt(s), self.n)
        return z3.And(inside, (self.used & mask) == 0)

    def bit_used(self, p: Any) -> z3.BoolRef:
        return z3.Extract(0, 0, z3.LShR(self.used, to_n(p, self.n))) == 1


class SymTruth:
    """The BlockTruth of one window, symbolic; ``defs`` pins its fresh variables."""

    def __init__(self, runs: Runs, name: str) -> None:
        n = runs.n
        self.largest = SInt(z3.BitVec(f"{name}.largest", W))
        L = self.largest.e
        s = z3.BitVec(f"{name}.largest_start", W)
        used, free = runs.used, runs.free
        self.first_free = SInt(z3.If(free == 0, n, from_n(ctz_term(free)).e))
        self.left_free = SInt(z3.If(used == 0, n, from_n(ctz_term(used)).e))
        self.right_free = SInt(z3.If(used == 0, n, n - from_n(fls_term(used)).e))
        self.largest_starts = (SInt(s),)
        self.free_units = None
        self.defs = z3.And(
            # a run of L exists (the witness start s), none of L + 1: L is the largest
            L >= 0, L <= n, z3.Not(runs.has_run(L + 1)),
            z3.Implies(L > 0, z3.And(runs.run_at(s, L), SymWindow(runs, 0, n, n).maximal(SInt(s), L).e)),
        )


class SymWindow:
    """The Window the property functions ask: ``free()`` and ``maximal()`` as symbolic answers."""

    def __init__(self, runs: Runs, lo: int, hi: int, block_bits: int) -> None:
        self.runs = runs
        self.lo = lo
        self.hi = hi
        self.block_bits = block_bits

    def free(self, start: Any, length: Any) -> SBool:
        return SBool(self.runs.run_at(start, length))

    def maximal(self, start: Any, length: Any) -> SBool:
        s, ln = lift(start), lift(length)
        left_ok = z3.Or(s == 0, self.runs.bit_used(SInt(s - 1)))
        right_ok = z3.Or(s + ln == self.hi - self.lo, self.runs.bit_used(SInt(s + ln)))
        return SBool(z3.And(self.runs.run_at(start, length), left_ok, right_ok))
