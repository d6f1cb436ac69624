"""Monitoring reminders: NIBP every 10 min during the infusion, every 15 min after it
[cited: Riva-Posse 2018; design default]; a baseline once before the start."""

from __future__ import annotations

import datetime as dt

import pytest

from ketaclinic.domain.errors import InvalidInput
from ketaclinic.domain.monitoring import DEFAULT_PLAN, MonitoringStatus, reminders
from ketaclinic.domain.session_lifecycle import Phase
from ketaclinic.domain.vitals import VitalKind

T0 = dt.datetime(2026, 3, 2, 14, 0, tzinfo=dt.UTC)
SYS, DIA, HR, SPO2 = (
    VitalKind.BP_SYSTOLIC,
    VitalKind.BP_DIASTOLIC,
    VitalKind.HEART_RATE,
    VitalKind.SPO2,
)


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def all_at(minutes: float) -> dict[VitalKind, dt.datetime]:
    return {kind: at(minutes) for kind in (SYS, DIA, HR, SPO2)}


def due_keys(status: MonitoringStatus) -> set[str]:
    return {item.key for item in status.due_now}


def test_during_the_infusion_nibp_is_due_ten_minutes_after_the_last() -> None:
    last = all_at(20)
    before = reminders(Phase.INFUSION, at(29), last, infusion_started_at=at(0))
    on_time = reminders(Phase.INFUSION, at(30), last, infusion_started_at=at(0))

    assert due_keys(before) == set()
    assert before.next_due_at == at(30)
    assert due_keys(on_time) == {"nibp", "heart_rate", "spo2"}
    assert on_time.next_due_at is None  # nothing later than now is scheduled yet


def test_after_the_infusion_nibp_is_due_every_fifteen_minutes() -> None:
    last = all_at(50)
    status = reminders(Phase.POST_INFUSION, at(64), last, infusion_stopped_at=at(45))
    assert due_keys(status) == set()
    assert status.next_due_at == at(65)
    late = reminders(Phase.POST_INFUSION, at(70), last, infusion_stopped_at=at(45))
    nibp = next(i for i in late.items if i.key == "nibp")
    assert nibp.overdue_min == 5


def test_an_old_baseline_makes_the_first_reading_due_one_interval_after_the_start() -> None:
    baseline = all_at(-30)
    status = reminders(Phase.INFUSION, at(5), baseline, infusion_started_at=at(0))
    assert due_keys(status) == set()
    assert status.next_due_at == at(10)


def test_a_vital_never_measured_is_due_from_the_start_of_the_phase() -> None:
    status = reminders(Phase.INFUSION, at(3), {SYS: at(0), DIA: at(0)}, infusion_started_at=at(0))
    assert due_keys(status) == {"heart_rate", "spo2"}
    overdue = {i.key: i.overdue_min for i in status.due_now}
    assert overdue == {"heart_rate": 3, "spo2": 3}


def test_a_blood_pressure_needs_both_pressures() -> None:
    status = reminders(
        Phase.INFUSION, at(5), {SYS: at(4), HR: at(4), SPO2: at(4)}, infusion_started_at=at(0)
    )
    assert due_keys(status) == {"nibp"}


def test_before_the_start_each_baseline_vital_is_due_once() -> None:
    status = reminders(Phase.PRE_INFUSION, at(0), {HR: at(-2)})
    assert due_keys(status) == {"nibp", "spo2"}
    complete = reminders(Phase.PRE_INFUSION, at(30), all_at(-2))
    assert due_keys(complete) == set()
    assert complete.next_due_at is None


def test_nothing_is_due_once_the_session_is_closed() -> None:
    status = reminders(Phase.CLOSED, at(300), {})
    assert status.items == ()
    assert status.next_due_at is None


@pytest.mark.parametrize(
    ("phase", "missing"),
    [(Phase.INFUSION, "infusion_started_at"), (Phase.POST_INFUSION, "infusion_stopped_at")],
)
def test_a_phase_needs_its_start_time(phase: Phase, missing: str) -> None:
    with pytest.raises(InvalidInput, match=missing):
        reminders(phase, at(0), {})


def test_the_default_nibp_interval_names_its_source() -> None:
    nibp = next(r for r in DEFAULT_PLAN.rules if r.key == "nibp")
    assert nibp.every[Phase.INFUSION].value == 10
    assert nibp.every[Phase.POST_INFUSION].value == 15
    assert "Riva-Posse 2018" in nibp.every[Phase.INFUSION].provenance.reference
