"""``pcpu-verify trace FILE``: replay a kernel tracepoint log through the port and the model.

Prints the placement agreement (port vs kernel, same chunk and offset), the
allocations that only agree in lock order (reordered), every remaining
difference with its category, and model violations (ledger findings apart
from new ones).  Exit status: 0 at or above the goal with no new violation,
1 otherwise, 2 for bad input.
"""

from __future__ import annotations

import argparse
import time
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

from properties import ftrace, litmus
from properties.configs import ConfigError, parse_config
from properties.dmesg_geometry import GeometryError, load_dmesg
from properties.trace_replay import CATEGORIES, GOAL, TraceReplay, TraceReport

ROOT = Path(__file__).resolve().parent.parent


def ledger_properties() -> dict[str, str]:
    with open(ROOT / "findings" / "ledger.toml", "rb") as f:
        return {e["property"]: e["id"] for e in tomllib.load(f)["finding"]}


def load_replay(path: str, *, dmesg: str | None = None, config: str | None = None, window: int = 16,
                balance: str = "eager", check_every: int = 1) -> tuple[TraceReplay, str]:
    """A replay of a log, ready to run, and its configuration as a counterexample-file Config line.

    The geometry comes from ``dmesg_percpu.txt`` beside the log, ``dmesg``, or the preset ``config``.
    """
    log = ftrace.load(path)
    if config:
        cfg, unit, cfg_line = parse_config(config), None, config
    else:
        dm = Path(dmesg) if dmesg else Path(path).with_name("dmesg_percpu.txt")
        if not dm.exists():
            raise GeometryError(f"{dm}: no boot log for the geometry; pass --dmesg FILE or --config PRESET")
        cfg, unit = load_dmesg(dm)
        cfg_line = (f"real4096 static_size={cfg.static_size} reserved_size={cfg.reserved_size} "
                    f"dyn_size={cfg.dyn_size} atom_size={cfg.atom_size} "
                    f"cpus={','.join(map(str, cfg.possible_cpus))}")
    tr = TraceReplay(log, cfg, window=window, balance=balance, check_every=check_every,
                     config_text=cfg_line if config else f"{dm.name}: {cfg.describe()}")
    if unit is not None and tr.pcpu.pcpu_unit_size != unit:
        raise GeometryError(f"the port computes unit size {tr.pcpu.pcpu_unit_size}, the boot log says {unit}")
    return tr, cfg_line


def replay_file(path: str, **kw: Any) -> TraceReport:
    """Loads a log and its geometry and replays it (see :func:`load_replay`)."""
    return load_replay(path, **kw)[0].run()


def write_litmus(tr: TraceReplay, cfg_line: str, out: str) -> str:
    """The replayed calls, in lock order, as a counterexample file judged by replaying it."""
    body = [line.split("  #")[0] for line in tr.h.ops]
    seen = {v.prop for v in tr.r.violations}
    known = ledger_properties()
    lit = litmus.make(Path(out).stem, cfg_line, body, f"{time.strftime('%Y-%m-%d')}, tools.cli trace {tr.log.path} "
                      f"(calls in lock order; placements the port did not choose are not reproduced)",
                      ignore=frozenset(p for p in seen if p in known))
    Path(out).write_text(lit.text())
    return lit.header["Result"]


def print_report(r: TraceReport, elapsed_s: float, goal: float = GOAL) -> bool:
    """Prints the report; True when the goal is met and no unledgered property was violated."""
    known = ledger_properties()
    print(f"# trace {r.path}")
    print(f"geometry: {r.config}")
    print(f"pointers: {'hashed (base_addr is a name only)' if r.hashed else 'unhashed'}; "
          f"lost events: {r.lost_events}; events: " + ", ".join(f"{k} {v}" for k, v in sorted(r.events.items())))
    for line in r.reconstructed:
        print(f"reconstructed: {line}")
    print(f"frees of areas never seen allocated: {r.frees_unknown} of {r.frees}")
    print(f"logged failures reproduced: {r.fails_agree} of {r.fails}")
    print(f"\n== allocations placed where the kernel placed them: {r.agree_in_order + r.agree_reordered} of "
          f"{r.allocs} = {100 * r.agreement:.3f} % (goal {100 * goal:.1f} %)")
    print(f"   in log order: {r.agree_in_order}; only in lock order (alloc event logged late): {r.agree_reordered}")
    for line in r.reorders:
        print(f"   reordered: {line}")
    cats = Counter(d.category for d in r.differences)
    print(f"\n== differences: {len(r.differences)}")
    for cat, n in sorted(cats.items()):
        print(f"   {cat}: {n}  ({CATEGORIES[cat]})")
    for d in r.differences:
        print(f"   {d.line()}")
    props = Counter(v.prop for v in r.violations)
    new = {p: n for p, n in props.items() if p not in known}
    print(f"\n== model: {sum(props.values())} property violations"
          + (" (" + ", ".join(f"{p} {n}" + (f" = {known[p]}" if p in known else " NEW")
                               for p, n in sorted(props.items())) + ")" if props else ""))
    for p in sorted(new):
        first = next(v for v in r.violations if v.prop == p)
        print(f"   NEW: {first.line()}")
    ok = r.agreement >= goal and not new
    print(f"\n== verdict: {'PASS' if ok else 'FAIL'} ({elapsed_s:.1f} s)")
    return ok


def add_parser(sub: argparse._SubParsersAction) -> None:
    tp = sub.add_parser("trace", help="replay a kernel percpu tracepoint log (ftrace text, .xz ok)")
    tp.add_argument("file")
    tp.add_argument("--dmesg", help="boot log with the pcpu-alloc lines (default: dmesg_percpu.txt beside FILE)")
    tp.add_argument("--config", help="a preset instead of a boot log, e.g. debian-smp4")
    tp.add_argument("--window", type=int, default=16, help="reordering window, in events (default 16)")
    tp.add_argument("--balance", choices=("eager", "on-create"), default="eager",
                    help="when the unlogged balance work runs (default: whenever pending)")
    tp.add_argument("--litmus", metavar="OUT", help="also write the calls as a counterexample file "
                    "(replayed with every check after every step to get its Result: slow for long logs)")
    tp.add_argument("--check-every", type=int, default=100, metavar="N",
                    help="recompute every hint from the model every N events (default 100; 1 takes about an hour)")


def cmd_trace(args: argparse.Namespace) -> int:
    t0 = time.time()
    try:
        tr, cfg_line = load_replay(args.file, dmesg=args.dmesg, config=args.config, window=args.window,
                                   balance=args.balance, check_every=args.check_every)
        r = tr.run()
    except ConfigError as e:
        raise ftrace.TraceError(str(e)) from None
    except GeometryError as e:
        raise ftrace.TraceError(str(e)) from None
    ok = print_report(r, time.time() - t0)
    if args.litmus:
        print(f"counterexample file {args.litmus}: Result: {write_litmus(tr, cfg_line, args.litmus)}")
    return 0 if ok else 1
