"""The C-SSRS screener is stored as the clinician's result; ketaclinic never computes a risk
level (REFERENCE.md §8.4, §10) but checks the entry against the form's skip logic."""

from __future__ import annotations

from typing import Any

import pytest

from ketaclinic.domain.errors import InvalidInput
from ketaclinic.domain.instruments import record_cssrs


def entry(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "form": "since_last_contact",
        "risk_level": "low",
        "positive_questions": [],
        "q6_within_3_months": None,
        "clinician_id": "prescriber-7",
    }
    return base | overrides


def test_negative_screen_is_stored_without_a_review_flag() -> None:
    result = record_cssrs(**entry())
    assert result.flags == ()
    assert dict(result.answers) == {f"cssrs_0{n}": 0 for n in (1, 2, 6)}


def test_risk_level_is_kept_exactly_as_the_clinician_entered_it() -> None:
    # Q4 Yes would be "high" under the unverified triage; the clinician's "moderate" stands.
    result = record_cssrs(**entry(risk_level="moderate", positive_questions=[1, 2, 4]))
    assert result.risk_level == "moderate"
    assert result.as_score_result().severity == "moderate"
    assert result.as_score_result().total is None


def test_any_yes_routes_the_result_for_review() -> None:
    result = record_cssrs(**entry(positive_questions=[1]))
    assert result.flags == ("suicide_risk_review",)
    assert result.as_dict()["flags"] == ["suicide_risk_review"]


def test_clinician_level_above_low_routes_for_review_even_with_no_yes() -> None:
    assert record_cssrs(**entry(risk_level="high")).needs_review


def test_questions_3_to_5_are_recorded_only_after_a_yes_to_question_2() -> None:
    result = record_cssrs(**entry(positive_questions=[2, 3], risk_level="moderate"))
    assert dict(result.answers) == {
        "cssrs_01": 0,
        "cssrs_02": 1,
        "cssrs_03": 1,
        "cssrs_04": 0,
        "cssrs_05": 0,
        "cssrs_06": 0,
    }


def test_yes_to_a_skipped_question_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        record_cssrs(**entry(positive_questions=[1, 5]))
    assert caught.value.field == "positive_questions"
    assert "cssrs_05" in caught.value.message


def test_question_6_yes_needs_the_within_3_months_answer() -> None:
    with pytest.raises(InvalidInput, match="q6_within_3_months: got None"):
        record_cssrs(**entry(positive_questions=[6]))


def test_within_3_months_is_recorded_after_a_yes_to_question_6() -> None:
    result = record_cssrs(**entry(positive_questions=[6], q6_within_3_months=True))
    assert result.answers["cssrs_06_recent"] == 1


def test_within_3_months_without_a_yes_to_question_6_is_refused() -> None:
    with pytest.raises(InvalidInput, match="q6_within_3_months: got False"):
        record_cssrs(**entry(q6_within_3_months=False))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("risk_level", "imminent"),
        ("form", "lifetime"),
        ("positive_questions", [7]),
        ("clinician_id", ""),
        ("action", "x" * 1001),
    ],
)
def test_malformed_entry_is_refused_naming_the_field(field: str, value: Any) -> None:
    with pytest.raises(InvalidInput) as caught:
        record_cssrs(**entry(**{field: value}))
    assert caught.value.field == field
