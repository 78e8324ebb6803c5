"""SVG pictures of chunk state, for pasting into a review.

Per chunk: one strip per block showing the alloc_map (used, free, hidden
outside the chunk's region) and whether the block's page is populated.
Under each strip, one lane per hint, the port's claimed value drawn as a
filled bar and the value recomputed from the model drawn as an outline
beside it; a lane whose claimed value is wrong is red and labelled with
both values.  first_free is a tick.  A last strip shows the whole chunk
with chunk_md's hints the same way.

Pure Python, no dependencies: the output is a standalone SVG 1.1 file.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from model.chunk import BlockTruth, ModelChunk
from properties.harness import Harness

STRIP_W = 768  # pixels for one block (or the whole chunk) strip
LABEL_W = 70
NOTE_W = 330
LANE_H = 9
STRIP_H = 16
USED, FREE, HIDDEN = "#4a4a4a", "#f4f4f4", "#c9c9c9"
COLOURS = {"contig": "#1f77b4", "scan": "#ff7f0e", "left": "#6a3d9a", "right": "#2ca02c", "first_free": "#000000"}
WRONG = "#d62728"


@dataclass
class _Lane:
    name: str
    claimed: tuple[int, int]  # (start, length) in the strip's bits; length 0 = empty
    true: tuple[int, int] | None  # None: no single true value (scan_hint)
    ok: bool
    note: str


def _lanes(md: object, t: BlockTruth, nbits: int, scan_ok: bool, chunk_bits: int = 0) -> list[_Lane]:
    """The hint lanes of one record; ``chunk_bits`` (the block size) marks chunk_md.

    chunk_md keeps no exact left/right_free, and its contig_hint may lag the
    truth by up to a block (inv_chunk_contig_hint_slack), which the note says.
    """
    ch, cs = md.contig_hint, md.contig_hint_start  # type: ignore[attr-defined]
    ts = t.largest_starts[0] if t.largest_starts else 0
    contig_ok = ch == t.largest and (not ch or cs in t.largest_starts)
    sh, ss = md.scan_hint, md.scan_hint_start  # type: ignore[attr-defined]
    lf, rf, ff = md.left_free, md.right_free, md.first_free  # type: ignore[attr-defined]
    lanes = [
        _Lane("contig", (cs, ch), (ts, t.largest), contig_ok,
              f"contig {ch}@{cs}" + ("" if contig_ok else f"  true {t.largest}@{list(t.largest_starts)[:4]}")
              + (" (within slack)" if chunk_bits and not contig_ok and 0 <= t.largest - ch <= chunk_bits else "")),
        _Lane("scan", (ss, sh), None, scan_ok,
              f"scan {sh}@{ss}" + ("" if scan_ok else "  not a free area apart from contig")),
        _Lane("left", (0, lf), (0, t.left_free), lf == t.left_free,
              f"left_free {lf}" + ("" if lf == t.left_free else f"  true {t.left_free}")),
        _Lane("right", (nbits - rf, rf), (nbits - t.right_free, t.right_free), rf == t.right_free,
              f"right_free {rf}" + ("" if rf == t.right_free else f"  true {t.right_free}")),
        _Lane("first_free", (ff, 0), (t.first_free, 0), ff == t.first_free,
              f"first_free {ff}" + ("" if ff == t.first_free else f"  true {t.first_free}")),
    ]
    if chunk_bits:
        lanes = [ln for ln in lanes if ln.name not in ("left", "right")]
    return lanes


def _scan_ok(md: object, mc: ModelChunk, lo: int) -> bool:
    sh, ss = md.scan_hint, md.scan_hint_start  # type: ignore[attr-defined]
    if not sh:
        return True
    ch, cs = md.contig_hint, md.contig_hint_start  # type: ignore[attr-defined]
    overlaps = ss < cs + ch and cs < ss + sh
    return mc.is_free(lo + ss, sh) and sh <= ch and not overlaps


class _Canvas:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.y = 0

    def rect(self, x: float, y: float, w: float, h: float, fill: str, stroke: str = "none", extra: str = "") -> None:
        self.parts.append(
            f'<rect x="{x:.2f}" y="{y:.2f}" width="{max(w, 0):.2f}" height="{h:.2f}" '
            f'fill="{fill}" stroke="{stroke}"{extra}/>'
        )

    def text(self, x: float, y: float, s: str, fill: str = "#000", size: int = 10, weight: str = "normal") -> None:
        self.parts.append(
            f'<text x="{x:.2f}" y="{y:.2f}" font-family="monospace" font-size="{size}" fill="{fill}" '
            f'font-weight="{weight}">{escape(s)}</text>'
        )

    def line(self, x1: float, y1: float, x2: float, y2: float, stroke: str, width: float = 1.5) -> None:
        self.parts.append(f'<line x1="{x1:.2f}" y1="{y1:.2f}" x2="{x2:.2f}" y2="{y2:.2f}" '
                          f'stroke="{stroke}" stroke-width="{width}"/>')


def _bits_strip(cv: _Canvas, mc: ModelChunk, lo: int, hi: int, x0: float, scale: float) -> None:
    """Run-length rectangles for units [lo, hi) of the model chunk."""
    def kind(u: int) -> str:
        if not mc.region_start <= u < mc.region_end:
            return HIDDEN
        return USED if mc.used[u] else FREE

    u = lo
    while u < hi:
        k = kind(u)
        v = u
        while v < hi and kind(v) == k:
            v += 1
        cv.rect(x0 + (u - lo) * scale, cv.y, (v - u) * scale, STRIP_H, k)
        u = v
    # one tick per unit when units are wide enough to tell apart
    if scale >= 4:
        for tick in range(1, hi - lo):
            cv.line(x0 + tick * scale, cv.y, x0 + tick * scale, cv.y + STRIP_H, "#999", 0.4)
    cv.rect(x0, cv.y, (hi - lo) * scale, STRIP_H, "none", "#333")


def _draw_lanes(cv: _Canvas, lanes: list[_Lane], x0: float, scale: float) -> None:
    for ln in lanes:
        colour = COLOURS[ln.name] if ln.ok else WRONG
        y = cv.y
        if ln.name == "first_free":
            x = x0 + ln.claimed[0] * scale
            cv.line(x, y, x, y + LANE_H, colour, 2.5)
            if ln.true is not None and not ln.ok:
                xt = x0 + ln.true[0] * scale
                cv.line(xt, y, xt, y + LANE_H, COLOURS["first_free"], 1)
        else:
            s, n = ln.claimed
            if n:
                cv.rect(x0 + s * scale, y + 1, n * scale, LANE_H / 2, colour)
            if ln.true is not None and ln.true[1] and not ln.ok:
                ts, tn = ln.true
                cv.rect(x0 + ts * scale, y + 1 + LANE_H / 2, tn * scale, LANE_H / 2 - 1, "none", COLOURS[ln.name],
                        ' stroke-dasharray="3,2"')
        cv.text(x0 + STRIP_W + 8, y + LANE_H - 1, ln.note, colour, 9, "normal" if ln.ok else "bold")
        cv.y += LANE_H + 1


def render_svg(h: Harness, title: str = "", note: str = "") -> str:
    """The state of every chunk of ``h`` as one standalone SVG document."""
    cv = _Canvas()
    cv.y = 18
    cv.text(6, cv.y, title or "percpu chunk state", size=13, weight="bold")
    if note:
        cv.y += 14
        cv.text(6, cv.y, note, WRONG, 10)
    cv.y += 10
    legend = [("used", USED), ("free", FREE), ("outside region", HIDDEN)] + [(k, v) for k, v in COLOURS.items()]
    x = 6.0
    for name, colour in legend + [("wrong (filled: port, dashed: truth)", WRONG)]:
        cv.rect(x, cv.y, 10, 10, colour, "#333")
        cv.text(x + 13, cv.y + 9, name, size=9)
        x += 18 + 6 * len(name)
    cv.y += 22
    bb = h.cfg.page_size // 4
    for c in h.pcpu.all_chunks():
        mc = h.model.chunks.get(c.id)
        if mc is None:
            continue
        cv.text(6, cv.y + 10, f"chunk#{c.id}  slot {h.pcpu.slot_of(c)}  free_bytes {c.free_bytes}"
                + ("  isolated" if c.isolated else ""), size=11, weight="bold")
        cv.y += 16
        scale = STRIP_W / bb
        for i, b in enumerate(c.md_blocks):
            pop = c.populated.test_bit(i)
            cv.text(6, cv.y + 12, f"b{i}", size=10)
            cv.rect(34, cv.y + 2, 12, 12, "#8fd18f" if pop else "#ffffff", "#333")
            cv.text(36, cv.y + 12, "P" if pop else "-", size=9)
            _bits_strip(cv, mc, i * bb, (i + 1) * bb, LABEL_W, scale)
            cv.y += STRIP_H + 2
            _draw_lanes(cv, _lanes(b, mc.block_truth(i), bb, _scan_ok(b, mc, i * bb)), LABEL_W, scale)
            cv.y += 6
        scale = STRIP_W / mc.nbits
        cv.text(6, cv.y + 12, "chunk", size=10, weight="bold")
        _bits_strip(cv, mc, 0, mc.nbits, LABEL_W, scale)
        for i in range(1, len(c.md_blocks)):
            cv.line(LABEL_W + i * bb * scale, cv.y - 2, LABEL_W + i * bb * scale, cv.y + STRIP_H + 2, "#000", 1)
        cv.y += STRIP_H + 2
        _draw_lanes(cv, _lanes(c.chunk_md, mc.chunk_truth(), mc.nbits, _scan_ok(c.chunk_md, mc, 0), bb), LABEL_W, scale)
        cv.y += 14
    width = LABEL_W + STRIP_W + NOTE_W
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{width}" height="{cv.y + 6}" '
            f'viewBox="0 0 {width} {cv.y + 6}">')
    return "\n".join([head, f'<rect width="{width}" height="{cv.y + 6}" fill="#ffffff"/>', *cv.parts, "</svg>"]) + "\n"
