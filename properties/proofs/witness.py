"""From a REFUTED witness to a replayable counterexample file.

A witness is a bitmap plus hint state that the solver chose; nothing says a
sequence of kernel calls reaches it.  :func:`reproduce` searches for calls
that drive the real port (properties.harness.Harness, every check on) into
a state violating the SAME property, on the small configurations (the one whose
block size matches the witness first, then the others): seeded campaigns of tools.find in which every other
property is looked past, shrunk by delta debugging, written in the
"percpu litmus v1" format with the witness on a header line, and replayed
once more (litmus.run + judge) before it is returned.  When no seed reaches
it, the result says "unreachable (not found)" and keeps the witness, which is
then an open reachability question rather than a bug report.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from properties import litmus
from properties.harness import Variant
from properties.registry import CALL_PROPERTIES, PROPERTIES

# lemma properties that the harness judges under another name on a call's outcome
HARNESS_NAME = {
    "fit_found_if_one_exists": ("diff_alloc_failure_justified", "diff_new_chunk_justified"),
    "fit_start_leads_to_fit": ("diff_alloc_failure_justified", "diff_new_chunk_justified"),
}
PRESET_FOR_BITS = {16: "small16", 32: "small32", 64: "small64"}


@dataclass
class Reproduction:
    prop: str
    status: str  # "reproduced" or "unreachable (not found)"
    litmus: litmus.Litmus | None
    replay_ok: bool
    seconds: float
    seeds_tried: int


def witness_line(lemma: str, prop: str, w: dict[str, Any] | None) -> str:
    """The witness as one header value: lemma, property and the solver's concrete state."""
    return f"{lemma}/{prop} " + json.dumps(w or {}, separators=(",", ":"), sort_keys=True)


def reproduce(
    lemma: str, prop: str, w: dict[str, Any] | None, block_bits: int, variant: Variant | None = None,
    variant_name: str = "faithful", seeds: range = range(12), steps: int = 300,
) -> Reproduction:
    """Searches a call sequence on the port (``variant`` applied) that violates ``prop``; see module doc."""
    t0 = time.perf_counter()
    first = PRESET_FOR_BITS.get(block_bits, "small16")
    configs = [first] + [c for c in PRESET_FOR_BITS.values() if c != first]
    targets = set(HARNESS_NAME.get(prop, (prop,)))
    everything = frozenset(PROPERTIES) | frozenset(CALL_PROPERTIES)
    look_past = everything - targets
    from tools.find import campaign

    tried = 0
    for cfg, seed in ((c, s) for c in configs for s in seeds):
        tried += 1
        hits = campaign(cfg, [seed], steps, look_past, variant, verbose=False)
        hit = next(((p, v) for p, v in hits.items() if p in targets), None)
        if hit is None:
            continue
        hp, (seed, calls) = hit
        small = litmus.shrink(calls, cfg, hp, variant, ignore=look_past)
        lit = litmus.make(
            f"proof-{lemma}-{prop}-{variant_name}", cfg, small,
            f"properties.proofs witness of {lemma}/{prop}, tools.find seed {seed}, shrunk by ddmin",
            variant=variant_name, variant_fn=variant, ignore=look_past,
            extra={"Witness": witness_line(lemma, prop, w)},
        )
        again = litmus.run(lit.body, cfg, variant, ignore=look_past)
        ok, _ = litmus.judge(lit, again)
        ok = ok and again.first is not None and again.first[1].prop in targets
        return Reproduction(prop, "reproduced", lit, ok, round(time.perf_counter() - t0, 2), tried)
    return Reproduction(prop, "unreachable (not found)", None, False, round(time.perf_counter() - t0, 2), tried)
