"""The shipped ketamine models (pk/models.py, REFERENCE.md §4.2): names, sources, validity."""

from __future__ import annotations

import pytest

from ketaclinic.domain.errors import InvalidInput
from ketaclinic.domain.provenance import Tag
from ketaclinic.pk.models import MODELS, ModelParams, get_model


def test_the_models_are_exactly_the_six_named_in_the_design() -> None:
    assert list(MODELS) == ["domino", "clements", "hijazi", "kamp", "herd", "hornik"]


@pytest.mark.parametrize("name", list(MODELS))
def test_every_model_carries_citation_population_validity_and_provenance(name: str) -> None:
    model = get_model(name)
    assert model.name == name
    assert model.citation
    assert model.population
    assert model.provenance.reference
    low, high = model.validity.weight_kg
    assert 0 < low < high
    assert model.validity.provenance.reference


@pytest.mark.parametrize("name", [n for n in MODELS if n != "domino"])
def test_every_ke0_is_marked_as_an_assumption(name: str) -> None:
    model = get_model(name)
    assert model.ke0_per_min is not None
    assert model.ke0_provenance is not None
    assert model.ke0_provenance.tag is Tag.UNVERIFIED
    assert "assumed" in model.ke0_provenance.reference


def test_domino_has_no_effect_site() -> None:
    assert get_model("domino").parameters(70.0).params.ke0_per_min is None


@pytest.mark.parametrize(("name", "compartments"), [("domino", 3), ("kamp", 3), ("hijazi", 2)])
def test_compartment_counts(name: str, compartments: int) -> None:
    model = get_model(name)
    assert model.compartments == compartments
    assert model.parameters(70.0).params.compartments == compartments


def test_an_unknown_model_lists_the_known_names() -> None:
    with pytest.raises(InvalidInput) as caught:
        get_model("schnider")
    assert caught.value.field == "model"
    assert "domino, clements, hijazi, kamp, herd, hornik" in caught.value.message


@pytest.mark.parametrize("name", ["domino", "clements", "hijazi", "kamp"])
def test_an_adult_of_ordinary_weight_gets_no_warnings(name: str) -> None:
    assert get_model(name).parameters(70.0, age_years=40.0).warnings == ()


def test_a_weight_outside_the_validity_range_is_a_warning_not_an_error() -> None:
    result = get_model("kamp").parameters(160.0)
    assert len(result.warnings) == 1
    assert "160 kg" in result.warnings[0]
    assert "40–120 kg" in result.warnings[0]
    assert result.params.weight_kg == 160.0


def test_an_age_outside_the_validity_range_is_a_warning() -> None:
    warnings = get_model("hornik").parameters(30.0, age_years=40.0).warnings
    assert any("age 40 y" in w for w in warnings)


def test_paediatric_models_say_they_are_for_cross_checks_only() -> None:
    for name in ("herd", "hornik"):
        warnings = get_model(name).parameters(30.0, age_years=8.0).warnings
        assert any("cross-checks only" in w for w in warnings)


def test_hijazi_is_not_capped_below_18_years() -> None:
    """opentiva limits Hijazi to age < 18 despite its adult population (REFERENCE.md §4.2)."""
    assert get_model("hijazi").parameters(70.0, age_years=45.0).warnings == ()


@pytest.mark.parametrize("age", [-1.0, 130.0, float("nan")])
def test_an_impossible_age_is_bad_input(age: float) -> None:
    with pytest.raises(InvalidInput) as caught:
        get_model("kamp").parameters(70.0, age_years=age)
    assert caught.value.field == "age_years"


@pytest.mark.parametrize("weight", [0.0, -70.0, 700.0])
def test_an_impossible_weight_is_bad_input(weight: float) -> None:
    with pytest.raises(InvalidInput) as caught:
        get_model("domino").parameters(weight)
    assert caught.value.field == "weight_kg"


def test_rate_constants_round_trip_through_volumes_and_clearances() -> None:
    params = ModelParams.from_rate_constants("t", 70.0, 4.41, 0.4381, 0.5921, 0.2470, 0.59, 0.0146)
    # Two divisions and a multiplication each way: a few ulps.
    for got, want in zip(
        (params.k10, params.k12, params.k21, params.k13, params.k31),
        (0.4381, 0.5921, 0.2470, 0.59, 0.0146),
        strict=True,
    ):
        assert got == pytest.approx(want, rel=1e-14)


def test_kamp_clearances_are_converted_from_litres_per_hour() -> None:
    params = get_model("kamp").parameters(70.0).params
    assert params.cl_l_per_min == pytest.approx(84.0 / 60.0, rel=1e-15)
    assert params.q3_l_per_min == pytest.approx(79.0 / 60.0, rel=1e-15)


def test_allometric_clearance_scales_with_weight_to_the_three_quarters() -> None:
    light = get_model("herd").parameters(35.0).params
    typical = get_model("herd").parameters(70.0).params
    assert light.cl_l_per_min / typical.cl_l_per_min == pytest.approx(0.5**0.75, rel=1e-14)
    assert light.v1_l / typical.v1_l == pytest.approx(0.5, rel=1e-14)


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("v1_l", {"v1_l": -1.0}),
        ("cl_l_per_min", {"cl_l_per_min": 0.0}),
        ("q3_l_per_min/v3_l", {"q3_l_per_min": 1.0, "v3_l": 0.0}),
        ("ke0_per_min", {"ke0_per_min": -0.5}),
    ],
)
def test_parameter_invariants_are_checked(field: str, kwargs: dict[str, float]) -> None:
    base: dict[str, float] = {"v1_l": 10.0, "cl_l_per_min": 1.0, "q2_l_per_min": 1.0, "v2_l": 20.0}
    base.update(kwargs)
    with pytest.raises(InvalidInput) as caught:
        ModelParams(model="t", weight_kg=70.0, **base)
    assert caught.value.field == field
