"""Clinic values for the chair's clinical alert rules and for the outcome definitions.

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
from ketaclinic.domain.errors import InvalidInput
from ketaclinic.domain.outcomes import PCL5_DEFAULTS, OutcomeDefinitions
from ketaclinic.domain.provenance import Threshold, design


class SettingKind(StrEnum):
    ALERT = "alert"
    OUTCOME = "outcome"


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
)

CATALOGUE: Mapping[SettingKind, tuple[Adjustable, ...]] = {
    SettingKind.ALERT: ALERT_SETTINGS,
    SettingKind.OUTCOME: OUTCOME_SETTINGS,
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
        raise InvalidInput.for_field("kind", value, "alert or outcome") from None


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
