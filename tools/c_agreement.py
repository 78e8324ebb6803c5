"""Port vs the kernel's own C, operation by operation: the agreement figure.

``python -m tools.c_agreement --ops 1000000 --page-shift 12 --page-shift 6 --seed 0``

Each stream boots the port (impl/) and loads a private copy of the C built
from linux-source-6.12 (oracle/), creates the same chunks in both -- a
first chunk with hidden start and end offsets, a fully populated dynamic
chunk and a partly populated one -- and applies one random operation at a
time to both: pcpu_find_block_fit + pcpu_alloc_area (sometimes populated
pages only, as atomic requests do), pcpu_free_area, pcpu_chunk_populated.
After every operation it compares the offset returned and the touched
chunk's alloc_map, bound_map, populated map, every block's and the chunk's
hints (scan_hint, contig_hint, their starts, left_free, right_free,
first_free, nr_bits), free_bytes, nr_populated, nr_empty_pop_pages and
slot.  A stream stops at its first difference (the states have diverged).
Page shifts run in parallel processes, one per shift.
"""

from __future__ import annotations

import random
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from impl.boot import boot, small_config
from impl.internal import pcpu_chunk
from impl.percpu import Percpu
from properties.oneline_args import OneLineParser

STREAM_OPS = 2000
FIRST_BASE = 1 << 32


@dataclass
class Agreement:
    page_shift: int
    seed: int
    ops: int = 0
    agreed: int = 0
    streams: int = 0
    elapsed_s: float = 0.0
    differences: list[str] = field(default_factory=list)

    @property
    def figure(self) -> float:
        return self.agreed / self.ops if self.ops else 0.0


def port_snapshot(pc: Percpu, c: pcpu_chunk) -> dict[str, Any]:
    """The port's chunk in the shape of COracle.snapshot()."""
    return {
        "alloc_map": c.alloc_map.bits, "bound_map": c.bound_map.bits, "populated": c.populated.bits,
        "free_bytes": c.free_bytes, "nr_populated": c.nr_populated, "nr_empty_pop_pages": c.nr_empty_pop_pages,
        "slot": pc.pcpu_chunk_slot(c), "chunk_md": c.chunk_md.as_tuple(),
        "md_blocks": [b.as_tuple() for b in c.md_blocks],
    }


def first_difference(py: dict[str, Any], c: dict[str, Any]) -> str | None:
    for k in py:
        if py[k] != c[k]:
            if k == "md_blocks":
                i = next(i for i, (a, b) in enumerate(zip(py[k], c[k], strict=True)) if a != b)
                return f"md_blocks[{i}]: port {py[k][i]}, C {c[k][i]}"
            return f"{k}: port {py[k]}, C {c[k]}"
    return None


def new_dynamic_chunk(pc: Percpu) -> pcpu_chunk:
    """pcpu_alloc_chunk(), which only fails when a failure is injected."""
    ch = pc.pcpu_alloc_chunk(0)
    if ch is None:
        raise MemoryError("pcpu_alloc_chunk failed")
    return ch


class Stream:
    """One boot of each side with three chunks, driven by one random generator."""

    def __init__(self, co: Any, page_shift: int, rng: random.Random) -> None:
        ps = 1 << page_shift
        self.pc = boot(small_config(ps // 4))
        co.reset(self.pc.pcpu_unit_pages)
        self.co, self.rng, self.ps = co, rng, ps
        pages = self.pc.pcpu_unit_pages
        start = rng.randrange(0, ps, 4)
        map_size = rng.randrange(ps, pages * ps - start, 4)
        a = self.pc.pcpu_alloc_first_chunk(FIRST_BASE + start, map_size)
        b, c = new_dynamic_chunk(self.pc), new_dynamic_chunk(self.pc)
        self.pc.pcpu_chunk_populated(b, 0, b.nr_pages)
        half = rng.randrange(1, pages)
        self.pc.pcpu_chunk_populated(c, 0, half)
        for ch in (b, c):
            self.pc.pcpu_chunk_relocate(ch, -1)
        ha = co.new_chunk("first", start_offset=start, map_size=map_size)
        hb = co.new_chunk("dynamic")
        hc = co.new_chunk("dynamic", populated=False)
        co.populate(hc, 0, half)
        self.chunks = [(a, ha), (b, hb), (c, hc)]
        self.live: list[tuple[int, int]] = []  # (chunk index, byte offset)
        self.desc = f"first(start={start}, map_size={map_size}), dynamic, dynamic(populated 0..{half})"

    def op(self) -> tuple[str, int | None, int | None, int]:
        """One random operation on both sides: (call, port result, C result, chunk index)."""
        rng, pc, co, bb = self.rng, self.pc, self.co, self.ps // 4
        r = rng.random()
        if self.live and r < 0.42:
            k, off = self.live.pop(rng.randrange(len(self.live)))
            ch, h = self.chunks[k]
            return f"pcpu_free_area(chunk{k}, {off})", pc.pcpu_free_area(ch, off), co.free(h, off), k
        k = rng.randrange(3)
        ch, h = self.chunks[k]
        if r < 0.45:
            s = rng.randrange(ch.nr_pages)
            e = rng.randrange(s, ch.nr_pages) + 1
            if ch.populated.bits >> s & ((1 << (e - s)) - 1):
                return "none", None, None, k  # pcpu_chunk_populated is only called on unpopulated pages
            pc.pcpu_chunk_populated(ch, s, e)
            co.populate(h, s, e)
            return f"pcpu_chunk_populated(chunk{k}, {s}, {e})", None, None, k
        bits = rng.choice([1, 1, 2, 3, 4, 5, 8, 13, 16, 17, 31, 33, bb // 2, bb - 1, bb, bb + 1,
                           rng.randint(1, 3 * bb), rng.randint(1, 6)])
        align = rng.choice([1, 1, 1, 2, 2, 4, 8, 16, bb])
        pop_only = rng.random() < 0.2
        s = pc.pcpu_find_block_fit(ch, bits, align, pop_only)
        a = -1 if s < 0 else pc.pcpu_alloc_area(ch, bits, align, s)
        b = co.alloc(h, bits, align, pop_only)
        if a >= 0 and a == b:
            self.live.append((k, a))
        return f"alloc(chunk{k}, bits={bits}, align={align}, pop_only={int(pop_only)})", a, b, k


def run(page_shift: int, ops: int, seed: int, stream_ops: int = STREAM_OPS) -> Agreement:
    """``ops`` operations in streams of ``stream_ops``; stream i uses seed (seed, page_shift, i)."""
    from oracle.cpercpu import COracle

    res = Agreement(page_shift, seed)
    t0 = time.time()
    co = COracle(page_shift, 8)
    i = 0
    while res.ops < ops:
        rng = random.Random(f"{seed}/{page_shift}/{i}")
        st = Stream(co, page_shift, rng)
        res.streams += 1
        n = 0
        while n < stream_ops and res.ops < ops:
            call, a, b, k = st.op()
            if call == "none":
                continue
            n += 1
            res.ops += 1
            diff = None if a == b else f"result: port {a}, C {b}"
            if diff is None:
                ch, h = st.chunks[k]
                diff = first_difference(port_snapshot(st.pc, ch), co.snapshot(h))
            if diff is not None:
                res.differences.append(f"PAGE_SHIFT {page_shift} stream {i} ({st.desc}) op {n}: {call}: {diff}")
                break
            res.agreed += 1
        i += 1
    co.close()
    res.elapsed_s = time.time() - t0
    return res


def report(results: list[Agreement]) -> bool:
    ok = True
    for r in results:
        print(f"  PAGE_SHIFT {r.page_shift:<2} (blocks of {(1 << r.page_shift) // 4:>4} bits): "
              f"{r.agreed}/{r.ops} operations agree bit for bit = {100 * r.figure:.4f} %  "
              f"({r.streams} streams, seed {r.seed}, {r.elapsed_s:.0f} s, {r.ops / max(r.elapsed_s, 1e-9):.0f} ops/s)")
        for d in r.differences[:5]:
            print(f"    DIFFERENCE {d}")
        ok &= not r.differences and r.ops > 0
    return ok


def main(argv: list[str] | None = None) -> int:
    ap = OneLineParser(prog="python -m tools.c_agreement", description=__doc__.splitlines()[0])
    ap.add_argument("--ops", type=int, default=1_000_000, help="operations per page shift")
    ap.add_argument("--page-shift", type=int, action="append", dest="shifts", help="default: 12 and 6")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args(argv)
    shifts = args.shifts or [12, 6]
    print(f"port vs C (linux-source-6.12): {args.ops} operations per page shift, seed {args.seed}")
    with ProcessPoolExecutor(max_workers=max(1, min(args.jobs, len(shifts)))) as ex:
        results = list(ex.map(run, shifts, [args.ops] * len(shifts), [args.seed] * len(shifts)))
    ok = report(results)
    total = sum(r.ops for r in results)
    agreed = sum(r.agreed for r in results)
    print(f"  all: {agreed}/{total} = {100 * agreed / max(total, 1):.4f} %  -> {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
