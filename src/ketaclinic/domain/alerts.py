"""Alerts at the chair: two tiers of rules over vital-sign readings, and the alert life cycle.

*Plausibility* rules catch readings that cannot be a measurement of the patient (SpO2 above
100 %, heart rate 0, systolic at or below diastolic, an impossible jump since the previous
reading). Such a reading is flagged for the nurse to check the sensor; it never raises an alarm
and the clinical rules skip it. A second reading at the new level is no longer a jump, so a real
change alarms on confirmation.

*Clinical* rules are REFERENCE.md §5's alert parameter table as data (:data:`DEFAULT_RULES`),
each limit a :class:`~ketaclinic.domain.provenance.Threshold` carrying its source. A finding
names the rule, the value, the threshold, the tier, the recommended action and the source.

Alert life cycle (clinical tier only)::

    raised ──acknowledge(who, action taken)──▶ acknowledged ──resolve(who)──▶ resolved

A new finding for a rule that already has an open alert updates that alert's latest value
instead of raising another (:func:`track`). An alert still ``raised`` after the escalation
interval escalates, one level per further interval (:func:`escalate`). Time is always passed in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from ketaclinic.domain.errors import IllegalTransition, InvalidInput, PermissionDenied
from ketaclinic.domain.provenance import Provenance, Threshold, cited, design, unverified
from ketaclinic.domain.session_lifecycle import (
    CHAIR_ROLES,
    Actor,
    Phase,
    require_aware,
    require_text,
)
from ketaclinic.domain.vitals import SPECS, VitalKind, VitalReading

MMHG = "mm[Hg]"


class AlertTier(StrEnum):
    PLAUSIBILITY = "plausibility"
    CLINICAL = "clinical"


class AlertAction(StrEnum):
    """The recommended action; wording from the Action column of REFERENCE.md §5."""

    CHECK_SENSOR = "check_sensor"
    HOLD = "hold"
    NO_INFUSION_TODAY = "no_infusion_today"
    PAUSE_OR_STOP = "pause_or_stop"
    URGENCY = "urgency"
    AIRWAY = "airway"
    REASSESS = "reassess"
    MEASURE_NOW = "measure_now"

    @property
    def label(self) -> str:
        return _ACTION_LABELS[self]


_ACTION_LABELS = {
    AlertAction.CHECK_SENSOR: "Check the sensor or cuff and re-measure (reading implausible)",
    AlertAction.HOLD: "Hold; re-measure after rest; prescriber may override",
    AlertAction.NO_INFUSION_TODAY: "No infusion today",
    AlertAction.PAUSE_OR_STOP: "Pause or stop; reassess and treat; prescriber decides restart",
    AlertAction.URGENCY: "Hypertensive urgency: conservative management",
    AlertAction.AIRWAY: "Alarm: check the airway; pause the infusion",
    AlertAction.REASSESS: "Repeat NIBP and inform the prescriber",
    AlertAction.MEASURE_NOW: "Measure blood pressure now",
}


class Comparison(StrEnum):
    GT = ">"
    GE = "≥"
    LT = "<"
    LE = "≤"

    def breached(self, value: float, limit: float) -> bool:
        if self is Comparison.GT:
            return value > limit
        if self is Comparison.GE:
            return value >= limit
        if self is Comparison.LT:
            return value < limit
        return value <= limit


@dataclass(frozen=True, slots=True)
class Limit:
    """``vital`` breaches when ``value comparison threshold``; for a rule relative to the
    baseline, ``value`` is the reading minus the pre-infusion baseline of that vital."""

    vital: VitalKind
    comparison: Comparison
    threshold: Threshold


@dataclass(frozen=True, slots=True)
class ClinicalRule:
    """One row of the alert table. Any breached limit fires the rule (e.g. systolic *or*
    diastolic); the first breached limit, in order, is the one reported."""

    key: str
    label: str
    phases: frozenset[Phase]
    limits: tuple[Limit, ...]
    action: AlertAction
    relative_to_baseline: bool = False


@dataclass(frozen=True, slots=True)
class PlausibilityRules:
    """Artefact limits (design: values a sensor can report but a patient cannot have).

    ``max_jump`` maps a vital to the largest believable change between two readings taken at
    most ``jump_window_min`` apart."""

    spo2_max: Threshold
    heart_rate_min: Threshold
    pulse_pressure_min: Threshold
    jump_window_min: Threshold
    max_jump: Mapping[VitalKind, Threshold]


@dataclass(frozen=True, slots=True)
class AlertRules:
    """A clinic's complete alert configuration; :data:`DEFAULT_RULES` ships the reference
    defaults. The clinic's medical director owns every value (REFERENCE.md §0)."""

    clinical: tuple[ClinicalRule, ...]
    plausibility: PlausibilityRules
    nibp_overdue_infusion_min: Threshold
    nibp_overdue_post_min: Threshold
    escalate_after_min: Threshold

    def rule(self, key: str) -> ClinicalRule:
        for rule in self.clinical:
            if rule.key == key:
                return rule
        raise InvalidInput.for_field("rule", key, "the key of a configured clinical rule")


def _t(key: str, value: float, unit: str, provenance: Provenance) -> Threshold:
    return Threshold(key=key, value=value, unit=unit, provenance=provenance)


_SANACORA = unverified("Sanacora 2017", "§5")
_PRE_HOLD = unverified("Sanacora 2017; clinic protocol [cited: Accelerated Psychiatry]", "§5")
_SPO2 = unverified("modified Aldrete 2-point level", "§5")
_URGENCY = unverified("asymptomatic urgency ≥180/120; conservative care per Yip 2022", "§5")
_BP_RISE = design(
    "rise over the pre-infusion baseline; about the Yale 2024 mean rise + 2 SD "
    "(16.0 + 2×11.2 / 11.0 + 2×8.45 mmHg), rounded up; not a published limit",
    "§5",
)
_INFUSION = frozenset({Phase.INFUSION})
_AFTER_START = frozenset({Phase.INFUSION, Phase.POST_INFUSION})
_PRE = frozenset({Phase.PRE_INFUSION})


def _bp(
    key: str, cmp: Comparison, systolic: float, diastolic: float, p: Provenance
) -> tuple[Limit, Limit]:
    """A systolic/diastolic limit pair: either pressure breaching fires the rule."""
    return (
        Limit(VitalKind.BP_SYSTOLIC, cmp, _t(f"{key}_systolic", systolic, MMHG, p)),
        Limit(VitalKind.BP_DIASTOLIC, cmp, _t(f"{key}_diastolic", diastolic, MMHG, p)),
    )


DEFAULT_CLINICAL_RULES: tuple[ClinicalRule, ...] = (
    ClinicalRule(
        key="pre_infusion_bp_no_infusion",
        label="Resting BP above the absolute limit before start",
        phases=_PRE,
        limits=_bp("pre_bp_absolute", Comparison.GT, 180, 100, cited("Swiss label", "§5")),
        action=AlertAction.NO_INFUSION_TODAY,
    ),
    ClinicalRule(
        key="pre_infusion_bp_hold",
        label="Resting BP above the hold limit before start",
        phases=_PRE,
        limits=_bp("pre_bp_hold", Comparison.GT, 140, 90, _PRE_HOLD),
        action=AlertAction.HOLD,
    ),
    ClinicalRule(
        key="bp_during_infusion",
        label="BP above the infusion limit",
        phases=_INFUSION,
        limits=_bp("bp_infusion", Comparison.GT, 180, 100, _SANACORA),
        action=AlertAction.PAUSE_OR_STOP,
    ),
    ClinicalRule(
        key="bp_urgency",
        label="Hypertensive urgency (asymptomatic)",
        phases=_AFTER_START,
        limits=_bp("bp_urgency", Comparison.GE, 180, 120, _URGENCY),
        action=AlertAction.URGENCY,
    ),
    ClinicalRule(
        key="hr_during_infusion",
        label="Heart rate above the infusion limit",
        phases=_INFUSION,
        limits=(Limit(VitalKind.HEART_RATE, Comparison.GT, _t("hr_max", 110, "/min", _SANACORA)),),
        action=AlertAction.PAUSE_OR_STOP,
    ),
    ClinicalRule(
        key="spo2_low",
        label="SpO2 below the alarm level",
        phases=frozenset({Phase.PRE_INFUSION, Phase.INFUSION, Phase.POST_INFUSION}),
        limits=(Limit(VitalKind.SPO2, Comparison.LT, _t("spo2_min", 92, "%", _SPO2)),),
        action=AlertAction.AIRWAY,
    ),
    ClinicalRule(
        key="bp_rise_from_baseline",
        label="BP rise over the pre-infusion baseline",
        phases=_AFTER_START,
        limits=_bp("bp_rise", Comparison.GT, 40, 30, _BP_RISE),
        action=AlertAction.REASSESS,
        relative_to_baseline=True,
    ),
)

_ARTEFACT = design("artefact screen: a sensor can report it, a patient cannot have it")
_JUMP = design("artefact screen: change too fast to be physiological between close readings")

DEFAULT_PLAUSIBILITY = PlausibilityRules(
    spo2_max=_t("spo2_plausible_max", 100, "%", _ARTEFACT),
    heart_rate_min=_t("heart_rate_plausible_min", 0, "/min", _ARTEFACT),
    # Equal pressures are flagged as well: zero pulse pressure cannot be measured in a
    # perfused patient, and letting 120/120 through would raise a diastolic alarm.
    pulse_pressure_min=_t("pulse_pressure_plausible_min", 0, MMHG, _ARTEFACT),
    jump_window_min=_t("jump_window", 2, "min", _JUMP),
    max_jump={
        VitalKind.BP_SYSTOLIC: _t("jump_systolic", 60, MMHG, _JUMP),
        VitalKind.BP_DIASTOLIC: _t("jump_diastolic", 40, MMHG, _JUMP),
        VitalKind.BP_MEAN: _t("jump_mean", 50, MMHG, _JUMP),
        VitalKind.HEART_RATE: _t("jump_heart_rate", 60, "/min", _JUMP),
        VitalKind.SPO2: _t("jump_spo2", 25, "%", _JUMP),
        VitalKind.RESPIRATORY_RATE: _t("jump_respiratory_rate", 20, "/min", _JUMP),
        VitalKind.TEMPERATURE: _t("jump_temperature", 2, "Cel", _JUMP),
    },
)

DEFAULT_RULES = AlertRules(
    clinical=DEFAULT_CLINICAL_RULES,
    plausibility=DEFAULT_PLAUSIBILITY,
    nibp_overdue_infusion_min=_t("nibp_overdue_infusion", 10, "min", design("NIBP overdue", "§5")),
    nibp_overdue_post_min=_t("nibp_overdue_post", 15, "min", design("NIBP overdue", "§5")),
    escalate_after_min=_t(
        "alert_escalate_after", 2, "min", design("unacknowledged clinical alert escalates")
    ),
)


# ---------------------------------------------------------------------------------------------
# Evaluating readings


@dataclass(frozen=True, slots=True)
class AlertFinding:
    """What one rule found in one reading. ``value`` is what was compared with the threshold
    (for a relative rule, the rise over baseline; for a jump, the change; for NIBP overdue,
    minutes since the last measurement)."""

    rule_key: str
    label: str
    tier: AlertTier
    vital: VitalKind | None
    value: float
    unit: str
    comparison: Comparison
    threshold: Threshold
    action: AlertAction
    observed_at: dt.datetime

    @property
    def source(self) -> Provenance:
        return self.threshold.provenance

    @property
    def message(self) -> str:
        return (
            f"{self.label}: {self.value:g} {self.unit} {self.comparison.value} "
            f"{self.threshold.value:g} {self.threshold.unit} {self.source.label()}"
            f" — {self.action.label}"
        )


@dataclass(frozen=True, slots=True)
class ReadingContext:
    """What the rules need besides the readings: the phase, the pre-infusion baseline per
    vital (for relative rules) and earlier readings of this session (for the jump screen)."""

    phase: Phase
    baseline: Mapping[VitalKind, float] = field(default_factory=dict)
    recent: Sequence[VitalReading] = ()


def evaluate(
    readings: Sequence[VitalReading],
    context: ReadingContext,
    rules: AlertRules = DEFAULT_RULES,
) -> list[AlertFinding]:
    """Findings for one measurement (readings taken together, e.g. systolic + diastolic).

    Plausibility findings come first; readings they flag are left out of the clinical rules.
    If a kind appears twice, the last reading of it counts. No findings in the closed phase.
    """
    if context.phase is Phase.CLOSED or not readings:
        return []
    current: dict[VitalKind, VitalReading] = {r.kind: r for r in readings}
    findings = _plausibility(current, context, rules.plausibility)
    flagged = {f.vital for f in findings}
    if VitalKind.BP_SYSTOLIC in flagged or VitalKind.BP_DIASTOLIC in flagged:
        # One cuff measurement: if one pressure is an artefact, so is the other.
        flagged |= {VitalKind.BP_SYSTOLIC, VitalKind.BP_DIASTOLIC, VitalKind.BP_MEAN}
    usable = {kind: r for kind, r in current.items() if kind not in flagged}
    for rule in rules.clinical:
        if context.phase not in rule.phases:
            continue
        finding = _clinical(rule, usable, context)
        if finding is not None:
            findings.append(finding)
    return findings


def _plausibility(
    current: Mapping[VitalKind, VitalReading],
    context: ReadingContext,
    rules: PlausibilityRules,
) -> list[AlertFinding]:
    found: list[AlertFinding] = []

    def flag(
        key: str, label: str, reading: VitalReading, value: float, cmp: Comparison, t: Threshold
    ) -> None:
        found.append(
            AlertFinding(
                rule_key=key,
                label=label,
                tier=AlertTier.PLAUSIBILITY,
                vital=reading.kind,
                value=value,
                unit=t.unit,
                comparison=cmp,
                threshold=t,
                action=AlertAction.CHECK_SENSOR,
                observed_at=reading.observed_at,
            )
        )

    spo2 = current.get(VitalKind.SPO2)
    if spo2 is not None and Comparison.GT.breached(spo2.value, rules.spo2_max.value):
        flag(
            "spo2_implausible",
            "SpO2 above the physical maximum",
            spo2,
            spo2.value,
            Comparison.GT,
            rules.spo2_max,
        )
    hr = current.get(VitalKind.HEART_RATE)
    if hr is not None and Comparison.LE.breached(hr.value, rules.heart_rate_min.value):
        flag(
            "heart_rate_zero",
            "Heart rate of zero (no pulse detected)",
            hr,
            hr.value,
            Comparison.LE,
            rules.heart_rate_min,
        )
    sys, dia = current.get(VitalKind.BP_SYSTOLIC), current.get(VitalKind.BP_DIASTOLIC)
    if sys is not None and dia is not None:
        pulse_pressure = sys.value - dia.value
        if Comparison.LE.breached(pulse_pressure, rules.pulse_pressure_min.value):
            flag(
                "bp_systolic_not_above_diastolic",
                "Systolic not above diastolic",
                sys,
                pulse_pressure,
                Comparison.LE,
                rules.pulse_pressure_min,
            )
    already = {f.vital for f in found}
    for kind, reading in current.items():
        limit = rules.max_jump.get(kind)
        if limit is None or kind in already:
            continue
        previous = _previous(reading, context.recent)
        if previous is None:
            continue
        gap_min = (reading.observed_at - previous.observed_at).total_seconds() / 60.0
        change = abs(reading.value - previous.value)
        if gap_min <= rules.jump_window_min.value and Comparison.GT.breached(change, limit.value):
            flag(
                f"{kind.value}_jump",
                f"{SPECS[kind].label} changed too fast",
                reading,
                change,
                Comparison.GT,
                limit,
            )
    return found


def _previous(reading: VitalReading, recent: Sequence[VitalReading]) -> VitalReading | None:
    """The latest earlier reading of the same kind."""
    best: VitalReading | None = None
    for other in recent:
        if other.kind is not reading.kind or other.observed_at >= reading.observed_at:
            continue
        if best is None or other.observed_at > best.observed_at:
            best = other
    return best


def _clinical(
    rule: ClinicalRule, usable: Mapping[VitalKind, VitalReading], context: ReadingContext
) -> AlertFinding | None:
    for limit in rule.limits:
        reading = usable.get(limit.vital)
        if reading is None:
            continue
        value = reading.value
        if rule.relative_to_baseline:
            base = context.baseline.get(limit.vital)
            if base is None:
                continue
            value -= base
        if limit.comparison.breached(value, limit.threshold.value):
            return AlertFinding(
                rule_key=rule.key,
                label=rule.label,
                tier=AlertTier.CLINICAL,
                vital=limit.vital,
                value=value,
                unit=limit.threshold.unit,
                comparison=limit.comparison,
                threshold=limit.threshold,
                action=rule.action,
                observed_at=reading.observed_at,
            )
    return None


def nibp_overdue(
    phase: Phase,
    phase_started_at: dt.datetime,
    last_nibp_at: dt.datetime | None,
    now: dt.datetime,
    rules: AlertRules = DEFAULT_RULES,
) -> AlertFinding | None:
    """A clinical finding when blood pressure has not been measured for longer than the
    phase's limit, counted from the later of the last NIBP and the start of the phase (so an
    old baseline does not make the first in-infusion reading overdue at once)."""
    if phase is Phase.INFUSION:
        limit = rules.nibp_overdue_infusion_min
    elif phase is Phase.POST_INFUSION:
        limit = rules.nibp_overdue_post_min
    else:
        return None
    since = phase_started_at if last_nibp_at is None else max(last_nibp_at, phase_started_at)
    waited_min = (now - since).total_seconds() / 60.0
    if not Comparison.GT.breached(waited_min, limit.value):
        return None
    return AlertFinding(
        rule_key="nibp_overdue",
        label="Blood pressure measurement overdue",
        tier=AlertTier.CLINICAL,
        vital=None,
        value=round(waited_min, 1),
        unit="min",
        comparison=Comparison.GT,
        threshold=limit,
        action=AlertAction.MEASURE_NOW,
        observed_at=now,
    )


# ---------------------------------------------------------------------------------------------
# Alert life cycle


class AlertState(StrEnum):
    RAISED = "raised"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class Alert:
    """One clinical alert of one session. ``first`` raised it; ``latest`` is the most recent
    finding for the same rule while it stayed open; ``occurrences`` counts findings."""

    id: int
    first: AlertFinding
    latest: AlertFinding
    raised_at: dt.datetime
    state: AlertState = AlertState.RAISED
    occurrences: int = 1
    escalation_level: int = 0
    acknowledged_by: Actor | None = None
    acknowledged_at: dt.datetime | None = None
    action_taken: str = ""
    resolved_by: Actor | None = None
    resolved_at: dt.datetime | None = None
    resolution_note: str = ""

    @property
    def rule_key(self) -> str:
        return self.first.rule_key

    @property
    def tier(self) -> AlertTier:
        return self.first.tier

    @property
    def is_open(self) -> bool:
        return self.state is not AlertState.RESOLVED


@dataclass(frozen=True, slots=True)
class Tracked:
    alert: Alert
    created: bool


def track(open_alerts: Iterable[Alert], finding: AlertFinding, *, new_id: int) -> Tracked:
    """Raise an alert for ``finding``, or fold it into the open alert of the same rule.

    ``open_alerts`` are the session's alerts (resolved ones are ignored). Raises InvalidInput
    for a plausibility finding: those flag a reading and never raise an alert."""
    if finding.tier is not AlertTier.CLINICAL:
        raise InvalidInput.for_field(
            "tier", finding.tier.value, "a clinical finding (plausibility findings never alarm)"
        )
    for alert in open_alerts:
        if alert.is_open and alert.rule_key == finding.rule_key:
            # Readings may arrive out of order (monitor vs manual entry): keep the newest.
            newest = finding if finding.observed_at >= alert.latest.observed_at else alert.latest
            return Tracked(
                replace(alert, latest=newest, occurrences=alert.occurrences + 1), created=False
            )
    return Tracked(
        Alert(id=new_id, first=finding, latest=finding, raised_at=finding.observed_at),
        created=True,
    )


def acknowledge(alert: Alert, by: Actor, at: dt.datetime, action_taken: str) -> Alert:
    """Record who saw the alert and what they did. Raises PermissionDenied (not nurse or
    prescriber), IllegalTransition (not in ``raised``), InvalidInput (no action text, or a
    time before the alert)."""
    _chair_role(by, "acknowledge")
    if alert.state is not AlertState.RAISED:
        raise IllegalTransition(f"cannot acknowledge: the alert is already {alert.state.value}")
    require_text("action_taken", action_taken, required=True)
    _not_before("at", at, alert.raised_at)
    return replace(
        alert,
        state=AlertState.ACKNOWLEDGED,
        acknowledged_by=by,
        acknowledged_at=at,
        action_taken=action_taken.strip(),
    )


def resolve(alert: Alert, by: Actor, at: dt.datetime, note: str = "") -> Alert:
    """Close an acknowledged alert. Raises PermissionDenied, IllegalTransition (raised alerts
    must be acknowledged first; resolved ones stay resolved), InvalidInput."""
    _chair_role(by, "resolve")
    if alert.state is AlertState.RAISED:
        raise IllegalTransition("cannot resolve: acknowledge the alert with the action taken first")
    if alert.state is AlertState.RESOLVED:
        raise IllegalTransition("cannot resolve: the alert is already resolved")
    require_text("note", note, required=False)
    _not_before("at", at, alert.acknowledged_at or alert.raised_at)
    return replace(
        alert, state=AlertState.RESOLVED, resolved_by=by, resolved_at=at, resolution_note=note
    )


def escalation_level(alert: Alert, now: dt.datetime, after_min: float) -> int:
    """How many whole escalation intervals an alert has stayed unacknowledged (0 once it is
    acknowledged or resolved)."""
    if alert.state is not AlertState.RAISED:
        return alert.escalation_level
    waited_min = (now - alert.raised_at).total_seconds() / 60.0
    return max(int(waited_min // after_min), 0)


def escalate(
    alerts: Iterable[Alert], now: dt.datetime, rules: AlertRules = DEFAULT_RULES
) -> list[Alert]:
    """The alerts whose escalation level rose by ``now``, updated; the caller notifies for
    each and stores it. An alert escalates once per interval, so calling this often is safe."""
    after = rules.escalate_after_min.value
    if after <= 0:
        raise InvalidInput.for_field("escalate_after_min", after, "a positive number of minutes")
    risen: list[Alert] = []
    for alert in alerts:
        level = escalation_level(alert, now, after)
        if level > alert.escalation_level:
            risen.append(replace(alert, escalation_level=level))
    return risen


def open_clinical(alerts: Iterable[Alert]) -> list[Alert]:
    return [a for a in alerts if a.is_open and a.tier is AlertTier.CLINICAL]


def _chair_role(by: Actor, verb: str) -> None:
    if by.role not in CHAIR_ROLES:
        raise PermissionDenied(f"role {by.role.value!r} may not {verb} an alert")


def _not_before(name: str, at: dt.datetime, earliest: dt.datetime) -> None:
    require_aware(name, at)
    if at < earliest:
        raise InvalidInput.for_field(name, at.isoformat(), f"at or after {earliest.isoformat()}")
