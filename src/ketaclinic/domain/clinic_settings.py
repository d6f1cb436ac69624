"""Clinic values for the chair's clinical alert rules, the outcome definitions and the
eligibility thresholds of intake.

Every adjustable number is a shipped :class:`~ketaclinic.domain.provenance.Threshold` (its
REFERENCE.md source travels with it). The medical director may approve a clinic value in its
place (REFERENCE.md §0: the clinic owns every clinical default); the value then carries the
provenance "clinic value (approved by X on D; default V unit, source …)" so an alert or an
outcome always says where its number came from. A reset stores "no value": the default applies
again, and the history keeps both.

Each setting has a *plausible range* (outside it the number is a typing error) and, for the
alarm limits, a *safe side* (a value that would silence an alarm a patient needs is refused).
Both are design choices, stated beside each key in :data:`ALERT_SETTINGS`.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum

from ketaclinic.domain.alerts import DEFAULT_RULES, AlertRules, ClinicalRule
from ketaclinic.domain.eligibility import DEFAULT_SETTINGS as ELIGIBILITY_DEFAULTS
from ketaclinic.domain.eligibility import EligibilitySettings
from ketaclinic.domain.errors import InvalidInput
from ketaclinic.domain.instruments import get_instrument
from ketaclinic.domain.outcomes import PCL5_DEFAULTS, OutcomeDefinitions
from ketaclinic.domain.provenance import Threshold, design


class SettingKind(StrEnum):
    ALERT = "alert"
    OUTCOME = "outcome"
    ELIGIBILITY = "eligibility"


@dataclass(frozen=True, slots=True)
class Adjustable:
    """One number the clinic may set: its shipped default, the range a value must lie in
    (``low``–``high``, inclusive) and, when set, the unsafe side with its reason."""

    default: Threshold
    label: str
    low: float
    high: float
    safe_min: float | None = None  # values below are refused as unsafe
    safe_max: float | None = None  # values above are refused as unsafe
    safety_note: str = ""

    @property
    def key(self) -> str:
        return self.default.key


def _limit(key: str) -> Threshold:
    for rule in DEFAULT_RULES.clinical:
        for limit in rule.limits:
            if limit.threshold.key == key:
                return limit.threshold
    raise KeyError(key)  # only reached by a typo in this module


# design: plausible ranges are wider than any published limit; the safe sides keep each alarm
# able to fire for a reading REFERENCE.md §5 treats as dangerous (SpO2 < 80 % is severe
# desaturation; a systolic stop limit above 220 mmHg or a diastolic one above 130 mmHg would
# let a hypertensive emergency pass silently; a heart-rate limit above 150/min likewise).
_STOP = "a stop/hold limit this high would let a dangerous pressure pass without an alarm"
ALERT_SETTINGS: tuple[Adjustable, ...] = (
    *(
        Adjustable(
            _limit(f"{prefix}_systolic"),
            f"{label}: systolic",
            90,
            260,
            safe_max=220,
            safety_note=_STOP,
        )
        for prefix, label in (
            ("pre_bp_absolute", "No infusion today (before start)"),
            ("pre_bp_hold", "Hold (before start)"),
            ("bp_infusion", "Pause or stop (during infusion)"),
            ("bp_urgency", "Hypertensive urgency"),
        )
    ),
    *(
        Adjustable(
            _limit(f"{prefix}_diastolic"),
            f"{label}: diastolic",
            50,
            160,
            safe_max=130,
            safety_note=_STOP,
        )
        for prefix, label in (
            ("pre_bp_absolute", "No infusion today (before start)"),
            ("pre_bp_hold", "Hold (before start)"),
            ("bp_infusion", "Pause or stop (during infusion)"),
            ("bp_urgency", "Hypertensive urgency"),
        )
    ),
    Adjustable(
        _limit("hr_max"),
        "Heart rate limit during infusion",
        60,
        220,
        safe_max=150,
        safety_note="a heart-rate limit this high would miss a marked tachycardia",
    ),
    Adjustable(
        _limit("spo2_min"),
        "SpO2 alarm level",
        50,
        99,
        safe_min=80,
        safety_note="an SpO2 alarm below 80 % would stay silent in severe desaturation",
    ),
    Adjustable(_limit("bp_rise_systolic"), "Rise over baseline: systolic", 5, 100),
    Adjustable(_limit("bp_rise_diastolic"), "Rise over baseline: diastolic", 5, 80),
)


# design: alarm limits that must keep their order (lower first), so that each tier fires
# before the more severe one above it. Before the start, the hold limit lies at or below the
# no-infusion-today limit (REFERENCE.md §5: 140/90 hold, > 180/100 no infusion); during the
# infusion, the pause-or-stop limit lies at or below the hypertensive-urgency limit (§5:
# > 180/100 stop, ≥ 180/120 urgency). A clinic value that breaks an order is refused.
ALERT_ORDER: tuple[tuple[str, str], ...] = (
    ("pre_bp_hold_systolic", "pre_bp_absolute_systolic"),
    ("pre_bp_hold_diastolic", "pre_bp_absolute_diastolic"),
    ("bp_infusion_systolic", "bp_urgency_systolic"),
    ("bp_infusion_diastolic", "bp_urgency_diastolic"),
)


def _pcl5_cut_point() -> Threshold:
    cut_point = get_instrument("pcl5").scoring.cut_point
    if cut_point is None:  # only reached if the shipped definition lost its cut-point
        raise KeyError("pcl5.cut_point")
    return cut_point.threshold


# The scoring engine's PCL-5 cut-point ("probable PTSD" flag; 33 [cited: VA PCL-5 guide,
# REFERENCE.md §8.1], the source allows 31–33 and lower to screen). Its default and source come
# from the instrument definition; both PCL-5 forms share the key ``pcl5.cut_point``.
PCL5_SCORING_CUT_POINT = _pcl5_cut_point()

# design: PCL-5 totals run 0–80 (REFERENCE.md §8.1); a response fraction must lie in 1–100 %.
OUTCOME_SETTINGS: tuple[Adjustable, ...] = (
    Adjustable(
        PCL5_DEFAULTS.response_min_reduction_pct, "PCL-5 response: minimum reduction", 1, 100
    ),
    Adjustable(PCL5_DEFAULTS.remission.threshold, "PCL-5 remission cut-point", 0, 80),
    Adjustable(PCL5_DEFAULTS.reliable_change_min, "PCL-5 reliable change", 1, 80),
    Adjustable(
        PCL5_DEFAULTS.clinically_significant.threshold,
        "PCL-5 clinically significant end state",
        0,
        80,
    ),
    Adjustable(
        PCL5_SCORING_CUT_POINT,
        "PCL-5 probable PTSD cut-point (total at or above; both forms)",
        0,
        80,
    ),
)

# The eligibility engine's thresholds (domain/eligibility.py, docs/eligibility.md). design:
# plausible ranges; the engine's own checks (hold below absolute, minimum age below maximum) are
# applied to the whole set before a value is stored (:func:`apply_eligibility_values`). The PHQ-9
# item-9 level has a safe side: above 1 a positive suicide-risk answer would pass without the
# same-day review (REFERENCE.md §8.2).
_E = ELIGIBILITY_DEFAULTS
ELIGIBILITY_SETTINGS: tuple[Adjustable, ...] = (
    Adjustable(_E.bp_hold_systolic, "Hold at baseline (needs review): systolic", 100, 220),
    Adjustable(_E.bp_hold_diastolic, "Hold at baseline (needs review): diastolic", 60, 130),
    Adjustable(_E.bp_absolute_systolic, "Excluded at baseline: systolic", 120, 240),
    Adjustable(_E.bp_absolute_diastolic, "Excluded at baseline: diastolic", 70, 150),
    Adjustable(_E.heart_rate_max, "Baseline heart rate limit (needs review)", 60, 180),
    Adjustable(_E.spo2_min, "Baseline SpO2 limit (needs review below)", 80, 99),
    Adjustable(_E.min_symptom_months, "Symptom duration after the event (whole months)", 0, 12),
    Adjustable(
        _E.phq9_item9_review_at,
        "PHQ-9 item 9 answer that needs a same-day review",
        0,
        3,
        safe_max=1,
        safety_note="a higher level would let a positive suicide-risk answer pass unreviewed",
    ),
    Adjustable(_E.pcl5_cut_point, "PCL-5 total below which the indication is reviewed", 0, 80),
    Adjustable(_E.age_min, "Youngest age studied (needs review below)", 14, 40),
    Adjustable(_E.age_max, "Oldest age studied (needs review above)", 40, 110),
)

CATALOGUE: Mapping[SettingKind, tuple[Adjustable, ...]] = {
    SettingKind.ALERT: ALERT_SETTINGS,
    SettingKind.OUTCOME: OUTCOME_SETTINGS,
    SettingKind.ELIGIBILITY: ELIGIBILITY_SETTINGS,
}


@dataclass(frozen=True, slots=True)
class ApprovedValue:
    """The clinic's current value of one key (``value`` ``None`` = reset to the default)."""

    key: str
    value: float | None
    approved_by: str
    approved_on: dt.date


def parse_kind(value: str) -> SettingKind:
    try:
        return SettingKind(value)
    except ValueError:
        raise InvalidInput.for_field(
            "kind", value, f"one of {', '.join(kind.value for kind in SettingKind)}"
        ) from None


def adjustable(kind: SettingKind, key: str) -> Adjustable:
    for item in CATALOGUE[kind]:
        if item.key == key:
            return item
    keys = ", ".join(item.key for item in CATALOGUE[kind])
    raise InvalidInput.for_field("key", key, f"one of {keys}")


def check_value(item: Adjustable, value: float) -> float:
    """``value`` if it is a finite number in range and on the safe side; otherwise
    :class:`InvalidInput` naming the key, the value and the accepted range."""
    unit = item.default.unit
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput.for_field(item.key, value, f"a number {item.low:g}–{item.high:g} {unit}")
    if not item.low <= value <= item.high:
        raise InvalidInput.for_field(item.key, value, f"{item.low:g}–{item.high:g} {unit}")
    if item.safe_min is not None and value < item.safe_min:
        raise InvalidInput.for_field(
            item.key, value, f"at least {item.safe_min:g} {unit}: {item.safety_note}"
        )
    if item.safe_max is not None and value > item.safe_max:
        raise InvalidInput.for_field(
            item.key, value, f"at most {item.safe_max:g} {unit}: {item.safety_note}"
        )
    return float(value)


def clinic_threshold(default: Threshold, approved: ApprovedValue | None) -> Threshold:
    """The default, or the clinic's value with provenance naming approver, date and default."""
    if approved is None or approved.value is None:
        return default
    source = default.provenance.label().strip("[]")
    return Threshold(
        key=default.key,
        value=approved.value,
        unit=default.unit,
        provenance=design(
            f"clinic value (approved by {approved.approved_by} on "
            f"{approved.approved_on.isoformat()}; default {default.value:g} {default.unit}, "
            f"source {source})"
        ),
        approved_by=approved.approved_by,
        effective_from=approved.approved_on,
    )


def apply_alert_values(
    approved: Mapping[str, ApprovedValue], base: AlertRules = DEFAULT_RULES
) -> AlertRules:
    """``base`` with every clinic value of :data:`ALERT_SETTINGS` in place of its default."""
    if not any(v.value is not None for v in approved.values()):
        return base

    def rule(item: ClinicalRule) -> ClinicalRule:
        limits = tuple(
            replace(
                limit,
                threshold=clinic_threshold(limit.threshold, approved.get(limit.threshold.key)),
            )
            for limit in item.limits
        )
        return replace(item, limits=limits)

    return replace(base, clinical=tuple(rule(item) for item in base.clinical))


def check_alert_order(approved: Mapping[str, ApprovedValue], changed: str) -> None:
    """Refuse alert values that break :data:`ALERT_ORDER` once ``changed`` takes its value in
    ``approved``: :class:`InvalidInput` on ``changed``, naming the limit it must stay below or
    above (so a director sees which other value to change first)."""
    items = {item.key: item for item in ALERT_SETTINGS}

    def value(key: str) -> float:
        return clinic_threshold(items[key].default, approved.get(key)).value

    for lower, upper in ALERT_ORDER:
        if changed not in (lower, upper) or value(lower) <= value(upper):
            continue
        other = upper if changed == lower else lower
        bound = "at most" if changed == lower else "at least"
        unit = items[other].default.unit
        raise InvalidInput.for_field(
            changed,
            value(changed),
            f"{bound} {value(other):g} {unit}, the current value of '{items[other].label}'"
            f" ({other}); change that limit first",
        )


def apply_outcome_values(
    approved: Mapping[str, ApprovedValue], base: OutcomeDefinitions = PCL5_DEFAULTS
) -> OutcomeDefinitions:
    """``base`` with every clinic value of :data:`OUTCOME_SETTINGS` in place of its default."""

    def one(threshold: Threshold) -> Threshold:
        return clinic_threshold(threshold, approved.get(threshold.key))

    return OutcomeDefinitions(
        response_min_reduction_pct=one(base.response_min_reduction_pct),
        remission=replace(base.remission, threshold=one(base.remission.threshold)),
        reliable_change_min=one(base.reliable_change_min),
        clinically_significant=replace(
            base.clinically_significant, threshold=one(base.clinically_significant.threshold)
        ),
    )


def apply_eligibility_values(
    approved: Mapping[str, ApprovedValue], base: EligibilitySettings = ELIGIBILITY_DEFAULTS
) -> EligibilitySettings:
    """``base`` with every clinic value of :data:`ELIGIBILITY_SETTINGS` in place of its default.

    Raises :class:`InvalidInput` (from :class:`EligibilitySettings`) when the values contradict
    each other: a hold limit above the exclusion limit, a minimum age above the maximum, a
    symptom duration that is not a whole number of months.
    """
    if not any(v.value is not None for v in approved.values()):
        return base
    return replace(
        base,
        **{
            item.key: clinic_threshold(getattr(base, item.key), approved.get(item.key))
            for item in ELIGIBILITY_SETTINGS
        },
    )


def apply_cut_point_value(approved: Mapping[str, ApprovedValue]) -> Threshold:
    """The PCL-5 scoring cut-point: the clinic's value of ``pcl5.cut_point`` (kind
    ``outcome``) with its approval as provenance, else the shipped default."""
    return clinic_threshold(PCL5_SCORING_CUT_POINT, approved.get(PCL5_SCORING_CUT_POINT.key))
