"""Unit: the percpu_stats port (impl/stats.py) against states whose numbers are known."""

from __future__ import annotations

import re

import pytest

from impl.stats import percpu_stats_show
from properties.configs import parse_config
from properties.harness import Harness
from tools.cli import main

pytestmark = pytest.mark.unit

CHUNK_FIELDS = ["nr_alloc", "max_alloc_size", "empty_pop_pages", "first_bit", "free_bytes", "contig_bytes",
                "sum_frag", "max_frag", "cur_min_alloc", "cur_med_alloc", "cur_max_alloc"]


def sections(text: str) -> list[dict[str, int]]:
    """Each block of ``  name : value`` lines as a dict, in order."""
    out: list[dict[str, int]] = []
    cur: dict[str, int] = {}
    for line in text.splitlines():
        m = re.fullmatch(r"  (\w+) +: +(-?\d+)", line)
        if m:
            cur[m.group(1)] = int(m.group(2))
        elif cur:
            out.append(cur)
            cur = {}
    if cur:
        out.append(cur)
    return out


def test_layout_and_known_fragmentation() -> None:
    h = Harness(parse_config("small16"))
    a = h.pcpu_alloc(8, 4)
    h.pcpu_alloc(12, 4)
    assert a is not None
    h.free_percpu(a)  # leaves an 8-byte hole before a 12-byte area
    text = percpu_stats_show(h.pcpu)
    assert text.startswith("Percpu Memory Statistics\nAllocation Info:\n" + "-" * 40 + "\n")
    ai, glob, reserved, first = sections(text)
    assert list(ai) == ["unit_size", "static_size", "reserved_size", "dyn_size", "atom_size", "alloc_size"]
    assert ai["static_size"] == h.cfg.static_size and ai["unit_size"] == h.pcpu.pcpu_unit_size
    assert glob == {"nr_alloc": 2, "nr_dealloc": 1, "nr_cur_alloc": 1, "nr_max_alloc": 2, "nr_chunks": 1,
                    "nr_max_chunks": 1, "min_alloc_size": 8, "max_alloc_size": 12,
                    "empty_pop_pages": h.pcpu.pcpu_nr_empty_pop_pages}
    assert list(first) == CHUNK_FIELDS and list(reserved) == CHUNK_FIELDS
    c = h.pcpu.pcpu_first_chunk
    assert first["free_bytes"] == c.free_bytes and first["contig_bytes"] == c.chunk_md.contig_hint * 4
    assert (first["sum_frag"], first["max_frag"]) == (8, 8)
    assert (first["cur_min_alloc"], first["cur_med_alloc"], first["cur_max_alloc"]) == (12, 12, 12)
    assert "Chunk: <- Reserved Chunk\n" in text and "Chunk: <- First Chunk\n" in text


def test_every_listed_chunk_is_dumped() -> None:
    h = Harness(parse_config("numa4"))
    for _ in range(30):
        h.pcpu_alloc(60, 4)
    text = percpu_stats_show(h.pcpu)
    listed = [c for c in h.pcpu.all_chunks() if c is not h.pcpu.pcpu_reserved_chunk]
    heads = [ln for ln in text.splitlines() if ln.startswith("Chunk") and "Reserved" not in ln]
    assert len(heads) == len(listed) > 1
    assert sum(s.get("nr_alloc", 0) for s in sections(text)[2:]) == 30


def test_cli_stats(capsys: pytest.CaptureFixture[str]) -> None:
    f = "corpus/F2-chunk-contig-stale-after-free.litmus"
    assert main(["stats", f, "--step", "1"]) == 0
    out = capsys.readouterr().out
    assert "pcpu-alloc: s100 r64 d220 u512 alloc=8*64" in out and "nr_cur_alloc        :            1" in out
    assert main(["stats", f, "--step", "9"]) == 2
    assert main(["replay", f, "--stats"]) == 0
    assert "# percpu_stats after step 3" in capsys.readouterr().out


def test_cli_unitmap(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["unitmap", "numa4"]) == 0
    out = capsys.readouterr().out
    assert "pcpu-alloc: [0] 0 [0] 1 [1] 2 [1] 3 " in out and "| 3 | 1 | 3 | 0x600 | 0xffff888100000600 |" in out
    assert main(["unitmap", "numa4 backend=km"]) == 2  # percpu-km takes one group only
    assert main(["unitmap", "numa4 cpus=0,1,2 nodes=0,1"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and "pcpu_verify_alloc_info" in err[0] and "one node per CPU" in err[1]


def test_model_chunk_stats_and_the_end_of_chunk_finding() -> None:
    from properties.stats import model_chunk_stats

    h = Harness(parse_config("small16"))
    a = h.pcpu_alloc(8, 4)
    b = h.pcpu_alloc(12, 4)
    assert a is not None and b is not None
    h.free_percpu(a)
    mc = h.model.chunks[h.pcpu.pcpu_first_chunk.id]
    assert model_chunk_stats(mc) == {"nr_alloc": 1, "sum_frag": 8, "max_frag": 8, "cur_min_alloc": 12,
                                     "cur_med_alloc": 12, "cur_max_alloc": 12}
    assert not [v for v in h.violations if v.prop == "inv_percpu_stats_chunk"]
    h.pcpu_alloc(512, 4)  # fills a new chunk to its last unit: F8
    assert [v for v in h.violations if v.prop == "inv_percpu_stats_chunk"]


def test_big_chunks_are_checked_at_the_balance_work(monkeypatch: pytest.MonkeyPatch) -> None:
    from properties import stats

    monkeypatch.setattr(stats, "EVERY_STEP_MAX_LIVE", 0)  # every chunk counts as big
    h = Harness(parse_config("small16"))
    h.pcpu_alloc(512, 4)  # F8: fills a new chunk to its last unit
    assert not [v for v in h.violations if v.prop == "inv_percpu_stats_chunk"]
    h.pcpu_balance_workfn()
    assert [v for v in h.violations if v.prop == "inv_percpu_stats_chunk"]
