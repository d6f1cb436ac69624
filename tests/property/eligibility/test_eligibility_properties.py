"""Properties of the eligibility engine over generated intake records: the decision is the worst
of the reasons, and more conditions or higher blood pressure never improve it."""

from __future__ import annotations

import dataclasses
import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from ketaclinic.domain.eligibility import Action, Decision, EligibilityResult, evaluate
from ketaclinic.domain.intake import Condition, IntakeRecord
from ketaclinic.domain.people import Sex


@st.composite
def records(draw: st.DrawFn) -> IntakeRecord:
    assessment = draw(st.dates(dt.date(2020, 1, 1), dt.date(2026, 11, 24)))
    age = draw(st.integers(15, 90))
    # Events from the day of the assessment back to ten years, so both sides of the one-month
    # boundary are drawn often.
    trauma = assessment - dt.timedelta(days=draw(st.integers(0, min(3650, 365 * age))))
    diastolic = draw(st.integers(40, 130))
    systolic = draw(st.integers(max(diastolic + 1, 80), 230))
    return IntakeRecord(
        assessment_date=assessment,
        age_years=age,
        sex=draw(st.sampled_from(Sex)),
        weight_kg=draw(st.floats(40, 200)),
        height_cm=draw(st.floats(140, 210)),
        trauma_date=trauma,
        pregnant=draw(st.booleans()),
        bp_systolic=systolic,
        bp_diastolic=diastolic,
        heart_rate=draw(st.integers(40, 150)),
        spo2=draw(st.integers(85, 100)),
        pcl5=tuple(draw(st.lists(st.integers(0, 4), min_size=20, max_size=20))),
        phq9=tuple(draw(st.lists(st.integers(0, 3), min_size=9, max_size=9))),
        conditions=frozenset(draw(st.sets(st.sampled_from(Condition), max_size=4))),
        medications=(),
    )


def worst(result: EligibilityResult) -> Decision:
    if any(reason.action is Action.EXCLUDE for reason in result.reasons):
        return Decision.EXCLUDED
    if result.reasons:
        return Decision.NEEDS_REVIEW
    return Decision.ELIGIBLE


@given(records())
def test_decision_is_the_worst_of_the_reasons(record: IntakeRecord) -> None:
    result = evaluate(record)
    assert result.decision is worst(result)
    assert (result.decision is Decision.ELIGIBLE) == (result.reasons == ())


@given(records())
def test_every_reason_names_code_message_and_source(record: IntakeRecord) -> None:
    for reason in evaluate(record).as_dict()["reasons"]:
        assert reason["code"]
        assert reason["message"]
        assert reason["source"].startswith("[")


@given(records(), st.sampled_from(Condition))
def test_adding_a_condition_never_improves_the_decision(
    record: IntakeRecord, condition: Condition
) -> None:
    before = evaluate(record)
    after = evaluate(dataclasses.replace(record, conditions=record.conditions | {condition}))
    assert after.decision.severity >= before.decision.severity
    assert {r.code for r in before.reasons} <= {r.code for r in after.reasons}


@given(records(), st.integers(0, 60), st.integers(0, 40))
def test_higher_blood_pressure_never_improves_the_decision(
    record: IntakeRecord, extra_systolic: int, extra_diastolic: int
) -> None:
    diastolic = min(record.bp_diastolic + extra_diastolic, 199)
    systolic = min(max(record.bp_systolic + extra_systolic, diastolic + 1), 300)
    higher = dataclasses.replace(record, bp_systolic=systolic, bp_diastolic=diastolic)
    assert evaluate(higher).decision.severity >= evaluate(record).decision.severity


@given(records())
def test_evaluation_is_deterministic(record: IntakeRecord) -> None:
    assert evaluate(record) == evaluate(record)
