"""Dose and pump rate (domain/dosing.py) against the worked examples of REFERENCE.md §3.4."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ketaclinic.domain.dosing import (
    BagPreparation,
    DilutionPreparation,
    StockPreparation,
    compute_dose,
    round_to_resolution,
)
from ketaclinic.domain.errors import InvalidInput
from ketaclinic.domain.weight import WeightBasis, dosing_weight

# The worked examples are exact decimal arithmetic; 1e-9 only absorbs binary floating point.
EXACT = 1e-9


def test_70_kg_at_half_a_mg_per_kg_is_35_mg() -> None:
    dose = compute_dose(dosing_weight(70.0), 0.5, 40.0, BagPreparation(100.0))
    assert dose.dose_mg == pytest.approx(35.0, abs=EXACT)


def test_35_mg_in_a_100_ml_bag_over_40_min_runs_at_150_ml_per_h() -> None:
    dose = compute_dose(dosing_weight(70.0), 0.5, 40.0, BagPreparation(100.0))
    assert dose.concentration_mg_per_ml == pytest.approx(0.35, abs=EXACT)
    assert dose.volume_ml == pytest.approx(100.0, abs=EXACT)
    assert dose.rate_ml_per_h == pytest.approx(150.0, abs=EXACT)
    assert dose.pump_rate_ml_per_h == 150.0
    assert dose.dose_error_mg == pytest.approx(0.0, abs=EXACT)


def test_at_1_mg_per_ml_the_dose_is_35_ml_at_52_5_ml_per_h() -> None:
    dose = compute_dose(dosing_weight(70.0), 0.5, 40.0, StockPreparation(1.0))
    assert dose.volume_ml == pytest.approx(35.0, abs=EXACT)
    assert dose.rate_ml_per_h == pytest.approx(52.5, abs=EXACT)
    assert dose.pump_rate_ml_per_h == 52.5


def test_drug_volume_added_to_the_bag_counts_in_the_final_volume() -> None:
    # 3.5 mL of 10 mg/mL added to 100 mL → 103.5 mL → 155.25 mL/h.
    dose = compute_dose(dosing_weight(70.0), 0.5, 40.0, DilutionPreparation(100.0, 10.0))
    assert dose.volume_ml == pytest.approx(103.5, abs=EXACT)
    assert dose.rate_ml_per_h == pytest.approx(155.25, abs=EXACT)
    assert dose.concentration_mg_per_ml == pytest.approx(35.0 / 103.5, abs=EXACT)


def test_the_pump_rate_rounds_half_up_and_shows_the_residual_dose_error() -> None:
    dose = compute_dose(dosing_weight(70.0), 0.5, 40.0, DilutionPreparation(100.0, 10.0))
    assert dose.pump_rate_ml_per_h == 155.3
    # 0.05 mL/h too fast for 40 min at 35/103.5 mg/mL.
    expected_error_mg = 0.05 * (40.0 / 60.0) * (35.0 / 103.5)
    assert dose.dose_error_mg == pytest.approx(expected_error_mg, abs=EXACT)
    assert dose.pump_duration_min == pytest.approx(60 * 103.5 / 155.3, abs=EXACT)
    assert dose.pump_duration_min < 40.0


def test_the_rate_in_mg_per_kg_per_h_of_the_standard_dose_is_0_75() -> None:
    dose = compute_dose(dosing_weight(70.0), 0.5, 40.0, BagPreparation(100.0))
    assert dose.rate_mg_per_kg_per_h == pytest.approx(0.75, abs=EXACT)
    assert dose.rate_mg_per_min == pytest.approx(35.0 / 40.0, abs=EXACT)


@pytest.mark.parametrize(
    ("basis", "dose_mg"),
    [(WeightBasis.ACTUAL, 50.0), (WeightBasis.IDEAL, 35.2), (WeightBasis.ADJUSTED, 41.1)],
)
def test_weight_basis_worked_example_doses(basis: WeightBasis, dose_mg: float) -> None:
    """REFERENCE.md §3.2: male, 175 cm, 100 kg at 0.5 mg/kg → 50.0 / 35.2 / 41.1 mg."""
    weight = dosing_weight(100.0, basis, height_cm=175.0, sex="male")
    dose = compute_dose(weight, 0.5, 40.0, BagPreparation(100.0))
    # The reference rounds to 0.1 mg.
    assert dose.dose_mg == pytest.approx(dose_mg, abs=0.05)
    assert dose.weight.basis is basis


@pytest.mark.parametrize(
    ("value", "resolution", "rounded"),
    [(155.25, 0.1, 155.3), (155.24, 0.1, 155.2), (52.5, 1.0, 53.0), (12.345, 0.01, 12.35)],
)
def test_rounding_to_pump_resolution_is_decimal_half_up(
    value: float, resolution: float, rounded: float
) -> None:
    assert round_to_resolution(value, resolution) == rounded


@pytest.mark.parametrize(
    ("kwargs", "field", "expected"),
    [
        ({"mg_per_kg": 0.0}, "mg_per_kg", "at most 10 mg/kg"),
        ({"mg_per_kg": 50.0}, "mg_per_kg", "at most 10 mg/kg"),
        ({"duration_min": 0.0}, "duration_min", "more than 0"),
        ({"duration_min": -40.0}, "duration_min", "more than 0"),
        ({"pump_resolution_ml_per_h": 0.0}, "pump_resolution_ml_per_h", "mL/h"),
    ],
)
def test_bad_dose_inputs_name_field_value_and_range(
    kwargs: dict[str, float], field: str, expected: str
) -> None:
    arguments: dict[str, float] = {"mg_per_kg": 0.5, "duration_min": 40.0}
    arguments.update(kwargs)
    resolution = arguments.pop("pump_resolution_ml_per_h", 0.1)
    with pytest.raises(InvalidInput) as caught:
        compute_dose(
            dosing_weight(70.0),
            arguments["mg_per_kg"],
            arguments["duration_min"],
            BagPreparation(100.0),
            pump_resolution_ml_per_h=resolution,
        )
    assert caught.value.field == field
    assert expected in caught.value.message
    assert repr(kwargs[next(iter(kwargs))]) in caught.value.message


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: BagPreparation(0.0), "final_volume_ml"),
        (lambda: BagPreparation(5000.0), "final_volume_ml"),
        (lambda: StockPreparation(0.0), "concentration_mg_per_ml"),
        (lambda: StockPreparation(150.0), "concentration_mg_per_ml"),
        (lambda: DilutionPreparation(100.0, -10.0), "stock_mg_per_ml"),
    ],
)
def test_impossible_preparations_are_bad_input(make: Callable[[], object], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        make()
    assert caught.value.field == field


def test_a_rate_below_one_pump_step_is_refused() -> None:
    # 0.01 mg/kg at 50 mg/mL over a day: 0.014 mL in 24 h rounds to 0 at 0.1 mL/h.
    with pytest.raises(InvalidInput) as caught:
        compute_dose(dosing_weight(70.0), 0.01, 1440.0, StockPreparation(50.0))
    assert caught.value.field == "rate_ml_per_h"
