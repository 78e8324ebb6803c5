"""Exhaustive reachability: is a surviving mutant equivalent on every reachable chunk state?

    python -m tools.mutation_reach [--block-bits 8] [--blocks 3] [--holed] [--mutants a,b]

Sampling (tools/mutation_witness.py) only says a mutant was never seen to
differ.  This tool settles the question for a bounded chunk instead: a
breadth-first search over *every* state a dynamic chunk of ``--blocks`` blocks
of ``--block-bits`` bits can reach from empty, through the port's own
placement (pcpu_find_block_fit + pcpu_alloc_area, every size from 1 bit to
the whole map and every power-of-two alignment up to a block) and every free
of a live area (pcpu_free_area).  With ``--holed`` the middle page is left
unpopulated and every request is also tried as an atomic (pop_only) one.

From every reachable state, every operation is run on the faithful port and
on each mutant (properties.mutants.Mutant, the same one-line edit cosmic-ray
made), and the results are compared: returned offset, alloc and bound maps,
every block hint and the chunk hint.  A mutant that never differs is
equivalent *within the bound*; one that differs gets the shortest operation
sequence that reaches the differing step, which replays on the port.

The state key is the chunk's whole area-layer state (bitmaps, block and
chunk metadata, free_bytes, nr_empty_pop_pages); two chunks with equal keys
behave alike under every operation, so the search is exact, not sampled.
Deterministic: no randomness, the operation order is fixed.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from dataclasses import dataclass, field

from impl.boot import boot, small_config
from impl.internal import pcpu_chunk
from impl.percpu import Percpu
from properties.mutants import Mutant
from properties.oneline_args import OneLineParser
from tools.mutation_witness import COUNTED, SURVIVORS, Witness

State = tuple[int, int, int, int, tuple[int, ...], tuple[tuple[int, ...], ...]]
Op = tuple[str, int, int, bool]  # ("alloc", bits, align, pop_only) or ("free", byte_off, 0, False)

# the survivors sampling could not settle (docs/mutation/README.md)
OPEN_SURVIVORS = ("e_block_scan_ge", "e_block_contig_ge", "chunk_refresh_step_plus0")


def tiny_percpu(block_bits: int, blocks: int) -> Percpu:
    """A boot whose dynamic chunks have ``blocks`` pages of ``block_bits`` bits each."""
    page_size = block_bits * 4
    return boot(small_config(block_bits, min_unit_size=blocks * page_size, static_size=8,
                             reserved_size=0, dyn_size=page_size, atom_size=page_size))


def new_chunk(pc: Percpu, holed: bool) -> pcpu_chunk:
    """An empty dynamic chunk, populated except (``holed``) its middle page."""
    ch = pc.pcpu_alloc_chunk(0)
    if ch is None:
        raise MemoryError("pcpu_alloc_chunk failed")
    n = ch.nr_pages
    hole = n // 2 if holed else n
    pc.pcpu_chunk_populated(ch, 0, hole)
    if hole + 1 < n:
        pc.pcpu_chunk_populated(ch, hole + 1, n)
    pc.pcpu_chunk_relocate(ch, -1)
    return ch


def snapshot(ch: pcpu_chunk) -> State:
    return (ch.alloc_map.bits, ch.bound_map.bits, ch.free_bytes, ch.nr_empty_pop_pages,
            ch.chunk_md.as_tuple(), tuple(md.as_tuple() for md in ch.md_blocks))


def restore(ch: pcpu_chunk, s: State) -> None:
    ch.alloc_map.bits, ch.bound_map.bits, ch.free_bytes, ch.nr_empty_pop_pages = s[0], s[1], s[2], s[3]
    ch.chunk_md.load(s[4])
    for md, t in zip(ch.md_blocks, s[5], strict=True):
        md.load(t)


def operations(pc: Percpu, s: State, map_bits: int, holed: bool) -> list[Op]:
    """Every request from state ``s``: each size and alignment (atomic too when holed), then each free."""
    aligns = [1 << k for k in range(pc.PCPU_BITMAP_BLOCK_BITS.bit_length())]
    ops: list[Op] = [("alloc", bits, align, pop_only)
                     for bits in range(1, map_bits + 1) for align in aligns
                     for pop_only in ((False, True) if holed else (False,))]
    starts = s[0] & s[1]  # an area starts at an allocated bound_map bit
    ops += [("free", 4 * i, 0, False) for i in range(map_bits) if starts >> i & 1]
    return ops


def run_op(pc: Percpu, ch: pcpu_chunk, op: Op) -> int:
    kind, x, align, pop_only = op
    if kind == "free":
        return int(pc.pcpu_free_area(ch, x))
    start = pc.pcpu_find_block_fit(ch, x, align, pop_only)
    return -1 if start < 0 else int(pc.pcpu_alloc_area(ch, x, align, start))


@dataclass
class Side:
    """One Percpu (faithful or mutated) and its chunk."""

    name: str
    pc: Percpu
    ch: pcpu_chunk

    def step(self, s: State, op: Op) -> tuple[int | str, State]:
        restore(self.ch, s)
        try:
            return run_op(self.pc, self.ch, op), snapshot(self.ch)
        except Exception as e:  # a mutant may crash: that is a difference, not a tool failure
            return f"{type(e).__name__}: {e}", s


@dataclass
class Result:
    states: int = 0
    transitions: int = 0
    elapsed_s: float = 0.0
    depth: int = 0  # operations from the empty chunk to the last state expanded
    complete: bool = True  # every reachable state was expanded (no depth bound was hit)
    midrun_states: int = 0  # states with a block hint strictly inside the free run at the block's bit 0
    witness: Witness = field(default_factory=Witness)
    diffs: dict[str, int] = field(default_factory=dict)  # full-run comparison: transitions that differ
    first_diff: dict[str, list[Op]] = field(default_factory=dict)  # and the shortest sequence to one


def midrun_at_0(s: State, block_bits: int) -> bool:
    """A block hint (contig or scan) starting strictly inside the free run at the block's bit 0."""
    for i, md in enumerate(s[5]):
        scan_hint, scan_start, contig, contig_start = md[0], md[1], md[2], md[3]
        used = (s[0] >> (i * block_bits)) & ((1 << block_bits) - 1)
        f0 = (used & -used).bit_length() - 1 if used else block_bits
        if (contig and 0 < contig_start < f0) or (scan_hint and 0 < scan_start < f0):
            return True
    return False


def explore(block_bits: int, blocks: int, holed: bool, compare: list[Mutant],
            progress_every: int = 0, max_depth: int = 0) -> Result:
    """Breadth-first search over every reachable chunk state.

    The faithful port runs under tools.mutation_witness.Witness, whose
    counters say, at every execution of a survivor's statement, whether the
    mutant would compute a different value there (a sound test: if the
    statement never differs, the mutant never does).  Each mutant in
    ``compare`` is also run whole from every state and its result compared.
    With ``max_depth`` > 0 only states within that many operations of the
    empty chunk are expanded (bounded model checking); ``res.complete`` says
    whether the search ran out of new states first.
    """
    res = Result(diffs={m.name: 0 for m in compare})
    base = tiny_percpu(block_bits, blocks)
    res.witness.apply(base)
    orig = Side("port", base, new_chunk(base, holed))
    sides = []
    for m in compare:
        pc = tiny_percpu(block_bits, blocks)
        m.apply(pc)
        sides.append(Side(m.name, pc, new_chunk(pc, holed)))
    map_bits = block_bits * blocks
    start = snapshot(orig.ch)
    parent: dict[State, tuple[State, Op] | None] = {start: None}
    depth = {start: 0}
    queue = deque([start])
    t0 = time.perf_counter()
    while queue:
        s = queue.popleft()
        res.depth = depth[s]
        if max_depth and res.depth >= max_depth:
            res.complete = False
            break
        res.states += 1
        res.midrun_states += midrun_at_0(s, block_bits)
        if progress_every and res.states % progress_every == 0:
            print(f"  ... {res.states} states expanded, {len(parent)} seen, "
                  f"{time.perf_counter() - t0:.0f} s", flush=True)
        for op in operations(base, s, map_bits, holed):
            res.transitions += 1
            out = orig.step(s, op)
            for side in sides:
                if side.step(s, op) != out:
                    res.diffs[side.name] += 1
                    res.first_diff.setdefault(side.name, [*path_to(parent, s), op])
            if out[1] not in parent:
                parent[out[1]] = (s, op)
                depth[out[1]] = res.depth + 1
                queue.append(out[1])
    res.elapsed_s = time.perf_counter() - t0
    return res


def path_to(parent: dict[State, tuple[State, Op] | None], s: State) -> list[Op]:
    ops: list[Op] = []
    link = parent[s]
    while link is not None:
        s, op = link
        ops.append(op)
        link = parent[s]
    return ops[::-1]


def main(argv: list[str] | None = None) -> int:
    ap = OneLineParser(prog="mutation_reach", description=__doc__.split("\n\n")[0])
    ap.add_argument("--block-bits", type=int, default=4, choices=(4, 8, 16))
    ap.add_argument("--blocks", type=int, default=3, choices=range(1, 5))
    ap.add_argument("--holed", action="store_true", help="leave the middle page unpopulated; try atomic requests")
    ap.add_argument("--compare", default="",
                    help="comma-separated survivors (tools.mutation_witness.SURVIVORS) to also run whole")
    ap.add_argument("--max-depth", type=int, default=0, metavar="D",
                    help="expand only states within D operations of the empty chunk (0: all)")
    ap.add_argument("--progress", type=int, default=0, metavar="N", help="print a line every N states")
    try:
        args = ap.parse_args(argv)
    except SystemExit as e:
        return 2 if e.code else 0
    known = {sv.mutant.name: sv.mutant for sv in SURVIVORS}
    names = [n for n in args.compare.split(",") if n]
    bad = [n for n in names if n not in known]
    if bad:
        print(f"mutation_reach: unknown mutant {bad[0]!r}; known: {', '.join(known)}", file=sys.stderr)
        return 2
    res = explore(args.block_bits, args.blocks, args.holed, [known[n] for n in names], args.progress,
                  args.max_depth)
    print(report(res, args.block_bits, args.blocks, args.holed))
    return 0


def report(res: Result, block_bits: int, blocks: int, holed: bool) -> str:
    shape = f"{blocks} blocks x {block_bits} bits{', middle page unpopulated' if holed else ''}"
    scope = "every reachable state" if res.complete else f"every sequence of at most {res.depth} operations"
    lines = [f"chunk of {shape}: {scope}: {res.states} states, {res.transitions} transitions, "
             f"{res.elapsed_s:.1f} s",
             f"states with a block hint strictly inside the free run at the block's bit 0: {res.midrun_states}"]
    w = res.witness
    for sv in SURVIVORS:
        n = sv.mutant.name
        if n not in COUNTED:
            continue
        verdict = "never differs: equivalent within this bound" if not w.differs[n] else \
            f"DIFFERS (e.g. {w.example[n]})"
        open_mark = " [open]" if n in OPEN_SURVIVORS else ""
        lines.append(f"  {sv.cr_id}{open_mark}: reached {w.reached[n]}, differs {w.differs[n]}: {verdict}")
    for n, count in res.diffs.items():
        lines.append(f"  {n} run whole: " + ("identical on every transition" if not count else
                     f"differs on {count} transitions; shortest sequence {res.first_diff[n]}"))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
