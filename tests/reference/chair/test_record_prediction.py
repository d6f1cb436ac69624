"""The predicted concentration of an administration record as charted, against REFERENCE.md §4.4.

Fixture [derived: exact solution, §4.2 parameters]: 35 mg over 40 min at 70 kg with the Kamp 2020
model gives Cp 253, 96, 50, 26 ng/mL at 40, 60, 120, 240 min. The table is rounded to whole
ng/mL, so ±1 ng/mL is the tolerance (REFERENCE.md §4.4: "unit tests (±1 ng/mL)").
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from ketaclinic.domain.administration import (
    AdministrationRecord,
    Pause,
    Resume,
    StartInfusion,
    Stop,
)
from ketaclinic.domain.people import Role
from ketaclinic.domain.session_lifecycle import Actor
from ketaclinic.pk.models import get_model
from ketaclinic.pk.schedule import Schedule
from ketaclinic.pk.simulate import simulate
from ketaclinic.services.chair_pk import predict

NURSE = Actor(1, Role.NURSE)
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def charted_40_minutes() -> AdministrationRecord:
    # 35 mg in 100 mL (0.35 mg/mL) at 150 mL/h runs the bag in exactly 40 minutes.
    record = AdministrationRecord().append(T0, NURSE, StartInfusion(35, 0.35, 100, 150, "L", "P"))
    return record.append(at(40), NURSE, Stop("infusion complete"))


@pytest.mark.parametrize(("t_min", "expected"), [(40, 253), (60, 96), (120, 50), (240, 26)])
def test_the_record_of_35_mg_over_40_min_matches_the_kamp_fixture(
    t_min: float, expected: float
) -> None:
    prediction = predict(charted_40_minutes(), 70.0, at(t_min), model="kamp")
    assert prediction is not None
    assert prediction.now_ng_per_ml == pytest.approx(expected, abs=1.0)


def test_a_paused_record_is_simulated_exactly_as_its_delivered_schedule() -> None:
    """Pausing moves drug later but the prediction is the exact solution of the delivered
    segments: the same as simulating those segments directly (agreement to float rounding)."""
    record = AdministrationRecord().append(T0, NURSE, StartInfusion(35, 0.35, 100, 150, "L", "P"))
    record = record.append(at(20), NURSE, Pause("break"))
    record = record.append(at(30), NURSE, Resume())
    record = record.append(at(50), NURSE, Stop("infusion complete"))
    prediction = predict(record, 70.0, at(90), model="kamp")
    assert prediction is not None
    direct = simulate(
        get_model("kamp").parameters(70.0).params,
        Schedule.from_segments([(0, 20, 35 / 40), (30, 50, 35 / 40)]),
        prediction.result.times_min,
    )
    np.testing.assert_allclose(
        prediction.result.plasma_ng_per_ml, direct.plasma_ng_per_ml, rtol=1e-12, atol=1e-9
    )
    assert prediction.result.schedule.total_dose_mg == pytest.approx(35.0, rel=1e-12)


def test_no_prediction_before_the_start_or_without_a_weight() -> None:
    assert predict(AdministrationRecord(), 70.0, T0) is None
    assert predict(charted_40_minutes(), None, at(50)) is None
