"""A small C-aware scanner that finds top-level definitions by name.

It is not a C parser.  It blanks out comments and string/char literals so that
braces, parentheses and names inside them are ignored, marks preprocessor
directive lines, and then uses brace matching to cut out

* function definitions (``find_function``),
* ``struct NAME { ... };`` definitions (``find_struct``),
* ``#define NAME`` directives, including continuation lines (``find_macro``).

Every result is a ``Piece`` that records the source file and line so the
generated C can carry ``#line`` markers pointing back at the kernel tree.
Emitted text has comments replaced by blanks (line structure is kept for
functions and structs), so no kernel comment ends up in generated files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path


class ExtractError(Exception):
    """A requested definition is missing or ambiguous."""


@dataclass(frozen=True)
class Piece:
    """One extracted definition."""

    kind: str  # "function", "struct" or "macro"
    name: str
    path: str  # path relative to the kernel tree, for #line markers
    line: int  # 1-based line of the first character
    offset: int  # character offset in the file (used for ordering)
    text: str

    def render(self) -> str:
        """Return the text preceded by a ``#line`` marker."""
        return f'#line {self.line} "{self.path}"\n{self.text}\n'


_IDENT = re.compile(r"[A-Za-z_]\w*")


def _blank(ch: str) -> str:
    return "\n" if ch == "\n" else " "


def mask(text: str) -> tuple[str, str, str]:
    """Return three same-length views of ``text``.

    ``keep``: comments blanked, newlines inside comments kept.
    ``flat``: comments blanked including their newlines (used for macros).
    ``code``: like ``flat`` and additionally string/char literal contents blanked.
    """
    keep: list[str] = []
    flat: list[str] = []
    code: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        two = text[i : i + 2]
        if two == "/*":
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            for ch in text[i:j]:
                keep.append(_blank(ch))
                flat.append(" ")
                code.append(" ")
            i = j
        elif two == "//":
            j = i
            while j < n and text[j] != "\n":
                if text[j] == "\\" and j + 1 < n and text[j + 1] == "\n":
                    j += 2
                else:
                    j += 1
            for ch in text[i:j]:
                keep.append(_blank(ch))
                flat.append(" ")
                code.append(" ")
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            lit = text[i:j]
            keep.append(lit)
            flat.append(lit)
            code.append(c + "".join(_blank(ch) for ch in lit[1:-1]) + lit[-1:])
            i = j
        else:
            keep.append(c)
            flat.append(c)
            code.append(c)
            i += 1
    return "".join(keep), "".join(flat), "".join(code)


def _directive_spans(code: str) -> list[tuple[int, int]]:
    """Spans [start, end) of preprocessor directives (with continuations)."""
    spans = []
    pos = 0
    n = len(code)
    while pos < n:
        eol = code.find("\n", pos)
        eol = n if eol < 0 else eol
        if code[pos:eol].lstrip().startswith("#"):
            start = pos
            while eol < n and code[pos:eol].rstrip().endswith("\\"):
                pos = eol + 1
                eol = code.find("\n", pos)
                eol = n if eol < 0 else eol
            spans.append((start, eol))
        pos = eol + 1
    return spans


class CSource:
    """A C file prepared for lookups by name."""

    def __init__(self, text: str, path: str):
        self.text = text
        self.path = path
        self.keep, self.flat, self.code = mask(text)
        self.directives = _directive_spans(self.code)
        body = list(self.code)
        for start, end in self.directives:
            for k in range(start, end):
                if body[k] != "\n":
                    body[k] = " "
            body[start] = ";"  # a directive ends whatever came before it
        self.body = "".join(body)
        self.depth = self._brace_depths()

    @classmethod
    def from_file(cls, root: Path, rel: str) -> CSource:
        """Load ``rel`` below the kernel tree ``root``."""
        path = root / rel
        if not path.is_file():
            raise ExtractError(f"{rel}: file not found under {root}")
        return cls(path.read_text(encoding="utf-8", errors="replace"), rel)

    def _brace_depths(self) -> list[int]:
        depth = []
        d = 0
        for ch in self.body:
            depth.append(d)
            if ch == "{":
                d += 1
            elif ch == "}":
                d = max(d - 1, 0)
        return depth

    def _line_of(self, offset: int) -> int:
        return self.text.count("\n", 0, offset) + 1

    def _match(self, pos: int, open_ch: str, close_ch: str) -> int:
        """Index just past the bracket closing the one at ``pos``."""
        d = 0
        for k in range(pos, len(self.body)):
            ch = self.body[k]
            if ch == open_ch:
                d += 1
            elif ch == close_ch:
                d -= 1
                if d == 0:
                    return k + 1
        raise ExtractError(f"{self.path}: unbalanced {open_ch!r} at line {self._line_of(pos)}")

    def _skip_ws(self, pos: int) -> int:
        while pos < len(self.body) and self.body[pos].isspace():
            pos += 1
        return pos

    def _body_start(self, pos: int) -> int | None:
        """After a parameter list: offset of ``{`` if a body follows, else None.

        Attribute-like words, optionally with a parenthesised argument list
        (``__acquires(x)``), may sit between the parameters and the body.
        """
        while True:
            pos = self._skip_ws(pos)
            if pos >= len(self.body):
                return None
            ch = self.body[pos]
            if ch == "{":
                return pos
            m = _IDENT.match(self.body, pos)
            if not m:
                return None
            pos = self._skip_ws(m.end())
            if pos < len(self.body) and self.body[pos] == "(":
                pos = self._match(pos, "(", ")")

    def _decl_start(self, pos: int) -> int:
        """Start of the declaration whose name is at ``pos``."""
        k = pos - 1
        while k >= 0 and self.body[k] not in ";}":
            k -= 1
        return self._skip_ws(k + 1)

    def _unique(self, found: list[Piece], kind: str, name: str) -> Piece:
        if not found:
            raise ExtractError(f"{kind} '{name}' not found in {self.path}")
        texts = {" ".join(p.text.split()) for p in found}
        if len(texts) > 1:
            lines = ", ".join(str(p.line) for p in found)
            raise ExtractError(f"{kind} '{name}' is defined more than once in "
                               f"{self.path} (lines {lines})")
        return found[0]

    def find_function(self, name: str) -> Piece:
        """The unique top-level definition of function ``name``."""
        found = []
        for m in re.finditer(rf"(?<![\w]){re.escape(name)}\s*\(", self.body):
            if self.depth[m.start()] != 0:
                continue
            params_end = self._match(m.end() - 1, "(", ")")
            brace = self._body_start(params_end)
            if brace is None:
                continue
            end = self._match(brace, "{", "}")
            start = self._decl_start(m.start())
            found.append(Piece("function", name, self.path, self._line_of(start), start,
                               self.keep[start:end]))
        return self._unique(found, "function", name)

    def find_struct(self, name: str) -> Piece:
        """The unique top-level ``struct name { ... };`` definition."""
        found = []
        for m in re.finditer(rf"(?<![\w])struct\s+{re.escape(name)}\s*\{{", self.body):
            if self.depth[m.start()] != 0:
                continue
            end = self._match(m.end() - 1, "{", "}")
            semi = self.body.find(";", end)
            if semi < 0:
                raise ExtractError(f"struct '{name}' in {self.path} has no closing ';'")
            start = m.start()
            found.append(Piece("struct", name, self.path, self._line_of(start), start,
                               self.keep[start : semi + 1]))
        return self._unique(found, "struct", name)

    def find_macro(self, name: str) -> Piece:
        """The unique ``#define name`` directive (all definitions must agree)."""
        pat = re.compile(rf"\s*#\s*define\s+{re.escape(name)}(?![\w])")
        found = []
        for start, end in self.directives:
            if pat.match(self.code, start):
                text = self.flat[start:end].strip()
                found.append(Piece("macro", name, self.path, self._line_of(start), start, text))
        return self._unique(found, "macro", name)
