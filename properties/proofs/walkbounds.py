"""The bound hints of pcpu_chunk_refresh_hint()'s walk, with either full_scan: a contract for callers.

loopinv.py proves the walk exact (every chunk property) from exact block
hints, for full_scan true.  An allocation's refresh (full_scan false)
starts from hints an allocation left: a block whose promoted scan_hint ends
at its end has lost its right_free (ledger F3), so the walk cannot be exact
(ledger F9).  What it keeps is the chunk's upper and lower bound hints:
contig_hint not above the largest run and free, scan_hint free and not
above contig_hint, first_free not past the first free bit.  For that it
needs every region pcpu_next_md_free_region() offers to be free, which the
block hints give when the regions they name are free.

This module states the contract (:func:`chunk_pre`, :func:`block_pre`,
:data:`POST`); loopinv.py proves it (``prove_loop(..., bounds=True)``).
"""

from __future__ import annotations

from typing import Any

import z3

from impl.internal import pcpu_block_md
from properties.proofs.absbitmap import AbsTruth, AbsWindow
from properties.proofs.lemmas import md_range_list
from properties.proofs.sym import lift

POST = ("inv_chunk_contig_hint_upper", "inv_chunk_scan_hint", "inv_chunk_first_free_lower")
CHUNK_PRE = ("inv_chunk_first_free_lower", "inv_chunk_scan_hint")


def chunk_pre(md: pcpu_block_md, t: AbsTruth, w: AbsWindow, holds: Any) -> dict[str, z3.BoolRef]:
    """What the walk needs of chunk_md at the call, by part (``holds``: parametric.holds or a memo of it)."""
    return {"ranges": z3.And(*md_range_list(md)), **{p: holds(p, md, t, w) for p in CHUNK_PRE}}


def block_pre(md: pcpu_block_md, t: AbsTruth) -> dict[str, z3.BoolRef]:
    """What the walk needs of a block's hints, by part: in range, and the regions they name free."""
    bm, n = t.bm, t.bm.n
    ch, cs, lf, rf = (lift(getattr(md, f)) for f in ("contig_hint", "contig_hint_start", "left_free", "right_free"))
    return {
        "ranges": z3.And(*md_range_list(md)),
        "contig_free": z3.Or(ch == 0, bm.free(cs, ch)),
        "left_free_free": bm.free(0, lf),
        "right_free_free": bm.free(n - rf, rf),
    }
