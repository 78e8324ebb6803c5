"""Port of mm/percpu-internal.h: the block metadata and chunk structures.

Field names are the kernel's.  Hints are counted in bits (one bit per
PCPU_MIN_ALLOC_SIZE bytes), exactly as in the kernel.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any

from impl.bitmap import Bitmap
from impl.klist import ListHead

PCPU_MIN_ALLOC_SHIFT = 2
PCPU_MIN_ALLOC_SIZE = 1 << PCPU_MIN_ALLOC_SHIFT

MD_FIELDS = (
    "scan_hint",
    "scan_hint_start",
    "contig_hint",
    "contig_hint_start",
    "left_free",
    "right_free",
    "first_free",
    "nr_bits",
)
_md_fields_of = operator.attrgetter(*MD_FIELDS)


class pcpu_block_md:
    """Port of mm/percpu-internal.h: struct pcpu_block_md.

    Hint metadata for one bitmap block, or for a whole chunk (``chunk_md``).
    All fields are in bits; starts are relative to the block.
    """

    __slots__ = MD_FIELDS

    def __init__(self) -> None:
        self.scan_hint: Any = 0
        self.scan_hint_start: Any = 0
        self.contig_hint: Any = 0
        self.contig_hint_start: Any = 0
        self.left_free: Any = 0
        self.right_free: Any = 0
        self.first_free: Any = 0
        self.nr_bits: Any = 0

    def as_tuple(self) -> tuple[int, ...]:
        """The fields in struct order, for comparisons and reports."""
        return _md_fields_of(self)  # type: ignore[no-any-return]

    def load(self, values: tuple[int, ...]) -> None:
        for f, v in zip(MD_FIELDS, values, strict=True):
            setattr(self, f, v)

    def __repr__(self) -> str:
        return "md(" + ", ".join(f"{f}={getattr(self, f)}" for f in MD_FIELDS) + ")"


class pcpu_chunk:
    """Port of mm/percpu-internal.h: struct pcpu_chunk.

    ``list`` is the chunk's node in the slot lists; ``id`` is a harness-only
    serial number used to name chunks in reports (the kernel names chunks by
    their address).
    """

    def __init__(self, chunk_id: int) -> None:
        self.id = chunk_id
        self.nr_alloc = 0
        self.max_alloc_size = 0
        self.list = ListHead(self)
        self.free_bytes = 0
        self.chunk_md = pcpu_block_md()
        self.bound_map = Bitmap(0)
        self.base_addr = 0
        self.alloc_map = Bitmap(0)
        self.md_blocks: list[pcpu_block_md] = []
        self.data: Any = None
        self.immutable = False
        self.isolated = False
        self.start_offset = 0
        self.end_offset = 0
        self.nr_pages = 0
        self.nr_populated = 0
        self.nr_empty_pop_pages = 0
        self.populated = Bitmap(0)

    def __repr__(self) -> str:
        return f"chunk#{self.id}"


@dataclass(frozen=True)
class Geometry:
    """Compile-time constants of one kernel build that tests may scale down.

    ``page_size`` sets PAGE_SIZE, hence PCPU_BITMAP_BLOCK_SIZE and
    PCPU_BITMAP_BLOCK_BITS; the real kernel uses 4096 (1024-bit blocks).
    ``min_unit_size`` is PCPU_MIN_UNIT_SIZE (32 KiB in the kernel) and
    ``dynamic_early_size`` PERCPU_DYNAMIC_EARLY_SIZE (20 << 10 without
    CONFIG_RANDOM_KMALLOC_CACHES, as in Debian's build):
    both may be scaled down with the page size so that small-block tests keep
    small chunks (see impl/DIVERGENCES.md).
    """

    page_size: int = 4096
    min_unit_size: int = 32 << 10
    dynamic_early_size: int = 20 << 10

    @property
    def PAGE_SIZE(self) -> int:
        return self.page_size

    @property
    def PAGE_SHIFT(self) -> int:
        return self.page_size.bit_length() - 1

    @property
    def PCPU_BITMAP_BLOCK_SIZE(self) -> int:
        return self.page_size

    @property
    def PCPU_BITMAP_BLOCK_BITS(self) -> int:
        return self.page_size >> PCPU_MIN_ALLOC_SHIFT

    def validate(self) -> None:
        ps = self.page_size
        if ps < 16 or ps & (ps - 1):
            raise ValueError(f"page_size {ps} must be a power of two >= 16")


def pcpu_chunk_nr_blocks(geo: Geometry, chunk: pcpu_chunk) -> int:
    """Port of mm/percpu-internal.h: pcpu_chunk_nr_blocks()."""
    return chunk.nr_pages * geo.PAGE_SIZE // geo.PCPU_BITMAP_BLOCK_SIZE


def pcpu_nr_pages_to_map_bits(geo: Geometry, pages: int) -> int:
    """Port of mm/percpu-internal.h: pcpu_nr_pages_to_map_bits()."""
    return pages * geo.PAGE_SIZE // PCPU_MIN_ALLOC_SIZE


def pcpu_chunk_map_bits(geo: Geometry, chunk: pcpu_chunk) -> int:
    """Port of mm/percpu-internal.h: pcpu_chunk_map_bits()."""
    return pcpu_nr_pages_to_map_bits(geo, chunk.nr_pages)
