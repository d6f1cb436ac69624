"""Turning form and JSON fields into a dose (services/dosing_calc.py): exactly one preparation,
and numbers that can only be typing errors refused by name before any arithmetic."""

from __future__ import annotations

import pytest

from ketaclinic.domain.dosing import BagPreparation, DilutionPreparation, StockPreparation
from ketaclinic.domain.errors import InvalidInput
from ketaclinic.domain.weight import dosing_weight
from ketaclinic.services.dosing_calc import checked_compute_dose, preparation_from


def test_each_preparation_is_built_from_its_own_fields() -> None:
    assert preparation_from(bag_ml=100.0) == BagPreparation(100.0)
    assert preparation_from(concentration_mg_per_ml=1.0) == StockPreparation(1.0)
    assert preparation_from(diluent_ml=100.0, stock_mg_per_ml=10.0) == DilutionPreparation(
        100.0, 10.0
    )


@pytest.mark.parametrize(
    ("given", "field"),
    [
        ({}, "preparation"),
        ({"bag_ml": 100.0, "concentration_mg_per_ml": 1.0}, "preparation"),
        ({"diluent_ml": 100.0}, "stock_mg_per_ml"),
        ({"stock_mg_per_ml": 10.0}, "diluent_ml"),
        ({"bag_ml": 0.5}, "final_volume_ml"),
    ],
)
def test_not_exactly_one_preparation_is_refused(given: dict[str, float], field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        preparation_from(**given)
    assert refused.value.field == field


def test_an_ordinary_dose_is_computed_as_the_core_computes_it() -> None:
    dose = checked_compute_dose(dosing_weight(70.0), 0.5, 40.0, BagPreparation(100.0))
    assert dose.pump_rate_ml_per_h == 150.0  # REFERENCE.md §3.4


@pytest.mark.parametrize(
    ("mg_per_kg", "minutes", "concentration", "step", "field"),
    [
        # A vanishing concentration would make an infinite volume: refused by name.
        (1.0, 1.0, 5e-324, 0.1, "concentration_mg_per_ml"),
        (1.0, 40.0, 1e-6, 0.1, "concentration_mg_per_ml"),
        (5e-324, 40.0, None, 0.1, "mg_per_kg"),
        (0.5, 1e-70, None, 0.1, "duration_min"),
        (0.5, 0.5, None, 0.1, "duration_min"),
        (0.5, 40.0, None, 1e-300, "pump_resolution_ml_per_h"),
        (0.5, 40.0, None, float("nan"), "pump_resolution_ml_per_h"),
    ],
)
def test_typing_errors_are_refused_before_the_arithmetic(
    mg_per_kg: float, minutes: float, concentration: float | None, step: float, field: str
) -> None:
    def dose() -> object:
        preparation = (
            BagPreparation(100.0) if concentration is None else StockPreparation(concentration)
        )
        return checked_compute_dose(
            dosing_weight(35.0), mg_per_kg, minutes, preparation, pump_resolution_ml_per_h=step
        )

    with pytest.raises(InvalidInput) as refused:
        dose()
    assert refused.value.field == field
