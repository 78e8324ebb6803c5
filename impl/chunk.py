"""Port of chunk creation, population bookkeeping and address lookup (mm/percpu.c)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from impl.bitmap import Bitmap, bitmap_clear, bitmap_fill, bitmap_set, set_bit
from impl.internal import PCPU_MIN_ALLOC_SIZE, pcpu_block_md, pcpu_chunk
from impl.kernel import page
from impl.klist import INIT_LIST_HEAD

if TYPE_CHECKING:
    from impl.percpu import Percpu


class KernelOops(Exception):
    """The kernel would have crashed or hit BUG() here."""


class ChunkMixin:
    """Chunk structures, their pages and the address arithmetic around them."""

    def pcpu_addr_in_chunk(self: Percpu, chunk: pcpu_chunk | None, addr: int) -> bool:
        """Port of mm/percpu.c: pcpu_addr_in_chunk(); inside the region the chunk serves."""
        if not chunk:
            return False

        start_addr = chunk.base_addr + chunk.start_offset
        end_addr = chunk.base_addr + chunk.nr_pages * self.geo.PAGE_SIZE - chunk.end_offset

        return start_addr <= addr < end_addr

    def pcpu_set_page_chunk(self: Percpu, pg: page, pcpu: pcpu_chunk) -> None:
        """Port of mm/percpu.c: pcpu_set_page_chunk(); the chunk is kept in page->index."""
        pg.index = pcpu

    def pcpu_get_page_chunk(self: Percpu, pg: page | None) -> pcpu_chunk:
        """Port of mm/percpu.c: pcpu_get_page_chunk()."""
        if pg is None:
            raise KernelOops("pcpu_get_page_chunk on a NULL page")
        return pg.index  # type: ignore[no-any-return]

    def pcpu_page_idx(self: Percpu, cpu: int, page_idx: int) -> int:
        """Port of mm/percpu.c: pcpu_page_idx()."""
        return self.pcpu_unit_map[cpu] * self.pcpu_unit_pages + page_idx

    def pcpu_unit_page_offset(self: Percpu, cpu: int, page_idx: int) -> int:
        """Port of mm/percpu.c: pcpu_unit_page_offset()."""
        return self.pcpu_unit_offsets[cpu] + (page_idx << self.geo.PAGE_SHIFT)

    def pcpu_chunk_addr(self: Percpu, chunk: pcpu_chunk, cpu: int, page_idx: int) -> int:
        """Port of mm/percpu.c: pcpu_chunk_addr(); address of a page of ``cpu``'s unit."""
        return chunk.base_addr + self.pcpu_unit_page_offset(cpu, page_idx)

    def pcpu_get_pages(self: Percpu) -> dict[int, page]:
        """Port of mm/percpu-vm.c: pcpu_get_pages(); the shared temporary page array."""
        return self._pcpu_pages

    def _new_chunk_struct(self: Percpu, nr_pages: int) -> pcpu_chunk:
        self._chunk_serial += 1
        chunk = pcpu_chunk(self._chunk_serial)
        chunk.nr_pages = nr_pages
        region_bits = self.pcpu_chunk_map_bits(chunk)
        chunk.alloc_map = Bitmap(region_bits)
        chunk.bound_map = Bitmap(region_bits + 1)
        chunk.md_blocks = [pcpu_block_md() for _ in range(self.pcpu_chunk_nr_blocks(chunk))]
        chunk.populated = Bitmap(nr_pages)
        return chunk

    def pcpu_alloc_first_chunk(self: Percpu, tmp_addr: int, map_size: int) -> pcpu_chunk:
        """Port of mm/percpu.c: pcpu_alloc_first_chunk().

        Builds a chunk for [tmp_addr, tmp_addr + map_size): the base is the
        page below ``tmp_addr`` and the end is rounded up to a page; the bits
        outside the region are marked allocated so no block is partial.
        """
        PAGE_SIZE = self.geo.PAGE_SIZE

        # region
        aligned_addr = tmp_addr & ~(PAGE_SIZE - 1)

        start_offset = tmp_addr - aligned_addr
        region_size = (start_offset + map_size + PAGE_SIZE - 1) // PAGE_SIZE * PAGE_SIZE

        chunk = self._new_chunk_struct(region_size >> self.geo.PAGE_SHIFT)
        INIT_LIST_HEAD(chunk.list)

        chunk.base_addr = aligned_addr
        chunk.start_offset = start_offset
        chunk.end_offset = region_size - chunk.start_offset - map_size

        region_bits = self.pcpu_chunk_map_bits(chunk)

        self.pcpu_init_md_blocks(chunk)

        # the first chunk is mapped and populated from the start
        chunk.immutable = True
        bitmap_fill(chunk.populated, chunk.nr_pages)
        chunk.nr_populated = chunk.nr_pages
        chunk.nr_empty_pop_pages = chunk.nr_pages

        chunk.free_bytes = map_size

        if chunk.start_offset:
            # hide the part below the region
            offset_bits = chunk.start_offset // PCPU_MIN_ALLOC_SIZE
            bitmap_set(chunk.alloc_map, 0, offset_bits)
            set_bit(0, chunk.bound_map)
            set_bit(offset_bits, chunk.bound_map)

            chunk.chunk_md.first_free = offset_bits

            self.pcpu_block_update_hint_alloc(chunk, 0, offset_bits)

        if chunk.end_offset:
            # hide the part above the region
            offset_bits = chunk.end_offset // PCPU_MIN_ALLOC_SIZE
            bitmap_set(chunk.alloc_map, self.pcpu_chunk_map_bits(chunk) - offset_bits, offset_bits)
            set_bit((start_offset + map_size) // PCPU_MIN_ALLOC_SIZE, chunk.bound_map)
            set_bit(region_bits, chunk.bound_map)

            self.pcpu_block_update_hint_alloc(
                chunk, self.pcpu_chunk_map_bits(chunk) - offset_bits, offset_bits
            )

        return chunk

    def pcpu_alloc_chunk(self: Percpu, gfp: int) -> pcpu_chunk | None:
        """Port of mm/percpu.c: pcpu_alloc_chunk(); an empty, unpopulated chunk."""
        if self.machine.take_chunk_alloc_failure():
            return None
        chunk = self._new_chunk_struct(self.pcpu_unit_pages)
        INIT_LIST_HEAD(chunk.list)

        self.pcpu_init_md_blocks(chunk)

        chunk.free_bytes = chunk.nr_pages * self.geo.PAGE_SIZE

        return chunk

    def pcpu_free_chunk(self: Percpu, chunk: pcpu_chunk | None) -> None:
        """Port of mm/percpu.c: pcpu_free_chunk(); the harness marks it dead."""
        if not chunk:
            return
        chunk.md_blocks = []
        self.dead_chunks.add(chunk.id)

    def pcpu_chunk_populated(self: Percpu, chunk: pcpu_chunk, page_start: int, page_end: int) -> None:
        """Port of mm/percpu.c: pcpu_chunk_populated(); bookkeeping after population."""
        nr = page_end - page_start

        bitmap_set(chunk.populated, page_start, nr)
        chunk.nr_populated += nr
        self.pcpu_nr_populated += nr

        self.pcpu_update_empty_pages(chunk, nr)

    def pcpu_chunk_depopulated(self: Percpu, chunk: pcpu_chunk, page_start: int, page_end: int) -> None:
        """Port of mm/percpu.c: pcpu_chunk_depopulated(); bookkeeping after depopulation."""
        nr = page_end - page_start

        bitmap_clear(chunk.populated, page_start, nr)
        chunk.nr_populated -= nr
        self.pcpu_nr_populated -= nr

        self.pcpu_update_empty_pages(chunk, -nr)

    def per_cpu_ptr_to_phys(self: Percpu, addr: int) -> int:
        """Port of mm/percpu.c: per_cpu_ptr_to_phys().

        An address inside some CPU's unit of the first chunk is translated
        with __pa() (or through its page if the first chunk sits in vmalloc
        space); any other through the backend's page lookup.
        """
        PAGE_SIZE = self.geo.PAGE_SIZE
        base = self._addr_to_pcpu_ptr(self.pcpu_base_addr)
        in_first_chunk = False

        # a cheap range test before the per-CPU one
        first_low = self.pcpu_base_addr + self.pcpu_unit_page_offset(self.pcpu_low_unit_cpu, 0)
        first_high = self.pcpu_base_addr + self.pcpu_unit_page_offset(self.pcpu_high_unit_cpu, self.pcpu_unit_pages)
        if addr >= first_low and addr < first_high:
            for cpu in self.possible_cpus:
                start = self.per_cpu_ptr(base, cpu)

                if addr >= start and addr < start + self.pcpu_unit_size:
                    in_first_chunk = True
                    break

        if in_first_chunk:
            if not self.machine.is_vmalloc_addr(addr):
                return self.machine.pa(addr)
            else:
                return self.machine.page_to_phys(self.machine.vmalloc_to_page(addr)) + addr % PAGE_SIZE  # type: ignore[arg-type]
        else:
            return self.machine.page_to_phys(self.backend.pcpu_addr_to_page(self, addr)) + addr % PAGE_SIZE

    def pcpu_chunk_addr_search(self: Percpu, addr: int) -> pcpu_chunk:
        """Port of mm/percpu.c: pcpu_chunk_addr_search().

        First and reserved chunks by address range; other chunks through the
        page backing the address in the current CPU's unit.
        """
        if self.pcpu_addr_in_chunk(self.pcpu_first_chunk, addr):
            return self.pcpu_first_chunk

        if self.pcpu_addr_in_chunk(self.pcpu_reserved_chunk, addr):
            return self.pcpu_reserved_chunk  # type: ignore[return-value]

        # unit 0 may be unmapped: look through the current CPU's unit
        addr += self.pcpu_unit_offsets[self.raw_smp_processor_id()]
        return self.pcpu_get_page_chunk(self.backend.pcpu_addr_to_page(self, addr))
