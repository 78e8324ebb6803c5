"""Build the kernel-extracted percpu oracle and check its behaviour."""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from oracle import build as obuild
from oracle import extract
from oracle.cpercpu import COracle, snapshot_keys
from oracle.csource import CSource, ExtractError

pytestmark = pytest.mark.stateful
ROOT = Path(__file__).resolve().parent.parent
FULL16 = (0, 0, 16, 0, 16, 16, 0, 16)  # a free 16-bit block


@pytest.fixture(scope="module")
def ksrc() -> Path:
    try:
        return obuild.kernel_tree()
    except obuild.BuildError as exc:
        pytest.skip(f"linux-source-6.12 cannot be installed here: {exc}")


@pytest.fixture(scope="module")
def built(ksrc) -> dict:
    return obuild.build(ksrc=ksrc)


# ---- the extractor -------------------------------------------------------------

C_SAMPLE = """
/* int wanted(int x) { return 1; } */
static const char *s = "wanted(int y) {";
#define wanted_twice(x) wanted(x)
struct thing { int a; /* } */ };
static inline int __attribute__((unused))
wanted(int z)
{
	if (z) { return '}'; }   // wanted(0) {
	return sizeof(struct thing);
}
int other(void) { return wanted(1); }
"""


def test_parser_skips_comments_strings_and_calls():
    src = CSource(C_SAMPLE, "sample.c")
    fn = src.find_function("wanted")
    assert fn.line == 6
    assert fn.text.startswith("static inline int")
    assert fn.text.rstrip().endswith("}")
    assert "return sizeof(struct thing);" in fn.text
    assert "//" not in fn.text and "wanted(0)" not in fn.text
    assert src.find_struct("thing").text.split() == ["struct", "thing", "{", "int", "a;", "};"]
    assert src.find_macro("wanted_twice").text == "#define wanted_twice(x) wanted(x)"
    with pytest.raises(ExtractError, match="'missing' not found"):
        src.find_function("missing")


def test_generated_code_has_every_function_and_no_comments(ksrc, tmp_path):
    defs, funcs = extract.generate(ksrc, tmp_path)
    body = funcs.read_text()
    for name in extract.PERCPU_FUNCS:
        assert f" {name}(" in body or f"*{name}(" in body, name
    assert "struct pcpu_chunk {" in defs.read_text()
    assert "/*" not in body.split("\n", 1)[1]


def test_missing_function_is_one_line_and_status_2(ksrc, tmp_path):
    tree = tmp_path / "linux"
    for rel in ("Makefile", "mm/percpu.c", "mm/percpu-internal.h", "include/linux/percpu.h",
                "include/linux/find.h", "include/linux/bitmap.h", "lib/find_bit.c",
                "lib/bitmap.c"):
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ksrc / rel, tree / rel)
    pc = tree / "mm/percpu.c"
    pc.write_text(pc.read_text().replace("pcpu_free_area(", "pcpu_release_area("))
    proc = subprocess.run([sys.executable, "-m", "oracle.extract", "--ksrc", str(tree),
                           "--out", str(tmp_path / "gen")],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "pcpu_free_area" in lines[0]


def test_unusable_tree_reports_status_3(tmp_path):
    with pytest.raises(obuild.BuildError) as info:
        obuild.kernel_tree(tmp_path / "no-such-tree")
    assert info.value.status == 3


# ---- the library ---------------------------------------------------------------------

def test_libraries_and_slot_setup(built):
    assert sorted(built) == [6, 7, 8, 12]
    o = COracle(12, 8)
    assert o.kernel_version.startswith("6.12")
    cfg = o.config
    assert (cfg["block_bits"], cfg["unit_size"]) == (1024, 32768)
    # fls(32768) = 16 -> slot 13; then sidelined, free, to_depopulate
    assert (cfg["sidelined_slot"], cfg["free_slot"], cfg["to_depopulate_slot"],
            cfg["nr_slots"]) == (14, 15, 16, 17)
    # slot = max(fls(size) - 3, 1): 16..31 bytes already land in slot 2
    sizes = (1, 4, 15, 16, 31, 32, 63, 64)
    assert [o.raw_size_to_slot(s) for s in sizes] == [1, 1, 1, 2, 2, 3, 3, 4]
    assert o.size_to_slot(32768) == 15
    assert [COracle(ps, 1).block_bits for ps in (8, 7, 6)] == [64, 32, 16]


def test_fresh_16bit_chunk_alloc_and_free(built):
    o = COracle(6, 4)  # 4 blocks of 16 bits, unit size 256 bytes
    h = o.new_chunk("dynamic")
    s0 = o.snapshot(h)
    assert tuple(s0) == snapshot_keys()
    assert s0 == {
        "alloc_map": 0, "bound_map": 0, "populated": 0b1111, "free_bytes": 256,
        "nr_populated": 4, "nr_empty_pop_pages": 4, "slot": o.config["free_slot"],
        "chunk_md": (0, 0, 64, 0, 64, 64, 0, 64), "md_blocks": [FULL16] * 4,
    }
    assert o.slot_lists()[o.config["free_slot"]] == [h]

    assert o.alloc(h, 4, 1) == 0
    s1 = o.snapshot(h)
    assert (s1["alloc_map"], s1["bound_map"]) == (0b1111, (1 << 0) | (1 << 4))
    assert s1["md_blocks"][0] == (0, 0, 12, 4, 0, 12, 4, 16)
    # the chunk's left_free is never maintained after creation: it stays 64
    assert s1["chunk_md"] == (0, 0, 60, 4, 64, 60, 4, 64)
    assert (s1["free_bytes"], s1["nr_empty_pop_pages"], s1["slot"]) == (240, 3, 5)
    assert o.globals()["nr_empty_pop_pages"] == 3
    assert o.slot_lists()[5] == [h]

    assert o.free(h, 0) == 16
    s2 = o.snapshot(h)
    # freeing clears only alloc_map; the old boundary bits stay in bound_map
    assert s2["bound_map"] == s1["bound_map"]
    assert {**s2, "bound_map": 0} == s0
    assert o.globals()["nr_empty_pop_pages"] == 4


def test_allocation_spanning_blocks_of_16_bits(built):
    o = COracle(6, 4)
    h = o.new_chunk()
    assert o.alloc(h, 20, 1) == 0  # bits [0, 20): block 0 full, block 1 from bit 4
    s = o.snapshot(h)
    assert s["md_blocks"][0][2] == 0 and s["md_blocks"][0][5] == 0
    assert s["md_blocks"][1] == (0, 0, 12, 4, 0, 12, 4, 16)
    assert s["nr_empty_pop_pages"] == 2
    assert o.alloc(h, 4, 4) == 80  # 4 bits aligned to 4 bits -> bit 20
    assert o.free(h, 0) == 80


def test_first_chunk_hides_start_and_end(built):
    o = COracle(8, 2)  # 64-bit blocks; region of 2 pages of 256 bytes
    h = o.new_chunk("first", start_offset=40, map_size=448)
    info = o.chunk_info(h)
    assert (info["start_offset"], info["end_offset"], info["immutable"]) == (40, 24, 1)
    s = o.snapshot(h)
    hidden = ((1 << 10) - 1) | (((1 << 6) - 1) << 122)
    assert s["alloc_map"] == hidden
    assert s["bound_map"] == (1 << 0) | (1 << 10) | (1 << 122) | (1 << 128)
    assert s["free_bytes"] == 448 and s["nr_empty_pop_pages"] == 0
    assert s["md_blocks"] == [(0, 0, 54, 10, 0, 54, 10, 64), (0, 0, 58, 0, 58, 0, 0, 64)]
    # right_free is stale: set when hiding the start, not updated when hiding the end
    assert s["chunk_md"] == (0, 0, 112, 10, 128, 118, 10, 128)
    assert o.alloc(h, 4, 1) == 40  # the first usable byte
    assert o.alloc(h, 200, 1) == -1
    assert o.free(h, 40) == 16
    assert o.snapshot(h)["alloc_map"] == hidden


def test_reserved_first_chunk_stays_off_lists(built):
    o = COracle(8, 2)
    h = o.new_chunk("first", start_offset=0, map_size=512, reserved=True)
    assert all(h not in lst for lst in o.slot_lists())
    assert o.globals()["nr_empty_pop_pages"] == 0
    assert o.alloc(h, 64, 1) == 0
    assert o.snapshot(h)["nr_empty_pop_pages"] == 1
    assert o.globals()["nr_empty_pop_pages"] == 0


def test_pop_only_respects_populated_pages(built):
    o = COracle(6, 4)
    h = o.new_chunk(populated=False)
    assert o.snapshot(h)["populated"] == 0
    assert o.alloc(h, 4, 1, pop_only=True) == -1
    o.populate(h, 1, 2)
    assert o.is_populated(h, 16, 16) == (True, None)
    assert o.is_populated(h, 0, 4) == (False, 16)
    assert o.alloc(h, 4, 1, pop_only=True) == 64  # page 1 starts at byte 64
    assert o.alloc(h, 17, 1, pop_only=True) == -1
    assert o.alloc(h, 17, 1) == 80  # block 0 holds only 16 free bits


def test_isolate_and_reintegrate_move_global_count(built):
    o = COracle(6, 4)
    a, b = o.new_chunk(), o.new_chunk()
    assert o.globals() == {"nr_empty_pop_pages": 8, "nr_populated": 8}
    # relocate(chunk, -1) moves to the front (oslot -1 < new slot)
    assert o.slot_lists()[o.config["free_slot"]] == [b, a]
    o.isolate(a)
    assert o.globals()["nr_empty_pop_pages"] == 4
    assert o.slot_lists()[o.config["to_depopulate_slot"]] == [a]
    o.reintegrate(a)
    assert o.globals()["nr_empty_pop_pages"] == 8
    assert o.slot_lists()[o.config["free_slot"]] == [a, b]
    o.destroy(b)
    assert o.slot_lists()[o.config["free_slot"]] == [a]


def test_instances_do_not_share_globals(built):
    a, b = COracle(6, 4), COracle(6, 4)
    a.new_chunk()
    assert a.globals()["nr_empty_pop_pages"] == 4
    assert b.globals()["nr_empty_pop_pages"] == 0


def test_reset_and_close(built):
    with COracle(6, 4) as o:
        o.new_chunk()
        o.reset(unit_pages=2)
        assert o.handles() == [] and o.globals()["nr_empty_pop_pages"] == 0
        assert o.config["unit_size"] == 128
        h = o.new_chunk()
        assert o.chunk_info(h)["nr_pages"] == 2
    assert o.handles() == []


def test_block_update_on_scratch_md(built):
    o = COracle(6, 1)
    full = (0, 0, 0, 0, 0, 0, 16, 16)
    assert o.block_update(full, 3, 7) == (0, 0, 4, 3, 0, 0, 3, 16)
    # an equally long run at a better aligned start takes over the contig hint
    assert o.block_update((0, 0, 4, 3, 0, 0, 3, 16), 8, 12) == (0, 0, 4, 8, 0, 0, 3, 16)
    assert o.block_update(full, 0, 16) == FULL16


def test_single_function_wrappers(built):
    o = COracle(6, 4)
    h = o.new_chunk()
    o.alloc(h, 4, 1)
    o.alloc(h, 20, 1)
    assert o.md_free_regions(h, 0) == [(24, 40)]
    assert o.next_fit_region(h, 4, 1, 0) == (24, 4)
    # bits 0-2, 4 and 8 taken; 4 bits aligned to 4 first fit at 12
    assert o.find_zero_area(0b1_0001_0111, 64, 0, 4, 3) == (12, 0, 0)
    assert o.check_block_hint((0, 0, 12, 4, 0, 12, 4, 16), 12, 1)
    assert not o.check_block_hint((0, 0, 12, 3, 0, 12, 3, 16), 12, 2)
    assert o.next_hint((2, 1, 5, 8, 0, 0, 1, 16), 3) == 3
    assert not o.region_overlap(0, 4, 4, 8) and o.region_overlap(0, 5, 4, 8)


def test_load_state_round_trip(built):
    o = COracle(7, 3)
    a = o.new_chunk()
    for bits, align in ((5, 1), (40, 8), (3, 2)):
        o.alloc(a, bits, align)
    b = o.new_chunk()
    o.load_state(b, o.snapshot(a))
    assert o.snapshot(b) == o.snapshot(a)


def _random_run(oracles, seed, steps, unit_pages):
    """Drive several oracles with one random alloc/free sequence; compare all."""
    rng = random.Random(seed)
    block = oracles[0].block_bits
    handles = [o.new_chunk() for o in oracles]
    live: list[int] = []
    sizes = (1, 2, 3, 4, 5, 8, block // 2, block, block + 3, 2 * block)
    for _ in range(steps):
        if live and rng.random() < 0.4:
            off = live.pop(rng.randrange(len(live)))
            results = [o.free(h, off) for o, h in zip(oracles, handles, strict=True)]
        else:
            bits, align = rng.choice(sizes), rng.choice((1, 1, 2, 4, 8))
            results = [o.alloc(h, bits, align) for o, h in zip(oracles, handles, strict=True)]
            if results[0] >= 0:
                live.append(results[0])
        assert len(set(results)) == 1
        snaps = [o.snapshot(h) for o, h in zip(oracles, handles, strict=True)]
        assert all(s == snaps[0] for s in snaps[1:])


@pytest.mark.parametrize("page_shift, variants", [
    (8, ("", "forcesub", "own")), (6, ("", "own")), (12, ("", "own")),
])
def test_cross_check_variants(built, page_shift, variants):
    """The copying block view and the oracle's own bitops match the kernel's."""
    unit_pages = 2 if page_shift == 12 else 4
    for seed in range(6):
        oracles = [COracle(page_shift, unit_pages, variant=v) for v in variants]
        _random_run(oracles, seed, 60, unit_pages)
