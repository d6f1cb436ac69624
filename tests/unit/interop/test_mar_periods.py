"""Administration periods for export: one per stretch of constant rate, corrections applied,
pauses left out, cut where the bag ran empty, a running infusion left open."""

from __future__ import annotations

import datetime as dt

import pytest

from ketaclinic.domain.administration import (
    AdministrationRecord,
    Bolus,
    RateChange,
    StartInfusion,
)
from ketaclinic.domain.people import Role
from ketaclinic.domain.session_lifecycle import Actor
from ketaclinic.services.interop_mar import periods_of

T0 = dt.datetime(2026, 11, 2, 14, 0, tzinfo=dt.UTC)
NURSE = Actor(7, Role.NURSE)
# Periods are computed in float minutes; a microsecond is far below any charting precision.
TIME_TOLERANCE = dt.timedelta(microseconds=5)


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def started(volume_ml: float = 100.0, *, bolus: bool = False) -> AdministrationRecord:
    record = AdministrationRecord(bolus_allowed=bolus)
    dose = 0.4 * volume_ml
    return record.append(T0, NURSE, StartInfusion(dose, 0.4, volume_ml, 150.0, "LOT-1", "P-1"))


def test_a_running_infusion_ends_in_an_open_in_progress_period() -> None:
    record = started().append(at(10), NURSE, RateChange(120.0))
    periods, _ = periods_of(1, record, at(15))
    assert [p.status for p in periods] == ["completed", "in-progress"]
    assert periods[0].end == at(10)
    assert periods[1].end is None
    assert periods[1].dose_mg is None
    assert periods[1].rate_ml_per_h == pytest.approx(120.0, rel=1e-12)  # float round trip


def test_the_last_period_ends_where_the_bag_ran_empty() -> None:
    """20 mL at 150 mL/h empties after 8 minutes, though nobody charted a stop."""
    periods, _ = periods_of(1, started(volume_ml=20.0), at(60))
    (only,) = periods
    assert only.status == "completed"
    assert only.end is not None
    assert abs(only.end - at(8)) < TIME_TOLERANCE
    assert only.dose_mg == pytest.approx(8.0, rel=1e-9)  # the whole bag: 20 mL × 0.4 mg/mL


def test_a_correction_changes_the_exported_rate() -> None:
    record = started().append(at(10), NURSE, RateChange(120.0))
    record = record.correct(at(12), NURSE, 2, RateChange(130.0), "misread the pump")
    periods, _ = periods_of(1, record, at(20))
    assert [round(p.rate_ml_per_h) for p in periods] == [150, 130]


def test_a_bolus_is_reported_with_its_dose_and_lot() -> None:
    record = started(bolus=True).append(at(5), NURSE, Bolus(5.0))
    _, boluses = periods_of(1, record, at(6))
    (bolus,) = boluses
    assert bolus.dose_mg == 5.0
    assert bolus.lot == "LOT-1"
    assert abs(bolus.at - at(5)) < TIME_TOLERANCE


def test_a_record_that_never_started_has_no_periods() -> None:
    assert periods_of(1, AdministrationRecord(), at(5)) == ([], [])
