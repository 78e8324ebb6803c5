"""A bitmap of symbolic size n, known only through three functions (for parametric.py).

Its terms are integers: build it inside sym.integer_terms().

- ``nu(p)``: the first used bit at or after p (n if none);
- ``nf(p)``: the first free bit at or after p (n if none);
- ``pu(p)``: the last used bit before p (-1 if none).

Everything the ported code asks of a bitmap, and everything the registry's
block properties ask, is a term over them: ``find_next_bit(map, size, off)``
is min(nu(off), size); ``find_last_bit(view, size)`` is pu(size) (size when
pu(size) is -1); a range [p, p+k) is free iff nu(p) >= p+k; bit i is used iff
nu(i) == i.  A bitmap derived by freeing [s, e) is defined exactly from the
one before (:class:`AbsBitmap` with ``base``), so it needs no functions of
its own.

:func:`axioms` instantiates, over the terms a query applies the functions
to, facts every bitmap of every size satisfies (bounds, monotonicity,
constancy on a free or used stretch, each bit used or free, what pu points
at).  The instantiated facts are implied by the real ones, so a query that
is unsatisfiable with them has no real counterexample of any size.
"""

from __future__ import annotations

import itertools
from typing import Any

import z3

from properties.proofs.sym import LowMask, SBool, SInt, lift, sort, var


class Terms:
    """The arguments the query applies the functions to: the instantiation set of the axioms."""

    def __init__(self) -> None:
        self.args: dict[str, z3.ArithRef] = {}

    def add(self, p: z3.ArithRef) -> z3.ArithRef:
        p = z3.simplify(p)
        self.args.setdefault(p.sexpr(), p)
        return p


class AbsBits:
    """``(map.bits >> shift) & ((1 << below) - 1)``, as BitmapView.find_last_bit() computes it."""

    def __init__(self, bm: AbsBitmap, shift: Any = 0, below: Any = None) -> None:
        self.bm, self.shift, self.below = bm, shift, below

    def __rshift__(self, o: Any) -> AbsBits:
        return AbsBits(self.bm, SInt(lift(self.shift) + lift(o)), self.below)

    def __and__(self, o: Any) -> AbsBits:
        if isinstance(o, LowMask):
            return AbsBits(self.bm, self.shift, o.k)
        if isinstance(o, int) and o & (o + 1) == 0:
            return AbsBits(self.bm, self.shift, o.bit_length())
        raise TypeError("only a low mask applies to the abstract bitmap")

    def _end(self) -> z3.ArithRef:
        return lift(self.shift) + lift(self.below)

    def __bool__(self) -> bool:
        """Some used bit in [shift, shift + below)."""
        return bool(SBool(self.bm.nu(self.shift) < self._end()))

    def bit_length(self) -> SInt:
        return SInt(self.bm.pu(self._end()) - lift(self.shift) + 1)


class AbsBitmap:
    """A bitmap of size n; ``base`` is None for a free-standing one, else it is ``base`` with [s, e) freed."""

    def __init__(self, name: str, n: z3.ArithRef, terms: Terms,
                 base: AbsBitmap | None = None, freed: tuple[z3.ArithRef, z3.ArithRef] | None = None) -> None:
        self.name, self.n, self.terms, self.base, self.freed = name, n, terms, base, freed
        self.pu_args: dict[str, z3.ArithRef] = {}  # where pu was applied: its facts are instantiated there
        if base is None:
            self.fnu = z3.Function(f"{name}.nu", sort(), sort())
            self.fnf = z3.Function(f"{name}.nf", sort(), sort())
            self.fpu = z3.Function(f"{name}.pu", sort(), sort())

    def nu(self, p: Any) -> z3.ArithRef:
        q = self.terms.add(lift(p))
        if self.base is None:
            return self.fnu(q)
        s, e = self.freed  # type: ignore[misc]
        before, after_run = self.base.nu(q), self.base.nu(e)
        return z3.If(q < s, z3.If(before < s, before, after_run), z3.If(q < e, after_run, before))

    def nf(self, p: Any) -> z3.ArithRef:
        q = self.terms.add(lift(p))
        if self.base is None:
            return self.fnf(q)
        s, e = self.freed  # type: ignore[misc]
        before = self.base.nf(q)
        return z3.If(q < s, z3.If(before < s, before, s), z3.If(q < e, q, before))

    def pu(self, p: Any) -> z3.ArithRef:
        q = self.terms.add(lift(p))
        self.pu_args.setdefault(q.sexpr(), q)
        if self.base is None:
            return self.fpu(q)
        s, e = self.freed  # type: ignore[misc]
        before, below_run = self.base.pu(q), self.base.pu(s)
        return z3.If(q <= s, before, z3.If(before >= e, before, below_run))

    def used(self, i: Any) -> z3.BoolRef:
        i = lift(i)
        return z3.And(i >= 0, i < self.n, self.nu(i) == i)

    def free(self, p: Any, k: Any) -> z3.BoolRef:
        p, k = lift(p), lift(k)
        return z3.And(p >= 0, k >= 0, p + k <= self.n, self.nu(p) >= p + k)

    def all_used(self, p: Any, k: Any) -> z3.BoolRef:
        p, k = lift(p), lift(k)
        return z3.And(p >= 0, k >= 0, p + k <= self.n, self.nf(p) >= p + k)

    # the BitmapLike seam of impl.bitmap, as BitmapView and find_* call it
    @property
    def bits(self) -> AbsBits:
        return AbsBits(self)

    def find_next_bit(self, size: Any, offset: Any) -> SInt:
        sz, off = lift(size), lift(offset)
        nxt = self.nu(off)
        return SInt(z3.If(off >= sz, sz, z3.If(nxt < sz, nxt, sz)))

    def find_next_zero_bit(self, size: Any, offset: Any) -> SInt:
        sz, off = lift(size), lift(offset)
        nxt = self.nf(off)
        return SInt(z3.If(off >= sz, sz, z3.If(nxt < sz, nxt, sz)))

    def find_last_bit(self, size: Any) -> SInt:
        last = self.pu(size)
        return SInt(z3.If(last < 0, lift(size), last))


class AbsWindow:
    """The Window the property functions ask (free, maximal), on an AbsBitmap."""

    def __init__(self, bm: AbsBitmap) -> None:
        self.bm = bm
        self.lo, self.block_bits = 0, None

    def free(self, start: Any, length: Any) -> SBool:
        return SBool(self.bm.free(start, length))

    def maximal(self, start: Any, length: Any) -> SBool:
        s, k = lift(start), lift(length)
        left_ok = z3.Or(s == 0, self.bm.used(s - 1))
        right_ok = z3.Or(s + k == self.bm.n, self.bm.used(s + k))
        return SBool(z3.And(self.bm.free(s, k), left_ok, right_ok))


class AbsTruth:
    """The BlockTruth of an AbsBitmap: fresh largest / right_free pinned by ``defs``; the rest are terms."""

    def __init__(self, bm: AbsBitmap, name: str) -> None:
        n = bm.n
        self.bm = bm
        self.largest = SInt(var(f"{name}.largest"))
        self.largest_start = var(f"{name}.largest_start")
        self.right = var(f"{name}.right_free")
        L, sL, R = self.largest.e, self.largest_start, self.right
        self.largest_starts = (SInt(sL),)
        self.left_free = SInt(bm.nu(0))
        self.first_free = SInt(bm.nf(0))
        self.right_free = SInt(R)
        self.free_units = None
        self.defs = z3.And(
            L >= 0, L <= n, sL >= 0, sL <= n, bm.nu(sL) - sL == L,
            R >= 0, R <= n, bm.nu(n - R) == n, z3.Or(R == n, bm.used(n - R - 1)),
        )

    def stretch_bounded(self, p: z3.ArithRef) -> z3.BoolRef:
        """Instance of: the free stretch from any p is at most the largest run."""
        return z3.Implies(z3.And(p >= 0, p <= self.bm.n), self.bm.nu(p) - p <= self.largest.e)


def close_under_pu(bm: AbsBitmap) -> None:
    """Adds pu(p) and pu(p) + 1 for every p pu was applied to (the points its facts talk about) to the terms."""
    for p in list(bm.pu_args.values()):
        last = bm.pu(p)
        bm.terms.add(last)
        bm.terms.add(last + 1)


def axioms(bm: AbsBitmap, args: list[z3.ArithRef]) -> list[z3.BoolRef]:
    """Instances, over ``args``, of facts every bitmap of size n satisfies (a freed bitmap is one too)."""
    n = bm.n
    args = [z3.simplify(a) for a in args]
    nu_t = {a.sexpr(): bm.nu(a) for a in args}
    nf_t = {a.sexpr(): bm.nf(a) for a in args}

    def nu(a: z3.ArithRef) -> z3.ArithRef:
        return nu_t[a.sexpr()]

    def nf(a: z3.ArithRef) -> z3.ArithRef:
        return nf_t[a.sexpr()]

    out: list[z3.BoolRef] = []
    for p in args:
        inside = z3.And(p >= 0, p <= n)
        out.append(z3.Implies(inside, z3.And(p <= nu(p), nu(p) <= n, p <= nf(p), nf(p) <= n)))
        # bit p is used or free, never both; at n both searches stop
        out.append(z3.Implies(z3.And(p >= 0, p < n), z3.Xor(nu(p) == p, nf(p) == p)))
        out.append(z3.Implies(p == n, z3.And(nu(p) == n, nf(p) == n)))
    for p in list(bm.pu_args.values()):
        # pu(p): -1, or a used bit below p with nothing used between it and p
        last = bm.pu(p)
        out.append(z3.Implies(z3.And(p >= 0, p <= n), z3.And(
            last >= -1, last < p, bm.nu(last + 1) >= p, z3.Or(last == -1, bm.nu(last) == last))))
    for p, q in itertools.permutations(args, 2):
        le = z3.And(p >= 0, p <= q, q <= n)
        out.append(z3.Implies(le, z3.And(nu(p) <= nu(q), nf(p) <= nf(q))))  # monotone
        out.append(z3.Implies(z3.And(le, q <= nu(p)), nu(q) == nu(p)))  # constant on a free stretch
        out.append(z3.Implies(z3.And(le, q <= nf(p)), nf(q) == nf(p)))  # constant on a used stretch
    return out
