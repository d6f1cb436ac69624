"""Public self-screening: "does an evaluation at the clinic make sense for me?" — never a diagnosis.

The visitor answers three things (DESIGN.md §2, capability 1):

- a symptom check with the structure of the PCL-5: 20 symptoms, each rated 0–4 over the last
  month [cited: VA PCL-5 guide, REFERENCE.md §8.1]. The labels are our own short wording
  (REFERENCE.md §10: no instrument item text ships with ketaclinic);
- how many full months ago the event happened (0 = less than a month);
- six yes/no questions a layperson can answer, one per contraindication group of REFERENCE.md §2
  (high blood pressure, heart disease, stroke, pregnancy, psychosis, substance use).

The answer is one :class:`Outcome` with the reasons for it, as message keys with English and
Spanish text (:data:`MESSAGES`). Every answer carries the "not a diagnosis" and crisis notices.
Nothing here stores anything; the web page decides what, if anything, to keep.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ketaclinic.domain.errors import InvalidInput
from ketaclinic.domain.provenance import Threshold, cited

SYMPTOM_COUNT = 20
SYMPTOM_MAX = 4
MONTHS_MAX = 1200  # a century: anything larger is a typing slip (design)


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

    def as_dict(self, lang: Lang = Lang.EN) -> dict[str, Any]:
        """The visitor-facing answer: outcome, headline text and reasons in ``lang``. The symptom
        total is left out on purpose: a number invites reading it as a diagnosis."""
        return {
            "outcome": self.outcome.value,
            "headline": {"key": self.headline, "text": text(self.headline, lang)},
            "reasons": [{"key": key, "text": text(key, lang)} for key in self.reasons],
            "notices": [{"key": key, "text": text(key, lang)} for key in self.notices],
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


def text(key: str, lang: Lang = Lang.EN) -> str:
    """The sentence for a message key; :class:`InvalidInput` for an unknown key."""
    try:
        entry = MESSAGES[key]
    except KeyError:
        raise InvalidInput.for_field("key", key, "a screening message key") from None
    return entry[lang]


def _m(en: str, es: str) -> dict[Lang, str]:
    return {Lang.EN: en, Lang.ES: es}


# Our own wording throughout. Symptom labels are short paraphrases of what each PCL-5 item is
# about, not the item text; answer labels are our own anchors for 0–4.
SYMPTOM_LABELS: tuple[dict[Lang, str], ...] = (
    _m("Unwanted memories of the event", "Recuerdos no deseados del suceso"),
    _m("Bad dreams about it", "Pesadillas sobre lo ocurrido"),
    _m("Feeling it is happening again", "Sentir que vuelve a ocurrir"),
    _m("Upset when something reminds you", "Malestar cuando algo se lo recuerda"),
    _m("Body reacts to reminders", "El cuerpo reacciona ante los recuerdos"),
    _m("Pushing thoughts of it away", "Apartar los pensamientos sobre ello"),
    _m("Keeping away from reminders", "Alejarse de lo que se lo recuerda"),
    _m("Gaps in memory of the event", "Lagunas de memoria sobre el suceso"),
    _m(
        "Harsh beliefs about self, others or the world",
        "Ideas duras sobre usted, los demás o el mundo",
    ),
    _m("Blame for what happened", "Culpa por lo que pasó"),
    _m("Lasting fear, anger, guilt or shame", "Miedo, ira, culpa o vergüenza persistentes"),
    _m("Lost interest in things you enjoyed", "Pérdida de interés por lo que disfrutaba"),
    _m("Feeling cut off from people", "Sentirse aislado de la gente"),
    _m("Hard to feel good emotions", "Dificultad para sentir emociones agradables"),
    _m("Irritable or angry outbursts", "Irritabilidad o arrebatos de ira"),
    _m("Taking risks or doing harmful things", "Correr riesgos o hacer cosas dañinas"),
    _m("Always on guard", "Estar siempre en guardia"),
    _m("Startling easily", "Sobresaltarse con facilidad"),
    _m("Trouble concentrating", "Dificultad para concentrarse"),
    _m("Trouble sleeping", "Problemas para dormir"),
)

ANSWER_LABELS: tuple[dict[Lang, str], ...] = (
    _m("Not at all", "Nada"),
    _m("A little", "Un poco"),
    _m("Somewhat", "Algo"),
    _m("A lot", "Mucho"),
    _m("Extremely", "Muchísimo"),
)

MESSAGES: dict[str, dict[Lang, str]] = {
    **{f"screening.symptom.{n:02d}": label for n, label in enumerate(SYMPTOM_LABELS, start=1)},
    **{f"screening.answer.{n}": label for n, label in enumerate(ANSWER_LABELS)},
    "screening.question.symptoms": _m(
        "Over the last month, how strongly has each of these affected you?",
        "Durante el último mes, ¿con qué intensidad le ha afectado cada una de estas cosas?",
    ),
    "screening.question.months_since_event": _m(
        "How many full months ago did the event happen? (0 if less than a month)",
        "¿Hace cuántos meses completos ocurrió el suceso? (0 si hace menos de un mes)",
    ),
    "screening.question.high_blood_pressure": _m(
        "Have you been told you have high blood pressure?",
        "¿Le han dicho que tiene la presión arterial alta?",
    ),
    "screening.question.heart_disease": _m(
        "Do you have heart disease, or have you had a heart attack?",
        "¿Tiene alguna enfermedad del corazón o ha sufrido un infarto?",
    ),
    "screening.question.stroke": _m(
        "Have you ever had a stroke?",
        "¿Ha sufrido alguna vez un derrame o accidente cerebrovascular?",
    ),
    "screening.question.pregnancy": _m(
        "Are you pregnant, or could you be?",
        "¿Está embarazada o podría estarlo?",
    ),
    "screening.question.psychosis": _m(
        "Have you ever been told you had psychosis (for example, hearing voices others could "
        "not hear)?",
        "¿Le han dicho alguna vez que tuvo psicosis (por ejemplo, oír voces que otros no oían)?",
    ),
    "screening.question.substance_use": _m(
        "Are you struggling with alcohol or drug use at the moment?",
        "¿Tiene actualmente problemas con el alcohol o las drogas?",
    ),
    "screening.outcome.evaluation_makes_sense": _m(
        "An evaluation at the clinic makes sense. A clinician will go through your answers with "
        "you and decide together with you whether this treatment fits.",
        "Tiene sentido hacer una evaluación en la clínica. Un profesional revisará sus respuestas "
        "con usted y decidirán juntos si este tratamiento es adecuado.",
    ),
    "screening.outcome.talk_to_doctor_first": _m(
        "Please talk to your own doctor first. Some of your answers mean this treatment may not "
        "be safe for you without a doctor looking at your health.",
        "Hable primero con su médico. Algunas de sus respuestas indican que este tratamiento "
        "podría no ser seguro para usted sin que un médico revise su salud.",
    ),
    "screening.outcome.too_soon": _m(
        "It is too early to consider this treatment. Strong reactions in the first weeks after a "
        "frightening event are common and often ease. Support is available now, and you can "
        "come back to this later.",
        "Todavía es pronto para considerar este tratamiento. Las reacciones intensas en las "
        "primeras semanas después de un suceso aterrador son frecuentes y a menudo disminuyen. "
        "Hay apoyo disponible ahora, y puede volver a esto más adelante.",
    ),
    "screening.outcome.below_studied_level": _m(
        "Your answers are below the level of symptoms at which this treatment has been studied. "
        "Your difficulties are still real: other kinds of help exist, and your doctor or a "
        "therapist can help you find them.",
        "Sus respuestas están por debajo del nivel de síntomas en el que se ha estudiado este "
        "tratamiento. Sus dificultades siguen siendo reales: existen otros tipos de ayuda y su "
        "médico o un terapeuta pueden ayudarle a encontrarlos.",
    ),
    "screening.reason.high_blood_pressure": _m(
        "You have high blood pressure. Ketamine raises blood pressure for a while, so a doctor "
        "should first check that yours is well controlled.",
        "Tiene la presión arterial alta. La ketamina la eleva durante un tiempo, así que un "
        "médico debe comprobar antes que la suya está bien controlada.",
    ),
    "screening.reason.heart_disease": _m(
        "You have heart disease. A rise in blood pressure puts strain on the heart, so a doctor "
        "needs to judge whether this treatment is safe for you.",
        "Tiene una enfermedad del corazón. Una subida de la presión arterial exige más esfuerzo "
        "al corazón, así que un médico debe valorar si este tratamiento es seguro para usted.",
    ),
    "screening.reason.stroke": _m(
        "You have had a stroke. This treatment is generally not given after a stroke; please "
        "discuss it with your doctor.",
        "Ha sufrido un derrame cerebral. Este tratamiento en general no se da después de un "
        "derrame; hable de ello con su médico.",
    ),
    "screening.reason.pregnancy": _m(
        "You are or may be pregnant. This treatment is not recommended during pregnancy.",
        "Está o podría estar embarazada. Este tratamiento no se recomienda durante el embarazo.",
    ),
    "screening.reason.psychosis": _m(
        "You have had psychosis. Ketamine can bring on similar experiences, so a doctor needs to "
        "weigh this first.",
        "Ha tenido psicosis. La ketamina puede provocar experiencias parecidas, así que un "
        "médico debe valorarlo antes.",
    ),
    "screening.reason.substance_use": _m(
        "You are dealing with alcohol or drug use. Ketamine can itself be misused, so a doctor "
        "should talk this through with you first.",
        "Está lidiando con el consumo de alcohol o drogas. La ketamina también puede consumirse "
        "de forma indebida, así que un médico debe hablarlo antes con usted.",
    ),
    "screening.reason.too_soon": _m(
        "The event happened less than a month ago.",
        "El suceso ocurrió hace menos de un mes.",
    ),
    "screening.reason.below_level": _m(
        "Your symptom answers add up to less than the level used in studies of this treatment.",
        "Sus respuestas sobre síntomas suman menos que el nivel usado en los estudios de este "
        "tratamiento.",
    ),
    "screening.reason.symptoms_at_level": _m(
        "Your symptom answers reach the level at which this treatment has been studied.",
        "Sus respuestas sobre síntomas alcanzan el nivel en el que se ha estudiado este "
        "tratamiento.",
    ),
    "screening.reason.time_enough": _m(
        "The event happened at least a month ago.",
        "El suceso ocurrió hace al menos un mes.",
    ),
    "screening.notice.not_a_diagnosis": _m(
        "This is not a diagnosis. Only a clinician who sees you in person can make one.",
        "Esto no es un diagnóstico. Solo un profesional que le atienda en persona puede hacerlo.",
    ),
    "screening.notice.crisis": _m(
        "If you are in danger or thinking about harming yourself, call your local emergency "
        "number now.",
        "Si está en peligro o piensa en hacerse daño, llame ahora al número de emergencias local.",
    ),
}
