"""Parsing the intake JSON of DESIGN.md §4.2 into an IntakeRecord: every field is checked and a
bad one is named with its value and the expectation."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from ketaclinic.domain.errors import InvalidInput
from ketaclinic.domain.intake import Condition, IntakeRecord, parse_intake
from ketaclinic.domain.people import Sex

TODAY = dt.date(2026, 11, 24)


def intake(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "assessment_date": "2026-11-20",
        "age_years": 42,
        "sex": "female",
        "weight_kg": 80.0,
        "height_cm": 170.0,
        "trauma_date": "2025-03-01",
        "pregnant": False,
        "bp_systolic": 128,
        "bp_diastolic": 82,
        "heart_rate": 72,
        "spo2": 98,
        "pcl5": [2] * 20,
        "phq9": [1] * 8 + [0],
        "conditions": ["psychosis_history"],
        "medications": ["sertraline"],
    }
    data.update(overrides)
    return data


def rejected(data: object, field: str) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        parse_intake(data, today=TODAY)
    assert caught.value.field == field
    return caught.value


def test_design_example_parses_into_a_typed_record() -> None:
    record = parse_intake(intake(), today=TODAY)
    assert record.assessment_date == dt.date(2026, 11, 20)
    assert record.sex is Sex.FEMALE
    assert record.conditions == frozenset({Condition.PSYCHOSIS_HISTORY})
    assert record.medications == ("sertraline",)
    assert record.pcl5_total == 40
    assert record.phq9_total == 8
    assert record.phq9_item9 == 0


def test_extra_fields_are_ignored() -> None:
    record = parse_intake(intake(mrn="DEMO-0001", notes="anything"), today=TODAY)
    assert record.age_years == 42


def test_repeated_condition_codes_count_once() -> None:
    record = parse_intake(intake(conditions=["liver_disease", "liver_disease"]), today=TODAY)
    assert record.conditions == frozenset({Condition.LIVER_DISEASE})


def test_integral_floats_are_accepted_for_whole_numbers() -> None:
    record = parse_intake(intake(age_years=42.0, pcl5=[1.0] * 20), today=TODAY)
    assert record.age_years == 42
    assert record.pcl5_total == 20


@pytest.mark.parametrize("field", sorted(intake()))
def test_each_missing_field_is_named(field: str) -> None:
    data = intake()
    del data[field]
    error = rejected(data, field)
    assert "missing" in error.message


def test_null_counts_as_missing() -> None:
    error = rejected(intake(weight_kg=None), "weight_kg")
    assert error.message.startswith("weight_kg: missing, expected")


def test_unknown_condition_names_its_position_value_and_the_vocabulary() -> None:
    error = rejected(intake(conditions=["liver_disease", "broken_leg"]), "conditions[1]")
    assert "'broken_leg'" in error.message
    for code in Condition:
        assert code.value in error.message


def test_a_non_string_condition_is_rejected() -> None:
    rejected(intake(conditions=[7]), "conditions[0]")


def test_top_level_must_be_an_object() -> None:
    error = rejected([intake()], "intake")
    assert "a JSON object" in error.message


@pytest.mark.parametrize("text", ["20/11/2026", "2026-02-30", "2026-11-20T10:00", "20261120", ""])
def test_assessment_date_must_be_an_iso_calendar_date(text: str) -> None:
    error = rejected(intake(assessment_date=text), "assessment_date")
    assert "YYYY-MM-DD" in error.message


def test_assessment_date_after_today_is_rejected() -> None:
    error = rejected(intake(assessment_date="2026-11-25"), "assessment_date")
    assert "2026-11-24" in error.message


def test_assessment_date_today_is_accepted() -> None:
    assert parse_intake(intake(assessment_date="2026-11-24"), today=TODAY).assessment_date == TODAY


def test_without_today_only_the_internal_date_order_is_checked() -> None:
    record = parse_intake(intake(assessment_date="2030-01-01"))
    assert record.assessment_date == dt.date(2030, 1, 1)


def test_trauma_date_after_assessment_date_is_rejected() -> None:
    error = rejected(intake(trauma_date="2026-11-21"), "trauma_date")
    assert "2026-11-20" in error.message


def test_trauma_date_before_the_patient_was_born_is_rejected() -> None:
    # Aged 42 on 2026-11-20: born 1983-11-21 at the earliest.
    error = rejected(intake(trauma_date="1983-11-20"), "trauma_date")
    assert "1983-11-21" in error.message


def test_trauma_date_on_the_earliest_possible_birthday_is_accepted() -> None:
    record = parse_intake(intake(trauma_date="1983-11-21"), today=TODAY)
    assert record.trauma_date == dt.date(1983, 11, 21)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("age_years", 121),
        ("age_years", -1),
        ("weight_kg", 19.9),
        ("weight_kg", 351),
        ("height_cm", 99),
        ("bp_systolic", 1200),
        ("bp_diastolic", 10),
        ("heart_rate", 300),
        ("spo2", 101),
        ("spo2", 40),
    ],
)
def test_values_outside_plausible_bounds_are_rejected(field: str, value: float) -> None:
    error = rejected(intake(**{field: value}), field)
    assert repr(value) in error.message


@pytest.mark.parametrize("field", ["weight_kg", "bp_systolic", "heart_rate", "spo2"])
@pytest.mark.parametrize("value", [True, "80", [80]])
def test_measurements_must_be_numbers(field: str, value: object) -> None:
    error = rejected(intake(**{field: value}), field)
    assert "a number" in error.message


def test_not_a_number_is_rejected() -> None:
    rejected(intake(weight_kg=float("nan")), "weight_kg")


def test_an_integer_too_large_for_a_float_is_rejected() -> None:
    rejected(intake(weight_kg=10**400), "weight_kg")


def test_age_must_be_a_whole_number() -> None:
    error = rejected(intake(age_years=42.5), "age_years")
    assert "whole number" in error.message


def test_diastolic_not_below_systolic_is_rejected() -> None:
    error = rejected(intake(bp_systolic=120, bp_diastolic=120), "bp_diastolic")
    assert "below bp_systolic" in error.message


@pytest.mark.parametrize("value", ["no", 0, None])
def test_pregnant_must_be_true_or_false(value: object) -> None:
    rejected(intake(pregnant=value), "pregnant")


def test_unknown_sex_lists_the_allowed_values() -> None:
    error = rejected(intake(sex="f"), "sex")
    assert "female" in error.message
    assert "male" in error.message


def test_pcl5_with_the_wrong_number_of_answers_is_rejected() -> None:
    error = rejected(intake(pcl5=[2] * 19), "pcl5")
    assert "19 answers" in error.message
    assert "20 answers" in error.message


def test_pcl5_answer_out_of_range_names_index_and_item() -> None:
    answers = [2] * 20
    answers[3] = 5
    error = rejected(intake(pcl5=answers), "pcl5[3]")
    assert "item 4" in error.message
    assert "0–4" in error.message


def test_phq9_answer_above_three_is_rejected() -> None:
    answers = [0] * 9
    answers[8] = 4
    rejected(intake(phq9=answers), "phq9[8]")


@pytest.mark.parametrize("value", [None, "2", 1.5, True])
def test_a_questionnaire_answer_must_be_a_whole_number(value: object) -> None:
    answers: list[object] = [1] * 9
    answers[2] = value
    rejected(intake(phq9=answers), "phq9[2]")


def test_conditions_must_be_a_list() -> None:
    rejected(intake(conditions="psychosis_history"), "conditions")


@pytest.mark.parametrize("value", [3, "", "   ", "x" * 101])
def test_medication_names_must_be_short_non_empty_text(value: object) -> None:
    rejected(intake(medications=["sertraline", value]), "medications[1]")


def test_too_many_medications_are_rejected() -> None:
    rejected(intake(medications=[f"drug{i}" for i in range(51)]), "medications")


def test_the_record_checks_its_invariants_when_built_directly() -> None:
    record = parse_intake(intake(), today=TODAY)
    fields = {name: getattr(record, name) for name in IntakeRecord.__dataclass_fields__}
    fields["pcl5"] = (5,) * 20
    with pytest.raises(InvalidInput) as caught:
        IntakeRecord(**fields)
    assert caught.value.field == "pcl5[0]"
