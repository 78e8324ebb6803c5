"""The C library primitives the area-map port uses, with operation counters.

``memmove`` works on the chunk's map (a Python list of ints standing for an
``int *`` array).  The counters live here, in the primitive, so that the
benchmark can count work without touching a ported statement.
"""

from __future__ import annotations

from collections import Counter

MAP_ENTRY_SIZE = 4  # sizeof(chunk->map[0])

OPS: Counter[str] = Counter()


def memmove(arr: list[int], dst: int, src: int, nbytes: int) -> None:
    """memmove() within one int array: ``nbytes`` bytes from index ``src`` to index ``dst``."""
    n = nbytes // MAP_ENTRY_SIZE
    OPS["memmove_bytes"] += nbytes
    OPS["memmove_calls"] += 1
    arr[dst : dst + n] = arr[src : src + n]


def ALIGN(x: int, a: int) -> int:
    """include/linux/align.h: ALIGN()."""
    return (x + a - 1) & ~(a - 1)
