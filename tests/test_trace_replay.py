"""Trace logs: small ones written here in the kernel's ftrace format, and the real one."""

from __future__ import annotations

import random
import zlib
from pathlib import Path
from typing import Any

import pytest

from impl.boot import boot
from impl.kernel import GFP_ATOMIC, GFP_KERNEL
from properties import ftrace, litmus
from properties.configs import parse_config
from properties.dmesg_geometry import GeometryError, parse_dmesg
from properties.trace_replay import TraceReplay, TraceReport
from tools import cli
from tools.shared_data import REAL_TRACE
from tools.trace import ledger_properties

pytestmark = pytest.mark.unit
CFG = "small16"


def port_log(seed: int, steps: int, cfg: str = CFG, warmup: int = 0) -> list[str]:
    """Runs the port and renders its own tracepoints, two tasks taking turns.

    The first ``warmup`` + 1 steps allocate 4 bytes each.
    """
    pc = boot(parse_config(cfg))
    pc.tracing = True
    rng = random.Random(seed)
    live: list[int] = []
    lines: list[str] = []
    for step in range(steps):
        pc.trace_log.clear()
        if step <= warmup and warmup:
            p = pc.pcpu_alloc(4, 4, False)
            assert p is not None
            live.append(p)
        elif live and rng.random() < 0.4:
            pc.free_percpu(live.pop(rng.randrange(len(live))))
        else:
            ptr = pc.pcpu_alloc(rng.choice([4, 8, 12, 32, 60, 100]), rng.choice([4, 8, 16]), rng.random() < 0.05,
                                GFP_ATOMIC if rng.random() < 0.1 else GFP_KERNEL)
            if ptr is not None:
                live.append(ptr)
        if pc.balance_work_pending:
            pc.pcpu_balance_workfn()
        for ev in pc.trace_log:
            f: dict[str, int | str] = dict(ev.fields)
            for k in ("base_addr", "ptr"):
                if k in f:
                    f[k] = f"{int(f[k]) & (2**64 - 1):016x}"
            task = step % 2
            lines.append(ftrace.format_event(f"task{task}", 100 + task, task, 1.0 + step / 1000, ev.name, f))
    return lines


def hash_pointers(lines: list[str]) -> list[str]:
    """What hash-ptr does: every pointer becomes a stable 32-bit hash."""
    def h(word: str) -> str:
        key, _, val = word.partition("=")
        return f"{key}={zlib.crc32(val.encode()):016x}"
    return [" ".join(h(w) if w.startswith(("base_addr=", "ptr=")) else w for w in line.split(" ")) for line in lines]


def replay(lines: list[str], **kw: Any) -> TraceReport:
    log = ftrace.parse("\n".join(lines), "<test>")
    return TraceReplay(log, parse_config(CFG), config_text=CFG, **kw).run()


def test_port_agrees_with_its_own_log_every_placement() -> None:
    lines = port_log(0, 300)
    r = replay(lines)
    assert r.allocs > 100
    assert r.agreement == 1.0
    assert r.agree_reordered == 0
    assert r.differences == []
    assert not r.hashed


def test_hashed_pointers_are_names_only() -> None:
    r = replay(hash_pointers(port_log(1, 300)))
    assert r.hashed
    assert r.agreement == 1.0
    assert r.differences == []


def test_alloc_logged_late_is_replayed_in_lock_order_and_reported() -> None:
    lines = port_log(2, 300)

    def key(s: str) -> tuple[str, ...]:
        w = dict(x.split("=", 1) for x in s.split(": ", 2)[2].split() if "=" in x)
        return (s.split()[0], w["base_addr"], w["size"], w["align"], w["is_atomic"])

    # two allocations of the same request shape in the same chunk by different tasks:
    # log the first one after the second, as a late alloc event would be
    idx = next(i for i in range(len(lines) - 1) if "percpu_alloc_percpu:" in lines[i]
               and "percpu_alloc_percpu:" in lines[i + 1] and key(lines[i])[0] != key(lines[i + 1])[0]
               and key(lines[i])[1:] == key(lines[i + 1])[1:])
    lines[idx], lines[idx + 1] = lines[idx + 1], lines[idx]
    r = replay(lines)
    assert r.agreement == 1.0
    assert r.agree_reordered == 2
    assert len(r.reorders) == 1
    # with no window the same log disagrees
    r0 = replay(lines, window=0)
    assert r0.agreement < 1.0


def test_pre_trace_allocations_are_reconstructed() -> None:
    lines = port_log(3, 300, warmup=6)
    r = replay(lines[6:])  # tracing starts after six allocations, some freed later
    assert any("allocated before tracing" in s for s in r.reconstructed)
    assert r.frees_unknown == 0
    assert r.agreement == 1.0


def test_wrong_kernel_placement_is_a_categorized_difference() -> None:
    lines = port_log(4, 60)
    allocs = [i for i, s in enumerate(lines) if "percpu_alloc_percpu:" in s and "reserved=0" in s]
    i = allocs[-1]
    off = int(lines[i].split(" off=")[1].split()[0])
    lines[i] = lines[i].replace(f" off={off} ", f" off={off + 64} ")
    r = replay(lines)
    assert len(r.differences) == 1
    assert r.differences[0].category in ("different-fit", "area-busy-in-port")
    assert r.agreement < 1.0


def test_cli_trace_pass_and_fail(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.txt"
    good.write_text("# tracer: nop\n" + "\n".join(port_log(5, 150)) + "\n")
    assert cli.main(["trace", str(good), "--config", CFG]) == 0
    out = capsys.readouterr().out
    assert "= 100.000 %" in out
    assert "verdict: PASS" in out
    lines = port_log(5, 150)
    i = max(i for i, s in enumerate(lines) if "percpu_alloc_percpu:" in s and "reserved=0" in s)
    off = int(lines[i].split(" off=")[1].split()[0])
    lines[i] = lines[i].replace(f" off={off} ", f" off={off + 64} ")
    bad = tmp_path / "bad.txt"
    bad.write_text("\n".join(lines) + "\n")
    assert cli.main(["trace", str(bad), "--config", CFG]) == 1
    assert "verdict: FAIL" in capsys.readouterr().out


@pytest.mark.parametrize("text,needle", [
    ("garbage here\n", "not an ftrace event line"),
    ("  a-1 [000] ..... 1.0: percpu_free_percpu: base_addr=zz off=1 ptr=0\n", "do not match"),
    ("  a-1 [000] ..... 1.0: percpu_bogus: x=1\n", "unknown percpu event"),
    ("# only comments\n", "no percpu tracepoint events"),
    ("  a-1 [000] ..... 1.0: percpu_create_chunk: base_addr=(____ptrval____)\n", "nohash-ptr"),
])
def test_bad_trace_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str,
                                      needle: str) -> None:
    p = tmp_path / "t.txt"
    p.write_text(text)
    assert cli.main(["trace", str(p), "--config", CFG]) == 2
    err = capsys.readouterr().err
    assert needle in err
    assert err.count("\n") == 1


def test_missing_geometry_and_file_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "t.txt"
    p.write_text("\n".join(port_log(6, 10)) + "\n")
    assert cli.main(["trace", str(p)]) == 2  # no dmesg_percpu.txt beside it
    assert "dmesg" in capsys.readouterr().err
    assert cli.main(["trace", str(tmp_path / "none.txt"), "--config", CFG]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_dmesg_geometry_of_the_traced_machine() -> None:
    text = (REAL_TRACE.with_name("dmesg_percpu.txt")).read_text() if REAL_TRACE.exists() else (
        "setup_percpu: NR_CPUS:8192 nr_cpumask_bits:4 nr_cpu_ids:4 nr_node_ids:1\n"
        "pcpu-alloc: s233472 r8192 d28672 u524288 alloc=1*2097152\npcpu-alloc: [0] 0 1 2 3 \n")
    cfg, unit = parse_dmesg(text)
    assert (cfg.static_size, cfg.reserved_size, cfg.dyn_size, unit) == (233472, 8192, 28672, 524288)
    assert cfg.possible_cpus == (0, 1, 2, 3)
    assert boot(cfg).pcpu_unit_size == unit
    with pytest.raises(GeometryError):
        parse_dmesg("nothing here")


def _real_log(limit: int | None) -> ftrace.TraceLog:
    if not REAL_TRACE.exists():
        pytest.skip("real trace not present")
    log = ftrace.load(REAL_TRACE)
    if limit:
        log.events = log.events[:limit]
    return log


def test_real_log_prefix_agrees() -> None:
    log = _real_log(1500)
    cfg, _ = parse_dmesg(REAL_TRACE.with_name("dmesg_percpu.txt").read_text())
    r = TraceReplay(log, cfg, check_every=500).run()
    assert r.reconstructed[0].endswith("[0, 2416) allocated before tracing, as 1 area(s)")
    assert r.agreement == 1.0
    known = ledger_properties()
    assert {v.prop for v in r.violations} <= set(known)  # only recorded kernel findings


@pytest.mark.deep
def test_real_log_meets_the_goal() -> None:
    log = _real_log(None)
    cfg, _ = parse_dmesg(REAL_TRACE.with_name("dmesg_percpu.txt").read_text())
    r = TraceReplay(log, cfg, check_every=25).run()
    assert r.agreement >= 0.999
    assert r.agree_reordered > 0
    assert len(r.differences) <= r.allocs // 1000


def test_logged_failure_the_port_would_serve_is_a_difference() -> None:
    lines = port_log(7, 40)
    lines.append(ftrace.format_event("task9", 109, 1, 9.0, "percpu_alloc_percpu_fail",
                                     {"reserved": 0, "is_atomic": 0, "size": 4, "align": 4}))
    r = replay(lines)
    assert r.fails == 1
    assert r.fails_agree == 0
    assert [d.category for d in r.differences] == ["port-succeeded-kernel-failed"]


def test_trace_to_counterexample_file_replays(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "t.txt"
    log.write_text("\n".join(port_log(8, 80)) + "\n")
    out = tmp_path / "from-trace.litmus"
    assert cli.main(["trace", str(log), "--config", CFG, "--litmus", str(out)]) == 0
    assert "counterexample file" in capsys.readouterr().out
    lit = litmus.load(out)
    assert lit.header["Config"] == CFG
    assert sum("pcpu_alloc(" in b for b in lit.body) >= 40
    assert cli.main(["replay", str(out)]) == 0
    assert "MATCH" in capsys.readouterr().out


def test_chunk_created_before_tracing_is_created_for_the_log() -> None:
    lines = port_log(9, 200, warmup=60)
    creates = [i for i, s in enumerate(lines) if "percpu_create_chunk:" in s]
    del lines[creates[0]]  # the first new chunk was created before tracing started
    r = replay(lines)
    assert sum("used before any create event" in s for s in r.reconstructed) >= 1
    assert r.agreement == 1.0
