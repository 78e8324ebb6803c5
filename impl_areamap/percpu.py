"""Port of the area-map chunk allocator of mm/percpu.c before the bitmap series (Linux 4.12).

Source: the lines PATCH 09/10 of "percpu: replace area map allocator with
bitmap allocator" removes (shared/seeds/003_85577c02b60da03b.txt) and
mm/percpu.c of Linux 4.12.  Each chunk keeps ``map``: a sorted array of
byte offsets, one per area, whose low bit says "in use"; entry
``map[map_used]`` is the end sentinel.  Allocation is first fit from
``first_free`` guarded by the chunk's ``contig_hint`` (never smaller than the
largest free area); freeing finds the entry by binary search and merges
neighbours with a memmove.  The map grows by doubling
(pcpu_need_to_extend/pcpu_extend_area_map).

Only the allocator inside a chunk and the entry points that call it are
replaced.  Chunk creation, population, the slot lists and the balance work
are the 6.12 port's (impl/), so both allocators run behind one interface and
the same harness judges them.  Divergences are listed in
impl_areamap/DIVERGENCES.md.
"""

from __future__ import annotations

from impl.alloc import PCPU_EMPTY_POP_PAGES_LOW, is_power_of_2
from impl.bitmap import find_next_bit, find_next_zero_bit, for_each_clear_bitrange_from
from impl.boot import PcpuConfig, boot
from impl.chunk import KernelOops
from impl.internal import PCPU_MIN_ALLOC_SIZE, pcpu_chunk
from impl.kernel import _GFP_NORETRY, _GFP_NOWARN, GFP_KERNEL, gfpflags_allow_blocking
from impl.klist import list_empty, list_for_each_entry, list_for_each_entry_safe
from impl.percpu import Percpu
from impl_areamap.prims import ALIGN, MAP_ENTRY_SIZE, memmove

PCPU_DFL_MAP_ALLOC = 16  # a new map has room for 16 entries
PCPU_ATOMIC_MAP_MARGIN_LOW = 32
PCPU_ATOMIC_MAP_MARGIN_HIGH = 64


class AreaMapPercpu(Percpu):
    """One boot whose chunks allocate with the pre-4.14 area map."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.pcpu_map_extend_chunks: list[pcpu_chunk] = []

    # ------------------------------------------------------------ map set-up
    def _init_area_map(self, chunk: pcpu_chunk, entries: list[int]) -> None:
        """Gives ``chunk`` a map holding ``entries`` (the last is the end sentinel)."""
        chunk.map_alloc = max(PCPU_DFL_MAP_ALLOC, len(entries))
        chunk.map = entries + [0] * (chunk.map_alloc - len(entries))
        chunk.map_used = len(entries) - 1
        chunk.first_free = 0
        chunk.on_map_extend_list = False

    def pcpu_alloc_first_chunk(self, tmp_addr: int, map_size: int) -> pcpu_chunk:
        """The 6.12 first chunk, plus an area map with the hidden head and tail in use.

        Linux 4.12 built the first chunk's map in pcpu_setup_first_chunk():
        the static (or reserved) part in use, then the free region, with the
        sentinel at the region end.  Here the region sits between the 6.12
        chunk's start_offset and end_offset, so the parts outside it are the
        in-use areas.
        """
        chunk = super().pcpu_alloc_first_chunk(tmp_addr, map_size)
        region_end = chunk.start_offset + map_size
        entries = []
        if chunk.start_offset:
            entries.append(0 | 1)
        entries.append(chunk.start_offset)
        if chunk.end_offset:
            entries.append(region_end | 1)
        entries.append(chunk.nr_pages * self.geo.PAGE_SIZE | 1)
        if not map_size:
            entries = [0 | 1, chunk.nr_pages * self.geo.PAGE_SIZE | 1]
        self._init_area_map(chunk, entries)
        chunk.contig_hint = map_size
        return chunk

    def pcpu_alloc_chunk(self, gfp: int) -> pcpu_chunk | None:
        """Port of mm/percpu.c (4.12): pcpu_alloc_chunk(); one free area over the whole unit."""
        chunk = super().pcpu_alloc_chunk(gfp)
        if not chunk:
            return None
        self._init_area_map(chunk, [0, self.pcpu_unit_size | 1])
        chunk.contig_hint = self.pcpu_unit_size
        return chunk

    # ---------------------------------------------------------------- slots
    def pcpu_chunk_slot(self, chunk: pcpu_chunk) -> int:
        """Port of mm/percpu.c (4.12): pcpu_chunk_slot(); by free size, 0 when nothing usable is left."""
        if chunk.free_bytes < MAP_ENTRY_SIZE or chunk.contig_hint < MAP_ENTRY_SIZE:
            return 0

        return self.pcpu_size_to_slot(chunk.free_bytes)

    # ----------------------------------------------------------- page counts
    def pcpu_count_occupied_pages(self, chunk: pcpu_chunk, i: int) -> int:
        """Port of mm/percpu.c (4.12): pcpu_count_occupied_pages().

        The pages area ``i`` covers, a partly covered page counting only if
        the free neighbour area covers the rest of it.
        """
        PAGE_SIZE = self.geo.PAGE_SIZE
        off = chunk.map[i] & ~1
        end = chunk.map[i + 1] & ~1

        if off % PAGE_SIZE and i > 0:
            prev = chunk.map[i - 1]

            if not (prev & 1) and prev <= off // PAGE_SIZE * PAGE_SIZE:
                off = off // PAGE_SIZE * PAGE_SIZE

        if end % PAGE_SIZE and i + 1 < chunk.map_used:
            next = chunk.map[i + 1]
            nend = chunk.map[i + 2] & ~1

            if not (next & 1) and nend >= ALIGN(end, PAGE_SIZE):
                end = ALIGN(end, PAGE_SIZE)

        return max(end // PAGE_SIZE - (off + PAGE_SIZE - 1) // PAGE_SIZE, 0)

    # ------------------------------------------------------------ extension
    def pcpu_need_to_extend(self, chunk: pcpu_chunk, is_atomic: bool) -> int:
        """Port of mm/percpu.c (4.12): pcpu_need_to_extend().

        Atomic requests need room for one split (3 entries) and queue an
        asynchronous extension when fewer than 32 are left; others want 64.
        Returns the new map length, or 0.
        """
        if is_atomic:
            margin = 3

            if chunk.map_alloc < chunk.map_used + PCPU_ATOMIC_MAP_MARGIN_LOW:
                if not chunk.on_map_extend_list:
                    chunk.on_map_extend_list = True
                    self.pcpu_map_extend_chunks.append(chunk)
                    self.pcpu_schedule_balance_work()
        else:
            margin = PCPU_ATOMIC_MAP_MARGIN_HIGH

        if chunk.map_alloc >= chunk.map_used + margin:
            return 0

        new_alloc = PCPU_DFL_MAP_ALLOC
        while new_alloc < chunk.map_used + margin:
            new_alloc *= 2

        return new_alloc

    def pcpu_extend_area_map(self, chunk: pcpu_chunk, new_alloc: int) -> int:
        """Port of mm/percpu.c (4.12): pcpu_extend_area_map(); 0, or -ENOMEM."""
        if self.machine.take_chunk_alloc_failure():
            return -12

        if new_alloc <= chunk.map_alloc:
            return 0

        new = chunk.map[: chunk.map_alloc] + [0] * (new_alloc - chunk.map_alloc)

        chunk.map_alloc = new_alloc
        chunk.map = new
        return 0

    # ------------------------------------------------------------ the map
    def pcpu_next_unpop(self, chunk: pcpu_chunk, rs: int, end: int) -> tuple[int, int]:
        """Port of mm/percpu.c (4.12): pcpu_next_unpop(); the next unpopulated page run from ``rs``."""
        rs = find_next_zero_bit(chunk.populated, end, rs)
        re = find_next_bit(chunk.populated, end, rs + 1)
        return rs, re

    def pcpu_fit_in_area(
        self, chunk: pcpu_chunk, off: int, this_size: int, size: int, align: int, pop_only: bool
    ) -> int:
        """Port of mm/percpu.c (4.12): pcpu_fit_in_area().

        The head padding that places ``size`` bytes at ``align`` in the free
        area [off, off + this_size), on populated pages only if ``pop_only``;
        -1 if it does not fit.
        """
        PAGE_SIZE = self.geo.PAGE_SIZE
        cand_off = off

        while True:
            head = ALIGN(cand_off, align) - off

            if this_size < head + size:
                return -1

            if not pop_only:
                return head

            # fits if no unpopulated page lies under it; else retry past the hole
            page_start = (head + off) // PAGE_SIZE
            page_end = (head + off + size + PAGE_SIZE - 1) // PAGE_SIZE

            rs = page_start
            rs, re = self.pcpu_next_unpop(chunk, rs, (off + this_size + PAGE_SIZE - 1) // PAGE_SIZE)
            if rs >= page_end:
                return head
            cand_off = re * PAGE_SIZE

    def pcpu_alloc_area(self, chunk: pcpu_chunk, size: int, align: int, pop_only: bool) -> tuple[int, int]:
        """Port of mm/percpu.c (4.12): pcpu_alloc_area().

        First fit from ``first_free``: splits the free area into head, the
        new in-use area and tail (memmove to insert the entries), refreshes
        contig_hint from what it scanned.  Returns (offset or -1, occupied
        pages).  The map must have two spare entries.
        """
        oslot = self.pcpu_chunk_slot(chunk)
        max_contig = 0
        seen_free = False

        i = chunk.first_free
        while i < chunk.map_used:
            off = chunk.map[i]
            if off & 1:
                i += 1
                continue

            this_size = (chunk.map[i + 1] & ~1) - off

            head = self.pcpu_fit_in_area(chunk, off, this_size, size, align, pop_only)
            if head < 0:
                if not seen_free:
                    chunk.first_free = i
                    seen_free = True
                max_contig = max(this_size, max_contig)
                i += 1
                continue

            # a tiny head, or a free area before: give the head to it
            if head and (head < MAP_ENTRY_SIZE or not (chunk.map[i - 1] & 1)):
                off += head
                chunk.map[i] = off
                if chunk.map[i - 1] & 1:
                    chunk.free_bytes -= head
                else:
                    max_contig = max(chunk.map[i] - chunk.map[i - 1], max_contig)
                this_size -= head
                head = 0

            # a tiny tail stays part of the area
            tail = this_size - head - size
            if tail < MAP_ENTRY_SIZE:
                tail = 0
                size = this_size - head

            # split
            if head or tail:
                nr_extra = (1 if head else 0) + (1 if tail else 0)

                # make room for the new entries
                memmove(chunk.map, i + nr_extra + 1, i + 1, MAP_ENTRY_SIZE * (chunk.map_used - i))
                chunk.map_used += nr_extra

                if head:
                    if not seen_free:
                        chunk.first_free = i
                        seen_free = True
                    off += head
                    i += 1
                    chunk.map[i] = off
                    max_contig = max(head, max_contig)
                if tail:
                    chunk.map[i + 1] = off + size
                    max_contig = max(tail, max_contig)

            if not seen_free:
                chunk.first_free = i + 1

            # hint and in-use flag
            if i + 1 == chunk.map_used:
                chunk.contig_hint = max_contig  # the whole map was scanned
            else:
                chunk.contig_hint = max(chunk.contig_hint, max_contig)

            chunk.free_bytes -= size
            chunk.map[i] |= 1

            occ_pages = self.pcpu_count_occupied_pages(chunk, i)
            self.pcpu_chunk_relocate(chunk, oslot)
            return off, occ_pages

        chunk.contig_hint = max_contig  # the whole map was scanned
        self.pcpu_chunk_relocate(chunk, oslot)

        # nothing fits in this chunk
        return -1, 0

    def pcpu_free_area(self, chunk: pcpu_chunk, freeme: int) -> int:  # type: ignore[override]
        """Port of mm/percpu.c (4.12): pcpu_free_area().

        Binary search for the in-use entry at ``freeme``, clear its flag,
        merge with free neighbours (memmove to drop entries).  Returns the
        occupied pages the kernel passes out through ``occ_pages_p``.
        """
        oslot = self.pcpu_chunk_slot(chunk)
        off = 0

        self.pcpu_stats_area_dealloc(chunk)

        freeme |= 1  # the entry is <offset, in use>

        i = 0
        j = chunk.map_used
        while i != j:
            k = (i + j) // 2
            off = chunk.map[k]
            if off < freeme:
                i = k + 1
            elif off > freeme:
                j = k
            else:
                i = j = k
        if off != freeme:
            raise KernelOops(f"pcpu_free_area: no in-use area at offset {freeme & ~1}")

        if i < chunk.first_free:
            chunk.first_free = i

        off &= ~1
        chunk.map[i] = off
        chunk.free_bytes += (chunk.map[i + 1] & ~1) - off

        occ_pages = self.pcpu_count_occupied_pages(chunk, i)

        to_free = 0
        # merge with the next area?
        if not (chunk.map[i + 1] & 1):
            to_free += 1
        # merge with the previous area?
        if i > 0 and not (chunk.map[i - 1] & 1):
            to_free += 1
            i -= 1
        if to_free:
            chunk.map_used -= to_free
            memmove(chunk.map, i + 1, i + 1 + to_free, (chunk.map_used - i) * MAP_ENTRY_SIZE)

        chunk.contig_hint = max(chunk.map[i + 1] - chunk.map[i] - 1, chunk.contig_hint)
        self.pcpu_chunk_relocate(chunk, oslot)
        return occ_pages

    # ---------------------------------------------------------- entry points
    def pcpu_alloc(self, size: int, align: int, reserved: bool, gfp: int = GFP_KERNEL) -> int | None:
        """Port of mm/percpu.c (4.12): pcpu_alloc().

        Walks the slots from the request's size class; a chunk is tried when
        its contig_hint covers the request and its map has room (a
        non-atomic request extends the map and restarts the walk).  Creates
        a chunk when nothing fits; populates the pages under the area.
        """
        pcpu_gfp = gfp & (GFP_KERNEL | _GFP_NORETRY | _GFP_NOWARN)
        is_atomic = not gfpflags_allow_blocking(gfp)
        do_warn = not (gfp & _GFP_NOWARN)

        # the low bit of an offset is the in-use flag: see DIVERGENCES A1 for the 4-byte rounding
        if align < PCPU_MIN_ALLOC_SIZE:
            align = PCPU_MIN_ALLOC_SIZE

        size = ALIGN(size, PCPU_MIN_ALLOC_SIZE)

        if not size or size > self.geo.min_unit_size or align > self.geo.PAGE_SIZE or not is_power_of_2(align):
            if do_warn:
                self.printk(f"illegal size ({size}) or align ({align}) for percpu allocation")
            self.last_alloc_err = "illegal size or align"
            return None

        occ_pages = 0
        chunk = None
        off = -1
        found = False

        # reserved requests go to the reserved chunk
        if reserved and self.pcpu_reserved_chunk:
            chunk = self.pcpu_reserved_chunk

            if size > chunk.contig_hint:
                err = "alloc from reserved chunk failed"
                return self._pcpu_alloc_fail(reserved, is_atomic, size, align, err, do_warn)

            while new_alloc := self.pcpu_need_to_extend(chunk, is_atomic):
                if is_atomic or self.pcpu_extend_area_map(chunk, new_alloc) < 0:
                    err = "failed to extend area map of reserved chunk"
                    return self._pcpu_alloc_fail(reserved, is_atomic, size, align, err, do_warn)

            off, occ_pages = self.pcpu_alloc_area(chunk, size, align, is_atomic)
            if off < 0:
                err = "alloc from reserved chunk failed"
                return self._pcpu_alloc_fail(reserved, is_atomic, size, align, err, do_warn)
            found = True

        while not found:  # the kernel's "restart:" label
            restart = False
            for slot in range(self.pcpu_size_to_slot(size), self.pcpu_free_slot + 1):
                for chunk in list_for_each_entry_safe(self.pcpu_chunk_lists[slot]):
                    if size > chunk.contig_hint:
                        continue

                    new_alloc = self.pcpu_need_to_extend(chunk, is_atomic)
                    if new_alloc:
                        if is_atomic:
                            continue
                        if self.pcpu_extend_area_map(chunk, new_alloc) < 0:
                            err = "failed to extend area map"
                            return self._pcpu_alloc_fail(reserved, is_atomic, size, align, err, do_warn)
                        restart = True
                        break

                    off, occ_pages = self.pcpu_alloc_area(chunk, size, align, is_atomic)
                    if off >= 0:
                        found = True
                        break
                if found or restart:
                    break
            if found or restart:
                continue

            # no space left: create a chunk unless a free one exists
            if is_atomic:
                err = "atomic alloc failed, no space left"
                return self._pcpu_alloc_fail(reserved, is_atomic, size, align, err, do_warn)

            if list_empty(self.pcpu_chunk_lists[self.pcpu_free_slot]):
                chunk = self.backend.pcpu_create_chunk(self, pcpu_gfp)
                if not chunk:
                    err = "failed to allocate new chunk"
                    return self._pcpu_alloc_fail(reserved, is_atomic, size, align, err, do_warn)
                self.pcpu_chunk_relocate(chunk, -1)
                self.chunks_created += 1

        assert chunk is not None
        # area_found:
        self.pcpu_stats_area_alloc(chunk, size)

        # populate the pages that are not there yet
        if not is_atomic:
            page_start = off // self.geo.PAGE_SIZE
            page_end = (off + size + self.geo.PAGE_SIZE - 1) // self.geo.PAGE_SIZE

            for rs, re in for_each_clear_bitrange_from(page_start, chunk.populated, page_end):
                if chunk.immutable:
                    self.printk("WARNING: populating an immutable chunk")

                ret = self.backend.pcpu_populate_chunk(self, chunk, rs, re, pcpu_gfp)

                if ret:
                    self.pcpu_free_area(chunk, off)
                    return self._pcpu_alloc_fail(reserved, is_atomic, size, align, "failed to populate", do_warn)
                self.pcpu_chunk_populated(chunk, rs, re)

        # 4.12 skipped the reserved chunk here; the 6.12 helper keeps it out of the global count itself
        self.pcpu_update_empty_pages(chunk, -occ_pages)

        if self.pcpu_nr_empty_pop_pages < PCPU_EMPTY_POP_PAGES_LOW:
            self.pcpu_schedule_balance_work()

        # clear the area on every CPU
        for cpu in self.possible_cpus:
            self.machine.memset(self.pcpu_chunk_addr(chunk, cpu, 0) + off, 0, size)

        ptr = self._addr_to_pcpu_ptr(chunk.base_addr + off)

        self.trace(
            "percpu_alloc_percpu", reserved=int(reserved), is_atomic=int(is_atomic),
            size=size, align=align, base_addr=chunk.base_addr, off=off, ptr=ptr,
        )
        self.last_alloc_err = ""
        return ptr

    def free_percpu(self, ptr: int | None) -> None:
        """Port of mm/percpu.c (4.12): free_percpu(); wakes the balance work if another free chunk exists."""
        if not ptr:
            return

        addr = self._pcpu_ptr_to_addr(ptr)
        chunk = self.pcpu_chunk_addr_search(addr)
        off = addr - chunk.base_addr

        before = chunk.free_bytes  # harness: the freed size, for diff_free_size
        occ_pages = self.pcpu_free_area(chunk, off)
        self.last_free_size = chunk.free_bytes - before

        self.pcpu_update_empty_pages(chunk, occ_pages)  # see pcpu_alloc(): reserved chunk kept out of the global count

        # more than one wholly free chunk: wake the reaper
        if chunk.free_bytes == self.pcpu_unit_size:
            for pos in list_for_each_entry(self.pcpu_chunk_lists[self.pcpu_free_slot]):
                if pos is not chunk:
                    self.pcpu_schedule_balance_work()
                    break

        self.trace("percpu_free_percpu", base_addr=chunk.base_addr, off=off, ptr=ptr)

    def pcpu_balance_workfn(self) -> None:
        """The 6.12 balance passes, after 4.12's service of chunks that asked for a bigger map."""
        while self.pcpu_map_extend_chunks:
            chunk = self.pcpu_map_extend_chunks.pop(0)
            chunk.on_map_extend_list = False
            new_alloc = self.pcpu_need_to_extend(chunk, False)
            if new_alloc:
                self.pcpu_extend_area_map(chunk, new_alloc)
        super().pcpu_balance_workfn()


def boot_areamap(cfg: PcpuConfig) -> AreaMapPercpu:
    """Boots an :class:`AreaMapPercpu` from ``cfg`` through the 6.12 set-up code."""
    return boot(cfg, AreaMapPercpu)  # type: ignore[return-value]
