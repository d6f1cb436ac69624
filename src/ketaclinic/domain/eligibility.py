"""The eligibility engine: an intake record in, ``eligible`` / ``needs_review`` / ``excluded`` out.

Rules are data (:class:`Rule`): a stable code, a class (absolute / relative / vital limit /
duration / screening), an action (exclude or needs review), a message and the provenance of the
rule (REFERENCE.md §2 contraindication table, §5 baseline limits, §8 screening cut-points).
:func:`evaluate` returns every reason that applies; the worst action decides::

    no reason                         -> eligible
    only needs_review reasons         -> needs_review
    at least one exclude reason       -> excluded

Numeric limits are :class:`~ketaclinic.domain.provenance.Threshold` values collected in
:class:`EligibilitySettings`; a clinic replaces them with ``Threshold.with_value`` and the reason's
source then shows the clinic setting. A reason driven by a threshold cites that threshold's
provenance, so a clinic-set value is never shown as a published one.

:func:`override_decision` is the prescriber override: ``needs_review`` may become ``eligible``
with a written reason; ``excluded`` never can (an absolute contraindication is permanent, a
vital-sign exclusion holds for the day, a duration exclusion until the date it names).
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any

from ketaclinic.domain.errors import (
    IllegalTransition,
    InvalidInput,
    LimitExceeded,
    PermissionDenied,
)
from ketaclinic.domain.intake import Condition, IntakeRecord
from ketaclinic.domain.people import Role
from ketaclinic.domain.provenance import Provenance, Threshold, cited, design, unverified

OVERRIDE_REASON_MAX = 1000


class Decision(StrEnum):
    ELIGIBLE = "eligible"
    NEEDS_REVIEW = "needs_review"
    EXCLUDED = "excluded"

    @property
    def severity(self) -> int:
        """0 eligible, 1 needs review, 2 excluded: the larger one wins."""
        return _SEVERITY[self]


_SEVERITY = {Decision.ELIGIBLE: 0, Decision.NEEDS_REVIEW: 1, Decision.EXCLUDED: 2}


class RuleClass(StrEnum):
    ABSOLUTE = "absolute"
    RELATIVE = "relative"
    VITAL_LIMIT = "vital_limit"
    DURATION = "duration"
    SCREENING = "screening"


class Action(StrEnum):
    EXCLUDE = "exclude"
    NEEDS_REVIEW = "needs_review"

    @property
    def decision(self) -> Decision:
        return Decision.EXCLUDED if self is Action.EXCLUDE else Decision.NEEDS_REVIEW


@dataclass(frozen=True, slots=True)
class Rule:
    """One eligibility rule. ``message`` is the clinician-facing sentence; a reason may append the
    measured values to it."""

    code: str
    rule_class: RuleClass
    action: Action
    message: str
    provenance: Provenance


@dataclass(frozen=True, slots=True)
class Reason:
    """A rule that applied to one intake record, with the values that made it apply."""

    rule: Rule
    detail: str = ""
    # The threshold's provenance when a threshold drove the rule; otherwise the rule's own.
    provenance: Provenance | None = None

    @property
    def code(self) -> str:
        return self.rule.code

    @property
    def action(self) -> Action:
        return self.rule.action

    @property
    def message(self) -> str:
        return f"{self.rule.message} {self.detail}" if self.detail else self.rule.message

    @property
    def source(self) -> str:
        return (self.provenance or self.rule.provenance).label()

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "source": self.source}


@dataclass(frozen=True, slots=True)
class EligibilityResult:
    """The engine's answer: every reason that applied, and the decision the worst one gives."""

    decision: Decision
    reasons: tuple[Reason, ...]

    @classmethod
    def from_reasons(cls, reasons: tuple[Reason, ...]) -> EligibilityResult:
        decision = max(
            (reason.action.decision for reason in reasons),
            key=lambda d: d.severity,
            default=Decision.ELIGIBLE,
        )
        return cls(decision=decision, reasons=reasons)

    def as_dict(self) -> dict[str, Any]:
        """The JSON answer of DESIGN.md §4.2."""
        return {
            "decision": self.decision.value,
            "reasons": [reason.as_dict() for reason in self.reasons],
        }


# --- the rules -----------------------------------------------------------------------------

_ABSOLUTE = "absolute contraindication; no infusion."
_RELATIVE = "relative contraindication; a prescriber reviews and attests before treatment."
_SANACORA = "Sanacora 2017 (attributed)"
_BP_HOLD = unverified(f"{_SANACORA}; clinic protocol cited: Accelerated Psychiatry", "§5")
_BP_ABSOLUTE = cited("Swiss label", "§2, §5")
_HR = unverified(f"{_SANACORA}, limit during infusion applied at baseline", "§5")
_SPO2 = unverified("modified Aldrete 2-point level, applied at baseline", "§5")
_ITEM9 = unverified("PHQ-9 item 9 ≥ 1; no primary source named", "§5, §8.2")

CONDITION_RULES: dict[Condition, Rule] = {
    Condition(rule.code): rule
    for rule in (
        Rule(
            Condition.KETAMINE_HYPERSENSITIVITY.value,
            RuleClass.ABSOLUTE,
            Action.EXCLUDE,
            f"Hypersensitivity to ketamine or an excipient (benzethonium): {_ABSOLUTE}",
            cited("Ketalar US PI", "§2"),
        ),
        Rule(
            Condition.UNCONTROLLED_HYPERTENSION.value,
            RuleClass.ABSOLUTE,
            Action.EXCLUDE,
            f"Untreated or poorly controlled hypertension: {_ABSOLUTE}",
            cited("Swiss label", "§2"),
        ),
        Rule(
            Condition.SEVERE_CARDIOVASCULAR_DISEASE.value,
            RuleClass.ABSOLUTE,
            Action.EXCLUDE,
            "Severe coronary or myocardial disease, where a rise in blood pressure is a serious "
            f"hazard: {_ABSOLUTE}",
            cited("UK SmPC; Swiss label; Ketalar US PI", "§2"),
        ),
        Rule(
            Condition.STROKE_HISTORY.value,
            RuleClass.ABSOLUTE,
            Action.EXCLUDE,
            f"Stroke: {_ABSOLUTE}",
            cited("UK SmPC; Swiss label", "§2"),
        ),
        Rule(
            Condition.PRE_ECLAMPSIA.value,
            RuleClass.ABSOLUTE,
            Action.EXCLUDE,
            f"Eclampsia or pre-eclampsia: {_ABSOLUTE}",
            cited("UK SmPC; Swiss label", "§2"),
        ),
        Rule(
            Condition.UNTREATED_HYPERTHYROIDISM.value,
            RuleClass.ABSOLUTE,
            Action.EXCLUDE,
            f"Untreated hyperthyroidism: {_ABSOLUTE}",
            cited("Swiss label", "§2"),
        ),
        Rule(
            Condition.RAISED_INTRACRANIAL_PRESSURE.value,
            RuleClass.RELATIVE,
            Action.NEEDS_REVIEW,
            f"Raised intracranial pressure: {_RELATIVE}",
            cited("Ketalar US PI; UK SmPC", "§2"),
        ),
        Rule(
            Condition.RAISED_INTRAOCULAR_PRESSURE.value,
            RuleClass.RELATIVE,
            Action.NEEDS_REVIEW,
            f"Raised intraocular pressure: {_RELATIVE}",
            cited("Ketalar US PI; UK SmPC", "§2"),
        ),
        Rule(
            Condition.LIVER_DISEASE.value,
            RuleClass.RELATIVE,
            Action.NEEDS_REVIEW,
            "Liver disease (liver injury is reported with repeated use): "
            f"{_RELATIVE} Baseline liver function tests and re-checks.",
            cited("Ketalar US PI; UK SmPC", "§2"),
        ),
        Rule(
            Condition.PSYCHOSIS_HISTORY.value,
            RuleClass.RELATIVE,
            Action.NEEDS_REVIEW,
            f"History of psychosis: {_RELATIVE}",
            unverified(_SANACORA, "§2"),
        ),
        Rule(
            Condition.CURRENT_MANIA.value,
            RuleClass.RELATIVE,
            Action.NEEDS_REVIEW,
            f"Current mania: {_RELATIVE}",
            unverified(_SANACORA, "§2"),
        ),
        Rule(
            Condition.ACTIVE_SUBSTANCE_USE_DISORDER.value,
            RuleClass.RELATIVE,
            Action.NEEDS_REVIEW,
            f"Active substance use disorder: {_RELATIVE}",
            unverified(_SANACORA, "§2"),
        ),
        Rule(
            Condition.KETAMINE_MISUSE_HISTORY.value,
            RuleClass.RELATIVE,
            Action.NEEDS_REVIEW,
            f"History of ketamine or PCP misuse: {_RELATIVE}",
            unverified(_SANACORA, "§2"),
        ),
        # REFERENCE.md §2 does not list seizure disorders. We neither exclude nor ignore them:
        # a prescriber weighs them like a relative contraindication.
        Rule(
            Condition.SEIZURE_DISORDER.value,
            RuleClass.RELATIVE,
            Action.NEEDS_REVIEW,
            "Seizure disorder: not among the listed contraindications; a prescriber reviews it "
            "before treatment.",
            design("not in the contraindication table; review chosen by ketaclinic", "§2"),
        ),
    )
}

PREGNANCY = Rule(
    "pregnancy",
    RuleClass.RELATIVE,
    Action.NEEDS_REVIEW,
    f"Pregnancy (ketamine is not recommended): {_RELATIVE}",
    cited("Ketalar US PI; UK SmPC", "§2"),
)
BP_ABOVE_ABSOLUTE_LIMIT = Rule(
    "bp_above_absolute_limit",
    RuleClass.VITAL_LIMIT,
    Action.EXCLUDE,
    "Resting blood pressure above the absolute limit: no infusion today.",
    _BP_ABSOLUTE,
)
BP_ABOVE_HOLD_LIMIT = Rule(
    "bp_above_hold_limit",
    RuleClass.VITAL_LIMIT,
    Action.NEEDS_REVIEW,
    "Resting blood pressure above the hold limit: hold, re-measure after rest; a prescriber "
    "may proceed.",
    _BP_HOLD,
)
HEART_RATE_ABOVE_LIMIT = Rule(
    "heart_rate_above_limit",
    RuleClass.VITAL_LIMIT,
    Action.NEEDS_REVIEW,
    "Resting heart rate above the limit set for infusions: re-measure; prescriber review.",
    _HR,
)
SPO2_BELOW_LIMIT = Rule(
    "spo2_below_limit",
    RuleClass.VITAL_LIMIT,
    Action.NEEDS_REVIEW,
    "Oxygen saturation on room air below the limit set for infusions: re-measure; prescriber "
    "review.",
    _SPO2,
)
SYMPTOM_DURATION_TOO_SHORT = Rule(
    "symptom_duration_too_short",
    RuleClass.DURATION,
    Action.EXCLUDE,
    "PTSD needs symptoms lasting more than one month after the event (DSM-5 criterion F).",
    cited("CAPS-5 form", "§8.3"),
)
PHQ9_ITEM9_POSITIVE = Rule(
    "phq9_item9_positive",
    RuleClass.SCREENING,
    Action.NEEDS_REVIEW,
    "PHQ-9 item 9 is positive: same-day suicide-risk assessment (C-SSRS and clinician) "
    "before dosing.",
    _ITEM9,
)
PCL5_BELOW_CUT_POINT = Rule(
    "pcl5_below_cut_point",
    RuleClass.SCREENING,
    Action.NEEDS_REVIEW,
    "PCL-5 total below the cut-point: the score does not support the PTSD indication; "
    "prescriber review.",
    cited("VA PCL-5 guide", "§8.1"),
)
AGE_OUTSIDE_STUDIED_RANGE = Rule(
    "age_outside_studied_range",
    RuleClass.SCREENING,
    Action.NEEDS_REVIEW,
    "Age outside the range of the trial populations: prescriber review.",
    cited("Feder 2014; Feder 2021; Abdallah 2022 (adult populations)", "§1"),
)

RULES: tuple[Rule, ...] = (
    *CONDITION_RULES.values(),
    PREGNANCY,
    BP_ABOVE_ABSOLUTE_LIMIT,
    BP_ABOVE_HOLD_LIMIT,
    HEART_RATE_ABOVE_LIMIT,
    SPO2_BELOW_LIMIT,
    SYMPTOM_DURATION_TOO_SHORT,
    PHQ9_ITEM9_POSITIVE,
    PCL5_BELOW_CUT_POINT,
    AGE_OUTSIDE_STUDIED_RANGE,
)
"""Every rule the engine applies, in the order reasons are reported (for docs and the UI)."""


# --- thresholds ----------------------------------------------------------------------------

BP_HOLD_SYSTOLIC = Threshold("bp_hold_systolic", 140, "mm[Hg]", _BP_HOLD)
BP_HOLD_DIASTOLIC = Threshold("bp_hold_diastolic", 90, "mm[Hg]", _BP_HOLD)
BP_ABSOLUTE_SYSTOLIC = Threshold("bp_absolute_systolic", 180, "mm[Hg]", _BP_ABSOLUTE)
BP_ABSOLUTE_DIASTOLIC = Threshold("bp_absolute_diastolic", 100, "mm[Hg]", _BP_ABSOLUTE)
HEART_RATE_MAX = Threshold("heart_rate_max", 110, "/min", _HR)
SPO2_MIN = Threshold("spo2_min", 92, "%", _SPO2)
MIN_SYMPTOM_MONTHS = Threshold(
    "min_symptom_months", 1, "mo", cited("CAPS-5 form (DSM-5 criterion F)", "§8.3")
)
PHQ9_ITEM9_REVIEW_AT = Threshold("phq9_item9_review_at", 1, "{score}", _ITEM9)
PCL5_CUT_POINT = Threshold("pcl5_cut_point", 33, "{score}", cited("VA PCL-5 guide", "§8.1"))
AGE_MIN = Threshold("age_min", 18, "a", cited("Feder 2014 (18–55 y)", "§1"))
# The trials report adults; only Feder 2014 gives its range (18–55). 65 is our default upper bound
# for "studied in trial populations", not a published limit.
AGE_MAX = Threshold(
    "age_max", 65, "a", design("upper age of trial populations; Feder 2014 enrolled 18–55")
)


@dataclass(frozen=True, slots=True)
class EligibilitySettings:
    """The clinic-owned numbers the engine compares against (REFERENCE.md §0: every threshold is
    the medical director's). Limits are exclusive where the source says "above"/"below":
    BP 140/90 exactly is not above the hold limit; a PCL-5 total equal to the cut-point passes.

    Raises :class:`InvalidInput` if a threshold has the wrong key, if the hold limits are above
    the absolute limits, if the age range is empty or if a count is not a whole number.
    """

    bp_hold_systolic: Threshold = BP_HOLD_SYSTOLIC
    bp_hold_diastolic: Threshold = BP_HOLD_DIASTOLIC
    bp_absolute_systolic: Threshold = BP_ABSOLUTE_SYSTOLIC
    bp_absolute_diastolic: Threshold = BP_ABSOLUTE_DIASTOLIC
    heart_rate_max: Threshold = HEART_RATE_MAX
    spo2_min: Threshold = SPO2_MIN
    min_symptom_months: Threshold = MIN_SYMPTOM_MONTHS
    phq9_item9_review_at: Threshold = PHQ9_ITEM9_REVIEW_AT
    pcl5_cut_point: Threshold = PCL5_CUT_POINT
    age_min: Threshold = AGE_MIN
    age_max: Threshold = AGE_MAX

    def __post_init__(self) -> None:
        for spec in fields(self):
            threshold = getattr(self, spec.name)
            if threshold.key != spec.name:
                raise InvalidInput.for_field(spec.name, threshold.key, f"threshold key {spec.name}")
        if self.bp_hold_systolic.value > self.bp_absolute_systolic.value:
            raise InvalidInput.for_field(
                "bp_hold_systolic",
                self.bp_hold_systolic.value,
                f"at most bp_absolute_systolic ({self.bp_absolute_systolic.value:g})",
            )
        if self.bp_hold_diastolic.value > self.bp_absolute_diastolic.value:
            raise InvalidInput.for_field(
                "bp_hold_diastolic",
                self.bp_hold_diastolic.value,
                f"at most bp_absolute_diastolic ({self.bp_absolute_diastolic.value:g})",
            )
        if self.age_min.value > self.age_max.value:
            raise InvalidInput.for_field(
                "age_min", self.age_min.value, f"at most age_max ({self.age_max.value:g})"
            )
        months = self.min_symptom_months.value
        if months < 0 or not float(months).is_integer():
            raise InvalidInput.for_field("min_symptom_months", months, "a whole number ≥ 0")


DEFAULT_SETTINGS = EligibilitySettings()


# --- the engine ----------------------------------------------------------------------------


def evaluate(
    record: IntakeRecord, settings: EligibilitySettings = DEFAULT_SETTINGS
) -> EligibilityResult:
    """Apply every rule to ``record``; return all reasons in :data:`RULES` order and the worst
    decision. Pure: the same record and settings always give the same result."""
    reasons: list[Reason] = [
        Reason(rule)
        for condition, rule in CONDITION_RULES.items()
        if condition in record.conditions
    ]
    if record.pregnant:
        reasons.append(Reason(PREGNANCY))
    reasons.extend(_blood_pressure(record, settings))
    if record.heart_rate > settings.heart_rate_max.value:
        reasons.append(
            Reason(
                HEART_RATE_ABOVE_LIMIT,
                f"Measured {record.heart_rate:g}/min; limit {settings.heart_rate_max.value:g}/min.",
                settings.heart_rate_max.provenance,
            )
        )
    if record.spo2 < settings.spo2_min.value:
        reasons.append(
            Reason(
                SPO2_BELOW_LIMIT,
                f"Measured {record.spo2:g}%; limit {settings.spo2_min.value:g}%.",
                settings.spo2_min.provenance,
            )
        )
    reasons.extend(_duration(record, settings))
    if record.phq9_item9 >= settings.phq9_item9_review_at.value:
        reasons.append(
            Reason(
                PHQ9_ITEM9_POSITIVE,
                f"Item 9 answered {record.phq9_item9}.",
                settings.phq9_item9_review_at.provenance,
            )
        )
    if record.pcl5_total < settings.pcl5_cut_point.value:
        reasons.append(
            Reason(
                PCL5_BELOW_CUT_POINT,
                f"Total {record.pcl5_total}; cut-point {settings.pcl5_cut_point.value:g}.",
                settings.pcl5_cut_point.provenance,
            )
        )
    if record.age_years < settings.age_min.value:
        reasons.append(
            Reason(
                AGE_OUTSIDE_STUDIED_RANGE,
                f"Age {record.age_years}; studied from {settings.age_min.value:g}.",
                settings.age_min.provenance,
            )
        )
    elif record.age_years > settings.age_max.value:
        reasons.append(
            Reason(
                AGE_OUTSIDE_STUDIED_RANGE,
                f"Age {record.age_years}; studied up to {settings.age_max.value:g}.",
                settings.age_max.provenance,
            )
        )
    return EligibilityResult.from_reasons(tuple(reasons))


def _blood_pressure(record: IntakeRecord, settings: EligibilitySettings) -> list[Reason]:
    """Only the higher BP tier is reported: above 180/100 already implies above 140/90. The
    source shown is that of the limit crossed (systolic first)."""
    measured = f"Measured {record.bp_systolic:g}/{record.bp_diastolic:g} mmHg"
    tiers = (
        (
            BP_ABOVE_ABSOLUTE_LIMIT,
            "limit",
            settings.bp_absolute_systolic,
            settings.bp_absolute_diastolic,
        ),
        (BP_ABOVE_HOLD_LIMIT, "hold limit", settings.bp_hold_systolic, settings.bp_hold_diastolic),
    )
    for rule, name, systolic, diastolic in tiers:
        crossed: Threshold | None = None
        if record.bp_systolic > systolic.value:
            crossed = systolic
        elif record.bp_diastolic > diastolic.value:
            crossed = diastolic
        if crossed is not None:
            limit = f"{systolic.value:g}/{diastolic.value:g}"
            return [Reason(rule, f"{measured}; {name} {limit}.", crossed.provenance)]
    return []


def _duration(record: IntakeRecord, settings: EligibilitySettings) -> list[Reason]:
    """Symptoms must have lasted *more than* the minimum: exactly one month is not enough."""
    months = int(settings.min_symptom_months.value)
    reached = add_months(record.trauma_date, months)
    if record.assessment_date > reached:
        return []
    earliest = reached + dt.timedelta(days=1)
    return [
        Reason(
            SYMPTOM_DURATION_TOO_SHORT,
            f"Event on {record.trauma_date.isoformat()}; re-assess on or after "
            f"{earliest.isoformat()}.",
            settings.min_symptom_months.provenance,
        )
    ]


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day of the month ``months`` calendar months later, clamped to the month's end
    (31 January + 1 month = 28 or 29 February)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return day.replace(
        year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1])
    )


# --- prescriber override -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EligibilityOverride:
    """A prescriber's signed decision to treat despite ``needs_review`` reasons.

    ``at`` is timezone-aware; ``overridden_codes`` are the reason codes the prescriber accepted.
    """

    original: EligibilityResult
    decision: Decision
    reason: str
    overridden_codes: tuple[str, ...]
    by_user_id: int
    at: dt.datetime


def override_decision(
    result: EligibilityResult, *, role: Role, reason: str, by_user_id: int, at: dt.datetime
) -> EligibilityOverride:
    """Turn a ``needs_review`` result into ``eligible`` on a prescriber's written reason.

    Raises:
        PermissionDenied: ``role`` is not a prescriber.
        IllegalTransition: the result is already ``eligible``; there is nothing to override.
        LimitExceeded: the result is ``excluded``; exclusions have no override.
        InvalidInput: ``reason`` is blank or longer than 1000 characters, or ``at`` is naive.
    """
    if role is not Role.PRESCRIBER:
        raise PermissionDenied(
            f"role: got {role.value}, expected prescriber (only a prescriber may override an "
            "eligibility decision)",
            field="role",
        )
    if result.decision is Decision.ELIGIBLE:
        raise IllegalTransition(
            "decision: got eligible, expected needs_review (nothing to override)",
            field="decision",
        )
    if result.decision is Decision.EXCLUDED:
        blocking = ", ".join(r.code for r in result.reasons if r.action is Action.EXCLUDE)
        raise LimitExceeded.for_field(
            "decision",
            f"excluded ({blocking})",
            "needs_review: an exclusion cannot be overridden",
        )
    text = reason.strip()
    if not text or len(text) > OVERRIDE_REASON_MAX:
        raise InvalidInput.for_field(
            "reason", reason, f"a written reason of 1–{OVERRIDE_REASON_MAX} characters"
        )
    if at.tzinfo is None:
        raise InvalidInput.for_field("at", at.isoformat(), "a timezone-aware time")
    return EligibilityOverride(
        original=result,
        decision=Decision.ELIGIBLE,
        reason=text,
        overridden_codes=tuple(r.code for r in result.reasons),
        by_user_id=by_user_id,
        at=at,
    )
