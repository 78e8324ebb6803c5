"""Counterexample files: parse, replay through the harness, judge, shrink, write.

A file is a header of ``Key: value`` lines, a blank line, and one kernel
call per line (see README.md, "Counterexample files")::

    percpu litmus v1
    Name: F2-chunk-contig-hint-stale-after-free
    Config: small16
    Kernel: linux-source-6.12 6.12.117-1~deb12u1
    Variant: faithful
    Harness: 0.1.0
    Origin: 2026-11-22, seed 3, found by tools.find
    Result: Violates inv_chunk_contig_hint_in_block at step 4

    h0 = pcpu_alloc(size=64, align=4, reserved=0, atomic=0)
    free_percpu(h0)
    pcpu_balance_workfn()
    inject_page_failures(n=2)
"""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from properties.configs import ConfigError, check_boots, parse_config
from properties.harness import Harness, Variant
from properties.registry import Violation

MAGIC = "percpu litmus v1"
HARNESS_VERSION = "0.2.0"
# properties a harness version introduced: a file written by an older harness was judged
# without them, so replaying it looks past them (its Result keeps its meaning)
PROPERTY_SINCE = {
    "0.2.0": frozenset({
        "inv_area_in_cpu_unit", "inv_no_overlap_any_cpu", "inv_area_on_populated_pages", "inv_populated_is_mapped",
        "diff_zero_on_return", "inv_percpu_memory", "inv_addr_search_owner", "diff_port_exception",
        "diff_free_live_start", "diff_alloc_not_to_depopulate", "inv_spare_free_chunks", "inv_percpu_stats_chunk",
        "inv_ptr_to_phys", "diff_call_returns",
    }),
}


def _version(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in text.split("."))
    except ValueError:
        return (0,)
KERNEL_PIN = "linux-source-6.12 6.12.117-1~deb12u1"
REQUIRED = ("Name", "Config", "Result")
CRASH = "diff_call_returns"  # the pseudo-property a call that raises violates

_ALLOC = re.compile(
    r"^(?P<h>[A-Za-z_]\w*) = pcpu_alloc\(size=(?P<size>\d+), align=(?P<align>\d+), "
    r"reserved=(?P<res>[01]), atomic=(?P<atom>[01])\)$"
)
_FREE = re.compile(r"^free_percpu\((?P<h>[A-Za-z_]\w*)\)$")
_BALANCE = re.compile(r"^pcpu_balance_workfn\(\)$")
_INJECT = re.compile(r"^inject_(?P<kind>page|chunk)_failures\(n=(?P<n>\d+)\)$")
_RESULT = re.compile(r"^(Agree|Violates (?P<prop>\w+) at step (?P<step>\d+))$")


CALL_DEADLINE_S = 20.0  # a call of a patched port (with its checks) that takes longer is taken to hang


class CallTimeout(Exception):
    """A call did not return within CALL_DEADLINE_S (a patched port looping forever)."""


@contextmanager
def call_deadline(seconds: float | None = None) -> Iterator[None]:
    """Raises CallTimeout inside the block after ``seconds`` (default CALL_DEADLINE_S; main thread only)."""
    seconds = CALL_DEADLINE_S if seconds is None else seconds

    def expire(signum: int, frame: object) -> None:
        raise CallTimeout(f"the call did not return within {seconds:g} s")

    try:
        old = signal.signal(signal.SIGALRM, expire)
    except ValueError:  # not the main thread
        yield
        return
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


class LitmusError(ValueError):
    """A malformed counterexample file; the message names the line."""


@dataclass
class Litmus:
    header: dict[str, str]
    body: list[str]
    path: str = "<memory>"

    @property
    def ignore(self) -> frozenset[str]:
        """Properties listed on an ``Ignore:`` line (known findings this file looks past).

        Also every property newer than the file's ``Harness:`` version (PROPERTY_SINCE).
        """
        listed = frozenset(p for p in self.header.get("Ignore", "").replace(",", " ").split() if p)
        mine = _version(self.header.get("Harness", HARNESS_VERSION))
        newer = [props for since, props in PROPERTY_SINCE.items() if mine < _version(since)]
        return listed.union(*newer)

    @property
    def expected(self) -> tuple[str | None, int | None]:
        m = _RESULT.match(self.header["Result"])
        assert m is not None
        if m.group("prop"):
            return m.group("prop"), int(m.group("step"))
        return None, None

    def text(self) -> str:
        lines = [MAGIC] + [f"{k}: {v}" for k, v in self.header.items()] + [""] + self.body
        return "\n".join(lines) + "\n"


def parse(text: str, path: str = "<memory>") -> Litmus:
    """Parses and validates a counterexample file; raises LitmusError."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != MAGIC:
        raise LitmusError(f"{path}:1: first line must be {MAGIC!r}")
    header: dict[str, str] = {}
    i = 1
    while i < len(lines) and lines[i].strip():
        key, sep, val = lines[i].partition(":")
        if not sep or not key.strip() or " " in key.strip():
            raise LitmusError(f"{path}:{i + 1}: header line is not 'Key: value': {lines[i]!r}")
        header[key.strip()] = val.strip()
        i += 1
    for k in REQUIRED:
        if k not in header:
            raise LitmusError(f"{path}: header lacks {k}:")
    if not _RESULT.match(header["Result"]):
        raise LitmusError(
            f"{path}: Result must be 'Agree' or 'Violates <property> at step N', got {header['Result']!r}")
    try:
        check_boots(parse_config(header["Config"]))
    except ConfigError as e:
        raise LitmusError(f"{path}: {e}") from None
    body = []
    bound: set[str] = set()
    for j in range(i + 1, len(lines)):
        line = lines[j].strip()
        if not line or line.startswith("#"):
            continue
        m = _ALLOC.match(line)
        if m:
            bound.add(m.group("h"))
        elif (mf := _FREE.match(line)) is not None:
            if mf.group("h") not in bound:
                raise LitmusError(f"{path}:{j + 1}: free_percpu of unknown handle {mf.group('h')!r}")
        elif not (_BALANCE.match(line) or _INJECT.match(line)):
            raise LitmusError(f"{path}:{j + 1}: not a kernel call: {line!r}")
        body.append(line)
    return Litmus(header, body, path)


def load(path: str | Path) -> Litmus:
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as e:
        raise LitmusError(f"{p}: cannot read: {e.strerror}") from None
    except UnicodeDecodeError:
        raise LitmusError(f"{p}: not a text file") from None
    return parse(text, str(p))


@dataclass
class StepResult:
    step: int
    line: str
    outcome: str
    violations: list[Violation] = field(default_factory=list)


@dataclass
class Replay:
    steps: list[StepResult]
    first: tuple[int, Violation] | None
    harness: Harness


def run(
    body: list[str],
    cfg_text: str,
    variant: Variant | None = None,
    on_step: Callable[[Harness, int], None] | None = None,
    stop_at_first: bool = False,
    ignore: frozenset[str] = frozenset(),
) -> Replay:
    """Replays call lines through a fresh harness; records every step's outcome.

    Violations of properties in ``ignore`` are reported per step but never
    count as the first violation.
    """
    h = Harness(parse_config(cfg_text), variant)
    names: dict[str, int | None] = {}
    steps: list[StepResult] = []
    first: tuple[int, Violation] | None = None
    boot_bad = [v for v in h.violations if v.prop not in ignore]
    if boot_bad:
        first = (0, boot_bad[0])
    for n, line in enumerate(body, 1):
        seen = len(h.violations)
        try:
            with call_deadline():
                outcome = _call(h, line, names)
        except LitmusError:
            raise
        except Exception as e:  # a patched port that raises: the call never returns
            h.violations.append(Violation(
                CRASH, f"step {n}: {line}", "the call returns", f"{type(e).__name__}: {e}", raise_site(e)))
            outcome = f"raised {type(e).__name__}"
        new = h.violations[seen:]
        steps.append(StepResult(n, line, outcome, list(new)))
        if outcome.startswith("raised "):
            first = first or (n, new[-1])
            break
        if on_step:
            on_step(h, n)
        counted = [v for v in new if v.prop not in ignore]
        if counted and first is None:
            first = (n, counted[0])
            if stop_at_first:
                break
    return Replay(steps, first, h)


def raise_site(e: BaseException) -> str:
    """Where in impl/ an exception was raised: 'impl/hints.py:123 in pcpu_block_refresh_hint'."""
    tb = e.__traceback__
    site = ""
    while tb is not None:
        fn = tb.tb_frame.f_code.co_filename
        if "/impl/" in fn or fn.startswith("<"):
            site = f"{fn.split('/impl/')[-1] if '/impl/' in fn else fn}:{tb.tb_lineno} in {tb.tb_frame.f_code.co_name}"
        tb = tb.tb_next
    return f"raised at {site}" if site else ""


def _call(h: Harness, line: str, names: dict[str, int | None]) -> str:
    """Applies one call line to the harness; returns the outcome text."""
    if (m := _ALLOC.match(line)) is not None:
        hd = h.pcpu_alloc(int(m.group("size")), int(m.group("align")), m.group("res") == "1", m.group("atom") == "1")
        names[m.group("h")] = hd
        if hd is None:
            outcome = f"NULL ({h.pcpu.last_alloc_err or 'failed'})"
        else:
            area = h.model.live[hd]
            outcome = f"chunk#{area.chunk_id} off={area.start_unit * 4} ({area.units} units)"
    elif (m := _FREE.match(line)) is not None:
        hd = names.get(m.group("h"))
        if hd is None:
            outcome = "skipped (the allocation failed)"
        elif hd not in h.handles:
            h.free_percpu(hd)
            outcome = "refused: not a live allocation (double free)"
        else:
            area = h.model.live[hd]
            h.free_percpu(hd)
            outcome = f"freed {area.units * 4} bytes in chunk#{area.chunk_id}"
    elif _BALANCE.match(line):
        h.pcpu_balance_workfn()
        outcome = f"chunks={len(h.pcpu.all_chunks())}"
    elif (m := _INJECT.match(line)) is not None:
        k = int(m.group("n"))
        (h.inject_page_failures if m.group("kind") == "page" else h.inject_chunk_failures)(k)
        outcome = "armed"
    else:
        raise LitmusError(f"not a kernel call: {line!r}")
    return outcome


def judge(lit: Litmus, replay: Replay) -> tuple[bool, str]:
    """Compares a replay with the file's Result line."""
    prop, step = lit.expected
    if replay.first is None:
        got = "Agree"
    else:
        got = f"Violates {replay.first[1].prop} at step {replay.first[0]}"
    want = lit.header["Result"]
    return got == want, got


def ddmin(body: list[str], still_fails: Callable[[list[str]], bool], budget_s: float | None = None) -> list[str]:
    """Plain delta debugging over lines: the shortest body found that still fails.

    With ``budget_s``, stops after that many seconds with the shortest body so far.
    """
    stop = None if budget_s is None else time.monotonic() + budget_s
    n = 2
    while len(body) >= 2 and (stop is None or time.monotonic() < stop):
        chunk = max(1, len(body) // n)
        reduced = False
        for i in range(0, len(body), chunk):
            cand = body[:i] + body[i + chunk :]
            if cand and still_fails(cand):
                body = cand
                n = max(n - 1, 2)
                reduced = True
                break
        if not reduced:
            if chunk == 1:
                break
            n = min(n * 2, len(body))
    return body


def renumber(body: list[str]) -> list[str]:
    """Renames handles h0, h1, ... in order of first appearance."""
    mapping: dict[str, str] = {}
    out = []
    for line in body:
        if (m := _ALLOC.match(line)) is not None:
            mapping[m.group("h")] = f"h{len(mapping)}"
            line = f"{mapping[m.group('h')]}{line[len(m.group('h')):]}"
        elif (m := _FREE.match(line)) is not None:
            line = f"free_percpu({mapping.get(m.group('h'), m.group('h'))})"
        out.append(line)
    return out


def drop_dangling(body: list[str]) -> list[str]:
    """Removes frees whose allocation line is gone."""
    bound: set[str] = set()
    out = []
    for line in body:
        if (m := _ALLOC.match(line)) is not None:
            bound.add(m.group("h"))
        elif (m := _FREE.match(line)) is not None and m.group("h") not in bound:
            continue
        out.append(line)
    return out


def shrink(
    body: list[str], cfg_text: str, prop: str, variant: Variant | None = None, ignore: frozenset[str] = frozenset(),
    budget_s: float | None = None,
) -> list[str]:
    """Minimizes a failing call sequence while ``prop`` is still the first violation (within ``budget_s``)."""

    def fails(cand: list[str]) -> bool:
        r = run(drop_dangling(cand), cfg_text, variant, stop_at_first=True, ignore=ignore)
        return r.first is not None and r.first[1].prop == prop

    small = ddmin(drop_dangling(body), fails, budget_s)
    return renumber(drop_dangling(small))


def make(name: str, cfg_text: str, body: list[str], origin: str, variant: str = "faithful",
         variant_fn: Variant | None = None, extra: dict[str, str] | None = None,
         ignore: frozenset[str] = frozenset()) -> Litmus:
    """Builds a file whose Result line is what replaying ``body`` gives now."""
    r = run(body, cfg_text, variant_fn, ignore=ignore)
    result = "Agree" if r.first is None else f"Violates {r.first[1].prop} at step {r.first[0]}"
    header = {
        "Name": name,
        "Config": cfg_text,
        "Kernel": KERNEL_PIN,
        "Variant": variant,
        "Harness": HARNESS_VERSION,
        "Origin": origin,
        "Result": result,
    }
    if ignore:
        header["Ignore"] = " ".join(sorted(ignore))
    header.update(extra or {})
    return Litmus(header, body)
