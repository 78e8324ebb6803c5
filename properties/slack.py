"""The one place that says when the kernel may miss a fit that exists.

A miss is the port failing to place a request in a chunk although the model
knows an aligned free area for it there.  It is allowed only for the reasons
below, each taken from what mm/percpu.c itself says (in our words):

- ``no-fit``: the model knows no aligned free area: nothing to miss.
- ``isolated``: mm/percpu.c pcpu_reclaim_populated(): chunks on the
  to_depopulate list cannot be found by allocations.
- ``fail-threshold``: mm/percpu.c PCPU_SLOT_FAIL_THRESHOLD and
  pcpu_alloc_noprof(): a chunk in a slot below 3 that fails a fit is moved
  to slot 0, where requests of larger size classes no longer look.
- ``page-and-alignment``: the comment above pcpu_block_update_hint_free()
  says the chunk's contig_hint may be short by up to a page, and the
  comment above pcpu_find_block_fit() says poor alignment can make the
  search skip areas that would fit.  So the kernel promises a fit only when
  some free run can hold the request with any alignment padding and a whole
  block to spare: length >= units + (align_units - 1) + block_units.
"""

from __future__ import annotations

from model.chunk import ModelChunk

SLACK_REASONS = ("no-fit", "isolated", "fail-threshold", "page-and-alignment")


def guaranteed_run_units(units: int, align_units: int, block_units: int) -> int:
    """The free run length from which the kernel promises to find the fit."""
    return units + (align_units - 1) + block_units


def miss_allowed(
    mc: ModelChunk,
    units: int,
    align_units: int,
    *,
    populated_only: int | None = None,
    isolated: bool = False,
    demoted: bool = False,
) -> tuple[bool, str]:
    """Whether missing every fit of the request in this chunk is allowed, and why.

    ``populated_only`` is the populated page bitmap for atomic requests:
    units on pages not populated cannot be used.  ``demoted`` says the chunk
    sits in slot 0 below the request's size class after a failed fit.
    """
    view = mc
    if populated_only is not None:
        view = _populated_view(mc, populated_only)
    fits = view.fits(units, align_units)
    if not fits:
        return True, "no-fit"
    if isolated:
        return True, "isolated"
    if demoted:
        return True, "fail-threshold"
    need = guaranteed_run_units(units, align_units, mc.block_bits)
    longest = max((r.length for r in view.runs()), default=0)
    if longest < need:
        return True, "page-and-alignment"
    return False, (f"a free run of {longest} units >= {need} needed for {units} units at alignment {align_units}; "
                   f"first fit at unit {fits[0]}")


def _populated_view(mc: ModelChunk, populated: int) -> ModelChunk:
    """A copy of ``mc`` where units on unpopulated pages count as used."""
    used = bytearray(mc.used)
    bb = mc.block_bits
    for page in range(len(used) // bb):
        if not (populated >> page) & 1:
            used[page * bb : (page + 1) * bb] = b"\x01" * bb
    return ModelChunk(mc.nbits, bb, mc.region_start, mc.region_end, used)
