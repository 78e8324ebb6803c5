"""Symbolic integers and booleans that let unmodified Python code run over Z3 terms.

An :class:`SInt` wraps a 32-bit Z3 bit-vector (signed); arithmetic and
comparisons build terms.  Where ported code needs a Python value -- ``if``,
``and``/``or``/``not``, ``min()``, list indexing -- the wrapper asks the
current :class:`Run` to decide.  A run replays a recorded list of decisions
and, past its end, follows the branch the current model satisfies and queues
the other branch if the solver finds it feasible.  :func:`explore` re-executes
the code once per feasible path (depth first), so the code under test is the
real function object, never a copy.

:func:`formula` does the same without a solver for small pure predicates (the
registry's property functions): it enumerates every decision sequence and
returns the disjunction of the path conditions on which the predicate returns
None (holds).
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import z3

W = 32  # width of symbolic integers: positions and lengths stay far below 2**31


class PathLimit(Exception):
    """A path needed more decisions than allowed, or an index that could not be concretized."""


class Unknown(Exception):
    """The solver answered unknown (its resource budget ran out) on a feasibility check."""


class Infeasible(Exception):
    """The path condition is unsatisfiable: a queued branch that more instances of the
    solver's facts (absbitmap.FactSolver, over terms created since it was queued) rule out."""


class Budget:
    """A deterministic solver budget in Z3 resource units (``rlimit``), not in seconds.

    Every check made through :meth:`check` may use at most what is left, and
    what it used is charged here and to the parent budget, so the same
    lemma, code and Z3 version give the same verdict however loaded the
    machine is.  ``units == 0`` means unlimited.

    ``cap_s`` is a safety net only: the Python side of an exploration (path
    re-execution) costs no solver units, so a wall-clock cap far above the
    budget stops a run that would otherwise not end; ``capped`` then says
    so, and the verdict text names it (the one clock-dependent outcome).
    """

    def __init__(self, units: int = 0, parent: Budget | None = None, cap_s: float = 0.0) -> None:
        self.units = units
        self.used = 0
        self.parent = parent
        self.cap_at = time.perf_counter() + cap_s if cap_s else 0.0
        self.capped = False

    def remaining(self) -> int:
        left = self.units - self.used if self.units else 1 << 62
        return min(left, self.parent.remaining()) if self.parent is not None else left

    def exhausted(self) -> bool:
        if self.cap_at and time.perf_counter() > self.cap_at:
            self.capped = True
        if self.parent is not None and self.parent.exhausted():
            return True
        return self.capped or self.remaining() <= 0

    def charge(self, units: int) -> None:
        self.used += units
        if self.parent is not None:
            self.parent.charge(units)

    def check(self, solver: z3.Solver, share: int = 1) -> z3.CheckSatResult:
        """solver.check() limited to remaining() // share units; charges what it used."""
        left = self.remaining()
        if self.exhausted():
            return z3.unknown
        solver.set("rlimit", max(1, left // share) if left < 1 << 62 else 0)
        before = rlimit_count(solver)
        r = solver.check()
        self.charge(rlimit_count(solver) - before)
        return r


_RLIMIT_AT = [-1]  # where "rlimit count" was last found among the statistics


def rlimit_count(solver: z3.Solver) -> int:
    """The solver's cumulative resource count.

    Read through the C API at the index it was last found at: z3.Statistics lists every key
    through ctypes on each call, which took a tenth of a chunk lemma's exploration.
    """
    ctx = solver.ctx.ref()
    st = z3.Z3_solver_get_statistics(ctx, solver.solver)
    z3.Z3_stats_inc_ref(ctx, st)
    try:
        size, at = z3.Z3_stats_size(ctx, st), _RLIMIT_AT[0]
        if not (0 <= at < size and z3.Z3_stats_get_key(ctx, st, at) == "rlimit count"):
            at = next((i for i in range(size) if z3.Z3_stats_get_key(ctx, st, i) == "rlimit count"), -1)
            _RLIMIT_AT[0] = at
        if at < 0:
            return 0
        if z3.Z3_stats_is_uint(ctx, st, at):
            return int(z3.Z3_stats_get_uint_value(ctx, st, at))
        return int(z3.Z3_stats_get_double_value(ctx, st, at))
    finally:
        z3.Z3_stats_dec_ref(ctx, st)


# ----------------------------------------------------------------- contexts
class _Ctx:
    def decide(self, cond: z3.BoolRef) -> bool:  # pragma: no cover - interface
        raise NotImplementedError


_CTX: list[_Ctx] = []


def _decide(cond: z3.BoolRef) -> bool:
    cond = z3.simplify(cond)
    if z3.is_true(cond):
        return True
    if z3.is_false(cond):
        return False
    if not _CTX:
        raise TypeError("symbolic value used as a Python bool outside an exploration")
    return _CTX[-1].decide(cond)


# Symbolic integers are W-bit vectors (the bounded proofs need exact bit operations), or,
# inside integer_terms(), mathematical integers: the parametric proofs only add, subtract and
# compare positions, and Z3 decides that (QF_UFLIA) far faster than bit-blasting.  Integers are
# the ported code's own semantics (Python ints are unbounded); bit operations then raise.
_INTEGERS = [False]


@contextlib.contextmanager
def integer_terms() -> Iterator[None]:
    """Inside this block, lift(), num(), var() and sort() build integer terms instead of W-bit ones."""
    _INTEGERS.append(True)
    try:
        yield
    finally:
        _INTEGERS.pop()


def num(v: int) -> z3.ExprRef:
    return z3.IntVal(v) if _INTEGERS[-1] else z3.BitVecVal(v, W)


def var(name: str) -> z3.ExprRef:
    return z3.Int(name) if _INTEGERS[-1] else z3.BitVec(name, W)


def sort() -> z3.SortRef:
    return z3.IntSort() if _INTEGERS[-1] else z3.BitVecSort(W)


def define(term: z3.ExprRef, prefix: str) -> z3.ExprRef:
    """Inside an exploration, a fresh variable constrained (Run.add) to equal ``term``; else ``term``.

    Values the code feeds back into further searches (a loop over free runs) then stay small
    variables instead of ever deeper If-terms.  The name is unique along a path and the same
    on every re-execution of it.
    """
    if not _CTX or not isinstance(_CTX[-1], Run):
        return term
    run = _CTX[-1]
    v = z3.Const(f"{prefix}.{len(run.conds)}", term.sort())
    run.add(v == term)
    return v


def side_fact(c: z3.BoolRef) -> None:
    """Inside an exploration, adds ``c`` (a fact of the real values) to the path; else nothing."""
    if _CTX and isinstance(_CTX[-1], Run):
        _CTX[-1].add(c)


def lift(x: Any) -> z3.BitVecRef:
    """An int or SInt as a symbolic integer term (W-bit, or an integer inside integer_terms())."""
    if isinstance(x, SInt):
        return x.e
    if isinstance(x, bool):
        return num(int(x))  # type: ignore[return-value]
    if isinstance(x, int):
        return num(x)  # type: ignore[return-value]
    if isinstance(x, z3.BitVecRef) and x.size() == W:
        return x
    if isinstance(x, z3.ArithRef) and x.is_int():
        return x  # type: ignore[return-value]
    raise TypeError(f"cannot lift {type(x).__name__} to a symbolic int")


def fls_term(x: z3.BitVecRef) -> z3.BitVecRef:
    """bit_length() of a non-negative bit-vector, as a term of the same width (binary ladder)."""
    n = x.size()
    c = z3.BitVecVal(0, n)
    s = 1
    while s < n:
        s <<= 1
    s >>= 1
    cur = x
    while s >= 1:
        hit = z3.LShR(cur, s) != 0
        c = z3.If(hit, c + s, c)
        cur = z3.If(hit, z3.LShR(cur, s), cur)
        s >>= 1
    return z3.If(cur != 0, c + 1, c) if n > 0 else c


class SBool:
    """A symbolic condition; ``bool()`` of it is a branch decision."""

    __slots__ = ("e",)

    def __init__(self, e: z3.BoolRef) -> None:
        self.e = e

    def __bool__(self) -> bool:
        return _decide(self.e)

    @staticmethod
    def _b(x: Any) -> z3.BoolRef:
        if isinstance(x, SBool):
            return x.e
        if isinstance(x, bool):
            return z3.BoolVal(x)
        if isinstance(x, SInt):
            return x.e != 0
        if isinstance(x, int):
            return z3.BoolVal(x != 0)
        raise TypeError(type(x).__name__)

    def __eq__(self, o: object) -> SBool:  # type: ignore[override]
        return SBool(self.e == SBool._b(o))

    def __ne__(self, o: object) -> SBool:  # type: ignore[override]
        return SBool(z3.Xor(self.e, SBool._b(o)))

    def __and__(self, o: Any) -> SBool:
        return SBool(z3.And(self.e, SBool._b(o)))

    __rand__ = __and__

    def __or__(self, o: Any) -> SBool:
        return SBool(z3.Or(self.e, SBool._b(o)))

    __ror__ = __or__

    def __invert__(self) -> SBool:
        return SBool(z3.Not(self.e))

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return f"SBool({self.e})"


class _Pow2:
    """``1 << k`` for symbolic ``k``; only ``- 1`` (a low mask) is supported on it."""

    def __init__(self, k: SInt) -> None:
        self.k = k

    def __sub__(self, o: int) -> LowMask:
        if o != 1:
            raise TypeError("only (1 << k) - 1 is supported symbolically")
        return LowMask(self.k)


@dataclass(frozen=True)
class LowMask:
    """``(1 << k) - 1`` for symbolic ``k``; a bit-vector ``&`` applies it."""

    k: SInt


class SInt:
    """A symbolic integer (W-bit signed two's complement)."""

    __slots__ = ("e",)

    def __init__(self, e: z3.BitVecRef) -> None:
        self.e = e

    # arithmetic
    def __add__(self, o: Any) -> SInt:
        return SInt(self.e + lift(o))

    def __radd__(self, o: Any) -> SInt:
        return SInt(lift(o) + self.e)

    def __sub__(self, o: Any) -> SInt:
        return SInt(self.e - lift(o))

    def __rsub__(self, o: Any) -> SInt:
        return SInt(lift(o) - self.e)

    def __mul__(self, o: Any) -> SInt:
        return SInt(self.e * lift(o))

    __rmul__ = __mul__

    def __floordiv__(self, o: Any) -> SInt:
        if isinstance(o, int) and o > 0 and o & (o - 1) == 0:
            return SInt(self.e >> (o.bit_length() - 1))  # arithmetic shift: floor division
        raise TypeError("symbolic // only by a positive power of two")

    def __and__(self, o: Any) -> SInt:
        return SInt(self.e & lift(o))

    __rand__ = __and__

    def __or__(self, o: Any) -> SInt:
        return SInt(self.e | lift(o))

    __ror__ = __or__

    def __invert__(self) -> SInt:
        return SInt(~self.e)

    def __neg__(self) -> SInt:
        return SInt(-self.e)

    def __rshift__(self, o: Any) -> SInt:
        return SInt(self.e >> lift(o))

    def __rlshift__(self, o: Any) -> _Pow2:
        if o != 1:
            raise TypeError("only 1 << k is supported symbolically")
        return _Pow2(self)

    # comparisons (signed)
    def __lt__(self, o: Any) -> SBool:
        return SBool(self.e < lift(o))

    def __le__(self, o: Any) -> SBool:
        return SBool(self.e <= lift(o))

    def __gt__(self, o: Any) -> SBool:
        return SBool(self.e > lift(o))

    def __ge__(self, o: Any) -> SBool:
        return SBool(self.e >= lift(o))

    def __eq__(self, o: object) -> SBool:  # type: ignore[override]
        return SBool(self.e == lift(o))

    def __ne__(self, o: object) -> SBool:  # type: ignore[override]
        return SBool(self.e != lift(o))

    __hash__ = object.__hash__

    def __bool__(self) -> bool:
        return _decide(self.e != 0)

    def __index__(self) -> int:
        """A concrete value, chosen by branching on ``self == v`` for v = 0, 1, ... ."""
        for v in range(0, 1 << 13):
            if _decide(self.e == v):
                return v
        raise PathLimit("index out of the concretizable range")

    def bit_length(self) -> SInt:
        return SInt(fls_term(self.e))

    def __format__(self, spec: str) -> str:
        # property functions format their failure message on every path: keep it cheap
        return "<sym>"

    def __repr__(self) -> str:
        return f"SInt({z3.simplify(self.e)})"


def sint(name: str) -> SInt:
    return SInt(var(name))


# ---------------------------------------------------------------- exploring
@dataclass
class PathEnd:
    """One completed path: its decisions, path condition and what the code returned or raised."""

    decisions: list[bool]
    conds: list[z3.BoolRef]
    value: Any = None
    error: BaseException | None = None


class Run(_Ctx):
    """One execution along a decision prefix, with the solver holding base + path condition."""

    def __init__(self, solver: z3.Solver, prefix: list[bool], pending: list[list[bool]], max_depth: int,
                 budget: Budget | None = None, trail: list[z3.BoolRef] | None = None) -> None:
        self.budget = budget or Budget()
        self.solver = solver
        self.prefix = prefix
        self.pending = pending
        self.max_depth = max_depth
        self.decisions: list[bool] = []
        self.conds: list[z3.BoolRef] = []
        self.model: z3.ModelRef | None = None
        self.checks = 0
        self.subs = 0  # merged calls made so far (sym._sub_paths)
        # what the solver holds above the exploration's base, one push level per condition: the
        # previous path's, kept as far as this one re-asserts the same (explore)
        # (None: no levels of its own; the caller pushed one for the whole path)
        self.trail = trail

    def _assert(self, c: z3.BoolRef) -> None:
        """Appends ``c`` to the path condition; a replay of a kept level asserts nothing."""
        j, t = len(self.conds), self.trail
        if t is None:
            self.conds.append(c)
            self.solver.add(c)
            return
        if j < len(t) and t[j].eq(c):
            self.conds.append(c)
            return
        self.cut()
        self.conds.append(c)
        self.solver.push()
        self.solver.add(c)
        t.append(c)

    def cut(self) -> None:
        """Pops the kept levels past this path's conditions: the solver then holds exactly them."""
        while self.trail is not None and len(self.trail) > len(self.conds):
            self.solver.pop()
            self.trail.pop()

    def _model(self) -> z3.ModelRef:
        if self.model is None:
            self.cut()
            self.checks += 1
            if hasattr(self.solver, "likely_sat"):
                self.solver.likely_sat = True
            r = self.budget.check(self.solver)
            if r == z3.unknown:
                raise Unknown("budget")
            if r != z3.sat:
                raise Infeasible()
            self.model = self.solver.model()
        return self.model

    def path_model(self) -> z3.ModelRef:
        """A model of the path condition so far (the one the last decision was taken in, if still valid)."""
        return self._model()

    def decide(self, cond: z3.BoolRef) -> bool:
        i = len(self.decisions)
        if self.budget.exhausted():
            raise Unknown("budget")
        if i >= self.max_depth:
            raise PathLimit(f"more than {self.max_depth} decisions on one path")
        if i < len(self.prefix):
            d = self.prefix[i]
        elif _PRUNE and _PRUNE[-1](cond):  # taken one way only (pruned)
            d = z3.is_true(self._model().eval(cond, model_completion=True))
        else:
            d = z3.is_true(self._model().eval(cond, model_completion=True))
            other = z3.Not(cond) if d else cond
            self.cut()
            self.solver.push()
            self.solver.add(other)
            self.checks += 1
            r = self.budget.check(self.solver)
            self.solver.pop()
            if r == z3.unknown:
                raise Unknown("budget")
            if r == z3.sat:
                self.pending.append(self.decisions + [not d])
        self.decisions.append(d)
        self._assert(cond if d else z3.Not(cond))
        return d

    def add(self, c: z3.BoolRef) -> None:
        """A definitional side constraint created during the run; invalidates the model."""
        self._assert(c)
        self.model = None


# the conditions an exploration takes one way only (the way the path's model takes them), innermost last
_PRUNE: list[Callable[[z3.BoolRef], bool]] = []


@contextlib.contextmanager
def pruned(pred: Callable[[z3.BoolRef], bool]) -> Iterator[None]:
    """Inside this block, a decision on a condition ``pred`` accepts is taken one way only: the way
    the path's model takes it, without exploring the other.  An exploration is then complete
    only for what does not depend on those conditions (summarised.py: one block's hints, when
    the condition names another's); the caller answers for that."""
    _PRUNE.append(pred)
    try:
        yield
    finally:
        _PRUNE.pop()


def explore(
    solver: z3.Solver,
    fn: Callable[[], Any],
    on_path: Callable[[PathEnd, Run], None],
    max_paths: int = 100_000,
    max_depth: int = 400,
    budget: Budget | None = None,
    keep: bool = True,
    jobs: int = 1,
) -> int:
    """Runs ``fn`` once per feasible path under the solver's assertions; returns the path count.

    ``fn`` must build its symbolic state afresh on every call (it is re-executed).
    ``on_path`` is called with the solver holding the path condition.

    Paths are taken depth first, and the solver keeps the levels a path shares with the
    one before (Run.trail): a replayed prefix is not asserted again, so its terms and
    facts stay internalized (block_hint_alloc's exploration: 94.9M units and 38 s of
    solver time before, 74.3M and 24 s after).  ``keep=False`` starts every path from
    the base.  ``jobs`` > 1: the tree is explored in forked processes (:func:`_forked_paths`).
    """
    budget = budget or Budget()
    trail: list[z3.BoolRef] = []
    _SUB_CACHE.clear()
    if keep:
        solver.push()
    try:
        pending: list[list[bool]] = [[]]
        found: list[list[bool]] = []
        n = 0
        if jobs > 1:  # the children explore it all: nothing is left pending here
            found, n = _forked_paths(solver, fn, on_path, max_depth, budget, trail, jobs)
            pending = []
        while pending:
            prefix = pending.pop()
            n += 1
            if n > max_paths:
                raise PathLimit(f"more than {max_paths} paths")
            if keep:
                _one_path(solver, fn, prefix, pending, max_depth, budget, trail, on_path)
                continue
            solver.push()  # every path from the base up, in one level of its own
            try:
                _one_path(solver, fn, prefix, pending, max_depth, budget, None, on_path)
            finally:
                solver.pop()
        for decisions in found:  # the children's paths, replayed: every decision is known, no check
            _one_path(solver, fn, decisions, [], max_depth, budget, trail, on_path)
        return n + len(found)
    finally:
        for _ in range(len(trail) + 1 if keep else 0):
            solver.pop()


def _one_path(solver: z3.Solver, fn: Callable[[], Any], prefix: list[bool], pending: list[list[bool]],
              max_depth: int, budget: Budget, trail: list[z3.BoolRef] | None,
              on_path: Callable[[PathEnd, Run], None] | None) -> PathEnd | None:
    """One run of ``fn`` along ``prefix``: its end (given to ``on_path``), or None if infeasible."""
    run = Run(solver, prefix, pending, max_depth, budget, trail)
    _CTX.append(run)
    try:
        value = fn()
        end = PathEnd(run.decisions, run.conds, value)
    except Infeasible:  # no path: nothing to judge
        return None
    except (PathLimit, Unknown):
        raise
    except Exception as e:  # the code under test raised on this path
        end = PathEnd(run.decisions, run.conds, None, e)
    finally:
        _CTX.pop()
    run.cut()
    if on_path is not None:
        on_path(end, run)
    return end


SPLIT = 4  # subtrees per process (10: block_hint_alloc's children 53 and 50 paths, but no faster)


def _forked_paths(solver: z3.Solver, fn: Callable[[], Any], on_path: Callable[[PathEnd, Run], None],
                  max_depth: int, budget: Budget, trail: list[z3.BoolRef], jobs: int
                  ) -> tuple[list[list[bool]], int]:
    """Explores in ``jobs`` forked processes; returns (the children's paths, the paths run here).

    This process first runs paths along the shallowest queued prefixes until there are
    SPLIT x ``jobs`` subtrees (block_hint_alloc: one of the first path's siblings holds 64 of
    its 110 paths) and deals them out, shallowest first, in a snake; each child explores its
    own depth first with an equal part of the budget fixed before it starts, and returns the
    decisions of its paths.  A fixed split: the paths, verdicts and units do not depend on timing.
    """
    from properties.proofs.parallel import forked

    pending: list[list[bool]] = [[]]
    here = 0
    while pending and len(pending) < SPLIT * jobs:
        pending.sort(key=len)
        here += 1
        _one_path(solver, fn, pending.pop(0), pending, max_depth, budget, trail, on_path)
    units = budget.remaining() // jobs
    # shallow subtrees tend to be the large ones: deal them out shallowest first, in a snake
    pending.sort(key=len)
    parts: list[list[list[bool]]] = [[] for _ in range(jobs)]
    for k, prefix in enumerate(pending):
        lap, j = divmod(k, jobs)
        parts[j if lap % 2 == 0 else jobs - 1 - j].append(prefix)

    def child(part: list[list[bool]]) -> tuple[list[list[bool]], int, str, str]:
        b, todo, paths = Budget(units), part[::-1], []
        try:
            while todo:
                end = _one_path(solver, fn, todo.pop(), todo, max_depth, b, trail, None)
                if end is not None:
                    paths.append(end.decisions)
        except (PathLimit, Unknown) as e:
            return paths, b.used, type(e).__name__, str(e)
        return paths, b.used, "", ""

    found: list[list[bool]] = []
    for paths, used, kind, why in forked([functools.partial(child, part) for part in parts], jobs):
        budget.charge(used)
        if kind:
            raise (Unknown if kind == "Unknown" else PathLimit)(why)
        found += paths
    return found, here


class _Enum(_Ctx):
    def __init__(self, prefix: list[bool], pending: list[list[bool]]) -> None:
        self.prefix = prefix
        self.pending = pending
        self.decisions: list[bool] = []
        self.conds: list[z3.BoolRef] = []

    def decide(self, cond: z3.BoolRef) -> bool:
        i = len(self.decisions)
        if i < len(self.prefix):
            d = self.prefix[i]
        else:
            d = True
            self.pending.append(self.decisions + [False])
        self.decisions.append(d)
        self.conds.append(cond if d else z3.Not(cond))
        return d


def formula(pred: Callable[[], Any], max_paths: int = 256) -> z3.BoolRef:
    """The condition under which ``pred()`` returns None, by enumerating its decision paths."""
    pending: list[list[bool]] = [[]]
    holds: list[z3.BoolRef] = []
    n = 0
    while pending:
        n += 1
        if n > max_paths:
            raise PathLimit(f"predicate has more than {max_paths} paths")
        ctx = _Enum(pending.pop(), pending)
        _CTX.append(ctx)
        try:
            r = pred()
        finally:
            _CTX.pop()
        if r is None:
            holds.append(z3.And(*ctx.conds) if ctx.conds else z3.BoolVal(True))
    return z3.Or(*holds) if holds else z3.BoolVal(False)


# ------------------------------------------------------------ state merging
class _Sub(_Ctx):
    """Decides inside a summarized call: both feasible sides are explored, under the outer path condition."""

    def __init__(self, outer: Run, prefix: list[bool], pending: list[list[bool]]) -> None:
        self.outer = outer
        self.prefix = prefix
        self.pending = pending
        self.decisions: list[bool] = []
        self.conds: list[z3.BoolRef] = []

    def _feasible(self, c: z3.BoolRef) -> bool:
        self.outer.cut()
        s = self.outer.solver
        s.push()
        s.add(*self.conds, c)
        r = self.outer.budget.check(s)
        s.pop()
        if r == z3.unknown:
            raise Unknown("budget")
        return r == z3.sat

    def decide(self, cond: z3.BoolRef) -> bool:
        i = len(self.decisions)
        if self.outer.budget.exhausted():
            raise Unknown("budget")
        if i < len(self.prefix):
            d = self.prefix[i]
        else:
            t, f = self._feasible(cond), self._feasible(z3.Not(cond))
            if t and f:
                self.pending.append(self.decisions + [False])
            d = t
        self.decisions.append(d)
        self.conds.append(cond if d else z3.Not(cond))
        return d


def _sub_paths(outer: Run, body: Callable[[], Any]) -> list[tuple[z3.BoolRef, Any]]:
    """Runs ``body`` once per feasible path under ``outer``'s path condition: (path condition, result).

    A path replayed to explore its siblings reaches the same call (the same count of merged
    calls) with the same decisions behind it: the results of the first time are given again
    (_SUB_CACHE, kept per exploration).
    """
    outer.subs += 1
    key = (tuple(outer.decisions), len(outer.conds), outer.subs)
    if key in _SUB_CACHE:
        return _SUB_CACHE[key]
    _SUB_CACHE[key] = results = _explore_sub(outer, body)
    return results


# _sub_paths' results by the caller's decisions so far; explore() empties it
_SUB_CACHE: dict[tuple[tuple[bool, ...], int, int], list[tuple[z3.BoolRef, Any]]] = {}


def _explore_sub(outer: Run, body: Callable[[], Any]) -> list[tuple[z3.BoolRef, Any]]:
    pending: list[list[bool]] = [[]]
    results: list[tuple[z3.BoolRef, Any]] = []
    while pending:
        sub = _Sub(outer, pending.pop(), pending)
        _CTX.append(sub)
        try:
            r = body()
        finally:
            _CTX.pop()
        results.append((z3.And(*sub.conds) if sub.conds else z3.BoolVal(True), r))
    return results


def _if_chain(vals: list[tuple[z3.BoolRef, Any]]) -> SInt:
    """``If(c1, v1, If(c2, v2, ... vn))``: the last value needs no condition (the paths cover every case)."""
    e = lift(vals[-1][1])
    for c, v in reversed(vals[:-1]):
        e = z3.If(c, lift(v), e)
    return SInt(e)


def merged(fn: Callable[..., None], fields: tuple[str, ...], fork_on: tuple[str, ...] = ()) -> Callable[..., None]:
    """``fn(obj, *args)``, which only assigns ``fields`` of ``obj``, run as one path of the caller.

    Every feasible path of ``fn`` runs on a copy of ``obj`` (the real function, re-executed),
    and each field becomes ``If(path 1, value 1, If(path 2, ...))``: the caller's path count
    no longer multiplies by ``fn``'s.  Outside an exploration ``fn`` runs as is.

    ``fork_on``: the paths are grouped by the values they leave in these fields (the same
    terms), and the caller forks once per group, the other fields merged within it.  Paths
    that differ only in fields later code never branches on (pcpu_block_update()'s left_free,
    right_free, first_free on chunk_md) then cost no extra path, while the fields the caller
    does branch on stay plain terms (fully merged, they left the queries undecided).
    """
    import copy

    def call(obj: Any, *args: Any) -> None:
        if not _CTX or not isinstance(_CTX[-1], Run):
            fn(obj, *args)
            return

        def one() -> Any:
            twin = copy.copy(obj)
            fn(twin, *args)
            return twin

        results = _sub_paths(_CTX[-1], one)
        if fork_on:
            groups: dict[tuple[Any, ...], list[tuple[z3.BoolRef, Any]]] = {}
            for c, t in results:
                key = tuple(_key(getattr(t, f)) for f in fork_on)
                groups.setdefault(key, []).append((c, t))
            alike = list(groups.values())
            # the groups partition the caller's path: the last one needs no condition
            results = next((g for g in alike[:-1] if _decide(z3.Or(*[c for c, _ in g]))), alike[-1])
        for f in fields:
            vals = [(c, getattr(t, f)) for c, t in results]
            first = vals[0][1]
            if all(_same(v, first, bool(fork_on)) for _, v in vals):
                setattr(obj, f, vals[0][1])
                continue
            setattr(obj, f, _if_chain(vals))

    return call


def _same(v: Any, w: Any, terms: bool) -> bool:
    """Equal concrete ints; with ``terms``, also the same term (a field no path of the group changed)."""
    if terms:
        return bool(_key(v) == _key(w))
    return isinstance(v, int) and not isinstance(v, SInt) and v == w


def _key(v: Any) -> Any:
    """A field value's identity: the int, or the AST id of the (hash-consed) term."""
    if isinstance(v, SInt):
        return ("term", v.e.get_id())
    return ("int", v)


def merged_value(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn(*args)``, a pure function returning an int, run as one path of the caller.

    Its feasible paths are explored as :func:`merged` does, and the result is
    ``If(path 1, value 1, If(path 2, ...))``.  Outside an exploration ``fn`` runs as is.
    """

    def call(*args: Any) -> Any:
        if not _CTX or not isinstance(_CTX[-1], Run):
            return fn(*args)
        return _if_chain(_sub_paths(_CTX[-1], lambda: fn(*args)))

    return call
