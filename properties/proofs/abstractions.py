"""The parametric proofs' stand-ins for the port's bit-level primitives on symbolic values.

Each is an over-approximation of the real primitive, so a proof with it is a
proof without (parametric.py's module doc lists them):

- :func:`abstract_primitives`: ``_ffs`` uninterpreted; ``ALIGN(x, a)`` a named
  value r with x <= r <= x + a - 1 and aligned(r, a);
- :class:`BlockBits`: PCPU_BITMAP_BLOCK_BITS as the symbolic block size n, whose
  ``x // n``, ``x & (n - 1)`` and ``i * n`` are exact on the first blocks.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Any

import z3

import impl.hints
import impl.search
from impl.bitmap import _ffs
from properties.proofs.sym import SBool, SInt, define, lift, num, side_fact, sort


@contextlib.contextmanager
def abstract_primitives() -> Iterator[None]:
    """While proving, ``_ffs`` and ``ALIGN`` on symbolic values are uninterpreted (see the module doc).

    ALIGN(x, a) is a named value r with x <= r <= x + a - 1 and aligned(r, a), facts of the
    real ALIGN for every power-of-two a, added to the path (sym.side_fact).
    """

    def ffs(word: Any) -> Any:
        if isinstance(word, SInt):
            return SInt(z3.Function("ffs", sort(), sort())(lift(word)))
        return _ffs(word)

    def align(x: Any, a: Any) -> Any:
        if not isinstance(x, SInt) and not isinstance(a, SInt):
            return saved_align(x, a)
        xe, ae = lift(x), lift(a)
        r = define(z3.Function("ALIGN", sort(), sort(), sort())(xe, ae), "align")
        ALIGNED.setdefault(r.get_id(), (r, xe))
        side_fact(z3.Implies(ae >= 1, z3.And(xe <= r, r <= xe + ae - 1, aligned(r, ae))))
        return SInt(r)

    saved_ffs, saved_align = impl.hints._ffs, impl.hints.ALIGN
    impl.hints._ffs = impl.search._ffs = ffs  # type: ignore[assignment]
    impl.hints.ALIGN = impl.search.ALIGN = align
    try:
        yield
    finally:
        impl.hints._ffs = impl.search._ffs = saved_ffs
        impl.hints.ALIGN = impl.search.ALIGN = saved_align


@contextlib.contextmanager
def one_way_overlap() -> Iterator[None]:
    """While proving, pcpu_region_overlap() on symbolic values is one condition, not two.

    The port's ``(a < y) and (x < b)`` decides a < y first and then x < b: a path that finds
    no overlap forks twice, once for each way of missing, into two paths that leave the same
    state.  Here it is ``SBool(And(a < y, x < b))``, the same truth value decided once.  Only
    allocfamilies.py uses it (pcpu_block_update_hint_alloc() asks it four times per path); the
    other proofs keep the port's helper, so their path counts and units are unchanged.
    """

    def overlap(a: Any, b: Any, x: Any, y: Any) -> Any:
        if not any(isinstance(v, SInt) for v in (a, b, x, y)):
            return saved(a, b, x, y)
        return SBool(z3.And(lift(a) < lift(y), lift(x) < lift(b)))

    saved = impl.hints.pcpu_region_overlap
    impl.hints.pcpu_region_overlap = overlap
    try:
        yield
    finally:
        impl.hints.pcpu_region_overlap = saved


# every ALIGN result of the current proof, with the value it aligned (the fit lemmas' candidates)
ALIGNED: dict[int, tuple[z3.ArithRef, z3.ArithRef]] = {}


def subterms(ts: Iterable[z3.ExprRef]) -> Iterator[z3.ExprRef]:
    """Each distinct subterm of the terms ``ts`` (themselves included), once."""
    seen: set[int] = set()
    todo = list(ts)
    while todo:
        u = todo.pop()
        if u.get_id() in seen:
            continue
        seen.add(u.get_id())
        yield u
        todo.extend(u.children())


def raw_subterms(ts: Iterable[z3.ExprRef]) -> Iterator[tuple[int, Any]]:
    """(AST id, raw AST) of each distinct subterm of ``ts``, in :func:`subterms`' order, through the C API:
    no ExprRef per subterm (building them took most of a four-block proof's term collection)."""
    ts = list(ts)
    if not ts:
        return
    ctx = ts[0].ctx.ref()
    seen: set[int] = set()
    todo = [t.as_ast() for t in ts]
    while todo:
        a = todo.pop()
        i = z3.Z3_get_ast_id(ctx, a)
        if i in seen:
            continue
        seen.add(i)
        yield i, a
        if z3.Z3_get_ast_kind(ctx, a) == z3.Z3_APP_AST:
            todo.extend(z3.Z3_get_app_arg(ctx, a, k) for k in range(z3.Z3_get_app_num_args(ctx, a)))


def names_in(t: z3.ExprRef) -> set[str]:
    """The names of the constants (symbolic variables) term ``t`` is built from."""
    return {u.decl().name() for u in subterms([t]) if z3.is_const(u) and u.decl().kind() == z3.Z3_OP_UNINTERPRETED}


def aligned(r: Any, a: Any) -> z3.BoolRef:
    """r is a multiple of a (uninterpreted: only ALIGN's results are known to be)."""
    return z3.Function("aligned", sort(), sort(), z3.BoolSort())(lift(r), lift(a))


class BlockBits(SInt):
    """The symbolic block size n as PCPU_BITMAP_BLOCK_BITS: the arithmetic the port does on it, without bit operations.

    Being a subclass of SInt, its reflected operators run first in ``x // n``,
    ``x * n`` and ``x & (n - 1)`` (``n - 1`` is a :class:`BlockMask`).
    """

    __slots__ = ()

    def _uf(self, name: str, *xs: Any) -> z3.ArithRef:
        return z3.Function(name, *([sort()] * (len(xs) + 1)))(*[lift(x) for x in xs])

    BLOCKS = 5  # offsets in blocks 0..BLOCKS-1 get their true block index and offset (chunks of <= 4 blocks)

    def _block(self, x: Any, i: int) -> z3.BoolRef:
        return z3.And(lift(x) >= i * self.e, lift(x) < (i + 1) * self.e)

    def __rfloordiv__(self, x: Any) -> SInt:
        r = self._uf("div_n", x)
        for i in reversed(range(self.BLOCKS)):
            r = z3.If(self._block(x, i), num(i), r)
        return SInt(r)

    def __rmul__(self, i: Any) -> SInt:
        r = self._uf("mul_n", i)
        for k in reversed(range(self.BLOCKS)):
            r = z3.If(lift(i) == k, k * self.e, r)
        return SInt(r)

    __mul__ = __rmul__

    def __sub__(self, o: Any) -> SInt:
        return BlockMask(self.e - 1) if isinstance(o, int) and o == 1 else SInt(self.e - lift(o))


class BlockMask(SInt):
    """n - 1 for the symbolic block size n; ``x & (n - 1)`` is x on block offsets (n a power of two)."""

    __slots__ = ()

    def __rand__(self, x: Any) -> SInt:
        x_, n = lift(x), self.e + 1
        r = z3.Function("mod_n", sort(), sort())(x_)
        for i in reversed(range(BlockBits.BLOCKS)):
            r = z3.If(z3.And(x_ >= i * n, x_ < (i + 1) * n), x_ - i * n, r)
        return SInt(r)
