"""Solver queries in forked processes, without giving up deterministic verdicts and unit counts.

A forked child starts from its parent's state, the Z3 context included, so what it
computes depends only on that state and on the budget it is given, never on what runs
beside it or when it finishes.  The budgets here are fixed before the children start.
"""

from __future__ import annotations

import functools
import gc
import os
import pickle
from collections.abc import Callable
from typing import Any

from properties.proofs.sym import Budget


def forked(calls: list[Callable[[], Any]], jobs: int) -> list[Any]:
    """Each call's result (picklable), in order; the calls run in child processes, at most ``jobs`` at once.

    A child that fails raises RuntimeError here, with what it raised.
    """
    # every child forks from the same state: a cyclic collection in this process between two forks
    # (set off by unpickling the results of whichever children ended first) would free Z3 terms,
    # and a child's new terms would get other AST ids, which Z3's search follows (a loopinv mutant
    # was refuted in one run and out of budget in the next)
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        out = _run(calls, jobs, enabled)
    finally:
        if enabled:
            gc.enable()
    return [out[i] for i in range(len(calls))]


def _run(calls: list[Callable[[], Any]], jobs: int, gc_enabled: bool) -> dict[int, Any]:
    """The results by call index; a child collects garbage again if this process did before."""
    running: dict[int, tuple[int, int]] = {}  # pid -> (call index, read end of its pipe)
    out: dict[int, Any] = {}
    todo = list(enumerate(calls))
    while todo or running:
        while todo and len(running) < jobs:
            i, call = todo.pop(0)
            rd, wr = os.pipe()
            pid = os.fork()
            if pid == 0:  # the child: its result down the pipe, then leave without any cleanup
                if gc_enabled:
                    gc.enable()
                os.close(rd)
                try:
                    res: Any = ("ok", call())
                except BaseException as e:  # noqa: BLE001  (the parent reports it)
                    res = ("error", repr(e))
                with os.fdopen(wr, "wb") as fh:
                    pickle.dump(res, fh)
                os._exit(0)
            os.close(wr)
            running[pid] = (i, rd)
        pid, _ = os.wait()
        if pid not in running:
            continue
        i, rd = running.pop(pid)
        with os.fdopen(rd, "rb") as fh:
            data = fh.read()
        kind, value = pickle.loads(data) if data else ("error", "the process ended without a result")
        if kind != "ok":
            raise RuntimeError(f"a forked query process failed: {value}")
        out[i] = value
    return out


def rounds(query: Callable[[str, Budget, int], str], items: list[str], budget: Budget, jobs: int) -> dict[str, str]:
    """``query(item, budget, share)`` for each item in order, each given a fair share of what is left.

    jobs == 1: one after the other in this process; item k may use ``remaining // (len - k)``
    (``share``), so what the early items leave goes to the later ones.  jobs > 1: in rounds
    of ``jobs`` forked processes; when a round starts, its k-th item is given what is left
    over the items left from it on (as if the round ran in order and its earlier items used
    nothing), capped so the round holds at most what is left; the round's units are charged
    when it ends.  Items past an exhausted budget are not run (absent from the result).
    """
    done: dict[str, str] = {}
    if jobs <= 1:
        for k, item in enumerate(items):
            if budget.exhausted():
                break
            done[item] = query(item, budget, len(items) - k)
        return done

    def child(item: str, units: int) -> tuple[str, int]:
        b = Budget(units)
        return query(item, b, 1), b.used

    for at in range(0, len(items), jobs):
        if budget.exhausted():
            break
        # as if the round's items ran one after the other and each left all it was given
        # unused: the k-th gets what is left over the items left from it on, capped so the
        # round never holds more than what is left
        left, units = budget.remaining(), list[int]()
        for k in range(min(jobs, len(items) - at)):
            units.append(min(left // (len(items) - at - k), left - sum(units)))
        batch = items[at:at + jobs]
        results = forked([functools.partial(child, i, u) for i, u in zip(batch, units, strict=True)], jobs)
        for item, (r, used) in zip(batch, results, strict=True):
            budget.charge(used)
            done[item] = r
    return done
