"""What a formula speaks of: the names it is built from, the blocks and chunk_md whose hints they are,
and the terms the bitmap facts are instantiated over.  The chunk proofs by families of paths
(fitfamilies.py, freefamilies.py) slice their paths' conditions by these.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import z3

from properties.proofs.absbitmap import Terms
from properties.proofs.abstractions import raw_subterms

# names_in per AST id, with the term (which keeps the id alive): paths share most of their
# conditions, and walking each afresh took most of four blocks' exploration (names_in: 224 s of
# 351 s under the profiler)
NAMES: dict[int, tuple[z3.ExprRef, frozenset[str]]] = {}


def names_of(t: z3.ExprRef) -> frozenset[str]:
    """names_in(t), each shared subterm walked once per proof."""
    k = t.get_id()
    todo: list[tuple[z3.ExprRef, bool]] = [(t, False)]
    while todo:  # post-order: a subterm's names once its children's are known
        u, ready = todo.pop()
        if u.get_id() in NAMES:
            continue
        kids = u.children()
        if not ready:
            todo.append((u, True))
            todo.extend((c, False) for c in kids if c.get_id() not in NAMES)
            continue
        own = {u.decl().name()} if z3.is_const(u) and u.decl().kind() == z3.Z3_OP_UNINTERPRETED else set()
        NAMES[u.get_id()] = (u, frozenset(own.union(*[NAMES[c.get_id()][1] for c in kids])))
    return NAMES[k][1]


def owners(names: Collection[str], nb: int) -> frozenset[int]:
    """The blocks (of ``nb``) whose hints some of ``names`` are."""
    return frozenset(i for name in names for i in range(nb) if name.startswith(f"b{i}."))


def on_chunk(names: Collection[str]) -> bool:
    """Whether some of ``names`` are chunk_md's hints."""
    return any(x.startswith("chunk.") for x in names)


def applied(formulas: list[z3.BoolRef], bm: Any) -> dict[int, z3.ArithRef]:
    """The arguments ``bm``'s functions (nu, nf, pu) are applied to in ``formulas``."""
    fns = {f.get_id() for f in (bm.fnu, bm.fnf, bm.fpu)}
    if not formulas:
        return {}
    ctx = formulas[0].ctx
    out: dict[int, z3.ArithRef] = {}
    for _, a in raw_subterms(formulas):
        if z3.Z3_get_ast_kind(ctx.ref(), a) != z3.Z3_APP_AST:
            continue
        d = z3.Z3_func_decl_to_ast(ctx.ref(), z3.Z3_get_app_decl(ctx.ref(), a))
        if z3.Z3_get_ast_id(ctx.ref(), d) in fns:
            arg = z3.Z3_get_app_arg(ctx.ref(), a, 0)
            out[z3.Z3_get_ast_id(ctx.ref(), arg)] = z3.ArithRef(arg, ctx)
    return out


def terms_in(formulas: list[z3.BoolRef], terms: Terms) -> dict[int, z3.ArithRef]:
    """The registered terms (``terms.args``) that occur in ``formulas``."""
    return {i: terms.args[i] for i, _ in raw_subterms(formulas) if i in terms.args}
