"""Reproduces the benchmark tables of the bitmap allocator's design documents.

    python -m tools.bench_tables [--n 10000] [--growth 1000,10000,100000] [--out docs/bench]

The published experiments (shared/seeds/002 and 003: commit message and cover
letter of "percpu: replace area map allocator with bitmap allocator") allocate
2^20 objects of 4, 16, 64, 256 and 1024 bytes and free them in order,
alternating and in reverse; a variant where the second half of every page is
filled first; and 4-byte objects at 8-byte alignment.  Here the same
workloads run, scaled down to ``--n`` objects (Python is ~100x slower than
the kernel), on

- ``areamap``: the 4.12 area-map port (impl_areamap/),
- ``bitmap``: the 6.12 bitmap port (impl/),
- ``C bitmap``: the kernel's own 6.12 C (oracle.cpercpu.COracle), driven
  chunk by chunk (no slot lists), when the oracle library is built.

Every number is measured in this run: wall time (ms, no counters installed)
and operation counts (a second, counted run: tools/bench_counters.py).  No
randomness: the workloads are fixed sequences.  Writes tables.md and PNG
plots under ``--out``.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from impl.boot import boot
from impl.kernel import GFP_KERNEL
from impl_areamap.percpu import boot_areamap
from properties.configs import parse_config
from properties.oneline_args import OneLineParser
from tools.bench_counters import counting

SIZES = (4, 16, 64, 256, 1024)
ORDERS = ("in order", "alternating", "reverse")
CONFIG = "real4096"
COUNT_KEYS = ("bits_scanned", "regions_visited", "block_hint_refreshes", "chunk_hint_refreshes",
              "free_areas_examined", "memmove_bytes", "map_extensions")

# worst case over the three free orders, 2^20 objects, ms (shared/seeds/002, the merged commit message)
PUBLISHED = {
    "areamap": {4: (310, 4770), 16: (557, 1325), 64: (436, 273), 256: (776, 131), 1024: (3280, 122)},
    "bitmap": {4: (490, 70), 16: (515, 75), 64: (610, 80), 256: (950, 100), 1024: (3520, 200)},
}
PUBLISHED_HALF = {
    "areamap": {4: (4118, 4892), 16: (1651, 1163), 64: (598, 285), 256: (771, 158), 1024: (3034, 160)},
    "bitmap": {4: (481, 67), 16: (506, 69), 64: (636, 75), 256: (892, 90), 1024: (3262, 147)},
}
PUBLISHED_CONTRIVED = {"areamap": 52 * 60 * 1000, "bitmap": 16 * 1000}  # ms for 2^20 objects


class PyDriver:
    """One boot of a Python port; handles are percpu pointers."""

    def __init__(self, name: str) -> None:
        cfg = parse_config(CONFIG)
        self.pcpu = boot_areamap(cfg) if name == "areamap" else boot(cfg)

    def alloc(self, size: int, align: int) -> Any:
        ptr = self.pcpu.pcpu_alloc(size, align, False, GFP_KERNEL)
        if ptr is None:
            raise RuntimeError(f"allocation of {size} bytes failed: {self.pcpu.last_alloc_err}")
        return ptr

    def free(self, h: Any) -> None:
        self.pcpu.free_percpu(h)

    def offset_in_page(self, h: Any) -> int:
        addr = self.pcpu._pcpu_ptr_to_addr(h)
        return int(addr % self.pcpu.geo.PAGE_SIZE)


class CDriver:
    """The kernel's C chunk allocator: chunks tried in creation order, full ones skipped until a free."""

    def __init__(self, oracle: Any) -> None:
        oracle.reset()
        self.o = oracle
        self.chunks: list[int] = []
        self.full: set[int] = set()
        self.page_size = 1 << oracle.page_shift

    def alloc(self, size: int, align: int) -> Any:
        bits, bit_align = -(-size // 4), max(align, 4) // 4
        for h in self.chunks:
            if h in self.full:
                continue
            off = self.o.alloc(h, bits, bit_align)
            if off >= 0:
                return (h, off)
            self.full.add(h)
        h = self.o.new_chunk("dynamic", populated=True)
        self.chunks.append(h)
        off = self.o.alloc(h, bits, bit_align)
        if off < 0:
            raise RuntimeError("a new chunk cannot hold the object")
        return (h, off)

    def free(self, h: Any) -> None:
        self.o.free(h[0], h[1])
        self.full.discard(h[0])

    def offset_in_page(self, h: Any) -> int:
        return int(h[1] % self.page_size)


def free_order(handles: list[Any], order: str) -> list[Any]:
    if order == "in order":
        return handles
    if order == "reverse":
        return handles[::-1]
    return handles[::2] + handles[1::2]


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t = time.perf_counter()
    out = fn()
    return (time.perf_counter() - t) * 1000, out


def workload_orders(d: Any, size: int, n: int, order: str, align: int = 4) -> list[Callable[[], Any]]:
    """Phases: allocate n objects, free them in ``order``."""
    hs: list[Any] = []
    return [lambda: hs.extend(d.alloc(size, align) for _ in range(n)),
            lambda: [d.free(h) for h in free_order(hs, order)]]


def workload_half(d: Any, size: int, n: int) -> list[Callable[[], Any]]:
    """Phases: allocate n objects into pages whose second half is filled, free them in order.

    The fill: objects of the same size over enough pages for 2n, then the
    ones in the first half of their page are freed (not timed).
    """
    ps = parse_config(CONFIG).page_size
    fill = [d.alloc(size, 4) for _ in range(2 * n)]
    for h in fill:
        if d.offset_in_page(h) < ps // 2:
            d.free(h)
    hs: list[Any] = []
    return [lambda: hs.extend(d.alloc(size, 4) for _ in range(n)), lambda: [d.free(h) for h in hs]]


def measure(
    make: Callable[[], Any], phases_of: Callable[[Any], list[Callable[[], Any]]], count: bool
) -> dict[str, Any]:
    """Runs the phases once timed; with ``count``, once more on a fresh driver with counters."""
    d = make()
    phases = phases_of(d)
    ms = [timed(p)[0] for p in phases]
    out: dict[str, Any] = {"ms": ms, "ops": [Counter() for _ in phases]}
    if count and isinstance(d, PyDriver):
        d = make()
        phases = phases_of(d)
        for i, p in enumerate(phases):
            with counting(d.pcpu) as ops:
                p()
            out["ops"][i] = ops
    return out


def c_oracle() -> Any:
    try:
        from oracle.cpercpu import COracle

        return COracle(12, boot(parse_config(CONFIG)).pcpu_unit_pages)
    except Exception as e:  # noqa: BLE001  (the oracle is optional: say why it is left out)
        print(f"C oracle unavailable, C column left out: {e}", file=sys.stderr)
        return None


def drivers(oracle: Any) -> dict[str, Callable[[], Any]]:
    out: dict[str, Callable[[], Any]] = {"areamap": lambda: PyDriver("areamap"), "bitmap": lambda: PyDriver("bitmap")}
    if oracle is not None:
        out["C bitmap"] = lambda: CDriver(oracle)
    return out


def fmt_ops(ops: Counter[str]) -> str:
    return ", ".join(f"{k}={ops[k]}" for k in COUNT_KEYS if ops.get(k))


def main(argv: list[str] | None = None) -> int:
    ap = OneLineParser(prog="python -m tools.bench_tables")
    ap.add_argument("--n", type=int, default=10000, help="objects per experiment (the papers: 2^20)")
    ap.add_argument("--growth", default="1000,10000,100000", help="object counts for the growth table")
    ap.add_argument("--contrived", default="500,1000,2000,4000", help="object counts for 4-byte/8-aligned")
    ap.add_argument("--budget-s", type=float, default=30.0, help="stop growing a series once one run exceeds this")
    ap.add_argument("--out", default="docs/bench")
    args = ap.parse_args(argv)
    try:
        growth = [int(x) for x in args.growth.split(",") if x]
        contrived = [int(x) for x in args.contrived.split(",") if x]
        if args.n <= 0 or not growth or not contrived or min(growth + contrived) <= 0:
            raise ValueError("counts must be positive")
    except ValueError as e:
        print(f"bench_tables: bad argument: {e}", file=sys.stderr)
        return 2
    out = Path(args.out)
    oracle = c_oracle()
    impls = drivers(oracle)
    n = args.n
    print(f"config {CONFIG}, {n} objects per experiment (published: 2^20); deterministic, no seed")
    res: dict[str, Any] = {"n": n, "orders": {}, "half": {}, "growth": {}, "contrived": {}}

    for size in SIZES:
        for order in ORDERS:
            for name, make in impls.items():
                r = measure(make, lambda d, s=size, o=order: workload_orders(d, s, n, o), count=True)  # type: ignore[misc]
                res["orders"][(name, size, order)] = r
                print(f"orders  {name:9} {size:5d}B {order:11}: alloc {r['ms'][0]:9.1f} ms  free {r['ms'][1]:9.1f} ms"
                      f"  | alloc {fmt_ops(r['ops'][0])} | free {fmt_ops(r['ops'][1])}")
    for size in SIZES:
        for name, make in impls.items():
            r = measure(make, lambda d, s=size: workload_half(d, s, n), count=True)  # type: ignore[misc]
            res["half"][(name, size)] = r
            print(f"half    {name:9} {size:5d}B: alloc {r['ms'][0]:9.1f} ms  free {r['ms'][1]:9.1f} ms"
                  f"  | alloc {fmt_ops(r['ops'][0])} | free {fmt_ops(r['ops'][1])}")
    for name, make in impls.items():
        for order in ("alternating", "reverse"):
            for g in growth:
                r = measure(make, lambda d, g=g, o=order: workload_orders(d, 4, g, o), count=False)  # type: ignore[misc]
                res["growth"][(name, order, g)] = r
                print(f"growth  {name:9} 4B {order:11} n={g:7d}: alloc {r['ms'][0]:9.1f} ms  free {r['ms'][1]:9.1f} ms")
                if sum(r["ms"]) > args.budget_s * 1000:
                    print(f"growth  {name}: over the {args.budget_s} s budget, larger counts skipped")
                    break
        for g in contrived:
            r = measure(make, lambda d, g=g: workload_orders(d, 4, g, "in order", align=8),  # type: ignore[misc]
                        count=g == contrived[0])
            res["contrived"][(name, g)] = r
            print(f"4B/8    {name:9} n={g:7d}: alloc {r['ms'][0]:9.1f} ms  free {r['ms'][1]:9.1f} ms"
                  f"  | alloc {fmt_ops(r['ops'][0])}")
            if sum(r["ms"]) > args.budget_s * 1000:
                print(f"4B/8    {name}: over the {args.budget_s} s budget, larger counts skipped")
                break

    from tools.bench_report import write_report

    write_report(res, list(impls), out)
    print(f"wrote {out}/tables.md and {out}/*.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
