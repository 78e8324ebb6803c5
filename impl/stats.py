"""Port of mm/percpu-stats.c (Linux 6.12): the debugfs file /sys/kernel/debug/percpu_stats.

:func:`percpu_stats_show` returns the text a read of the file gives, field
for field and in the kernel's ``seq_printf`` formats, so a developer can
diff a harness state against a real machine.  Locks and the retry of the
buffer allocation are not modelled (one call at a time; a Python list
never fails to grow).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from impl.bitmap import find_last_bit, find_next_bit, test_bit
from impl.internal import PCPU_MIN_ALLOC_SIZE, pcpu_chunk
from impl.klist import list_for_each_entry

if TYPE_CHECKING:
    from impl.percpu import Percpu


def P(m: list[str], X: str, Y: int) -> None:
    """Port of mm/percpu-stats.c: P(); one ``  name : value`` line."""
    m.append(f"  {X:<20s}: {Y:12d}\n")


def find_max_nr_alloc(pcpu: Percpu) -> int:
    """Port of mm/percpu-stats.c: find_max_nr_alloc(); the most areas any listed chunk holds."""
    max_nr_alloc = 0
    for slot in range(pcpu.pcpu_nr_slots):
        for chunk in list_for_each_entry(pcpu.pcpu_chunk_lists[slot]):
            max_nr_alloc = max(max_nr_alloc, chunk.nr_alloc)

    return max_nr_alloc


def chunk_map_stats(pcpu: Percpu, m: list[str], chunk: pcpu_chunk, buffer: list[int]) -> None:
    """Port of mm/percpu-stats.c: chunk_map_stats().

    Walks the chunk from the start of its region to the end of its last
    allocation, recording allocations as positive and free fragments as
    negative byte counts, then reports fragmentation and the smallest,
    median and largest current allocation.
    """
    chunk_md = chunk.chunk_md
    # statistics
    sum_frag = 0
    max_frag = 0
    cur_min_alloc = 0
    cur_med_alloc = 0
    cur_max_alloc = 0

    alloc_sizes = buffer

    # find_last_bit() answers its size argument when no bit is set
    last_alloc = find_last_bit(
        chunk.alloc_map, pcpu.pcpu_chunk_map_bits(chunk) - chunk.end_offset // PCPU_MIN_ALLOC_SIZE - 1
    )
    last_alloc = last_alloc + 1 if test_bit(last_alloc, chunk.alloc_map) else 0

    as_len = 0
    start = chunk.start_offset // PCPU_MIN_ALLOC_SIZE

    # set bits end at the next bound bit; clear bits run to the next set bit
    while start < last_alloc:
        if test_bit(start, chunk.alloc_map):
            end = find_next_bit(chunk.bound_map, last_alloc, start + 1)
            value = 1
        else:
            end = find_next_bit(chunk.alloc_map, last_alloc, start + 1)
            value = -1

        value *= (end - start) * PCPU_MIN_ALLOC_SIZE
        if as_len < len(alloc_sizes):
            alloc_sizes[as_len] = value
        else:
            alloc_sizes.append(value)
        as_len += 1

        start = end

    # sorting puts the free fragments first, largest first
    if as_len > 0:
        alloc_sizes[:as_len] = sorted(alloc_sizes[:as_len])

        # the free fragments
        i = 0
        while i < as_len and alloc_sizes[i] < 0:
            sum_frag -= alloc_sizes[i]
            max_frag = max(max_frag, -1 * alloc_sizes[i])
            i += 1

        # the kernel reads one past the fragments even when no allocation follows
        cur_min_alloc = alloc_sizes[i] if i < len(alloc_sizes) else 0
        cur_med_alloc = alloc_sizes[(i + as_len - 1) // 2]
        cur_max_alloc = alloc_sizes[as_len - 1]

    P(m, "nr_alloc", chunk.nr_alloc)
    P(m, "max_alloc_size", chunk.max_alloc_size)
    P(m, "empty_pop_pages", chunk.nr_empty_pop_pages)
    P(m, "first_bit", chunk_md.first_free)
    P(m, "free_bytes", chunk.free_bytes)
    P(m, "contig_bytes", chunk_md.contig_hint * PCPU_MIN_ALLOC_SIZE)
    P(m, "sum_frag", sum_frag)
    P(m, "max_frag", max_frag)
    P(m, "cur_min_alloc", cur_min_alloc)
    P(m, "cur_med_alloc", cur_med_alloc)
    P(m, "cur_max_alloc", cur_max_alloc)
    m.append("\n")


def percpu_stats_show(pcpu: Percpu) -> str:
    """Port of mm/percpu-stats.c: percpu_stats_show(); the whole file as text."""
    m: list[str] = []
    max_nr_alloc = find_max_nr_alloc(pcpu)

    # room for every fragment, free and allocated
    buffer = [0] * (2 * max_nr_alloc + 1)

    ai = pcpu.pcpu_stats_ai
    m.append("Percpu Memory Statistics\nAllocation Info:\n----------------------------------------\n")
    for name in ("unit_size", "static_size", "reserved_size", "dyn_size", "atom_size", "alloc_size"):
        P(m, name, getattr(ai, name))  # PL()
    m.append("\n")

    s = pcpu.pcpu_stats
    m.append("Global Stats:\n----------------------------------------\n")
    for name in ("nr_alloc", "nr_dealloc", "nr_cur_alloc", "nr_max_alloc", "nr_chunks", "nr_max_chunks",
                 "min_alloc_size", "max_alloc_size"):
        P(m, name, getattr(s, name))  # PU()
    P(m, "empty_pop_pages", pcpu.pcpu_nr_empty_pop_pages)
    m.append("\n")

    m.append("Per Chunk Stats:\n----------------------------------------\n")

    if pcpu.pcpu_reserved_chunk:
        m.append("Chunk: <- Reserved Chunk\n")
        chunk_map_stats(pcpu, m, pcpu.pcpu_reserved_chunk, buffer)

    for slot in range(pcpu.pcpu_nr_slots):
        for chunk in list_for_each_entry(pcpu.pcpu_chunk_lists[slot]):
            if chunk is pcpu.pcpu_first_chunk:
                m.append("Chunk: <- First Chunk\n")
            elif slot == pcpu.pcpu_to_depopulate_slot:
                m.append("Chunk (to_depopulate)\n")
            elif slot == pcpu.pcpu_sidelined_slot:
                m.append("Chunk (sidelined):\n")
            else:
                m.append("Chunk:\n")
            chunk_map_stats(pcpu, m, chunk, buffer)

    return "".join(m)
