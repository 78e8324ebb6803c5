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

from properties.proofs.sym import LowMask, SBool, SInt, define, lift, sort, var


class Terms:
    """The arguments the query applies the functions to: the instantiation set of the axioms."""

    def __init__(self) -> None:
        self.args: dict[int, z3.ArithRef] = {}  # by AST id (Z3 shares equal terms; the dict keeps them alive)

    def add(self, p: z3.ArithRef) -> z3.ArithRef:
        p = z3.simplify(p)
        self.args.setdefault(p.get_id(), p)
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
        return SInt(define(self.bm.pu(self._end()) - lift(self.shift) + 1, f"{self.bm.name}.last_bit"))


class AbsBitmap:
    """A bitmap of size n; ``base`` is None for a free-standing one, else it is ``base`` with
    [s, e) = ``changed`` cleared (``op`` "free") or set (``op`` "alloc")."""

    def __init__(self, name: str, n: z3.ArithRef, terms: Terms, base: AbsBitmap | None = None,
                 changed: tuple[z3.ArithRef, z3.ArithRef] | None = None, op: str = "free") -> None:
        self.name, self.n, self.terms, self.base, self.changed, self.op = name, n, terms, base, changed, op
        self.pu_args: dict[int, z3.ArithRef] = {}  # where pu was applied: its facts are instantiated there
        self.facts: dict[tuple[int, ...], list[z3.BoolRef]] = {}  # axioms' instances, by the terms' AST ids
        # nu and nf by their argument's AST id (with the argument, which keeps the id alive): the
        # axioms' pair instances ask for the same ones over and over (block_hint_alloc: 1892 pairs)
        self.memo: dict[tuple[str, int], tuple[z3.ArithRef, z3.ArithRef]] = {}
        # off for the chunk lemmas: with it, chunk_find_fit's fit_found on four blocks needed more
        # than 585M units, against 392.6M (the kept terms change which AST ids Z3 hands out
        # later, and its search follows them)
        self.memoize = True
        if base is None:
            self.fnu = z3.Function(f"{name}.nu", sort(), sort())
            self.fnf = z3.Function(f"{name}.nf", sort(), sort())
            self.fpu = z3.Function(f"{name}.pu", sort(), sort())

    def nu(self, p: Any) -> z3.ArithRef:
        return self._next("nu", p)

    def nf(self, p: Any) -> z3.ArithRef:
        return self._next("nf", p)

    def _next(self, what: str, p: Any) -> z3.ArithRef:
        x = lift(p)
        key = (what, x.get_id())
        if key in self.memo:
            return self.memo[key][1]
        q = self.terms.add(x)
        if self.base is None:
            v = (self.fnu if what == "nu" else self.fnf)(q)
        else:
            before = self.base.nu if what == "nu" else self.base.nf
            v = self._near(q, before, self.op == ("free" if what == "nu" else "alloc"))
        if self.memoize:
            self.memo[key] = (x, v)
        return v

    def _near(self, q: z3.ArithRef, before: Any, cleared: bool) -> z3.ArithRef:
        """The next bit of one kind at or after q; ``cleared``: [s, e) holds none of that kind now, else all."""
        s, e = self.changed  # type: ignore[misc]
        b = before(q)
        if cleared:
            after = before(e)
            return z3.If(q < s, z3.If(b < s, b, after), z3.If(q < e, after, b))
        return z3.If(q < s, z3.If(b < s, b, s), z3.If(q < e, q, b))

    def pu(self, p: Any) -> z3.ArithRef:
        q = self.terms.add(lift(p))
        self.pu_args.setdefault(q.get_id(), q)
        if self.base is None:
            return self.fpu(q)
        s, e = self.changed  # type: ignore[misc]
        b = self.base.pu(q)
        if self.op == "free":
            return z3.If(q <= s, b, z3.If(b >= e, b, self.base.pu(s)))
        return z3.If(q <= s, b, z3.If(q <= e, q - 1, z3.If(b >= e, b, e - 1)))

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

    # search results are defined variables (sym.define): a loop feeds them into the next search
    def _find_next(self, nxt_at: Any, size: Any, offset: Any, what: str) -> SInt:
        sz, off = lift(size), lift(offset)
        nxt = nxt_at(off)
        return SInt(define(z3.If(off >= sz, sz, z3.If(nxt < sz, nxt, sz)), f"{self.name}.{what}"))

    def find_next_bit(self, size: Any, offset: Any) -> SInt:
        return self._find_next(self.nu, size, offset, "next_bit")

    def find_next_zero_bit(self, size: Any, offset: Any) -> SInt:
        return self._find_next(self.nf, size, offset, "next_zero")

    def find_last_bit(self, size: Any) -> SInt:
        last = self.pu(size)
        return SInt(define(z3.If(last < 0, lift(size), last), f"{self.name}.last_bit"))


class AbsView(AbsBitmap):
    """Block i of a chunk's bitmap, for its block truth: positions relative to ``lo``, size n."""

    def __init__(self, bm: AbsBitmap, lo: z3.ArithRef, n: z3.ArithRef) -> None:
        self.bm, self.lo, self.n, self.terms, self.name = bm, lo, n, bm.terms, f"{bm.name}.view"
        self.facts: dict[tuple[int, ...], list[z3.BoolRef]] = {}

    def _clip(self, r: z3.ArithRef) -> z3.ArithRef:
        hi = self.lo + self.n
        return z3.If(r < hi, r, hi) - self.lo

    def nu(self, p: Any) -> z3.ArithRef:
        return self._clip(self.bm.nu(self.lo + lift(p)))

    def nf(self, p: Any) -> z3.ArithRef:
        return self._clip(self.bm.nf(self.lo + lift(p)))

    def pu(self, p: Any) -> z3.ArithRef:
        r = self.bm.pu(self.lo + lift(p))
        return z3.If(r >= self.lo, r - self.lo, -1)


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


def runs_at_most(bm: AbsBitmap, runs: int) -> z3.BoolRef:
    """The bitmap has at most ``runs`` maximal free runs: the (runs + 1)-th run would start at n."""
    start = bm.nf(0)
    for _ in range(runs):
        start = bm.nf(bm.nu(start))
    return start == bm.n


def close_under_pu(bm: AbsBitmap) -> None:
    """Adds pu(p) and pu(p) + 1 for every p pu was applied to (the points its facts talk about) to the terms."""
    for p in list(bm.pu_args.values()):
        last = bm.pu(p)
        bm.terms.add(last)
        bm.terms.add(last + 1)


def axioms(bm: AbsBitmap, args: list[z3.ArithRef], known: list[z3.ArithRef] | None = None,
           with_pu: bool = True) -> list[z3.BoolRef]:
    """Instances of facts every bitmap of size n satisfies (a derived bitmap is one too).

    Over ``args``, and over the pairs of ``args + known`` with at least one side in ``args``
    (``known``: terms whose own instances were given before, for incremental instantiation).
    The instances are remembered per bitmap (``bm.facts``): a path exploration asks for the
    same ones again after every pop, and building them took most of its Python time.
    """
    args = [z3.simplify(a) for a in args]
    old = [z3.simplify(a) for a in known or []]
    cache = bm.facts
    out: list[z3.BoolRef] = []
    for p in args:
        one: tuple[int, ...] = (p.get_id(),)
        if one not in cache:
            cache[one] = _point_facts(bm, p)
        out += cache[one]
    for p in list(bm.pu_args.values()) if with_pu else []:
        # pu(p): -1, or a used bit below p with nothing used between it and p
        last = bm.pu(p)
        out.append(z3.Implies(z3.And(p >= 0, p <= bm.n), z3.And(
            last >= -1, last < p, bm.nu(last + 1) >= p, z3.Or(last == -1, bm.nu(last) == last))))
    pairs = itertools.chain(itertools.permutations(args, 2), itertools.product(args, old), itertools.product(old, args))
    for p, q in pairs:
        key = (p.get_id(), q.get_id())
        if key not in cache:
            cache[key] = _pair_facts(bm, p, q)
        out += cache[key]
    return out


def _point_facts(bm: AbsBitmap, p: z3.ArithRef) -> list[z3.BoolRef]:
    n, nu, nf = bm.n, bm.nu(p), bm.nf(p)
    return [
        z3.Implies(z3.And(p >= 0, p <= n), z3.And(p <= nu, nu <= n, p <= nf, nf <= n)),
        # bit p is used or free, never both; at n both searches stop
        z3.Implies(z3.And(p >= 0, p < n), z3.Xor(nu == p, nf == p)),
        z3.Implies(p == n, z3.And(nu == n, nf == n)),
    ]


def _pair_facts(bm: AbsBitmap, p: z3.ArithRef, q: z3.ArithRef) -> list[z3.BoolRef]:
    le = z3.And(p >= 0, p <= q, q <= bm.n)
    nu_p, nu_q, nf_p, nf_q = bm.nu(p), bm.nu(q), bm.nf(p), bm.nf(q)
    return [
        z3.Implies(le, z3.And(nu_p <= nu_q, nf_p <= nf_q)),  # monotone
        z3.Implies(z3.And(le, q <= nu_p), nu_q == nu_p),  # constant on a free stretch
        z3.Implies(z3.And(le, q <= nf_p), nf_q == nf_p),  # constant on a used stretch
    ]


class FactSolver:
    """A solver that, before each check, adds the axioms' instances over the terms created since.

    Path exploration needs them to prune: without them a loop over free runs looks unbounded.
    Instances added inside a push() leave with its pop(), and are given again when needed.
    """

    def __init__(self, bitmaps: list[AbsBitmap], terms: Terms) -> None:
        self.s = z3.SolverFor("QF_UFLIA")
        self.ctx, self.solver = self.s.ctx, self.s.solver  # what sym.rlimit_count reads
        self.bitmaps, self.terms = bitmaps, terms
        self.synced: dict[int, z3.ArithRef] = {}
        self.levels: list[list[int]] = [[]]
        self.likely_sat = False  # set by the exploration before it asks for a model (sym.Run)

    def _sync(self) -> None:
        new = {k: t for k, t in self.terms.args.items() if k not in self.synced}
        if not new:
            return
        known = list(self.synced.values())
        for bm in self.bitmaps:
            self.s.add(*axioms(bm, list(new.values()), known, with_pu=False))
        self.synced.update(new)
        self.levels[-1].extend(new)

    def add(self, *fs: z3.BoolRef) -> None:
        self.s.add(*fs)

    def push(self) -> None:
        self.s.push()
        self.levels.append([])

    def pop(self) -> None:
        self.s.pop()
        for k in self.levels.pop():
            del self.synced[k]

    def set(self, *args: Any) -> None:
        self.s.set(*args)

    def check(self) -> z3.CheckSatResult:
        # most infeasible branches are infeasible without the new instances: try without first
        # (not when a model is wanted: that check is nearly always satisfiable)
        likely_sat, self.likely_sat = self.likely_sat, False
        if not likely_sat and any(k not in self.synced for k in self.terms.args) and self.s.check() == z3.unsat:
            return z3.unsat
        self._sync()
        return self.s.check()

    def statistics(self) -> z3.Statistics:
        return self.s.statistics()

    def model(self) -> z3.ModelRef:
        return self.s.model()
