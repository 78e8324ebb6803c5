"""Port of mm/percpu-vm.c (Linux 6.12): chunks in vmalloc space, pages on demand."""

from __future__ import annotations

from typing import TYPE_CHECKING

from impl.internal import pcpu_chunk
from impl.kernel import page

if TYPE_CHECKING:
    from impl.percpu import Percpu

PCPU_EMPTY_POP_PAGES_HIGH = 4


class VmBackend:
    """The vm backend: each chunk is a set of congruent vmalloc areas."""

    name = "vm"

    def pcpu_chunk_page(self, pcpu: Percpu, chunk: pcpu_chunk, cpu: int, page_idx: int) -> page | None:
        """Port of mm/percpu-vm.c: pcpu_chunk_page()."""
        assert not chunk.immutable
        return pcpu.machine.vmalloc_to_page(pcpu.pcpu_chunk_addr(chunk, cpu, page_idx))

    def pcpu_free_pages(
        self, pcpu: Percpu, chunk: pcpu_chunk, pages: dict[int, page], page_start: int, page_end: int
    ) -> None:
        """Port of mm/percpu-vm.c: pcpu_free_pages()."""
        for cpu in pcpu.possible_cpus:
            for i in range(page_start, page_end):
                pg = pages.pop(pcpu.pcpu_page_idx(cpu, i), None)
                if pg:
                    pcpu.machine.free_page(pg)

    def pcpu_alloc_pages(
        self, pcpu: Percpu, chunk: pcpu_chunk, pages: dict[int, page], page_start: int, page_end: int, gfp: int
    ) -> int:
        """Port of mm/percpu-vm.c: pcpu_alloc_pages(); all or nothing."""
        done: list[int] = []
        for cpu in pcpu.possible_cpus:
            for i in range(page_start, page_end):
                pg = pcpu.machine.alloc_page()
                if pg is None:
                    # unwind every page taken so far
                    for idx in done:
                        pcpu.machine.free_page(pages.pop(idx))
                    return -12  # -ENOMEM
                idx = pcpu.pcpu_page_idx(cpu, i)
                pages[idx] = pg
                done.append(idx)
        return 0

    def pcpu_unmap_pages(
        self, pcpu: Percpu, chunk: pcpu_chunk, pages: dict[int, page], page_start: int, page_end: int
    ) -> None:
        """Port of mm/percpu-vm.c: pcpu_unmap_pages(); collects the pages it unmaps."""
        for cpu in pcpu.possible_cpus:
            for i in range(page_start, page_end):
                pg = self.pcpu_chunk_page(pcpu, chunk, cpu, i)
                assert pg is not None, "unmapping a page that is not mapped"
                pages[pcpu.pcpu_page_idx(cpu, i)] = pg
                pcpu.machine.unmap_page(pcpu.pcpu_chunk_addr(chunk, cpu, i))

    def pcpu_map_pages(
        self, pcpu: Percpu, chunk: pcpu_chunk, pages: dict[int, page], page_start: int, page_end: int
    ) -> int:
        """Port of mm/percpu-vm.c: pcpu_map_pages(); records the chunk in each page."""
        for cpu in pcpu.possible_cpus:
            for i in range(page_start, page_end):
                pg = pages[pcpu.pcpu_page_idx(cpu, i)]
                pcpu.machine.map_page(pcpu.pcpu_chunk_addr(chunk, cpu, i), pg)
                pcpu.pcpu_set_page_chunk(pg, chunk)
        return 0

    def pcpu_populate_chunk(self, pcpu: Percpu, chunk: pcpu_chunk, page_start: int, page_end: int, gfp: int) -> int:
        """Port of mm/percpu-vm.c: pcpu_populate_chunk(); 0 or -ENOMEM."""
        pages = pcpu.pcpu_get_pages()
        if self.pcpu_alloc_pages(pcpu, chunk, pages, page_start, page_end, gfp):
            return -12
        if self.pcpu_map_pages(pcpu, chunk, pages, page_start, page_end):
            self.pcpu_free_pages(pcpu, chunk, pages, page_start, page_end)
            return -12
        # the temporary array only carries pages across; they now live in the map
        for cpu in pcpu.possible_cpus:
            for i in range(page_start, page_end):
                pages.pop(pcpu.pcpu_page_idx(cpu, i), None)
        return 0

    def pcpu_depopulate_chunk(self, pcpu: Percpu, chunk: pcpu_chunk, page_start: int, page_end: int) -> None:
        """Port of mm/percpu-vm.c: pcpu_depopulate_chunk(); unmap then free."""
        pages = pcpu.pcpu_get_pages()
        self.pcpu_unmap_pages(pcpu, chunk, pages, page_start, page_end)
        self.pcpu_free_pages(pcpu, chunk, pages, page_start, page_end)

    def pcpu_post_unmap_tlb_flush(self, pcpu: Percpu, chunk: pcpu_chunk, page_start: int, page_end: int) -> None:
        """Port of mm/percpu-vm.c: pcpu_post_unmap_tlb_flush(); nothing to flush here."""

    def pcpu_create_chunk(self, pcpu: Percpu, gfp: int) -> pcpu_chunk | None:
        """Port of mm/percpu-vm.c: pcpu_create_chunk(); a chunk over new vm areas."""
        chunk = pcpu.pcpu_alloc_chunk(gfp)
        if not chunk:
            return None

        vms = pcpu.machine.get_vm_areas(
            pcpu.pcpu_group_offsets, pcpu.pcpu_group_sizes, pcpu.pcpu_nr_groups, pcpu.pcpu_atom_size
        )
        if not vms:
            pcpu.pcpu_free_chunk(chunk)
            return None

        chunk.data = vms
        chunk.base_addr = vms[0].addr - pcpu.pcpu_group_offsets[0]

        pcpu.pcpu_stats_chunk_alloc()
        pcpu.trace("percpu_create_chunk", base_addr=chunk.base_addr)

        return chunk

    def pcpu_destroy_chunk(self, pcpu: Percpu, chunk: pcpu_chunk | None) -> None:
        """Port of mm/percpu-vm.c: pcpu_destroy_chunk()."""
        if not chunk:
            return

        pcpu.pcpu_stats_chunk_dealloc()
        pcpu.trace("percpu_destroy_chunk", base_addr=chunk.base_addr)

        chunk.data = None
        pcpu.pcpu_free_chunk(chunk)

    def pcpu_addr_to_page(self, pcpu: Percpu, addr: int) -> page | None:
        """Port of mm/percpu-vm.c: pcpu_addr_to_page()."""
        return pcpu.machine.vmalloc_to_page(addr)

    def pcpu_should_reclaim_chunk(self, pcpu: Percpu, chunk: pcpu_chunk) -> bool:
        """Port of mm/percpu-vm.c: pcpu_should_reclaim_chunk().

        Never the first or reserved chunk.  An isolated chunk with empty pages
        goes back to to_depopulate; otherwise a chunk qualifies when a quarter
        of its pages are empty and populated and the rest of the system still
        has more than PCPU_EMPTY_POP_PAGES_HIGH such pages.
        """
        if chunk is pcpu.pcpu_first_chunk or chunk is pcpu.pcpu_reserved_chunk:
            return False

        return bool(
            (chunk.isolated and chunk.nr_empty_pop_pages)
            or (
                pcpu.pcpu_nr_empty_pop_pages > (PCPU_EMPTY_POP_PAGES_HIGH + chunk.nr_empty_pop_pages)
                and chunk.nr_empty_pop_pages >= chunk.nr_pages // 4
            )
        )
