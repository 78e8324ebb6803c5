"""The naive reference for the whole allocator: chunks, regions and live areas.

The model computes the layout of the first chunk from the configuration on
its own (static, reserved and dynamic sizes, page size), and learns only the
existence and size of dynamically created chunks from the run it judges.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from model.chunk import ModelChunk

MIN_ALLOC_BYTES = 4


@dataclass(frozen=True)
class Live:
    """One live allocation: where it is and what was asked for."""

    chunk_id: int
    start_unit: int
    units: int
    size_bytes: int
    align_bytes: int
    reserved: bool


def first_chunk_layout(
    page_size: int, static_size: int, region_size: int, prior_size: int
) -> tuple[int, int, int]:
    """(nbits, region_start, region_end) of a chunk serving ``region_size`` bytes.

    The region starts ``prior_size`` bytes into the first chunk's units
    (after the static area, rounded to 4 bytes, and any reserved area); the
    chunk's own base is the page holding that start, and its end is rounded
    up to a page.
    """
    static_aligned = -(-static_size // MIN_ALLOC_BYTES) * MIN_ALLOC_BYTES
    start_bytes = static_aligned + prior_size
    base_bytes = start_bytes // page_size * page_size
    lead_bytes = start_bytes - base_bytes
    span_bytes = -(-(lead_bytes + region_size) // page_size) * page_size
    return span_bytes // MIN_ALLOC_BYTES, lead_bytes // MIN_ALLOC_BYTES, (lead_bytes + region_size) // MIN_ALLOC_BYTES


@dataclass
class SystemModel:
    """Every chunk the allocator has, as plain flags, and every live area."""

    page_size: int
    chunks: dict[int, ModelChunk] = field(default_factory=dict)
    live: dict[int, Live] = field(default_factory=dict)  # handle -> area
    reserved_id: int | None = None
    first_id: int | None = None

    @property
    def block_units(self) -> int:
        return self.page_size // MIN_ALLOC_BYTES

    def add_first_chunks(
        self, static_size: int, reserved_size: int, dyn_size: int, reserved_id: int | None, first_id: int
    ) -> None:
        """Creates the reserved and dynamic parts of the first chunk.

        The dynamic area grows to the end of the page holding the first
        chunk's end (pcpu_build_alloc_info() rounds the sum of the three
        areas up to a page), and shrinks by what rounding the static area up
        to 4 bytes took (pcpu_setup_first_chunk()).
        """
        ps = self.page_size
        dyn_size = -(-(static_size + reserved_size + dyn_size) // ps) * ps - static_size - reserved_size
        static_aligned = -(-static_size // MIN_ALLOC_BYTES) * MIN_ALLOC_BYTES
        dyn_effective = dyn_size - (static_aligned - static_size)
        if reserved_size and reserved_id is not None:
            nbits, lo, hi = first_chunk_layout(self.page_size, static_size, reserved_size, 0)
            self.chunks[reserved_id] = ModelChunk(nbits, self.block_units, lo, hi)
            self.reserved_id = reserved_id
        nbits, lo, hi = first_chunk_layout(self.page_size, static_size, dyn_effective, reserved_size)
        self.chunks[first_id] = ModelChunk(nbits, self.block_units, lo, hi)
        self.first_id = first_id

    def add_chunk(self, chunk_id: int, unit_bytes: int) -> None:
        """A dynamically created chunk: the whole unit is free."""
        nbits = unit_bytes // MIN_ALLOC_BYTES
        self.chunks[chunk_id] = ModelChunk(nbits, self.block_units, 0, nbits)

    def drop_chunk(self, chunk_id: int) -> str | None:
        """A chunk was destroyed; returns why that was wrong, if it was."""
        mc = self.chunks.pop(chunk_id)
        if mc.live:
            return f"chunk#{chunk_id} destroyed with {len(mc.live)} live areas"
        return None

    def record_alloc(self, handle: int, area: Live) -> None:
        self.chunks[area.chunk_id].alloc(area.start_unit, area.units)
        self.live[handle] = area

    def record_free(self, handle: int) -> Live:
        area = self.live.pop(handle)
        self.chunks[area.chunk_id].free(area.start_unit)
        return area
