"""The naive reference for one chunk: a flag per allocation unit, linear scans.

Nothing here is clever on purpose.  A chunk is a byte per allocation unit
(1 = in use, 0 = free) over ``nbits`` units of 4 bytes, the set of live areas, and the
half-open region ``[region_start, region_end)`` of units this chunk may hand
out.  Units outside the region are permanently in use, as the kernel hides
them.  Every answer is computed from the flags each time it is asked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_FREE_RUN = re.compile(b"\x00+")


@dataclass(frozen=True)
class Run:
    """A maximal run of free units: ``start`` and ``length`` in units."""

    start: int
    length: int

    @property
    def end(self) -> int:
        return self.start + self.length


@dataclass(frozen=True)
class BlockTruth:
    """What the hints of one block (or of the whole chunk) should say."""

    largest: int
    largest_starts: tuple[int, ...]
    left_free: int
    right_free: int
    first_free: int
    free_units: int


@dataclass
class ModelChunk:
    """A chunk as a plain list of in-use flags plus its live areas."""

    nbits: int
    block_bits: int
    region_start: int
    region_end: int
    used: bytearray = field(default_factory=bytearray)
    live: dict[int, int] = field(default_factory=dict)  # start unit -> length
    version: int = 0

    def __post_init__(self) -> None:
        if not self.used:
            self.used = bytearray(
                0 if self.region_start <= i < self.region_end else 1 for i in range(self.nbits)
            )

    # ----------------------------------------------------------- queries
    def in_region(self, start: int, length: int) -> bool:
        return self.region_start <= start and start + length <= self.region_end

    def is_free(self, start: int, length: int) -> bool:
        if start < 0 or start + length > self.nbits:
            return False
        return self.used.find(1, start, start + length) == -1

    def area_allowed(self, start: int, length: int, align_units: int) -> str | None:
        """None if [start, start+length) may be handed out; else the reason."""
        if length <= 0:
            return "empty area"
        if start % align_units:
            return f"offset {start} not aligned to {align_units} units"
        if not self.in_region(start, length):
            return f"area [{start}, {start + length}) outside region [{self.region_start}, {self.region_end})"
        if not self.is_free(start, length):
            return f"area [{start}, {start + length}) overlaps a live area"
        return None

    def fits(self, length: int, align_units: int, lo: int = 0, hi: int | None = None) -> list[int]:
        """Every aligned start where ``length`` free units fit, within [lo, hi)."""
        hi = self.nbits if hi is None else hi
        out = []
        for run in self.runs(lo, hi):
            start = (run.start + align_units - 1) // align_units * align_units
            while start + length <= run.end:
                out.append(start)
                start += align_units
        return out

    def runs(self, lo: int = 0, hi: int | None = None) -> list[Run]:
        """Maximal free runs inside [lo, hi), cut at the window's edges."""
        hi = self.nbits if hi is None else hi
        return [Run(m.start(), m.end() - m.start()) for m in _FREE_RUN.finditer(self.used, lo, hi)]

    def truth(self, lo: int, hi: int) -> BlockTruth:
        """The true hint values of the window [lo, hi), relative to ``lo``."""
        runs = self.runs(lo, hi)
        largest = max((r.length for r in runs), default=0)
        starts = tuple(r.start - lo for r in runs if r.length == largest and largest)
        left = runs[0].length if runs and runs[0].start == lo else 0
        right = runs[-1].length if runs and runs[-1].end == hi else 0
        first = runs[0].start - lo if runs else hi - lo
        return BlockTruth(largest, starts, left, right, first, sum(r.length for r in runs))

    def block_truth(self, index: int) -> BlockTruth:
        lo = index * self.block_bits
        return self.truth(lo, lo + self.block_bits)

    def chunk_truth(self) -> BlockTruth:
        return self.truth(0, self.nbits)

    def free_units(self) -> int:
        return self.used.count(0)

    # ---------------------------------------------------------- mutation
    def alloc(self, start: int, length: int) -> None:
        if not self.is_free(start, length):
            raise AssertionError(f"model: [{start}, {start + length}) already in use")
        self.used[start : start + length] = b"\x01" * length
        self.live[start] = length
        self.version += 1

    def free(self, start: int) -> int:
        length = self.live.pop(start)
        self.used[start : start + length] = bytes(length)
        self.version += 1
        return length
