"""Per-CPU memory properties: every live area, on every possible CPU, byte for byte.

The harness writes a distinct pattern through ``per_cpu_ptr()`` for each
CPU after each successful allocation; the model (model/memory.py) records
it.  After every step these checks read the simulated machine's memory at
the address the unit map gives and compare.  The unit map comes from the
allocation info the configuration produced at boot
(impl.unitmap.unit_table), not from the port's runtime tables, so a port
that computes a CPU's unit offset wrongly is judged against it.

Properties (all listed in registry.CALL_PROPERTIES):

- inv_area_in_cpu_unit: per_cpu_ptr(ptr, cpu) is the area's offset inside
  that CPU's unit, and the area ends inside the unit;
- inv_no_overlap_any_cpu: no two live areas share a byte on any CPU;
- inv_area_on_populated_pages: the pages under a live area are populated in
  the chunk's bitmap and mapped for every CPU;
- inv_populated_is_mapped: a chunk's populated bit says whether the page is
  mapped, for every CPU;
- diff_zero_on_return: a new area reads as zero on every CPU;
- inv_percpu_memory: every CPU's copy of every live area still holds what
  was written through that CPU's pointer (a write is invisible elsewhere);
- inv_addr_search_owner: pcpu_chunk_addr_search() of a live pointer finds
  the chunk that owns it;
- inv_ptr_to_phys: per_cpu_ptr_to_phys() of each CPU's copy of a new area
  is the physical address of the page the machine maps there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from impl.unitmap import unit_table
from model.memory import ModelMemory, pattern
from properties.registry import Violation

if TYPE_CHECKING:
    from properties.harness import Harness

MEMORY_PROPERTIES = [
    "inv_area_in_cpu_unit", "inv_no_overlap_any_cpu", "inv_area_on_populated_pages", "inv_populated_is_mapped",
    "diff_zero_on_return", "inv_percpu_memory", "inv_addr_search_owner", "inv_ptr_to_phys",
]


def unit_offsets_of(ai: Any) -> dict[int, int]:
    """cpu -> unit byte offset from the boot's allocation info."""
    return {cpu: off for cpu, _group, _unit, off in unit_table(ai) if cpu is not None}


Span = tuple[int, int, int, int, int]  # (addr, end, chunk id, offset in chunk, size)


class MemoryChecks:
    """The model memory of one harness and the checks against the port's machine.

    Checks are incremental: each step looks at the live areas on pages the
    machine wrote, mapped or unmapped since the last step (``Machine.dirty``),
    and at the population of chunks whose populated bitmap or mapping
    changed; ``check(force=True)`` looks at everything.
    """

    def __init__(self, h: Harness) -> None:
        self.h = h
        pcpu = h.pcpu
        self.mem = ModelMemory(unit_offsets_of(pcpu.pcpu_stats_ai), pcpu.pcpu_unit_size, h.cfg.page_size)
        self.spans: dict[tuple[int, int], Span] = {}  # (handle, cpu) -> span
        self.by_page: dict[int, set[tuple[int, int]]] = {}
        self._pop_seen: dict[int, int] = {}
        self._map_seen = -1
        for c in pcpu.all_chunks():
            self.chunk_created(c)
        pcpu.machine.dirty.clear()

    # ------------------------------------------------------------ lifecycle
    def chunk_created(self, c: Any) -> None:
        self.mem.add_chunk(c.id, c.nr_pages * self.h.cfg.page_size)
        for p in range(c.nr_pages):
            if c.populated.test_bit(p):
                self.mem.set_populated(c.id, p, True)

    def chunk_destroyed(self, cid: int) -> None:
        self.mem.drop_chunk(cid)
        self._pop_seen.pop(cid, None)

    def _addr(self, c: Any, cpu: int, off: int) -> int:
        return self.mem.unit_addr(c.base_addr, cpu, off)

    def _pages(self, addr: int, end: int) -> range:
        ps = self.h.cfg.page_size
        return range(addr - addr % ps, end, ps)

    def _fail(self, name: str, where: str, expected: object, actual: object, detail: str = "") -> Violation:
        return Violation(name, f"step {self.h.step}: {where}", expected, actual, detail)

    def _read(self, addr: int, size: int) -> bytes | None:
        try:
            return self.h.pcpu.machine.read(addr, size)
        except MemoryError:
            return None

    # ------------------------------------------------------------ on alloc / free
    def on_alloc(self, handle: int, c: Any, off: int, size: int, ptr: int) -> list[Violation]:
        """Zero on every CPU, then a distinct pattern written through each CPU's pointer."""
        out = self._placement(handle, c, off, size, ptr)
        out += self._owner(handle, c.id, ptr)
        machine = self.h.pcpu.machine
        for cpu in self.mem.cpus:
            got = self._read(self._addr(c, cpu, off), size)
            if got is None:
                out.append(self._fail("inv_area_on_populated_pages", f"chunk#{c.id} cpu {cpu}",
                                      "mapped pages", "an unmapped page", f"new area h{handle} off={off}"))
                return out
            if any(got):
                nz = next(i for i, b in enumerate(got) if b)
                out.append(self._fail("diff_zero_on_return", f"chunk#{c.id} cpu {cpu}", 0, got[nz],
                                      f"byte {nz} of new area h{handle} off={off}"))
                break
        out += self._phys(handle, c, off)
        self.mem.alloc(c.id, off, size)
        for cpu in self.mem.cpus:
            addr = self._addr(c, cpu, off)
            self._forget_writes_inside(addr, addr + size)
            span = (addr, addr + size, c.id, off, size)
            for page_addr in self._pages(addr, addr + size):
                for other in self.by_page.get(page_addr, ()):
                    o = self.spans[other]
                    if o[0] < span[1] and span[0] < o[1] and other[0] != handle:
                        out.append(self._fail("inv_no_overlap_any_cpu", f"{max(o[0], addr):#x}", "disjoint areas",
                                              f"h{handle}@cpu{cpu} overlaps h{other[0]}@cpu{other[1]}"))
                self.by_page.setdefault(page_addr, set()).add((handle, cpu))
            self.spans[(handle, cpu)] = span
        if out:
            return out
        # the harness's own writes land where the placement check just proved; they need no recheck
        dirty = {k: list(v) for k, v in machine.dirty.items()}
        for cpu in self.mem.cpus:
            data = pattern(handle, cpu, size)
            machine.write(self.h.pcpu.per_cpu_ptr(ptr, cpu), data)
            self.mem.write(c.id, cpu, off, data)
        machine.dirty = dirty
        return out

    def _forget_writes_inside(self, addr: int, end: int) -> None:
        """Writes wholly inside a new area (its zeroing) touch no live area: no recheck needed."""
        dirty = self.h.pcpu.machine.dirty
        for page_addr in self._pages(addr, end):
            ranges = dirty.get(page_addr)
            if ranges:
                kept = [r for r in ranges if not (addr <= r[0] and r[1] <= end)]
                if kept:
                    dirty[page_addr] = kept
                else:
                    del dirty[page_addr]

    def on_free(self, handle: int) -> None:
        for cpu in self.mem.cpus:
            span = self.spans.pop((handle, cpu), None)
            if span is None:
                continue
            for page_addr in self._pages(span[0], span[1]):
                keys = self.by_page.get(page_addr)
                if keys is not None:
                    keys.discard((handle, cpu))
                    if not keys:
                        del self.by_page[page_addr]

    def _placement(self, handle: int, c: Any, off: int, size: int, ptr: int) -> list[Violation]:
        for cpu in self.mem.cpus:
            want = self._addr(c, cpu, off)
            got = self.h.pcpu.per_cpu_ptr(ptr, cpu)
            if got != want or off + size > self.mem.unit_size:
                return [self._fail("inv_area_in_cpu_unit", f"chunk#{c.id} cpu {cpu}", hex(want), hex(got),
                                   f"h{handle} off={off} size={size} unit_size={self.mem.unit_size}")]
        return []

    def _phys(self, handle: int, c: Any, off: int) -> list[Violation]:
        """per_cpu_ptr_to_phys() of each CPU's copy is the physical address of the page mapped there."""
        machine = self.h.pcpu.machine
        ps = self.h.cfg.page_size
        for cpu in self.mem.cpus:
            addr = self._addr(c, cpu, off)
            pg = machine.vmalloc_to_page(addr)
            if pg is None:
                continue  # inv_area_on_populated_pages reports it
            want = machine.page_to_phys(pg) + addr % ps
            try:
                got: object = self.h.pcpu.per_cpu_ptr_to_phys(addr)
            except Exception as e:  # noqa: BLE001 - a translation that crashes is wrong
                got = repr(e)
            if got != want:
                return [self._fail("inv_ptr_to_phys", f"chunk#{c.id} cpu {cpu}", hex(want),
                                   hex(got) if isinstance(got, int) else got, f"h{handle} off={off}")]
        return []

    def _owner(self, handle: int, cid: int, ptr: int) -> list[Violation]:
        pcpu = self.h.pcpu
        try:
            owner = pcpu.pcpu_chunk_addr_search(pcpu._pcpu_ptr_to_addr(ptr))
        except Exception as e:  # noqa: BLE001 - a lookup that crashes does not find the owner
            owner = e
        if getattr(owner, "id", None) != cid:
            got = f"chunk#{owner.id}" if hasattr(owner, "id") else repr(owner)
            return [self._fail("inv_addr_search_owner", f"h{handle}", f"chunk#{cid}", got)]
        return []

    # ------------------------------------------------------------ every step
    def check(self, force: bool = False) -> list[Violation]:
        h = self.h
        out: list[Violation] = []
        machine = h.pcpu.machine
        chunks = {c.id: c for c in h.pcpu.all_chunks()}
        remapped = machine.map_events != self._map_seen
        self._map_seen = machine.map_events
        self._sync_population(chunks, out, force or remapped)
        if force:
            keys = set(self.spans)
        else:
            keys = set()
            for page_addr, ranges in machine.dirty.items():
                for key in self.by_page.get(page_addr, ()):
                    a, e = self.spans[key][:2]
                    if any(lo < e and a < hi for lo, hi in ranges):
                        keys.add(key)
        machine.dirty.clear()
        handles_seen: set[int] = set()
        for handle, cpu in sorted(keys):
            addr, end, cid, off, size = self.spans[(handle, cpu)]
            c = chunks.get(cid)
            if c is None or cid not in self.mem.chunks:
                continue
            if handle not in handles_seen:
                handles_seen.add(handle)
                out += self._owner(handle, cid, h.handles[handle])
            got = self._read(addr, size)
            if got is None:
                out.append(self._fail("inv_area_on_populated_pages", f"chunk#{cid} cpu {cpu}",
                                      "mapped pages", "an unmapped page", f"live area h{handle} off={off}"))
                continue
            want = self.mem.expected(cid, cpu, off, size)
            if got != want:
                i = next(k for k in range(size) if got[k] != want[k])
                out.append(self._fail("inv_percpu_memory", f"chunk#{cid} cpu {cpu}", want[i], got[i],
                                      f"byte {i} of live area h{handle} off={off}"))
        if force:
            out += self._all_overlaps()
        return out

    def _all_overlaps(self) -> list[Violation]:
        spans = sorted((s[0], s[1], k) for k, s in self.spans.items())
        for (_a0, e0, k0), (a1, _e1, k1) in zip(spans, spans[1:], strict=False):
            if a1 < e0:
                return [self._fail("inv_no_overlap_any_cpu", f"{a1:#x}", "disjoint areas",
                                   f"h{k0[0]}@cpu{k0[1]} and h{k1[0]}@cpu{k1[1]} overlap")]
        return []

    def _sync_population(self, chunks: dict[int, Any], out: list[Violation], mapping_changed: bool) -> None:
        """Follows the port's legitimate (de)population; flags it under live areas and against the mapping."""
        h = self.h
        ps = h.cfg.page_size
        machine = h.pcpu.machine
        todo = [c for cid, c in chunks.items() if cid in self.mem.chunks
                and (mapping_changed or self._pop_seen.get(cid) != c.populated.bits)]
        if not todo:
            return
        live_pages: dict[int, set[int]] = {}
        for handle, cpu in self.spans:
            if cpu == self.mem.cpus[0]:
                area = h.model.live.get(handle)
                um = self.mem.chunks.get(area.chunk_id) if area else None
                if area is not None and um is not None:
                    live_pages.setdefault(area.chunk_id, set()).update(
                        um.pages_of(area.start_unit * 4, area.units * 4))
        for c in todo:
            cid = c.id
            self._pop_seen[cid] = c.populated.bits
            fixed = c is h.pcpu.pcpu_first_chunk or c is h.pcpu.pcpu_reserved_chunk
            for p in range(c.nr_pages):
                bit = c.populated.test_bit(p)
                if not bit and p in live_pages.get(cid, ()):
                    out.append(self._fail("inv_area_on_populated_pages", f"chunk#{cid} page {p}",
                                          "populated", "not populated", "a live area sits on it"))
                if bit != self.mem.is_populated(cid, p):
                    self.mem.set_populated(cid, p, bit)
                if fixed:
                    continue
                mapped = [machine.vmalloc_to_page(self._addr(c, cpu, p * ps)) is not None for cpu in self.mem.cpus]
                if any(m != bit for m in mapped):
                    out.append(self._fail("inv_populated_is_mapped", f"chunk#{cid} page {p}",
                                          f"mapped on every CPU = {bit}", f"mapped per CPU {mapped}"))
