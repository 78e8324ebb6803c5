"""Evidence for the cosmic-ray mutants that survive tools/mutation_probe.py.

    python -m tools.mutation_witness [--seeds 0-499] [--mutant-seeds 0-49] [--steps 600]
                                     [--walk-seeds 0-19] [--walk-steps 400]

For each survivor in :data:`SURVIVORS` (the cosmic-ray id, and the same
one-line edit as a :class:`properties.mutants.Mutant`):

1. **witness** -- on the faithful port, counts how often the mutated
   statement is reached and how often the mutant would compute a different
   value there (``differs``), from the state just before the call.  The
   counts come from the chunk-level C-differential walks and from harness
   walks (tools.find.random_calls) on small16/small32/small64.
2. **mutant vs C** -- the mutant in the chunk-level C differential
   (tools.mutation_probe.c_differential) over the same seeds: ``identical``
   or the first difference.

``differs == 0`` over every walk with the statement reached, together with
the argument in docs/mutation/equivalent.toml, is what the equivalence
claims rest on; a non-zero ``differs`` is a reachable state, and the mutant
must then be killed by a check.  Deterministic: seeds are printed.
"""

from __future__ import annotations

import random
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from impl.percpu import Percpu
from properties.configs import parse_config
from properties.harness import Harness
from properties.mutants import Mutant, MutantBuildError
from properties.oneline_args import OneLineParser
from tools.find import parse_seeds, random_calls
from tools.mutation_probe import c_differential

WALK_CONFIGS = ("small16", "small32", "small64")


@dataclass(frozen=True)
class NthLineMutant(Mutant):
    """A Mutant whose edited line occurs ``count`` times in the method; occurrence ``nth`` (from 0) is edited."""

    nth: int = 0
    count: int = 1

    def source(self) -> str:
        lines = self.original_source().splitlines()
        hits = [i for i, ln in enumerate(lines) if ln.strip() == self.old]
        if len(hits) != self.count:
            raise MutantBuildError(f"{self.name}: {len(hits)} lines of {self.function} read {self.old!r}")
        i = hits[self.nth]
        indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
        lines[i] = f"{indent}{self.new}  # MUTANT: was {self.old}"
        return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Survivor:
    """A surviving cosmic-ray mutant: its report id and the same edit as a one-line Mutant."""

    cr_id: str
    mutant: Mutant


SURVIVORS: tuple[Survivor, ...] = (
    Survivor("impl/search.py:160:ReplaceComparisonOperator_Lt_LtE:3",
             Mutant("find_block_fit_le", "pcpu_find_block_fit",
                    "while bit_off < map_bits:", "while bit_off <= map_bits:",
                    "the pop_only loop also runs at the map end")),
    Survivor("impl/hints.py:298:ReplaceBinaryOperator_Sub_Add:8",
             Mutant("e_block_right_free_plus", "pcpu_block_update_hint_alloc",
                    "e_block.right_free = min(e_block.right_free, BLOCK_BITS - e_off)",
                    "e_block.right_free = min(e_block.right_free, BLOCK_BITS + e_off)",
                    "e_block.right_free not shortened")),
    Survivor("impl/hints.py:136:ReplaceComparisonOperator_Lt_LtE:4",
             Mutant("smaller_start_le", "pcpu_block_update",
                    "if start < block.contig_hint_start and (",
                    "if start <= block.contig_hint_start and (",
                    "a smaller region starting at contig_hint_start may become the scan_hint")),
    Survivor("impl/hints.py:130:ReplaceComparisonOperator_Gt_GtE:7",
             Mutant("tie_start_ge", "pcpu_block_update",
                    "elif start > block.scan_hint_start or block.contig_hint > block.scan_hint:",
                    "elif start >= block.scan_hint_start or block.contig_hint > block.scan_hint:",
                    "a tie at scan_hint_start replaces the scan_hint")),
    Survivor("impl/hints.py:153:ReplaceComparisonOperator_Gt_GtE:11",
             Mutant("update_scan_ge", "pcpu_block_update_scan",
                    "if e_off > self.PCPU_BITMAP_BLOCK_BITS:",
                    "if e_off >= self.PCPU_BITMAP_BLOCK_BITS:",
                    "a skipped hole ending at the block end is not offered")),
    Survivor("impl/hints.py:290:ReplaceComparisonOperator_Gt_GtE:12",
             Mutant("e_block_scan_ge", "pcpu_block_update_hint_alloc",
                    "if e_off > e_block.scan_hint_start:",
                    "if e_off >= e_block.scan_hint_start:",
                    "an allocation ending at e_block's scan_hint_start clears it")),
    Survivor("impl/search.py:114:ReplaceComparisonOperator_GtE_Gt:4",
             NthLineMutant("right_free_fit_gt", "pcpu_next_fit_region", "if bits >= alloc_bits:",
                           "if bits > alloc_bits:", "a right_free run that fits exactly is passed over",
                           nth=1, count=2)),
    Survivor("impl/hints.py:294:ReplaceComparisonOperator_Gt_GtE:13",
             Mutant("e_block_contig_ge", "pcpu_block_update_hint_alloc",
                    "if e_off > e_block.contig_hint_start:", "if e_off >= e_block.contig_hint_start:",
                    "an allocation ending at e_block's contig_hint_start rescans the block")),
    Survivor("impl/search.py:207:NumberReplacer:33",
             Mutant("zero_area_restart_at_i", "pcpu_find_zero_area", "start = i + 1", "start = i + 0",
                    "the search restarts at the set bit, not one past it")),
    Survivor("impl/hints.py:183:NumberReplacer:23",
             Mutant("chunk_refresh_bits_minus_one", "pcpu_chunk_refresh_hint", "bits = 0", "bits = -1",
                    "bits starts at -1 before the first region")),
    Survivor("impl/hints.py:189:NumberReplacer:25",
             Mutant("chunk_refresh_step_plus0", "pcpu_chunk_refresh_hint",
                    "bit_off += bits + 1", "bit_off += bits + 0",
                    "the region walk resumes at the region end, not one past it")),
)


# the survivors Witness counts (the others are settled by the C differential or need no run)
COUNTED = frozenset({"find_block_fit_le", "e_block_right_free_plus", "smaller_start_le", "tie_start_ge",
                     "update_scan_ge", "e_block_scan_ge", "chunk_refresh_step_plus0", "e_block_contig_ge"})


def _ffs(x: int) -> int:
    return (x & -x).bit_length()


class Witness:
    """Counters per survivor: ``reached`` (the statement runs) and ``differs`` (the mutant's value differs)."""

    def __init__(self) -> None:
        self.reached: Counter[str] = Counter()
        self.differs: Counter[str] = Counter()
        self.example: dict[str, str] = {}
        self.states: Counter[str] = Counter()

    def hit(self, key: str, reached: bool, differs: bool, where: str) -> None:
        if reached:
            self.reached[key] += 1
        if differs:
            self.differs[key] += 1
            self.example.setdefault(key, where)

    def apply(self, pc: Percpu) -> None:
        """Harness variant: wraps the port's methods on this instance; behaviour is unchanged."""
        _wrap(pc, "pcpu_find_block_fit", self._find_block_fit)
        _wrap(pc, "pcpu_block_update_hint_alloc", self._hint_alloc)
        _wrap(pc, "pcpu_block_update", self._block_update)
        _wrap(pc, "pcpu_block_update_scan", self._update_scan)
        _wrap(pc, "pcpu_chunk_refresh_hint", self._chunk_refresh)
        _wrap(pc, "pcpu_next_md_free_region", self._md_free_region)
        self._md_calls = -1  # md free-region calls made by the running chunk refresh; -1 outside one

    def _chunk_refresh(self, pc: Percpu, orig: Callable[..., Any], chunk: Any, full_scan: bool) -> Any:
        # the first region call reads bits only after assigning it: bits = -1 is never read
        self.hit("chunk_refresh_bits_minus_one", True, False, "")
        self._md_calls = 0
        try:
            return orig(chunk, full_scan)
        finally:
            self._md_calls = -1

    def _md_free_region(self, pc: Percpu, orig: Callable[..., Any], chunk: Any, bit_off: int, bits: int) -> Any:
        got = orig(chunk, bit_off, bits)
        if self._md_calls > 0:  # a call of the walk's loop: bit_off is the last region's end + 1
            map_bits = pc.pcpu_chunk_map_bits(chunk)
            alt = orig(chunk, bit_off - 1, bits)
            same = alt == got or (alt[0] >= map_bits and got[0] >= map_bits)
            self.hit("chunk_refresh_step_plus0", True, not same,
                     f"resume at {bit_off - 1}: {alt} instead of {got}; blocks "
                     f"{[md.as_tuple() for md in chunk.md_blocks]}")
        if self._md_calls >= 0:
            self._md_calls += 1
        return got

    def _find_block_fit(self, pc: Percpu, orig: Callable[..., Any], chunk: Any, alloc_bits: int, align: int,
                        pop_only: bool) -> Any:
        off = orig(chunk, alloc_bits, align, pop_only)
        # the mutant's loop runs once more exactly when a region walk reached the map end with
        # pop_only set; it then returns -1 as well only if that extra pass finds nothing (argued)
        chunk_md = chunk.chunk_md
        walked = pc.pcpu_check_block_hint(chunk_md, alloc_bits, align)
        self.hit("find_block_fit_le", bool(walked and pop_only and off < 0), False, "")
        return off

    def _hint_alloc(self, pc: Percpu, orig: Callable[..., Any], chunk: Any, bit_off: int, bits: int) -> Any:
        bb = pc.PCPU_BITMAP_BLOCK_BITS
        self._midrun_at_0(chunk, bb)
        s_index = bit_off // bb
        e_index = (bit_off + bits - 1) // bb
        e_off = (bit_off + bits - 1) % bb + 1
        if s_index != e_index and e_off != bb:
            e = chunk.md_blocks[e_index]
            where = f"e_block {e_index} {e.as_tuple()} e_off {e_off}"
            # line 290: `>` vs `>=` differ at e_off == scan_hint_start, and only if there is a scan_hint
            self.hit("e_block_scan_ge", e_off == e.scan_hint_start, e_off == e.scan_hint_start and e.scan_hint > 0,
                     where)
            # line 298 runs when the contig_hint is not hit; the mutant keeps right_free unshortened
            # line 294: `>=` also rescans when the allocation ends exactly at contig_hint_start
            # (counted as differing whenever reached: the rescan may rebuild other hints)
            self.hit("e_block_contig_ge", e_off == e.contig_hint_start, e_off == e.contig_hint_start, where)
            if not e_off > e.contig_hint_start:
                self.hit("e_block_right_free_plus", True, e.right_free > bb - e_off, where)
        return orig(chunk, bit_off, bits)

    def _midrun_at_0(self, chunk: Any, bb: int) -> None:
        """The state the open survivors need: a hint starting strictly inside the free run at a block's bit 0."""
        for i, md in enumerate(chunk.md_blocks):
            run0 = (chunk.alloc_map.bits >> (i * bb)) & ((1 << bb) - 1)
            f0 = (run0 & -run0).bit_length() - 1 if run0 else bb  # first allocated bit of the block
            self.states["block states looked at"] += 1
            if md.contig_hint and 0 < md.contig_hint_start < f0:
                self.states["contig_hint starts inside the run at bit 0"] += 1
            if md.scan_hint and 0 < md.scan_hint_start < f0:
                self.states["scan_hint starts inside the run at bit 0"] += 1

    def _block_update(self, pc: Percpu, orig: Callable[..., Any], block: Any, start: int, end: int) -> Any:
        contig = end - start
        ch, chs, sh, ss = block.contig_hint, block.contig_hint_start, block.scan_hint, block.scan_hint_start
        where = f"block {block.as_tuple()} region [{start}, {end})"
        if contig < ch:
            # line 136: `<` vs `<=` differ at start == contig_hint_start when the scan_hint test passes
            scan_test = contig > sh or (contig == sh and start > ss)
            self.hit("smaller_start_le", start == chs, start == chs and scan_test, where)
        elif contig == ch:
            aligned = bool(chs) and (not start or _ffs(start) > _ffs(chs))
            if not aligned:
                # line 130: differ at start == scan_hint_start; with contig_hint == scan_hint both
                # branches leave the same fields, so only contig_hint < scan_hint changes anything
                self.hit("tie_start_ge", start == ss, start == ss and ch < sh, where)
        return orig(block, start, end)

    def _update_scan(self, pc: Percpu, orig: Callable[..., Any], chunk: Any, bit_off: int, bits: int) -> Any:
        bb = pc.PCPU_BITMAP_BLOCK_BITS
        e_off = bit_off % bb + bits
        self.hit("update_scan_ge", e_off >= bb, e_off == bb, f"hole [{bit_off}, {bit_off + bits})")
        return orig(chunk, bit_off, bits)


def _wrap(pc: Percpu, name: str, hook: Callable[..., Any]) -> None:
    orig = getattr(pc, name)

    def wrapped(*args: Any) -> Any:
        return hook(pc, orig, *args)

    setattr(pc, name, wrapped)


def harness_walks(witness: Witness, seeds: list[int], steps: int) -> int:
    """Seeded harness walks with the witness counters on; returns the number of calls made."""
    calls = 0
    for cfg_name in WALK_CONFIGS:
        cfg = parse_config(cfg_name)
        for seed in seeds:
            h = Harness(cfg, witness.apply, check_every_step=False)
            random_calls(h, random.Random(seed), steps)
            calls += h.step
    return calls


def main(argv: list[str] | None = None) -> int:
    ap = OneLineParser(prog="python -m tools.mutation_witness")
    ap.add_argument("--seeds", default="0-499", help="chunk-level C-differential seeds for the counters")
    ap.add_argument("--mutant-seeds", default="0-49", help="chunk-level seeds for each mutant vs the C")
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--walk-seeds", default="0-19", help="harness walk seeds per config")
    ap.add_argument("--walk-steps", type=int, default=400)
    args = ap.parse_args(argv)
    try:
        seeds, walk_seeds = parse_seeds(args.seeds), parse_seeds(args.walk_seeds)
        mutant_seeds = parse_seeds(args.mutant_seeds)
    except ValueError as e:
        print(f"mutation_witness: bad argument: {e}", file=sys.stderr)
        return 2
    print(f"counters: C differential seeds {args.seeds} x {args.steps} steps (and its directed scenarios), "
          f"harness walks {args.walk_seeds} x {args.walk_steps} calls on {', '.join(WALK_CONFIGS)}; "
          f"mutant vs C: seeds {args.mutant_seeds}")
    w = Witness()
    diff = c_differential(seeds, args.steps, w.apply)
    if diff is not None:
        print(f"faithful port vs C: {diff}")
        return 1
    calls = harness_walks(w, walk_seeds, args.walk_steps)
    print(f"harness walks: {calls} calls")
    keys = ("block states looked at", "contig_hint starts inside the run at bit 0",
            "scan_hint starts inside the run at bit 0")
    print("block states before each allocation: " + ", ".join(f"{k} {w.states[k]}" for k in keys))
    for s in SURVIVORS:
        key = s.mutant.name
        vs_c = c_differential(mutant_seeds, args.steps, s.mutant.apply) or "identical"
        counts = f"reached {w.reached[key]}, differs {w.differs[key]}" if key in COUNTED else "no witness counter"
        print(f"{s.cr_id}\n    {s.mutant.description}: {counts}; mutant vs C: {vs_c}")
        if key in w.example:
            print(f"    first state where it differs: {w.example[key]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
