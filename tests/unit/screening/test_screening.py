"""Public self-screening: careful outcomes with reasons, in the reader's language (through the
translation the caller passes), never a diagnosis."""

from __future__ import annotations

from typing import Any

import pytest

from ketaclinic.domain.errors import InvalidInput
from ketaclinic.domain.screening import (
    MESSAGES,
    SYMPTOM_COUNT,
    HealthQuestion,
    Lang,
    Outcome,
    ScreeningAnswers,
    evaluate_screening,
    parse_lang,
    parse_screening,
    text,
)

AT_LEVEL = (2,) * 15 + (1,) + (0,) * 4  # total 31, the screening level
BELOW_LEVEL = (2,) * 15 + (0,) * 5  # total 30


def answers(
    symptoms: tuple[int, ...] = AT_LEVEL,
    months: int = 6,
    yes_to: frozenset[HealthQuestion] = frozenset(),
) -> ScreeningAnswers:
    return ScreeningAnswers(symptoms, months, yes_to)


def form(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "symptoms": list(AT_LEVEL),
        "months_since_event": 6,
        "health": {question.value: False for question in HealthQuestion},
    }
    data.update(overrides)
    return data


def test_symptoms_at_the_level_long_enough_after_the_event_suggest_an_evaluation() -> None:
    result = evaluate_screening(answers())
    assert result.outcome is Outcome.EVALUATION_MAKES_SENSE
    assert result.reasons == (
        "screening.reason.symptoms_at_level",
        "screening.reason.time_enough",
    )


def test_symptoms_one_point_below_the_level_point_to_other_help() -> None:
    result = evaluate_screening(answers(BELOW_LEVEL))
    assert result.outcome is Outcome.BELOW_STUDIED_LEVEL
    assert result.reasons == ("screening.reason.below_level",)


@pytest.mark.parametrize(
    ("months", "outcome"), [(0, Outcome.TOO_SOON), (1, Outcome.EVALUATION_MAKES_SENSE)]
)
def test_less_than_a_full_month_since_the_event_is_too_soon(months: int, outcome: Outcome) -> None:
    assert evaluate_screening(answers(months=months)).outcome is outcome


def test_too_soon_wins_over_low_symptoms() -> None:
    result = evaluate_screening(answers(BELOW_LEVEL, months=0))
    assert result.outcome is Outcome.TOO_SOON
    assert result.reasons == ("screening.reason.too_soon",)


@pytest.mark.parametrize("question", list(HealthQuestion))
def test_each_health_question_answered_yes_sends_the_visitor_to_their_doctor(
    question: HealthQuestion,
) -> None:
    result = evaluate_screening(answers(yes_to=frozenset({question})))
    assert result.outcome is Outcome.TALK_TO_DOCTOR_FIRST
    assert result.reasons == (f"screening.reason.{question.value}",)


def test_talk_to_your_doctor_lists_every_yes_and_the_other_concerns() -> None:
    result = evaluate_screening(
        answers(
            BELOW_LEVEL,
            months=0,
            yes_to=frozenset({HealthQuestion.SUBSTANCE_USE, HealthQuestion.HIGH_BLOOD_PRESSURE}),
        )
    )
    assert result.outcome is Outcome.TALK_TO_DOCTOR_FIRST
    assert result.reasons == (
        "screening.reason.high_blood_pressure",
        "screening.reason.substance_use",
        "screening.reason.too_soon",
        "screening.reason.below_level",
    )


def spanish_stand_in(sentence: str) -> str:
    """A translation stand-in: the real catalogues are tested in tests/unit/i18n."""
    return f"[es] {sentence}"


@pytest.mark.parametrize("translate", [None, spanish_stand_in])
def test_every_answer_carries_the_not_a_diagnosis_and_crisis_notices(translate: Any) -> None:
    for case in (answers(), answers(BELOW_LEVEL), answers(months=0)):
        result = evaluate_screening(case)
        payload = result.as_dict(translate) if translate else result.as_dict()
        keys = [notice["key"] for notice in payload["notices"]]
        assert keys == ["screening.notice.not_a_diagnosis", "screening.notice.crisis"]


def test_the_answer_is_rendered_through_the_readers_translation() -> None:
    payload = evaluate_screening(answers(BELOW_LEVEL)).as_dict(spanish_stand_in)
    assert payload["outcome"] == "below_studied_level"
    assert (
        payload["headline"]["text"] == "[es] " + MESSAGES["screening.outcome.below_studied_level"]
    )
    assert payload["reasons"][0]["text"] == text("screening.reason.below_level", spanish_stand_in)
    assert text("screening.reason.below_level").startswith("Your symptom answers add up")


def test_the_answer_does_not_show_a_score() -> None:
    payload = evaluate_screening(answers()).as_dict()
    assert set(payload) == {"outcome", "headline", "reasons", "notices"}


def test_every_message_has_english_source_text() -> None:
    # The Spanish of each is checked with the catalogues (tests/unit/i18n).
    for key, sentence in MESSAGES.items():
        assert sentence, key
        assert sentence.strip() == sentence, key


def test_every_key_the_evaluation_can_return_has_text() -> None:
    keys = {f"screening.outcome.{o.value}" for o in Outcome}
    keys |= {f"screening.reason.{q.value}" for q in HealthQuestion}
    keys |= {f"screening.question.{q.value}" for q in HealthQuestion}
    keys |= {f"screening.symptom.{n:02d}" for n in range(1, SYMPTOM_COUNT + 1)}
    keys |= {f"screening.answer.{n}" for n in range(5)}
    assert keys <= set(MESSAGES)


def test_no_visitor_facing_text_names_a_diagnosis() -> None:
    # A self-screening must never tell a visitor they have a disorder.
    for sentence in MESSAGES.values():
        assert "PTSD" not in sentence


def test_parse_screening_reads_the_form() -> None:
    health = {question.value: question is HealthQuestion.PREGNANCY for question in HealthQuestion}
    parsed = parse_screening(form(health=health, months_since_event=3))
    assert parsed.symptoms == AT_LEVEL
    assert parsed.months_since_event == 3
    assert parsed.yes_to == frozenset({HealthQuestion.PREGNANCY})


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"symptoms": [1] * 19}, "symptoms"),
        ({"symptoms": "1,2,3"}, "symptoms"),
        ({"symptoms": [1] * 19 + [5]}, "symptoms[19]"),
        ({"symptoms": [True] + [1] * 19}, "symptoms[0]"),
        ({"months_since_event": -1}, "months_since_event"),
        ({"months_since_event": "6"}, "months_since_event"),
        ({"months_since_event": 1201}, "months_since_event"),
        ({"health": None}, "health"),
        ({"health": {"high_blood_pressure": False}}, "health.heart_disease"),
    ],
)
def test_parse_screening_names_the_bad_field(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_screening(form(**overrides))
    assert caught.value.field == field


def test_parse_screening_needs_an_object() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_screening([1, 2, 3])
    assert caught.value.field == "screening"


@pytest.mark.parametrize(("value", "lang"), [(None, Lang.EN), ("", Lang.EN), ("es", Lang.ES)])
def test_parse_lang_defaults_to_english(value: str | None, lang: Lang) -> None:
    assert parse_lang(value) is lang


def test_parse_lang_refuses_other_languages() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_lang("fr")
    assert caught.value.field == "lang"


def test_unknown_message_key_is_refused() -> None:
    with pytest.raises(InvalidInput):
        text("screening.nope")
