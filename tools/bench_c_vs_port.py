"""Speed of the kernel's C against the Python port on the same operation stream.

``python -m tools.bench_c_vs_port [--ops 20000] [--page-shift 12] [--seed 0]``

One stream of pcpu_find_block_fit + pcpu_alloc_area and pcpu_free_area
calls on one fully populated dynamic chunk is generated first (frees name
the allocation they undo), then run on the port and on the C, each timed
alone, in one process.  Prints the ops/s of each and their ratio.
"""

from __future__ import annotations

import random
import sys
import time

from impl.boot import boot, small_config
from properties.oneline_args import OneLineParser
from tools.c_agreement import new_dynamic_chunk

Op = tuple[int, int, int]  # (1, bits, align) alloc, or (0, index of the alloc op, 0) free


def make_stream(page_shift: int, ops: int, seed: int) -> list[Op]:
    """Random allocations and frees; about 45 % frees of random live areas."""
    rng = random.Random(f"bench/{seed}/{page_shift}")
    bb = (1 << page_shift) // 4
    stream: list[Op] = []
    live: list[int] = []
    for _ in range(ops):
        if live and rng.random() < 0.45:
            stream.append((0, live.pop(rng.randrange(len(live))), 0))
        else:
            live.append(len(stream))
            stream.append((1, rng.choice([1, 2, 4, 8, 16, 33, bb // 4, rng.randint(1, bb)]), rng.choice([1, 2, 8])))
    return stream


def run_port(page_shift: int, stream: list[Op]) -> tuple[float, list[int]]:
    pc = boot(small_config((1 << page_shift) // 4))
    ch = new_dynamic_chunk(pc)
    pc.pcpu_chunk_populated(ch, 0, ch.nr_pages)
    pc.pcpu_chunk_relocate(ch, -1)
    offs = [-1] * len(stream)
    t = time.perf_counter()
    for i, (kind, a, b) in enumerate(stream):
        if kind:
            s = pc.pcpu_find_block_fit(ch, a, b, False)
            offs[i] = -1 if s < 0 else pc.pcpu_alloc_area(ch, a, b, s)
        elif offs[a] >= 0:
            pc.pcpu_free_area(ch, offs[a])
    return time.perf_counter() - t, offs


def run_c(page_shift: int, unit_pages: int, stream: list[Op]) -> tuple[float, list[int]]:
    from oracle.cpercpu import COracle

    co = COracle(page_shift, unit_pages)
    h = co.new_chunk("dynamic")
    offs = [-1] * len(stream)
    alloc, free = co.alloc, co.free
    t = time.perf_counter()
    for i, (kind, a, b) in enumerate(stream):
        if kind:
            offs[i] = alloc(h, a, b)
        elif offs[a] >= 0:
            free(h, offs[a])
    dt = time.perf_counter() - t
    co.close()
    return dt, offs


def main(argv: list[str] | None = None) -> int:
    ap = OneLineParser(prog="python -m tools.bench_c_vs_port", description=__doc__.splitlines()[0])
    ap.add_argument("--ops", type=int, default=20000)
    ap.add_argument("--page-shift", type=int, action="append", dest="shifts", help="default: 12 and 6")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    for shift in args.shifts or [12, 6]:
        stream = make_stream(shift, args.ops, args.seed)
        unit_pages = boot(small_config((1 << shift) // 4)).pcpu_unit_pages
        py_s, py_offs = run_port(shift, stream)
        c_s, c_offs = run_c(shift, unit_pages, stream)
        same = "same offsets" if py_offs == c_offs else "OFFSETS DIFFER"
        print(f"PAGE_SHIFT {shift:<2} {len(stream)} ops, seed {args.seed}, {unit_pages} pages/chunk: "
              f"C {len(stream) / c_s:,.0f} ops/s, port {len(stream) / py_s:,.0f} ops/s, "
              f"C/port = {py_s / c_s:.1f}x  ({same}; C timed through ctypes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
