"""Scale benchmark of the Z3 proofs: time per lemma against block size, and chunk lemmas against block count.

    python -m tools.bench_proofs [--budget 60] [--max-bits 1024] [--lemma NAME]...
    python -m tools.bench_proofs --calibrate
    python -m tools.bench_proofs --jobs-ratio block_hint_alloc

For each block-scope lemma, block sizes 8, 16, 32, ... up to --max-bits are tried
in order until one does not finish within the budget; for each chunk-scope lemma,
2, 3, 4 blocks of --chunk-block-bits.  Lemmas with a size-independent proof
(properties/proofs/parametric.py) then run it once, with the same budget; chunk lemmas
run it on 2, 3, 4 blocks of every size, with --param-budget, until one is not proved, and
chunk_refresh_hint then its loop-invariant proof (properties/proofs/loopinv.py) on 2, 3, 4, and
chunk_find_fit its proof by families of paths (properties/proofs/fitfamilies.py).
A size counts as decided when every property is PROVED or REFUTED (exploration
complete).  Prints one line per run and the largest decided size per lemma.  The budget is counted in Z3 resource units
(prove.UNITS_PER_S per "second"), so which sizes are decided does not depend on
the machine's load; the seconds printed beside them do.

``--calibrate`` runs lemmas that are decided quickly without a budget and prints
the Z3 units per second of wall-clock time this machine delivers on them (the
figure behind prove.UNITS_PER_S).

``--jobs-ratio NAME`` runs NAME's every-size proof in one process and then in
parametric.JOBS forked processes, in one run, and prints both times and their ratio
(the machine's load changes from minute to minute; the ratio is the figure to quote).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from properties.oneline_args import OneLineParser
from properties.proofs.allocfamilies import LEMMA as ALLOC_LEMMA
from properties.proofs.allocfamilies import prove_alloc
from properties.proofs.expected import EXPECTED
from properties.proofs.fitfamilies import LEMMA as FIT_LEMMA
from properties.proofs.fitfamilies import prove_fit
from properties.proofs.freefamilies import LEMMA as FREE_LEMMA
from properties.proofs.freefamilies import prove_free
from properties.proofs.lemmas import LEMMAS
from properties.proofs.loopinv import LEMMA as LOOP_LEMMA
from properties.proofs.loopinv import prove_loop
from properties.proofs.parametric import DEFAULT_LEMMAS, JOBS, PARAM_LEMMAS, prove_param
from properties.proofs.prove import PROVED, REFUTED, UNITS_PER_S, Row, prove

CALIBRATION = (("block_update", 32), ("block_update_scan", 32), ("block_find_fit", 16), ("block_refresh_hint", 16),
               ("block_hint_free", 8))


def decided(rows: list) -> bool:  # type: ignore[type-arg]
    return all(r.verdict in (PROVED, REFUTED) for r in rows)


def main(argv: list[str] | None = None) -> int:
    ap = OneLineParser(prog="python -m tools.bench_proofs")
    ap.add_argument("--budget", type=float, default=60.0, help="seconds per lemma and size")
    ap.add_argument("--max-bits", type=int, default=1024)
    ap.add_argument("--chunk-block-bits", type=int, default=8)
    ap.add_argument("--max-blocks", type=int, default=4)
    ap.add_argument("--lemma", action="append", default=[])
    ap.add_argument("--calibrate", action="store_true", help="measure Z3 units per second on this machine")
    ap.add_argument("--jobs-ratio", metavar="LEMMA", choices=list(PARAM_LEMMAS),
                    help="time an every-size proof in one process and in parametric.JOBS, in one run")
    ap.add_argument("--bounded-only", action="store_true", help="skip the every-size proofs (parametric.py)")
    ap.add_argument("--param-budget", type=float, default=600.0,
                    help="seconds per every-size chunk proof (2, 3, 4 blocks; its queries use more units per second)")
    try:
        args = ap.parse_args(argv)
    except SystemExit as e:
        return 2 if e.code else 0
    if args.calibrate:
        return calibrate()
    if args.jobs_ratio:
        return jobs_ratio(args.jobs_ratio, args.param_budget)
    names = args.lemma or list(LEMMAS)
    if any(n not in LEMMAS for n in names) or args.budget <= 0 or args.param_budget <= 0:
        print("bench_proofs: unknown lemma or bad budget", file=sys.stderr)
        return 2
    best: dict[str, str] = {}
    for name in names:
        lm = LEMMAS[name]
        if lm.scope == "block":
            sizes = [(b, 1) for b in (8, 16, 32, 64, 128, 256, 512, 1024) if b <= args.max_bits]
        else:
            sizes = [(args.chunk_block_bits, n) for n in range(2, args.max_blocks + 1)]
        best[name] = "none"
        for bb, nb in sizes:
            rows = prove(lm, bb, nb, budget_s=args.budget)
            ok = decided(rows)
            verdicts = sorted({r.verdict for r in rows})
            print(f"{name:<20} block_bits={bb:<5} blocks={nb}  {rows[0].seconds:7.1f} s  "
                  f"{rows[0].units / 1e6:6.1f}M units  "
                  f"paths={rows[0].bounds['paths']:<5} {'decided' if ok else 'NOT decided'} {','.join(verdicts)}",
                  flush=True)
            if not ok:
                break
            best[name] = f"{nb}x{bb} bits"
        if args.bounded_only or name not in PARAM_LEMMAS:
            continue
        if name in DEFAULT_LEMMAS:
            took = every_size(name, args.budget, None)
            best[name] += f"; every size in {took}" if took else ""
            continue
        for nb in range(2, args.max_blocks + 1):  # a chunk lemma: 2, 3, 4 blocks of every size
            took = every_size(name, args.param_budget, nb)
            if not took:
                break
            best[name] += f"; {nb} blocks of every size in {took}"
        if name in OTHER_PROOFS:  # the walk by its loop invariant, the fit search by families, hint_free with summaries
            how = OTHER_PROOFS[name][0]
            for nb in range(2, args.max_blocks + 1):
                took = by_other(name, args.param_budget, nb)
                if not took:
                    break
                best[name] += f"; {how}, {nb} blocks of every size in {took}"
    print("\nlargest size decided within the budget:")
    for name, b in best.items():
        print(f"  {name:<20} {b}")
    return 0


def every_size(name: str, budget_s: float, nb: int | None) -> str:
    """Runs the size-independent proof (on ``nb`` blocks for a chunk lemma) once, prints its line;
    returns its seconds when every row is PROVED (rows the bounded proofs refute excluded), else ""."""
    rows = prove_param(name, budget_s, blocks=nb, jobs=JOBS)
    ok = all(r.verdict == PROVED for r in rows if (name, r.prop) not in EXPECTED)
    return _report(name, rows, ok, f"every size, budget {budget_s:g} s; rows the bounded proofs refute excluded")


# the chunk lemmas with a proof of their own beside the unrolled one: how it is made, and the prover
OTHER_PROOFS: dict[str, tuple[str, Callable[..., list[Row]]]] = {
    LOOP_LEMMA: ("by a loop invariant", prove_loop),  # properties/proofs/loopinv.py
    FIT_LEMMA: ("by families of paths", prove_fit),  # properties/proofs/fitfamilies.py
    FREE_LEMMA: ("with proved summaries", prove_free),  # properties/proofs/freefamilies.py
    ALLOC_LEMMA: ("with proved summaries", prove_alloc),  # properties/proofs/allocfamilies.py
}


def by_other(name: str, budget_s: float, nb: int) -> str:
    """Lemma ``name`` on ``nb`` blocks of every size by its OTHER_PROOFS prover; its seconds if every row is proved."""
    how, prover = OTHER_PROOFS[name]
    every = prover(nb, budget_s, jobs=JOBS)  # with freefamilies, the summaries' own rows first
    rows = [r for r in every if r.lemma == name]
    # rows the proof itself leaves to the ledger, or no summary states, are not open
    ok = all(r.verdict == PROVED for r in every
             if (r.lemma, r.prop) not in EXPECTED and not r.note.startswith(("ledger ", "not claimed")))
    return _report(name, rows, ok, f"{how}, budget {budget_s:g} s")


def _report(name: str, rows: list[Row], ok: bool, how: str) -> str:
    """Prints one every-size run's line; returns its seconds if ``ok``, else ""."""
    r = rows[0]
    print(f"{name:<20} block_bits={r.bounds['block_bits']} blocks={r.bounds['blocks']}  {r.seconds:7.1f} s  "
          f"{r.units / 1e6:6.1f}M units  paths={r.bounds['paths']:<5} {'decided' if ok else 'NOT decided'} ({how})",
          flush=True)
    return f"{r.seconds:.1f} s" if ok else ""


def jobs_ratio(name: str, budget_s: float) -> int:
    """One process, then parametric.JOBS: seconds, units and verdicts of each, and the ratio of the times."""
    took = []
    for jobs in (1, JOBS):
        rows = prove_param(name, budget_s, jobs=jobs)
        proved = sum(r.verdict == PROVED for r in rows)
        took.append(rows[0].seconds)
        print(f"{name:<20} jobs={jobs}  {rows[0].seconds:7.1f} s  {rows[0].units / 1e6:6.1f}M units  "
              f"{proved} of {len(rows)} proved", flush=True)
    print(f"{name}: {took[0] / took[1]:.2f}x faster in {JOBS} processes (same machine, one run)")
    return 0


def calibrate() -> int:
    total_units, total_s = 0, 0.0
    for name, bb in CALIBRATION:
        rows = prove(name, bb, budget_s=1e6)
        total_units += rows[0].units
        total_s += rows[0].seconds
        print(f"{name:<20} block_bits={bb:<5} {rows[0].seconds:6.1f} s  {rows[0].units / 1e6:6.1f}M units  "
              f"{rows[0].units / rows[0].seconds / 1e6:5.2f}M units/s", flush=True)
    print(f"all: {total_units / total_s / 1e6:.2f}M units/s on this machine; prove.UNITS_PER_S = "
          f"{UNITS_PER_S / 1e6:.2f}M")
    return 0


if __name__ == "__main__":
    sys.exit(main())
