"""In-memory fake of the chair's storage port: the same behaviour as the SQL repository, held to
it by the repository contract test. State lives in :class:`ChairState` on the ``MemoryStore``;
every container holds immutable records, so copying the containers is a full snapshot (the
memory unit of work snapshots on entry and restores on rollback).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from ketaclinic.domain.administration import MarEntry
from ketaclinic.domain.errors import Conflict
from ketaclinic.domain.session_lifecycle import CheckResult, SessionState, TransitionRecord
from ketaclinic.domain.side_effects import SideEffectEntry
from ketaclinic.domain.vitals import VitalKind, VitalReading
from ketaclinic.services.chair_ports import (
    DissociationScore,
    DoseCheck,
    EscalationNotice,
    NewReading,
    NewSession,
    NoticeState,
    SessionRow,
    StoredAlert,
    StoredAssessment,
    StoredMarEntry,
    StoredReading,
    StoredSideEffect,
    thin,
)

if TYPE_CHECKING:
    from ketaclinic.adapters.memory import MemoryStore


@dataclass
class ChairState:
    sessions: dict[int, SessionRow] = field(default_factory=dict)
    transitions: dict[int, tuple[TransitionRecord, ...]] = field(default_factory=dict)
    checks: dict[int, tuple[CheckResult, ...]] = field(default_factory=dict)
    mar: dict[int, tuple[StoredMarEntry, ...]] = field(default_factory=dict)
    readings: dict[int, StoredReading] = field(default_factory=dict)
    reading_session: dict[int, int] = field(default_factory=dict)
    alerts: dict[int, StoredAlert] = field(default_factory=dict)
    side_effects: dict[int, StoredSideEffect] = field(default_factory=dict)
    dissociation: dict[int, DissociationScore] = field(default_factory=dict)
    assessments: dict[int, StoredAssessment] = field(default_factory=dict)
    escalations: dict[int, EscalationNotice] = field(default_factory=dict)
    changed: tuple[int, ...] = ()

    def __copy__(self) -> ChairState:
        return ChairState(
            sessions=dict(self.sessions),
            transitions=dict(self.transitions),
            checks=dict(self.checks),
            mar=dict(self.mar),
            readings=dict(self.readings),
            reading_session=dict(self.reading_session),
            alerts=dict(self.alerts),
            side_effects=dict(self.side_effects),
            dissociation=dict(self.dissociation),
            assessments=dict(self.assessments),
            escalations=dict(self.escalations),
            changed=self.changed,
        )

    def __deepcopy__(self, memo: dict[int, object]) -> ChairState:
        return self.__copy__()


class MemoryChairRepository:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    @property
    def state(self) -> ChairState:
        return self.store.chair_state

    # sessions ------------------------------------------------------------------------------

    def add_session(self, new: NewSession) -> SessionRow:
        for row in self.state.sessions.values():
            if row.is_open and (row.chair_id == new.chair_id or row.patient_id == new.patient_id):
                raise Conflict(
                    "check-in: the chair or the patient already has an open infusion session",
                    field="chair",
                )
        row = SessionRow(
            id=self.store.new_id(),
            patient_id=new.patient_id,
            site_id=new.site_id,
            chair_id=new.chair_id,
            protocol_id=new.protocol_id,
            bolus_allowed=new.bolus_allowed,
            state=SessionState.CHECKED_IN,
            checked_in_at=new.checked_in_at,
            checked_in_by=new.checked_in_by,
            updated_at=new.checked_in_at,
        )
        self.state.sessions[row.id] = row
        return row

    def get_session(self, session_id: int, *, for_update: bool = False) -> SessionRow | None:
        del for_update  # the memory unit of work holds the store's lock already
        return self.state.sessions.get(session_id)

    def open_session_for_chair(self, chair_id: int) -> SessionRow | None:
        return next(
            (r for r in self.state.sessions.values() if r.is_open and r.chair_id == chair_id),
            None,
        )

    def open_sessions_for_patients(
        self, patient_ids: Collection[int], *, for_update: bool = False
    ) -> dict[int, SessionRow]:
        wanted = set(patient_ids)
        return {
            r.patient_id: r
            for r in self.state.sessions.values()
            if r.is_open and r.patient_id in wanted
        }

    def list_sessions(
        self,
        site_ids: Collection[int],
        *,
        open_only: bool = False,
        since: dt.datetime | None = None,
        limit: int = 200,
    ) -> list[SessionRow]:
        sites = set(site_ids)
        found = [
            r
            for r in self.state.sessions.values()
            if r.site_id in sites
            and (r.is_open if open_only else since is None or r.is_open or r.checked_in_at >= since)
        ]
        found.sort(key=lambda r: (r.checked_in_at, r.id), reverse=True)
        return found[:limit]

    def save_session(self, row: SessionRow) -> None:
        if row.is_open:
            for other in self.state.sessions.values():
                if (
                    other.id != row.id
                    and other.is_open
                    and (other.chair_id == row.chair_id or other.patient_id == row.patient_id)
                ):
                    raise Conflict(
                        "the chair or the patient already has another open session", field="state"
                    )
        self.state.sessions[row.id] = row

    def touch_sessions(self, session_ids: Collection[int], at: dt.datetime) -> None:
        for session_id in session_ids:
            row = self.state.sessions.get(session_id)
            if row is not None:
                self.state.sessions[session_id] = replace(row, updated_at=at)

    def add_transition(self, session_id: int, record: TransitionRecord) -> None:
        self.state.transitions[session_id] = (*self.transitions(session_id), record)

    def transitions(self, session_id: int) -> list[TransitionRecord]:
        return list(self.state.transitions.get(session_id, ()))

    def add_check(self, session_id: int, result: CheckResult) -> None:
        self.state.checks[session_id] = (*self.checks(session_id), result)

    def checks(self, session_id: int) -> list[CheckResult]:
        return list(self.state.checks.get(session_id, ()))

    # administration record -----------------------------------------------------------------

    def add_mar_entry(
        self,
        session_id: int,
        entry: MarEntry,
        recorded_at: dt.datetime,
        check: DoseCheck | None = None,
    ) -> None:
        existing = self.state.mar.get(session_id, ())
        if any(e.entry.id == entry.id for e in existing):
            raise Conflict(
                f"administration record: entry {entry.id} was charted by someone else at the "
                "same moment; reload and chart again",
                field="entry",
            )
        self.state.mar[session_id] = (*existing, StoredMarEntry(entry, recorded_at, check))

    def mar_entries(self, session_id: int) -> list[StoredMarEntry]:
        return sorted(self.state.mar.get(session_id, ()), key=lambda e: e.entry.id)

    def mar_entries_of(self, session_ids: Collection[int]) -> dict[int, list[StoredMarEntry]]:
        return {sid: self.mar_entries(sid) for sid in set(session_ids) if self.state.mar.get(sid)}

    # vitals --------------------------------------------------------------------------------

    def add_readings(
        self,
        patient_id: int,
        readings: Sequence[VitalReading],
        flags: Sequence[str],
        recorded_at: dt.datetime,
        *,
        session_id: int | None,
        monitor_message_id: int | None = None,
    ) -> list[int]:
        del patient_id, recorded_at, monitor_message_id  # kept by the SQL store only
        ids: list[int] = []
        for reading, flag in zip(readings, flags, strict=True):
            reading_id = self.store.new_id()
            self.state.readings[reading_id] = StoredReading(reading_id, reading, flag)
            if session_id is not None:
                self.state.reading_session[reading_id] = session_id
            ids.append(reading_id)
        return ids

    def session_readings(
        self, session_id: int, *, since: dt.datetime | None = None
    ) -> list[StoredReading]:
        found = [
            self.state.readings[reading_id]
            for reading_id, owner in self.state.reading_session.items()
            if owner == session_id
        ]
        if since is not None:
            found = [r for r in found if r.reading.observed_at >= since]
        found.sort(key=lambda r: (r.reading.observed_at, r.id))
        return found

    def add_reading_batch(self, rows: Sequence[NewReading]) -> None:
        for row in rows:
            self.add_readings(
                row.patient_id,
                [row.reading],
                [row.flag],
                row.recorded_at,
                session_id=row.session_id,
                monitor_message_id=row.monitor_message_id,
            )

    def latest_readings(
        self, session_ids: Collection[int], *, since: dt.datetime
    ) -> dict[int, list[StoredReading]]:
        found: dict[int, list[StoredReading]] = {}
        for session_id in set(session_ids):
            newest: dict[VitalKind, StoredReading] = {}
            for stored in self.session_readings(session_id, since=since):
                if stored.usable:
                    newest[stored.reading.kind] = stored  # time order: the last one wins
            if newest:
                found[session_id] = sorted(
                    newest.values(), key=lambda r: (r.reading.observed_at, r.id)
                )
        return found

    def latest_reading_times(self, session_id: int) -> dict[VitalKind, dt.datetime]:
        latest: dict[VitalKind, dt.datetime] = {}
        for stored in self.session_readings(session_id):
            if stored.usable:
                kind, at = stored.reading.kind, stored.reading.observed_at
                latest[kind] = max(at, latest.get(kind, at))
        return latest

    def series(
        self,
        session_id: int,
        kinds: Collection[VitalKind],
        *,
        since: dt.datetime,
        until: dt.datetime,
        max_points: int,
    ) -> dict[VitalKind, list[tuple[dt.datetime, float]]]:
        wanted = set(kinds)
        points = (
            (s.reading.kind, s.reading.observed_at, s.reading.value)
            for s in self.session_readings(session_id, since=since)
            if s.usable and s.reading.kind in wanted
        )
        return thin(points, since=since, until=until, max_points=max_points)

    def series_of(
        self,
        session_ids: Collection[int],
        kinds: Collection[VitalKind],
        *,
        since: dt.datetime,
        until: dt.datetime,
        max_points: int,
    ) -> dict[int, dict[VitalKind, list[tuple[dt.datetime, float]]]]:
        found = {
            sid: self.series(sid, kinds, since=since, until=until, max_points=max_points)
            for sid in set(session_ids)
        }
        return {sid: trend for sid, trend in found.items() if trend}

    # alerts --------------------------------------------------------------------------------

    def add_alert(self, stored: StoredAlert) -> StoredAlert:
        rule = stored.alert.rule_key
        for other in self.state.alerts.values():
            same = other.session_id == stored.session_id and other.alert.rule_key == rule
            if same and other.alert.is_open:
                raise Conflict(
                    f"alert: session {stored.session_id} already has an open {rule!r} alert",
                    field="rule",
                )
        saved = replace(stored, alert=replace(stored.alert, id=self.store.new_id()))
        self.state.alerts[saved.id] = saved
        return saved

    def save_alert(self, stored: StoredAlert) -> None:
        self.state.alerts[stored.id] = stored

    def get_alert(self, alert_id: int, *, for_update: bool = False) -> StoredAlert | None:
        return self.state.alerts.get(alert_id)

    def session_alerts(
        self, session_ids: Collection[int], *, open_only: bool = False
    ) -> list[StoredAlert]:
        wanted = set(session_ids)
        return _newest_first(
            a
            for a in self.state.alerts.values()
            if a.session_id in wanted and (a.alert.is_open or not open_only)
        )

    def site_alerts(
        self, site_ids: Collection[int], *, open_only: bool = True, limit: int = 500
    ) -> list[StoredAlert]:
        wanted = set(site_ids)
        return _newest_first(
            a
            for a in self.state.alerts.values()
            if a.site_id in wanted and (a.alert.is_open or not open_only)
        )[:limit]

    # escalation notices --------------------------------------------------------------------

    def add_escalation(self, notice: EscalationNotice) -> EscalationNotice | None:
        for other in self.state.escalations.values():
            if other.alert_id == notice.alert_id and other.level == notice.level:
                return None
        saved = replace(notice, id=self.store.new_id(), outcome=notice.outcome[:200])
        self.state.escalations[saved.id] = saved
        return saved

    def claim_escalations(
        self, now: dt.datetime, until: dt.datetime, *, limit: int = 50
    ) -> list[EscalationNotice]:
        free = sorted(
            (
                n
                for n in self.state.escalations.values()
                if n.state is NoticeState.PENDING
                and (n.claimed_until is None or n.claimed_until <= now)
            ),
            key=lambda n: (n.escalated_at, n.id),
        )[:limit]
        claimed = [replace(n, claimed_until=until, attempts=n.attempts + 1) for n in free]
        for notice in claimed:
            self.state.escalations[notice.id] = notice
        return claimed

    def finish_escalation(
        self,
        notice_id: int,
        state: NoticeState,
        at: dt.datetime,
        *,
        recipients: int = 0,
        sent: int = 0,
        outcome: str = "",
        retry_at: dt.datetime | None = None,
    ) -> None:
        notice = self.state.escalations.get(notice_id)
        if notice is None:
            return
        pending = state is NoticeState.PENDING
        self.state.escalations[notice_id] = replace(
            notice,
            state=state,
            recipients=recipients,
            sent=sent,
            outcome=outcome[:200],
            claimed_until=retry_at if pending else None,
            finished_at=None if pending else at,
        )

    def escalations(self, session_ids: Collection[int]) -> list[EscalationNotice]:
        wanted = set(session_ids)
        return sorted(
            (n for n in self.state.escalations.values() if n.session_id in wanted),
            key=lambda n: (n.escalated_at, n.id),
        )

    # side effects, dissociation, discharge ---------------------------------------------------

    def add_side_effect(
        self, session_id: int, entry: SideEffectEntry, recorded_at: dt.datetime
    ) -> StoredSideEffect:
        stored = StoredSideEffect(self.store.new_id(), session_id, entry, recorded_at)
        self.state.side_effects[stored.id] = stored
        return stored

    def get_side_effect(self, effect_id: int) -> StoredSideEffect | None:
        return self.state.side_effects.get(effect_id)

    def side_effects(self, session_id: int) -> list[StoredSideEffect]:
        return sorted(
            (s for s in self.state.side_effects.values() if s.session_id == session_id),
            key=lambda s: (s.entry.onset_at, s.id),
        )

    def side_effects_of(self, session_ids: Collection[int]) -> dict[int, list[StoredSideEffect]]:
        found = {sid: self.side_effects(sid) for sid in set(session_ids)}
        return {sid: effects for sid, effects in found.items() if effects}

    def review_side_effect(self, effect_id: int, by_user_id: int, at: dt.datetime) -> None:
        stored = self.state.side_effects.get(effect_id)
        if stored is not None:
            self.state.side_effects[effect_id] = replace(
                stored, reviewed_by=by_user_id, reviewed_at=at
            )

    def add_dissociation(self, score: DissociationScore) -> DissociationScore:
        saved = replace(score, id=self.store.new_id())
        self.state.dissociation[saved.id] = saved
        return saved

    def dissociation_scores(self, session_id: int) -> list[DissociationScore]:
        return sorted(
            (s for s in self.state.dissociation.values() if s.session_id == session_id),
            key=lambda s: (s.scored_at, s.id),
        )

    def add_assessment(self, assessment: StoredAssessment) -> StoredAssessment:
        saved = replace(assessment, id=self.store.new_id())
        self.state.assessments[saved.id] = saved
        return saved

    def assessments(self, session_id: int) -> list[StoredAssessment]:
        return sorted(
            (a for a in self.state.assessments.values() if a.session_id == session_id),
            key=lambda a: (a.assessed_at, a.id),
        )

    # live updates --------------------------------------------------------------------------

    def mark_changed(self, site_id: int) -> None:
        self.state.changed = (*self.state.changed, site_id)


def _newest_first(alerts: Iterable[StoredAlert]) -> list[StoredAlert]:
    found = list(alerts)
    found.sort(key=lambda a: (a.alert.raised_at, a.id), reverse=True)
    return found
