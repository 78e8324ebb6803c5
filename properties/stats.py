"""The percpu_stats debugfs numbers of each chunk against what the model's live areas say.

mm/percpu-stats.c reports, per chunk, the fragmentation between the start
of the chunk's region and the end of its last allocation, and the smallest,
median and largest current allocation.  The model recomputes them from its
live areas; the port's text (impl/stats.py) must agree.
"""

from __future__ import annotations

import re
from typing import Any

from impl.stats import chunk_map_stats
from model.chunk import ModelChunk
from properties.invariants import Result
from properties.registry import EXACT, prop

_LINE = re.compile(r"  (\w+) +: +(-?\d+)")


def model_chunk_stats(mc: ModelChunk) -> dict[str, int]:
    """nr_alloc, sum_frag, max_frag and cur_min/med/max_alloc in bytes, from the live areas."""
    areas = sorted(mc.live.items())
    out = {"nr_alloc": len(areas), "sum_frag": 0, "max_frag": 0,
           "cur_min_alloc": 0, "cur_med_alloc": 0, "cur_max_alloc": 0}
    if not areas:
        return out
    sizes = sorted(length * 4 for _, length in areas)
    pos = mc.region_start
    for start, length in areas:
        if start > pos:
            out["sum_frag"] += (start - pos) * 4
            out["max_frag"] = max(out["max_frag"], (start - pos) * 4)
        pos = start + length
    out["cur_min_alloc"], out["cur_med_alloc"], out["cur_max_alloc"] = sizes[0], sizes[(len(sizes) - 1) // 2], sizes[-1]
    return out


# the dump walks every area of a chunk: it is checked after every step while a chunk
# holds at most this many live areas, and after every balance work run (quiescent
# points) whatever the size (properties/harness.py)
EVERY_STEP_MAX_LIVE = 64


@prop(EXACT, "chunk_stats")
def inv_percpu_stats_chunk(pcpu: Any, chunk: Any, mc: ModelChunk) -> Result:
    """percpu-stats.c chunk_map_stats(): the per-chunk fragmentation and allocation sizes of the live areas."""
    m: list[str] = []
    chunk_map_stats(pcpu, m, chunk, [])
    got = {mt.group(1): int(mt.group(2)) for line in m if (mt := _LINE.fullmatch(line.rstrip("\n")))}
    want = model_chunk_stats(mc)
    for key, value in want.items():
        if got.get(key) != value:
            return f"{key} = {value}", got.get(key), f"model live areas {sorted(mc.live.items())[:6]}"
    return None
