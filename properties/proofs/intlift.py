"""Bit-vector queries read as integer arithmetic, for the size-independent proofs.

The symbolic executor (sym.py) builds W-bit terms, because the bounded proofs
need exact bit operations.  The parametric proofs (parametric.py) only add,
subtract and compare positions and lengths, plus uninterpreted functions
(the bitmap's next-used / next-free / previous-used answers).  Z3 decides such
formulas far faster as linear integer arithmetic with uninterpreted functions
(QF_UFLIA) than by bit-blasting: pcpu_block_update's contig_hint_start row
went from undecided at 580M units to proved in about 2 s.

Why the translation is sound.  The ported code runs on Python ints, which
are unbounded: integer arithmetic *is* the port's semantics.  W-bit wrap-around
is an artefact of the executor, and it never happens on the states the
proofs talk about (every position and length lies within a few block
sizes of 0, and block sizes are at most parametric.N_MAX = 2**20).  So a state of the real port that violates a property gives a
model of the integer query: the query's unsatisfiability is a proof.

Bit-level operations have no integer reading: :class:`NoIntForm` is raised
(the parametric proofs model the few the hint code applies to positions,
see parametric.BlockBits, without them).

:class:`IntSolver` wraps a QF_UFLIA solver behind the interface sym.explore
and sym.Budget use, so path exploration runs on the integer reading too.
"""

from __future__ import annotations

import z3


class NoIntForm(Exception):
    """The query uses a bit-level operation with no integer reading here."""


_CMP = {
    z3.Z3_OP_SLEQ: lambda a, b: a <= b,
    z3.Z3_OP_SLT: lambda a, b: a < b,
    z3.Z3_OP_SGEQ: lambda a, b: a >= b,
    z3.Z3_OP_SGT: lambda a, b: a > b,
}
_BOOL = {
    z3.Z3_OP_AND: lambda *c: z3.And(*c),
    z3.Z3_OP_OR: lambda *c: z3.Or(*c),
    z3.Z3_OP_NOT: lambda c: z3.Not(c),
    z3.Z3_OP_IMPLIES: lambda a, b: z3.Implies(a, b),
    z3.Z3_OP_XOR: lambda a, b: z3.Xor(a, b),
    z3.Z3_OP_EQ: lambda a, b: a == b,
    z3.Z3_OP_DISTINCT: lambda *c: z3.Distinct(*c),
    z3.Z3_OP_ITE: lambda c, a, b: z3.If(c, a, b),
}


class IntReader:
    """Translates the terms of one proof; the integer functions are shared between its queries."""

    def __init__(self) -> None:
        self.memo: dict[int, tuple[z3.ExprRef, z3.ExprRef]] = {}  # the term is kept: AST ids are reused once freed
        self.funs: dict[str, z3.FuncDeclRef] = {}

    def _fun(self, name: str, arity: int) -> z3.FuncDeclRef:
        if name not in self.funs:
            self.funs[name] = z3.Function(f"{name}.int", *([z3.IntSort()] * (arity + 1)))
        return self.funs[name]

    def __call__(self, e: z3.ExprRef) -> z3.ExprRef:
        k = e.get_id()
        if k not in self.memo:
            self.memo[k] = (e, self._read(e))
        return self.memo[k][1]

    def _read(self, e: z3.ExprRef) -> z3.ExprRef:
        if z3.is_bv_value(e):
            return z3.IntVal(e.as_signed_long())  # type: ignore[attr-defined]
        if z3.is_true(e) or z3.is_false(e):
            return e
        if z3.is_const(e) and z3.is_bv(e):
            return z3.Int(e.decl().name())
        d, kind = e.decl(), e.decl().kind()
        ch = [self(c) for c in e.children()]
        if kind == z3.Z3_OP_BADD:
            return z3.Sum(*ch)
        if kind == z3.Z3_OP_BSUB:
            return ch[0] - ch[1]
        if kind == z3.Z3_OP_BNEG:
            return -ch[0]
        if kind in _CMP:
            return _CMP[kind](*ch)
        if kind in _BOOL:
            return _BOOL[kind](*ch)
        if kind == z3.Z3_OP_UNINTERPRETED:
            return self._fun(d.name(), d.arity())(*ch)
        if kind == z3.Z3_OP_BMUL and len(ch) == 2 and any(z3.is_bv_value(c) for c in e.children()):
            return ch[0] * ch[1]
        raise NoIntForm(f"no integer reading of {d.name()} in {e.sexpr()[:300]}")


class _IntModel:
    def __init__(self, m: z3.ModelRef, read: IntReader) -> None:
        self.m, self.read = m, read

    def eval(self, e: z3.ExprRef, model_completion: bool = False) -> z3.ExprRef:
        return self.m.eval(self.read(e), model_completion=model_completion)


class IntSolver:
    """A QF_UFLIA solver that takes bit-vector terms and holds their integer readings."""

    def __init__(self, read: IntReader) -> None:
        self.read = read
        self.s = z3.SolverFor("QF_UFLIA")

    def add(self, *fs: z3.BoolRef) -> None:
        self.s.add(*[self.read(f) for f in fs])

    def push(self) -> None:
        self.s.push()

    def pop(self) -> None:
        self.s.pop()

    def set(self, *args: object) -> None:
        self.s.set(*args)

    def check(self) -> z3.CheckSatResult:
        return self.s.check()

    def statistics(self) -> z3.Statistics:
        return self.s.statistics()

    def model(self) -> _IntModel:
        return _IntModel(self.s.model(), self.read)
