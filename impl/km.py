"""Port of mm/percpu-km.c (Linux 6.12): contiguous, fully populated chunks."""

from __future__ import annotations

from typing import TYPE_CHECKING

from impl.internal import pcpu_chunk
from impl.kernel import page

if TYPE_CHECKING:
    from impl.percpu import Percpu


def order_base_2(n: int) -> int:
    """Port of include/linux/log2.h: order_base_2(); ceil(log2(n)), 0 for n <= 1."""
    return (n - 1).bit_length() if n > 1 else 0


class KmBackend:
    """The km backend: each chunk is one physically contiguous page block."""

    name = "km"

    def pcpu_post_unmap_tlb_flush(self, pcpu: Percpu, chunk: pcpu_chunk, page_start: int, page_end: int) -> None:
        """Port of mm/percpu-km.c: pcpu_post_unmap_tlb_flush(); nothing to do."""

    def pcpu_populate_chunk(self, pcpu: Percpu, chunk: pcpu_chunk, page_start: int, page_end: int, gfp: int) -> int:
        """Port of mm/percpu-km.c: pcpu_populate_chunk(); always already populated."""
        return 0

    def pcpu_depopulate_chunk(self, pcpu: Percpu, chunk: pcpu_chunk, page_start: int, page_end: int) -> None:
        """Port of mm/percpu-km.c: pcpu_depopulate_chunk(); never gives pages back."""

    def pcpu_create_chunk(self, pcpu: Percpu, gfp: int) -> pcpu_chunk | None:
        """Port of mm/percpu-km.c: pcpu_create_chunk().

        Takes a power-of-two block of pages for all units at once, maps it
        contiguously and marks the whole chunk populated.
        """
        nr_pages = pcpu.pcpu_group_sizes[0] // pcpu.geo.PAGE_SIZE

        chunk = pcpu.pcpu_alloc_chunk(gfp)
        if not chunk:
            return None

        pages = pcpu.machine.alloc_contig_pages(1 << order_base_2(nr_pages))
        if not pages:
            pcpu.pcpu_free_chunk(chunk)
            return None

        for i in range(nr_pages):
            pcpu.pcpu_set_page_chunk(pages[i], chunk)

        chunk.data = pages
        chunk.base_addr = pcpu.machine.map_contig(pages)

        pcpu.pcpu_chunk_populated(chunk, 0, chunk.nr_pages)

        pcpu.pcpu_stats_chunk_alloc()
        pcpu.trace("percpu_create_chunk", base_addr=chunk.base_addr)

        return chunk

    def pcpu_destroy_chunk(self, pcpu: Percpu, chunk: pcpu_chunk | None) -> None:
        """Port of mm/percpu-km.c: pcpu_destroy_chunk()."""
        if not chunk:
            return

        pcpu.pcpu_stats_chunk_dealloc()
        pcpu.trace("percpu_destroy_chunk", base_addr=chunk.base_addr)

        if chunk.data:
            pcpu.machine.free_contig(chunk.base_addr, chunk.data)
        pcpu.pcpu_free_chunk(chunk)

    def pcpu_addr_to_page(self, pcpu: Percpu, addr: int) -> page | None:
        """Port of mm/percpu-km.c: pcpu_addr_to_page(); virt_to_page()."""
        return pcpu.machine.vmalloc_to_page(addr)

    def pcpu_should_reclaim_chunk(self, pcpu: Percpu, chunk: pcpu_chunk) -> bool:
        """Port of mm/percpu-km.c: pcpu_should_reclaim_chunk(); km never reclaims."""
        return False
