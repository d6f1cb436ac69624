"""The intake's baseline answers feed measurement-based care: PCL-5, PHQ-9 and the optional
GAD-7 are stored as questionnaire responses of source ``intake``, a PHQ-9 item 9 of 1 or more
raises the same-day safety task, and the scores count in the patient's outcomes. The clock
stands on Monday 2026-11-23, 07:00 in Miami (conftest.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from ketaclinic.domain.errors import InvalidInput
from ketaclinic.services import mbc
from ketaclinic.services.mbc_model import ResponseSource


def responses(clinic, mrn: str = "P-1"):
    with clinic.uow() as uow:
        return uow.responses.for_patient(clinic.patients[mrn])


def tasks(clinic, mrn: str = "P-1"):
    with clinic.uow() as uow:
        return uow.safety_tasks.for_patient(clinic.patients[mrn])


def test_item_9_at_intake_raises_the_same_day_safety_task(clinic) -> None:
    stored = clinic.record(assessment_date="2026-11-23", phq9=[1] * 8 + [2])
    assert "phq9_item9_positive" in {r.code for r in stored.reasons}  # eligibility, as before
    (task,) = tasks(clinic)
    assert task.reason == "phq9_item9_positive"
    assert task.is_open
    assert task.due_at == dt.datetime(2026, 11, 24, 5, 0, tzinfo=dt.UTC)  # midnight in Miami
    phq9 = next(r for r in responses(clinic) if r.instrument_id == "phq9")
    assert task.response_id == phq9.id
    assert phq9.source is ResponseSource.INTAKE
    assert phq9.completed_at == clinic.clock.now()


def test_no_task_without_item_9_and_the_baseline_is_stored_as_intake_responses(clinic) -> None:
    clinic.record(assessment_date="2026-11-23")
    assert tasks(clinic) == []
    found = {r.instrument_id: r for r in responses(clinic)}
    assert set(found) == {"pcl5", "phq9"}
    assert (found["pcl5"].total, found["phq9"].total) == (40, 8)
    assert {r.source for r in found.values()} == {ResponseSource.INTAKE}
    assert found["pcl5"].entered_by == clinic.actor("nurse.mia").principal.user_id


def test_gad7_is_an_optional_part_of_the_intake(clinic) -> None:
    clinic.record(gad7=[1, 2, 3, 0, 1, 2, 3])
    gad7 = next(r for r in responses(clinic) if r.instrument_id == "gad7")
    assert gad7.total == 12
    assert gad7.severity == "moderate"


@pytest.mark.parametrize(
    ("gad7", "field"),
    [([1] * 6, "gad7"), ([1, 1, 1, 4, 1, 1, 1], "gad7[3]"), ("lots", "gad7")],
)
def test_a_bad_gad7_is_refused_by_name_and_nothing_is_stored(clinic, gad7, field) -> None:
    with pytest.raises(InvalidInput) as refused:
        clinic.record(gad7=gad7)
    assert refused.value.field == field
    assert responses(clinic) == []
    with clinic.uow() as uow:
        assert uow.intake.intakes(clinic.patients["P-1"]) == []


def test_a_back_dated_intake_dates_its_scores_on_the_assessment_day(clinic) -> None:
    clinic.record(assessment_date="2026-11-20")  # a Friday intake typed in on Monday
    pcl5 = next(r for r in responses(clinic) if r.instrument_id == "pcl5")
    # Friday at the site-local time of recording (07:00 in Miami).
    assert pcl5.completed_at == dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
    with clinic.uow() as uow:
        view = mbc.patient_outcomes(
            uow, clinic.clock, clinic.actor("nurse.mia"), clinic.patients["P-1"]
        )
    assert view.outcome is not None
    assert (view.outcome.baseline.on, view.outcome.baseline.total) == (dt.date(2026, 11, 20), 40)


def test_two_intakes_of_one_day_keep_both_baselines_in_order(clinic) -> None:
    clinic.record(assessment_date="2026-11-20", pcl5=[1] * 20)
    clinic.record(assessment_date="2026-11-20", pcl5=[3] * 20)
    totals = [r.total for r in responses(clinic) if r.instrument_id == "pcl5"]
    assert totals == [20, 60]  # the later intake is the later score of the day
