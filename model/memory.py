"""The model's per-CPU memory: every byte of every unit of every chunk, and a flag per page.

A percpu area at offset ``off`` of a chunk exists once per possible CPU, at
``off`` inside that CPU's unit.  The model keeps what each of those copies
must hold: zero when the allocator returns the area, then whatever was
written through that CPU's pointer.  Memory of a page nobody has written is
zero.  Units are laid out from a plain table ``cpu -> unit byte offset``
(the unit map the configuration fixes); nothing here knows the port.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class UnitMemory:
    """One chunk: a bytearray per CPU unit and a flag per page of the unit."""

    unit_size: int
    page_size: int
    cpus: tuple[int, ...]
    data: dict[int, bytearray] = field(default_factory=dict)
    populated: bytearray = field(default_factory=bytearray)

    def __post_init__(self) -> None:
        self.data = {cpu: bytearray(self.unit_size) for cpu in self.cpus}
        self.populated = bytearray(self.unit_size // self.page_size)

    def pages_of(self, off: int, size: int) -> range:
        return range(off // self.page_size, (off + max(size, 1) - 1) // self.page_size + 1)


class ModelMemory:
    """Per-CPU bytes for every chunk the model knows, laid out by a unit map."""

    def __init__(self, unit_offsets: dict[int, int], unit_size: int, page_size: int) -> None:
        self.unit_offsets = dict(unit_offsets)
        self.unit_size = unit_size
        self.page_size = page_size
        self.cpus = tuple(sorted(unit_offsets))
        self.chunks: dict[int, UnitMemory] = {}

    def add_chunk(self, chunk_id: int, size_bytes: int, populated_pages: range = range(0)) -> None:
        """A chunk whose units hold ``size_bytes`` bytes each (less than a unit for the first chunk)."""
        um = UnitMemory(size_bytes, self.page_size, self.cpus)
        for p in populated_pages:
            um.populated[p] = 1
        self.chunks[chunk_id] = um

    def drop_chunk(self, chunk_id: int) -> None:
        self.chunks.pop(chunk_id, None)

    def unit_addr(self, chunk_base: int, cpu: int, off: int) -> int:
        """Where byte ``off`` of a chunk based at ``chunk_base`` lives for ``cpu``."""
        return chunk_base + self.unit_offsets[cpu] + off

    def alloc(self, chunk_id: int, off: int, size: int) -> None:
        """A new area: zero on every CPU, on pages that are now populated."""
        um = self.chunks[chunk_id]
        for buf in um.data.values():
            buf[off : off + size] = bytes(size)
        for p in um.pages_of(off, size):
            um.populated[p] = 1

    def write(self, chunk_id: int, cpu: int, off: int, data: bytes) -> None:
        self.chunks[chunk_id].data[cpu][off : off + len(data)] = data

    def expected(self, chunk_id: int, cpu: int, off: int, size: int) -> bytes:
        return bytes(self.chunks[chunk_id].data[cpu][off : off + size])

    def set_populated(self, chunk_id: int, page: int, flag: bool) -> None:
        """A page comes or goes; a page that goes takes its bytes with it on every CPU."""
        um = self.chunks[chunk_id]
        um.populated[page] = int(flag)
        if not flag:
            lo = page * self.page_size
            for buf in um.data.values():
                buf[lo : lo + self.page_size] = bytes(self.page_size)

    def is_populated(self, chunk_id: int, page: int) -> bool:
        return bool(self.chunks[chunk_id].populated[page])


def pattern(handle: int, cpu: int, size: int) -> bytes:
    """A byte pattern distinct per (allocation, CPU) and never all zero."""
    seed = (handle * 131 + cpu * 17 + 1) & 0xFF or 1
    return bytes(((seed + i * 7) & 0xFF) or 0x5A for i in range(size))
