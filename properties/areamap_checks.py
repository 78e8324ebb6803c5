"""Properties and slack of the area-map allocator (impl_areamap/), judged against the same model.

The bitmap allocator's hint properties (properties/invariants.py) and its
bitmaps (inv_alloc_map, inv_bound_map) do not exist in the area map.  What
the area map promises instead, each recomputed from the model after every
step:

- ``inv_areamap_areas`` (exact): map[0..map_used] lists the chunk's areas in
  order: the hidden head and tail and every live area in use, every maximal
  free run as one free entry, and the end sentinel (in use) at the unit end.
- ``inv_areamap_contig_hint`` (at least the truth): the 4.12 header says the
  chunk's contig_hint is equal to or larger than its largest free area, so
  that a chunk is skipped only when nothing fits.
- ``inv_areamap_first_free`` (lower bound): no free entry before
  ``first_free``, where pcpu_alloc_area() starts scanning.
- ``inv_areamap_map_room`` (exact): map_used + 1 <= map_alloc, the sentinel
  inside the array.
- ``inv_areamap_chunk_slot`` (exact): the 4.12 slot rule, by free size (the
  bitmap allocator's inv_chunk_slot goes by contig_hint instead).

Slack: a miss is allowed when no aligned fit exists (on populated pages for
atomic requests), or for an atomic request when the chunk's map had fewer
than 3 spare entries before the call (pcpu_need_to_extend(): atomic requests
cannot grow the map and skip the chunk).  contig_hint never under-reports, so
there is no page or alignment slack.
"""

from __future__ import annotations

from typing import Any

from model.chunk import ModelChunk
from properties.bookkeeping import size_slot, slot_check
from properties.registry import EXACT, LOWER, Property
from properties.slack import _populated_view

AT_LEAST = "at least the truth"
ATOMIC_MAP_MARGIN = 3

Result = tuple[object, object, str] | None
AREAMAP_PROPERTIES: dict[str, Property] = {}


def _prop(kind: str):  # type: ignore[no-untyped-def]
    def deco(fn):  # type: ignore[no-untyped-def]
        AREAMAP_PROPERTIES[fn.__name__] = Property(fn.__name__, kind, "areamap_state", fn)
        return fn

    return deco


def expected_map(mc: ModelChunk) -> list[int]:
    """The map entries (byte offset | in-use bit) the model's state calls for, sentinel included."""
    out: list[int] = []
    if mc.region_start:
        out.append(0 | 1)
    u = mc.region_start
    while u < mc.region_end:
        if u in mc.live:
            out.append(u * 4 | 1)
            u += mc.live[u]
            continue
        out.append(u * 4)
        while u < mc.region_end and not mc.used[u]:
            u += 1
        if u < mc.region_end and u not in mc.live:
            raise AssertionError(f"model: unit {u} in use but no live area starts there")
    if mc.region_end < mc.nbits:
        out.append(mc.region_end * 4 | 1)
    out.append(mc.nbits * 4 | 1)
    return out


@_prop(EXACT)
def inv_areamap_areas(pcpu: Any, chunk: Any, mc: ModelChunk) -> Result:
    """percpu.c (4.12) pcpu_alloc_area()/pcpu_free_area(): the map lists exactly the chunk's areas."""
    got = chunk.map[: chunk.map_used + 1]
    want = expected_map(mc)
    if got != want:
        return want, got, "map[0..map_used] as offset|in_use"
    return None


@_prop(AT_LEAST)
def inv_areamap_contig_hint(pcpu: Any, chunk: Any, mc: ModelChunk) -> Result:
    """percpu.c (4.12) header: contig_hint is equal to or larger than the largest free area."""
    largest = max((r.length for r in mc.runs(mc.region_start, mc.region_end)), default=0) * 4
    if chunk.contig_hint < largest:
        return f">= {largest}", chunk.contig_hint, "bytes"
    return None


@_prop(LOWER)
def inv_areamap_first_free(pcpu: Any, chunk: Any, mc: ModelChunk) -> Result:
    """percpu.c (4.12) pcpu_alloc_area(): no free area before map[first_free]."""
    for i in range(min(chunk.first_free, chunk.map_used)):
        if not chunk.map[i] & 1:
            return f"no free entry before {chunk.first_free}", f"free entry {i}", ""
    return None


@_prop(EXACT)
def inv_areamap_chunk_slot(pcpu: Any, chunk: Any, mc: ModelChunk) -> Result:
    """4.12 pcpu_chunk_relocate(): a chunk sits on the slot of its free size (0 when nothing usable)."""
    if chunk.free_bytes < 4 or chunk.contig_hint < 4:
        return slot_check(pcpu, chunk, 0)
    return slot_check(pcpu, chunk, size_slot(pcpu, chunk.free_bytes))


@_prop(EXACT)
def inv_areamap_map_room(pcpu: Any, chunk: Any, mc: ModelChunk) -> Result:
    """percpu.c (4.12) pcpu_extend_area_map(): the sentinel map[map_used] lies inside map_alloc."""
    if chunk.map_used + 1 > chunk.map_alloc or len(chunk.map) != chunk.map_alloc:
        return f"map_used + 1 <= map_alloc = {len(chunk.map)}", (chunk.map_used, chunk.map_alloc), ""
    return None


def snapshot(chunks: list[Any]) -> dict[int, int]:
    """Spare map entries per chunk before a call."""
    return {c.id: c.map_alloc - c.map_used for c in chunks}


def miss_allowed(
    mc: ModelChunk, units: int, align_units: int, *, populated_only: int | None = None,
    isolated: bool = False, demoted: bool = False, spare_entries: int | None = None,
) -> tuple[bool, str]:
    """Whether the area map may miss every fit of the request in this chunk, and why."""
    view = mc if populated_only is None else _populated_view(mc, populated_only)
    fits = view.fits(units, align_units)
    if not fits:
        return True, "no-fit"
    if populated_only is not None and spare_entries is not None and spare_entries < ATOMIC_MAP_MARGIN:
        return True, "map-margin"
    return False, f"first fit at unit {fits[0]} for {units} units at alignment {align_units}"


def state_flags(c: Any, mc: ModelChunk) -> tuple[str, ...]:
    """The interesting states of one area-map chunk."""
    flags = []
    if c.free_bytes == 0 or c.contig_hint < 4:
        flags.append("state_full_chunk")
    if len(mc.runs()) >= 3:
        flags.append("state_fragmented")
    if c.map_alloc > 16:
        flags.append("state_map_extended")
    if c.first_free > 1:
        flags.append("state_first_free_advanced")
    return tuple(flags)
