"""The refinement harness: the port and the model side by side, every check on.

One :class:`Harness` runs one boot.  Each operation (named after the kernel
entry point it calls) is applied to the port, judged against the model, and
followed by the structural checks.  The Hypothesis machine, the replay of
counterexample files and the benchmarks all drive this same class.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from impl.boot import PcpuConfig
from impl.chunk import KernelOops
from impl.internal import pcpu_chunk
from impl.kernel import GFP_ATOMIC, GFP_KERNEL
from impl.percpu import Percpu
from model.chunk import ModelChunk
from model.system import Live, SystemModel
from properties import bookkeeping, implementations, invariants, stats
from properties.memory import MemoryChecks
from properties.registry import Violation

Variant = Callable[[Percpu], None]


class Harness:
    """The port under test, the model, and the checks between them."""

    def __init__(
        self, cfg: PcpuConfig, variant: Variant | None = None, *, check_every_step: bool = True,
        implementation: str = "bitmap",
    ) -> None:
        self.cfg = cfg
        self.impl = implementations.implementation(implementation)
        self.pcpu = self.impl.boot(cfg)
        if variant is not None:
            variant(self.pcpu)
        self.pcpu.tracing = True
        self.model = SystemModel(cfg.page_size)
        rc = self.pcpu.pcpu_reserved_chunk
        self.model.add_first_chunks(
            cfg.static_size, cfg.reserved_size, cfg.dyn_size, rc.id if rc else None, self.pcpu.pcpu_first_chunk.id
        )
        self.handles: dict[int, int] = {}  # handle -> percpu pointer
        self.next_handle = 0
        self.step = 0
        self.events: Counter[str] = Counter()
        self.violations: list[Violation] = []
        self.check_every_step = check_every_step
        self.ops: list[str] = []  # the calls so far, as counterexample-file lines
        self._checked_sig: dict[int, Any] = {}
        self._flags: dict[int, tuple[Any, tuple[str, ...]]] = {}
        self._recheck_all_memory = False
        self._stats_due = False
        self._stats_pending: set[int] = set()  # chunks changed since their stats dump was last checked
        self.memory = MemoryChecks(self)
        self.violations += self._geometry_checks()
        self.check()

    # ------------------------------------------------------------ helpers
    def chunk_by_id(self) -> dict[int, pcpu_chunk]:
        return {c.id: c for c in self.pcpu.all_chunks()}

    def _sync_chunks(self, before: set[int]) -> set[int]:
        """Tells the model about chunks created and destroyed; returns new ids."""
        now = self.chunk_by_id()
        created = set(now) - before
        for cid in sorted(created):
            self.model.add_chunk(cid, self.pcpu.pcpu_unit_size)
            self.memory.chunk_created(now[cid])
            self.events["chunk_created"] += 1
        for cid in sorted(before - set(now)):
            if cid in self.model.chunks:
                why = self.model.drop_chunk(cid)
                self.memory.chunk_destroyed(cid)
                self.events["chunk_destroyed"] += 1
                if why:
                    self._fail("diff_destroy_empty_only", f"chunk#{cid}", "no live areas", why)
        return created

    def _fail(self, name: str, where: str, expected: object, actual: object, detail: str = "") -> None:
        self.violations.append(Violation(name, f"step {self.step}: {where}", expected, actual, detail))

    def _port_call(self, what: str, fn: Callable[..., Any], *args: Any) -> tuple[bool, Any]:
        """Calls into the port; an exception it raises becomes a violation, not a crash."""
        try:
            return True, fn(*args)
        except (MemoryError, KernelOops, AssertionError, IndexError, KeyError, AttributeError, TypeError) as e:
            self.events["port_exception"] += 1
            self._fail("diff_port_exception", what, "a return", f"{type(e).__name__}: {e}")
            return False, None

    def _locate(self, ev: Any) -> pcpu_chunk | None:
        base, off = ev.fields["base_addr"], ev.fields["off"]
        ps = self.cfg.page_size
        for c in self.pcpu.all_chunks():
            if c.base_addr == base and c.start_offset <= off < c.nr_pages * ps - c.end_offset:
                return c
        return None

    # ------------------------------------------------------------ entries
    def pcpu_alloc(self, size: int, align: int, reserved: bool = False, atomic: bool = False) -> int | None:
        """Calls pcpu_alloc() and judges the outcome; returns a handle or None.

        Handles are numbered per call, failed or not, so that a counterexample
        line names the same handle however the calls before it turned out.
        """
        self.step += 1
        handle_name = f"h{self.next_handle}"
        self.next_handle += 1
        self.ops.append(
            f"{handle_name} = pcpu_alloc(size={size}, align={align}, reserved={int(reserved)}, atomic={int(atomic)})"
        )
        pcpu = self.pcpu
        chunks = pcpu.all_chunks()
        before = {c.id for c in chunks}
        populated = {c.id: c.populated.bits for c in chunks}
        isolated = {c.id for c in chunks if c.isolated}
        slots = {c.id: pcpu.slot_of(c) for c in chunks}
        room = self.impl.snapshot(chunks) if self.impl.snapshot else {}
        pcpu.trace_log.clear()
        armed = pcpu.machine.fail_page_allocs > 0 or pcpu.machine.fail_chunk_allocs > 0
        gfp = GFP_ATOMIC if atomic else GFP_KERNEL
        ok, ptr = self._port_call("pcpu_alloc", pcpu.pcpu_alloc, size, align, reserved, gfp)
        created = self._sync_chunks(before)
        if not ok:
            self.after_step()
            return None
        units = -(-max(size, 1) // 4)
        align_units = max(align, 4) // 4
        legal = 0 < size <= self.cfg.min_unit_size and align <= self.cfg.page_size and align & (align - 1) == 0
        self._count_request(units, align_units, reserved, atomic)

        if ptr is None:
            self.events["alloc_failed"] += 1
            err = pcpu.last_alloc_err
            if err in self.impl.injected_errors:
                # only an injected failure may explain these
                self.events["alloc_failed_injected"] += 1
                self._recheck_all_memory = True  # nothing live may be lost by the failure path
                if not armed:
                    self._fail("diff_alloc_failure_justified", "pcpu_alloc", "an injected failure", err)
            if legal and err not in self.impl.unjudged_errors:
                self._judge_misses(
                    units, align_units, reserved, atomic, before, populated, isolated, slots, size, room=room
                )
        else:
            if not legal:
                self._fail("diff_illegal_request_refused", "pcpu_alloc", "NULL", hex(ptr), f"size={size} align={align}")
            ev = next((e for e in pcpu.trace_log if e.name == "percpu_alloc_percpu"), None)
            chunk = self._locate(ev) if ev else None
            if chunk is None or chunk.id not in self.model.chunks:
                self._fail("diff_alloc_area_allowed", "pcpu_alloc", "an area inside a known chunk", hex(ptr))
                return None
            mc = self.model.chunks[chunk.id]
            start = ev.fields["off"] // 4  # type: ignore[union-attr]
            why = mc.area_allowed(start, units, align_units)
            if why:
                self._fail("diff_alloc_area_allowed", f"chunk#{chunk.id}", "a free, aligned area in the region", why)
                return None
            if slots.get(chunk.id) == pcpu.pcpu_to_depopulate_slot:
                self._fail("diff_alloc_not_to_depopulate", f"chunk#{chunk.id}",
                           "no area from a chunk isolated on to_depopulate", f"area at unit {start}")
            is_reserved_chunk = chunk is pcpu.pcpu_reserved_chunk
            if reserved and pcpu.pcpu_reserved_chunk is not None and not is_reserved_chunk:
                self._fail("diff_alloc_chunk_kind", f"chunk#{chunk.id}", "the reserved chunk", "a normal chunk")
            if not reserved and is_reserved_chunk:
                self._fail("diff_alloc_chunk_kind", f"chunk#{chunk.id}", "a normal chunk", "the reserved chunk")
            if atomic and not self._on_pages(populated.get(chunk.id, chunk.populated.bits), start, units):
                self._fail("diff_atomic_populated", f"chunk#{chunk.id}", "only populated pages",
                           f"area at unit {start}")
            if not atomic and not self._on_pages(chunk.populated.bits, start, units):
                self._fail("diff_area_populated", f"chunk#{chunk.id}", "pages populated on return",
                           f"area at unit {start}")
            if created:
                self._judge_misses(
                    units, align_units, reserved, atomic, before, populated, isolated, slots, size,
                    new_chunk=True, room=room,
                )
            handle = self.next_handle - 1
            self.model.record_alloc(handle, Live(chunk.id, start, units, size, align, reserved))
            self.handles[handle] = ptr
            self.violations += self.memory.on_alloc(handle, chunk, start * 4, units * 4, ptr)
            self._count_area(mc, start, units)
            self.after_step()
            return handle
        self.after_step()
        return None

    def free_percpu(self, handle: int) -> None:
        """Calls free_percpu() on a live handle and checks the freed size.

        A handle that is not live (freed already) is the caller's misuse:
        it is reported as diff_free_live_start and not passed to the port.
        """
        if handle not in self.handles:
            self.step += 1
            self.ops.append(f"free_percpu(h{handle})")
            self._invalid_free(f"h{handle}", "a handle that is not live (double free)")
            return
        self.step += 1
        self.ops.append(f"free_percpu(h{handle})")
        ptr = self.handles.pop(handle)
        area = self.model.live[handle]
        before = set(self.chunk_by_id())
        self._port_call("free_percpu", self.pcpu.free_percpu, ptr)
        self.memory.on_free(handle)
        self.model.record_free(handle)
        if self.pcpu.last_free_size != area.units * 4:
            self._fail("diff_free_size", f"chunk#{area.chunk_id}", area.units * 4, self.pcpu.last_free_size)
        self._sync_chunks(before)
        self.events["free"] += 1
        self.after_step()

    def free_percpu_ptr(self, ptr: int) -> None:
        """free_percpu() of a raw pointer: only a live allocation's start may be freed.

        A live start is freed like its handle; anything else (an interior
        pointer, a pointer never returned) is reported as diff_free_live_start
        and kept from the port, whose free_percpu() trusts its caller.
        """
        for handle, p in self.handles.items():
            if p == ptr:
                self.free_percpu(handle)
                return
        self.step += 1
        self.ops.append(f"# free_percpu({ptr:#x})")
        self._invalid_free(f"{ptr:#x}", "a pointer that is no live allocation's start")

    def _invalid_free(self, what: str, why: str) -> None:
        self.events["misuse_invalid_free"] += 1
        self._fail("diff_free_live_start", f"free_percpu({what})", "a live allocation's start", why)
        self.after_step()

    def pcpu_balance_workfn(self) -> None:
        """Runs the balance work, as the workqueue would."""
        self.step += 1
        self.ops.append("pcpu_balance_workfn()")
        before = set(self.chunk_by_id())
        pending = self.pcpu.balance_work_pending
        if self.pcpu.pcpu_atomic_alloc_failed:
            self.events["balance_after_atomic_failure"] += 1
        nr_populated = self.pcpu.pcpu_nr_populated
        self._port_call("pcpu_balance_workfn", self.pcpu.pcpu_balance_workfn)
        self._sync_chunks(before)
        self._stats_due = True  # a quiescent point: the stats dump of big chunks is checked too
        self.events["balance_work" + ("_pending" if pending else "_idle")] += 1
        self._check_spare_free_chunks()
        delta = self.pcpu.pcpu_nr_populated - nr_populated
        if delta:
            self.events["balance_populated_pages" if delta > 0 else "balance_depopulated_pages"] += abs(delta)
        self.after_step()

    def _check_spare_free_chunks(self) -> None:
        """After the balance work, a wholly free chunk beyond the first kept one must hold populated empty pages.

        pcpu_balance_workfn() ends with pcpu_balance_free(true): it keeps the
        first chunk on the free slot and destroys the others that have no
        populated empty page, so spare free chunks stay bounded.
        """
        pcpu = self.pcpu
        free_head = pcpu.pcpu_chunk_lists[pcpu.pcpu_free_slot]
        pos = free_head.next.next  # skip the first chunk, which the kernel keeps
        while pos is not free_head:
            c = pos.owner
            if c.nr_empty_pop_pages == 0:
                self._fail("inv_spare_free_chunks", f"chunk#{c.id}",
                           "destroyed (a spare free chunk with no empty pages)", "still on the free slot")
            pos = pos.next

    def inject_page_failures(self, n: int) -> None:
        """The next ``n`` page allocations fail."""
        self.step += 1
        self.ops.append(f"inject_page_failures(n={n})")
        self.pcpu.machine.fail_page_allocs = n
        self.events["inject_page_failures"] += 1

    def inject_chunk_failures(self, n: int) -> None:
        """The next ``n`` chunk-structure allocations fail."""
        self.step += 1
        self.ops.append(f"inject_chunk_failures(n={n})")
        self.pcpu.machine.fail_chunk_allocs = n
        self.events["inject_chunk_failures"] += 1

    # ------------------------------------------------------------ judging
    def _on_pages(self, populated: int, start: int, units: int) -> bool:
        bb = self.cfg.page_size // 4
        return all((populated >> p) & 1 for p in range(start // bb, (start + units - 1) // bb + 1))

    def _judge_misses(
        self, units: int, align_units: int, reserved: bool, atomic: bool, before: set[int],
        populated: dict[int, int], isolated: set[int], slots: dict[int, int], size: int, new_chunk: bool = False,
        room: dict[int, Any] | None = None,
    ) -> None:
        """Every chunk the request could have used must have missed within slack."""
        pcpu = self.pcpu
        rc = pcpu.pcpu_reserved_chunk
        req_slot = pcpu.pcpu_size_to_slot(-(-size // 4) * 4)
        for cid in sorted(before):
            if cid not in self.model.chunks:
                continue
            is_res = rc is not None and cid == rc.id
            if reserved and rc is not None and not is_res:
                continue
            if not (reserved and rc is not None) and is_res:
                continue
            ok, why = self.impl.miss_allowed(
                self.model.chunks[cid], units, align_units, spare_entries=(room or {}).get(cid),
                populated_only=populated[cid] if atomic else None,
                isolated=cid in isolated,
                demoted=slots.get(cid, -1) < req_slot and not is_res,
            )
            self.events[f"miss_{why.split(' ')[0] if ok else 'unjustified'}"] += 1
            if not ok:
                name = "diff_new_chunk_justified" if new_chunk else "diff_alloc_failure_justified"
                self._fail(name, f"chunk#{cid}", "a miss within documented slack", why,
                           f"request {units} units align {align_units}")

    # ---------------------------------------------------------- coverage
    def _count_request(self, units: int, align_units: int, reserved: bool, atomic: bool) -> None:
        bb = self.cfg.page_size // 4
        if reserved:
            self.events["req_reserved"] += 1
        if atomic:
            self.events["req_atomic"] += 1
        if align_units * 4 >= self.cfg.page_size:
            self.events["req_align_page"] += 1
        if units > bb:
            self.events["req_larger_than_block"] += 1

    def _count_area(self, mc: ModelChunk, start: int, units: int) -> None:
        bb = mc.block_bits
        if start // bb != (start + units - 1) // bb:
            self.events["area_straddles_blocks"] += 1
        if start % bb == 0 and units == bb:
            self.events["area_fills_block_exactly"] += 1
        if (start + units) % bb == 0:
            self.events["area_ends_on_block_edge"] += 1

    def _signature(self, c: pcpu_chunk, mc: ModelChunk) -> tuple[Any, ...]:
        """Everything the per-chunk checks and state counts read; equal means nothing to redo."""
        return (mc.version, c.alloc_map.bits, c.chunk_md.as_tuple(), tuple(b.as_tuple() for b in c.md_blocks),
                c.free_bytes, c.bound_map.bits, c.populated.bits, c.nr_populated, c.nr_empty_pop_pages,
                self.pcpu.slot_of(c), c.isolated,
                *(self.impl.signature_extra(c) if self.impl.signature_extra else ()))

    def _state_flags(self, c: pcpu_chunk, mc: ModelChunk) -> tuple[str, ...]:
        """The interesting states one chunk is in."""
        if self.impl.state_flags is not None:
            return self.impl.state_flags(c, mc)
        flags = []
        if c.free_bytes == 0 or c.chunk_md.contig_hint == 0:
            flags.append("state_full_chunk")
        if len(mc.runs()) >= 3:
            flags.append("state_fragmented")
        if c.chunk_md.scan_hint:
            flags.append("state_chunk_scan_hint")
        if any(b.scan_hint for b in c.md_blocks):
            flags.append("state_block_scan_hint")
        if any(b.contig_hint == 0 for b in c.md_blocks):
            flags.append("state_full_block")
        if c.isolated:
            flags.append("state_isolated_chunk")
        return tuple(flags)

    def _count_state(self, sigs: dict[int, tuple[Any, ...]]) -> None:
        """Counts, for every chunk at this step, the states it is in (cached per signature)."""
        for c in self.pcpu.all_chunks():
            mc = self.model.chunks.get(c.id)
            if mc is None:
                continue
            sig = sigs[c.id]
            cached = self._flags.get(c.id)
            if cached is None or cached[0] != sig:
                cached = (sig, self._state_flags(c, mc))
                self._flags[c.id] = cached
            self.events.update(cached[1])

    # ------------------------------------------------------- structural
    def _signatures(self) -> dict[int, tuple[Any, ...]]:
        return {c.id: self._signature(c, mc) for c in self.pcpu.all_chunks()
                if (mc := self.model.chunks.get(c.id)) is not None}

    def after_step(self) -> None:
        sigs = self._signatures()
        self._count_state(sigs)
        if self.check_every_step:
            self.check(sigs=sigs)

    def check(self, force: bool = False, sigs: dict[int, tuple[Any, ...]] | None = None) -> list[Violation]:
        """Recomputes every hint and counter of every chunk from the model.

        ``sigs`` are this step's chunk signatures when the caller has them.
        """
        found: list[Violation] = []
        pcpu = self.pcpu
        chunks = pcpu.all_chunks()
        if sigs is None:
            sigs = self._signatures()
        bb = self.cfg.page_size // 4
        block_props = self.impl.block_props
        chunk_props = self.impl.chunk_props
        state_props = self.impl.state_props
        # per-CPU memory first: a lost page explains the counters that follow from it
        found += self.memory.check(force or self._recheck_all_memory)
        self._recheck_all_memory = False
        for c in chunks:
            mc = self.model.chunks.get(c.id)
            if mc is None:
                found.append(Violation("diff_chunk_known", f"step {self.step}: chunk#{c.id}",
                                       "a chunk the model knows", "unknown"))
                continue
            sig = sigs[c.id]
            if not force and self._checked_sig.get(c.id) == sig:
                continue
            self._checked_sig[c.id] = sig
            for i, md in enumerate(c.md_blocks):
                w = invariants.Window(mc, i * bb, (i + 1) * bb, bb)
                t = mc.block_truth(i)
                for p in block_props:
                    r = p.fn(md, t, w)
                    if r is not None:
                        found.append(Violation(p.name, f"step {self.step}: chunk#{c.id} block {i}", *r))
            w = invariants.Window(mc, 0, mc.nbits, bb)
            t = mc.chunk_truth()
            for p in chunk_props:
                r = p.fn(c.chunk_md, t, w)
                if r is not None:
                    found.append(Violation(p.name, f"step {self.step}: chunk#{c.id} chunk_md", *r))
            for p in state_props:
                r = p.fn(pcpu, c, mc)
                if r is not None:
                    found.append(Violation(p.name, f"step {self.step}: chunk#{c.id}", *r))
            self._stats_pending.add(c.id)
        for c in chunks:
            mc = self.model.chunks.get(c.id)
            if mc is None or c.id not in self._stats_pending:
                continue
            if force or self._stats_due or len(mc.live) <= stats.EVERY_STEP_MAX_LIVE:
                self._stats_pending.discard(c.id)
                for p in self.impl.stats_props:
                    r = p.fn(pcpu, c, mc)
                    if r is not None:
                        found.append(Violation(p.name, f"step {self.step}: chunk#{c.id}", *r))
        self._stats_due = False
        r = bookkeeping.inv_global_empty_pop_pages(pcpu, chunks)
        if r is not None:
            found.append(Violation("inv_global_empty_pop_pages", f"step {self.step}", *r))
        self.violations += found
        return found

    def _geometry_checks(self) -> list[Violation]:
        """The port's first-chunk regions must be the ones the model derives."""
        out = []
        ps = self.cfg.page_size
        for cid, mc in self.model.chunks.items():
            c = self.chunk_by_id().get(cid)
            if c is None:
                continue
            got = (c.nr_pages * ps // 4, c.start_offset // 4, (c.nr_pages * ps - c.end_offset) // 4)
            want = (mc.nbits, mc.region_start, mc.region_end)
            if got != want:
                out.append(Violation("inv_first_chunk_geometry", f"boot: chunk#{cid}", want, got,
                                     "(bits, region start, region end)"))
        return out

    # -------------------------------------------------------------- misc
    def live_handles(self) -> list[int]:
        return sorted(self.handles)
