"""The simulated machine under the allocator: pages, vmalloc space, gfp flags.

This is harness code, not a port: it stands in for the page allocator,
vmalloc and the memory the allocator hands out, with hooks to inject
failures.  Addresses are plain ints in a 64-bit kernel-like layout.  Each
page holds real bytes so that properties can check zeroing and isolation
between CPUs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# gfp flags (values are the harness's own; only their meaning matters)
_GFP_DIRECT_RECLAIM = 0x1
_GFP_IO = 0x2
_GFP_FS = 0x4
_GFP_NOWARN = 0x8
_GFP_NORETRY = 0x10
_GFP_NOFAIL = 0x20
_GFP_ACCOUNT = 0x40
_GFP_HIGHMEM = 0x80
_GFP_HIGH = 0x100
GFP_KERNEL = _GFP_DIRECT_RECLAIM | _GFP_IO | _GFP_FS
GFP_ATOMIC = _GFP_HIGH
GFP_NOWAIT = 0


def gfpflags_allow_blocking(gfp: int) -> bool:
    """Port of include/linux/gfp.h: gfpflags_allow_blocking()."""
    return bool(gfp & _GFP_DIRECT_RECLAIM)


class page:
    """Stand-in for struct page: its bytes and the ``index`` field percpu uses."""

    __slots__ = ("pfn", "data", "index")

    def __init__(self, pfn: int, size: int) -> None:
        self.pfn = pfn
        self.data = bytearray(size)
        self.index: Any = None


@dataclass
class vm_struct:
    """Stand-in for struct vm_struct: a reserved range of vmalloc space."""

    addr: int
    size: int


@dataclass
class Machine:
    """Pages, address spaces and fault injection for one simulated boot."""

    page_size: int
    vmalloc_start: int = 0xFFFFE8E500000000
    direct_map_start: int = 0xFFFF888000000000
    next_pfn: int = 0x100000
    vmalloc_next: int = 0
    # failure injection: number of upcoming failures of each kind
    fail_page_allocs: int = 0
    fail_chunk_allocs: int = 0
    fail_vm_areas: int = 0
    # address -> page for every mapped page (vmalloc and direct map)
    mapped: dict[int, page] = field(default_factory=dict)
    pages_in_use: int = 0
    # byte ranges written, mapped or unmapped since the harness last looked, by page address
    dirty: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    map_events: int = 0

    def __post_init__(self) -> None:
        self.vmalloc_next = self.vmalloc_start

    # ------------------------------------------------------------- pages
    def alloc_page(self) -> page | None:
        """One zeroed page, or None when a failure was injected."""
        if self.fail_page_allocs > 0:
            self.fail_page_allocs -= 1
            return None
        pg = page(self.next_pfn, self.page_size)
        self.next_pfn += 1
        self.pages_in_use += 1
        return pg

    def direct_map_page(self, addr: int) -> page:
        """The page the direct map shows at ``addr`` (its pfn follows from the address), made on first use."""
        pg = page((addr - self.direct_map_start) // self.page_size, self.page_size)
        self.pages_in_use += 1
        return pg

    def is_vmalloc_addr(self, addr: int) -> bool:
        """Stand-in for include/linux/mm.h: is_vmalloc_addr()."""
        return addr >= self.vmalloc_start

    def pa(self, addr: int) -> int:
        """Stand-in for __pa(): a direct-map address to its physical address."""
        return addr - self.direct_map_start

    def page_to_phys(self, pg: page) -> int:
        return pg.pfn * self.page_size

    def free_page(self, pg: page) -> None:
        self.pages_in_use -= 1

    def take_chunk_alloc_failure(self) -> bool:
        """Whether the next chunk-struct allocation should fail (consumes one)."""
        if self.fail_chunk_allocs > 0:
            self.fail_chunk_allocs -= 1
            return True
        return False

    def alloc_contig_pages(self, nr: int) -> list[page] | None:
        """``nr`` physically contiguous pages (alloc_pages of an order), or None."""
        if self.fail_page_allocs > 0:
            self.fail_page_allocs -= 1
            return None
        pages = [page(self.next_pfn + i, self.page_size) for i in range(nr)]
        self.next_pfn += nr
        self.pages_in_use += nr
        return pages

    def map_contig(self, pages: list[page]) -> int:
        """Maps contiguous pages in the direct map; returns the first one's address."""
        base = self.direct_map_start + pages[0].pfn * self.page_size
        for i, pg in enumerate(pages):
            self.map_page(base + i * self.page_size, pg)
        return base

    def free_contig(self, base: int, pages: list[page]) -> None:
        for i in range(len(pages)):
            self.unmap_page(base + i * self.page_size)
        self.pages_in_use -= len(pages)

    # ----------------------------------------------------------- mapping
    def map_page(self, addr: int, pg: page) -> None:
        if addr in self.mapped:
            raise AssertionError(f"double map at {addr:#x}")
        self.mapped[addr] = pg
        self.dirty.setdefault(addr, []).append((addr, addr + self.page_size))
        self.map_events += 1

    def unmap_page(self, addr: int) -> page:
        self.dirty.setdefault(addr, []).append((addr, addr + self.page_size))
        self.map_events += 1
        return self.mapped.pop(addr)

    def vmalloc_to_page(self, addr: int) -> page | None:
        return self.mapped.get(addr - addr % self.page_size)

    def get_vm_areas(
        self, offsets: list[int], sizes: list[int], nr_vms: int, align: int
    ) -> list[vm_struct] | None:
        """Stand-in for mm/vmalloc.c: pcpu_get_vm_areas(); congruent areas.

        Reserves one range so that ``area[i].addr - offsets[i]`` is the same
        base for every group, aligned to ``align``.
        """
        if self.fail_vm_areas > 0:
            self.fail_vm_areas -= 1
            return None
        lo = min(offsets[:nr_vms])
        hi = max(o + s for o, s in zip(offsets[:nr_vms], sizes[:nr_vms], strict=True))
        base = self.vmalloc_next - lo
        base = (base + align - 1) // align * align
        self.vmalloc_next = base + hi + align  # leave a guard gap
        return [vm_struct(base + offsets[i], sizes[i]) for i in range(nr_vms)]

    # ------------------------------------------------------------ memory
    def read(self, addr: int, size: int) -> bytes:
        out = bytearray()
        while size > 0:
            pg = self.vmalloc_to_page(addr)
            if pg is None:
                raise MemoryError(f"read of unmapped address {addr:#x}")
            o = addr % self.page_size
            n = min(size, self.page_size - o)
            out += pg.data[o : o + n]
            addr += n
            size -= n
        return bytes(out)

    def write(self, addr: int, data: bytes) -> None:
        i = 0
        while i < len(data):
            pg = self.vmalloc_to_page(addr + i)
            if pg is None:
                raise MemoryError(f"write to unmapped address {addr + i:#x}")
            o = (addr + i) % self.page_size
            n = min(len(data) - i, self.page_size - o)
            pg.data[o : o + n] = data[i : i + n]
            self.dirty.setdefault(addr + i - o, []).append((addr + i, addr + i + n))
            i += n

    def memset(self, addr: int, value: int, size: int) -> None:
        self.write(addr, bytes([value]) * size)

