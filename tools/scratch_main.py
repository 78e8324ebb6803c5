"""Entry point run inside a scratch copy of a patched port (tools.patching.run_in).

    python -m tools.scratch_main battery ARGS...   # tools.battery
    python -m tools.scratch_main replay ARGS...    # tools.cli replay

It imports nothing of the project before its guard, so a patch that breaks
the import of impl/ gets one line naming the file, line and error (exit 2)
instead of a traceback.
"""

from __future__ import annotations

import sys
import traceback


def _import_error(e: BaseException) -> str:
    if isinstance(e, SyntaxError):
        where = f"{(e.filename or '?').split('/impl/')[-1]}:{e.lineno}"
        return f"impl/{where}: SyntaxError: {e.msg}" if "/impl/" in (e.filename or "") else f"{where}: {e.msg}"
    frames = [f for f in traceback.extract_tb(e.__traceback__) if "/impl/" in f.filename]
    site = f"impl/{frames[-1].filename.split('/impl/')[-1]}:{frames[-1].lineno}: " if frames else ""
    return f"{site}{type(e).__name__}: {e}"


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("battery", "replay"):
        print("pcpu-verify: scratch_main: battery or replay expected", file=sys.stderr)
        return 2
    try:
        import impl.percpu  # noqa: F401
        from tools import battery, cli
    except Exception as e:
        print(f"pcpu-verify: the patched port does not import: {_import_error(e)}", file=sys.stderr)
        return 2
    if argv[0] == "battery":
        return battery.main(argv[1:])
    return cli.main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
