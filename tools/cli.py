"""Command line: ``pcpu-verify replay FILE [--json] [--show STEP]``, ``pcpu-verify trace FILE``.

Exit status: 0 when the replay matches the file's Result line, 1 when it
does not, 2 for bad input (one line on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from properties import ftrace, litmus
from properties.harness import Harness
from tools import trace
from tools.render import render_text


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
    states: list[dict[str, Any]] = []
    shown: list[str] = []

    def on_step(h: Harness, n: int) -> None:
        if args.json:
            states.append({"step": n, "chunks": _chunk_state(h)})
        if args.show is not None and n == args.show:
            shown.append(render_text(h))

    if args.show is not None and not 0 <= args.show <= len(lit.body):
        raise litmus.LitmusError(f"--show {args.show}: the file has steps 1..{len(lit.body)}")
    rep = litmus.run(lit.body, lit.header["Config"], on_step=on_step, ignore=lit.ignore)
    if args.show == 0:
        shown.append(render_text(litmus.run([], lit.header["Config"]).harness))
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
        for text in shown:
            print(text)
        print(f"expected: {lit.header['Result']}")
        print(f"got:      {got}")
        print("MATCH" if ok else "MISMATCH")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    ap = _Parser(prog="pcpu-verify")
    sub = ap.add_subparsers(dest="cmd")
    rp = sub.add_parser("replay", help="replay a counterexample file and judge it")
    rp.add_argument("file")
    rp.add_argument("--json", action="store_true")
    rp.add_argument("--show", type=int, default=None, metavar="STEP")
    trace.add_parser(sub)
    vp = sub.add_parser("validate-patch", help="validate a hint-update patch")
    vp.add_argument("patch")
    vp.add_argument("--kernel", action="store_true", help="a patch of mm/percpu.c, judged on the rebuilt C")
    vp.add_argument("--seed", type=int, default=0)
    try:
        args = ap.parse_args(argv)
        if args.cmd is None:
            raise _Usage("a command is required: replay, trace")
        if args.cmd == "trace":
            return trace.cmd_trace(args)
        if args.cmd == "validate-patch":
            if not args.kernel:
                raise _Usage("validate-patch: only --kernel patches are handled on this branch")
            from tools import validate_kernel

            try:
                return validate_kernel.validate(args.patch, seed=args.seed)
            except validate_kernel.PatchError as e:
                raise _Usage(str(e)) from None
        return cmd_replay(args)
    except (_Usage, litmus.LitmusError, ftrace.TraceError) as e:
        print(f"pcpu-verify: {e}", file=sys.stderr)
        return 2
    except SystemExit as e:  # argparse --help
        return int(e.code or 0)


if __name__ == "__main__":
    sys.exit(main())
