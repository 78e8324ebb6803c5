"""Named properties: what each checks, how strongly the kernel promises it.

Every property is a function ``inv_*`` (structural, over a state) or
``diff_*`` (differential, over one call's outcome).  Its docstring's first
line says which kernel statement it formalizes.  ``kind`` says how the
kernel promises it:

- EXACT: the field must equal the value recomputed from the bitmap;
- UPPER: the field must never exceed the truth (and what it points at must
  really be free);
- LOWER: the field may lag the truth by at most a documented amount.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

EXACT = "exact"
UPPER = "upper bound"
LOWER = "lower bound"
OUTCOME = "allowed outcome"


@dataclass(frozen=True)
class Property:
    name: str
    kind: str
    scope: str  # "block", "chunk", "system" or "call"
    fn: Callable[..., Any]

    @property
    def statement(self) -> str:
        doc = (self.fn.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else ""


@dataclass
class Violation:
    """One property failing at one place, with both sides of the comparison."""

    prop: str
    where: str
    expected: object
    actual: object
    detail: str = ""

    def line(self) -> str:
        s = f"{self.prop} @ {self.where}: expected {self.expected}, got {self.actual}"
        return s + (f" ({self.detail})" if self.detail else "")


PROPERTIES: dict[str, Property] = {}


def prop(kind: str, scope: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Registers a property function under its own name."""

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        PROPERTIES[fn.__name__] = Property(fn.__name__, kind, scope, fn)
        return fn

    return deco


def by_scope(scope: str) -> list[Property]:
    return [p for p in PROPERTIES.values() if p.scope == scope]


# properties judged on a call's outcome in properties/harness.py (not registered functions)
CALL_PROPERTIES = [
    "diff_alloc_area_allowed", "diff_alloc_chunk_kind", "diff_atomic_populated", "diff_area_populated",
    "diff_alloc_failure_justified", "diff_new_chunk_justified", "diff_free_size",
    "diff_illegal_request_refused", "diff_destroy_empty_only", "diff_chunk_known", "inv_first_chunk_geometry",
    # properties/memory.py (per-CPU memory) and the harness's robustness outcomes
    "inv_area_in_cpu_unit", "inv_no_overlap_any_cpu", "inv_area_on_populated_pages", "inv_populated_is_mapped",
    "diff_zero_on_return", "inv_percpu_memory", "inv_addr_search_owner", "diff_port_exception", "diff_free_live_start",
    "diff_alloc_not_to_depopulate", "inv_spare_free_chunks", "inv_ptr_to_phys",
    "diff_call_returns",  # properties/litmus.py: a call that raises (a patched port) never returns
]
