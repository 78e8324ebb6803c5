"""validate-patch --kernel: sample patches accepted and rejected, bad patches refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools import cli, validate_kernel

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parent.parent
GOOD = ROOT / "patches" / "kernel" / "good-first-free-of-covered-blocks.patch"
BAD = ROOT / "patches" / "kernel" / "bad-stale-contig-hint-of-covered-blocks.patch"
SMALL = {6: 4}  # a small battery: 16-bit blocks only


def _need_source() -> None:
    try:
        validate_kernel.build.kernel_tree()
    except Exception as e:  # no kernel source on this machine
        pytest.skip(f"kernel source unavailable: {e}")


def _judge(patch: Path, tmp_path: Path) -> tuple[validate_kernel.Side, validate_kernel.Side]:
    libs = validate_kernel.build_patched(patch, tmp_path, tuple(SMALL))
    return validate_kernel.battery(libs, 0, SMALL, 150)


def test_bad_patch_breaks_a_hint_invariant_and_is_rejected(tmp_path: Path, capsys) -> None:
    _need_source()
    base, patched = _judge(BAD, tmp_path)
    assert base.counts["inv_block_contig_hint"] == 0
    assert patched.counts["inv_block_contig_hint"] > 0
    assert not validate_kernel.report(BAD, base, patched, 0, 0.0)
    assert "Verdict: REJECT: breaks" in capsys.readouterr().out


@pytest.mark.deep
def test_good_patch_is_accepted_and_fixes_f1(tmp_path: Path, capsys) -> None:
    _need_source()
    base, patched = _judge(GOOD, tmp_path)
    assert base.counts["inv_block_first_free"] > 0
    assert patched.counts["inv_block_first_free"] == 0
    assert validate_kernel.report(GOOD, base, patched, 0, 0.0)
    out = capsys.readouterr().out
    assert "Verdict: IMPROVES" in out
    assert "fixes F1" in out and "FIXED         inv_block_first_free" in out


def _variant(tmp_path: Path, old: str, new: str) -> Path:
    p = tmp_path / "variant.patch"
    text = GOOD.read_text()
    assert old in text
    p.write_text(text.replace(old, new))
    return p


def test_patch_that_does_not_apply_quotes_the_hunk(tmp_path: Path, capsys) -> None:
    _need_source()
    p = _variant(tmp_path, " \t\t\tblock->right_free = 0;", " \t\t\tblock->right_free = 1;")
    assert cli.main(["validate-patch", "--kernel", str(p)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "hunk #1 of mm/percpu.c does not apply: @@ -910,6 +910,7 @@" in err


def test_patch_that_does_not_compile_quotes_the_first_error(tmp_path: Path, capsys) -> None:
    _need_source()
    p = _variant(tmp_path, "PCPU_BITMAP_BLOCK_BITS;", "PCPU_BITMAP_BLOCK_BITZ;")
    assert cli.main(["validate-patch", "--kernel", str(p)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "does not compile" in err
    assert "PCPU_BITMAP_BLOCK_BITZ" in err


def test_not_a_patch_and_other_files(tmp_path: Path, capsys) -> None:
    p = tmp_path / "x.patch"
    p.write_text("hello\n")
    assert cli.main(["validate-patch", "--kernel", str(p)]) == 2
    assert "not a unified diff" in capsys.readouterr().err
    _need_source()
    p.write_text("--- a/mm/slab.c\n+++ b/mm/slab.c\n@@ -1,1 +1,1 @@\n-a\n+b\n")
    assert cli.main(["validate-patch", "--kernel", str(p)]) == 2
    assert "does not build" in capsys.readouterr().err


@pytest.mark.deep
def test_cli_end_to_end_on_both_samples() -> None:
    _need_source()
    assert cli.main(["validate-patch", "--kernel", str(GOOD)]) == 0
    assert cli.main(["validate-patch", "--kernel", str(BAD)]) == 1
