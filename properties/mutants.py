"""Mutants: the port with one realistic patch-author mistake each, to show the checks bite.

Each mutant rebinds ONE method on a booted :class:`~impl.percpu.Percpu` to
the ported method (impl/*.py) recompiled from its own source with a single
line changed.  The edit names the exact line it replaces, so a mutant stops
building (and its test fails) as soon as the port's line changes.  A mutant
is a harness ``variant``::

    Harness(cfg, MUTANTS["free_area_one_bit_short"].apply)

:func:`detect` runs seeded campaigns against a mutant until some property
outside :data:`TOLERATED` fails, shrinks the calls, and replays the shrunk
program on the faithful port; tests/test_mutants.py asserts on it and a
benchmark can print its numbers as a table.

Mutants left out on purpose:

- pcpu_chunk_relocate() always moving to slot 0: a new chunk is relocated
  from slot -1 to slot 0, which pcpu_alloc() never walks, so the first
  pcpu_alloc() creates chunks forever (tried: 94k chunks in 5 s); "never
  moving" leaves the new chunk on no list, the same loop.  The mutant below
  (never demoting) is the terminating form of the mistake.
- pcpu_block_update() with ``contig >= contig_hint`` for ``>``: only
  inv_block_scan_hint_order (a tolerated kernel finding) sees it, on every
  small config; it is equivalent under the tolerated set.
- pcpu_region_overlap(): a module-level function, not a method, so it cannot
  be rebound on one instance.
"""

from __future__ import annotations
import __future__

import inspect
import textwrap
import time
import tomllib
import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from impl.percpu import Percpu

_LEDGER = Path(__file__).resolve().parent.parent / "findings" / "ledger.toml"

def ledger_findings(path: Path = _LEDGER) -> frozenset[str]:
    """The properties findings/ledger.toml records as kernel findings (empty if absent)."""
    try:
        with open(path, "rb") as f:
            return frozenset(e["property"] for e in tomllib.load(f).get("finding", []))
    except FileNotFoundError:
        return frozenset()


# What a mutant run looks past: the properties with a ledger entry (kernel
# findings), so that only violations the faithful port does not show count.
TOLERATED: frozenset[str] = ledger_findings()


class MutantBuildError(Exception):
    """The line a mutant edits is not (exactly once) in the port's method any more."""


@dataclass(frozen=True)
class Mutant:
    """One mistake in one ported function: line ``old`` of method ``function`` becomes ``new``."""

    name: str
    function: str
    old: str
    new: str
    description: str
    owner: type = Percpu  # the class whose method is edited (AreaMapPercpu for impl_areamap/)

    def original_source(self) -> str:
        return textwrap.dedent(inspect.getsource(getattr(self.owner, self.function)))

    def source(self) -> str:
        """The method's source with the one edited line, marked ``# MUTANT:``."""
        lines = self.original_source().splitlines()
        hits = [i for i, ln in enumerate(lines) if ln.strip() == self.old]
        if len(hits) != 1:
            raise MutantBuildError(f"{self.name}: {len(hits)} lines of {self.function} read {self.old!r}")
        i = hits[0]
        indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
        lines[i] = f"{indent}{self.new}  # MUTANT: was {self.old}"
        return "\n".join(lines) + "\n"

    def build(self) -> Callable[..., Any]:
        """The mutated function, compiled in the namespace of the module that defines the method."""
        original = getattr(self.owner, self.function)
        code = compile(
            self.source(), f"<mutant {self.name}>", "exec",
            flags=__future__.annotations.compiler_flag, dont_inherit=True,
        )
        namespace: dict[str, Any] = {}
        exec(code, original.__globals__, namespace)
        return namespace[self.function]  # type: ignore[no-any-return]

    def apply(self, pcpu: Percpu) -> None:
        """Harness variant: rebinds the method on this one instance."""
        setattr(pcpu, self.function, types.MethodType(self.build(), pcpu))


MUTANTS: dict[str, Mutant] = {
    m.name: m
    for m in (
        Mutant("hint_alloc_e_off_no_plus_one", "pcpu_block_update_hint_alloc",
               "e_off = self.pcpu_off_to_block_off(bit_off + bits - 1) + 1",
               "e_off = self.pcpu_off_to_block_off(bit_off + bits - 1)",
               "e_off computed without + 1: the end offset points at the last allocated bit"),
        Mutant("refresh_hint_keeps_right_free", "pcpu_block_refresh_hint",
               "block.right_free = 0", "pass",
               "right_free is not reset before the block rescan"),
        Mutant("block_update_right_edge_sets_left_free", "pcpu_block_update",
               "block.right_free = contig", "block.left_free = contig",
               "a run touching the right edge is stored in left_free (copy-paste slip)"),
        Mutant("alloc_area_first_free_ge", "pcpu_alloc_area",
               "if bit_off == chunk_md.first_free:", "if bit_off >= chunk_md.first_free:",
               "chunk first_free moved on bit_off >= first_free, not only when equal"),
        Mutant("next_fit_no_align", "pcpu_next_fit_region",
               "bits = ALIGN(block.contig_hint_start, align) - block.contig_hint_start", "bits = 0",
               "the contig_hint fit test forgets the alignment padding"),
        Mutant("zero_area_no_align", "pcpu_find_zero_area",
               "index = _ALIGN_MASK(index, align_mask)", "pass",
               "the candidate index is not aligned up"),
        Mutant("relocate_never_demotes", "pcpu_chunk_relocate",
               "if oslot != nslot:", "if oslot < nslot:",
               "oslot < nslot instead of !=: a chunk never moves to a lower slot"),
        Mutant("chunk_slot_bits_as_bytes", "pcpu_chunk_slot",
               "return self.pcpu_size_to_slot(chunk_md.contig_hint * PCPU_MIN_ALLOC_SIZE)",
               "return self.pcpu_size_to_slot(chunk_md.contig_hint)",
               "the contig_hint (in bits) is passed as a size in bytes: chunks sit two slots low"),
        Mutant("free_area_one_bit_short", "pcpu_free_area",
               "bits = end - bit_off", "bits = end - bit_off - 1",
               "the freed size is one bit short of the next boundary"),
        Mutant("empty_pages_sign", "pcpu_update_empty_pages",
               "self.pcpu_nr_empty_pop_pages += nr", "self.pcpu_nr_empty_pop_pages -= nr",
               "the global empty page count moves the wrong way"),
        Mutant("reclaim_live_pages", "pcpu_reclaim_populated",
               "if block.contig_hint == BLOCK_BITS and test_bit(i, chunk.populated):",
               "if block.contig_hint >= 0 and test_bit(i, chunk.populated):",
               "contig_hint >= 0 instead of == BLOCK_BITS: pages with live areas are depopulated"),
        Mutant("hint_free_no_between_reset", "pcpu_block_update_hint_free",
               "for block in chunk.md_blocks[s_index + 1 : e_index]:",
               "for block in chunk.md_blocks[s_index + 1 : s_index + 1]:",
               "blocks between s_block and e_block are not reset to wholly free"),
        Mutant("chunk_refresh_keeps_contig", "pcpu_chunk_refresh_hint",
               "chunk_md.contig_hint = 0", "pass",
               "chunk contig_hint is not reset before a rescan from first_free"),
        Mutant("is_populated_pfn_down", "pcpu_is_populated",
               "end = ((bit_off + bits) * PCPU_MIN_ALLOC_SIZE + PAGE_SIZE - 1) // PAGE_SIZE  # PFN_UP",
               "end = ((bit_off + bits) * PCPU_MIN_ALLOC_SIZE) // PAGE_SIZE",
               "the page range end is rounded down: the last page is not checked (the port then raises)"),
        Mutant("update_scan_includes_used_bit", "pcpu_block_update_scan",
               "s_off = 0 if (s_off == l_bit) else l_bit + 1", "s_off = 0 if (s_off == l_bit) else l_bit",
               "the backward extension starts at the used bit, not after it"),
        # per-CPU memory (properties/memory.py)
        Mutant("per_cpu_ptr_ignores_cpu", "per_cpu_ptr",
               "return ptr + self._per_cpu_offset[cpu]",
               "return ptr + self._per_cpu_offset[self.possible_cpus[0]]",
               "every CPU's pointer uses the first CPU's offset (this_cpu_ptr for per_cpu_ptr)"),
        Mutant("zero_first_cpu_only", "pcpu_alloc",
               "for cpu in self.possible_cpus:", "for cpu in self.possible_cpus[:1]:",
               "a new area is zeroed on the first CPU only"),
        Mutant("memset_one_unit_long", "pcpu_alloc",
               "self.machine.memset(self.pcpu_chunk_addr(chunk, cpu, 0) + off, 0, size)",
               "self.machine.memset(self.pcpu_chunk_addr(chunk, cpu, 0) + off, 0, size + PCPU_MIN_ALLOC_SIZE)",
               "the zeroing runs one allocation unit past the area, into the next one"),
        Mutant("populate_one_page_short", "pcpu_alloc",
               "ret = self.backend.pcpu_populate_chunk(self, chunk, rs, re, pcpu_gfp)",
               "ret = self.backend.pcpu_populate_chunk(self, chunk, rs, re - 1, pcpu_gfp)",
               "the backend populates one page less than the bitmap then records"),
        Mutant("unit_offset_last_cpu_off_by_page", "pcpu_unit_page_offset",
               "return self.pcpu_unit_offsets[cpu] + (page_idx << self.geo.PAGE_SHIFT)",
               "return self.pcpu_unit_offsets[cpu] + ((page_idx + (cpu == self.possible_cpus[-1]))"
               " << self.geo.PAGE_SHIFT)",
               "a wrong unit offset for one CPU: the last CPU's pages sit one page late"),
        Mutant("populated_misses_a_page", "pcpu_chunk_populated",
               "nr = page_end - page_start", "nr = page_end - page_start - 1",
               "the populated bitmap and counts miss the last page of each populated range"),
        Mutant("depopulated_misses_a_page", "pcpu_chunk_depopulated",
               "nr = page_end - page_start", "nr = page_end - page_start - 1",
               "after depopulation the bitmap and counts keep the last page, which is unmapped"),
        Mutant("alloc_walks_to_depopulate", "pcpu_alloc",
               "for slot in range(self.pcpu_size_to_slot(size), self.pcpu_free_slot + 1):",
               "for slot in range(self.pcpu_size_to_slot(size), self.pcpu_free_slot + 2):",
               "the slot walk runs one past the free slot, into to_depopulate"),
        Mutant("balance_skips_final_free", "pcpu_balance_workfn",
               "self.pcpu_balance_free(True)", "pass",
               "the balance work leaves out its last pass: spare free chunks without empty pages survive"),
        Mutant("ptr_to_phys_drops_page_offset", "per_cpu_ptr_to_phys",
               "return self.machine.page_to_phys(self.backend.pcpu_addr_to_page(self, addr)) + addr % PAGE_SIZE",
               "return self.machine.page_to_phys(self.backend.pcpu_addr_to_page(self, addr))",
               "outside the first chunk the offset inside the page is dropped"),
        Mutant("addr_search_reserved_is_first", "pcpu_chunk_addr_search",
               "return self.pcpu_reserved_chunk  # type: ignore[return-value]", "return self.pcpu_first_chunk",
               "an address in the reserved chunk is looked up as the first chunk"),
    )
}

# ---------------------------------------------------------------------- detection
def detect(
    mutant_name: str,
    cfg_text: str = "small16",
    seeds: Iterable[int] = range(8),
    steps: int = 300,
    tolerated: frozenset[str] = TOLERATED,
) -> dict[str, Any]:
    """Runs seeds in order until a property outside ``tolerated`` fails on the mutant.

    Returns a dict: ``mutant``, ``function``, ``config``; ``property`` that
    caught it (None if none did), ``seed``, ``steps`` (raw calls) and
    ``shrunk`` (calls after :func:`properties.litmus.shrink`), ``calls`` (the
    shrunk program), ``where`` and ``mutant_replay`` (the first violation when
    the shrunk program is replayed on the mutant), ``faithful`` (every
    non-tolerated property the faithful port violates on the shrunk program;
    empty when it agrees), ``seeds_tried`` and ``seconds`` (wall clock).
    """
    from properties import litmus
    from tools.find import campaign

    m = MUTANTS[mutant_name]
    t0 = time.perf_counter()
    out: dict[str, Any] = {
        "mutant": m.name, "function": m.function, "config": cfg_text, "property": None,
        "seed": None, "steps": None, "shrunk": None, "calls": [], "where": None,
        "mutant_replay": None, "faithful": [], "seeds_tried": 0,
    }
    for seed in seeds:
        out["seeds_tried"] += 1
        hits = campaign(cfg_text, [seed], steps, tolerated, m.apply, verbose=False)
        if not hits:
            continue
        prop, (seed, calls) = next(iter(hits.items()))
        small = litmus.shrink(calls, cfg_text, prop, m.apply, ignore=tolerated)
        r = litmus.run(small, cfg_text, m.apply, stop_at_first=True, ignore=tolerated)
        f = litmus.run(small, cfg_text, None, ignore=tolerated)
        out.update(
            property=prop, seed=seed, steps=len(calls), shrunk=len(small), calls=small,
            where=r.first[1].line() if r.first else None,
            mutant_replay=r.first[1].prop if r.first else None,
            faithful=sorted({v.prop for v in f.harness.violations} - tolerated),
        )
        break
    out["seconds"] = round(time.perf_counter() - t0, 2)
    return out
