"""The C-SSRS screener as a clinician-entered result: what was answered, never a computed risk.

REFERENCE.md §8.4 and §10: C-SSRS electronic use is licensed, so ketaclinic performs **no
automated triage**. The clinician enters the risk level (low / moderate / high) they judged, which
of questions 1–6 were answered Yes, whether the behaviour of question 6 was within the past
3 months, the form used, the action taken and their id. We only check that the entry is
consistent with the form's skip logic (questions 3–5 are asked only after a Yes to question 2;
"within 3 months" only after a Yes to question 6) and route any positive screen for review.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from ketaclinic.domain.errors import InvalidInput
from ketaclinic.domain.instruments.loader import get_instrument
from ketaclinic.domain.instruments.model import Instrument
from ketaclinic.domain.instruments.scoring import ScoreResult

INSTRUMENT_ID = "cssrs"
QUESTIONS = range(1, 7)
RECENT_ITEM = "cssrs_06_recent"
REVIEW_FLAG = "suicide_risk_review"
CLINICIAN_ID_MAX = 64
ACTION_MAX = 1000


def question_item(number: int) -> str:
    """The neutral item id of question ``number`` (1–6): ``cssrs_01`` … ``cssrs_06``."""
    return f"cssrs_{number:02d}"


@dataclass(frozen=True, slots=True)
class CssrsResult:
    """A validated clinician-entered C-SSRS screener result.

    ``answers`` maps each *asked* item to 1 (Yes) or 0 (No); items the form skipped are absent.
    ``risk_level`` and ``form`` are ids from the definition (``low``/``moderate``/``high``;
    ``since_last_contact``/``lifetime_recent``).
    """

    version: str
    form: str
    risk_level: str
    positive_questions: frozenset[int]
    q6_within_3_months: bool | None
    clinician_id: str
    action: str
    answers: Mapping[str, int]

    @property
    def needs_review(self) -> bool:
        """Any Yes, or a clinician-entered level above low, routes the result for review."""
        return bool(self.positive_questions) or self.risk_level != "low"

    @property
    def flags(self) -> tuple[str, ...]:
        return (REVIEW_FLAG,) if self.needs_review else ()

    def as_score_result(self) -> ScoreResult:
        """The result in the common shape: no total, ``severity`` = the clinician's level."""
        return ScoreResult(
            instrument=INSTRUMENT_ID,
            version=self.version,
            total=None,
            severity=self.risk_level,
            flags=self.flags,
            answers=self.answers,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "instrument": INSTRUMENT_ID,
            "form": self.form,
            "risk_level": self.risk_level,
            "risk_level_source": "clinician",
            "positive_questions": sorted(self.positive_questions),
            "q6_within_3_months": self.q6_within_3_months,
            "clinician_id": self.clinician_id,
            "action": self.action,
            "flags": list(self.flags),
        }


def record_cssrs(
    *,
    form: str,
    risk_level: str,
    positive_questions: Collection[int],
    q6_within_3_months: bool | None,
    clinician_id: str,
    action: str = "",
) -> CssrsResult:
    """Validate a clinician's C-SSRS entry.

    ``positive_questions`` are the numbers (1–6) answered Yes. ``q6_within_3_months`` must be
    ``True``/``False`` when question 6 is Yes and ``None`` otherwise. Raises
    :class:`InvalidInput` naming the field for an unknown form or level, a question outside 1–6,
    a Yes to a question the form skips, or a missing clinician id.
    """
    instrument = get_instrument(INSTRUMENT_ID)
    _one_of(instrument, "form", form, [f.id for f in instrument.forms])
    _one_of(instrument, "risk_level", risk_level, [r.id for r in instrument.risk_levels])
    positive = _questions(positive_questions)
    answers = _answers(instrument, positive, q6_within_3_months)

    if not isinstance(clinician_id, str) or not 1 <= len(clinician_id) <= CLINICIAN_ID_MAX:
        raise InvalidInput.for_field(
            "clinician_id",
            clinician_id,
            f"the entering clinician's id (1–{CLINICIAN_ID_MAX} chars)",
        )
    if not isinstance(action, str) or len(action) > ACTION_MAX:
        raise InvalidInput.for_field("action", action, f"text of at most {ACTION_MAX} chars")
    return CssrsResult(
        version=instrument.version,
        form=form,
        risk_level=risk_level,
        positive_questions=positive,
        q6_within_3_months=q6_within_3_months,
        clinician_id=clinician_id,
        action=action,
        answers=MappingProxyType(answers),
    )


def _one_of(instrument: Instrument, field_name: str, value: object, allowed: list[str]) -> None:
    if value not in allowed:
        raise InvalidInput.for_field(
            field_name, value, f"one of {', '.join(allowed)} for {instrument.short_name}"
        )


def _questions(positive_questions: Collection[int]) -> frozenset[int]:
    if isinstance(positive_questions, str | bytes):
        raise InvalidInput.for_field(
            "positive_questions", positive_questions, "question numbers 1–6"
        )
    for number in positive_questions:
        if isinstance(number, bool) or not isinstance(number, int) or number not in QUESTIONS:
            raise InvalidInput.for_field("positive_questions", number, "question numbers 1–6")
    return frozenset(positive_questions)


def _answers(
    instrument: Instrument, positive: frozenset[int], recent: bool | None
) -> dict[str, int]:
    """Item answers of the asked items, checking the definition's skip logic."""
    given = {question_item(n): int(n in positive) for n in QUESTIONS}
    answers: dict[str, int] = {}
    for item in instrument.items:
        asked = item.asked_if is None or answers.get(item.asked_if.item_id) == item.asked_if.equals
        if item.id == RECENT_ITEM:
            if asked and not isinstance(recent, bool):
                raise InvalidInput.for_field(
                    "q6_within_3_months", recent, "true or false when question 6 is Yes"
                )
            if not asked and recent is not None:
                raise InvalidInput.for_field(
                    "q6_within_3_months", recent, "empty unless question 6 is Yes"
                )
            if asked:
                answers[item.id] = int(bool(recent))
            continue
        if not asked:
            if given[item.id]:
                raise InvalidInput.for_field(
                    "positive_questions",
                    int(item.id.rsplit("_", 1)[1]),
                    f"no Yes to a question the form skips ({item.id} is asked only after "
                    f"a Yes to {item.asked_if.item_id if item.asked_if else ''})",
                )
            continue
        answers[item.id] = given[item.id]
    return answers
