"""Corpus replay, the findings ledger, and the CLI's handling of bad input."""

import tomllib
from pathlib import Path

import pytest

from properties import litmus
from tools.cli import main

ROOT = Path(__file__).resolve().parent.parent
CORPUS = sorted((ROOT / "corpus").glob("*.litmus"))


@pytest.mark.stateful
@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.stem)
def test_corpus_file_matches_its_result(path: Path) -> None:
    lit = litmus.load(path)
    ok, got = litmus.judge(lit, litmus.run(lit.body, lit.header["Config"], ignore=lit.ignore))
    assert ok, f"{path.name}: expected {lit.header['Result']}, got {got}"


@pytest.mark.unit
def test_every_ledger_finding_has_a_violating_file() -> None:
    ledger = tomllib.loads((ROOT / "findings" / "ledger.toml").read_text())["finding"]
    assert len(ledger) >= 5
    for f in ledger:
        lit = litmus.load(ROOT / f["file"])
        assert lit.expected[0] == f["property"], f["id"]


@pytest.mark.unit
def test_replay_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = (ROOT / "corpus" / "F2-chunk-contig-stale-after-free.litmus").read_text()
    good = tmp_path / "good.litmus"
    good.write_text(src)
    assert main(["replay", str(good)]) == 0
    bad = tmp_path / "bad.litmus"
    bad.write_text(src.replace("at step 3", "at step 2"))
    assert main(["replay", str(bad)]) == 1
    assert main(["replay", str(good), "--json"]) == 0
    assert '"match": true' in capsys.readouterr().out


BAD_INPUTS = {
    "empty": "",
    "no-magic": "hello\n",
    "bad-header": "percpu litmus v1\nthis is not a header\n",
    "no-result": "percpu litmus v1\nName: x\nConfig: small16\n\n",
    "bad-result": "percpu litmus v1\nName: x\nConfig: small16\nResult: Maybe\n\n",
    "bad-config": "percpu litmus v1\nName: x\nConfig: huge\nResult: Agree\n\n",
    "bad-knob": "percpu litmus v1\nName: x\nConfig: small16 page_size=abc\nResult: Agree\n\n",
    "unknown-call": "percpu litmus v1\nName: x\nConfig: small16\nResult: Agree\n\nkmalloc(4)\n",
    "unbound-free": "percpu litmus v1\nName: x\nConfig: small16\nResult: Agree\n\nfree_percpu(h9)\n",
    "bad-alloc-args": "percpu litmus v1\nName: x\nConfig: small16\nResult: Agree\n\n"
                      "h0 = pcpu_alloc(size=-4, align=4, reserved=0, atomic=0)\n",
    "binary": "\x00\x01\x02",
}


@pytest.mark.unit
@pytest.mark.parametrize("kind", sorted(BAD_INPUTS))
def test_bad_input_gets_one_line_and_status_2(kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / f"{kind}.litmus"
    p.write_text(BAD_INPUTS[kind])
    assert main(["replay", str(p)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("pcpu-verify:"), err


@pytest.mark.unit
def test_bad_cli_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert main(["replay", str(tmp_path / "missing.litmus")]) == 2
    assert main(["replay", str(ROOT / "corpus" / "A1-fresh-chunk-fill-and-free.litmus"), "--show", "99"]) == 2
    assert main(["frobnicate"]) == 2
    err = capsys.readouterr().err
    assert all(line.startswith("pcpu-verify:") for line in err.splitlines())
