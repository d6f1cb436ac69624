"""Vital signs and alerts at the chair: manual and API readings, the bedside-monitor feed, the
two alert tiers of ``domain/alerts.py`` and the alert life cycle.

Every reading of a session goes through one path, :class:`SessionFeed`: the readings of one
measurement are evaluated together (plausibility first, then the clinical rules for the
session's phase, with its pre-infusion baseline and the session's recent readings for the jump
screen), stored with their flag (``implausible`` readings are kept but set aside), and each
finding is folded into the session's open alert for the same rule, so a repeated reading never
raises a second alert (no spam): it updates the open alert's latest value and count.

Plausibility findings are stored as alerts of tier ``plausibility`` ("check the sensor"); they
never escalate and never block discharge. Clinical alerts escalate while unacknowledged
(:func:`sweep`, which also raises *NIBP overdue*). Monitor feeds are a secondary aid: they arrive
through the same path, attributed to the device.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from ketaclinic.domain.alerts import (
    DEFAULT_RULES,
    Alert,
    AlertFinding,
    AlertRules,
    AlertTier,
    ReadingContext,
    acknowledge,
    escalate,
    evaluate,
    nibp_overdue,
    resolve,
    track,
)
from ketaclinic.domain.audit import AuditAction
from ketaclinic.domain.errors import IllegalTransition, InvalidInput, NotFound
from ketaclinic.domain.session_lifecycle import Phase, phase_of
from ketaclinic.domain.vitals import VitalKind, VitalReading
from ketaclinic.services import clinic_settings
from ketaclinic.services.audit import SYSTEM, deny, record, require_role
from ketaclinic.services.audit import Actor as AuditActor
from ketaclinic.services.chair_access import (
    ACT_ROLES,
    VIEW_ROLES,
    audit,
    chair_actor,
    load_session,
    touch,
)
from ketaclinic.services.chair_ports import (
    FLAG_IMPLAUSIBLE,
    FLAG_NO_ACTIVE_SESSION,
    FLAG_NONE,
    EscalationNotice,
    NewReading,
    SessionRow,
    StoredAlert,
    StoredReading,
)
from ketaclinic.services.ports import Clock, FixedClock, UnitOfWork

RESOURCE_READING = "vital_reading"
RESOURCE_ALERT = "chair_alert"

# A reading may be timed a little after the server's clock (a monitor's or tablet's clock runs
# ahead); beyond this it is a typing or clock error (design).
FUTURE_TOLERANCE = dt.timedelta(minutes=2)
# ... and no earlier than this before check-in (a baseline taken in the waiting room; design).
BEFORE_CHECK_IN_TOLERANCE = dt.timedelta(hours=1)
MAX_READINGS_PER_CALL = 50

BP_KINDS = frozenset({VitalKind.BP_SYSTOLIC, VitalKind.BP_DIASTOLIC, VitalKind.BP_MEAN})


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What one measurement did: the stored reading ids (in input order), every finding, and
    the alerts it raised or updated."""

    reading_ids: tuple[int, ...]
    findings: tuple[AlertFinding, ...]
    raised: tuple[StoredAlert, ...]
    updated: tuple[StoredAlert, ...]

    @property
    def implausible(self) -> int:
        return sum(1 for f in self.findings if f.tier is AlertTier.PLAUSIBILITY)

    def summary(self) -> str:
        """For the audit trail: counts and rule keys only."""
        parts = [f"{len(self.reading_ids)} readings"]
        if self.raised:
            parts.append("raised " + ",".join(a.alert.rule_key for a in self.raised))
        if self.updated:
            parts.append("updated " + ",".join(a.alert.rule_key for a in self.updated))
        return "; ".join(parts)


class SessionFeed:
    """Readings into one open session, measurement by measurement, inside a unit of work.

    Holds the session's newest reading of each vital (for the jump screen) and its open
    alerts, loaded once. ``preloaded`` hands both in (the monitor path loads them for a whole
    batch in two queries); ``pending``, when given, collects the readings to be stored in one
    batch by the caller instead of storing each measurement at once."""

    def __init__(
        self,
        uow: UnitOfWork,
        row: SessionRow,
        earliest: dt.datetime,
        rules: AlertRules = DEFAULT_RULES,
        *,
        preloaded: tuple[Sequence[StoredReading], Sequence[StoredAlert]] | None = None,
        pending: list[NewReading] | None = None,
    ) -> None:
        self.uow = uow
        self.row = row
        self.rules = rules
        self.pending = pending
        recent: Sequence[StoredReading]
        if preloaded is None:
            since = earliest - jump_window(rules)
            recent = uow.chair.latest_readings([row.id], since=since).get(row.id, [])
            alerts: Sequence[StoredAlert] = uow.chair.session_alerts([row.id], open_only=True)
        else:
            recent, alerts = preloaded
        self.recent: list[VitalReading] = [s.reading for s in recent if s.usable]
        self.open: dict[str, StoredAlert] = {a.alert.rule_key: a for a in alerts}

    def ingest(
        self,
        readings: Sequence[VitalReading],
        now: dt.datetime,
        *,
        monitor_message_id: int | None = None,
    ) -> IngestResult:
        row = self.row
        baseline = row.baseline.by_kind() if row.baseline else {}
        context = ReadingContext(phase_of(row.state), baseline, tuple(self.recent))
        findings = evaluate(readings, context, self.rules)
        flagged = {f.vital for f in findings if f.tier is AlertTier.PLAUSIBILITY}
        if flagged & {VitalKind.BP_SYSTOLIC, VitalKind.BP_DIASTOLIC}:
            flagged |= BP_KINDS  # one cuff measurement: set aside as a whole, as the rules do
        flags = [FLAG_IMPLAUSIBLE if r.kind in flagged else FLAG_NONE for r in readings]
        ids: list[int] = []
        if self.pending is None:
            ids = self.uow.chair.add_readings(
                row.patient_id,
                readings,
                flags,
                now,
                session_id=row.id,
                monitor_message_id=monitor_message_id,
            )
        else:
            self.pending.extend(
                NewReading(row.patient_id, r, flag, now, row.id, monitor_message_id)
                for r, flag in zip(readings, flags, strict=True)
            )
        self.recent.extend(r for r, flag in zip(readings, flags, strict=True) if not flag)
        source = readings[0].source.value if readings else ""
        raised: list[StoredAlert] = []
        updated: list[StoredAlert] = []
        for finding in findings:
            stored, created = self._fold(finding, source)
            (raised if created else updated).append(stored)
        return IngestResult(tuple(ids), tuple(findings), tuple(raised), tuple(updated))

    def raise_finding(self, finding: AlertFinding, source: str) -> StoredAlert | None:
        """Fold one finding that came from no reading (NIBP overdue); the new alert, or None
        when an alert for the rule is already open (its first finding stands)."""
        if finding.rule_key in self.open:
            return None
        stored, _ = self._fold(finding, source)
        return stored

    def _fold(self, finding: AlertFinding, source: str) -> tuple[StoredAlert, bool]:
        existing = self.open.get(finding.rule_key)
        if finding.tier is AlertTier.CLINICAL:
            tracked = track([a.alert for a in self.open.values()], finding, new_id=0)
            alert, created = tracked.alert, tracked.created
        elif existing is not None:
            newer = finding.observed_at >= existing.alert.latest.observed_at
            latest = finding if newer else existing.alert.latest
            alert = replace(
                existing.alert, latest=latest, occurrences=existing.alert.occurrences + 1
            )
            created = False
        else:
            alert = Alert(id=0, first=finding, latest=finding, raised_at=finding.observed_at)
            created = True
        row = self.row
        if created:
            stored = self.uow.chair.add_alert(
                StoredAlert(alert, row.id, row.patient_id, row.site_id, source)
            )
        else:
            assert existing is not None
            stored = replace(existing, alert=alert)
            self.uow.chair.save_alert(stored)
        self.open[finding.rule_key] = stored
        return stored, created


def check_reading_times(
    row: SessionRow, readings: Sequence[VitalReading], now: dt.datetime
) -> None:
    """InvalidInput for a reading timed in the future or long before the check-in."""
    if not readings:
        raise InvalidInput.for_field("readings", [], "at least one reading")
    if len(readings) > MAX_READINGS_PER_CALL:
        raise InvalidInput.for_field(
            "readings", len(readings), f"at most {MAX_READINGS_PER_CALL} readings at once"
        )
    for reading in readings:
        if reading.observed_at > now + FUTURE_TOLERANCE:
            raise InvalidInput.for_field(
                "observed_at", reading.observed_at.isoformat(), "a time not in the future"
            )
        if reading.observed_at < row.checked_in_at - BEFORE_CHECK_IN_TOLERANCE:
            raise InvalidInput.for_field(
                "observed_at",
                reading.observed_at.isoformat(),
                "a time during this session (at most 1 h before the check-in)",
            )


def record_vitals(
    uow: UnitOfWork,
    clock: Clock,
    actor: AuditActor,
    session_id: int,
    readings: Sequence[VitalReading],
) -> IngestResult:
    """Store one measurement (readings taken together, e.g. BP + HR + SpO2) entered at the
    chair or through the API, evaluate the alert rules and commit.

    Raises InvalidInput (bad times, too many readings), IllegalTransition (session closed),
    and the audited refusals of :func:`load_session`."""
    loaded = load_session(
        uow, clock, actor, session_id, RESOURCE_READING, ACT_ROLES, for_update=True
    )
    row = loaded.row
    if not row.is_open:
        raise IllegalTransition(f"cannot record vitals: the session is {row.state.value}")
    now = clock.now()
    check_reading_times(row, readings, now)
    rules = clinic_settings.clinic_alert_rules(uow)
    feed = SessionFeed(uow, row, min(r.observed_at for r in readings), rules)
    result = feed.ingest(readings, now)
    touch(uow, row, now)
    audit(uow, clock, actor, AuditAction.CREATE, RESOURCE_READING, row, detail=result.summary())
    uow.commit()
    return result


class MonitorFeeds:
    """The bedside-monitor path for the HL7 database sink, one batch of messages at a time:
    the newest readings and open alerts of every session in the batch are loaded in two
    queries, each message is screened and folded into alerts at once, and all readings (also
    those of patients without a session, flagged) are stored together by :meth:`finish`. The
    sink audits each message itself."""

    def __init__(
        self,
        uow: UnitOfWork,
        sessions: Sequence[SessionRow],
        earliest: dt.datetime,
        rules: AlertRules = DEFAULT_RULES,
    ) -> None:
        self.uow = uow
        self.rules = rules
        self.pending: list[NewReading] = []
        ids = [row.id for row in sessions]
        latest = uow.chair.latest_readings(ids, since=earliest - jump_window(rules)) if ids else {}
        alerts: dict[int, list[StoredAlert]] = {}
        for stored in uow.chair.session_alerts(ids, open_only=True) if ids else []:
            alerts.setdefault(stored.session_id, []).append(stored)
        self.feeds: dict[int, SessionFeed] = {
            row.id: SessionFeed(
                uow,
                row,
                earliest,
                rules,
                preloaded=(latest.get(row.id, []), alerts.get(row.id, [])),
                pending=self.pending,
            )
            for row in sessions
        }
        self.fed: set[int] = set()

    def ingest(
        self,
        row: SessionRow,
        readings: Sequence[VitalReading],
        now: dt.datetime,
        *,
        monitor_message_id: int,
    ) -> IngestResult:
        self.fed.add(row.id)
        return self.feeds[row.id].ingest(readings, now, monitor_message_id=monitor_message_id)

    def keep_unattached(
        self, patient_id: int, readings: Sequence[VitalReading], now: dt.datetime, message_id: int
    ) -> None:
        """Readings of a patient without an open session: kept, flagged, not screened."""
        self.pending.extend(
            NewReading(patient_id, r, FLAG_NO_ACTIVE_SESSION, now, None, message_id)
            for r in readings
        )

    def finish(self, now: dt.datetime) -> set[int]:
        """Store the batch's readings, mark the fed sessions as changed; the site ids whose
        chair boards should hear of it."""
        self.uow.chair.add_reading_batch(self.pending)
        self.pending.clear()
        if not self.fed:
            return set()
        self.uow.chair.touch_sessions(self.fed, now)
        sites = {self.feeds[session_id].row.site_id for session_id in self.fed}
        for site_id in sorted(sites):
            self.uow.chair.mark_changed(site_id)
        return sites


def jump_window(rules: AlertRules) -> dt.timedelta:
    """How far back the jump screen looks (readings further apart are never a jump)."""
    return dt.timedelta(minutes=rules.plausibility.jump_window_min.value)


def sweep(
    uow: UnitOfWork,
    now: dt.datetime,
    site_ids: Iterable[int],
    rules: AlertRules = DEFAULT_RULES,
) -> set[int]:
    """Time-driven alerting for the open sessions of ``site_ids``: raise *NIBP overdue* where
    blood pressure has not been measured in time (domain/alerts.nibp_overdue), and escalate
    clinical alerts left unacknowledged, recording a pending :class:`EscalationNotice` for each
    level reached. Runs as the system; audits what it writes. Returns the sites whose chairs
    changed. The caller commits.

    Safe to run in several processes at once: each session is locked before its alerts are
    read (PostgreSQL ``FOR UPDATE``, in id order, so two sweeps never deadlock; SQLite has one
    writer at a time), so the second sweep sees the first one's escalation and does nothing."""
    changed: set[int] = set()
    sessions = sorted(uow.chair.list_sessions(list(site_ids), open_only=True), key=lambda r: r.id)
    for listed in sessions:
        phase = phase_of(listed.state)
        if phase not in {Phase.INFUSION, Phase.POST_INFUSION}:
            continue
        row = uow.chair.get_session(listed.id, for_update=True)
        if row is None or not row.is_open:
            continue
        phase = phase_of(row.state)
        started = row.infusion_started_at if phase is Phase.INFUSION else row.infusion_ended_at
        if started is None:
            continue
        latest = uow.chair.latest_reading_times(row.id)
        last_nibp = _last_nibp(latest)
        feed = SessionFeed(uow, row, now, rules)
        finding = nibp_overdue(phase, started, last_nibp, now, rules)
        raised = feed.raise_finding(finding, "system") if finding is not None else None
        if raised is not None:
            _system_audit(uow, now, AuditAction.CREATE, row, raised, "raised nibp_overdue")
            changed.add(row.site_id)
        risen = escalate(
            [a.alert for a in feed.open.values() if a.alert.tier is AlertTier.CLINICAL], now, rules
        )
        for alert in risen:
            stored = replace(feed.open[alert.rule_key], alert=alert)
            uow.chair.save_alert(stored)
            _system_audit(
                uow, now, AuditAction.UPDATE, row, stored, f"escalated to {alert.escalation_level}"
            )
            # The e-mail goes out after this commits (services/chair_escalation.deliver); the
            # store keeps one notice per alert and level, whoever sweeps.
            uow.chair.add_escalation(
                EscalationNotice(stored.id, row.id, row.site_id, alert.escalation_level, now)
            )
            changed.add(row.site_id)
    for site_id in changed:
        uow.chair.mark_changed(site_id)
    return changed


def _last_nibp(latest: Mapping[VitalKind, dt.datetime]) -> dt.datetime | None:
    """A blood pressure counts when both pressures were measured (the older of the two)."""
    systolic, diastolic = latest.get(VitalKind.BP_SYSTOLIC), latest.get(VitalKind.BP_DIASTOLIC)
    if systolic is None or diastolic is None:
        return None
    return min(systolic, diastolic)


def _system_audit(
    uow: UnitOfWork,
    now: dt.datetime,
    action: AuditAction,
    row: SessionRow,
    stored: StoredAlert,
    detail: str,
) -> None:
    record(
        uow,
        FixedClock(now),
        SYSTEM,
        action,
        RESOURCE_ALERT,
        site_id=row.site_id,
        patient_id=row.patient_id,
        resource_id=stored.id,
        detail=detail,
    )


# --- the alert life cycle -------------------------------------------------------------------


def _load_alert(
    uow: UnitOfWork, clock: Clock, actor: AuditActor, alert_id: int
) -> tuple[StoredAlert, SessionRow]:
    principal = require_role(uow, clock, actor, RESOURCE_ALERT, ACT_ROLES)
    found = uow.chair.get_alert(alert_id)
    if found is None or not principal.can_see_site(found.site_id):
        raise deny(
            uow,
            clock,
            actor,
            RESOURCE_ALERT,
            NotFound(f"alert {alert_id} not found"),
            patient_id=found.patient_id if found else None,
            resource_id=alert_id,
        )
    loaded = load_session(
        uow, clock, actor, found.session_id, RESOURCE_ALERT, ACT_ROLES, for_update=True
    )
    current = uow.chair.get_alert(alert_id, for_update=True)
    assert current is not None
    return current, loaded.row


def acknowledge_alert(
    uow: UnitOfWork, clock: Clock, actor: AuditActor, alert_id: int, action_taken: str
) -> StoredAlert:
    """Who saw the alert and what they did (required). IllegalTransition unless raised."""
    stored, row = _load_alert(uow, clock, actor, alert_id)
    assert actor.principal is not None
    by = chair_actor(actor.principal)
    updated = replace(stored, alert=acknowledge(stored.alert, by, clock.now(), action_taken))
    uow.chair.save_alert(updated)
    touch(uow, row, clock.now())
    audit(uow, clock, actor, AuditAction.UPDATE, RESOURCE_ALERT, row, alert_id, "acknowledged")
    uow.commit()
    return updated


def resolve_alert(
    uow: UnitOfWork, clock: Clock, actor: AuditActor, alert_id: int, note: str = ""
) -> StoredAlert:
    """Close an acknowledged alert. IllegalTransition when it is still raised or resolved."""
    stored, row = _load_alert(uow, clock, actor, alert_id)
    assert actor.principal is not None
    by = chair_actor(actor.principal)
    updated = replace(stored, alert=resolve(stored.alert, by, clock.now(), note))
    uow.chair.save_alert(updated)
    touch(uow, row, clock.now())
    audit(uow, clock, actor, AuditAction.UPDATE, RESOURCE_ALERT, row, alert_id, "resolved")
    uow.commit()
    return updated


def list_alerts(
    uow: UnitOfWork,
    clock: Clock,
    actor: AuditActor,
    *,
    site_id: int | None = None,
    open_only: bool = True,
    limit: int = 500,
) -> list[StoredAlert]:
    """Alerts at the caller's sites (or one of them), newest first; the read is audited."""
    principal = require_role(uow, clock, actor, RESOURCE_ALERT, VIEW_ROLES)
    sites = principal.site_ids if site_id is None else principal.site_ids & {site_id}
    found = uow.chair.site_alerts(sites, open_only=open_only, limit=limit) if sites else []
    record(
        uow,
        clock,
        actor,
        AuditAction.READ,
        "chair_alert_list",
        site_id=site_id,
        detail=f"{len(found)} alerts",
    )
    uow.commit()
    return found
