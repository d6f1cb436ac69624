"""Public self-screening: "does an evaluation at the clinic make sense for me?" — never a diagnosis.

The visitor answers three things (DESIGN.md §2, capability 1):

- a symptom check with the structure of the PCL-5: 20 symptoms, each rated 0–4 over the last
  month [cited: VA PCL-5 guide, REFERENCE.md §8.1]. The labels are our own short wording
  (REFERENCE.md §10: no instrument item text ships with ketaclinic);
- how many full months ago the event happened (0 = less than a month);
- six yes/no questions a layperson can answer, one per contraindication group of REFERENCE.md §2
  (high blood pressure, heart disease, stroke, pregnancy, psychosis, substance use).

The answer is one :class:`Outcome` with the reasons for it, as message keys with our English
text (:data:`MESSAGES`), marked for the translation catalogues (``ketaclinic/locale`` holds the
Spanish); the caller passes the reader's gettext to :meth:`ScreeningResult.as_dict`. Every
answer carries the "not a diagnosis" and crisis notices. Nothing here stores anything; the web
page decides what, if anything, to keep.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ketaclinic.domain.errors import InvalidInput
from ketaclinic.domain.provenance import Threshold, cited

SYMPTOM_COUNT = 20
SYMPTOM_MAX = 4
MONTHS_MAX = 1200  # a century: anything larger is a typing slip (design)

Translate = Callable[[str], str]
"""Turns an English source sentence into the reader's language (a gettext function)."""


def N_(message: str) -> str:
    """Mark ``message`` for the translation catalogues (``ketaclinic/locale``); it is translated
    where it is shown, in the visitor's language."""
    return message


class Lang(StrEnum):
    EN = "en"
    ES = "es"


class Outcome(StrEnum):
    EVALUATION_MAKES_SENSE = "evaluation_makes_sense"
    TALK_TO_DOCTOR_FIRST = "talk_to_doctor_first"
    TOO_SOON = "too_soon"
    BELOW_STUDIED_LEVEL = "below_studied_level"


class HealthQuestion(StrEnum):
    """The layperson contraindication questions, each standing for rows of REFERENCE.md §2."""

    HIGH_BLOOD_PRESSURE = "high_blood_pressure"
    HEART_DISEASE = "heart_disease"
    STROKE = "stroke"
    PREGNANCY = "pregnancy"
    PSYCHOSIS = "psychosis"
    SUBSTANCE_USE = "substance_use"


# Screening uses the low end of the PCL-5 cut-point range: 31–33, lower to screen
# [cited: VA PCL-5 guide, REFERENCE.md §8.1].
SYMPTOM_LEVEL = Threshold(
    "screening_symptom_level",
    31,
    "{score}",
    cited("VA PCL-5 guide (31–33; lower to screen)", "§8.1"),
)
# PTSD needs symptoms for more than a month (DSM-5 criterion F) [cited: CAPS-5 form, §8.3]. The
# visitor gives whole months, so "at least one full month" is as close as the form can ask; the
# intake checks the exact dates.
MIN_MONTHS = Threshold(
    "screening_min_months", 1, "mo", cited("CAPS-5 form (DSM-5 criterion F)", "§8.3")
)


@dataclass(frozen=True, slots=True)
class ScreeningSettings:
    """The two clinic-owned numbers of the screening: the symptom total at which an evaluation
    is suggested, and the whole months that must have passed since the event."""

    symptom_level: Threshold = SYMPTOM_LEVEL
    min_months: Threshold = MIN_MONTHS


DEFAULT_SCREENING_SETTINGS = ScreeningSettings()


@dataclass(frozen=True, slots=True)
class ScreeningAnswers:
    """A visitor's answers. ``symptoms``: 20 ratings 0–4 in item order; ``months_since_event``:
    whole months, 0–1200; ``yes_to``: the health questions answered yes.

    Raises :class:`InvalidInput` naming the field when a value is out of bounds.
    """

    symptoms: tuple[int, ...]
    months_since_event: int
    yes_to: frozenset[HealthQuestion]

    def __post_init__(self) -> None:
        if len(self.symptoms) != SYMPTOM_COUNT:
            raise InvalidInput.for_field(
                "symptoms", f"{len(self.symptoms)} answers", f"{SYMPTOM_COUNT} answers"
            )
        for index, answer in enumerate(self.symptoms):
            if isinstance(answer, bool) or not (0 <= answer <= SYMPTOM_MAX):
                raise InvalidInput.for_field(
                    f"symptoms[{index}]", answer, f"a whole number 0–{SYMPTOM_MAX}"
                )
        if isinstance(self.months_since_event, bool) or not (
            0 <= self.months_since_event <= MONTHS_MAX
        ):
            raise InvalidInput.for_field(
                "months_since_event", self.months_since_event, f"a whole number 0–{MONTHS_MAX}"
            )

    @property
    def symptom_total(self) -> int:
        return sum(self.symptoms)


@dataclass(frozen=True, slots=True)
class ScreeningResult:
    """The outcome and its reasons as message keys (see :data:`MESSAGES`)."""

    outcome: Outcome
    reasons: tuple[str, ...]
    notices: tuple[str, ...]

    @property
    def headline(self) -> str:
        return f"screening.outcome.{self.outcome.value}"

    def as_dict(self, translate: Translate = N_) -> dict[str, Any]:
        """The visitor-facing answer: outcome, headline text and reasons, each text passed
        through ``translate`` (the reader's catalogue; English without one). The symptom total
        is left out on purpose: a number invites reading it as a diagnosis."""
        return {
            "outcome": self.outcome.value,
            "headline": {"key": self.headline, "text": text(self.headline, translate)},
            "reasons": [{"key": key, "text": text(key, translate)} for key in self.reasons],
            "notices": [{"key": key, "text": text(key, translate)} for key in self.notices],
        }


NOTICES = ("screening.notice.not_a_diagnosis", "screening.notice.crisis")


def evaluate_screening(
    answers: ScreeningAnswers, settings: ScreeningSettings = DEFAULT_SCREENING_SETTINGS
) -> ScreeningResult:
    """Pick the outcome, most cautious first:

    1. any health question answered yes -> talk to your doctor first (one reason per yes, plus
       the timing or symptom reason that also applies);
    2. fewer full months than the minimum -> too soon;
    3. symptom total below the screening level -> below the studied level;
    4. otherwise -> an evaluation makes sense.
    """
    health = tuple(
        f"screening.reason.{question.value}"
        for question in HealthQuestion
        if question in answers.yes_to
    )
    too_soon = answers.months_since_event < settings.min_months.value
    below = answers.symptom_total < settings.symptom_level.value
    timing = ("screening.reason.too_soon",) if too_soon else ()
    level = ("screening.reason.below_level",) if below else ()
    if health:
        return ScreeningResult(Outcome.TALK_TO_DOCTOR_FIRST, health + timing + level, NOTICES)
    if too_soon:
        return ScreeningResult(Outcome.TOO_SOON, timing, NOTICES)
    if below:
        return ScreeningResult(Outcome.BELOW_STUDIED_LEVEL, level, NOTICES)
    return ScreeningResult(
        Outcome.EVALUATION_MAKES_SENSE,
        ("screening.reason.symptoms_at_level", "screening.reason.time_enough"),
        NOTICES,
    )


def parse_screening(data: object) -> ScreeningAnswers:
    """Answers from the decoded JSON form::

        {"symptoms": [20 ratings 0-4], "months_since_event": 6,
         "health": {"high_blood_pressure": false, "heart_disease": false, "stroke": false,
                    "pregnancy": false, "psychosis": false, "substance_use": false}}

    Every health question must be answered true or false. Raises :class:`InvalidInput`.
    """
    if not isinstance(data, Mapping):
        raise InvalidInput.for_field("screening", type(data).__name__, "a JSON object")
    symptoms = data.get("symptoms")
    expected = f"a list of {SYMPTOM_COUNT} ratings, each a whole number 0–{SYMPTOM_MAX}"
    if not isinstance(symptoms, list) or len(symptoms) != SYMPTOM_COUNT:
        shown = f"{len(symptoms)} answers" if isinstance(symptoms, list) else symptoms
        raise InvalidInput.for_field("symptoms", shown, expected)
    for index, answer in enumerate(symptoms):
        if isinstance(answer, bool) or not isinstance(answer, int):
            raise InvalidInput.for_field(
                f"symptoms[{index}]", answer, f"a whole number 0–{SYMPTOM_MAX}"
            )
    months = data.get("months_since_event")
    if isinstance(months, bool) or not isinstance(months, int):
        raise InvalidInput.for_field("months_since_event", months, f"a whole number 0–{MONTHS_MAX}")
    health = data.get("health")
    if not isinstance(health, Mapping):
        raise InvalidInput.for_field("health", health, "an object of yes/no answers")
    yes_to: set[HealthQuestion] = set()
    for question in HealthQuestion:
        answer = health.get(question.value)
        if not isinstance(answer, bool):
            raise InvalidInput.for_field(f"health.{question.value}", answer, "true or false")
        if answer:
            yes_to.add(question)
    return ScreeningAnswers(tuple(symptoms), months, frozenset(yes_to))


def parse_lang(value: str | None) -> Lang:
    """``en`` or ``es``; ``None`` or an empty value means English."""
    if not value:
        return Lang.EN
    try:
        return Lang(value)
    except ValueError:
        raise InvalidInput.for_field("lang", value, "en or es") from None


def text(key: str, translate: Translate = N_) -> str:
    """The sentence for a message key, through ``translate`` (English source text without one);
    :class:`InvalidInput` for an unknown key."""
    try:
        source = MESSAGES[key]
    except KeyError:
        raise InvalidInput.for_field("key", key, "a screening message key") from None
    return translate(source)


# Our own wording throughout. Symptom labels are short paraphrases of what each PCL-5 item is
# about, not the item text; answer labels are our own anchors for 0–4.
SYMPTOM_LABELS: tuple[str, ...] = (
    N_("Unwanted memories of the event"),
    N_("Bad dreams about it"),
    N_("Feeling it is happening again"),
    N_("Upset when something reminds you"),
    N_("Body reacts to reminders"),
    N_("Pushing thoughts of it away"),
    N_("Keeping away from reminders"),
    N_("Gaps in memory of the event"),
    N_("Harsh beliefs about self, others or the world"),
    N_("Blame for what happened"),
    N_("Lasting fear, anger, guilt or shame"),
    N_("Lost interest in things you enjoyed"),
    N_("Feeling cut off from people"),
    N_("Hard to feel good emotions"),
    N_("Irritable or angry outbursts"),
    N_("Taking risks or doing harmful things"),
    N_("Always on guard"),
    N_("Startling easily"),
    N_("Trouble concentrating"),
    N_("Trouble sleeping"),
)

ANSWER_LABELS: tuple[str, ...] = (
    N_("Not at all"),
    N_("A little"),
    N_("Somewhat"),
    N_("A lot"),
    N_("Extremely"),
)

MESSAGES: dict[str, str] = {
    **{f"screening.symptom.{n:02d}": label for n, label in enumerate(SYMPTOM_LABELS, start=1)},
    **{f"screening.answer.{n}": label for n, label in enumerate(ANSWER_LABELS)},
    "screening.question.symptoms": N_(
        "Over the last month, how strongly has each of these affected you?"
    ),
    "screening.question.months_since_event": N_(
        "How many full months ago did the event happen? (0 if less than a month)"
    ),
    "screening.question.high_blood_pressure": N_(
        "Have you been told you have high blood pressure?"
    ),
    "screening.question.heart_disease": N_(
        "Do you have heart disease, or have you had a heart attack?"
    ),
    "screening.question.stroke": N_("Have you ever had a stroke?"),
    "screening.question.pregnancy": N_("Are you pregnant, or could you be?"),
    "screening.question.psychosis": N_(
        "Have you ever been told you had psychosis (for example, hearing voices others could "
        "not hear)?"
    ),
    "screening.question.substance_use": N_(
        "Are you struggling with alcohol or drug use at the moment?"
    ),
    "screening.outcome.evaluation_makes_sense": N_(
        "An evaluation at the clinic makes sense. A clinician will go through your answers with "
        "you and decide together with you whether this treatment fits."
    ),
    "screening.outcome.talk_to_doctor_first": N_(
        "Please talk to your own doctor first. Some of your answers mean this treatment may not "
        "be safe for you without a doctor looking at your health."
    ),
    "screening.outcome.too_soon": N_(
        "It is too early to consider this treatment. Strong reactions in the first weeks after a "
        "frightening event are common and often ease. Support is available now, and you can "
        "come back to this later."
    ),
    "screening.outcome.below_studied_level": N_(
        "Your answers are below the level of symptoms at which this treatment has been studied. "
        "Your difficulties are still real: other kinds of help exist, and your doctor or a "
        "therapist can help you find them."
    ),
    "screening.reason.high_blood_pressure": N_(
        "You have high blood pressure. Ketamine raises blood pressure for a while, so a doctor "
        "should first check that yours is well controlled."
    ),
    "screening.reason.heart_disease": N_(
        "You have heart disease. A rise in blood pressure puts strain on the heart, so a doctor "
        "needs to judge whether this treatment is safe for you."
    ),
    "screening.reason.stroke": N_(
        "You have had a stroke. This treatment is generally not given after a stroke; please "
        "discuss it with your doctor."
    ),
    "screening.reason.pregnancy": N_(
        "You are or may be pregnant. This treatment is not recommended during pregnancy."
    ),
    "screening.reason.psychosis": N_(
        "You have had psychosis. Ketamine can bring on similar experiences, so a doctor needs to "
        "weigh this first."
    ),
    "screening.reason.substance_use": N_(
        "You are dealing with alcohol or drug use. Ketamine can itself be misused, so a doctor "
        "should talk this through with you first."
    ),
    "screening.reason.too_soon": N_("The event happened less than a month ago."),
    "screening.reason.below_level": N_(
        "Your symptom answers add up to less than the level used in studies of this treatment."
    ),
    "screening.reason.symptoms_at_level": N_(
        "Your symptom answers reach the level at which this treatment has been studied."
    ),
    "screening.reason.time_enough": N_("The event happened at least a month ago."),
    "screening.notice.not_a_diagnosis": N_(
        "This is not a diagnosis. Only a clinician who sees you in person can make one."
    ),
    "screening.notice.crisis": N_(
        "If you are in danger or thinking about harming yourself, call your local emergency "
        "number now."
    ),
}
