"""The intake record: what the eligibility engine reads, and the one parser from JSON to it.

DESIGN.md §4.2 fixes the JSON shape (``ketaclinic eligibility FILE.json`` and the API use the same
one). :func:`parse_intake` turns a decoded JSON mapping into an :class:`IntakeRecord`, checking the
type, presence and bounds of every field; extra keys are allowed and ignored. Errors are
:class:`InvalidInput` naming the field (list items as ``field[i]``, counted from 0 as in JSON
paths), the value and what was expected.

Bounds here are plausibility bounds (design): outside them a value cannot be a correct entry for
an adult outpatient at intake. Clinical limits (BP hold, age range, PCL-5 cut-point) are not
checked here; they belong to :mod:`ketaclinic.domain.eligibility`.

PCL-5 and PHQ-9 totals are simple sums of complete answer lists [cited: VA PCL-5 guide; CamCOPS
docs, REFERENCE.md §8.1–§8.2]; the full scoring engine lives in ``domain/instruments``.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from ketaclinic.domain.errors import InvalidInput
from ketaclinic.domain.people import HEIGHT_CM_RANGE, WEIGHT_KG_RANGE, Sex

PCL5_ITEMS = 20
PCL5_ITEM_MAX = 4
PHQ9_ITEMS = 9
PHQ9_ITEM_MAX = 3
GAD7_ITEMS = 7  # [cited: CamCOPS docs, REFERENCE.md §8.2]
GAD7_ITEM_MAX = 3

# Plausibility bounds (design): a seated adult outpatient's resting values, wide enough for any
# real reading and narrow enough to catch unit mix-ups and typing slips (e.g. 1200 for 120).
AGE_YEARS_RANGE = (0, 120)
BP_SYSTOLIC_RANGE = (50.0, 300.0)
BP_DIASTOLIC_RANGE = (20.0, 200.0)
HEART_RATE_RANGE = (20.0, 250.0)
SPO2_RANGE = (50.0, 100.0)
# Dates before this are typing slips for an intake assessment (design).
EARLIEST_ASSESSMENT = dt.date(2000, 1, 1)
MEDICATIONS_MAX = 50
MEDICATION_NAME_MAX = 100

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class Condition(StrEnum):
    """The ``conditions`` vocabulary of DESIGN.md §4.2; how each maps onto REFERENCE.md §2 is
    in :mod:`ketaclinic.domain.eligibility`."""

    KETAMINE_HYPERSENSITIVITY = "ketamine_hypersensitivity"
    UNCONTROLLED_HYPERTENSION = "uncontrolled_hypertension"
    SEVERE_CARDIOVASCULAR_DISEASE = "severe_cardiovascular_disease"
    STROKE_HISTORY = "stroke_history"
    RAISED_INTRACRANIAL_PRESSURE = "raised_intracranial_pressure"
    RAISED_INTRAOCULAR_PRESSURE = "raised_intraocular_pressure"
    PRE_ECLAMPSIA = "pre_eclampsia"
    UNTREATED_HYPERTHYROIDISM = "untreated_hyperthyroidism"
    PSYCHOSIS_HISTORY = "psychosis_history"
    CURRENT_MANIA = "current_mania"
    ACTIVE_SUBSTANCE_USE_DISORDER = "active_substance_use_disorder"
    KETAMINE_MISUSE_HISTORY = "ketamine_misuse_history"
    LIVER_DISEASE = "liver_disease"
    SEIZURE_DISORDER = "seizure_disorder"


CONDITION_VOCABULARY = ", ".join(c.value for c in Condition)


@dataclass(frozen=True, slots=True)
class IntakeRecord:
    """One intake assessment, validated on construction.

    Units: ``weight_kg`` kg, ``height_cm`` cm, ``bp_systolic``/``bp_diastolic`` mmHg (resting),
    ``heart_rate`` beats/min, ``spo2`` % on room air. ``pcl5`` holds the 20 item answers (0–4) and
    ``phq9`` the 9 item answers (0–3), in item order. ``conditions`` uses :class:`Condition`.

    Raises :class:`InvalidInput` when a value is out of bounds, a list has the wrong length, the
    trauma date is after the assessment date or before the patient can have been born, or
    diastolic pressure is not below systolic.
    """

    assessment_date: dt.date
    age_years: int
    sex: Sex
    weight_kg: float
    height_cm: float
    trauma_date: dt.date
    pregnant: bool
    bp_systolic: float
    bp_diastolic: float
    heart_rate: float
    spo2: float
    pcl5: tuple[int, ...]
    phq9: tuple[int, ...]
    conditions: frozenset[Condition]
    medications: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.assessment_date < EARLIEST_ASSESSMENT:
            raise InvalidInput.for_field(
                "assessment_date",
                self.assessment_date.isoformat(),
                f"a date on or after {EARLIEST_ASSESSMENT.isoformat()}",
            )
        _check_range("age_years", self.age_years, AGE_YEARS_RANGE, "years")
        _check_range("weight_kg", self.weight_kg, WEIGHT_KG_RANGE, "kg")
        _check_range("height_cm", self.height_cm, HEIGHT_CM_RANGE, "cm")
        _check_range("bp_systolic", self.bp_systolic, BP_SYSTOLIC_RANGE, "mmHg")
        _check_range("bp_diastolic", self.bp_diastolic, BP_DIASTOLIC_RANGE, "mmHg")
        if self.bp_diastolic >= self.bp_systolic:
            raise InvalidInput.for_field(
                "bp_diastolic",
                self.bp_diastolic,
                f"a value below bp_systolic ({self.bp_systolic:g} mmHg)",
            )
        _check_range("heart_rate", self.heart_rate, HEART_RATE_RANGE, "/min")
        _check_range("spo2", self.spo2, SPO2_RANGE, "%")
        _check_answers("pcl5", self.pcl5, PCL5_ITEMS, PCL5_ITEM_MAX)
        _check_answers("phq9", self.phq9, PHQ9_ITEMS, PHQ9_ITEM_MAX)
        if self.trauma_date > self.assessment_date:
            raise InvalidInput.for_field(
                "trauma_date",
                self.trauma_date.isoformat(),
                f"a date on or before assessment_date ({self.assessment_date.isoformat()})",
            )
        earliest_birth = earliest_birth_date(self.assessment_date, self.age_years)
        if self.trauma_date < earliest_birth:
            raise InvalidInput.for_field(
                "trauma_date",
                self.trauma_date.isoformat(),
                f"a date after the patient's birth (aged {self.age_years} on "
                f"{self.assessment_date.isoformat()}, so on or after {earliest_birth.isoformat()})",
            )
        if len(self.medications) > MEDICATIONS_MAX:
            raise InvalidInput.for_field(
                "medications", len(self.medications), f"at most {MEDICATIONS_MAX} entries"
            )
        for index, name in enumerate(self.medications):
            if not name.strip() or len(name) > MEDICATION_NAME_MAX:
                raise InvalidInput.for_field(
                    f"medications[{index}]", name, f"a name of 1–{MEDICATION_NAME_MAX} characters"
                )

    @property
    def pcl5_total(self) -> int:
        """PCL-5 total, 0–80: the sum of the 20 answers [cited: VA PCL-5 guide, REFERENCE §8.1]."""
        return sum(self.pcl5)

    @property
    def phq9_total(self) -> int:
        """PHQ-9 total, 0–27: the sum of the 9 answers [cited: CamCOPS docs, REFERENCE §8.2]."""
        return sum(self.phq9)

    @property
    def phq9_item9(self) -> int:
        """The answer to PHQ-9 item 9 (0–3), the item routed to same-day risk assessment."""
        return self.phq9[8]


def earliest_birth_date(on: dt.date, age_years: int) -> dt.date:
    """The earliest birth date of someone aged ``age_years`` on the date ``on``."""
    return _years_before(on, age_years + 1) + dt.timedelta(days=1)


def parse_intake(data: object, *, today: dt.date | None = None) -> IntakeRecord:
    """Build an :class:`IntakeRecord` from the decoded JSON of DESIGN.md §4.2.

    ``data`` must be a mapping with every field of the shape present; other keys are ignored.
    ``today`` (the site's local date, injected by the caller) makes an assessment date in the
    future bad input; without it only the internal consistency of the dates is checked.

    Raises :class:`InvalidInput` naming the first offending field, its value and the expectation.
    """
    if not isinstance(data, Mapping):
        raise InvalidInput.for_field("intake", type(data).__name__, "a JSON object")
    assessment_date = _date(data, "assessment_date")
    if today is not None and assessment_date > today:
        raise InvalidInput.for_field(
            "assessment_date",
            assessment_date.isoformat(),
            f"a date on or before today ({today.isoformat()})",
        )
    return IntakeRecord(
        assessment_date=assessment_date,
        age_years=_whole(data, "age_years"),
        sex=_sex(data),
        weight_kg=_number(data, "weight_kg"),
        height_cm=_number(data, "height_cm"),
        trauma_date=_date(data, "trauma_date"),
        pregnant=_bool(data, "pregnant"),
        bp_systolic=_number(data, "bp_systolic"),
        bp_diastolic=_number(data, "bp_diastolic"),
        heart_rate=_number(data, "heart_rate"),
        spo2=_number(data, "spo2"),
        pcl5=_answers(data, "pcl5", PCL5_ITEMS, PCL5_ITEM_MAX),
        phq9=_answers(data, "phq9", PHQ9_ITEMS, PHQ9_ITEM_MAX),
        conditions=_conditions(data),
        medications=_medications(data),
    )


def parse_gad7(data: object) -> tuple[int, ...] | None:
    """The optional baseline GAD-7 of an intake: key ``gad7``, seven answers 0–3 in item order
    [cited: CamCOPS docs, REFERENCE.md §8.2]; ``None`` when the key is absent or null.

    Raises :class:`InvalidInput` naming ``gad7`` or the item (``gad7[3]``) otherwise."""
    if not isinstance(data, Mapping) or data.get("gad7") is None:
        return None
    answers = _answers(data, "gad7", GAD7_ITEMS, GAD7_ITEM_MAX)
    _check_answers("gad7", answers, GAD7_ITEMS, GAD7_ITEM_MAX)
    return answers


def parse_condition(field: str, value: object) -> Condition:
    """One ``conditions`` code; anything outside the vocabulary is :class:`InvalidInput`."""
    if isinstance(value, str):
        try:
            return Condition(value)
        except ValueError:
            pass
    raise InvalidInput.for_field(field, value, f"one of {CONDITION_VOCABULARY}")


# --- field parsers: type and presence; bounds are checked by IntakeRecord itself ---------------


def _present(data: Mapping[object, object], name: str, expected: str) -> object:
    if name not in data or data[name] is None:
        raise InvalidInput(
            f"{name}: missing, expected {expected}", field=name, value=None, expected=expected
        )
    return data[name]


def _date(data: Mapping[object, object], name: str) -> dt.date:
    expected = "a date YYYY-MM-DD"
    value = _present(data, name, expected)
    if isinstance(value, str) and _ISO_DATE.match(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise InvalidInput.for_field(name, value, expected)


def _number(data: Mapping[object, object], name: str) -> float:
    value = _present(data, name, "a number")
    # bool is an int subclass in Python; true/false is never a measurement.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput.for_field(name, value, "a number")
    try:
        number = float(value)
    except OverflowError:  # an integer too large for a float
        raise InvalidInput.for_field(name, value, "a finite number") from None
    if not math.isfinite(number):
        raise InvalidInput.for_field(name, value, "a finite number")
    return number


def _as_whole(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _whole(data: Mapping[object, object], name: str) -> int:
    value = _present(data, name, "a whole number")
    whole = _as_whole(value)
    if whole is None:
        raise InvalidInput.for_field(name, value, "a whole number")
    return whole


def _bool(data: Mapping[object, object], name: str) -> bool:
    value = _present(data, name, "true or false")
    if not isinstance(value, bool):
        raise InvalidInput.for_field(name, value, "true or false")
    return value


def _sex(data: Mapping[object, object]) -> Sex:
    allowed = ", ".join(s.value for s in Sex)
    value = _present(data, "sex", f"one of {allowed}")
    if isinstance(value, str):
        try:
            return Sex(value)
        except ValueError:
            pass
    raise InvalidInput.for_field("sex", value, f"one of {allowed}")


def _list(data: Mapping[object, object], name: str, expected: str) -> Sequence[object]:
    value = _present(data, name, expected)
    if not isinstance(value, list | tuple):
        raise InvalidInput.for_field(name, value, expected)
    return value


def _answers(
    data: Mapping[object, object], name: str, count: int, item_max: int
) -> tuple[int, ...]:
    expected = f"a list of {count} answers, each a whole number 0–{item_max}"
    items = _list(data, name, expected)
    if len(items) != count:
        raise InvalidInput.for_field(name, f"{len(items)} answers", expected)
    answers: list[int] = []
    for index, item in enumerate(items):
        whole = _as_whole(item)
        if whole is None:
            raise InvalidInput.for_field(
                f"{name}[{index}]", item, f"item {index + 1}: a whole number 0–{item_max}"
            )
        answers.append(whole)
    return tuple(answers)


def _conditions(data: Mapping[object, object]) -> frozenset[Condition]:
    items = _list(data, "conditions", "a list of condition codes (may be empty)")
    return frozenset(
        parse_condition(f"conditions[{index}]", item) for index, item in enumerate(items)
    )


def _medications(data: Mapping[object, object]) -> tuple[str, ...]:
    items = _list(data, "medications", "a list of medication names (may be empty)")
    names: list[str] = []
    for index, item in enumerate(items):
        if not isinstance(item, str):
            raise InvalidInput.for_field(f"medications[{index}]", item, "a medication name")
        names.append(item.strip())
    return tuple(names)


# --- invariant checks ----------------------------------------------------------------------


def _check_range(name: str, value: float, bounds: tuple[float, float], unit: str) -> None:
    low, high = bounds
    if not (low <= value <= high):
        raise InvalidInput.for_field(name, value, f"{low:g}–{high:g} {unit}")


def _check_answers(name: str, answers: tuple[int, ...], count: int, item_max: int) -> None:
    if len(answers) != count:
        raise InvalidInput.for_field(
            name, f"{len(answers)} answers", f"a list of {count} answers, each 0–{item_max}"
        )
    for index, answer in enumerate(answers):
        if not (0 <= answer <= item_max):
            raise InvalidInput.for_field(
                f"{name}[{index}]", answer, f"item {index + 1}: a whole number 0–{item_max}"
            )


def _years_before(day: dt.date, years: int) -> dt.date:
    """The same calendar day ``years`` earlier; 29 February becomes 28 February."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)
