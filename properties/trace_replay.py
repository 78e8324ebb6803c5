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
  under the lock.  When the port's choice differs, candidate lock orders
  are tried: a later logged allocation of another task (within ``window``
  events) that got exactly the port's choice runs first, or the allocation
  runs before the last 1, 2, ... frees other tasks logged before it.  Each
  candidate is re-executed exactly, from a checkpoint of the whole state
  (taken every CHECKPOINT_EVENTS events), and accepted only if every
  placement from the checkpoint on agrees; such allocations are counted
  separately as agreeing only in lock order.
- balance work: it is not logged; by default it runs whenever the port has
  it pending after an event (the workqueue runs it promptly).

A placement that still differs is forced to the kernel's (so the replay
follows the kernel; also re-executed from a checkpoint, so the port's own
choice leaves no trace) and reported with a category.
"""

from __future__ import annotations

import copy
import pickle
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
CHECKPOINT_EVENTS = 256
# what a checkpoint holds: everything an executed event changes
_STATE = ("h", "tokens", "areas", "done", "executed", "moved", "r", "pretrace")

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
        self.done: set[int] = set()  # events executed
        self.executed: list[tuple[int, str]] = []  # (event index, mode) in the order executed
        self.moved: set[int] = set()  # events executed out of log order
        self.checkpoints: list[tuple[int, bytes]] = []  # (len(executed), pickled state)
        self.miss: tuple[str, Live | None] = ("", None)
        self.r = TraceReport(log.path, config_text or cfg.describe(), hashed_pointers(log), log.lost_events)
        self.r.violations = self.h.violations
        self._bind_boot_chunks(first_chunk)

    # ------------------------------------------------------------ chunks
    def _chunk(self, cid: int) -> pcpu_chunk | None:
        return self.h.chunk_by_id().get(cid)

    def _live_binding(self, tok: str) -> int | None:
        """The port chunk a logged name stands for; a name whose chunk the port destroyed is unbound."""
        cid = self.tokens.get(tok)
        if cid is not None and self._chunk(cid) is None:
            del self.tokens[tok]
            self.r.reconstructed.append(f"{tok}: chunk#{cid} was destroyed by the port's balance work "
                                        "but the kernel still uses it")
            return None
        return cid

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
        # chunks used before any create event existed before tracing: made when first used
        created: set[str] = set()
        self.pretrace: set[str] = set()
        for e in ev:
            if e.name == CREATE:
                created.add(e.base)
            elif e.name in (ALLOC, FREE) and e.base not in self.tokens and e.base not in created:
                self.pretrace.add(e.base)
        self.first_event: dict[str, TraceEvent] = {}
        self.untraced: dict[str, set[int]] = {}  # offsets freed but never logged as allocated
        allocated: set[tuple[str, int]] = set()
        for e in self.ev:
            if e.name in (ALLOC, FREE, CREATE):
                self.first_event.setdefault(e.base, e)
            if e.name == ALLOC:
                allocated.add((e.base, e.off))
            elif e.name == FREE and (e.base, e.off) not in allocated:
                self.untraced.setdefault(e.base, set()).add(e.off)
            elif e.name == FREE:
                allocated.discard((e.base, e.off))
        for tok, cid in list(self.tokens.items()):
            chunk = self._chunk(cid)
            if chunk is not None:
                self._prefill(tok, chunk)

    def _pretrace_chunk(self, e: TraceEvent) -> None:
        """A chunk that existed before tracing, created (and prefilled) just before its first use."""
        if e.base in self.pretrace and self._live_binding(e.base) is None and e.base not in self.tokens:
            self.pretrace.discard(e.base)
            chunk = self._create_chunk(f"{e.base} is used before any create event")
            self.tokens[e.base] = chunk.id
            self._prefill(e.base, chunk)

    def _prefill(self, tok: str, chunk: pcpu_chunk) -> None:
        """Allocates what was live in a chunk before tracing, as far as the log shows it."""
        fe = self.first_event.get(tok)
        if fe is None or fe.name == CREATE:
            return
        cid = chunk.id
        untraced = self.untraced.get(tok, set())
        start = chunk.start_offset
        end = start
        if fe.name == ALLOC:
            # the first logged request would have fitted below its offset: that was occupied
            a = max(int(fe.fields["align"]), 4)
            if -(-start // a) * a + int(fe.fields["size"]) <= fe.off:
                end = fe.off
        cuts = sorted({start, end} | {o for o in untraced if start < o < end})
        for lo, hi in zip(cuts, cuts[1:], strict=False):
            hd = self._force(chunk, hi - lo, 4, lo, reserved=chunk is self.pcpu.pcpu_reserved_chunk, atomic=False)
            if hd is None:
                raise TraceError(f"{self.log.path}: cannot reconstruct the pre-trace area {tok}+{lo}")
            self.areas[(tok, lo)] = hd
        if end > start:
            self.r.reconstructed.append(
                f"chunk#{cid} ({tok}): [{start}, {end}) allocated before tracing, as {len(cuts) - 1} area(s)")
        for o in sorted(untraced):
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
        cid = self._live_binding(e.base)
        if cid is None and self._token_of(a.chunk_id) is None:
            self.tokens[e.base] = a.chunk_id
            return True
        return cid == a.chunk_id

    def _record(self, e: TraceEvent, hd: int) -> None:
        self.areas[(e.base, e.off)] = hd

    # ------------------------------------------------------------ state
    def _checkpoint(self) -> None:
        blob = pickle.dumps(tuple(getattr(self, k) for k in _STATE), protocol=pickle.HIGHEST_PROTOCOL)
        self.checkpoints.append((len(self.executed), blob))
        del self.checkpoints[:-3]

    def _restored(self, blob: bytes) -> TraceReplay:
        """A copy of the replay as it was at a checkpoint."""
        sb = copy.copy(self)
        for k, v in zip(_STATE, pickle.loads(blob), strict=True):
            setattr(sb, k, v)
        sb.pcpu = sb.h.pcpu
        sb.pcpu._slot_of_head = {}  # a cache keyed by object ids, which unpickling changes
        sb.checkpoints = []
        return sb

    def _adopt(self, sb: TraceReplay) -> None:
        for k in _STATE:
            setattr(self, k, getattr(sb, k))
        self.pcpu = self.h.pcpu

    def _rerun(self, pos: int, order: list[tuple[int, str]], moved: set[int]) -> TraceReplay | None:
        """From the latest checkpoint at or before executed[pos]: the executed events from there,
        with ``order`` replacing executed[pos:]; the copy if every placement agrees."""
        cp = next(((p, b) for p, b in reversed(self.checkpoints) if p <= pos), None)
        if cp is None:
            return None
        sb = self._restored(cp[1])
        sb.moved = sb.moved | moved
        for seq, mode in self.executed[cp[0]:pos] + order:
            if not sb._exec(seq, mode):
                return None
        return sb

    # ------------------------------------------------------------ events
    def _alloc(self, e: TraceEvent, mode: str) -> bool:
        """In mode "port" a differing placement is left in place and reported by returning False;
        in mode "force" it is undone, categorized and replaced by the kernel's."""
        r = self.r
        hd = self._port_alloc(e)
        if self._matches(e, hd):
            r.allocs += 1
            if e.seq in self.moved:
                r.agree_reordered += 1
            else:
                r.agree_in_order += 1
            self._record(e, hd)  # type: ignore[arg-type]
            return True
        port_area = self.h.model.live[hd] if hd is not None else None
        self.miss = (self._where(hd), port_area)
        if mode == "port":
            return False
        if hd is not None:
            self.h.free_percpu(hd)
        r.allocs += 1
        self._diverged(e, self.miss[0], port_area)
        return True

    def _resolve(self, e: TraceEvent) -> None:
        """The port placed ``e`` elsewhere: look for the lock order that explains it, else force it.

        Candidates, each re-executed from a checkpoint: a later allocation of
        another task (within the window) that the kernel put where the port
        put ``e`` ran first; or ``e`` ran before the last 1, 2, ... frees
        logged before it by other tasks.
        """
        where, area = self.miss
        n = len(self.executed)
        if area is not None:
            for j in range(e.seq + 1, min(e.seq + 1 + self.window, len(self.ev))):
                ej = self.ev[j]
                if ej.name != ALLOC or j in self.done or ej.pid == e.pid or ej.off != area.start_unit * 4:
                    continue
                cid = self.tokens.get(ej.base)
                if cid != area.chunk_id and not (cid is None and self._token_of(area.chunk_id) is None):
                    continue
                sb = self._rerun(n, [(j, "port"), (e.seq, "port")], {j, e.seq})
                if sb is not None:
                    self._adopt(sb)
                    self.r.reorders.append(f"line {ej.lineno} ({ej.comm}-{ej.pid}) took the lock before "
                                           f"line {e.lineno} ({e.comm}-{e.pid}), {j - e.seq} events later in the log")
                    return
            frees = 0
            for i in range(n - 1, -1, -1):
                ev = self.ev[self.executed[i][0]]
                if e.seq - ev.seq > self.window or ev.pid == e.pid:
                    break
                if ev.name != FREE:
                    continue
                frees += 1
                sb = self._rerun(i, [(e.seq, "port")] + self.executed[i:], {e.seq})
                if sb is not None:
                    self._adopt(sb)
                    self.r.reorders.append(f"line {e.lineno} ({e.comm}-{e.pid}) took the lock before {frees} "
                                           f"free(s) logged from line {ev.lineno} ({ev.comm}-{ev.pid}) on")
                    return
        sb = self._rerun(n, [(e.seq, "force")], set())
        if sb is None:
            raise TraceError(f"{self.log.path}: line {e.lineno}: no checkpoint to replay from")
        self._adopt(sb)

    def _diverged(self, e: TraceEvent, port_where: str, port_area: Live | None) -> None:
        """Records why the port's placement differs, then places the area where the kernel did."""
        f = e.fields
        cid = self._live_binding(e.base)
        cat = ""
        if cid is None:
            chunk = (self._chunk(port_area.chunk_id) if port_area and self._token_of(port_area.chunk_id) is None
                     else self._unbound_chunk())
            if chunk is None:
                cat = "chunk-not-in-port"
                chunk = self._create_chunk(f"first used at line {e.lineno}")
            self.tokens[e.base] = cid = chunk.id
        chunk = self._chunk(cid)
        assert chunk is not None
        cat = cat or self._category(e, chunk, port_area)
        self.r.differences.append(Difference(e.seq, e.lineno, _call(e), f"chunk#{cid}+{e.off}", port_where, cat))
        hd = self._force(chunk, int(f["size"]), int(f["align"]), e.off, f["reserved"] == 1, f["is_atomic"] == 1)
        if hd is not None:
            self._record(e, hd)

    def _category(self, e: TraceEvent, chunk: pcpu_chunk, port_area: Live | None) -> str:
        size, align = int(e.fields["size"]), int(e.fields["align"])
        if self.h.model.chunks[chunk.id].area_allowed(e.off // 4, (size + 3) // 4, max(align, 4) // 4):
            return "area-busy-in-port"
        ps = self.pcpu.geo.PAGE_SIZE
        pages = range(e.off // ps, (e.off + size + ps - 1) // ps)
        if e.fields["is_atomic"] == 1 and not all(chunk.populated.bits >> p & 1 for p in pages):
            return "populated-pages-differ"
        if port_area is None:
            return "port-alloc-failed"
        if port_area.chunk_id != chunk.id:
            return "chunk-order-differs"
        return "different-fit"

    def _free(self, e: TraceEvent) -> None:
        self.r.frees += 1
        hd = self.areas.pop((e.base, e.off), None)
        if hd is None:
            self.r.frees_unknown += 1
            return
        self.h.free_percpu(hd)

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

    def _exec(self, seq: int, mode: str) -> bool:
        """Executes one logged event; False when an allocation differs in mode "port"."""
        e = self.ev[seq]
        if e.name in (ALLOC, FREE):
            self._pretrace_chunk(e)
        if e.name == ALLOC:
            if not self._alloc(e, mode):
                return False
        else:
            {FREE: self._free, FAIL: self._fail, CREATE: self._create, DESTROY: self._destroy}[e.name](e)
        self.executed.append((seq, mode))
        self.done.add(seq)
        self.r.events[e.name] += 1
        if self.balance == "eager" and self.pcpu.balance_work_pending:
            self.h.pcpu_balance_workfn()
        if len(self.executed) % self.check_every == 0:
            self.h.check()
        return True

    def run(self) -> TraceReport:
        self._checkpoint()
        for seq in range(len(self.ev)):
            if seq in self.done:
                continue
            if len(self.executed) - self.checkpoints[-1][0] >= CHECKPOINT_EVENTS:
                self._checkpoint()
            if not self._exec(seq, "port"):
                self._resolve(self.ev[seq])
        self.h.check()
        return self.r
