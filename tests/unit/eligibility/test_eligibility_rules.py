"""The eligibility engine rule by rule: REFERENCE.md §2 contraindications, §5 baseline limits
(resting BP 140/90 hold, 180/100 no infusion), the DSM-5 duration, PHQ-9 item 9, the PCL-5
cut-point and the studied age range."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest

from ketaclinic.domain.eligibility import (
    CONDITION_RULES,
    DEFAULT_SETTINGS,
    RULES,
    Action,
    Decision,
    EligibilityResult,
    EligibilitySettings,
    RuleClass,
    add_months,
    evaluate,
)
from ketaclinic.domain.errors import InvalidInput
from ketaclinic.domain.intake import Condition, IntakeRecord
from ketaclinic.domain.people import Sex
from ketaclinic.domain.provenance import Tag

ABSOLUTE = [
    Condition.KETAMINE_HYPERSENSITIVITY,
    Condition.UNCONTROLLED_HYPERTENSION,
    Condition.SEVERE_CARDIOVASCULAR_DISEASE,
    Condition.STROKE_HISTORY,
    Condition.PRE_ECLAMPSIA,
    Condition.UNTREATED_HYPERTHYROIDISM,
]
RELATIVE = [
    Condition.RAISED_INTRACRANIAL_PRESSURE,
    Condition.RAISED_INTRAOCULAR_PRESSURE,
    Condition.PSYCHOSIS_HISTORY,
    Condition.CURRENT_MANIA,
    Condition.ACTIVE_SUBSTANCE_USE_DISORDER,
    Condition.KETAMINE_MISUSE_HISTORY,
    Condition.LIVER_DISEASE,
    Condition.SEIZURE_DISORDER,
]

CLEAN = IntakeRecord(
    assessment_date=dt.date(2026, 11, 20),
    age_years=42,
    sex=Sex.FEMALE,
    weight_kg=80.0,
    height_cm=170.0,
    trauma_date=dt.date(2025, 3, 1),
    pregnant=False,
    bp_systolic=128,
    bp_diastolic=82,
    heart_rate=72,
    spo2=98,
    pcl5=(2,) * 20,
    phq9=(1,) * 8 + (0,),
    conditions=frozenset(),
    medications=(),
)


def record(**changes: Any) -> IntakeRecord:
    return dataclasses.replace(CLEAN, **changes)


def codes(result: EligibilityResult) -> list[str]:
    return [reason.code for reason in result.reasons]


def test_a_record_that_meets_every_rule_is_eligible_with_no_reasons() -> None:
    result = evaluate(CLEAN)
    assert result.decision is Decision.ELIGIBLE
    assert result.reasons == ()
    assert result.as_dict() == {"decision": "eligible", "reasons": []}


def test_every_condition_of_the_vocabulary_has_a_rule() -> None:
    assert set(CONDITION_RULES) == set(Condition)
    assert set(ABSOLUTE) | set(RELATIVE) == set(Condition)


def test_rule_codes_are_unique() -> None:
    all_codes = [rule.code for rule in RULES]
    assert len(all_codes) == len(set(all_codes))


@pytest.mark.parametrize("condition", ABSOLUTE)
def test_absolute_contraindication_excludes(condition: Condition) -> None:
    result = evaluate(record(conditions=frozenset({condition})))
    assert result.decision is Decision.EXCLUDED
    assert codes(result) == [condition.value]
    reason = result.reasons[0]
    assert reason.rule.rule_class is RuleClass.ABSOLUTE
    assert reason.action is Action.EXCLUDE
    # Every absolute row of REFERENCE §2 is confirmed in a label.
    assert reason.source.startswith("[cited: ")
    assert "§2" in reason.source


@pytest.mark.parametrize("condition", RELATIVE)
def test_relative_contraindication_needs_review(condition: Condition) -> None:
    result = evaluate(record(conditions=frozenset({condition})))
    assert result.decision is Decision.NEEDS_REVIEW
    assert codes(result) == [condition.value]
    assert result.reasons[0].rule.rule_class is RuleClass.RELATIVE


@pytest.mark.parametrize(
    ("condition", "tag"),
    [
        (Condition.RAISED_INTRACRANIAL_PRESSURE, Tag.CITED),
        (Condition.LIVER_DISEASE, Tag.CITED),
        (Condition.PSYCHOSIS_HISTORY, Tag.UNVERIFIED),
        (Condition.KETAMINE_MISUSE_HISTORY, Tag.UNVERIFIED),
        (Condition.SEIZURE_DISORDER, Tag.DESIGN),
    ],
)
def test_relative_rules_carry_the_provenance_reference_gives_them(
    condition: Condition, tag: Tag
) -> None:
    assert CONDITION_RULES[condition].provenance.tag is tag


def test_pregnancy_needs_review() -> None:
    result = evaluate(record(pregnant=True))
    assert result.decision is Decision.NEEDS_REVIEW
    assert codes(result) == ["pregnancy"]


@pytest.mark.parametrize(
    ("systolic", "diastolic", "decision", "code"),
    [
        (140, 90, Decision.ELIGIBLE, None),
        (141, 90, Decision.NEEDS_REVIEW, "bp_above_hold_limit"),
        (140, 91, Decision.NEEDS_REVIEW, "bp_above_hold_limit"),
        (180, 100, Decision.NEEDS_REVIEW, "bp_above_hold_limit"),
        (181, 100, Decision.EXCLUDED, "bp_above_absolute_limit"),
        (180, 101, Decision.EXCLUDED, "bp_above_absolute_limit"),
        (120, 101, Decision.EXCLUDED, "bp_above_absolute_limit"),
    ],
)
def test_resting_blood_pressure_limits_are_exclusive(
    systolic: int, diastolic: int, decision: Decision, code: str | None
) -> None:
    result = evaluate(record(bp_systolic=systolic, bp_diastolic=diastolic))
    assert result.decision is decision
    assert codes(result) == ([code] if code else [])


def test_blood_pressure_above_the_absolute_limit_reports_only_that_tier() -> None:
    result = evaluate(record(bp_systolic=190, bp_diastolic=105))
    [reason] = result.reasons
    assert reason.code == "bp_above_absolute_limit"
    assert "190/105" in reason.message
    assert reason.source == "[cited: Swiss label, REFERENCE.md §2, §5]"


def test_blood_pressure_hold_is_an_unverified_default() -> None:
    [reason] = evaluate(record(bp_systolic=150, bp_diastolic=80)).reasons
    assert reason.source.startswith("[unverified: Sanacora 2017")


@pytest.mark.parametrize(("rate", "flagged"), [(110, False), (111, True)])
def test_resting_heart_rate_above_110_needs_review(rate: int, flagged: bool) -> None:
    result = evaluate(record(heart_rate=rate))
    assert codes(result) == (["heart_rate_above_limit"] if flagged else [])


@pytest.mark.parametrize(("spo2", "flagged"), [(92, False), (91, True)])
def test_oxygen_saturation_below_92_needs_review(spo2: int, flagged: bool) -> None:
    result = evaluate(record(spo2=spo2))
    assert codes(result) == (["spo2_below_limit"] if flagged else [])
    if flagged:
        assert result.reasons[0].source.startswith("[unverified:")


def test_exactly_one_month_after_the_event_is_too_early() -> None:
    result = evaluate(record(trauma_date=dt.date(2026, 10, 20)))
    assert result.decision is Decision.EXCLUDED
    [reason] = result.reasons
    assert reason.code == "symptom_duration_too_short"
    assert reason.rule.rule_class is RuleClass.DURATION
    assert "re-assess on or after 2026-11-21" in reason.message


def test_one_month_and_one_day_after_the_event_is_long_enough() -> None:
    assert evaluate(record(trauma_date=dt.date(2026, 10, 19))).decision is Decision.ELIGIBLE


def test_an_event_on_the_assessment_day_is_too_early() -> None:
    result = evaluate(record(trauma_date=CLEAN.assessment_date))
    assert codes(result) == ["symptom_duration_too_short"]


@pytest.mark.parametrize(
    ("assessed", "too_early"),
    [(dt.date(2026, 2, 28), True), (dt.date(2026, 3, 1), False)],
)
def test_one_month_after_the_31st_ends_on_the_last_day_of_a_short_month(
    assessed: dt.date, too_early: bool
) -> None:
    result = evaluate(record(trauma_date=dt.date(2026, 1, 31), assessment_date=assessed))
    assert ("symptom_duration_too_short" in codes(result)) is too_early


@pytest.mark.parametrize(("item9", "flagged"), [(0, False), (1, True), (3, True)])
def test_phq9_item_9_of_one_or_more_needs_same_day_risk_assessment(
    item9: int, flagged: bool
) -> None:
    result = evaluate(record(phq9=(1,) * 8 + (item9,)))
    assert codes(result) == (["phq9_item9_positive"] if flagged else [])
    if flagged:
        assert result.decision is Decision.NEEDS_REVIEW
        assert result.reasons[0].rule.rule_class is RuleClass.SCREENING


@pytest.mark.parametrize(
    ("answers", "flagged"),
    [((2,) * 16 + (0,) * 4, True), ((2,) * 16 + (1,) + (0,) * 3, False)],
    ids=["total-32", "total-33"],
)
def test_pcl5_total_below_the_cut_point_needs_review(
    answers: tuple[int, ...], flagged: bool
) -> None:
    result = evaluate(record(pcl5=answers))
    assert codes(result) == (["pcl5_below_cut_point"] if flagged else [])
    if flagged:
        assert "Total 32; cut-point 33" in result.reasons[0].message
        assert result.reasons[0].source == "[cited: VA PCL-5 guide, REFERENCE.md §8.1]"


@pytest.mark.parametrize(
    ("age", "flagged", "tag"),
    [(17, True, "cited"), (18, False, None), (65, False, None), (66, True, "design")],
)
def test_age_outside_18_to_65_needs_review(age: int, flagged: bool, tag: str | None) -> None:
    result = evaluate(record(age_years=age))
    assert codes(result) == (["age_outside_studied_range"] if flagged else [])
    if flagged:
        # The lower bound is a trial's (Feder 2014); the upper one is our default.
        assert result.reasons[0].source.startswith(f"[{tag}: ")


def test_every_reason_is_reported_and_the_worst_decides() -> None:
    result = evaluate(
        record(
            conditions=frozenset({Condition.PSYCHOSIS_HISTORY, Condition.STROKE_HISTORY}),
            pregnant=True,
            bp_systolic=150,
        )
    )
    assert result.decision is Decision.EXCLUDED
    assert codes(result) == [
        "stroke_history",
        "psychosis_history",
        "pregnancy",
        "bp_above_hold_limit",
    ]


def test_result_as_dict_has_the_documented_shape() -> None:
    payload = evaluate(record(conditions=frozenset({Condition.LIVER_DISEASE}))).as_dict()
    assert payload["decision"] == "needs_review"
    [reason] = payload["reasons"]
    assert set(reason) == {"code", "message", "source"}
    assert reason["code"] == "liver_disease"
    assert reason["source"] == "[cited: Ketalar US PI; UK SmPC, REFERENCE.md §2]"


def test_a_clinic_threshold_replaces_the_default_and_is_shown_as_a_clinic_setting() -> None:
    stricter = dataclasses.replace(
        DEFAULT_SETTINGS,
        bp_hold_systolic=DEFAULT_SETTINGS.bp_hold_systolic.with_value(
            130, approved_by="dr.director", effective_from=dt.date(2026, 1, 1)
        ),
    )
    result = evaluate(record(bp_systolic=135), stricter)
    [reason] = result.reasons
    assert reason.code == "bp_above_hold_limit"
    assert "hold limit 130/90" in reason.message
    assert reason.source.startswith("[design: clinic setting (default from Sanacora 2017")
    assert evaluate(record(bp_systolic=135)).decision is Decision.ELIGIBLE


def test_a_clinic_may_change_the_minimum_symptom_duration() -> None:
    two_months = dataclasses.replace(
        DEFAULT_SETTINGS,
        min_symptom_months=DEFAULT_SETTINGS.min_symptom_months.with_value(
            2, approved_by="dr.director", effective_from=dt.date(2026, 1, 1)
        ),
    )
    six_weeks_ago = CLEAN.assessment_date - dt.timedelta(weeks=6)
    assert evaluate(record(trauma_date=six_weeks_ago)).decision is Decision.ELIGIBLE
    result = evaluate(record(trauma_date=six_weeks_ago), two_months)
    assert codes(result) == ["symptom_duration_too_short"]


def test_settings_refuse_a_hold_limit_above_the_absolute_limit() -> None:
    with pytest.raises(InvalidInput) as caught:
        EligibilitySettings(
            bp_hold_systolic=DEFAULT_SETTINGS.bp_hold_systolic.with_value(
                190, approved_by="x", effective_from=dt.date(2026, 1, 1)
            )
        )
    assert caught.value.field == "bp_hold_systolic"


def test_settings_refuse_a_threshold_under_the_wrong_name() -> None:
    with pytest.raises(InvalidInput) as caught:
        EligibilitySettings(age_min=DEFAULT_SETTINGS.age_max)
    assert caught.value.field == "age_min"


def test_settings_refuse_a_fractional_month_count() -> None:
    with pytest.raises(InvalidInput) as caught:
        EligibilitySettings(
            min_symptom_months=DEFAULT_SETTINGS.min_symptom_months.with_value(
                1.5, approved_by="x", effective_from=dt.date(2026, 1, 1)
            )
        )
    assert caught.value.field == "min_symptom_months"


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (dt.date(2026, 1, 15), 1, dt.date(2026, 2, 15)),
        (dt.date(2026, 1, 31), 1, dt.date(2026, 2, 28)),
        (dt.date(2024, 1, 31), 1, dt.date(2024, 2, 29)),
        (dt.date(2026, 12, 10), 1, dt.date(2027, 1, 10)),
        (dt.date(2026, 5, 31), 13, dt.date(2027, 6, 30)),
        (dt.date(2026, 5, 31), 0, dt.date(2026, 5, 31)),
    ],
)
def test_add_months_keeps_the_day_or_clamps_to_the_month_end(
    day: dt.date, months: int, expected: dt.date
) -> None:
    assert add_months(day, months) == expected
