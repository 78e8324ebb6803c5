"""Build the percpu oracle libraries: install source, extract, compile.

Usage::

    python -m oracle.build                      # PAGE_SHIFT 12, 8, 7 and 6
    python -m oracle.build --page-shift 6 --force
    KSRC=/path/to/linux python -m oracle.build  # another kernel tree

Results: ``build/oracle/libpercpu_ps<N>.so`` plus a ``.stamp`` file holding
a digest of every input; a library whose stamp matches is not rebuilt.

Variants (``--variant``), used to cross-check the oracle itself:
``own`` uses oracle/bitops_own.h instead of the kernel's bitmap helpers;
``forcesub`` uses the oracle's copying block view (see shim.c) even where the
kernel's pcpu_index_alloc_map works.  Their libraries get a ``_<variant>``
suffix.
Exit status: 0 ok, 2 extraction failed, 3 kernel source unavailable,
4 compiler error.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

from oracle import extract
from properties.oneline_args import OneLineParser

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BUILD = ROOT / "build" / "oracle"
GEN = BUILD / "gen"
PAGE_SHIFTS = (12, 8, 7, 6)
CC = os.environ.get("CC", "gcc")
# -fno-strict-* and -fno-delete-null-pointer-checks: the kernel's own flags.
CFLAGS = ("-O2", "-g", "-std=gnu11", "-Wall", "-Wno-unused-function", "-shared", "-fPIC",
          "-fvisibility=hidden", "-fno-strict-aliasing", "-fno-strict-overflow",
          "-fno-delete-null-pointer-checks")
OWN_SOURCES = ("shim.c", "compat.h", "bitops_own.h", "extract.py", "csource.py", "build.py")
# variant -> (bitops mode for extract.generate, extra compiler flags)
VARIANTS = {
    "": ("kernel", ()),
    "own": ("own", ()),
    "forcesub": ("kernel", ("-DORACLE_FORCE_SUBWORD=1",)),
}


class BuildError(Exception):
    """Building failed; ``status`` is the exit status to report."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


def library_path(page_shift: int, variant: str = "") -> Path:
    """Where the library for ``page_shift`` (and ``variant``) lives."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; one of {sorted(VARIANTS)}")
    suffix = f"_{variant}" if variant else ""
    return BUILD / f"libpercpu_ps{page_shift}{suffix}.so"


def kernel_tree(ksrc: str | os.PathLike | None = None) -> Path:
    """The kernel tree to extract from: ``ksrc``, $KSRC, or the installed package."""
    ksrc = ksrc or os.environ.get("KSRC") or None
    cmd = ["bash", str(HERE / "install_source.sh")]
    if ksrc:
        cmd.append(str(ksrc))
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0 or not proc.stdout.strip():
        msg = proc.stderr.strip().splitlines()[-1:] or [f"exit status {proc.returncode}"]
        raise BuildError(f"kernel source unavailable: {msg[0]}", 3)
    return Path(proc.stdout.strip().splitlines()[-1])


def _digest(paths: list[Path], extra: str) -> str:
    h = hashlib.sha256(extra.encode())
    for p in paths:
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def _compile(page_shift: int, out: Path, gen: Path, flags: tuple[str, ...]) -> None:
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    cmd = [CC, *CFLAGS, *flags, f"-DPAGE_SHIFT={page_shift}", f"-I{gen}", f"-I{HERE}",
           str(HERE / "shim.c"), "-o", str(tmp)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise BuildError(f"{CC} failed for PAGE_SHIFT={page_shift}:\n{proc.stderr}", 4)
    tmp.replace(out)


def build(page_shifts=PAGE_SHIFTS, ksrc=None, variant: str = "",
          force: bool = False, log=None) -> dict[int, Path]:
    """Build (or reuse) one library per page shift; return their paths."""
    say = log or (lambda _msg: None)
    t0 = time.monotonic()
    library_path(PAGE_SHIFTS[0], variant)  # validates the variant name
    bitops, flags = VARIANTS[variant]
    tree = kernel_tree(ksrc)
    say(f"kernel tree {tree} ({time.monotonic() - t0:.1f}s)")
    gen = GEN if bitops == "kernel" else GEN.with_name(f"gen_{bitops}")
    try:
        generated = extract.generate(tree, gen, bitops)
    except extract.ExtractError as exc:
        raise BuildError(f"extract: error: {exc}", 2) from exc
    inputs = generated + [HERE / name for name in OWN_SOURCES]
    result = {}
    for ps in page_shifts:
        out = library_path(ps, variant)
        stamp = out.with_suffix(".stamp")
        digest = _digest(inputs, f"{CC} {' '.join(CFLAGS + flags)} PAGE_SHIFT={ps} {tree}")
        if not force and out.exists() and stamp.exists() and stamp.read_text() == digest:
            say(f"up to date: {out}")
        else:
            t1 = time.monotonic()
            _compile(ps, out, gen, flags)
            stamp.write_text(digest)
            say(f"built {out} ({time.monotonic() - t1:.1f}s)")
        result[ps] = out
    say(f"done in {time.monotonic() - t0:.1f}s")
    return result


def ensure_library(page_shift: int, ksrc=None, variant: str = "") -> Path:
    """The library for ``page_shift``, building it first if it does not exist."""
    path = library_path(page_shift, variant)
    if not path.exists():
        build((page_shift,), ksrc=ksrc, variant=variant)
    return path


def main(argv: list[str] | None = None) -> int:
    ap = OneLineParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ksrc", help="kernel tree to use instead of the Debian package")
    ap.add_argument("--page-shift", type=int, action="append", dest="page_shifts",
                    help=f"page shift to build (repeatable; default {PAGE_SHIFTS})")
    ap.add_argument("--variant", choices=sorted(VARIANTS), default="",
                    help="cross-check build: 'own' bitmap helpers or 'forcesub' block view")
    ap.add_argument("--force", action="store_true", help="rebuild even if up to date")
    ap.add_argument("-q", "--quiet", action="store_true")
    args = ap.parse_args(argv)
    log = None if args.quiet else (lambda msg: print(f"oracle.build: {msg}", file=sys.stderr))
    try:
        paths = build(tuple(args.page_shifts or PAGE_SHIFTS), args.ksrc, args.variant,
                      args.force, log)
    except BuildError as exc:
        print(f"oracle.build: {exc}", file=sys.stderr)
        return exc.status
    for path in paths.values():
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
