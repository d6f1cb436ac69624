"""Properties of the dose formulas (REFERENCE.md §3.4), limits and weight checks."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ketaclinic.domain.dosing import (
    BagPreparation,
    DilutionPreparation,
    Preparation,
    StockPreparation,
    compute_dose,
)
from ketaclinic.domain.drug_library import (
    LimitLevel,
    Quantity,
    evaluate,
    evaluate_values,
    limits_for,
)
from ketaclinic.domain.errors import InvalidInput
from ketaclinic.domain.weight import LB_PER_KG, WeightFindingCode, check_plausibility, dosing_weight

# Each identity below is a handful of floating-point operations: 1e-12 relative is far above
# their rounding error and far below any clinically visible difference.
REL = 1e-12

weights = st.floats(min_value=35.0, max_value=200.0)
doses = st.floats(min_value=0.05, max_value=2.0)
durations = st.floats(min_value=10.0, max_value=240.0)
preparations: st.SearchStrategy[Preparation] = st.one_of(
    st.builds(BagPreparation, st.floats(min_value=20.0, max_value=1000.0)),
    st.builds(StockPreparation, st.floats(min_value=0.5, max_value=10.0)),
    st.builds(
        DilutionPreparation,
        st.floats(min_value=50.0, max_value=500.0),
        st.sampled_from([10.0, 50.0, 100.0]),
    ),
)


@given(weights, doses, durations, preparations)
def test_the_dose_formulas_are_consistent(
    weight_kg: float, mg_per_kg: float, minutes: float, preparation: Preparation
) -> None:
    dose = compute_dose(dosing_weight(weight_kg), mg_per_kg, minutes, preparation)
    assert dose.dose_mg == pytest.approx(mg_per_kg * weight_kg, rel=REL)
    assert dose.concentration_mg_per_ml * dose.volume_ml == pytest.approx(dose.dose_mg, rel=REL)
    assert dose.rate_ml_per_h * minutes / 60 == pytest.approx(dose.volume_ml, rel=REL)
    assert dose.rate_mg_per_kg_per_h == pytest.approx(mg_per_kg * 60 / minutes, rel=REL)


@given(weights, doses, durations, preparations, st.sampled_from([0.01, 0.1, 0.5, 1.0]))
def test_the_pump_rate_is_within_half_a_step_of_the_exact_rate(
    weight_kg: float, mg_per_kg: float, minutes: float, preparation: Preparation, step: float
) -> None:
    weight = dosing_weight(weight_kg)
    exact = compute_dose(weight, mg_per_kg, minutes, preparation, pump_resolution_ml_per_h=1e-6)
    if exact.rate_ml_per_h < step / 2:  # rounds to zero: refused rather than programmed as 0
        with pytest.raises(InvalidInput):
            compute_dose(weight, mg_per_kg, minutes, preparation, pump_resolution_ml_per_h=step)
        return
    dose = compute_dose(weight, mg_per_kg, minutes, preparation, pump_resolution_ml_per_h=step)
    # Half a step, plus a hair for the decimal-to-binary conversion of the result.
    assert abs(dose.pump_rate_ml_per_h - dose.rate_ml_per_h) <= step / 2 + 1e-9
    steps = dose.pump_rate_ml_per_h / step
    assert steps == pytest.approx(round(steps), abs=1e-6)


@given(weights, doses, durations, st.floats(min_value=20.0, max_value=1000.0))
def test_in_a_fixed_bag_the_rate_depends_on_volume_and_time_only(
    weight_kg: float, mg_per_kg: float, minutes: float, bag_ml: float
) -> None:
    one = compute_dose(dosing_weight(weight_kg), mg_per_kg, minutes, BagPreparation(bag_ml))
    two = compute_dose(dosing_weight(weight_kg), mg_per_kg * 2, minutes, BagPreparation(bag_ml))
    assert two.rate_ml_per_h == pytest.approx(one.rate_ml_per_h, rel=REL)
    assert two.concentration_mg_per_ml == pytest.approx(2 * one.concentration_mg_per_ml, rel=REL)


@given(weights, doses, doses, durations)
def test_a_larger_dose_never_lowers_the_limit_level(
    weight_kg: float, a: float, b: float, minutes: float
) -> None:
    order = {LimitLevel.OK: 0, LimitLevel.SOFT: 1, LimitLevel.HARD: 2}
    limits = limits_for("feder-2021")
    low, high = sorted((a, b))
    levels = [
        evaluate(
            limits, compute_dose(dosing_weight(weight_kg), d, minutes, BagPreparation(100.0))
        ).level
        for d in (low, high)
    ]
    assert order[levels[0]] <= order[levels[1]]


@given(st.floats(min_value=20.0, max_value=150.0))
def test_a_previous_weight_times_2_2046_is_always_flagged_as_pounds(previous_kg: float) -> None:
    codes = [f.code for f in check_plausibility(previous_kg * LB_PER_KG, previous_kg)]
    assert WeightFindingCode.LIKELY_POUNDS in codes


@given(st.floats(min_value=40.0, max_value=200.0), st.floats(min_value=-0.099, max_value=0.099))
def test_a_change_under_ten_percent_is_never_a_finding(previous_kg: float, change: float) -> None:
    assert check_plausibility(previous_kg * (1 + change), previous_kg) == ()


@given(st.floats(min_value=35.0, max_value=200.0))
def test_the_standard_programme_read_back_at_the_chair_stays_within_the_limits(
    weight_kg: float,
) -> None:
    """0.5 mg/kg over 40 min in a 100 mL bag, as the chair checks it from the pump's programme
    (mg/kg/h = mL/h x mg/mL / kg): rounding in that product never asks for an override."""
    dose = compute_dose(dosing_weight(weight_kg), 0.5, 40.0, BagPreparation(100.0))
    concentration = dose.concentration_mg_per_ml
    rate = dose.pump_rate_ml_per_h * concentration / weight_kg
    evaluation = evaluate_values(
        limits_for("feder-2021"),
        {Quantity.RATE_MG_PER_KG_PER_H: rate, Quantity.DOSE_MG_PER_KG: dose.dose_mg / weight_kg},
    )
    assert evaluation.level is LimitLevel.OK, evaluation.hits


@given(st.floats(min_value=1e-6, max_value=0.5))
def test_a_rate_above_the_soft_limit_by_a_real_amount_still_needs_an_override(
    excess: float,
) -> None:
    """The rounding allowance is far below anything a pump can deliver: a millionth above the
    0.75 mg/kg/h soft limit is already beyond it."""
    evaluation = evaluate_values(
        limits_for("feder-2021"), {Quantity.RATE_MG_PER_KG_PER_H: 0.75 * (1.0 + excess)}
    )
    assert evaluation.level is not LimitLevel.OK
