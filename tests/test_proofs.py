"""Z3 proofs on the port's own hint code: the symbolic layer is exact, and every lemma bites.

Fast (unit): the symbolic bitmap primitives and run-length terms agree with
the concrete Bitmap on every 8-bit map; the expected-refuted table names
ledger entries that exist.

Deep (one pytest id per lemma): ``test_lemma_on_port[NAME]`` proves NAME on
the faithful port and fails on a refutation outside the expected table;
``test_lemma_refutes_mutant[NAME]`` shows NAME REFUTED on a one-line mutant
of its function for a property the faithful port does not refute within the
same budget, and the witness yields a replayable counterexample file on the
real port.  Block sizes: BITS (4-bit blocks where 8 explode in paths).
"""

from __future__ import annotations

import itertools
import random

import pytest
import z3

from impl.bitmap import Bitmap, BitmapView, find_last_bit
from model.chunk import ModelChunk
from properties import litmus
from properties.proofs.expected import EXPECTED, TRIAGE, expectation
from properties.proofs.lemmas import LEMMAS
from properties.proofs.mutants import ALL, FOR_LEMMA
from properties.proofs.parametric import FORK_ON
from properties.proofs.prove import REFUTED, UNITS_PER_S, VACUOUS, prove
from properties.proofs.sym import SInt
from properties.proofs.symbitmap import Runs, SymBitmap, SymTruth, SymWindow
from properties.proofs.witness import reproduce

N = 8
# the hint_alloc / hint_free bodies and the chunk lemmas explore hundreds of paths: 4-bit blocks
BITS = {name: (N if name in ("block_update", "block_update_scan", "block_refresh_hint", "block_find_fit") else 4)
        for name in LEMMAS}
U = 4  # map width of the exhaustive unit checks (every map of U bits)
BUDGET_S = 90.0
# lemmas whose exploration does not finish at these sizes: a refutation must come from the explored part
SLOW = {"block_hint_alloc", "chunk_refresh_hint", "chunk_hint_alloc"}


def _budget(name: str) -> float:
    return 2 * BUDGET_S if name in SLOW else BUDGET_S


def _ev(x: object) -> int:
    e = x.e if isinstance(x, SInt) else x  # type: ignore[attr-defined]
    return z3.simplify(e).as_signed_long()  # type: ignore[no-any-return,union-attr]


@pytest.mark.unit
def test_symbolic_bitmap_matches_concrete_on_every_small_map() -> None:
    for v in range(1 << U):
        sb, cb = SymBitmap(U, z3.BitVecVal(v, U)), Bitmap(U, v)
        for size, off in itertools.product((3, 4), (0, 2, 4)):
            assert _ev(sb.find_next_bit(size, off)) == cb.find_next_bit(size, off), (v, size, off)
            assert _ev(sb.find_next_zero_bit(size, off)) == cb.find_next_zero_bit(size, off), (v, size, off)
        for size in (1, 3, 4):
            assert _ev(sb.find_last_bit(size)) == cb.find_last_bit(size), (v, size)
            # through BitmapView's own code, with a symbolic size
            got = find_last_bit(BitmapView(sb, 0), SInt(z3.BitVecVal(size, 32)))  # type: ignore[arg-type]
            assert _ev(got) == BitmapView(cb, 0).find_last_bit(size), (v, size)


@pytest.mark.unit
def test_run_lengths_match_the_model_on_every_small_map() -> None:
    for v in range(1 << U):
        sb = SymBitmap(U, z3.BitVecVal(v, U))
        runs = Runs(sb, 0, U)
        t = SymTruth(runs, "t")
        mc = ModelChunk(U, U, 0, U, bytearray((v >> i) & 1 for i in range(U)))
        truth = mc.truth(0, U)
        s = z3.Solver()
        s.add(t.defs)
        assert s.check() == z3.sat
        m = s.model()
        assert m.eval(t.largest.e).as_long() == truth.largest, v  # type: ignore[attr-defined]
        assert _ev(t.first_free) == truth.first_free and _ev(t.left_free) == truth.left_free, v
        assert _ev(t.right_free) == truth.right_free, v
        w = SymWindow(runs, 0, U, U)
        for st, ln in ((0, 3), (2, 2), (1, 2), (3, 1)):
            assert z3.is_true(z3.simplify(w.free(st, ln).e)) == mc.is_free(st, ln), (v, st, ln)


@pytest.mark.unit
def test_expected_refutations_name_existing_ledger_entries() -> None:
    for lemma, prop in EXPECTED:
        assert lemma in LEMMAS
        assert expectation(lemma, prop), (lemma, prop)


@pytest.mark.unit
def test_triage_rows_are_not_findings(monkeypatch: pytest.MonkeyPatch) -> None:
    """A refutation under triage has no ledger entry and is labelled as such, never as expected."""
    # a planted row besides the table's own shows the labelling works for any
    monkeypatch.setitem(TRIAGE, ("block_update", "inv_block_left_free"), "planted row")
    for lemma, prop in TRIAGE:
        assert lemma in LEMMAS and (lemma, prop) not in EXPECTED
        label = expectation(lemma, prop)
        assert label is not None and label.startswith("UNDER TRIAGE (no ledger entry)")
    assert expectation("block_update", "inv_block_contig_hint") is None  # anything else stays NEW


@pytest.mark.unit
def test_every_lemma_has_a_mutant_of_its_function() -> None:
    for name, lm in LEMMAS.items():
        m = ALL[FOR_LEMMA[name]]
        called = {lm.function, "pcpu_next_fit_region", "pcpu_block_update"}
        assert m.function in called, (name, m.function)
        m.build()  # the edited line still exists in the port


@pytest.mark.deep
@pytest.mark.parametrize("name", list(LEMMAS))
def test_lemma_on_port(name: str) -> None:
    rows = prove(name, BITS[name], budget_s=BUDGET_S)
    assert all(r.verdict != VACUOUS for r in rows), "assumptions unsatisfiable"
    bad = [r.prop for r in rows if r.verdict == REFUTED and not expectation(r.lemma, r.prop)]
    assert not bad, f"refuted without a ledger entry: {bad}"


@pytest.mark.deep
@pytest.mark.parametrize("name", list(LEMMAS))
def test_lemma_refutes_mutant(name: str) -> None:
    m = ALL[FOR_LEMMA[name]]
    faithful = {r.prop: r.verdict for r in prove(name, BITS[name], budget_s=_budget(name))}
    rows = prove(name, BITS[name], budget_s=_budget(name), variant=m.apply)
    # refuted on the mutant, not refuted on the faithful port within the same budget
    caught = [r for r in rows if r.verdict == REFUTED and faithful.get(r.prop) != REFUTED]
    assert caught, f"{m.name} not refuted: {[(r.prop, r.verdict) for r in rows]}"
    r = caught[0]
    assert r.witness is not None
    rep = reproduce(name, r.prop, r.witness, 16, m.apply, m.name)
    assert rep.status == "reproduced" and rep.litmus is not None, rep.status
    assert rep.replay_ok
    lit = litmus.parse(rep.litmus.text())
    assert lit.header["Witness"].startswith(f"{name}/{r.prop}")


@pytest.mark.unit
def test_merged_block_update_equals_the_concrete_call() -> None:
    """sym.merged: the If-terms of a merged pcpu_block_update give the concrete call's fields."""
    from impl.internal import MD_FIELDS
    from properties.proofs.lemmas import md_fields, md_ranges, percpu_for
    from properties.proofs.sym import explore, merged, sint

    bb = 8
    pcpu = percpu_for(bb)
    call = merged(pcpu.pcpu_block_update, MD_FIELDS)
    out: list = []

    def run() -> object:
        md = md_fields("b", bb)
        start, end = sint("start"), sint("end")
        call(md, start, end)
        return md, start, end

    s = z3.SolverFor("QF_BV")
    probe = md_fields("b", bb)
    s.add(md_ranges(probe))
    start0, end0 = z3.BitVec("start", 32), z3.BitVec("end", 32)
    s.add(start0 >= 0, start0 < end0, end0 <= bb)
    paths = explore(s, run, lambda end, _run: out.append(end.value))
    assert paths == 1 and len(out) == 1  # one path for the caller, however many inside
    md, start, end = out[0]
    hints = [f for f in MD_FIELDS if f != "nr_bits"]
    rng = random.Random(0)  # fixed seed: the same 400 inputs every run
    print("test_merged_block_update_equals_the_concrete_call: seed 0")
    for k in range(400):
        vals = {f: rng.randint(0, bb) for f in hints}
        a = rng.randint(0, bb - 1)
        b = rng.randint(a + 1, bb)
        sub = [(getattr(probe, f).e, z3.BitVecVal(v, 32)) for f, v in vals.items()]
        sub += [(start0, z3.BitVecVal(a, 32)), (end0, z3.BitVecVal(b, 32))]
        conc = md_fields("c", bb)
        for f, v in vals.items():
            setattr(conc, f, v)
        percpu_for(bb).pcpu_block_update(conc, a, b)
        got = {f: z3.simplify(z3.substitute(getattr(md, f).e, *sub)).as_signed_long() for f in hints}
        assert got == {f: getattr(conc, f) for f in hints}, (k, vals, a, b)


@pytest.mark.stateful
@pytest.mark.parametrize("fork_on", [(), FORK_ON])  # unkeyed (the bounded lemmas), keyed (parametric.py)
def test_two_merged_block_updates_equal_the_concrete_calls(fork_on: tuple[str, ...]) -> None:
    """sym.merged twice in a row (replayed paths reuse the first exploration of each call), with and
    without forking on the fields later code branches on: exactly one path holds for each input,
    and its fields are the concrete calls'.  Integer terms, ``_ffs`` uninterpreted (as parametric.py)."""
    from impl.bitmap import _ffs
    from impl.internal import MD_FIELDS
    from properties.proofs.abstractions import abstract_primitives
    from properties.proofs.lemmas import md_fields, md_ranges, percpu_for
    from properties.proofs.sym import explore, integer_terms, lift, merged, sint, var

    bb = 8
    ends: list = []
    with integer_terms(), abstract_primitives():
        call = merged(percpu_for(bb).pcpu_block_update, MD_FIELDS, fork_on=fork_on)

        def run() -> object:
            md = md_fields("b", bb)
            call(md, sint("s1"), sint("e1"))
            call(md, sint("s2"), sint("e2"))
            return md

        s = z3.SolverFor("QF_UFLIA")
        probe = md_fields("b", bb)
        s.add(md_ranges(probe))
        xs = {x: var(x) for x in ("s1", "e1", "s2", "e2")}
        s.add(xs["s1"] >= 0, xs["s1"] < xs["e1"], xs["e1"] <= bb, xs["s2"] >= 0, xs["s2"] < xs["e2"], xs["e2"] <= bb)
        paths = explore(s, run, lambda end, _run: ends.append((z3.And(*end.conds), end.value)))
    assert paths == len(ends) and (paths == 1) == (not fork_on)
    # the real __ffs on 1..bb, for the uninterpreted one
    x0 = z3.Var(0, z3.IntSort())
    ffs_body: z3.ArithRef = z3.IntVal(0)
    for v in range(1, bb + 1):
        ffs_body = z3.If(x0 == v, _ffs(v), ffs_body)
    ffs = z3.Function("ffs", z3.IntSort(), z3.IntSort())
    hints = [f for f in MD_FIELDS if f != "nr_bits"]
    rng = random.Random(1)  # fixed seed: the same 150 inputs every run
    print("test_two_merged_block_updates_equal_the_concrete_calls: seed 1")

    def value(t: z3.ExprRef, sub: list) -> z3.ExprRef:
        return z3.simplify(z3.substitute_funs(z3.substitute(t, *sub), (ffs, ffs_body)))

    for k in range(150):
        vals = {f: rng.randint(0, bb) for f in hints}
        (a1, b1), (a2, b2) = (sorted(rng.sample(range(bb + 1), 2)) for _ in range(2))
        sub = [(getattr(probe, f).e, z3.IntVal(v)) for f, v in vals.items()]
        sub += [(xs[x], z3.IntVal(v)) for x, v in zip(("s1", "e1", "s2", "e2"), (a1, b1, a2, b2), strict=True)]
        conc = md_fields("c", bb)
        for f, v in vals.items():
            setattr(conc, f, v)
        p = percpu_for(bb)
        p.pcpu_block_update(conc, a1, b1)
        p.pcpu_block_update(conc, a2, b2)
        taken = [md for c, md in ends if z3.is_true(value(c, sub))]
        assert len(taken) == 1, (k, vals, a1, b1, a2, b2)
        got = {f: value(lift(getattr(taken[0], f)), sub).as_long() for f in hints}
        assert got == {f: getattr(conc, f) for f in hints}, (k, vals, a1, b1, a2, b2)


@pytest.mark.unit
def test_merged_next_hint_equals_the_concrete_call() -> None:
    """sym.merged_value: the If-term of a merged pcpu_next_hint gives the concrete call's result."""
    from properties.proofs.lemmas import md_fields, md_ranges, percpu_for
    from properties.proofs.sym import explore, merged_value, sint

    bb = 8
    call = merged_value(percpu_for(bb).pcpu_next_hint)
    out: list = []
    s = z3.SolverFor("QF_BV")
    probe = md_fields("b", bb)
    s.add(md_ranges(probe))
    paths = explore(s, lambda: call(md_fields("b", bb), sint("alloc_bits")), lambda end, _run: out.append(end.value))
    assert paths == 1 and len(out) == 1  # one path for the caller, four inside
    hints = ["scan_hint", "scan_hint_start", "contig_hint", "contig_hint_start", "first_free"]
    rng = random.Random(0)  # fixed seed: the same 400 inputs every run
    print("test_merged_next_hint_equals_the_concrete_call: seed 0")
    for k in range(400):
        vals = {f: rng.randint(0, bb) for f in hints}
        bits = rng.randint(1, bb)
        sub = [(getattr(probe, f).e, z3.BitVecVal(v, 32)) for f, v in vals.items()]
        sub.append((z3.BitVec("alloc_bits", 32), z3.BitVecVal(bits, 32)))
        conc = md_fields("c", bb)
        for f, v in vals.items():
            setattr(conc, f, v)
        want = percpu_for(bb).pcpu_next_hint(conc, bits)
        assert z3.simplify(z3.substitute(out[0].e, *sub)).as_signed_long() == want, (k, vals, bits)


@pytest.mark.stateful
def test_budget_is_counted_in_solver_units_not_seconds() -> None:
    """Two runs of one lemma use the same number of Z3 resource units and give the same verdicts."""
    a, b = (prove("block_update", 8, budget_s=60) for _ in range(2))
    assert [r.verdict for r in a] == [r.verdict for r in b]
    assert a[0].units == b[0].units > 0
    assert {r.verdict for r in a} == {"PROVED", "REFUTED"}  # decided well inside the budget


@pytest.mark.stateful
def test_a_budget_too_small_gives_unknown_never_a_proof() -> None:
    rows = prove("block_hint_free", 8, budget_s=0.5)
    assert {r.verdict for r in rows} == {"UNKNOWN"}
    assert all("Z3 units" in r.note for r in rows)
    assert rows[0].units >= int(0.7 * 0.5 * UNITS_PER_S)  # the exploration's share was used up, not the clock


PARAM_CASES = [  # (lemma, a property its mutant (mutants.FOR_LEMMA) breaks, tier)
    pytest.param("block_update", "inv_block_left_free", marks=pytest.mark.stateful),
    pytest.param("block_update_scan", "inv_block_contig_hint", marks=pytest.mark.stateful),
    pytest.param("block_hint_free", "inv_block_contig_hint", marks=pytest.mark.stateful),
    pytest.param("block_find_fit", "fit_start_leads_to_fit", marks=pytest.mark.stateful),
    pytest.param("block_refresh_hint", "inv_block_contig_hint", marks=pytest.mark.deep),
    pytest.param("block_hint_alloc", "inv_block_left_free", marks=pytest.mark.deep),
]


@pytest.mark.parametrize(("name", "prop"), PARAM_CASES)
def test_parametric_proof_holds_on_the_port_and_fails_on_a_mutant(name: str, prop: str) -> None:
    """The port keeps ``prop`` for every block size; the lemma's one-line mutant is not proved."""
    from properties.proofs.parametric import NOT_PROVED, PARAM_LEMMAS, PROVED, prove_param

    faithful = prove_param(name, 300, props=[prop])
    assert [r.verdict for r in faithful] == [PROVED]
    assert faithful[0].bounds["block_bits"] == PARAM_LEMMAS[name].sizes
    mutated = prove_param(name, 300, variant=ALL[FOR_LEMMA[name]].apply, props=[prop])
    assert [r.verdict for r in mutated] == [NOT_PROVED] and "model" in mutated[0].note


@pytest.mark.deep
def test_parametric_chunk_fit_holds_on_the_port_and_fails_on_a_mutant() -> None:
    """Across two blocks of every size the search finds a fit where one exists; a strict fit test does not."""
    from properties.proofs.mutants import PARAM_FOR_LEMMA
    from properties.proofs.parametric import NOT_PROVED, PROVED, prove_param

    mutant, prop = PARAM_FOR_LEMMA["chunk_find_fit"]
    faithful = prove_param("chunk_find_fit", 300, props=[prop])
    assert [r.verdict for r in faithful] == [PROVED] and faithful[0].bounds["blocks"] == 2
    mutated = prove_param("chunk_find_fit", 300, variant=ALL[mutant].apply, props=[prop])
    assert [r.verdict for r in mutated] == [NOT_PROVED] and "model" in mutated[0].note


@pytest.mark.deep
def test_parametric_chunk_fit_both_rows_on_two_blocks_within_make_proofs_chunk_budget() -> None:
    """Both fit rows on two blocks of every size, as make proofs-chunk runs them (300 s, about 45 s).

    Guards the pass-1 order: with fit_start_leads_to_fit queried first it ran out in both
    passes (NOT PROVED at 390M units)."""
    from properties.proofs.parametric import PROVED, prove_param

    rows = prove_param("chunk_find_fit", 300)
    assert {r.prop: r.verdict for r in rows} == {"fit_start_leads_to_fit": PROVED, "fit_found_if_one_exists": PROVED}


@pytest.mark.deep
def test_parametric_chunk_fit_found_on_four_blocks_of_every_size() -> None:
    """The chunk-level scale goal's row: fit_found_if_one_exists over four blocks of every size
    (about 90 s, 1385 paths), unrolled in one process; make proofs-chunk proves it by families of
    paths instead (properties/proofs/fitfamilies.py, tests/test_proofs_fit.py)."""
    from properties.proofs.parametric import PROVED, prove_param

    rows = prove_param("chunk_find_fit", 450, props=["fit_found_if_one_exists"], blocks=4)
    assert [r.verdict for r in rows] == [PROVED]
    assert rows[0].bounds["blocks"] == 4 and str(rows[0].bounds["block_bits"]).startswith("2^k")


@pytest.mark.stateful
def test_parametric_vacuity_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Contradictory assumptions give VACUOUS, never PROVED."""
    from properties.proofs import parametric

    lm = parametric.PARAM_LEMMAS["block_update"]

    def contradictory(n, terms):  # type: ignore[no-untyped-def]
        inst = lm.setup(n, terms)
        inst.assume.append(n < 0)
        return inst

    monkeypatch.setitem(parametric.PARAM_LEMMAS, "block_update",
                        parametric.ParamLemma(lm.name, lm.function, contradictory, lm.sizes))
    rows = parametric.prove_param("block_update", 60, props=["inv_block_left_free"])
    assert [r.verdict for r in rows] == [VACUOUS] and rows[0].note == "assumptions unsatisfiable"


@pytest.mark.unit
def test_parametric_cli_bad_input_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    from properties.proofs.parametric import main

    assert main(["--prop", "inv_no_such"]) == 2
    assert main(["--budget", "0"]) == 2
    assert main(["--lemma", "no_such_lemma"]) == 2
    assert main(["--lemma", "chunk_find_fit", "--blocks", "5"]) == 2
    assert main(["--lemma", "chunk_find_fit", "--block-bits", "48"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 5 and "unknown property" in err and "unknown lemma" in err
    assert "--blocks must be 2..4" in err and "--block-bits must be a power of two" in err
