"""JSON shapes of the chair's API: the contract other programs rely on, separate from storage
and from the domain objects they are built from. Request models forbid unknown fields and bound
every value; the domain still checks the clinical rules."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ketaclinic.domain.administration import Correction
from ketaclinic.domain.session_lifecycle import Phase, SessionState, phase_of
from ketaclinic.domain.side_effects import (
    Intervention,
    SeriousCriterion,
    Severity,
    SideEffectKind,
)
from ketaclinic.services.chair_ports import StoredAlert, StoredReading, Timepoint
from ketaclinic.services.chair_views import SessionDetail, SessionSummary, elapsed_min


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# --- output ---------------------------------------------------------------------------------


class SessionOut(BaseModel):
    id: int
    patient_id: int
    mrn: str
    site: str
    chair: str
    protocol: str
    state: str
    phase: str
    checked_in_at: dt.datetime
    infusion_started_at: dt.datetime | None
    infusion_ended_at: dt.datetime | None
    closed_at: dt.datetime | None
    infusion_elapsed_min: float | None
    open_alerts: int

    @classmethod
    def of(cls, s: SessionSummary, now: dt.datetime) -> SessionOut:
        row = s.row
        elapsed = elapsed_min(row, now)
        return cls(
            id=row.id,
            patient_id=row.patient_id,
            mrn=s.patient.mrn,
            site=s.site.code,
            chair=s.chair.code,
            protocol=row.protocol_id,
            state=row.state.value,
            phase=_phase(row.state.value),
            checked_in_at=row.checked_in_at,
            infusion_started_at=row.infusion_started_at,
            infusion_ended_at=row.infusion_ended_at,
            closed_at=row.closed_at,
            infusion_elapsed_min=round(elapsed, 1) if elapsed is not None else None,
            open_alerts=s.open_alerts,
        )


def _phase(state: str) -> str:
    return phase_of(SessionState(state)).value


class SessionPage(BaseModel):
    items: list[SessionOut]


class TransitionOut(BaseModel):
    transition: str
    from_state: str
    to_state: str
    by_user_id: int
    by_role: str
    at: dt.datetime
    reason: str
    override_reason: str


class CheckOut(BaseModel):
    item: str
    outcome: str | None = Field(description="latest answer; null when not checked yet")
    hard: bool = Field(description="a failure no override releases")
    note: str = Field(description="what was checked or found")
    at: dt.datetime | None
    source: Literal["chair", "record"] = Field(
        default="chair",
        description="record: read from the patient's record (consent, eligibility, safety "
        "review), live before the start and as the start found it afterwards",
    )


class VisitOut(BaseModel):
    """The booked visit the session fulfils."""

    visit_id: int
    series_id: int
    number: int
    of: int
    starts_at: dt.datetime
    ends_at: dt.datetime
    done_at: dt.datetime | None


class AdministrationOut(BaseModel):
    entry: int
    kind: str
    at: dt.datetime
    by_user_id: int
    corrected_by: list[int]
    dose_mg: float | None = None
    concentration_mg_per_ml: float | None = None
    volume_ml: float | None = None
    rate_ml_per_h: float | None = None
    lot_number: str | None = None
    pump_id: str | None = None
    reason: str | None = None


class AlertOut(BaseModel):
    id: int
    session_id: int
    patient_id: int
    rule: str
    label: str
    tier: Literal["plausibility", "clinical"]
    state: str
    vital: str | None
    value: float = Field(description="latest value compared with the threshold")
    first_value: float
    unit: str
    comparison: str
    threshold: float
    threshold_unit: str
    source: str = Field(description="where the threshold comes from, with its provenance tag")
    action: str
    reading_source: str
    raised_at: dt.datetime
    latest_at: dt.datetime
    occurrences: int
    escalation_level: int
    acknowledged_at: dt.datetime | None
    action_taken: str
    resolved_at: dt.datetime | None

    @classmethod
    def of(cls, stored: StoredAlert) -> AlertOut:
        alert = stored.alert
        first, latest = alert.first, alert.latest
        return cls(
            id=alert.id,
            session_id=stored.session_id,
            patient_id=stored.patient_id,
            rule=alert.rule_key,
            label=first.label,
            tier=alert.tier.value,
            state=alert.state.value,
            vital=first.vital.value if first.vital else None,
            value=latest.value,
            first_value=first.value,
            unit=first.unit,
            comparison=first.comparison.value,
            threshold=first.threshold.value,
            threshold_unit=first.threshold.unit,
            source=first.source.label(),
            action=first.action.label,
            reading_source=stored.reading_source,
            raised_at=alert.raised_at,
            latest_at=latest.observed_at,
            occurrences=alert.occurrences,
            escalation_level=alert.escalation_level,
            acknowledged_at=alert.acknowledged_at,
            action_taken=alert.action_taken,
            resolved_at=alert.resolved_at,
        )


class AlertPage(BaseModel):
    items: list[AlertOut]


class VitalOut(BaseModel):
    id: int
    code: str
    kind: str
    value: float
    unit: str
    observed_at: dt.datetime
    source: str
    flag: str

    @classmethod
    def of(cls, stored: StoredReading) -> VitalOut:
        r = stored.reading
        return cls(
            id=stored.id,
            code=r.code,
            kind=r.kind.value,
            value=r.value,
            unit=r.unit,
            observed_at=r.observed_at,
            source=r.source.value,
            flag=stored.flag,
        )


class VitalPage(BaseModel):
    session_id: int
    items: list[VitalOut]


class SideEffectOut(BaseModel):
    id: int
    kind: str
    severity: str
    onset_at: dt.datetime
    resolved_at: dt.datetime | None
    interventions: list[str]
    serious_criteria: list[str]
    flagged_for_prescriber: bool
    reviewed_at: dt.datetime | None


class DissociationOut(BaseModel):
    id: int
    timepoint: str
    items: dict[str, int] = Field(
        description="score per CADSS item number (item wording is not shipped)"
    )
    total: int
    scored_at: dt.datetime


class ReadinessOut(BaseModel):
    ready: bool
    earliest_at: dt.datetime
    unmet: list[str]


class PlannedDoseOut(BaseModel):
    """The pump programme verified on the checklist, with the dose order it was checked
    against and that order's weight basis."""

    dose_mg: float
    concentration_mg_per_ml: float
    volume_ml: float
    rate_ml_per_h: float
    limit: str = Field(description="ok or soft (a hard limit is never stored)")
    order_id: int | None = Field(description="the verified dose order; null if none is linked")
    weight_basis: str | None = Field(description="actual, ideal or adjusted, from the order")
    dosing_weight_kg: float | None


class SessionDetailOut(SessionOut):
    bolus_allowed: bool
    planned_dose: PlannedDoseOut | None = Field(
        default=None, description="the verified pump programme (before and after the start)"
    )
    visit: VisitOut | None = Field(default=None, description="the booked visit, if any")
    transitions: list[TransitionOut]
    checklist: list[CheckOut]
    blocking: list[str] = Field(
        default_factory=list, description="why the infusion may not start yet (before the start)"
    )
    administration: list[AdministrationOut]
    delivered_mg: float
    delivered_ml: float
    alerts: list[AlertOut]
    side_effects: list[SideEffectOut]
    dissociation: list[DissociationOut]
    readiness: ReadinessOut | None


def detail_out(d: SessionDetail) -> SessionDetailOut:
    base = SessionOut.of(
        SessionSummary(d.row, d.patient, d.chair, d.site, len(d.open_alerts)), d.now
    )
    administration = []
    for effective in d.effective:
        event = effective.event
        assert not isinstance(event, Correction)
        entry = next(e.entry for e in d.mar_entries if e.entry.id == effective.entry_id)
        administration.append(
            AdministrationOut(
                entry=effective.entry_id,
                kind=event.kind.value,
                at=effective.at,
                by_user_id=entry.by.user_id,
                corrected_by=list(effective.corrected_by),
                dose_mg=getattr(event, "dose_mg", None),
                concentration_mg_per_ml=getattr(event, "concentration_mg_per_ml", None),
                volume_ml=getattr(event, "volume_ml", None),
                rate_ml_per_h=getattr(event, "rate_ml_per_h", None),
                lot_number=getattr(event, "lot_number", None),
                pump_id=getattr(event, "pump_id", None),
                reason=getattr(event, "reason", None),
            )
        )
    readiness = d.readiness
    planned = d.row.planned
    link = d.order_link
    return SessionDetailOut(
        **base.model_dump(),
        bolus_allowed=d.row.bolus_allowed,
        planned_dose=PlannedDoseOut(
            dose_mg=planned.dose_mg,
            concentration_mg_per_ml=planned.concentration_mg_per_ml,
            volume_ml=planned.volume_ml,
            rate_ml_per_h=planned.rate_ml_per_h,
            limit=planned.check.level.value,
            order_id=link.order_id if link else None,
            weight_basis=link.weight_basis.value if link else None,
            dosing_weight_kg=link.dosing_weight_kg if link else None,
        )
        if planned is not None
        else None,
        transitions=[
            TransitionOut(
                transition=r.transition.value,
                from_state=r.from_state.value,
                to_state=r.to_state.value,
                by_user_id=r.by.user_id,
                by_role=r.by.role.value,
                at=r.at,
                reason=r.reason,
                override_reason=r.override_reason,
            )
            for r in d.timeline.records
        ],
        visit=VisitOut(
            visit_id=d.visit.visit.id,
            series_id=d.visit.series.id,
            number=d.visit.visit.number,
            of=d.visit.of,
            starts_at=d.visit.visit.starts_at,
            ends_at=d.visit.visit.ends_at,
            done_at=d.visit.link.done_at,
        )
        if d.visit
        else None,
        checklist=[
            CheckOut(
                item=line.item.value,
                outcome=line.result.outcome.value if line.result else None,
                hard=bool(line.result and line.result.hard),
                note=line.result.note if line.result else "",
                at=line.result.at if line.result else None,
                source="record" if line.from_record else "chair",
            )
            for line in d.lines
        ],
        blocking=d.blocking if d.phase is Phase.PRE_INFUSION and d.row.is_open else [],
        administration=administration,
        delivered_mg=round(d.delivered_mg, 3),
        delivered_ml=round(d.delivered_ml, 3),
        alerts=[AlertOut.of(a) for a in d.alerts],
        side_effects=[
            SideEffectOut(
                id=s.id,
                kind=s.entry.kind.value,
                severity=s.entry.severity.value,
                onset_at=s.entry.onset_at,
                resolved_at=s.entry.resolved_at,
                interventions=sorted(i.value for i in s.entry.interventions),
                serious_criteria=sorted(c.value for c in s.entry.serious_criteria),
                flagged_for_prescriber=s.entry.flagged_for_prescriber,
                reviewed_at=s.reviewed_at,
            )
            for s in d.side_effects
        ],
        dissociation=[
            DissociationOut(
                id=s.id,
                timepoint=s.timepoint.value,
                items={str(n): v for n, v in zip((1, 2, 6, 7, 15, 22), s.items, strict=True)},
                total=s.total,
                scored_at=s.scored_at,
            )
            for s in d.dissociation
        ],
        readiness=ReadinessOut(
            ready=readiness.ready,
            earliest_at=readiness.earliest_at,
            unmet=[f"{u.criterion.value}: {u.message}" for u in readiness.unmet],
        )
        if readiness
        else None,
    )


# --- input ----------------------------------------------------------------------------------


class CheckInIn(_In):
    """Name the patient by ``patient_id`` or by ``mrn`` (one of them)."""

    chair: str = Field(min_length=1, max_length=20, description="chair code, e.g. MIA-1")
    patient_id: int | None = Field(default=None, ge=1)
    mrn: str | None = Field(default=None, min_length=1, max_length=32)
    protocol: str = Field(default="feder-2021", min_length=1, max_length=40)
    bolus_allowed: bool = Field(default=False, description="prescribers only")


class TransitionIn(_In):
    transition: Literal[
        "begin_checks", "begin_observation", "cancel", "pause", "resume", "stop", "complete"
    ]
    reason: str = Field(default="", max_length=200, description="required for stop and cancel")


class OverrideIn(_In):
    reason: str = Field(min_length=1, max_length=500)
    second_username: str = Field(min_length=1, max_length=64)
    second_password: str = Field(min_length=1, max_length=256)


class DoseIn(_In):
    dose_mg: float = Field(gt=0, le=10_000)
    concentration_mg_per_ml: float = Field(gt=0, le=1000)
    volume_ml: float = Field(gt=0, le=5000)
    rate_ml_per_h: float = Field(gt=0, le=10_000)


class BaselineIn(_In):
    systolic_mmhg: float = Field(ge=0, le=400)
    diastolic_mmhg: float = Field(ge=0, le=300)
    heart_rate_per_min: float = Field(ge=0, le=350)
    spo2_percent: float = Field(ge=0, le=110)


class CheckAnswerIn(_In):
    """One checklist answer. ``item`` decides which other fields are needed: ``weight_kg``
    (``confirmed`` for a weight that looks wrong) for weight_confirmed; ``baseline`` for
    baseline_vitals_within_limits; ``escort_name`` and ``escort_phone`` for escort_confirmed;
    ``dose`` (and ``override`` at a soft limit) for dose_verified: the pump programme, which
    must match the patient's newest verified dose order (omit it to take the order's own
    programme; without a verified order the check is 409). ``override_reason`` alone
    (prescribers) releases the item's failed answer. consent_current, eligibility_signed and
    safety_screen_reviewed are read from the patient's record and take only
    ``override_reason`` (where the failure allows one)."""

    item: Literal[
        "consent_current",
        "eligibility_signed",
        "weight_confirmed",
        "baseline_vitals_within_limits",
        "safety_screen_reviewed",
        "escort_confirmed",
        "dose_verified",
    ]
    weight_kg: float | None = Field(default=None, gt=0, le=500)
    confirmed: bool = False
    baseline: BaselineIn | None = None
    escort_name: str = Field(default="", max_length=100)
    escort_phone: str = Field(default="", max_length=32)
    dose: DoseIn | None = None
    override: OverrideIn | None = None
    override_reason: str = Field(default="", max_length=500)


class StartIn(_In):
    lot_number: str = Field(min_length=1, max_length=40)
    pump_id: str = Field(min_length=1, max_length=40)
    dose: DoseIn | None = Field(default=None, description="omit to start the verified dose")
    override: OverrideIn | None = None


class AdministrationIn(_In):
    """``rate_change`` needs ``rate_ml_per_h``; ``bolus`` needs ``dose_mg``; ``correction``
    needs ``entry`` and ``reason`` and either ``void`` or ``changes`` / ``corrected_at``."""

    kind: Literal["rate_change", "bolus", "correction"]
    rate_ml_per_h: float | None = Field(default=None, gt=0, le=10_000)
    dose_mg: float | None = Field(default=None, gt=0, le=10_000)
    override: OverrideIn | None = None
    entry: int | None = Field(default=None, ge=1)
    reason: str = Field(default="", max_length=200)
    void: bool = False
    changes: dict[str, float | str] | None = Field(default=None, max_length=6)
    corrected_at: dt.datetime | None = None


class VitalIn(_In):
    code: str = Field(min_length=1, max_length=32, description="LOINC (or MDC) code, e.g. 8480-6")
    value: float
    unit: str = Field(min_length=1, max_length=16, description="UCUM unit, e.g. mm[Hg]")
    observed_at: dt.datetime
    source: Literal["manual", "api", "monitor"] = "api"


class VitalsIn(_In):
    """One measurement: readings taken together (a BP with its HR and SpO2) are evaluated
    together. A single reading may be sent on its own."""

    readings: list[VitalIn] = Field(min_length=1, max_length=20)


class AcknowledgeIn(_In):
    action_taken: str = Field(min_length=1, max_length=500)


class ResolveIn(_In):
    note: str = Field(default="", max_length=500)


class SideEffectIn(_In):
    kind: SideEffectKind
    severity: Severity
    onset_at: dt.datetime
    interventions: list[Intervention] = Field(min_length=1, max_length=11)
    serious_criteria: list[SeriousCriterion] = Field(default_factory=list, max_length=6)
    other_text: str = Field(default="", max_length=200)
    intervention_text: str = Field(default="", max_length=200)
    resolved_at: dt.datetime | None = None


class DissociationIn(_In):
    timepoint: Timepoint
    items: list[int] = Field(
        min_length=6, max_length=6, description="scores of CADSS items 1, 2, 6, 7, 15, 22 (0–4)"
    )


class AldreteIn(_In):
    activity: int = Field(ge=0, le=2)
    respiration: int = Field(ge=0, le=2)
    circulation: int = Field(ge=0, le=2)
    consciousness: int = Field(ge=0, le=2)
    spo2: int = Field(ge=0, le=2)


class PadssIn(_In):
    vital_signs: int = Field(ge=0, le=2)
    activity_mental_status: int = Field(ge=0, le=2)
    pain_nausea_vomiting: int = Field(ge=0, le=2)
    intake_output: int = Field(ge=0, le=2)
    surgical_bleeding: int = Field(default=2, ge=0, le=2)


class AssessmentIn(_In):
    aldrete: AldreteIn | None = None
    padss: PadssIn | None = None
    escort_confirmed: bool = False
    mental_status_attested: bool = False
    dissociation_attested: bool = False


class DischargeIn(_In):
    override_reason: str = Field(default="", max_length=500, description="prescribers only")
