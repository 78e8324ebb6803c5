"""What the independent explorations of summarised.py rest on: the cone an obligation keeps, and the check
that the pruned explorations' obligations cover the full exploration's (summarised.independence_gap)."""

from __future__ import annotations

from typing import Any

import z3

from properties.proofs.slicing import names_of

# names a cone does not grow through: the allocation's place and the block size, which nearly every
# condition names
GLOBAL_NAMES = frozenset({"bit_off", "area_end", "n"})


def coned(fs: list[z3.BoolRef], post: z3.BoolRef, owner: str) -> list[z3.BoolRef]:
    """The formulas of ``fs`` in the cone of ``post`` and of the hints named ``owner``* (a block's or
    chunk_md's): those naming only the allocation's place and the block size, those naming such a
    hint, and those sharing another name with ``post`` or with a formula already in the cone.

    Dropping formulas from an obligation only admits more models (sound).  What it drops are the
    conditions and facts of code that wrote other hints: a value another block's code defined and
    branched on says nothing about this obligation, and without it the obligations of paths that
    differ only there are one (the independent explorations rely on it: module docstring).
    """
    names = [names_of(c) - GLOBAL_NAMES for c in fs]
    keep = [not ns or any(x.startswith(owner) for x in ns) for ns in names]
    live = set(names_of(post) - GLOBAL_NAMES).union(*[ns for ns, k in zip(names, keep, strict=True) if k])
    grown = True
    while grown:
        grown = False
        for k, ns in enumerate(names):
            if not keep[k] and not ns.isdisjoint(live):
                keep[k], grown = True, True
                live |= ns
    return [c for c, k in zip(fs, keep, strict=True) if k]


def uncovered(full: dict[Any, list[z3.BoolRef]], pruned_: dict[Any, list[z3.BoolRef]], verbose: bool) -> list[int]:
    """[full obligations some model of which no pruned obligation of its family has, full obligations]."""
    missing = total = 0
    for k, bads in full.items():
        s = z3.SolverFor("QF_UFLIA")
        s.add(z3.Not(z3.Or(*pruned_.get(k, []))))
        lost = 0
        for b in bads:
            s.push()
            s.add(b)
            lost += s.check() != z3.unsat
            s.pop()
        missing, total = missing + lost, total + len(bads)
        if verbose:
            print(f"  {k}: {len(bads)} obligations of the full exploration, {lost} not covered when pruned",
                  flush=True)
    return [missing, total]
