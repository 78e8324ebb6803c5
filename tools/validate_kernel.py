"""``pcpu-verify validate-patch --kernel FILE.patch``: judge a kernel patch on the kernel's own C.

1. Copies the extracted kernel files (build/ksrc) to a scratch directory and
   applies the patch there (``patch -p1``, as posted: a/mm/percpu.c paths).
2. Cuts the allocator out of the patched tree by function name and compiles
   it into scratch libraries (oracle/extract.py, oracle/build.py), next to
   the unpatched ones in build/oracle.
3. Runs one battery of seeded operation streams on both, at PAGE_SHIFT 12
   (1024-bit blocks) and 6 (16-bit blocks): a first chunk with hidden start
   and end offsets and a dynamic chunk each, allocations (sometimes on
   populated pages only) and frees.  The model is the referee: every
   returned area must be free and aligned, every failure justified within
   the documented slack, and every block and chunk hint of the C snapshot
   is checked by properties/invariants.py after every operation.
4. Reports per property, in the same form as validate-patch on the Python
   port (tools/report.py), with the unpatched C as the baseline: REJECT when
   the patched C violates a property without a ledger entry that the
   baseline never violates in the same battery; IMPROVES when it stops
   violating one; NO CHANGE otherwise.  Violation counts follow.

Exit status: 0 accepted, 1 rejected, 2 bad input (a patch that does not
apply, does not compile or removes a function the oracle needs: one line on
stderr quoting the failing hunk or the compiler's first error).
"""

from __future__ import annotations

import random
import re
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from impl.internal import pcpu_block_md
from model.chunk import ModelChunk
from oracle import build, extract
from oracle.csource import ExtractError
from properties.invariants import Window
from properties.registry import PROPERTIES, by_scope
from properties.slack import miss_allowed
from tools.battery import BatteryResult, PropertyResult
from tools.report import build_report, verdict
from tools.trace import ledger_properties

SHIFTS = (12, 6)
UNIT_PAGES = 8


class PatchError(ValueError):
    """The patch cannot be judged: it does not apply, compile or extract."""


@dataclass
class Side:
    """Violations seen on one library over the battery."""

    name: str
    counts: Counter[str] = field(default_factory=Counter)
    first: dict[str, str] = field(default_factory=dict)
    ops: int = 0

    def hit(self, prop: str, where: str) -> None:
        self.counts[prop] += 1
        self.first.setdefault(prop, where)


# ------------------------------------------------------------------ applying and building
def _hunks(text: str) -> list[tuple[str, str, str]]:
    """(file, hunk header, first changed line) for every hunk, in order."""
    out, path = [], "?"
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("+++ "):
            path = line[4:].split("\t")[0].strip()
        elif line.startswith("@@"):
            changed = next((x for x in lines[i + 1:] if x[:1] in "+-" and not x.startswith(("+++", "---"))), "")
            out.append((path, line.strip(), changed.strip()))
    return out


def apply_patch(patch: Path, tree: Path) -> None:
    """Applies ``patch`` to ``tree``; PatchError quoting the first failing hunk."""
    try:
        text = patch.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise PatchError(f"{patch}: cannot read: {getattr(e, 'strerror', None) or e}") from None
    hunks = _hunks(text)
    if not hunks:
        raise PatchError(f"{patch}: not a unified diff (no @@ hunks)")
    targets = {h[0] for h in hunks}
    for t in sorted(targets):
        rel = t[2:] if t.startswith("b/") else t
        if not (tree / rel).exists():
            raise PatchError(f"{patch}: touches {t}, which the oracle does not build (only the extracted "
                             f"files: mm/percpu.c, mm/percpu-internal.h, include/linux/{{percpu,find,bitmap}}.h, "
                             f"lib/{{find_bit,bitmap}}.c)")
    proc = subprocess.run(["patch", "-p1", "--batch", "--forward", "--no-backup-if-mismatch", "-r", "-",
                           "-d", str(tree), "-i", str(patch.resolve())], capture_output=True, text=True)
    if proc.returncode != 0:
        out = proc.stdout + proc.stderr
        m = re.search(r"Hunk #(\d+) FAILED", out)
        if m:
            # hunks are numbered per file; patch names the file just before
            fm = re.findall(r"patching file (\S+)", out[: m.start()])
            f = fm[-1] if fm else "?"
            per_file = [h for h in hunks if h[0].endswith(f)]
            n = int(m.group(1))
            hdr, first = (per_file[n - 1][1], per_file[n - 1][2]) if n <= len(per_file) else ("?", "")
            raise PatchError(f"{patch}: hunk #{n} of {f} does not apply: {hdr} {first!r}")
        msg = next((x for x in out.splitlines() if x.strip()), f"patch exit status {proc.returncode}")
        raise PatchError(f"{patch}: does not apply: {msg.strip()}")


def build_patched(patch: Path, scratch: Path, shifts: tuple[int, ...] = SHIFTS) -> dict[int, Path]:
    """Scratch copy of the extracted tree, patched, extracted and compiled per page shift."""
    try:
        src = build.kernel_tree()
    except build.BuildError as e:
        raise PatchError(str(e)) from None
    tree = scratch / "ksrc"
    shutil.copytree(src, tree)
    apply_patch(patch, tree)
    gen = scratch / "gen"
    try:
        extract.generate(tree, gen, "kernel")
    except ExtractError as e:
        raise PatchError(f"{patch}: the patched source no longer extracts: {e}") from None
    libs = {}
    for ps in shifts:
        out = scratch / f"libpercpu_ps{ps}.so"
        try:
            build._compile(ps, out, gen, ())
        except build.BuildError as e:
            first = next((x for x in str(e).splitlines() if "error:" in x), str(e).splitlines()[-1])
            raise PatchError(f"{patch}: the patched C does not compile: {first.strip()}") from None
        libs[ps] = out
    return libs


# ------------------------------------------------------------------ the battery
def _md(values: tuple[int, ...]) -> pcpu_block_md:
    md = pcpu_block_md()
    md.load(values)
    return md


def check_snapshot(side: Side, snap: dict[str, Any], mc: ModelChunk, bb: int, where: str) -> None:
    """Every block and chunk hint property on a C snapshot, against the model chunk."""
    for i, values in enumerate(snap["md_blocks"]):
        md, t, w = _md(values), mc.block_truth(i), Window(mc, i * bb, (i + 1) * bb, bb)
        for p in by_scope("block"):
            if p.fn(md, t, w) is not None:
                side.hit(p.name, f"{where} block {i}")
    md, t, w = _md(snap["chunk_md"]), mc.chunk_truth(), Window(mc, 0, mc.nbits, bb)
    for p in by_scope("chunk"):
        if p.fn(md, t, w) is not None:
            side.hit(p.name, f"{where} chunk_md")


class Runner:
    """One library with its chunks and model chunks."""

    def __init__(self, co: Any, side: Side, start: int, map_size: int, ps: int) -> None:
        self.co, self.side, self.bb = co, side, ps // 4
        co.reset(UNIT_PAGES)
        nbits = UNIT_PAGES * ps // 4
        self.handles = [co.new_chunk("first", start_offset=start, map_size=map_size), co.new_chunk("dynamic")]
        self.models = [ModelChunk(nbits, self.bb, start // 4, (start + map_size) // 4),
                       ModelChunk(nbits, self.bb, 0, nbits)]
        self.live: dict[int, tuple[int, int]] = {}  # allocation number -> (chunk, unit)

    def alloc(self, n: int, k: int, bits: int, align: int, pop_only: bool, where: str) -> None:
        h, mc = self.handles[k], self.models[k]
        off = self.co.alloc(h, bits, align, pop_only)
        self.side.ops += 1
        if off < 0:
            ok, _ = miss_allowed(mc, bits, align)
            if not ok:
                self.side.hit("diff_alloc_failure_justified", where)
        elif mc.area_allowed(off // 4, bits, align):
            self.side.hit("diff_alloc_area_allowed", where)
            return
        else:
            mc.alloc(off // 4, bits)
            self.live[n] = (k, off // 4)
        check_snapshot(self.side, self.co.snapshot(h), mc, self.bb, where)

    def free(self, n: int, where: str) -> None:
        if n not in self.live:
            return
        k, unit = self.live.pop(n)
        size = self.co.free(self.handles[k], unit * 4)
        self.side.ops += 1
        units = self.models[k].free(unit)
        if size != units * 4:
            self.side.hit("diff_free_size", where)
        check_snapshot(self.side, self.co.snapshot(self.handles[k]), self.models[k], self.bb, where)


def battery(libs: dict[int, Path], seed: int, streams: dict[int, int], steps: int) -> tuple[Side, Side]:
    """The same seeded streams on the unpatched and the patched library."""
    from oracle.cpercpu import COracle

    base, patched = Side("unpatched"), Side("patched")
    for ps, n_streams in streams.items():
        cos = [COracle(ps, UNIT_PAGES), COracle(ps, UNIT_PAGES, lib=libs[ps])]
        size = 1 << ps
        bb = size // 4
        for s in range(n_streams):
            rng = random.Random(f"validate/{seed}/{ps}/{s}")
            start = rng.randrange(0, size, 4)
            map_size = rng.randrange(size, UNIT_PAGES * size - start, 4)
            runners = [Runner(co, side, start, map_size, size) for co, side in zip(cos, (base, patched), strict=True)]
            allocs = 0
            for step in range(steps):
                where = f"PAGE_SHIFT {ps} stream {s} step {step}"
                if allocs and rng.random() < 0.45:
                    n = rng.randrange(allocs)
                    for r in runners:
                        r.free(n, where)
                else:
                    k = rng.randrange(2)
                    bits = rng.choice([1, 2, 3, 4, 8, 15, 16, 17, 33, bb // 2, bb, bb + 1, rng.randint(1, 2 * bb)])
                    align = rng.choice([1, 1, 2, 4, 8, bb])
                    pop_only = rng.random() < 0.1
                    for r in runners:
                        r.alloc(allocs, k, bits, align, pop_only, where)
                    allocs += 1
        for co in cos:
            co.close()
    return base, patched


# ------------------------------------------------------------------ report
NO_PROOFS = "not run on the C (the Z3 lemmas execute the Python port: validate-patch without --kernel)"


def _battery_result(side: Side, checked: list[str], ids: dict[str, str], seed: int, elapsed_s: float) -> BatteryResult:
    """One library's violations as the per-property results tools.report renders."""
    props = {
        name: PropertyResult(
            name, PROPERTIES[name].kind if name in PROPERTIES else "call outcome",
            "violated" if side.counts[name] else "holds", side.first.get(name, ""), finding=ids.get(name),
        )
        for name in checked
    }
    bounds = (f"seed {seed}: {side.ops} seeded operations per library at PAGE_SHIFT "
              f"{', '.join(map(str, SHIFTS))}, every hint of the C snapshot checked after every operation, "
              "the model as referee")
    return BatteryResult(side.name, bounds, props, [], NO_PROOFS, side.ops, round(elapsed_s, 1))


def report(patch: Path, base: Side, patched: Side, seed: int, elapsed_s: float) -> bool:
    """Prints the validate-patch report (tools.report, as for Python patches) and the violation counts."""
    ids = ledger_properties()
    checked = sorted({p.name for p in by_scope("block") + by_scope("chunk")} | set(base.counts) | set(patched.counts))
    base_r = _battery_result(base, checked, ids, seed, elapsed_s)
    patched_r = _battery_result(patched, checked, ids, seed, elapsed_s)
    print(build_report(patched_r, base_r, f"--kernel {patch} (the kernel's C, rebuilt)"), end="")
    print(f"Violation counts ({base.ops} operations per library):")
    print(f"  {'property':<34} {'unpatched C':>12} {'patched C':>10}")
    for p in sorted(set(base.counts) | set(patched.counts)):
        tag = f" ({ids[p]})" if p in ids else ""
        print(f"  {p + tag:<34} {base.counts[p]:>12} {patched.counts[p]:>10}")
    status, line = verdict(patched_r, base_r)
    print(f"Verdict: {line}  ({elapsed_s:.1f} s)")
    return status == 0


def validate(patch: str, seed: int = 0, streams: dict[int, int] | None = None, steps: int = 300) -> int:
    t0 = time.time()
    p = Path(patch)
    with tempfile.TemporaryDirectory(prefix="pcpu-validate-kernel-") as d:
        libs = build_patched(p, Path(d))
        base, patched = battery(libs, seed, streams or {12: 2, 6: 16}, steps)
    return 0 if report(p, base, patched, seed, time.time() - t0) else 1
