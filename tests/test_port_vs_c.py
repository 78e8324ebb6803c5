"""Stateful: the Python port against the kernel's own C, bit for bit, at chunk level."""

import random

import pytest

from impl.boot import boot, small_config

pytestmark = pytest.mark.stateful


def py_snapshot(pc, c) -> dict:
    return {
        "alloc_map": c.alloc_map.bits, "bound_map": c.bound_map.bits, "free_bytes": c.free_bytes,
        "chunk_md": c.chunk_md.as_tuple(), "md_blocks": [b.as_tuple() for b in c.md_blocks],
        "nr_empty_pop_pages": c.nr_empty_pop_pages, "slot": pc.pcpu_chunk_slot(c),
    }


@pytest.mark.parametrize("shift,seeds", [(6, 20), (8, 10), (12, 3)])
def test_same_offsets_and_hints_as_c(shift: int, seeds: int) -> None:
    cpercpu = pytest.importorskip("oracle.cpercpu")
    try:
        co = cpercpu.COracle(shift, 8)
    except Exception as e:  # no kernel source on this machine
        pytest.skip(f"C oracle unavailable: {e}")
    ps = 1 << shift
    pc = boot(small_config(ps // 4))
    compared = 0
    for seed in range(seeds):
        rng = random.Random(seed)
        ch = pc.pcpu_alloc_chunk(0)
        assert ch is not None
        pc.pcpu_chunk_populated(ch, 0, ch.nr_pages)
        pc.pcpu_chunk_relocate(ch, -1)
        hc = co.new_chunk("dynamic")
        live: list[int] = []
        for step in range(250):
            if live and rng.random() < 0.45:
                off = live.pop(rng.randrange(len(live)))
                a, b = pc.pcpu_free_area(ch, off), co.free(hc, off)
            else:
                bits = rng.choice([1, 2, 3, 5, 8, 15, 16, 17, 33, ps // 4, ps // 4 + 1, rng.randint(1, 3 * ps // 4)])
                align = rng.choice([1, 1, 2, 4, 8, 16, ps // 4])
                s = pc.pcpu_find_block_fit(ch, bits, align, False)
                a = -1 if s < 0 else pc.pcpu_alloc_area(ch, bits, align, s)
                b = co.alloc(hc, bits, align)
                if a >= 0:
                    live.append(a)
            assert a == b, f"seed {seed} step {step}: python {a}, C {b}"
            sc, sp = co.snapshot(hc), py_snapshot(pc, ch)
            for k in sp:
                assert sp[k] == sc[k], f"seed {seed} step {step}: {k} differs\n py {sp[k]}\n c  {sc[k]}"
            compared += 1
        co.destroy(hc)
    print(f"PAGE_SHIFT {shift}: {compared} operations agree bit for bit")


def test_differential_catches_a_planted_port_bug() -> None:
    cpercpu = pytest.importorskip("oracle.cpercpu")
    try:
        co = cpercpu.COracle(6, 8)
    except Exception as e:
        pytest.skip(f"C oracle unavailable: {e}")
    pc = boot(small_config(16))
    original = pc.pcpu_block_update

    def planted(block, start, end):  # forgets left_free
        left = block.left_free
        original(block, start, end)
        block.left_free = left

    pc.pcpu_block_update = planted  # type: ignore[method-assign]
    ch = pc.pcpu_alloc_chunk(0)
    assert ch is not None
    pc.pcpu_chunk_populated(ch, 0, ch.nr_pages)
    hc = co.new_chunk("dynamic")
    for bits in (4, 4, 4):
        pc.pcpu_alloc_area(ch, bits, 1, pc.pcpu_find_block_fit(ch, bits, 1, False))
        co.alloc(hc, bits, 1)
    pc.pcpu_free_area(ch, 0)
    co.free(hc, 0)
    assert py_snapshot(pc, ch)["md_blocks"] != co.snapshot(hc)["md_blocks"]


def test_agreement_run_counts_and_catches_a_planted_bug(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("oracle.cpercpu")
    from impl.hints import HintsMixin
    from tools import c_agreement

    try:
        clean = c_agreement.run(6, 400, 0)
    except Exception as e:
        pytest.skip(f"C oracle unavailable: {e}")
    assert (clean.ops, clean.agreed, clean.differences) == (400, 400, [])
    original = HintsMixin.pcpu_block_update

    def planted(self, block, start, end):  # forgets right_free
        right = block.right_free
        original(self, block, start, end)
        block.right_free = right

    monkeypatch.setattr(HintsMixin, "pcpu_block_update", planted)
    bad = c_agreement.run(6, 400, 0)
    assert bad.differences
    assert "md_blocks" in bad.differences[0] or "chunk_md" in bad.differences[0]
    assert bad.agreed < bad.ops
