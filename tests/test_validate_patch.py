"""validate-patch, the failure writer and the SVG picture: bad input, report, end-to-end runs (deep)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from properties import litmus
from properties.failures import run_machine, write_failure
from properties.mutants import MUTANTS, TOLERATED
from tools.battery import BatteryResult, CorpusResult, PropertyResult
from tools.cli import main
from tools.report import build_report, verdict
from tools.svg import WRONG

ROOT = Path(__file__).resolve().parent.parent
HINTS = (ROOT / "impl" / "hints.py").read_text().splitlines()


def _hunk(line_no: int, old: str, new: str, path: str = "impl/hints.py") -> str:
    """A one-line-change diff at 1-based ``line_no`` with one line of context each side."""
    return (f"--- a/{path}\n+++ b/{path}\n@@ -{line_no - 1},3 +{line_no - 1},3 @@\n"
            f" {HINTS[line_no - 2]}\n-{old}\n+{new}\n {HINTS[line_no]}\n")


_LINE = next(i for i, s in enumerate(HINTS, 1) if s.strip() == "block.right_free = 0")

BAD_PATCHES: dict[str, tuple[str, str, str]] = {
    # kind: (file name, content, a word the one-line error must contain)
    "empty": ("empty.patch", "", "empty patch"),
    "binary": ("bin.patch", "\x00\x01diff", "not a text file"),
    "neither-diff-nor-module": ("notes.txt", "please apply my idea\n", "neither a unified diff"),
    "outside-impl": ("out.patch", "--- a/properties/slack.py\n+++ b/properties/slack.py\n@@ -1,1 +1,1 @@\n-a\n+b\n",
                     "only files under impl/"),
    "no-such-file": ("nofile.patch", "--- a/impl/nope.py\n+++ b/impl/nope.py\n@@ -1,1 +1,1 @@\n-a\n+b\n",
                     "no such file"),
    "malformed-hunk": ("hunk.patch", "--- a/impl/hints.py\n+++ b/impl/hints.py\n@@ garbage @@\n-a\n+b\n",
                       "malformed hunk header"),
    "no-hunk": ("nohunk.patch", "--- a/impl/hints.py\n+++ b/impl/hints.py\n", "no @@ hunk"),
    "hunk-does-not-apply": ("stale.patch", _hunk(_LINE, "        block.right_free = 99", "        pass"),
                            "hunk #1 of impl/hints.py"),
    "patched-does-not-import": ("syntax.patch", _hunk(_LINE, HINTS[_LINE - 1], "        block.right_free = = 0"),
                                "does not import: impl/hints.py"),
    "module-syntax-error": ("syn.py", "def pcpu_block_update(self, block, start, end)\n    pass\n",
                            "SyntaxError"),
    "module-raises-on-import": ("raise.py", "import impl.no_such_module\n", "does not import"),
    "module-unknown-symbol": ("unk.py", "def f(self):\n    pass\nREPLACES = {'pcpu_frobnicate': f}\n",
                              "pcpu_frobnicate is not a function of the port"),
    "module-wrong-signature": ("sig.py", "def pcpu_block_update(self, block, start):\n    pass\n",
                               "takes 3 parameters"),
    "module-replaces-nothing": ("nothing.py", "X = 1\n", "defines none of the port's functions"),
    "missing-file": ("", "", "cannot read"),
}


@pytest.mark.unit
@pytest.mark.parametrize("kind", sorted(BAD_PATCHES))
def test_unusable_patch_gets_one_line_and_status_2(kind: str, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    name, content, words = BAD_PATCHES[kind]
    p = tmp_path / (name or "missing.patch")
    if name:
        p.write_bytes(content.encode())
    assert main(["validate-patch", str(p), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("pcpu-verify:"), err
    assert words in err, err
    assert not (tmp_path / "out").exists()  # nothing half-written


@pytest.mark.unit
def test_bad_budget_and_bad_replay_variant(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = str(ROOT / "variants" / "good" / "comment-only.patch")
    assert main(["validate-patch", good, "--seeds", "x-y"]) == 2
    assert main(["validate-patch", good, "--steps", "0"]) == 2
    f2 = str(ROOT / "corpus" / "F2-chunk-contig-stale-after-free.litmus")
    assert main(["replay", f2, "--variant", str(tmp_path / "none.patch")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 3 and all(e.startswith("pcpu-verify:") for e in err)


# ------------------------------------------------------------------ pictures
@pytest.mark.unit
def test_show_writes_an_svg_that_marks_the_wrong_hint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f3 = ROOT / "corpus" / "F3-right-free-lost-on-scan-hint-promotion.litmus"
    svg = tmp_path / "f3.svg"
    assert main(["replay", str(f3), "--show", "7", "--svg", str(svg)]) == 0
    assert f"picture: {svg}" in capsys.readouterr().out
    root = ET.parse(svg).getroot()
    texts = ["".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text")]
    wrong = [t for t in texts if "true" in t]
    assert "right_free 0  true 5" in wrong, wrong
    assert any(e.get("fill") == WRONG for e in root.iter("{http://www.w3.org/2000/svg}text"))


@pytest.mark.unit
def test_show_on_an_agreeing_state_marks_nothing_wrong(tmp_path: Path) -> None:
    a1 = ROOT / "corpus" / "A1-fresh-chunk-fill-and-free.litmus"
    svg = tmp_path / "a1.svg"
    assert main(["replay", str(a1), "--show", "0", "--svg", str(svg)]) == 0
    root = ET.parse(svg).getroot()
    lanes = [e for e in root.iter("{http://www.w3.org/2000/svg}text") if e.get("fill") == WRONG]
    assert not lanes


# ------------------------------------------------------------ failure writer
@pytest.mark.unit
def test_write_failure_shrinks_and_the_file_replays(tmp_path: Path) -> None:
    lit = litmus.load(ROOT / "corpus" / "F2-chunk-contig-stale-after-free.litmus")
    padded = ["x0 = pcpu_alloc(size=8, align=4, reserved=0, atomic=0)", "free_percpu(x0)",
              "pcpu_balance_workfn()", *lit.body]
    path = write_failure(padded, "small16", "inv_chunk_contig_hint_in_block", ignore=lit.ignore,
                         origin="test", out_dir=tmp_path)
    out = litmus.load(path)
    assert len(out.body) <= len(lit.body) < len(padded)
    ok, got = litmus.judge(out, litmus.run(out.body, "small16", ignore=out.ignore))
    assert ok and got.startswith("Violates inv_chunk_contig_hint_in_block")
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left behind


@pytest.mark.unit
def test_write_failure_refuses_an_agreeing_body(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="violate no property"):
        write_failure(["h0 = pcpu_alloc(size=8, align=4, reserved=0, atomic=0)"], "small16",
                      ignore=TOLERATED, out_dir=tmp_path)


@pytest.mark.deep
def test_hypothesis_failure_is_written_as_a_file(tmp_path: Path) -> None:
    m = MUTANTS["block_update_right_edge_sets_left_free"]
    out = run_machine("small16", variant=m.apply, variant_label=f"mutant {m.name}", tolerated=TOLERATED,
                      examples=100, out_dir=tmp_path)
    assert out.prop is not None and out.file is not None, out
    lit = litmus.load(out.file)
    assert lit.expected[0] == out.prop
    ok, _ = litmus.judge(lit, litmus.run(lit.body, lit.header["Config"], m.apply, ignore=lit.ignore))
    assert ok
    faithful = litmus.run(lit.body, lit.header["Config"], None, ignore=lit.ignore)
    assert faithful.first is None or faithful.first[1].prop != out.prop


@pytest.mark.stateful
def test_hypothesis_finding_is_written_as_a_file_when_not_tolerated(tmp_path: Path) -> None:
    out = run_machine("small16", examples=25, steps=20, out_dir=tmp_path, hypothesis_shrink=False)
    assert out.prop is not None and out.file is not None and out.file.parent == tmp_path
    lit = litmus.load(out.file)
    assert lit.expected[0] == out.prop and "Hypothesis state machine" in lit.header["Origin"]
    assert litmus.judge(lit, litmus.run(lit.body, "small16"))[0]


# -------------------------------------------------------------------- report
def _result(status: dict[str, str], corpus_match: bool = True) -> BatteryResult:
    props = {n: PropertyResult(n, "exact", s, where=f"{n} @ step 3" if s == "violated" else "",
                               file=f"out/{n}.litmus" if s == "violated" else None,
                               picture=f"out/{n}.svg" if s == "violated" else None,
                               finding="F2" if n == "inv_chunk_contig_hint_in_block" else None)
             for n, s in status.items()}
    recorded = "Violates inv_chunk_contig_hint_in_block at step 3"
    corpus = [CorpusResult("corpus/F2.litmus", "F2", recorded, recorded if corpus_match else "Agree", corpus_match)]
    return BatteryResult("x", "bounds", props, corpus, "not available", 100, 1.0)


@pytest.mark.unit
def test_report_names_new_violations_fixes_and_no_change() -> None:
    base = _result({"inv_block_left_free": "holds", "inv_chunk_contig_hint_in_block": "violated"})
    same = _result({"inv_block_left_free": "holds", "inv_chunk_contig_hint_in_block": "violated"})
    assert verdict(same, base) == (0, "NO CHANGE relative to the unpatched port")
    assert "nothing: the same properties" in build_report(same, base, "t")
    bad = _result({"inv_block_left_free": "violated", "inv_chunk_contig_hint_in_block": "violated"})
    text = build_report(bad, base, "t")
    assert verdict(bad, base)[0] == 1
    assert "NEW VIOLATION inv_block_left_free" in text and "out/inv_block_left_free.svg" in text
    fixed = _result({"inv_block_left_free": "holds", "inv_chunk_contig_hint_in_block": "holds"}, corpus_match=False)
    text = build_report(fixed, base, "t")
    assert "FIXED" in text and "no longer reproduces" in text and verdict(fixed, base)[1].startswith("IMPROVES")
    assert "proofs: not available" in text


# ------------------------------------------------------- end to end (deep)
SMALL = ["--seeds", "0-1", "--steps", "600", "--examples", "10"]
EXPECTED_BREAK = {
    "e-block-right-free-without-min.patch": "inv_chunk_contig_hint_upper",
    "alloc-keeps-s-block-scan-hint.patch": "inv_block_scan_hint",
    "free-area-keeps-first-free.patch": "inv_chunk_first_free_lower",
}


@pytest.mark.deep
@pytest.mark.parametrize("name", sorted(EXPECTED_BREAK))
def test_known_bad_patch_is_rejected_with_file_and_picture(name: str, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate-patch", str(ROOT / "variants" / "bad" / name), "--out", str(tmp_path), *SMALL]) == 1
    text = capsys.readouterr().out
    prop = EXPECTED_BREAK[name]
    assert f"NEW VIOLATION {prop}" in text, text
    block = text.split(f"NEW VIOLATION {prop}")[1]
    file = block.split("counterexample: ")[1].split()[0]
    picture = block.split("picture:        ")[1].split()[0]
    assert Path(file).exists() and Path(picture).exists()


@pytest.mark.deep
def test_comment_only_patch_reports_no_change(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate-patch", str(ROOT / "variants" / "good" / "comment-only.patch"), "--out", str(tmp_path),
                 *SMALL]) == 0
    assert "Verdict: NO CHANGE" in capsys.readouterr().out


@pytest.mark.deep
def test_f2_fix_shows_the_finding_fixed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate-patch", str(ROOT / "variants" / "good" / "F2-chunk-hint-end-offset.patch"),
                 "--out", str(tmp_path), *SMALL]) == 0
    text = capsys.readouterr().out
    assert "F2-chunk-contig-stale-after-free.litmus (F2) no longer reproduces" in text
    assert "Verdict: IMPROVES" in text


# what the 2017 v1 hint logic breaks (see variants/README.md for the analysis)
V1_DEFECTS = {"inv_nr_empty_pop_pages", "inv_global_empty_pop_pages", "inv_chunk_contig_hint_upper"}


@pytest.mark.deep
def test_v1_2017_variant_defects_are_stable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate-patch", str(ROOT / "variants" / "v1_2017.py"), "--out", str(tmp_path), *SMALL]) == 1
    text = capsys.readouterr().out
    new = {line.split()[2] for line in text.splitlines() if line.startswith("  NEW VIOLATION")}
    assert V1_DEFECTS <= new, new


@pytest.mark.unit
@pytest.mark.parametrize("path", sorted((ROOT / "variants" / "v1_2017").glob("*.litmus")), ids=lambda p: p.stem)
def test_v1_defect_files_replay_on_v1_and_agree_on_the_port(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(path), "--variant", str(ROOT / "variants" / "v1_2017.py")]) == 0
    lit = litmus.load(path)
    faithful = litmus.run(lit.body, lit.header["Config"], ignore=lit.ignore)
    assert faithful.first is None  # the defect is v1's, not the 6.12 port's
