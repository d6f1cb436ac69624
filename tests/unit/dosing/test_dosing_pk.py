"""Simulations for the API, the explorer and an order's plot (services/dosing_pk.py): bounds a
web worker can afford, the order as the pump runs it, and bad input named by field."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest

from ketaclinic.domain.drug_library import LimitLevel
from ketaclinic.domain.errors import InvalidInput
from ketaclinic.domain.weight import WeightBasis
from ketaclinic.pk.schedule import Bolus, Infusion, Schedule
from ketaclinic.services.dosing_pk import (
    MAX_POINTS,
    SimulationSpec,
    explore,
    order_prediction,
    order_schedule,
    run_simulation,
)
from ketaclinic.services.dosing_ports import DoseOrder, PreparationKind

T0 = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
STANDARD = SimulationSpec("kamp", 70.0, mg_per_kg=0.5, minutes=40.0)


def pump_order(pump_rate_ml_per_h: float, concentration: float, volume_ml: float) -> DoseOrder:
    pump_min = 60.0 * volume_ml / pump_rate_ml_per_h
    return DoseOrder(
        id=7,
        patient_id=1,
        site_id=1,
        protocol_id="default",
        measurement_id=1,
        actual_weight_kg=70.0,
        height_cm=None,
        weight_basis=WeightBasis.ACTUAL,
        dosing_weight_kg=70.0,
        ideal_weight_kg=None,
        adjusted_weight_kg=None,
        weight_provenance="",
        weight_warnings=(),
        weight_findings=(),
        weight_confirmed_by=None,
        weight_confirmed_at=None,
        mg_per_kg=0.5,
        duration_min=40.0,
        preparation=PreparationKind.BAG,
        preparation_volume_ml=volume_ml,
        preparation_mg_per_ml=None,
        pump_resolution_ml_per_h=0.1,
        dose_mg=concentration * volume_ml,
        concentration_mg_per_ml=concentration,
        volume_ml=volume_ml,
        rate_ml_per_h=pump_rate_ml_per_h,
        rate_mg_per_kg_per_h=0.75,
        pump_rate_ml_per_h=pump_rate_ml_per_h,
        pump_duration_min=pump_min,
        dose_error_mg=0.0,
        limit_level=LimitLevel.OK,
        limit_hits=(),
        prepared_by=1,
        prepared_at=T0,
    )


def test_a_single_curve_matches_the_published_fixture() -> None:
    run = run_simulation(dataclasses.replace(STANDARD, model="domino"))
    assert run.result is not None
    # Domino, 35 mg over 40 min at 70 kg: 240 ng/mL at 40 min (REFERENCE.md §4.4, ±1 ng/mL).
    at_40 = int(np.argmin(np.abs(run.result.times_min - 40.0)))
    assert run.result.plasma_ng_per_ml[at_40] == pytest.approx(240.0, abs=1.0)
    body = run.body()
    assert body["dose_mg"] == pytest.approx(35.0, abs=1e-9)  # 0.5 × 70, binary rounding only
    assert body["minutes"] == 40.0
    assert "never drives dosing" in body["note"]


def test_an_explicit_schedule_gives_the_same_curve_as_the_same_infusion() -> None:
    schedule = Schedule(infusions=(Infusion(0.0, 40.0, 35.0 / 40.0),))
    given = run_simulation(SimulationSpec("kamp", 70.0, schedule=schedule))
    standard = run_simulation(STANDARD)
    assert given.result is not None
    assert standard.result is not None
    # Identical inputs to the same exact solver: equal to rounding.
    np.testing.assert_allclose(
        given.result.plasma_ng_per_ml, standard.result.plasma_ng_per_ml, rtol=1e-12, atol=1e-12
    )
    assert given.body()["minutes"] is None
    assert given.body()["dose_mg"] == pytest.approx(35.0, rel=1e-12)


def test_a_population_reports_bands_instead_of_a_curve() -> None:
    run = run_simulation(dataclasses.replace(STANDARD, population=200, seed=3))
    body = run.body()
    assert set(body["plasma_percentiles_ng_per_ml"]) == {"5", "50", "95"}
    assert "plasma_ng_per_ml" not in body
    assert body["population"] == 200
    assert body["seed"] == 3


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"model": "propofol"}, "model"),
        ({"weight_kg": 700.0}, "weight_kg"),
        ({"weight_kg": 0.0}, "weight_kg"),
        ({"mg_per_kg": 50.0}, "mg_per_kg"),
        ({"mg_per_kg": -0.5}, "mg_per_kg"),
        ({"minutes": 0.0}, "duration_min"),
        ({"mg_per_kg": None}, "mg_per_kg"),
        ({"schedule": Schedule(boluses=(Bolus(0.0, 10.0),))}, "schedule"),
        ({"horizon_min": 1.0, "step_s": 120.0}, "step_s"),
        ({"step_s": 5e-324}, "step_s"),
        ({"step_s": 0.1}, "step_s"),
        ({"population": 0}, "population"),
        ({"population": 10**9}, "population"),
        ({"population": 10_000, "step_s": 1.0}, "population"),
        ({"population": 10, "seed": -1}, "seed"),
    ],
)
def test_bad_input_is_refused_naming_the_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        run_simulation(dataclasses.replace(STANDARD, **changes))
    assert refused.value.field == field


def test_the_point_limit_allows_a_one_second_grid_over_the_standard_infusion() -> None:
    # DESIGN.md §5: a 40-min infusion + 4 h on a 1-s grid is 16,801 points.
    run = run_simulation(dataclasses.replace(STANDARD, step_s=1.0))
    assert run.result is not None
    assert run.result.times_min.shape[0] == 16_801 <= MAX_POINTS


def test_an_order_runs_at_its_pump_rate_until_its_volume_is_in() -> None:
    # 155.3 mL/h for 103.5 mL at 35/103.5 mg/mL (REFERENCE.md §3.4's dilution example).
    order = pump_order(155.3, 35.0 / 103.5, 103.5)
    schedule = order_schedule(order)
    (infusion,) = schedule.infusions
    assert infusion.end_min == pytest.approx(60 * 103.5 / 155.3, rel=1e-12)
    # The whole prepared dose is given, however the rate was rounded.
    assert schedule.total_dose_mg == pytest.approx(35.0, rel=1e-12)


def test_an_orders_prediction_carries_a_band_and_the_models_warnings() -> None:
    prediction = order_prediction(pump_order(150.0, 0.35, 100.0), "herd", 45.0)
    assert prediction.bands.n_patients == 1000
    assert any("paediatric" in w for w in prediction.warnings)
    assert any("age 45 y is outside" in w for w in prediction.warnings)
    again = order_prediction(pump_order(150.0, 0.35, 100.0), "herd", 45.0)
    # The seed is the order id: the same order always draws the same band.
    np.testing.assert_array_equal(prediction.bands.band(95.0), again.bands.band(95.0))


def test_the_explorer_gives_a_curve_and_a_band_on_the_same_grid() -> None:
    run, bands = explore("clements", 70.0, 0.5, 40.0, 40.0)
    assert run.result is not None
    np.testing.assert_array_equal(run.result.times_min, bands.times_min)
    # The typical curve lies within the population's 5–95 % band at every time after the
    # start, since it is the curve of the median parameters (tolerance: float32 band storage).
    inside = (bands.band(5.0) <= run.result.plasma_ng_per_ml * (1 + 1e-5)) & (
        run.result.plasma_ng_per_ml <= bands.band(95.0) * (1 + 1e-5)
    )
    assert inside[1:].all()
