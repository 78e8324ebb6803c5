"""Command line: ``pcpu-verify replay FILE [--json] [--show STEP] [--svg PATH] [--variant PATCH] [--stats]``,
``pcpu-verify stats FILE [--step N]``, ``pcpu-verify unitmap CONFIG``, ``pcpu-verify trace FILE`` and
``pcpu-verify validate-patch [--kernel] PATCH [--seeds 0-3] [--steps N] [--examples N] [--out DIR]``.

Exit status: 0 when the replay matches the file's Result line, 1 when it
does not, 2 for bad input (one line on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from properties import ftrace, litmus
from properties.failures import write_atomically
from properties.harness import Harness
from tools import trace
from tools.patching import PatchError
from tools.render import render_text
from tools.svg import render_svg


def stats_text(h: Harness) -> str:
    """The boot's pcpu_dump_alloc_info() lines, then what /sys/kernel/debug/percpu_stats would read."""
    from impl.alloc_info import pcpu_dump_alloc_info
    from impl.stats import percpu_stats_show

    pcpu = h.pcpu
    dump = pcpu_dump_alloc_info("KERN_INFO", pcpu.pcpu_stats_ai, possible_cpus=pcpu.possible_cpus,
                                nr_cpu_ids=pcpu.nr_cpu_ids)
    return "\n".join(dump) + "\n\n" + percpu_stats_show(pcpu)


def _chunk_state(h: Harness) -> list[dict[str, Any]]:
    out = []
    for c in h.pcpu.all_chunks():
        out.append(
            {
                "chunk": c.id,
                "slot": h.pcpu.slot_of(c),
                "free_bytes": c.free_bytes,
                "chunk_md": list(c.chunk_md.as_tuple()),
                "md_blocks": [list(b.as_tuple()) for b in c.md_blocks],
                "populated": c.populated.bits,
                "nr_empty_pop_pages": c.nr_empty_pop_pages,
            }
        )
    return out


class _Usage(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, exit 2, no usage dump
        raise _Usage(message)


def cmd_replay(args: argparse.Namespace) -> int:
    lit = litmus.load(args.file)
    variant = None
    if args.variant:
        from tools.patching import load_variant, run_in, scratch_copy

        patch, variant, _ = load_variant(args.variant)
        if variant is None:  # a diff: replay inside a patched scratch copy
            sub = ["tools.scratch_main", "replay", str(Path(args.file).resolve())] + (["--json"] if args.json else [])
            if args.show is not None:
                svg = Path(args.svg or f"out/{Path(args.file).stem}-step{args.show}.svg").resolve()
                sub += ["--show", str(args.show), "--svg", str(svg)]
            with scratch_copy(patch) as root:
                r = run_in(root, sub)
            sys.stdout.write(r.stdout)
            sys.stderr.write(r.stderr)
            return r.returncode
    states: list[dict[str, Any]] = []
    shown: list[str] = []
    pictures: list[str] = []

    def on_step(h: Harness, n: int) -> None:
        if args.json:
            states.append({"step": n, "chunks": _chunk_state(h)})
        if args.show is not None and n == args.show:
            shown.append(render_text(h))
            bad = [v.line() for v in h.violations if v.where.startswith(f"step {n}:")]
            pictures.append(render_svg(h, f"{lit.header['Name']}: after step {n}", bad[0] if bad else ""))

    if args.show is not None and not 0 <= args.show <= len(lit.body):
        raise litmus.LitmusError(f"--show {args.show}: the file has steps 1..{len(lit.body)}")
    rep = litmus.run(lit.body, lit.header["Config"], variant, on_step=on_step, ignore=lit.ignore)
    if args.show == 0:
        h0 = litmus.run([], lit.header["Config"]).harness
        shown.append(render_text(h0))
        pictures.append(render_svg(h0, f"{lit.header['Name']}: after boot"))
    if pictures:
        svg_path = Path(args.svg or f"out/{Path(args.file).stem}-step{args.show}.svg")
        write_atomically(svg_path, pictures[0])
        shown.append(f"picture: {svg_path}")
    ok, got = litmus.judge(lit, rep)
    if args.json:
        doc = {
            "file": args.file,
            "expected": lit.header["Result"],
            "got": got,
            "match": ok,
            "steps": [
                {
                    "step": s.step,
                    "call": s.line,
                    "outcome": s.outcome,
                    "violations": [v.line() for v in s.violations],
                    "after": states[i]["chunks"] if i < len(states) else None,
                }
                for i, s in enumerate(rep.steps)
            ],
        }
        print(json.dumps(doc, indent=1))
    else:
        print(f"# {lit.header['Name']}  [{lit.header['Config']}]")
        for s in rep.steps:
            print(f"{s.step:4d}  {s.line:<60s} -> {s.outcome}")
            for v in s.violations:
                mark = "  (ignored)" if v.prop in lit.ignore else ""
                print(f"        !! {v.line()}{mark}")
        if rep.first:
            print(f"first violation: step {rep.first[0]}: {rep.first[1].line()}")
            if args.stats:
                print(f"\n# percpu_stats after step {rep.first[0]}")
                print(stats_text(litmus.run(lit.body[: rep.first[0]], lit.header["Config"]).harness))
        for text in shown:
            print(text)
        print(f"expected: {lit.header['Result']}")
        print(f"got:      {got}")
        print("MATCH" if ok else "MISMATCH")
    return 0 if ok else 1


def cmd_stats(args: argparse.Namespace) -> int:
    """Prints the percpu_stats dump after step N of a counterexample file (0 = boot; default: last)."""
    lit = litmus.load(args.file)
    step = len(lit.body) if args.step is None else args.step
    if not 0 <= step <= len(lit.body):
        raise litmus.LitmusError(f"--step {step}: the file has steps 0..{len(lit.body)}")
    h = litmus.run(lit.body[:step], lit.header["Config"]).harness
    print(f"# {lit.header['Name']}  [{lit.header['Config']}] after step {step}")
    print(stats_text(h), end="")
    return 0


def cmd_unitmap(args: argparse.Namespace) -> int:
    """Boots a configuration and prints its unit map (pcpu_dump_alloc_info and format_unit_map)."""
    from impl.alloc_info import pcpu_dump_alloc_info
    from impl.boot import boot
    from impl.unitmap import format_unit_map
    from properties.configs import ConfigError, check_boots, parse_config

    try:
        cfg = parse_config(args.config)
        check_boots(cfg)
    except ConfigError as e:
        raise _Usage(str(e)) from None
    pcpu = boot(cfg)
    ai = pcpu.pcpu_stats_ai
    print(f"# {args.config}: {cfg.describe()}")
    print("\n".join(pcpu_dump_alloc_info("KERN_INFO", ai, possible_cpus=pcpu.possible_cpus,
                                         nr_cpu_ids=pcpu.nr_cpu_ids)))
    print()
    print(format_unit_map(ai, base_addr=cfg.base_addr))
    return 0


def cmd_validate_patch(args: argparse.Namespace) -> int:
    from tools.battery import Budget
    from tools.find import parse_seeds
    from tools.validate import validate

    try:
        seeds = parse_seeds(args.seeds)
    except ValueError:
        raise _Usage(f"--seeds {args.seeds!r}: expected e.g. 0-3 or 0,5,9") from None
    if not seeds or args.steps <= 0 or args.examples <= 0:
        raise _Usage("--seeds, --steps and --examples must be positive")
    if args.kernel:
        from tools import validate_kernel

        try:
            return validate_kernel.validate(args.patch, seed=seeds[0])
        except validate_kernel.PatchError as e:
            raise _Usage(str(e)) from None
    status, text = validate(args.patch, Budget(seeds=seeds, steps=args.steps, examples=args.examples), args.out)
    print(text, end="")
    return status


def main(argv: list[str] | None = None) -> int:
    ap = _Parser(prog="pcpu-verify")
    sub = ap.add_subparsers(dest="cmd")
    rp = sub.add_parser("replay", help="replay a counterexample file and judge it")
    rp.add_argument("file")
    rp.add_argument("--json", action="store_true")
    rp.add_argument("--show", type=int, default=None, metavar="STEP")
    rp.add_argument("--stats", action="store_true", help="print the percpu_stats dump at the first violation")
    rp.add_argument("--svg", default=None, metavar="PATH", help="where --show writes its picture (default out/)")
    rp.add_argument("--variant", default=None, metavar="PATCH", help="replay on the port with this diff or module")
    up = sub.add_parser("unitmap", help="boot a configuration and print its unit map")
    up.add_argument("config", help='a preset and knobs, e.g. "debian-smp4 nodes=0,0,1,1"')
    sp = sub.add_parser("stats", help="print the percpu_stats dump of a state of a counterexample file")
    sp.add_argument("file")
    sp.add_argument("--step", type=int, default=None, metavar="N")
    vp = sub.add_parser("validate-patch", help="run the battery on a patched port and report")
    vp.add_argument("patch")
    vp.add_argument("--kernel", action="store_true", help="a patch of mm/percpu.c, judged on the rebuilt C")
    vp.add_argument("--seeds", default="0-3", help="seeded walks per configuration (default 0-3)")
    vp.add_argument("--steps", type=int, default=1000, help="steps per seeded walk (default 1000)")
    vp.add_argument("--examples", type=int, default=30, help="Hypothesis examples (default 30)")
    vp.add_argument("--out", default="out/validate", help="where files, pictures and the report go")
    trace.add_parser(sub)
    commands = {"replay": cmd_replay, "stats": cmd_stats, "unitmap": cmd_unitmap, "validate-patch": cmd_validate_patch,
                "trace": trace.cmd_trace}
    try:
        args = ap.parse_args(argv)
        if args.cmd is None:
            raise _Usage(f"a command is required: {', '.join(commands)}")
        return commands[args.cmd](args)
    except (_Usage, litmus.LitmusError, PatchError, ftrace.TraceError) as e:
        print(f"pcpu-verify: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # an output file that cannot be written
        print(f"pcpu-verify: {e.filename}: {e.strerror}", file=sys.stderr)
        return 2
    except SystemExit as e:  # argparse --help
        return int(e.code or 0)


if __name__ == "__main__":
    sys.exit(main())
