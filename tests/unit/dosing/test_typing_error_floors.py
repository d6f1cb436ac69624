"""Positive but absurdly small inputs are typing errors: refused by name, never an overflow."""

from __future__ import annotations

import pytest

from ketaclinic.domain.dosing import StockPreparation, check_duration_min, check_mg_per_kg
from ketaclinic.domain.errors import InvalidInput
from ketaclinic.pk.schedule import time_grid


def test_a_denormal_concentration_is_refused_by_name() -> None:
    with pytest.raises(
        InvalidInput, match=r"concentration_mg_per_ml: got 5e-324, expected at least"
    ):
        StockPreparation(5e-324)


def test_a_duration_far_below_a_minute_is_refused() -> None:
    with pytest.raises(InvalidInput, match="duration_min"):
        check_duration_min(1e-70)


def test_a_tiny_dose_per_kg_is_refused() -> None:
    with pytest.raises(InvalidInput, match="mg_per_kg"):
        check_mg_per_kg(1e-9)


def test_a_denormal_grid_step_is_refused_instead_of_overflowing() -> None:
    with pytest.raises(InvalidInput, match="step_s"):
        time_grid(280.0, 5e-324)
