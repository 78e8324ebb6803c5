"""Which allocator the harness drives, and which properties apply to it.

The model only judges allowed outcomes (the ``diff_*`` call properties and
the bookkeeping every allocator keeps); the hint properties are specific to
each allocator's metadata.  A profile names the boot function, the property
sets, the miss slack and the state flags for one implementation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from impl.boot import PcpuConfig, boot
from properties import areamap_checks, bookkeeping, stats  # noqa: F401  (bookkeeping and stats register properties)
from properties.registry import Property, by_scope
from properties.slack import miss_allowed


@dataclass(frozen=True)
class Implementation:
    name: str
    boot: Callable[[PcpuConfig], Any]
    block_props: list[Property]
    chunk_props: list[Property]
    state_props: list[Property]
    miss_allowed: Callable[..., tuple[bool, str]]
    snapshot: Callable[[list[Any]], dict[int, Any]] | None = None
    signature_extra: Callable[[Any], tuple[Any, ...]] | None = None
    state_flags: Callable[[Any, Any], tuple[str, ...]] | None = None
    skipped: list[str] = field(default_factory=list)
    # checked when a chunk holds few live areas or after balance work (properties/stats.py)
    stats_props: list[Property] = field(default_factory=list)
    # errors only an injected failure explains; errors after which no miss is judged
    injected_errors: tuple[str, ...] = ("failed to populate", "failed to allocate new chunk")
    unjudged_errors: tuple[str, ...] = ("failed to populate",)

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        """Pickled by name (a harness checkpoint of the trace replay): the profile holds lambdas."""
        return implementation, (self.name,)

    def property_names(self) -> list[str]:
        return [p.name for p in self.block_props + self.chunk_props + self.state_props]


def _bitmap() -> Implementation:
    return Implementation(
        "bitmap", boot, by_scope("block"), by_scope("chunk"), by_scope("chunk_state"),
        lambda mc, u, a, spare_entries=None, **kw: miss_allowed(mc, u, a, **kw),
        stats_props=by_scope("chunk_stats"),
    )


BITMAP_ONLY_STATE = ("inv_alloc_map", "inv_bound_map", "inv_chunk_slot")
EXTEND_ERRORS = ("failed to extend area map", "failed to extend area map of reserved chunk")


def _areamap() -> Implementation:
    from impl_areamap.percpu import boot_areamap

    state = [p for p in by_scope("chunk_state") if p.name not in BITMAP_ONLY_STATE]
    state += list(areamap_checks.AREAMAP_PROPERTIES.values())
    hint_props = by_scope("block") + by_scope("chunk") + by_scope("chunk_stats")
    skipped = [p.name for p in hint_props] + list(BITMAP_ONLY_STATE)
    return Implementation(
        "areamap", boot_areamap, [], [], state, areamap_checks.miss_allowed,
        snapshot=areamap_checks.snapshot,
        signature_extra=lambda c: (c.map_alloc, c.map_used, c.contig_hint, c.first_free),
        state_flags=areamap_checks.state_flags,
        skipped=skipped,
        injected_errors=("failed to populate", "failed to allocate new chunk", *EXTEND_ERRORS),
        unjudged_errors=("failed to populate", *EXTEND_ERRORS),
    )


_FACTORIES = {"bitmap": _bitmap, "areamap": _areamap}
IMPLEMENTATIONS = tuple(_FACTORIES)
_CACHE: dict[str, Implementation] = {}


def implementation(name: str) -> Implementation:
    """The profile called ``name`` (``bitmap`` = impl/, ``areamap`` = impl_areamap/)."""
    if name not in _FACTORIES:
        raise ValueError(f"unknown implementation {name!r}; known: {', '.join(IMPLEMENTATIONS)}")
    if name not in _CACHE:
        _CACHE[name] = _FACTORIES[name]()
    return _CACHE[name]
