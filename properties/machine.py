"""The Hypothesis state machine: rules named after the kernel's entry points.

A failing run prints a program such as::

    state = PercpuMachine()
    h0 = state.pcpu_alloc(size=68, align=64, reserved=False, atomic=False)
    state.free_percpu(handle=h0)

which reads as a kernel call sequence.  Each rule calls the same
:class:`~properties.harness.Harness` that replays counterexample files.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
)

from impl.boot import PcpuConfig
from properties.harness import Harness, Variant
from properties.litmus import CRASH, call_deadline


def sizes_for(cfg: PcpuConfig) -> st.SearchStrategy[int]:
    """Request sizes that reach block edges, whole blocks and multi-block areas."""
    ps = cfg.page_size
    edge = st.sampled_from([ps - 4, ps, ps + 4, 2 * ps, 2 * ps - 4, ps // 2])
    small = st.integers(1, 16).map(lambda n: 4 * n)
    odd = st.integers(1, 3 * ps)
    return st.one_of(small, small, edge, odd)


def aligns_for(cfg: PcpuConfig) -> st.SearchStrategy[int]:
    """Alignments from 4 bytes up to a page."""
    top = cfg.page_size.bit_length() - 1
    return st.integers(2, top).map(lambda k: 1 << k) | st.just(4)


def make_machine(
    cfg: PcpuConfig,
    variant: Variant | None = None,
    tolerated: frozenset[str] = frozenset(),
    name: str = "PercpuMachine",
    implementation: str = "bitmap",
) -> type[RuleBasedStateMachine]:
    """A state machine class for one configuration (and optionally a mutant).

    ``tolerated`` names properties with a recorded ledger finding: their
    violations are counted but do not stop the run, so the machine keeps
    looking for anything new.  ``implementation`` picks the allocator
    (properties/implementations.py).
    """

    class PercpuMachine(RuleBasedStateMachine):
        handles = Bundle("handles")
        # the harness calls of the latest run that failed (Hypothesis replays the minimal one last);
        # properties.failures.run_machine writes them out as a counterexample file
        last_failure_calls: list[str] = []

        def __init__(self) -> None:
            super().__init__()
            self.h: Harness | None = None

        def _call(self, fn: Any, *args: Any) -> Any:
            """Runs one harness call under the deadline; a call that raises or hangs fails the run."""
            assert self.h is not None
            try:
                with call_deadline():
                    return fn(*args)
            except Exception as e:
                type(self).last_failure_calls = list(self.h.ops)
                raise AssertionError(f"{CRASH} @ step {self.h.step}: {type(e).__name__}: {e}") from None

        @initialize()
        def boot(self) -> None:
            self.h = Harness(cfg, variant, implementation=implementation)
            self._raise_new()

        def _raise_new(self) -> None:
            assert self.h is not None
            bad = [v for v in self.h.violations if v.prop not in tolerated]
            if bad:
                type(self).last_failure_calls = list(self.h.ops)
                from impl.stats import percpu_stats_show

                lines = [v.line() for v in bad[:5]] + ["", "percpu_stats now:", percpu_stats_show(self.h.pcpu)]
                raise AssertionError("\n".join(lines))

        @rule(target=handles, size=sizes_for(cfg), align=aligns_for(cfg), reserved=st.booleans(), atomic=st.booleans())
        def pcpu_alloc(self, size: int, align: int, reserved: bool, atomic: bool) -> object:
            assert self.h is not None
            handle = self._call(self.h.pcpu_alloc, size, align, reserved and cfg.reserved_size > 0, atomic)
            self._raise_new()
            return multiple() if handle is None else handle

        @rule(handle=consumes(handles))
        def free_percpu(self, handle: int) -> None:
            assert self.h is not None
            self._call(self.h.free_percpu, handle)
            self._raise_new()

        @rule()
        def pcpu_balance_workfn(self) -> None:
            assert self.h is not None
            self._call(self.h.pcpu_balance_workfn)
            self._raise_new()

        @precondition(lambda self: self.h is not None and cfg.backend == "vm")
        @rule(n=st.integers(1, 8))
        def inject_page_failures(self, n: int) -> None:
            assert self.h is not None
            self.h.inject_page_failures(n)

        @rule(n=st.integers(1, 2))
        def inject_chunk_failures(self, n: int) -> None:
            assert self.h is not None
            self.h.inject_chunk_failures(n)

        @invariant()
        def no_new_violation(self) -> None:
            if self.h is not None:
                self._raise_new()

    PercpuMachine.__name__ = name
    PercpuMachine.__qualname__ = name
    return PercpuMachine
