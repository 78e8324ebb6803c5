"""Replaying a kernel tracepoint log through the port and the model.

Every logged call is made on the port (through :class:`Harness`, so the
model judges every outcome), and the port's placement is compared with the
kernel's: same chunk, same offset.  What the log does not say is
reconstructed, and every reconstruction is reported:

- chunks: a logged ``base_addr`` is only a name (hashed pointers).  The
  reserved chunk is the one reserved requests use; the first chunk is the one
  whose ``ptr - off`` lies inside a unit (unhashed logs), else the first one
  used before any ``percpu_create_chunk``.  A chunk created while tracing is
  bound at its create event (the port's balance work or allocation made it,
  or it is created for the log); a chunk used before any create event
  existed before tracing and is created at the start.
- pre-trace occupancy: a chunk whose first logged event is an allocation at
  offset P, when that request would have fitted (aligned) below P, had
  [region start, P) allocated before tracing (the first fit would have gone
  lower otherwise); it is filled as areas split at the offsets of logged
  frees of areas never logged as allocated.
- order: the alloc event is emitted after pcpu_lock is dropped (and after
  population), so an allocation may appear after events that followed it
  under the lock.  When the port's choice differs and a later logged
  allocation of another task (within ``window`` events) got exactly the
  port's choice, or an earlier logged free of another task freed it, the
  two are replayed in lock order and counted separately as reordered.
- balance work: it is not logged; by default it runs whenever the port has
  it pending after an event (the workqueue runs it promptly).

A placement that still differs is forced to the kernel's (so the replay
follows the kernel) and reported with a category.
"""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass, field

from impl.alloc import PCPU_EMPTY_POP_PAGES_LOW
from impl.bitmap import for_each_clear_bitrange_from
from impl.boot import PcpuConfig
from impl.internal import pcpu_chunk
from impl.kernel import GFP_KERNEL
from model.system import Live
from properties.ftrace import TraceError, TraceEvent, TraceLog, hashed_pointers
from properties.harness import Harness
from properties.registry import Violation

ALLOC, FREE, FAIL = "percpu_alloc_percpu", "percpu_free_percpu", "percpu_alloc_percpu_fail"
CREATE, DESTROY = "percpu_create_chunk", "percpu_destroy_chunk"
GOAL = 0.999

CATEGORIES = {
    "chunk-not-in-port": "the kernel used a chunk the port did not have at that point",
    "area-busy-in-port": "the kernel's area was not free in the port (state diverged earlier)",
    "populated-pages-differ": "atomic request: the kernel's area lay on pages the port had not populated "
                              "(the balance work's timing is not in the log)",
    "port-alloc-failed": "the port found no room where the kernel did",
    "chunk-order-differs": "the port picked another chunk (slot list order differs)",
    "different-fit": "same chunk, area free in the port, the port chose another offset",
    "port-succeeded-kernel-failed": "the kernel logged a failure; the port allocated",
    "destroy-not-reproduced": "the kernel destroyed a chunk the port's balance work kept",
}


@dataclass
class Difference:
    seq: int
    lineno: int
    call: str
    kernel: str
    port: str
    category: str

    def line(self) -> str:
        return f"line {self.lineno}: {self.call}: kernel {self.kernel}, port {self.port} [{self.category}]"


@dataclass
class TraceReport:
    path: str
    config: str
    hashed: bool
    lost_events: int
    allocs: int = 0
    agree_in_order: int = 0
    agree_reordered: int = 0
    fails: int = 0
    fails_agree: int = 0
    frees: int = 0
    frees_unknown: int = 0
    reorders: list[str] = field(default_factory=list)
    differences: list[Difference] = field(default_factory=list)
    reconstructed: list[str] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)
    events: Counter[str] = field(default_factory=Counter)

    @property
    def agreement(self) -> float:
        """Logged allocations the port placed where the kernel did (lock order), over all."""
        return (self.agree_in_order + self.agree_reordered) / self.allocs if self.allocs else 1.0


def _call(ev: TraceEvent) -> str:
    f = ev.fields
    if ev.name in (ALLOC, FAIL):
        return (f"pcpu_alloc(size={f['size']}, align={f['align']}, reserved={f['reserved']}, "
                f"atomic={f['is_atomic']})")
    if ev.name == FREE:
        return f"free_percpu({ev.base}+{ev.off})"
    return f"{ev.name}({ev.base})"


class TraceReplay:
    """One replay of one log on one freshly booted port."""

    def __init__(self, log: TraceLog, cfg: PcpuConfig, *, window: int = 16, balance: str = "eager",
                 check_every: int = 1, first_chunk: str | None = None, config_text: str = "") -> None:
        self.log = log
        self.ev = log.events
        self.window = window
        self.balance = balance
        self.check_every = max(1, check_every)
        self.h = Harness(cfg, check_every_step=False)
        self.pcpu = self.h.pcpu
        self.tokens: dict[str, int] = {}  # base_addr text -> port chunk id
        self.areas: dict[tuple[str, int], int] = {}  # (base_addr, off) -> harness handle
        self.done: set[int] = set()
        self.recent_frees: list[tuple[int, str, int, Live]] = []  # (seq, base, off, area)
        self.r = TraceReport(log.path, config_text or cfg.describe(), hashed_pointers(log), log.lost_events)
        self.r.violations = self.h.violations
        self._bind_boot_chunks(first_chunk)

    # ------------------------------------------------------------ chunks
    def _chunk(self, cid: int) -> pcpu_chunk | None:
        return self.h.chunk_by_id().get(cid)

    def _token_of(self, cid: int) -> str | None:
        return next((t for t, c in self.tokens.items() if c == cid), None)

    def _unbound_chunk(self) -> pcpu_chunk | None:
        bound = set(self.tokens.values())
        return next((c for c in self.pcpu.all_chunks() if c.id not in bound), None)

    def _create_chunk(self, why: str) -> pcpu_chunk:
        """A chunk the log proves exists but the port did not create: made as pcpu_alloc would."""
        before = set(self.h.chunk_by_id())
        chunk = self.pcpu.backend.pcpu_create_chunk(self.pcpu, GFP_KERNEL)
        if chunk is None:
            raise TraceError(f"{self.log.path}: the port cannot create a chunk ({why})")
        self.pcpu.pcpu_chunk_relocate(chunk, -1)
        self.h._sync_chunks(before)
        self.r.reconstructed.append(f"chunk#{chunk.id}: created for the log ({why})")
        return chunk

    def _bind_boot_chunks(self, first_chunk: str | None) -> None:
        pcpu, ev = self.pcpu, self.ev
        unit = pcpu.pcpu_unit_size
        reserved = {e.base for e in ev if e.name == ALLOC and e.fields["reserved"] == 1}
        if len(reserved) > 1:
            raise TraceError(f"{self.log.path}: reserved requests use {len(reserved)} chunks; the kernel has one")
        rc = pcpu.pcpu_reserved_chunk
        if reserved:
            if rc is None:
                raise TraceError(f"{self.log.path}: reserved allocations logged but the geometry has no reserved area")
            self.tokens[reserved.pop()] = rc.id
        first = first_chunk
        if first is None and not self.r.hashed:
            first = next((e.base for e in ev if e.name == ALLOC and e.fields["reserved"] == 0
                          and 0 <= int(str(e.fields["ptr"]), 16) - e.off < unit), None)
        if first is None:
            for e in ev:
                if e.name == CREATE:
                    break
                if e.name in (ALLOC, FREE) and e.base not in self.tokens:
                    first = e.base
                    break
        # boot chunks the log never names keep a placeholder name, so no logged chunk binds to them
        self.tokens[first if first is not None else "<first chunk>"] = pcpu.pcpu_first_chunk.id
        if rc is not None and rc.id not in self.tokens.values():
            self.tokens["<reserved chunk>"] = rc.id
        # chunks used before any create event existed before tracing
        created: set[str] = set()
        for e in ev:
            if e.name == CREATE:
                created.add(e.base)
            elif e.name in (ALLOC, FREE) and e.base not in self.tokens and e.base not in created:
                self.tokens[e.base] = self._create_chunk(f"{e.base} is used before any create event").id
        self._prefill()

    def _prefill(self) -> None:
        """Allocates what was live before tracing, as far as the log shows it."""
        first_event: dict[str, TraceEvent] = {}
        allocated: set[tuple[str, int]] = set()
        untraced: dict[str, set[int]] = {}
        for e in self.ev:
            if e.name == CREATE:
                first_event.setdefault(e.base, e)
            if e.name not in (ALLOC, FREE):
                continue
            first_event.setdefault(e.base, e)
            if e.name == ALLOC:
                allocated.add((e.base, e.off))
            elif (e.base, e.off) not in allocated:
                untraced.setdefault(e.base, set()).add(e.off)
            else:
                allocated.discard((e.base, e.off))
        for tok, cid in list(self.tokens.items()):
            chunk = self._chunk(cid)
            fe = first_event.get(tok)
            if chunk is None or fe is None or fe.name == CREATE:
                continue
            start = chunk.start_offset
            end = start
            if fe.name == ALLOC:
                # the first logged request would have fitted below its offset: that was occupied
                a = max(int(fe.fields["align"]), 4)
                if -(-start // a) * a + int(fe.fields["size"]) <= fe.off:
                    end = fe.off
            cuts = sorted({start, end} | {o for o in untraced.get(tok, ()) if start < o < end})
            for lo, hi in zip(cuts, cuts[1:], strict=False):
                hd = self._force(chunk, hi - lo, 4, lo, reserved=chunk is self.pcpu.pcpu_reserved_chunk,
                                 atomic=False)
                if hd is None:
                    raise TraceError(f"{self.log.path}: cannot reconstruct the pre-trace area {tok}+{lo}")
                self.areas[(tok, lo)] = hd
            if end > start:
                self.r.reconstructed.append(
                    f"chunk#{cid} ({tok}): [{start}, {end}) allocated before tracing, as {len(cuts) - 1} area(s)")
            for o in sorted(untraced.get(tok, ())):
                if (tok, o) not in self.areas:
                    self.r.reconstructed.append(f"chunk#{cid} ({tok}): free of a pre-trace area at {o} "
                                                "outside the reconstructed prefix is skipped")

    # ------------------------------------------------------------ placing
    def _force(self, chunk: pcpu_chunk, size: int, align: int, off: int, reserved: bool, atomic: bool) -> int | None:
        """Places an area where the kernel did: pcpu_alloc()'s area_found path on a given offset."""
        pcpu, h = self.pcpu, self.h
        align = max(align, 4)
        size = (size + 3) & ~3
        bits, bit_align = size // 4, align // 4
        mc = h.model.chunks.get(chunk.id)
        if mc is None or mc.area_allowed(off // 4, bits, bit_align):
            return None
        got = pcpu.pcpu_alloc_area(chunk, bits, bit_align, off // 4)
        if got != off:
            if got >= 0:
                pcpu.pcpu_free_area(chunk, got)
            return None
        pcpu.pcpu_reintegrate_chunk(chunk)
        pcpu.pcpu_stats_area_alloc(chunk, size)
        ps = pcpu.geo.PAGE_SIZE
        # the kernel's pages were populated, whichever way it got them
        for rs, re in for_each_clear_bitrange_from(off // ps, chunk.populated, (off + size + ps - 1) // ps):
            if pcpu.backend.pcpu_populate_chunk(pcpu, chunk, rs, re, GFP_KERNEL):
                raise TraceError(f"{self.log.path}: the port cannot populate pages {rs}..{re}")
            pcpu.pcpu_chunk_populated(chunk, rs, re)
        if pcpu.pcpu_nr_empty_pop_pages < PCPU_EMPTY_POP_PAGES_LOW:
            pcpu.pcpu_schedule_balance_work()
        h.step += 1
        handle = h.next_handle
        h.next_handle += 1
        h.ops.append(f"h{handle} = pcpu_alloc(size={size}, align={align}, reserved={int(reserved)}, "
                     f"atomic={int(atomic)})  # placed at chunk#{chunk.id}+{off} as the kernel did")
        h.model.record_alloc(handle, Live(chunk.id, off // 4, bits, size, align, reserved))
        h.handles[handle] = pcpu._addr_to_pcpu_ptr(chunk.base_addr + off)
        h.after_step()
        return handle

    def _port_alloc(self, e: TraceEvent) -> int | None:
        f = e.fields
        return self.h.pcpu_alloc(int(f["size"]), int(f["align"]), f["reserved"] == 1, f["is_atomic"] == 1)

    def _where(self, hd: int | None) -> str:
        if hd is None:
            return "NULL"
        a = self.h.model.live[hd]
        return f"chunk#{a.chunk_id}+{a.start_unit * 4}"

    def _matches(self, e: TraceEvent, hd: int | None) -> bool:
        """The port's area is the kernel's; binds an unbound name to the port's fresh chunk."""
        if hd is None:
            return False
        a = self.h.model.live[hd]
        if a.start_unit * 4 != e.off:
            return False
        cid = self.tokens.get(e.base)
        if cid is None and self._token_of(a.chunk_id) is None:
            self.tokens[e.base] = a.chunk_id
            return True
        return cid == a.chunk_id

    def _record(self, e: TraceEvent, hd: int) -> None:
        self.areas[(e.base, e.off)] = hd
        self.done.add(e.seq)

    # ------------------------------------------------------------ events
    def _alloc(self, e: TraceEvent) -> None:
        r = self.r
        r.allocs += 1
        hd = self._port_alloc(e)
        if self._matches(e, hd):
            r.agree_in_order += 1
            self._record(e, hd)  # type: ignore[arg-type]
            return
        port_where = self._where(hd)
        port_area = self.h.model.live[hd] if hd is not None else None
        if hd is not None:
            self.h.free_percpu(hd)  # undo, then look for the lock order
        if port_area is not None:
            k = self._sandbox()._before_free(e)
            if k:
                self._before_free(e, only=k)
                return
            j = self._sandbox()._later_first(e, port_area)
            if j is not None:
                self._later_first(e, port_area, only=j)
                return
        self._diverged(e, port_where, port_area)

    def _sandbox(self) -> TraceReplay:
        """A copy to try orders on, so failed tries leave no trace in the replay's state."""
        sb = copy.copy(self)
        sb.h = copy.deepcopy(self.h)
        sb.pcpu = sb.h.pcpu
        sb.tokens, sb.areas, sb.done = dict(self.tokens), dict(self.areas), set(self.done)
        sb.recent_frees = list(self.recent_frees)
        sb.r = copy.deepcopy(self.r)
        return sb

    def _later_first(self, e: TraceEvent, port: Live, only: int | None = None) -> int | None:
        """A later logged allocation of another task got the port's choice: it took the lock first.

        Returns the index of that event when replaying it first places both
        where the kernel did.
        """
        for j in range(e.seq + 1, min(e.seq + 1 + self.window, len(self.ev))):
            ej = self.ev[j]
            if only is not None and j != only:
                continue
            if ej.name != ALLOC or ej.seq in self.done or ej.pid == e.pid or ej.off != port.start_unit * 4:
                continue
            cid = self.tokens.get(ej.base)
            if cid != port.chunk_id and not (cid is None and self._token_of(port.chunk_id) is None):
                continue
            hj = self._port_alloc(ej)
            if not self._matches(ej, hj):
                return None
            self._record(ej, hj)  # type: ignore[arg-type]
            hi = self._port_alloc(e)
            if not self._matches(e, hi):
                return None
            self._record(e, hi)  # type: ignore[arg-type]
            self.r.allocs += 1
            self.r.agree_reordered += 2
            self.r.reorders.append(f"line {ej.lineno} ({ej.comm}-{ej.pid}) took the lock before "
                                   f"line {e.lineno} ({e.comm}-{e.pid}), {j - e.seq} events later in the log")
            return j
        return None

    def _before_free(self, e: TraceEvent, only: int | None = None) -> int:
        """The port took an area other tasks freed just before in the log: the alloc came first.

        Walks back over the frees logged within the window (stopping at one of
        the same task), putting each freed area back, until the port places
        the request where the kernel did; then frees them again.  Returns how
        many frees the allocation preceded (0: no such order found).
        """
        back: list[int] = []
        for seq, _tok, off, area in reversed(self.recent_frees):
            if e.seq - seq > self.window or self.ev[seq].pid == e.pid:
                break
            chunk = self._chunk(area.chunk_id)
            hb = None if chunk is None else self._force(chunk, area.size_bytes, area.align_bytes, off,
                                                         area.reserved, False)
            if hb is None:
                break
            back.append(hb)
            if only is not None and len(back) < only:
                continue
            hd = self._port_alloc(e)
            if not self._matches(e, hd):
                if only is not None:
                    break
                if hd is not None:
                    self.h.free_percpu(hd)
                continue
            for hb in reversed(back):
                self.h.free_percpu(hb)
            self._record(e, hd)  # type: ignore[arg-type]
            self.r.agree_reordered += 1
            ev = self.ev[seq]
            self.r.reorders.append(f"line {e.lineno} ({e.comm}-{e.pid}) took the lock before {len(back)} "
                                   f"free(s) logged from line {ev.lineno} ({ev.comm}-{ev.pid}) on")
            return len(back)
        if only is not None:
            raise TraceError(f"{self.log.path}: line {e.lineno}: a reorder found on a copy does not reproduce")
        return 0

    def _diverged(self, e: TraceEvent, port_where: str, port_area: Live | None) -> None:
        f = e.fields
        cat = ""
        cid = self.tokens.get(e.base)
        if cid is None:
            chunk = (self._chunk(port_area.chunk_id) if port_area and self._token_of(port_area.chunk_id) is None
                     else self._unbound_chunk())
            if chunk is None:
                cat = "chunk-not-in-port"
                chunk = self._create_chunk(f"first used at line {e.lineno}")
            self.tokens[e.base] = cid = chunk.id
        chunk = self._chunk(cid)
        assert chunk is not None
        mc = self.h.model.chunks[cid]
        bits, bit_align = (int(f["size"]) + 3) // 4, max(int(f["align"]), 4) // 4
        ps = self.pcpu.geo.PAGE_SIZE
        pages = range(e.off // ps, (e.off + int(f["size"]) + ps - 1) // ps)
        if cat:
            pass
        elif mc.area_allowed(e.off // 4, bits, bit_align):
            cat = "area-busy-in-port"
        elif f["is_atomic"] == 1 and not all(chunk.populated.bits >> p & 1 for p in pages):
            cat = "populated-pages-differ"
        elif port_area is None:
            cat = "port-alloc-failed"
        elif port_area.chunk_id != cid:
            cat = "chunk-order-differs"
        else:
            cat = "different-fit"
        self.r.differences.append(Difference(e.seq, e.lineno, _call(e), f"chunk#{cid}+{e.off}", port_where, cat))
        hd = self._force(chunk, int(f["size"]), int(f["align"]), e.off, f["reserved"] == 1, f["is_atomic"] == 1)
        if hd is not None:
            self._record(e, hd)

    def _free(self, e: TraceEvent) -> None:
        self.r.frees += 1
        hd = self.areas.pop((e.base, e.off), None)
        if hd is None:
            self.r.frees_unknown += 1
            return
        area = self.h.model.live[hd]
        self.h.free_percpu(hd)
        self.recent_frees.append((e.seq, e.base, e.off, area))
        if len(self.recent_frees) > self.window:
            del self.recent_frees[0]

    def _fail(self, e: TraceEvent) -> None:
        self.r.fails += 1
        hd = self._port_alloc(e)
        if hd is None:
            self.r.fails_agree += 1
            return
        self.r.differences.append(Difference(e.seq, e.lineno, _call(e), "NULL", self._where(hd),
                                             "port-succeeded-kernel-failed"))
        self.h.free_percpu(hd)

    def _create(self, e: TraceEvent) -> None:
        old = self.tokens.pop(e.base, None)
        if old is not None and self._chunk(old) is not None:
            self.r.reconstructed.append(f"line {e.lineno}: {e.base} named chunk#{old} and is reused")
        chunk = self._unbound_chunk()
        if chunk is None and self.pcpu.balance_work_pending:
            self.h.pcpu_balance_workfn()
            chunk = self._unbound_chunk()
        if chunk is None:
            chunk = self._create_chunk(f"create event on line {e.lineno}")
        self.tokens[e.base] = chunk.id

    def _destroy(self, e: TraceEvent) -> None:
        cid = self.tokens.pop(e.base, None)
        if cid is None or self._chunk(cid) is None:
            return
        self.h.pcpu_balance_workfn()
        if self._chunk(cid) is not None:
            self.r.differences.append(Difference(e.seq, e.lineno, _call(e), "destroyed", f"chunk#{cid} kept",
                                                 "destroy-not-reproduced"))

    def run(self) -> TraceReport:
        handlers = {ALLOC: self._alloc, FREE: self._free, FAIL: self._fail, CREATE: self._create,
                    DESTROY: self._destroy}
        for n, e in enumerate(self.ev, 1):
            self.r.events[e.name] += 1
            if e.seq not in self.done:
                handlers[e.name](e)
            if self.balance == "eager" and self.pcpu.balance_work_pending:
                self.h.pcpu_balance_workfn()
            if n % self.check_every == 0:
                self.h.check()
        self.h.check()
        return self.r
