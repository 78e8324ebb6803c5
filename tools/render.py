"""Text pictures of chunk state: bitmap per block with hints drawn under it."""

from __future__ import annotations

from properties.harness import Harness


def _hint_row(width: int, start: int, length: int, ch: str) -> str:
    row = [" "] * width
    for i in range(max(start, 0), min(start + length, width)):
        row[i] = ch
    return "".join(row)


def render_text(h: Harness) -> str:
    """Each chunk: per block, ``#`` used / ``.`` free / ``x`` hidden, then the hints.

    Under each block: ``c`` marks the contig_hint, ``s`` the scan_hint, ``<``
    left_free, ``>`` right_free and ``^`` first_free as the port holds them;
    a line ``truth`` gives the model's values when they differ.
    """
    out = []
    for c in h.pcpu.all_chunks():
        mc = h.model.chunks.get(c.id)
        if mc is None:
            continue
        bb = mc.block_bits
        md = c.chunk_md
        out.append(
            f"chunk#{c.id} slot {h.pcpu.slot_of(c)} free_bytes {c.free_bytes} "
            f"chunk_md contig {md.contig_hint}@{md.contig_hint_start} scan {md.scan_hint}@{md.scan_hint_start} "
            f"first_free {md.first_free} (truth largest {mc.chunk_truth().largest})"
        )
        for i, b in enumerate(c.md_blocks):
            lo = i * bb
            bits = "".join(
                "x" if not (mc.region_start <= lo + k < mc.region_end) else ("#" if mc.used[lo + k] else ".")
                for k in range(bb)
            )
            pop = "P" if c.populated.test_bit(i) else "-"
            out.append(f"  b{i:<3d}{pop} |{bits}|")
            contig_row = _hint_row(bb, b.contig_hint_start, b.contig_hint, "c")
            out.append(f"        |{contig_row}| contig {b.contig_hint}@{b.contig_hint_start}")
            if b.scan_hint:
                scan_row = _hint_row(bb, b.scan_hint_start, b.scan_hint, "s")
                out.append(f"        |{scan_row}| scan {b.scan_hint}@{b.scan_hint_start}")
            edge = _hint_row(bb, 0, b.left_free, "<")
            edge = "".join(">" if bb - b.right_free <= k else ch for k, ch in enumerate(edge))
            out.append(f"        |{edge}| left {b.left_free} right {b.right_free} first_free {b.first_free}")
            t = mc.block_truth(i)
            claimed = (b.contig_hint, b.left_free, b.right_free, b.first_free)
            if (t.largest, t.left_free, t.right_free, t.first_free) != claimed:
                out.append(
                    f"        truth: contig {t.largest}@{list(t.largest_starts)} left {t.left_free} "
                    f"right {t.right_free} first_free {t.first_free}"
                )
    return "\n".join(out)
