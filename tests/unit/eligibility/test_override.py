"""The prescriber override: needs_review may become eligible with a written reason; an
exclusion has no override."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from ketaclinic.domain.eligibility import Decision, evaluate, override_decision
from ketaclinic.domain.errors import (
    IllegalTransition,
    InvalidInput,
    LimitExceeded,
    PermissionDenied,
)
from ketaclinic.domain.intake import Condition, IntakeRecord
from ketaclinic.domain.people import Role, Sex

AT = dt.datetime(2026, 11, 20, 15, 30, tzinfo=dt.UTC)

CLEAN = IntakeRecord(
    assessment_date=dt.date(2026, 11, 20),
    age_years=42,
    sex=Sex.MALE,
    weight_kg=80.0,
    height_cm=175.0,
    trauma_date=dt.date(2024, 6, 1),
    pregnant=False,
    bp_systolic=125,
    bp_diastolic=80,
    heart_rate=70,
    spo2=98,
    pcl5=(2,) * 20,
    phq9=(0,) * 9,
    conditions=frozenset(),
    medications=(),
)
REVIEW = evaluate(dataclasses.replace(CLEAN, bp_systolic=150, phq9=(0,) * 8 + (1,)))
ABSOLUTE = evaluate(
    dataclasses.replace(CLEAN, conditions=frozenset({Condition.KETAMINE_HYPERSENSITIVITY}))
)


def test_prescriber_with_a_reason_turns_needs_review_into_eligible() -> None:
    assert REVIEW.decision is Decision.NEEDS_REVIEW
    signed = override_decision(
        REVIEW,
        role=Role.PRESCRIBER,
        reason="  Re-measured 132/84 after rest.  ",
        by_user_id=7,
        at=AT,
    )
    assert signed.decision is Decision.ELIGIBLE
    assert signed.original is REVIEW
    assert signed.reason == "Re-measured 132/84 after rest."
    assert signed.overridden_codes == ("bp_above_hold_limit", "phq9_item9_positive")
    assert (signed.by_user_id, signed.at) == (7, AT)


@pytest.mark.parametrize("role", [Role.NURSE, Role.FRONT_DESK, Role.DIRECTOR])
def test_only_a_prescriber_may_override(role: Role) -> None:
    with pytest.raises(PermissionDenied) as caught:
        override_decision(REVIEW, role=role, reason="fine", by_user_id=7, at=AT)
    assert role.value in caught.value.message


def test_an_absolute_contraindication_cannot_be_overridden() -> None:
    with pytest.raises(LimitExceeded) as caught:
        override_decision(
            ABSOLUTE, role=Role.PRESCRIBER, reason="benefit outweighs", by_user_id=7, at=AT
        )
    assert caught.value.field == "decision"
    assert "ketamine_hypersensitivity" in caught.value.message


def test_an_exclusion_for_blood_pressure_today_cannot_be_overridden() -> None:
    excluded = evaluate(dataclasses.replace(CLEAN, bp_systolic=185, bp_diastolic=95))
    with pytest.raises(LimitExceeded) as caught:
        override_decision(excluded, role=Role.PRESCRIBER, reason="anxious", by_user_id=7, at=AT)
    assert "bp_above_absolute_limit" in caught.value.message


def test_the_exclusion_is_named_even_beside_review_reasons() -> None:
    mixed = evaluate(
        dataclasses.replace(
            CLEAN,
            conditions=frozenset({Condition.STROKE_HISTORY, Condition.LIVER_DISEASE}),
        )
    )
    with pytest.raises(LimitExceeded) as caught:
        override_decision(mixed, role=Role.PRESCRIBER, reason="x", by_user_id=7, at=AT)
    assert "stroke_history" in caught.value.message
    assert "liver_disease" not in caught.value.message


def test_an_eligible_result_has_nothing_to_override() -> None:
    with pytest.raises(IllegalTransition):
        override_decision(evaluate(CLEAN), role=Role.PRESCRIBER, reason="x", by_user_id=7, at=AT)


@pytest.mark.parametrize("reason", ["", "   \n", "x" * 1001])
def test_the_override_needs_a_written_reason(reason: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        override_decision(REVIEW, role=Role.PRESCRIBER, reason=reason, by_user_id=7, at=AT)
    assert caught.value.field == "reason"


def test_the_override_time_must_be_timezone_aware() -> None:
    with pytest.raises(InvalidInput) as caught:
        override_decision(
            REVIEW,
            role=Role.PRESCRIBER,
            reason="ok",
            by_user_id=7,
            at=dt.datetime(2026, 11, 20, 15, 30),
        )
    assert caught.value.field == "at"
