"""Weight basis (Devine IBW, AdjBW) and plausibility checks (domain/weight.py, REFERENCE §3.2)."""

from __future__ import annotations

import pytest

from ketaclinic.domain.errors import InvalidInput
from ketaclinic.domain.provenance import Tag, Threshold, design
from ketaclinic.domain.weight import (
    DEFAULT_WEIGHT_POLICY,
    WeightBasis,
    WeightFindingCode,
    WeightPolicy,
    adjusted_body_weight_kg,
    check_plausibility,
    dosing_weight,
    ideal_body_weight_kg,
    parse_basis,
)

# REFERENCE.md §3.2 rounds the worked example to 0.1 kg; half of that is the honest tolerance.
ROUNDING_KG = 0.05


def test_devine_ideal_weight_of_a_175_cm_man_is_70_5_kg() -> None:
    assert ideal_body_weight_kg(175.0, "male") == pytest.approx(70.5, abs=ROUNDING_KG)


def test_devine_base_for_women_is_45_5_kg_at_152_4_cm() -> None:
    # 45.5 kg exactly at the base height: nothing to round.
    assert ideal_body_weight_kg(152.4, "female") == pytest.approx(45.5, abs=1e-12)


def test_adjusted_weight_of_the_worked_example_is_82_3_kg() -> None:
    ideal = ideal_body_weight_kg(175.0, "male")
    assert adjusted_body_weight_kg(100.0, ideal) == pytest.approx(82.3, abs=ROUNDING_KG)


@pytest.mark.parametrize(
    ("basis", "kg"),
    [(WeightBasis.ACTUAL, 100.0), (WeightBasis.IDEAL, 70.5), (WeightBasis.ADJUSTED, 82.3)],
)
def test_each_basis_picks_its_weight(basis: WeightBasis, kg: float) -> None:
    weight = dosing_weight(100.0, basis, height_cm=175.0, sex="male")
    assert weight.basis is basis
    assert weight.dosing_kg == pytest.approx(kg, abs=ROUNDING_KG)
    assert weight.actual_kg == 100.0


def test_actual_basis_needs_no_height_and_cites_the_trials() -> None:
    weight = dosing_weight(80.0)
    assert weight.dosing_kg == 80.0
    assert weight.ideal_kg is None
    assert weight.provenance.tag is Tag.CITED


def test_ideal_and_adjusted_formulas_are_marked_unverified() -> None:
    for basis in (WeightBasis.IDEAL, WeightBasis.ADJUSTED):
        weight = dosing_weight(100.0, basis, height_cm=175.0, sex="male")
        assert weight.provenance.tag is Tag.UNVERIFIED


def test_ideal_basis_without_height_names_the_missing_field() -> None:
    with pytest.raises(InvalidInput) as caught:
        dosing_weight(100.0, "ideal", sex="male")
    assert caught.value.field == "height_cm"
    assert "ideal" in caught.value.message


def test_adjusted_basis_without_sex_names_the_missing_field() -> None:
    with pytest.raises(InvalidInput) as caught:
        dosing_weight(100.0, WeightBasis.ADJUSTED, height_cm=175.0)
    assert caught.value.field == "sex"


def test_devine_refuses_a_sex_it_has_no_formula_for() -> None:
    with pytest.raises(InvalidInput) as caught:
        ideal_body_weight_kg(170.0, "other")
    assert caught.value.field == "sex"
    assert "'other'" in caught.value.message


def test_ideal_weight_above_actual_is_warned_about() -> None:
    weight = dosing_weight(55.0, WeightBasis.IDEAL, height_cm=185.0, sex="male")
    assert weight.dosing_kg > weight.actual_kg
    assert any("exceeds actual weight" in w for w in weight.warnings)


def test_no_warning_when_ideal_weight_is_below_actual() -> None:
    weight = dosing_weight(100.0, WeightBasis.IDEAL, height_cm=175.0, sex="male")
    assert weight.warnings == ()


def test_an_unknown_basis_lists_the_choices() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_basis("lean")
    assert caught.value.field == "basis"
    assert "actual, ideal, adjusted" in caught.value.message


@pytest.mark.parametrize("weight", [0.0, -5.0, 700.0, float("nan"), float("inf")])
def test_impossible_weights_are_bad_input_naming_value_and_range(weight: float) -> None:
    with pytest.raises(InvalidInput) as caught:
        dosing_weight(weight)
    assert caught.value.field == "weight_kg"
    assert "2–350 kg" in caught.value.message
    assert repr(weight) in caught.value.message


def test_an_impossible_height_is_bad_input() -> None:
    with pytest.raises(InvalidInput) as caught:
        dosing_weight(80.0, "ideal", height_cm=30.0, sex="female")
    assert caught.value.field == "height_cm"


# --- plausibility ---------------------------------------------------------------------------


def codes(weight: float, previous: float | None = None) -> list[WeightFindingCode]:
    return [f.code for f in check_plausibility(weight, previous)]


def test_an_ordinary_weight_has_no_findings() -> None:
    assert codes(72.0, 70.0) == []


def test_a_weight_above_the_plausible_maximum_is_found() -> None:
    assert codes(300.0) == [WeightFindingCode.ABOVE_PLAUSIBLE]


def test_a_weight_below_the_plausible_minimum_is_found() -> None:
    assert codes(30.0) == [WeightFindingCode.BELOW_PLAUSIBLE]


def test_pounds_typed_as_kilograms_are_recognised() -> None:
    # 70 kg is 154.3 lb; a nurse typing 154 into the kg field.
    assert codes(154.0, 70.0) == [WeightFindingCode.LIKELY_POUNDS]


def test_a_previous_weight_in_pounds_is_recognised() -> None:
    assert codes(70.0, 154.3) == [WeightFindingCode.LIKELY_PREVIOUS_POUNDS]


def test_a_large_change_since_the_last_visit_is_found_with_its_size() -> None:
    findings = check_plausibility(80.0, 70.0)
    assert [f.code for f in findings] == [WeightFindingCode.LARGE_CHANGE]
    assert "+14.3 %" in findings[0].message
    assert findings[0].previous_weight_kg == 70.0


def test_a_change_at_exactly_the_limit_is_not_large() -> None:
    assert codes(77.0, 70.0) == []


def test_every_finding_blocks_dosing_and_has_a_source() -> None:
    for finding in check_plausibility(20.0, 44.0) + check_plausibility(154.0, 70.0):
        assert finding.blocks_dosing
        assert finding.provenance.reference


def test_a_clinic_may_allow_larger_changes() -> None:
    policy = WeightPolicy(
        plausible_min_kg=DEFAULT_WEIGHT_POLICY.plausible_min_kg,
        plausible_max_kg=DEFAULT_WEIGHT_POLICY.plausible_max_kg,
        max_change_percent=Threshold("weight.max_change_percent", 20.0, "%", design("clinic")),
        unit_mixup_tolerance_percent=DEFAULT_WEIGHT_POLICY.unit_mixup_tolerance_percent,
    )
    assert check_plausibility(80.0, 70.0, policy) == ()


def test_default_plausibility_settings_are_design_defaults() -> None:
    policy = DEFAULT_WEIGHT_POLICY
    for threshold in (
        policy.plausible_min_kg,
        policy.plausible_max_kg,
        policy.max_change_percent,
        policy.unit_mixup_tolerance_percent,
    ):
        assert threshold.provenance.tag is Tag.DESIGN


def test_a_policy_with_min_above_max_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        WeightPolicy(
            plausible_min_kg=Threshold("min", 200.0, "kg", design("x")),
            plausible_max_kg=Threshold("max", 100.0, "kg", design("x")),
            max_change_percent=DEFAULT_WEIGHT_POLICY.max_change_percent,
            unit_mixup_tolerance_percent=DEFAULT_WEIGHT_POLICY.unit_mixup_tolerance_percent,
        )
    assert caught.value.field == "plausible_min_kg"


def test_an_impossible_previous_weight_is_bad_input() -> None:
    with pytest.raises(InvalidInput) as caught:
        check_plausibility(70.0, 0.0)
    assert caught.value.field == "previous_weight_kg"
