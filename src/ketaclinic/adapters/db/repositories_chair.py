"""SQLAlchemy implementation of the chair's storage port (services/chair_ports.py).

Rows are translated to and from the domain's own objects here; the repository never commits.
Uniqueness that matters clinically (one open session per chair and per patient, one open alert
per rule per session, one MAR entry per number) is enforced by the database, so a race between
two nurses, or between a nurse and the monitor feed, ends in :class:`Conflict`, never in a
duplicate.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Collection
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from ketaclinic.adapters.db import tables_chair as c
from ketaclinic.adapters.db.repositories import as_utc, utc
from ketaclinic.adapters.db.repositories_chair_escalations import ChairEscalationStore
from ketaclinic.adapters.db.repositories_chair_records import ChairRecordsStore, staff_actor
from ketaclinic.adapters.db.repositories_chair_vitals import ChairVitalsStore
from ketaclinic.domain.administration import (
    Bolus,
    Correction,
    Event,
    EventKind,
    MarEntry,
    Pause,
    RateChange,
    Resume,
    StartInfusion,
    Stop,
)
from ketaclinic.domain.errors import Conflict
from ketaclinic.domain.session_lifecycle import (
    CheckItem,
    CheckOutcome,
    CheckResult,
    SessionState,
    Transition,
    TransitionRecord,
)
from ketaclinic.services.chair_ports import (
    Baseline,
    DoseCheck,
    LimitLevelSeen,
    NewSession,
    PlannedDose,
    SessionRow,
    StoredMarEntry,
)

NOTIFY_CHANNEL = "ketaclinic_chair"
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# Names this process in its change notices (PostgreSQL NOTIFY, SQLite chair_change; random, not a
# secret): the process's own listener skips them, having broadcast the change in-process already.
PROCESS_TOKEN = secrets.token_hex(6)


class SqlChairRepository(ChairVitalsStore, ChairRecordsStore, ChairEscalationStore):
    """``notify_token`` names this process in its change notices (PostgreSQL NOTIFY, SQLite
    chair_change), so its own listener can skip what it already broadcast in-process (see
    adapters/db/events_chair.py)."""

    def __init__(self, conn: Connection, notify_token: str = "") -> None:
        self.conn = conn
        self.notify_token = notify_token

    # sessions ------------------------------------------------------------------------------

    def add_session(self, new: NewSession) -> SessionRow:
        values = {
            "patient_id": new.patient_id,
            "site_id": new.site_id,
            "chair_id": new.chair_id,
            "protocol_id": new.protocol_id,
            "bolus_allowed": new.bolus_allowed,
            "state": SessionState.CHECKED_IN.value,
            "checked_in_at": new.checked_in_at,
            "checked_in_by": new.checked_in_by,
            "updated_at": new.checked_in_at,
            "occupied_chair_id": new.chair_id,
            "active_patient_id": new.patient_id,
        }
        try:
            with self.conn.begin_nested():
                new_id = self.conn.execute(
                    c.infusion_session.insert().values(**values).returning(c.infusion_session.c.id)
                ).scalar_one()
        except IntegrityError:
            raise Conflict(
                "check-in: the chair or the patient already has an open infusion session",
                field="chair",
            ) from None
        found = self.get_session(new_id)
        assert found is not None
        return found

    def get_session(self, session_id: int, *, for_update: bool = False) -> SessionRow | None:
        stmt = sa.select(c.infusion_session).where(c.infusion_session.c.id == session_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = self.conn.execute(stmt).first()
        return _session(row) if row else None

    def open_session_for_chair(self, chair_id: int) -> SessionRow | None:
        row = self.conn.execute(
            sa.select(c.infusion_session).where(c.infusion_session.c.occupied_chair_id == chair_id)
        ).first()
        return _session(row) if row else None

    def open_sessions_for_patients(
        self, patient_ids: Collection[int], *, for_update: bool = False
    ) -> dict[int, SessionRow]:
        if not patient_ids:
            return {}
        stmt = _OPEN_SESSIONS_LOCKED if for_update else _OPEN_SESSIONS
        rows = self.conn.execute(stmt, {"patients": sorted(set(patient_ids))})
        return {row.patient_id: _session(row) for row in rows}

    def list_sessions(
        self,
        site_ids: Collection[int],
        *,
        open_only: bool = False,
        since: dt.datetime | None = None,
        limit: int = 200,
    ) -> list[SessionRow]:
        s = c.infusion_session
        stmt = sa.select(s).where(s.c.site_id.in_(sorted(set(site_ids))))
        if open_only:
            stmt = stmt.where(s.c.active_patient_id.is_not(None))
        elif since is not None:
            stmt = stmt.where(
                sa.or_(s.c.checked_in_at >= since, s.c.active_patient_id.is_not(None))
            )
        stmt = stmt.order_by(s.c.checked_in_at.desc(), s.c.id.desc()).limit(limit)
        return [_session(row) for row in self.conn.execute(stmt)]

    def save_session(self, row: SessionRow) -> None:
        baseline = row.baseline
        planned = row.planned
        values: dict[str, Any] = {
            "state": row.state.value,
            "updated_at": row.updated_at,
            "escort_name": row.escort_name,
            "escort_phone": row.escort_phone,
            "weight_kg": row.weight_kg,
            "baseline_systolic": baseline.systolic_mmhg if baseline else None,
            "baseline_diastolic": baseline.diastolic_mmhg if baseline else None,
            "baseline_heart_rate": baseline.heart_rate_per_min if baseline else None,
            "baseline_spo2": baseline.spo2_percent if baseline else None,
            "baseline_at": baseline.at if baseline else None,
            "planned_dose_mg": planned.dose_mg if planned else None,
            "planned_concentration_mg_per_ml": planned.concentration_mg_per_ml if planned else None,
            "planned_volume_ml": planned.volume_ml if planned else None,
            "planned_rate_ml_per_h": planned.rate_ml_per_h if planned else None,
            "planned_limit_level": planned.check.level.value if planned else "",
            "planned_override_reason": planned.check.override_reason if planned else "",
            "planned_override_confirmed_by": planned.check.override_confirmed_by
            if planned
            else None,
            "infusion_started_at": row.infusion_started_at,
            "infusion_ended_at": row.infusion_ended_at,
            "closed_at": row.closed_at,
            "occupied_chair_id": row.chair_id if row.is_open else None,
            "active_patient_id": row.patient_id if row.is_open else None,
        }
        try:
            with self.conn.begin_nested():
                self.conn.execute(
                    c.infusion_session.update()
                    .where(c.infusion_session.c.id == row.id)
                    .values(**values)
                )
        except IntegrityError:
            raise Conflict(
                "the chair or the patient already has another open session", field="state"
            ) from None

    def touch_sessions(self, session_ids: Collection[int], at: dt.datetime) -> None:
        if session_ids:
            self.conn.execute(_TOUCH_SESSIONS, {"sessions": sorted(set(session_ids)), "at": at})

    def add_transition(self, session_id: int, record: TransitionRecord) -> None:
        self.conn.execute(
            c.session_transition.insert().values(
                session_id=session_id,
                transition=record.transition.value,
                from_state=record.from_state.value,
                to_state=record.to_state.value,
                by_user_id=record.by.user_id,
                by_role=record.by.role.value,
                at=record.at,
                reason=record.reason,
                override_reason=record.override_reason,
            )
        )

    def transitions(self, session_id: int) -> list[TransitionRecord]:
        rows = self.conn.execute(
            sa.select(c.session_transition)
            .where(c.session_transition.c.session_id == session_id)
            .order_by(c.session_transition.c.id)
        )
        return [
            TransitionRecord(
                transition=Transition(r.transition),
                from_state=SessionState(r.from_state),
                to_state=SessionState(r.to_state),
                by=staff_actor(r.by_user_id, r.by_role),
                at=utc(r.at),
                reason=r.reason,
                override_reason=r.override_reason,
            )
            for r in rows
        ]

    def add_check(self, session_id: int, result: CheckResult) -> None:
        self.conn.execute(
            c.session_check.insert().values(
                session_id=session_id,
                item=result.item.value,
                outcome=result.outcome.value,
                by_user_id=result.by.user_id,
                by_role=result.by.role.value,
                at=result.at,
                note=result.note,
                hard=result.hard,
            )
        )

    def checks(self, session_id: int) -> list[CheckResult]:
        rows = self.conn.execute(
            sa.select(c.session_check)
            .where(c.session_check.c.session_id == session_id)
            .order_by(c.session_check.c.id)
        )
        return [
            CheckResult(
                item=CheckItem(r.item),
                outcome=CheckOutcome(r.outcome),
                by=staff_actor(r.by_user_id, r.by_role),
                at=utc(r.at),
                note=r.note,
                hard=bool(r.hard),
            )
            for r in rows
        ]

    # administration record -----------------------------------------------------------------

    def add_mar_entry(
        self,
        session_id: int,
        entry: MarEntry,
        recorded_at: dt.datetime,
        check: DoseCheck | None = None,
    ) -> None:
        values: dict[str, Any] = {
            "session_id": session_id,
            "seq": entry.id,
            "kind": entry.event.kind.value,
            "at": entry.at,
            "by_user_id": entry.by.user_id,
            "by_role": entry.by.role.value,
            "recorded_at": recorded_at,
        }
        event = entry.event
        if isinstance(event, Correction):
            values.update(
                reason=event.reason,
                corrects_seq=event.corrects_id,
                corrected_at=event.corrected_at,
                corrected_kind=event.replacement.kind.value if event.replacement else "",
            )
            if event.replacement is not None:
                values.update(_event_values(event.replacement, corrected=True))
        else:
            values.update(_event_values(event, corrected=False))
        if check is not None:
            values.update(
                limit_level=check.level.value,
                override_reason=check.override_reason,
                override_confirmed_by=check.override_confirmed_by,
            )
        try:
            with self.conn.begin_nested():
                self.conn.execute(c.administration_event.insert().values(**values))
        except IntegrityError:
            raise Conflict(
                f"administration record: entry {entry.id} was charted by someone else at the "
                "same moment; reload and chart again",
                field="entry",
            ) from None

    def mar_entries(self, session_id: int) -> list[StoredMarEntry]:
        return self.mar_entries_of([session_id]).get(session_id, [])

    def mar_entries_of(self, session_ids: Collection[int]) -> dict[int, list[StoredMarEntry]]:
        if not session_ids:
            return {}
        event = c.administration_event
        rows = self.conn.execute(
            sa.select(event)
            .where(event.c.session_id.in_(sorted(set(session_ids))))
            .order_by(event.c.session_id, event.c.seq)
        )
        found: dict[int, list[StoredMarEntry]] = {}
        for r in rows:
            action: Event | Correction
            if r.kind == EventKind.CORRECTION.value:
                replacement = (
                    _event_of(EventKind(r.corrected_kind), r, corrected=True)
                    if r.corrected_kind
                    else None
                )
                action = Correction(r.corrects_seq, replacement, r.reason, as_utc(r.corrected_at))
            else:
                action = _event_of(EventKind(r.kind), r, corrected=False)
            check = (
                DoseCheck(LimitLevelSeen(r.limit_level), r.override_reason, r.override_confirmed_by)
                if r.limit_level
                else None
            )
            found.setdefault(r.session_id, []).append(
                StoredMarEntry(
                    MarEntry(r.seq, utc(r.at), staff_actor(r.by_user_id, r.by_role), action),
                    utc(r.recorded_at),
                    check,
                )
            )
        return found

    # live updates --------------------------------------------------------------------------

    def mark_changed(self, site_id: int) -> None:
        # Inside the transaction, so other processes hear of the change only if it commits:
        # PostgreSQL by pg_notify; SQLite by the site's row of chair_change, which the board
        # streams of other processes watch (adapters/db/events_chair.py).
        if self.conn.dialect.name == "postgresql":
            self.conn.execute(
                sa.select(sa.func.pg_notify(NOTIFY_CHANNEL, f"{site_id}:{self.notify_token}"))
            )
        else:
            self.conn.execute(_SQLITE_CHANGED, {"site": site_id, "process": self.notify_token})


# The monitor feed's statements, built once (each batch of the HL7 sink runs them): building a
# statement and its cache key anew costs SQLAlchemy several times what running it does.
_OPEN_SESSIONS = (
    sa.select(c.infusion_session)
    .where(c.infusion_session.c.active_patient_id.in_(sa.bindparam("patients", expanding=True)))
    .order_by(c.infusion_session.c.id)
)
_OPEN_SESSIONS_LOCKED = _OPEN_SESSIONS.with_for_update()
_TOUCH_SESSIONS = (
    c.infusion_session.update()
    .where(c.infusion_session.c.id.in_(sa.bindparam("sessions", expanding=True)))
    .values(updated_at=sa.bindparam("at"))
)

_SQLITE_CHANGED = sa.text(
    "INSERT INTO chair_change (site_id, version, process) VALUES (:site, 1, :process)"
    " ON CONFLICT (site_id) DO UPDATE SET version = chair_change.version + 1,"
    " process = excluded.process"
)


# --- row ⇄ domain ---------------------------------------------------------------------------


def _session(r: Any) -> SessionRow:
    baseline = None
    if r.baseline_at is not None:
        baseline = Baseline(
            at=utc(r.baseline_at),
            systolic_mmhg=r.baseline_systolic,
            diastolic_mmhg=r.baseline_diastolic,
            heart_rate_per_min=r.baseline_heart_rate,
            spo2_percent=r.baseline_spo2,
        )
    planned = None
    if r.planned_dose_mg is not None:
        planned = PlannedDose(
            dose_mg=r.planned_dose_mg,
            concentration_mg_per_ml=r.planned_concentration_mg_per_ml,
            volume_ml=r.planned_volume_ml,
            rate_ml_per_h=r.planned_rate_ml_per_h,
            check=DoseCheck(
                LimitLevelSeen(r.planned_limit_level),
                r.planned_override_reason,
                r.planned_override_confirmed_by,
            ),
        )
    return SessionRow(
        id=r.id,
        patient_id=r.patient_id,
        site_id=r.site_id,
        chair_id=r.chair_id,
        protocol_id=r.protocol_id,
        bolus_allowed=bool(r.bolus_allowed),
        state=SessionState(r.state),
        checked_in_at=utc(r.checked_in_at),
        checked_in_by=r.checked_in_by,
        updated_at=utc(r.updated_at),
        escort_name=r.escort_name,
        escort_phone=r.escort_phone,
        weight_kg=r.weight_kg,
        baseline=baseline,
        planned=planned,
        infusion_started_at=as_utc(r.infusion_started_at),
        infusion_ended_at=as_utc(r.infusion_ended_at),
        closed_at=as_utc(r.closed_at),
    )


def _event_values(event: Event, *, corrected: bool) -> dict[str, Any]:
    """Columns for an event's values; a corrected pause or stop keeps its reason apart from
    the correction's own reason."""
    reason_column = "corrected_reason" if corrected else "reason"
    if isinstance(event, StartInfusion):
        return {
            "dose_mg": event.dose_mg,
            "concentration_mg_per_ml": event.concentration_mg_per_ml,
            "volume_ml": event.volume_ml,
            "rate_ml_per_h": event.rate_ml_per_h,
            "lot_number": event.lot_number,
            "pump_id": event.pump_id,
        }
    if isinstance(event, RateChange):
        return {"rate_ml_per_h": event.rate_ml_per_h}
    if isinstance(event, Bolus):
        return {"dose_mg": event.dose_mg}
    if isinstance(event, Pause | Stop):
        return {reason_column: event.reason}
    return {}


def _event_of(kind: EventKind, r: Any, *, corrected: bool) -> Event:
    reason = r.corrected_reason if corrected else r.reason
    if kind is EventKind.START:
        return StartInfusion(
            r.dose_mg,
            r.concentration_mg_per_ml,
            r.volume_ml,
            r.rate_ml_per_h,
            r.lot_number,
            r.pump_id,
        )
    if kind is EventKind.RATE_CHANGE:
        return RateChange(r.rate_ml_per_h)
    if kind is EventKind.PAUSE:
        return Pause(reason)
    if kind is EventKind.RESUME:
        return Resume()
    if kind is EventKind.STOP:
        return Stop(reason)
    if kind is EventKind.BOLUS:
        return Bolus(r.dose_mg)
    raise Conflict(f"administration record: unknown stored kind {kind.value!r}")
