"""Read models of the chair: one session in full (the chair's tablet page and the printed
record), the live chair board of a site, and the lists the API serves. Every read of health
data is audited: per patient on the board, per session elsewhere.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ketaclinic.domain.administration import (
    AdministrationRecord,
    EffectiveEvent,
    PumpState,
)
from ketaclinic.domain.alerts import DEFAULT_RULES
from ketaclinic.domain.audit import AuditAction
from ketaclinic.domain.discharge import DischargeReadiness
from ketaclinic.domain.errors import NotFound
from ketaclinic.domain.monitoring import MonitoringStatus, reminders
from ketaclinic.domain.people import Chair, Patient, Role, Site
from ketaclinic.domain.session_lifecycle import (
    Actor,
    CheckItem,
    CheckOutcome,
    CheckResult,
    Phase,
    PreInfusionChecklist,
    SessionTimeline,
    phase_of,
)
from ketaclinic.domain.vitals import VitalKind
from ketaclinic.pk.models import PkModel, get_model
from ketaclinic.services import chair_record_checks, chair_visits
from ketaclinic.services.audit import Actor as AuditActor
from ketaclinic.services.audit import deny, record, require_role
from ketaclinic.services.chair_access import (
    RESOURCE_SESSION,
    VIEW_ROLES,
    audit,
    checklist_of,
    load_session,
    timeline_of,
)
from ketaclinic.services.chair_discharge import readiness_now
from ketaclinic.services.chair_mar import (
    linked_order,
    order_for_session,
    record_from,
    record_of,
    weight_of,
)
from ketaclinic.services.chair_pk import Prediction, predict
from ketaclinic.services.chair_ports import (
    DissociationScore,
    EscalationNotice,
    SessionRow,
    StoredAlert,
    StoredAssessment,
    StoredMarEntry,
    StoredReading,
    StoredSideEffect,
)
from ketaclinic.services.chair_record_checks import RecordFinding
from ketaclinic.services.chair_visits import SessionVisit
from ketaclinic.services.dosing_library import clinic_pk_model
from ketaclinic.services.dosing_ports import DoseOrder, SessionOrder
from ketaclinic.services.ports import Clock, UnitOfWork

SPARK_WINDOW = dt.timedelta(minutes=60)  # the board's sparkline shows the last hour
SPARK_POINTS = 120  # per line: a 240-px sparkline shows no more (ports.thin)
SPARK_KINDS = frozenset({VitalKind.BP_SYSTOLIC, VitalKind.HEART_RATE})
ALL_TIME = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
DETAIL_WINDOW = dt.timedelta(hours=2)  # the session page lists the last two hours of readings
RESOURCE_BOARD = "chair_board"


@dataclass(frozen=True, slots=True)
class ChecklistLine:
    """One checklist item as it stands: the answer that counts (``result``) and, for an item
    read from the patient's record before the start, what the record says now (``finding``)."""

    item: CheckItem
    result: CheckResult | None
    finding: RecordFinding | None = None

    @property
    def clears(self) -> bool:
        return self.result is not None and self.result.clears

    @property
    def from_record(self) -> bool:
        return self.item in chair_record_checks.RECORD_ITEMS

    @property
    def overridable(self) -> bool:
        result = self.result
        return result is not None and result.outcome is CheckOutcome.FAILED and not result.hard


@dataclass(frozen=True, slots=True)
class SessionDetail:
    """Everything the session page and the printed record show, read in one transaction."""

    row: SessionRow
    patient: Patient
    chair: Chair
    site: Site
    now: dt.datetime
    timeline: SessionTimeline
    checklist: PreInfusionChecklist
    mar: AdministrationRecord
    mar_entries: tuple[StoredMarEntry, ...]
    readings: tuple[StoredReading, ...]
    alerts: tuple[StoredAlert, ...]
    side_effects: tuple[StoredSideEffect, ...]
    dissociation: tuple[DissociationScore, ...]
    assessments: tuple[StoredAssessment, ...]
    readiness: DischargeReadiness | None
    monitoring: MonitoringStatus
    weight_kg: float | None
    staff: Mapping[int, str]
    escalations: tuple[EscalationNotice, ...] = ()
    findings: Mapping[CheckItem, RecordFinding] = field(default_factory=dict)
    visit: SessionVisit | None = None
    # The verified dose order the planned dose was checked against (with the link: basis,
    # dosing weight, who verified and when), and before the start the order the chair would
    # take now (services/chair_mar.py).
    order_link: SessionOrder | None = None
    order: DoseOrder | None = None
    order_now: DoseOrder | None = None
    pk_model: PkModel | None = None  # the clinic's model for plots, which the prediction uses

    @property
    def phase(self) -> Phase:
        return phase_of(self.row.state)

    @property
    def lines(self) -> list[ChecklistLine]:
        """Every item in order. Before the start the record items are read live (an override
        that still holds counts); afterwards the stored answers, which include what the start
        read, are the record."""
        latest = self.checklist.latest()
        if self.findings:
            by = Actor(self.row.checked_in_by, Role.NURSE)
            latest.update(
                chair_record_checks.current_results(self.checklist, self.findings, by, self.now)
            )
        return [
            ChecklistLine(item, latest.get(item), self.findings.get(item)) for item in CheckItem
        ]

    @property
    def blocking(self) -> list[str]:
        """Why the infusion may not start now, one line per item (empty when it may)."""
        if self.findings:
            return chair_record_checks.blocking(self.checklist, self.findings)
        return self.checklist.blocking()

    @property
    def effective(self) -> tuple[EffectiveEvent, ...]:
        return self.mar.effective_events()

    @property
    def pump_state(self) -> PumpState:
        return self.mar.pump_state

    @property
    def delivered_mg(self) -> float:
        return self.mar.delivered_mg(self.now)

    @property
    def delivered_ml(self) -> float:
        return self.mar.delivered_volume_ml(self.now)

    @property
    def open_alerts(self) -> list[StoredAlert]:
        return [a for a in self.alerts if a.alert.is_open]

    @property
    def infusion_elapsed_min(self) -> float | None:
        return elapsed_min(self.row, self.now)


def elapsed_min(row: SessionRow, now: dt.datetime) -> float | None:
    """Minutes since the infusion started (to its end, once it ended)."""
    if row.infusion_started_at is None:
        return None
    end = row.infusion_ended_at or now
    return (end - row.infusion_started_at).total_seconds() / 60.0


def observation_min(row: SessionRow, now: dt.datetime) -> float | None:
    """Minutes since the infusion ended (while the session is open)."""
    if row.infusion_ended_at is None:
        return None
    end = row.closed_at or now
    return (end - row.infusion_ended_at).total_seconds() / 60.0


def monitoring_of(
    row: SessionRow, latest: Mapping[VitalKind, dt.datetime], now: dt.datetime
) -> MonitoringStatus:
    return reminders(
        phase_of(row.state),
        now,
        latest,
        infusion_started_at=row.infusion_started_at,
        infusion_stopped_at=row.infusion_ended_at,
    )


def _staff_names(uow: UnitOfWork, ids: set[int]) -> dict[int, str]:
    names: dict[int, str] = {}
    for user_id in sorted(ids):
        user = uow.users.get(user_id)
        names[user_id] = user.username if user else f"user {user_id}"
    return names


def session_detail(
    uow: UnitOfWork, clock: Clock, actor: AuditActor, session_id: int, purpose: str = "chair"
) -> SessionDetail:
    """One session in full; audited as a read of the session (``purpose``: "chair", "record",
    ...). The printed record ("record", "record.pdf") holds every reading; the other views the
    last two hours (a monitor feed may hold thousands; its chart is its own route)."""
    loaded = load_session(uow, clock, actor, session_id, RESOURCE_SESSION, VIEW_ROLES)
    row = loaded.row
    now = clock.now()
    chair = next(
        (c for c in uow.sites.chairs(row.site_id, retired=True) if c.id == row.chair_id), None
    )
    site = uow.sites.get(row.site_id)
    if chair is None or site is None:
        raise NotFound(f"infusion session {session_id} not found")
    timeline = timeline_of(uow, row)
    mar_entries = tuple(uow.chair.mar_entries(row.id))
    alerts = tuple(uow.chair.session_alerts([row.id]))
    side_effects = tuple(uow.chair.side_effects(row.id))
    dissociation = tuple(uow.chair.dissociation_scores(row.id))
    assessments = tuple(uow.chair.assessments(row.id))
    checklist = checklist_of(uow, row)
    # Before the start, consent, eligibility and the safety review are read from the record
    # each time the session is shown (services/chair_record_checks.py).
    findings = (
        chair_record_checks.read_record(uow, loaded.patient, now)
        if phase_of(row.state) is Phase.PRE_INFUSION and row.is_open
        else {}
    )
    linked = linked_order(uow, row)
    order_now = (
        order_for_session(uow, clock, actor, row)
        if phase_of(row.state) is Phase.PRE_INFUSION and row.is_open
        else None
    )
    ids = {row.checked_in_by} | {r.by.user_id for r in timeline.records}
    ids |= {r.by.user_id for r in checklist.results}
    ids |= {e.entry.by.user_id for e in mar_entries}
    ids |= {
        e.check.override_confirmed_by
        for e in mar_entries
        if e.check and e.check.override_confirmed_by
    }
    if row.planned and row.planned.check.override_confirmed_by:
        ids.add(row.planned.check.override_confirmed_by)
    for order in (linked[1] if linked else None, order_now):
        if order is not None:
            ids |= {i for i in (order.signed_by, order.override_confirmed_by) if i is not None}
    for stored in alerts:
        for who in (stored.alert.acknowledged_by, stored.alert.resolved_by):
            if who is not None:
                ids.add(who.user_id)
    ids |= {s.entry.recorded_by.user_id for s in side_effects}
    ids |= {s.reviewed_by for s in side_effects if s.reviewed_by}
    ids |= {d.scored_by.user_id for d in dissociation} | {
        a.assessed_by.user_id for a in assessments
    }
    detail = SessionDetail(
        row=row,
        patient=loaded.patient,
        chair=chair,
        site=site,
        now=now,
        timeline=timeline,
        checklist=checklist,
        mar=record_of(uow, row),
        mar_entries=mar_entries,
        readings=tuple(
            uow.chair.session_readings(
                row.id, since=None if purpose.startswith("record") else now - DETAIL_WINDOW
            )
        ),
        alerts=alerts,
        side_effects=side_effects,
        dissociation=dissociation,
        assessments=assessments,
        readiness=readiness_now(uow, row, now),
        monitoring=monitoring_of(row, uow.chair.latest_reading_times(row.id), now),
        weight_kg=weight_of(uow, row),
        staff=_staff_names(uow, ids),
        escalations=tuple(uow.chair.escalations([row.id])),
        findings=findings,
        visit=chair_visits.visit_of_session(uow, row),
        order_link=linked[0] if linked else None,
        order=linked[1] if linked else None,
        order_now=order_now,
        pk_model=get_model(clinic_pk_model(uow)),
    )
    audit(uow, clock, actor, AuditAction.READ, RESOURCE_SESSION, row, detail=purpose)
    uow.commit()
    return detail


# --- the chair board ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChairCard:
    """One chair on the board; ``session`` and the rest are None for a free chair."""

    chair: Chair
    session: SessionRow | None = None
    patient: Patient | None = None
    latest: Mapping[VitalKind, StoredReading] | None = None
    spark: Mapping[VitalKind, Sequence[tuple[dt.datetime, float]]] | None = None
    alerts: Sequence[StoredAlert] = ()
    monitoring: MonitoringStatus | None = None
    unreviewed_flags: int = 0
    delivered_mg: float | None = None
    notices: Mapping[int, EscalationNotice] | None = None  # alert id → its latest escalation

    @property
    def phase(self) -> Phase | None:
        return phase_of(self.session.state) if self.session else None


@dataclass(frozen=True, slots=True)
class Board:
    site: Site
    now: dt.datetime
    cards: tuple[ChairCard, ...]
    escalate_after_min: float = DEFAULT_RULES.escalate_after_min.value

    @property
    def open_alerts(self) -> int:
        return sum(len(c.alerts) for c in self.cards)


def board(
    uow: UnitOfWork,
    clock: Clock,
    actor: AuditActor,
    site_id: int,
    *,
    audited: bool = True,
    escalate_after_min: float = DEFAULT_RULES.escalate_after_min.value,
) -> Board:
    """Every chair of one of the caller's sites with its open session, if any. ``audited``
    records one read per patient shown (the page load and the opening of a live stream); the
    stream's refreshes of the same view are not recorded again. The board only reads: the
    background sweep (services/chair_escalation.py) raises and escalates."""
    principal = require_role(uow, clock, actor, RESOURCE_BOARD, VIEW_ROLES)
    site = uow.sites.get(site_id)
    if site is None or not principal.can_see_site(site_id):
        raise deny(uow, clock, actor, RESOURCE_BOARD, NotFound(f"site {site_id} not found"))
    now = clock.now()
    open_by_chair = {r.chair_id: r for r in uow.chair.list_sessions([site_id], open_only=True)}
    session_ids = [r.id for r in open_by_chair.values()]
    alerts = uow.chair.session_alerts(session_ids, open_only=True)
    latest_notice: dict[int, EscalationNotice] = {}
    for notice in uow.chair.escalations(session_ids):  # oldest first: the last one stays
        latest_notice[notice.alert_id] = notice
    # The newest usable reading of each vital, however old (index seeks, not a scan).
    latest = uow.chair.latest_readings(session_ids, since=ALL_TIME) if session_ids else {}
    # Everything else a card shows, read for all the chairs at once: a board refreshes a few
    # times a second for every nurse watching it, so its cost is one query per kind of record,
    # not one per chair.
    patients = uow.patients.get_many([r.patient_id for r in open_by_chair.values()])
    sparks = uow.chair.series_of(
        session_ids, SPARK_KINDS, since=now - SPARK_WINDOW, until=now, max_points=SPARK_POINTS
    )
    mar_entries = uow.chair.mar_entries_of(session_ids)
    effects = uow.chair.side_effects_of(session_ids)
    cards: list[ChairCard] = []
    for chair in uow.sites.chairs(site_id):
        row = open_by_chair.get(chair.id)
        if row is None:
            cards.append(ChairCard(chair))
            continue
        newest = latest.get(row.id, [])
        mar = record_from(row, mar_entries.get(row.id, ()))
        cards.append(
            ChairCard(
                chair=chair,
                session=row,
                patient=patients.get(row.patient_id),
                latest={s.reading.kind: s for s in newest},
                spark=sparks.get(row.id, {}),
                alerts=[a for a in alerts if a.session_id == row.id],
                monitoring=monitoring_of(
                    row, {s.reading.kind: s.reading.observed_at for s in newest}, now
                ),
                unreviewed_flags=sum(
                    1
                    for s in effects.get(row.id, ())
                    if s.entry.flagged_for_prescriber and s.reviewed_at is None
                ),
                delivered_mg=mar.delivered_mg(now) if mar.start is not None else None,
                notices={
                    a.id: latest_notice[a.id]
                    for a in alerts
                    if a.session_id == row.id and a.id in latest_notice
                },
            )
        )
        if audited:
            audit(uow, clock, actor, AuditAction.READ, RESOURCE_BOARD, row, detail="board")
    if audited:
        uow.commit()
    return Board(site, now, tuple(cards), escalate_after_min)


# --- lists for the API ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SessionSummary:
    row: SessionRow
    patient: Patient
    chair: Chair
    site: Site
    open_alerts: int


def list_sessions(
    uow: UnitOfWork,
    clock: Clock,
    actor: AuditActor,
    *,
    site_id: int | None = None,
    open_only: bool = True,
    since: dt.datetime | None = None,
    limit: int = 200,
) -> list[SessionSummary]:
    """Sessions at the caller's sites (or one of them), newest check-in first; audited."""
    principal = require_role(uow, clock, actor, RESOURCE_SESSION, VIEW_ROLES)
    sites = principal.site_ids if site_id is None else principal.site_ids & {site_id}
    rows = (
        uow.chair.list_sessions(sites, open_only=open_only, since=since, limit=limit)
        if sites
        else []
    )
    open_alerts = uow.chair.session_alerts([r.id for r in rows], open_only=True)
    summaries: list[SessionSummary] = []
    site_cache: dict[int, Site] = {}
    chair_cache: dict[int, Chair] = {}
    patients = uow.patients.get_many([r.patient_id for r in rows])
    for row in rows:
        if row.site_id not in site_cache:
            found = uow.sites.get(row.site_id)
            assert found is not None
            site_cache[row.site_id] = found
            chair_cache.update({c.id: c for c in uow.sites.chairs(row.site_id, retired=True)})
        summaries.append(
            SessionSummary(
                row,
                patients[row.patient_id],
                chair_cache[row.chair_id],
                site_cache[row.site_id],
                sum(1 for a in open_alerts if a.session_id == row.id),
            )
        )
    record(
        uow,
        clock,
        actor,
        AuditAction.READ,
        "infusion_session_list",
        site_id=site_id,
        detail=f"{len(summaries)} sessions",
    )
    uow.commit()
    return summaries


def session_vitals(
    uow: UnitOfWork, clock: Clock, actor: AuditActor, session_id: int
) -> tuple[SessionRow, list[StoredReading]]:
    """The readings of one session, oldest first; audited."""
    loaded = load_session(uow, clock, actor, session_id, "vital_reading", VIEW_ROLES)
    readings = uow.chair.session_readings(loaded.row.id)
    audit(
        uow,
        clock,
        actor,
        AuditAction.READ,
        "vital_reading",
        loaded.row,
        detail=f"{len(readings)} readings",
    )
    uow.commit()
    return loaded.row, readings


def session_prediction(
    uow: UnitOfWork, clock: Clock, actor: AuditActor, session_id: int
) -> tuple[SessionRow, Prediction | None]:
    """The predicted plasma concentration of the session's record as charted with the clinic's
    PK model for plots (None before the start or without a weight); audited as a read of the
    record."""
    loaded = load_session(uow, clock, actor, session_id, "administration", VIEW_ROLES)
    row = loaded.row
    now = clock.now()
    age = loaded.patient.age_on(now.date())
    prediction = predict(
        record_of(uow, row),
        weight_of(uow, row),
        now,
        age_years=age,
        model=clinic_pk_model(uow),
    )
    audit(uow, clock, actor, AuditAction.READ, "administration", row, detail="prediction")
    uow.commit()
    return row, prediction
