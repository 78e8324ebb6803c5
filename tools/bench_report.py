"""Writes the benchmark tables (markdown) and plots (PNG) from tools.bench_tables results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tools.bench_tables import COUNT_KEYS, ORDERS, PUBLISHED, PUBLISHED_CONTRIVED, PUBLISHED_HALF, SIZES


def _worst(res: dict[str, Any], name: str, size: int) -> tuple[float, float, str]:  # (alloc ms, free ms, order)
    """Worst alloc and free time over the three orders, and the order of the worst free."""
    rows = [(res["orders"][(name, size, o)]["ms"], o) for o in ORDERS]
    worst_free = max(rows, key=lambda r: r[0][1])
    return max(r[0][0] for r in rows), worst_free[0][1], worst_free[1]


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "-"


def tables(res: dict[str, Any], impls: list[str]) -> str:
    n = res["n"]
    out = [f"# Benchmark tables (measured; {n} objects per experiment, published: 2^20)\n",
           "Regenerate with `make bench-tables`.  Times in ms on this machine, each allocator in the same run; "
           "ratios are area map / bitmap.  Counts come from a second run with counters (tools/bench_counters.py).\n"]
    out.append("## 1. Allocate, then free in order / alternating / reverse (worst case over the orders)\n")
    hdr = "| size | " + " | ".join(f"{i} alloc | {i} free" for i in impls)
    hdr += " | free ratio AM/BM (ours) | free ratio (published) | alloc ratio AM/BM (ours) | alloc ratio (published) |"
    out += [hdr, "|" + "---|" * (1 + 2 * len(impls) + 4)]
    for s in SIZES:
        cells = []
        for i in impls:
            a, f, o = _worst(res, i, s)
            cells.append(f"{a:.0f} | {f:.0f} ({o})")
        am, bm = _worst(res, "areamap", s), _worst(res, "bitmap", s)
        pa, pb = PUBLISHED["areamap"][s], PUBLISHED["bitmap"][s]
        out.append(f"| {s}B | " + " | ".join(cells) + f" | {_ratio(am[1], bm[1])} | {_ratio(pa[1], pb[1])} | "
                   f"{_ratio(am[0], bm[0])} | {_ratio(pa[0], pb[0])} |")
    out.append("\nOperation counts per phase (alloc / free), Python ports:\n")
    out += ["| size | order | allocator | " + " | ".join(COUNT_KEYS) + " |", "|" + "---|" * (3 + len(COUNT_KEYS))]
    for s in SIZES:
        for o in ORDERS:
            for i in ("areamap", "bitmap"):
                ops = res["orders"][(i, s, o)]["ops"]
                cells = [f"{ops[0].get(k, 0)} / {ops[1].get(k, 0)}" for k in COUNT_KEYS]
                out.append(f"| {s}B | {o} | {i} | " + " | ".join(cells) + " |")
    out.append("\n## 2. Second half of every page filled first, then allocate and free in order\n")
    hdr = "| size | " + " | ".join(f"{i} alloc | {i} free" for i in impls)
    hdr += " | alloc ratio AM/BM (ours) | alloc ratio (published) | memmove bytes AM alloc / free |"
    out += [hdr, "|" + "---|" * (1 + 2 * len(impls) + 3)]
    for s in SIZES:
        cells = [f"{res['half'][(i, s)]['ms'][0]:.0f} | {res['half'][(i, s)]['ms'][1]:.0f}" for i in impls]
        am, bm = res["half"][("areamap", s)], res["half"][("bitmap", s)]
        pa, pb = PUBLISHED_HALF["areamap"][s], PUBLISHED_HALF["bitmap"][s]
        mm = f"{am['ops'][0].get('memmove_bytes', 0)} / {am['ops'][1].get('memmove_bytes', 0)}"
        out.append(f"| {s}B | " + " | ".join(cells) + f" | {_ratio(am['ms'][0], bm['ms'][0])} | "
                   f"{_ratio(pa[0], pb[0])} | {mm} |")
    out.append("\n## 3. Growth with the object count (4-byte objects)\n")
    out += ["| allocator | free order | n | alloc ms | free ms | free us/object |", "|---|---|---|---|---|---|"]
    for (i, o, g), r in sorted(res["growth"].items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2])):
        out.append(f"| {i} | {o} | {g} | {r['ms'][0]:.0f} | {r['ms'][1]:.0f} | {1000 * r['ms'][1] / g:.2f} |")
    out.append("\n## 4. Contrived: 4-byte objects at 8-byte alignment (allocation time)\n")
    out.append(f"Published for 2^20 objects: area map {PUBLISHED_CONTRIVED['areamap'] / 60000:.0f} min, "
               f"bitmap {PUBLISHED_CONTRIVED['bitmap'] / 1000:.0f} s (ratio "
               f"{PUBLISHED_CONTRIVED['areamap'] / PUBLISHED_CONTRIVED['bitmap']:.0f}).\n")
    out += ["| allocator | n | alloc ms | us/object | counts (first n only) |", "|---|---|---|---|---|"]
    for (i, g), r in sorted(res["contrived"].items()):
        ops = ", ".join(f"{k}={r['ops'][0][k]}" for k in COUNT_KEYS if r["ops"][0].get(k))
        out.append(f"| {i} | {g} | {r['ms'][0]:.0f} | {1000 * r['ms'][0] / g:.1f} | {ops} |")
    return "\n".join(out) + "\n"


def plots(res: dict[str, Any], impls: list[str], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, phase, title in ((axes[0], 0, "alloc"), (axes[1], 1, "free (worst order)")):
        ours = [float(_worst(res, "areamap", s)[phase]) / float(_worst(res, "bitmap", s)[phase]) for s in SIZES]
        pub = [PUBLISHED["areamap"][s][phase] / PUBLISHED["bitmap"][s][phase] for s in SIZES]
        ax.plot(SIZES, ours, "o-", label=f"measured ({res['n']} objects)")
        ax.plot(SIZES, pub, "s--", label="published (2^20 objects)")
        ax.axhline(1, color="grey", lw=0.5)
        ax.set(xscale="log", yscale="log", xlabel="object size (bytes)", ylabel="area map / bitmap time",
               title=f"{title}: area map vs bitmap")
        ax.set_xticks(SIZES, [str(s) for s in SIZES])
        ax.legend()
    fig.tight_layout()
    fig.savefig(out / "ratio_by_size.png", dpi=90)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4))
    for o in ORDERS:
        ax.plot(SIZES, [max(1, res["orders"][("areamap", s, o)]["ops"][1].get("memmove_bytes", 0)) for s in SIZES],
                "o-", label=f"area map, free {o}")
    ax.set(xscale="log", yscale="log", xlabel="object size (bytes)", ylabel="memmove bytes (free phase)",
           title=f"area map memmove on free, {res['n']} objects")
    ax.set_xticks(SIZES, [str(s) for s in SIZES])
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "memmove_by_size.png", dpi=90)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4))
    for i in impls:
        for o in ("alternating", "reverse"):
            pts = sorted((g, r["ms"][1]) for (j, oo, g), r in res["growth"].items() if j == i and oo == o)
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", label=f"{i}, free {o}")
    ax.set(xscale="log", yscale="log", xlabel="objects (4 bytes)", ylabel="free time (ms)", title="growth of free time")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "growth_free.png", dpi=90)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4))
    for i in impls:
        pts = sorted((g, r["ms"][0]) for (j, g), r in res["contrived"].items() if j == i)
        ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", label=i)
    ax.set(xscale="log", yscale="log", xlabel="objects (4 bytes, 8-byte aligned)", ylabel="alloc time (ms)",
           title="contrived case: 4-byte objects at 8-byte alignment")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "contrived.png", dpi=90)
    plt.close(fig)


def write_report(res: dict[str, Any], impls: list[str], out: Path) -> None:
    """Writes tables.md and the PNGs into ``out`` (created if needed)."""
    out.mkdir(parents=True, exist_ok=True)
    text = tables(res, impls)
    tmp = out / "tables.md.tmp"
    tmp.write_text(text)
    tmp.replace(out / "tables.md")
    plots(res, impls, out)
