"""The percpu tracepoints in the ftrace text format: parse a log, render one.

The five events of include/trace/events/percpu.h (Linux 6.12), as
/sys/kernel/tracing/trace prints them::

    <comm>-<pid> [<cpu>] <flags> <secs>: percpu_alloc_percpu: call_site=%pS reserved=%d
        is_atomic=%d size=%zu align=%zu base_addr=%p off=%d ptr=%p bytes_alloc=%zu gfp_flags=%s
    ... percpu_free_percpu: base_addr=%p off=%d ptr=%p
    ... percpu_alloc_percpu_fail: reserved=%d is_atomic=%d size=%zu align=%zu
    ... percpu_create_chunk: base_addr=%p
    ... percpu_destroy_chunk: base_addr=%p

Pointers are kept as the text the kernel printed: with ``hash-ptr`` (the
default) ``%p`` prints a per-boot hash, so a base address is only a name for
a chunk, never an address to compute with.  Malformed input raises
:class:`TraceError` naming the line.
"""

from __future__ import annotations

import lzma
import re
from dataclasses import dataclass, field
from pathlib import Path

EVENTS = ("percpu_alloc_percpu", "percpu_free_percpu", "percpu_alloc_percpu_fail",
          "percpu_create_chunk", "percpu_destroy_chunk")

_PTR = r"(?:[0-9a-f]+|\(____ptrval____\)|\(null\))"
_HEAD = re.compile(
    r"^\s*(?P<comm>.*?)-(?P<pid>\d+)\s+(?:\(\s*[-\d]+\)\s+)?\[(?P<cpu>\d+)\]\s+"
    r"(?:(?P<flags>\S{4,5})\s+)?(?P<ts>\d+\.\d+):\s+(?P<event>\w+):\s?(?P<body>.*)$"
)
_BODIES = {
    "percpu_alloc_percpu": re.compile(
        r"^call_site=(?P<call_site>.+?) reserved=(?P<reserved>[01]) is_atomic=(?P<is_atomic>[01]) "
        r"size=(?P<size>\d+) align=(?P<align>\d+) base_addr=(?P<base_addr>" + _PTR + r") "
        r"off=(?P<off>-?\d+) ptr=(?P<ptr>" + _PTR + r") bytes_alloc=(?P<bytes_alloc>\d+) "
        r"gfp_flags=(?P<gfp_flags>\S+)$"
    ),
    "percpu_free_percpu": re.compile(
        r"^base_addr=(?P<base_addr>" + _PTR + r") off=(?P<off>-?\d+) ptr=(?P<ptr>" + _PTR + r")$"
    ),
    "percpu_alloc_percpu_fail": re.compile(
        r"^reserved=(?P<reserved>[01]) is_atomic=(?P<is_atomic>[01]) size=(?P<size>\d+) align=(?P<align>\d+)$"
    ),
    "percpu_create_chunk": re.compile(r"^base_addr=(?P<base_addr>" + _PTR + r")$"),
    "percpu_destroy_chunk": re.compile(r"^base_addr=(?P<base_addr>" + _PTR + r")$"),
}
_INT_FIELDS = ("reserved", "is_atomic", "size", "align", "off", "bytes_alloc")
_LOST = re.compile(r"^CPU:(?P<cpu>\d+) \[LOST (?P<n>\d+) EVENTS\]$")


class TraceError(ValueError):
    """A malformed trace log; the message names the file and line."""


@dataclass
class TraceEvent:
    """One logged tracepoint hit; ``seq`` is its position in the log (0-based)."""

    seq: int
    lineno: int
    comm: str
    pid: int
    cpu: int
    ts_s: float
    name: str
    fields: dict[str, int | str] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return str(self.fields["base_addr"])

    @property
    def off(self) -> int:
        return int(self.fields["off"])


@dataclass
class TraceLog:
    path: str
    events: list[TraceEvent]
    lost_events: int = 0  # "CPU:N [LOST M EVENTS]" lines: the ring buffer overflowed
    other_events: int = 0  # events of other subsystems, ignored


def parse_event(line: str, seq: int, lineno: int, where: str) -> TraceEvent | None:
    """One trace line to an event; None for non-percpu events."""
    m = _HEAD.match(line)
    if m is None:
        raise TraceError(f"{where}:{lineno}: not an ftrace event line: {line.strip()[:80]!r}")
    name = m.group("event")
    if name not in _BODIES:
        if name.startswith("percpu_"):
            raise TraceError(f"{where}:{lineno}: unknown percpu event {name!r}")
        return None
    b = _BODIES[name].match(m.group("body"))
    if b is None:
        raise TraceError(f"{where}:{lineno}: {name} fields do not match include/trace/events/percpu.h: "
                         f"{m.group('body')[:80]!r}")
    fields: dict[str, int | str] = {}
    for k, v in b.groupdict().items():
        fields[k] = int(v) if k in _INT_FIELDS else v
    return TraceEvent(seq, lineno, m.group("comm"), int(m.group("pid")), int(m.group("cpu")),
                      float(m.group("ts")), name, fields)


def parse(text: str, where: str = "<memory>") -> TraceLog:
    """Parses a whole log; comment and buffer-start lines are skipped, lost events counted."""
    events: list[TraceEvent] = []
    lost = other = 0
    for lineno, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        if (ml := _LOST.match(s)) is not None:
            lost += int(ml.group("n"))
            continue
        ev = parse_event(line, len(events), lineno, where)
        if ev is None:
            other += 1
        else:
            events.append(ev)
    if not events:
        raise TraceError(f"{where}: no percpu tracepoint events")
    early = next((e for e in events if e.fields.get("base_addr") == "(____ptrval____)"), None)
    if early is not None:
        raise TraceError(f"{where}:{early.lineno}: base_addr=(____ptrval____): pointers logged before hashing "
                         "was ready cannot name chunks; trace with trace_options=nohash-ptr or start later")
    return TraceLog(where, events, lost, other)


def load(path: str | Path) -> TraceLog:
    """Reads a log, plain or .xz compressed."""
    p = Path(path)
    try:
        raw = lzma.decompress(p.read_bytes()) if p.suffix == ".xz" else p.read_bytes()
        text = raw.decode()
    except OSError as e:
        raise TraceError(f"{p}: cannot read: {e.strerror}") from None
    except lzma.LZMAError:
        raise TraceError(f"{p}: not an xz file") from None
    except UnicodeDecodeError:
        raise TraceError(f"{p}: not a text file") from None
    return parse(text, str(p))


def hashed_pointers(log: TraceLog) -> bool:
    """True when %p printed hashes: 64-bit kernels then show only 32 significant bits."""
    bases = [str(e.fields["base_addr"]) for e in log.events if "base_addr" in e.fields]
    return any(not re.fullmatch(r"[0-9a-f]+", b) or int(b, 16) < 1 << 32 for b in bases)


def format_event(comm: str, pid: int, cpu: int, ts_s: float, name: str, f: dict[str, int | str]) -> str:
    """Renders one event the way the kernel's print fmt does (for logs the project writes)."""
    if name == "percpu_alloc_percpu":
        body = (f"call_site={f.get('call_site', 'pcpu_verify+0x0/0x0')} reserved={f['reserved']} "
                f"is_atomic={f['is_atomic']} size={f['size']} align={f['align']} base_addr={f['base_addr']} "
                f"off={f['off']} ptr={f['ptr']} bytes_alloc={f.get('bytes_alloc', 0)} "
                f"gfp_flags={f.get('gfp_flags', 'GFP_KERNEL')}")
    elif name == "percpu_free_percpu":
        body = f"base_addr={f['base_addr']} off={f['off']} ptr={f['ptr']}"
    elif name == "percpu_alloc_percpu_fail":
        body = f"reserved={f['reserved']} is_atomic={f['is_atomic']} size={f['size']} align={f['align']}"
    else:
        body = f"base_addr={f['base_addr']}"
    return f"{comm:>16}-{pid:<7d} [{cpu:03d}] .....  {ts_s:10.6f}: {name}: {body}"
