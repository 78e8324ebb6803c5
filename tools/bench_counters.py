"""Operation counters for the allocator benchmarks, installed from outside the ported code.

Nothing in impl/ or impl_areamap/ changes: the bitmap port's search and hint
methods are wrapped on one instance (as the mutants rebind them), the bitmap
primitives are wrapped where impl/search.py, impl/hints.py and impl/area.py
look them up, and the area map counts its memmove bytes in its primitive
(impl_areamap/prims.py).
"""

from __future__ import annotations

import types
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import impl.area
import impl.hints
import impl.search
from impl_areamap import prims

# method on the instance -> counter it increments per call
BITMAP_METHODS = {
    "pcpu_next_fit_region": "regions_visited",
    "pcpu_block_update": "block_updates",
    "pcpu_block_refresh_hint": "block_hint_refreshes",
    "pcpu_chunk_refresh_hint": "chunk_hint_refreshes",
    "pcpu_block_update_scan": "scan_updates",
}
AREAMAP_METHODS = {
    "pcpu_fit_in_area": "free_areas_examined",
    "pcpu_extend_area_map": "map_extensions",
}
BITMAP_MODULES = (impl.search, impl.hints, impl.area)
SCANNERS = ("find_next_bit", "find_next_zero_bit")


def _count_calls(ops: Counter[str], key: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kw: Any) -> Any:
        ops[key] += 1
        return fn(*args, **kw)

    return wrapper


def _count_bits(ops: Counter[str], fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(addr: Any, size: int, offset: int) -> int:
        res: int = fn(addr, size, offset)
        ops["bits_scanned"] += max(0, min(res, size) - offset)
        return res

    return wrapper


@contextmanager
def counting(pcpu: Any) -> Iterator[Counter[str]]:
    """Counts operations of ``pcpu`` (either allocator) while the block runs."""
    ops: Counter[str] = Counter()
    methods = AREAMAP_METHODS if hasattr(pcpu, "pcpu_map_extend_chunks") else BITMAP_METHODS
    for name, key in methods.items():
        bound = getattr(type(pcpu), name)
        setattr(pcpu, name, types.MethodType(_count_calls(ops, key, bound), pcpu))
    saved = [(m, n, getattr(m, n)) for m in BITMAP_MODULES for n in SCANNERS if hasattr(m, n)]
    for m, n, fn in saved:
        setattr(m, n, _count_bits(ops, fn))
    prims.OPS.clear()
    try:
        yield ops
    finally:
        for m, n, fn in saved:
            setattr(m, n, fn)
        for name in methods:
            delattr(pcpu, name)
        ops["memmove_bytes"] += prims.OPS["memmove_bytes"]
        ops["memmove_calls"] += prims.OPS["memmove_calls"]
