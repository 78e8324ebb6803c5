"""Loading a proposed patch: a unified diff against impl/, or a Python module of hint functions.

A diff is applied with ``git apply`` (no fuzz) to a scratch copy of the
project in a temporary directory; the working tree is never written.  A
module is imported from its file under a private name; its functions
replace the port's methods of the same name on each booted ``Percpu``, or
those named by a ``REPLACES = {"port_method": function}`` mapping when the
module keeps other names (variants/v1_2017.py does).

Every way a patch can be unusable raises :class:`PatchError` with one line
naming the hunk or symbol at fault.
"""

from __future__ import annotations

import inspect
import re
import shutil
import subprocess
import sys
import tempfile
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from impl.percpu import Percpu
from properties.harness import Variant

ROOT = Path(__file__).resolve().parent.parent
# what a scratch copy needs to run the battery and replays
SCRATCH_DIRS = ("impl", "model", "properties", "tools", "corpus", "findings")
_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


class PatchError(ValueError):
    """A patch that cannot be used; the message is one line."""


@dataclass
class Hunk:
    file: str
    number: int  # 1-based within its file
    header: str
    old_start: int


@dataclass
class Patch:
    """A loaded patch: ``kind`` is "diff" or "module"."""

    path: Path
    kind: str
    text: str
    hunks: list[Hunk]

    @property
    def files(self) -> list[str]:
        return sorted({h.file for h in self.hunks})


def _read(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise PatchError(f"{path}: cannot read: {e.strerror}") from None
    if b"\x00" in data:
        raise PatchError(f"{path}: not a text file")
    try:
        return data.decode()
    except UnicodeDecodeError:
        raise PatchError(f"{path}: not a text file (not UTF-8)") from None


def _strip_prefix(name: str) -> str:
    name = name.split("\t")[0].strip()
    return name[2:] if name.startswith(("a/", "b/")) else name


def parse_diff(text: str, path: Path) -> list[Hunk]:
    """The hunks of a unified diff; checks it only touches existing files under impl/."""
    lines = text.splitlines()
    hunks: list[Hunk] = []
    current: str | None = None
    per_file = 0
    for i, line in enumerate(lines, 1):
        if line.startswith("--- ") and i < len(lines) and lines[i].startswith("+++ "):
            old, new = _strip_prefix(line[4:]), _strip_prefix(lines[i][4:])
            target = new if new != "/dev/null" else old
            if not target.startswith("impl/") or ".." in Path(target).parts:
                raise PatchError(f"{path}:{i}: the patch touches {target}; only files under impl/ may be patched")
            if old == "/dev/null" or new == "/dev/null":
                raise PatchError(f"{path}:{i}: the patch creates or deletes {target}; "
                                 "only edits to impl/ are supported")
            if not (ROOT / target).is_file():
                raise PatchError(f"{path}:{i}: {target}: no such file in impl/")
            current, per_file = target, 0
        elif line.startswith("@@"):
            m = _HUNK.match(line)
            if m is None:
                raise PatchError(f"{path}:{i}: malformed hunk header {line!r}")
            if current is None:
                raise PatchError(f"{path}:{i}: hunk before any ---/+++ file header")
            per_file += 1
            hunks.append(Hunk(current, per_file, line.split("@@")[1].strip(), int(m.group(1))))
    if current is None:
        raise PatchError(f"{path}: not a unified diff (no ---/+++ file header)")
    if not hunks:
        raise PatchError(f"{path}: the diff has no @@ hunk")
    return hunks


def load_patch(path: str | Path) -> Patch:
    """Reads and classifies a patch file; raises PatchError."""
    p = Path(path)
    text = _read(p)
    if not text.strip():
        raise PatchError(f"{p}: empty patch")
    looks_diff = text.startswith(("diff ", "--- ", "From ", "Index: ")) or "\n--- " in text and "\n+++ " in text
    if looks_diff:
        return Patch(p, "diff", text, parse_diff(text, p))
    if p.suffix == ".py":
        return Patch(p, "module", text, [])
    raise PatchError(f"{p}: neither a unified diff against impl/ nor a Python module (.py)")


# ---------------------------------------------------------------- diffs
@contextmanager
def scratch_copy(patch: Patch | None = None) -> Iterator[Path]:
    """A temporary copy of the project with ``patch`` applied; removed on exit."""
    with tempfile.TemporaryDirectory(prefix="pcpu-validate-") as tmp:
        root = Path(tmp)
        for d in SCRATCH_DIRS:
            shutil.copytree(ROOT / d, root / d, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        if patch is not None:
            apply_diff(patch, root)
        yield root


def apply_diff(patch: Patch, root: Path) -> None:
    """Applies a diff to the copy at ``root`` (``git apply``, no fuzz), naming a failing hunk."""
    r = subprocess.run(
        ["git", "apply", "--whitespace=nowarn", "-"], input=patch.text, cwd=root, capture_output=True, text=True,
    )
    if r.returncode == 0:
        return
    err = r.stderr.strip().splitlines()
    failed = [e for e in err if e.startswith("error: patch failed")]
    m = re.match(r"error: patch failed: (\S+):(\d+)", failed[0]) if failed else None
    if m:
        f, line = m.group(1), int(m.group(2))
        hunk = next((h for h in patch.hunks if h.file == f and h.old_start == line), None)
        if hunk is None:  # git reports the line it tried, which may differ from the header after offsets
            hunk = min((h for h in patch.hunks if h.file == f), key=lambda h: abs(h.old_start - line), default=None)
        if hunk is not None:
            raise PatchError(f"{patch.path}: hunk #{hunk.number} of {f} (@@ {hunk.header} @@) does not apply")
    msg = next((e for e in err if e.startswith(("error:", "fatal:"))), err[0] if err else "git apply failed")
    raise PatchError(f"{patch.path}: does not apply: {msg.removeprefix('error: ').removeprefix('fatal: ')}")


def run_in(root: Path, args: list[str], timeout_s: float = 900) -> subprocess.CompletedProcess[str]:
    """Runs ``python -m ARGS`` with ``root`` first on sys.path (the scratch copy, not the working tree)."""
    env = {"PYTHONPATH": str(root), "PYTHONHASHSEED": "0", "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=root, env=env, capture_output=True, text=True, timeout=timeout_s,
    )


# -------------------------------------------------------------- modules
def _port_methods() -> dict[str, Callable[..., Any]]:
    return {n: f for n, f in inspect.getmembers(Percpu, inspect.isfunction) if not n.startswith("__")}


def _params(fn: Callable[..., Any]) -> list[str]:
    return [p.name for p in inspect.signature(fn).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


def load_module(patch: Patch) -> tuple[Variant, list[str]]:
    """Imports a module patch; returns a harness variant and the port methods it replaces."""
    path = patch.path
    try:
        code = compile(patch.text, str(path), "exec")
    except SyntaxError as e:
        raise PatchError(f"{path}:{e.lineno}: does not import: SyntaxError: {e.msg}") from None
    name = f"pcpu_patch_{abs(hash(str(path.resolve()))) % 10**8}"
    mod = types.ModuleType(name)
    mod.__file__ = str(path)
    sys.modules[name] = mod
    try:
        exec(code, mod.__dict__)
    except Exception as e:
        tb = e.__traceback__
        line = 0
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == str(path):
                line = tb.tb_lineno
            tb = tb.tb_next
        raise PatchError(f"{path}:{line}: does not import: {type(e).__name__}: {e}") from None
    port = _port_methods()
    replaces = getattr(mod, "REPLACES", None)
    if replaces is not None:
        if not isinstance(replaces, dict):
            raise PatchError(f"{path}: REPLACES must be a dict of port method name -> function")
        table = dict(replaces)
    else:
        table = {n: f for n, f in vars(mod).items() if inspect.isfunction(f) and n in port and f.__module__ == name}
    if not table:
        raise PatchError(f"{path}: defines none of the port's functions (e.g. pcpu_block_update_hint_free) "
                         "and has no REPLACES mapping")
    for n, f in table.items():
        if n not in port:
            raise PatchError(f"{path}: {n} is not a function of the port (impl/); cannot replace it")
        if not callable(f):
            raise PatchError(f"{path}: the replacement for {n} is not a function")
        want, got = _params(port[n]), _params(f)
        if len(want) != len(got):
            raise PatchError(f"{path}: {n}({', '.join(got)}) takes {len(got)} parameters; "
                             f"the port's {n}({', '.join(want)}) takes {len(want)}")

    def apply(pcpu: Percpu) -> None:
        for n, f in table.items():
            setattr(pcpu, n, types.MethodType(f, pcpu))

    return apply, sorted(table)


def load_variant(path: str | Path) -> tuple[Patch, Variant | None, list[str]]:
    """A patch file to (patch, in-process variant or None for a diff, what it changes)."""
    patch = load_patch(path)
    if patch.kind == "module":
        variant, names = load_module(patch)
        return patch, variant, names
    return patch, None, [f"{h.file} hunk #{h.number} (@@ {h.header} @@)" for h in patch.hunks]
