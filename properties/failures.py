"""Turning any failing call sequence into a shrunk counterexample file on disk.

One writer for every search that finds a failure: the Hypothesis machine
(:func:`run_machine`), seeded campaigns, patch validation and the Z3 layer.
The Z3 layer calls :func:`write_failure` with the call lines it derived::

    from properties.failures import write_failure
    path = write_failure(body, "small16", origin="z3 lemma L3 witness")

The body is shrunk by :func:`properties.litmus.shrink` (delta debugging over
lines) while the same property stays the first violation, written with a
``Result:`` line that is what replaying it gives now, and named after the
property, configuration and a digest of the body, so the same failure found
twice lands in the same file.  Files go to ``failures/`` (gitignored) unless
told otherwise; promote one to ``corpus/`` by copying it.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from properties import litmus
from properties.configs import parse_config
from properties.harness import Variant

FAILURES_DIR = Path("failures")


def write_atomically(path: Path, text: str) -> None:
    """Writes ``text`` to ``path`` via a temporary file and a rename: never half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_failure(
    body: list[str],
    cfg_text: str,
    prop: str | None = None,
    *,
    variant: Variant | None = None,
    variant_label: str = "faithful",
    origin: str = "",
    ignore: frozenset[str] = frozenset(),
    out_dir: Path | str = FAILURES_DIR,
    name: str | None = None,
    shrink: bool = True,
    shrink_budget_s: float | None = None,
) -> Path:
    """Shrinks ``body`` and writes it as a counterexample file; returns its path.

    ``prop`` is the property the body must keep violating first; when None it
    is whatever replaying ``body`` violates first (properties in ``ignore``
    never count).  Raises ValueError if the body violates nothing.
    """
    body = litmus.drop_dangling(list(body))
    first = litmus.run(body, cfg_text, variant, stop_at_first=True, ignore=ignore).first
    if first is None:
        raise ValueError(f"the {len(body)} calls violate no property on {cfg_text!r}")
    if prop is None:
        prop = first[1].prop
    if shrink:
        small = litmus.shrink(body, cfg_text, prop, variant, ignore=ignore, budget_s=shrink_budget_s)
    else:
        small = litmus.renumber(body)
    digest = hashlib.sha1("\n".join([cfg_text, variant_label, *small]).encode()).hexdigest()[:8]
    stem = name or f"{prop}-{cfg_text.split()[0]}-{digest}"
    how = f"{len(body)} calls shrunk by ddmin to {len(small)}" if shrink else f"{len(small)} calls"
    if shrink and shrink_budget_s is not None:
        how += f" (shrinking budget {shrink_budget_s:g} s)"
    origin = f"{origin}; {how}" if origin else how
    lit = litmus.make(stem, cfg_text, small, origin, variant_label, variant, ignore=ignore)
    path = Path(out_dir) / f"{stem}.litmus"
    write_atomically(path, lit.text())
    return path


@dataclass
class MachineOutcome:
    """What one Hypothesis run found: None, or the violated property and its file."""

    config: str
    examples: int
    prop: str | None = None
    message: str = ""
    file: Path | None = None
    calls: list[str] | None = None  # the minimal failing program, as file lines


def run_machine(
    cfg_text: str,
    *,
    variant: Variant | None = None,
    variant_label: str = "faithful",
    tolerated: frozenset[str] = frozenset(),
    examples: int = 30,
    steps: int = 40,
    seed: int = 0,
    out_dir: Path | str | None = FAILURES_DIR,
    hypothesis_shrink: bool = True,
) -> MachineOutcome:
    """Runs the state machine; a failure is written out with :func:`write_failure`.

    Hypothesis shrinks the failing program and replays the minimal one last;
    the machine keeps the harness calls of every run that failed, so the
    last one recorded is that minimal program.  ``seed`` picks Hypothesis'
    random stream (``derandomize`` with seed 0, else ``hypothesis.seed``).
    Without ``hypothesis_shrink`` the first failing program is kept and only
    delta debugging shrinks it (much faster on long programs).
    """
    from hypothesis import seed as hyp_seed

    from properties.machine import make_machine

    machine: Any = make_machine(parse_config(cfg_text), variant, tolerated, name=f"PercpuMachine_{cfg_text.split()[0]}")
    if seed:
        machine = hyp_seed(seed)(machine)
    out = MachineOutcome(cfg_text, examples)
    try:
        run_state_machine_as_test(
            machine,
            settings=settings(
                max_examples=examples, stateful_step_count=steps, derandomize=seed == 0, database=None,
                deadline=None, suppress_health_check=list(HealthCheck), print_blob=False,
                phases=list(Phase) if hypothesis_shrink else [Phase.explicit, Phase.generate],
            ),
        )
    except AssertionError as e:
        out.message = str(e).splitlines()[0]
        out.prop = out.message.split(" @")[0].strip()
        calls = out.calls = list(machine.last_failure_calls)
        if out_dir is not None and calls:
            out.file = write_failure(
                calls, cfg_text, out.prop, variant=variant, variant_label=variant_label,
                origin=f"Hypothesis state machine, seed {seed}", ignore=tolerated, out_dir=out_dir,
            )
    return out
