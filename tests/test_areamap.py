"""The area-map allocator (impl_areamap/) behind the same harness and machine as the bitmap port."""

import pytest
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

from properties.areamap_checks import AREAMAP_PROPERTIES
from properties.areamap_mutants import AREAMAP_MUTANTS
from properties.configs import parse_config
from properties.harness import Harness
from properties.implementations import implementation
from properties.machine import make_machine


@pytest.mark.stateful
@pytest.mark.parametrize("name,examples", [("small16", 30), ("small64", 10)])
def test_areamap_machine_runs_clean(name: str, examples: int) -> None:
    machine = make_machine(parse_config(name), name=f"AreaMap_{name}", implementation="areamap")
    run_state_machine_as_test(machine, settings=settings(max_examples=examples, stateful_step_count=40))


@pytest.mark.parametrize(
    "mutant",
    [
        pytest.param(n, marks=pytest.mark.stateful if n == "am_first_free_past_area" else pytest.mark.deep)
        for n in sorted(AREAMAP_MUTANTS)
    ],
)
def test_areamap_mutant_is_caught(mutant: str) -> None:
    m = AREAMAP_MUTANTS[mutant]
    machine = make_machine(parse_config("small16"), m.apply, name=f"AreaMap_{mutant}", implementation="areamap")
    with pytest.raises(Exception):  # noqa: B017  (a violation, or the map corrupting itself)
        run_state_machine_as_test(machine, settings=settings(max_examples=300, stateful_step_count=40))


@pytest.mark.unit
def test_profile_selects_properties() -> None:
    am = implementation("areamap")
    bm = implementation("bitmap")
    assert set(AREAMAP_PROPERTIES) <= set(am.property_names())
    assert "inv_block_contig_hint" in bm.property_names() and "inv_block_contig_hint" not in am.property_names()
    assert "inv_alloc_map" in am.skipped and "inv_nr_empty_pop_pages" in am.property_names()


def _fresh() -> Harness:
    h = Harness(parse_config("small16"), implementation="areamap")
    h.pcpu_alloc(8, 4)
    h.pcpu_alloc(40, 4)
    return h


def _first(h: Harness):  # type: ignore[no-untyped-def]
    return h.pcpu.pcpu_first_chunk


@pytest.mark.unit
@pytest.mark.parametrize(
    "prop,corrupt",
    [
        ("inv_areamap_areas", lambda c: c.map.__setitem__(c.map_used - 1, c.map[c.map_used - 1] ^ 1)),
        ("inv_areamap_contig_hint", lambda c: setattr(c, "contig_hint", 4)),
        ("inv_areamap_first_free", lambda c: setattr(c, "first_free", c.map_used)),
        ("inv_areamap_map_room", lambda c: setattr(c, "map_used", c.map_alloc)),
    ],
)
def test_areamap_property_bites(prop: str, corrupt) -> None:  # type: ignore[no-untyped-def]
    h = _fresh()
    assert h.violations == []
    corrupt(_first(h))
    assert prop in {v.prop for v in h.check(force=True)}
