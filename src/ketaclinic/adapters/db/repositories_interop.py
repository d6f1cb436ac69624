"""Read-only SQL that gathers whole patient records for the exports (services/interop_ports.py).

It reads every capability's tables (core, ``intake``, ``mbc``, ``chair``) in batches: one query
per section for a whole batch of patients (``IN (...)`` over at most a few hundred ids), never
one query per patient per section, so a bulk export makes a bounded number of round trips per
batch and holds only one batch in memory. A table another capability has not created yet reads
as empty. Nothing here writes.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ketaclinic.adapters.db import tables as t
from ketaclinic.adapters.db.repositories import _patient, as_utc, site_row, utc
from ketaclinic.domain.administration import (
    AdministrationRecord,
    Bolus,
    Correction,
    Event,
    MarEntry,
    Pause,
    RateChange,
    Resume,
    StartInfusion,
    Stop,
)
from ketaclinic.domain.people import BodyMeasurement, Role
from ketaclinic.domain.session_lifecycle import Actor as ChairActor
from ketaclinic.domain.vitals import VitalKind, VitalSource
from ketaclinic.services.interop_mar import periods_of
from ketaclinic.services.interop_records import (
    AdministrationPeriod,
    AlertRow,
    BolusRow,
    CancelledVisitRow,
    ConsentRow,
    DissociationRow,
    IntakeRow,
    MonitorOrigin,
    PatientRecord,
    ResponseRow,
    SeriesRow,
    SessionRow,
    VisitRow,
    VitalRow,
)

Rows = dict[int, list[Any]]


def _table(name: str) -> sa.Table | None:
    """Another capability's table, or None while that capability's schema is not installed."""
    return t.metadata.tables.get(name)


def _json(text: str | None, default: Any) -> Any:
    if not text:
        return default
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return default


class SqlRecordReader:
    def __init__(self, conn: Connection, as_of: dt.datetime | None = None) -> None:
        self.conn = conn
        self.as_of = as_of

    def patient_ids(
        self, site_ids: frozenset[int], *, after_id: int = 0, limit: int = 500
    ) -> list[int]:
        if not site_ids:
            return []
        return list(
            self.conn.execute(
                sa.select(t.patient.c.id)
                .where(t.patient.c.site_id.in_(sorted(site_ids)), t.patient.c.id > after_id)
                .order_by(t.patient.c.id)
                .limit(limit)
            ).scalars()
        )

    def records(self, patient_ids: Sequence[int]) -> list[PatientRecord]:
        ids = sorted(set(patient_ids))
        if not ids:
            return []
        as_of = self.as_of or dt.datetime.now(dt.UTC)
        patients = {
            row.id: _patient(row)
            for row in self.conn.execute(sa.select(t.patient).where(t.patient.c.id.in_(ids)))
        }
        sites = {row.id: site_row(row) for row in self.conn.execute(sa.select(t.site))}
        organisation = self.conn.execute(sa.select(t.organisation.c.name).limit(1)).scalar() or ""
        staff = {
            row.id: row.username
            for row in self.conn.execute(sa.select(t.staff_user.c.id, t.staff_user.c.username))
        }
        chairs = {
            row.id: row.code for row in self.conn.execute(sa.select(t.chair.c.id, t.chair.c.code))
        }
        measurements = self._measurements(ids)
        vitals = self._vitals(ids)
        responses = self._responses(ids)
        intakes = self._intakes(ids)
        consents = self._consents(ids)
        series = self._series(ids, chairs)
        sessions = self._sessions(ids, chairs)
        admins, boluses = self._administrations(ids, as_of)
        alerts = self._alerts(ids)
        dissociation = self._dissociation(ids)
        frozen_staff = dict(staff)
        result: list[PatientRecord] = []
        for pid in patient_ids:
            patient = patients.get(pid)
            if patient is None:
                continue
            result.append(
                PatientRecord(
                    patient=patient,
                    site=sites[patient.site_id],
                    organisation=organisation,
                    measurements=tuple(measurements.get(pid, ())),
                    vitals=tuple(vitals.get(pid, ())),
                    responses=tuple(responses.get(pid, ())),
                    intakes=tuple(intakes.get(pid, ())),
                    consents=tuple(consents.get(pid, ())),
                    series=tuple(series.get(pid, ())),
                    sessions=tuple(sessions.get(pid, ())),
                    administrations=tuple(admins.get(pid, ())),
                    boluses=tuple(boluses.get(pid, ())),
                    alerts=tuple(alerts.get(pid, ())),
                    dissociation=tuple(dissociation.get(pid, ())),
                    staff=frozen_staff,
                )
            )
        return result

    # --- core ---------------------------------------------------------------------------

    def _measurements(self, ids: list[int]) -> dict[int, list[BodyMeasurement]]:
        m = t.body_measurement
        found: dict[int, list[BodyMeasurement]] = defaultdict(list)
        rows = self.conn.execute(
            sa.select(m).where(m.c.patient_id.in_(ids)).order_by(m.c.measured_at, m.c.id)
        )
        for r in rows:
            found[r.patient_id].append(
                BodyMeasurement(
                    patient_id=r.patient_id,
                    measured_at=utc(r.measured_at),
                    weight_kg=r.weight_kg,
                    height_cm=r.height_cm,
                    recorded_by=r.recorded_by,
                    id=r.id,
                    note=r.note,
                )
            )
        return found

    def _vitals(self, ids: list[int]) -> dict[int, list[VitalRow]]:
        v, mm = t.vital_reading, t.monitor_message
        link = _table("session_vital")
        columns: list[Any] = [v, mm.c.sending_application, mm.c.sending_facility, mm.c.control_id]
        columns += [mm.c.message_time, mm.c.received_at, mm.c.chair_code]
        joined = v.outerjoin(mm, v.c.monitor_message_id == mm.c.id)
        if link is not None:
            columns.append(link.c.session_id)
            joined = joined.outerjoin(link, link.c.reading_id == v.c.id)
        rows = self.conn.execute(
            sa.select(*columns)
            .select_from(joined)
            .where(v.c.patient_id.in_(ids))
            .order_by(v.c.observed_at, v.c.id)
        )
        found: dict[int, list[VitalRow]] = defaultdict(list)
        for r in rows:
            origin = None
            if r.monitor_message_id is not None:
                origin = MonitorOrigin(
                    message_id=r.monitor_message_id,
                    sending_application=r.sending_application,
                    sending_facility=r.sending_facility,
                    control_id=r.control_id,
                    message_time=utc(r.message_time),
                    received_at=utc(r.received_at),
                    chair_code=r.chair_code,
                )
            found[r.patient_id].append(
                VitalRow(
                    id=r.id,
                    kind=VitalKind(r.kind),
                    value=r.value,
                    unit=r.unit,
                    code=r.code,
                    observed_at=utc(r.observed_at),
                    source=VitalSource(r.source),
                    recorded_at=utc(r.recorded_at),
                    flag=r.flag,
                    monitor=origin,
                    session_id=getattr(r, "session_id", None),
                )
            )
        return found

    # --- mbc ------------------------------------------------------------------------------

    def _responses(self, ids: list[int]) -> dict[int, list[ResponseRow]]:
        q = _table("questionnaire_response")
        found: dict[int, list[ResponseRow]] = defaultdict(list)
        if q is None:
            return found
        rows = self.conn.execute(
            sa.select(q).where(q.c.patient_id.in_(ids)).order_by(q.c.completed_at, q.c.id)
        )
        for r in rows:
            answers = {
                str(k): int(v) for k, v in _json(r.answers_json, {}).items() if v is not None
            }
            subscales = {str(k): int(v) for k, v in _json(r.subscales_json, {}).items()}
            found[r.patient_id].append(
                ResponseRow(
                    id=r.id,
                    instrument_id=r.instrument_id,
                    instrument_version=r.instrument_version,
                    source=r.source,
                    completed_at=utc(r.completed_at),
                    recorded_at=utc(r.recorded_at),
                    language=r.language,
                    answers=answers,
                    total=r.total,
                    subscales=subscales,
                    severity=r.severity,
                    flags=tuple(str(f) for f in _json(r.flags_json, [])),
                    entered_by=r.entered_by,
                )
            )
        return found

    # --- intake ---------------------------------------------------------------------------

    def _intakes(self, ids: list[int]) -> dict[int, list[IntakeRow]]:
        a, s = _table("intake_assessment"), _table("eligibility_signoff")
        found: dict[int, list[IntakeRow]] = defaultdict(list)
        if a is None or s is None:
            return found
        rows = self.conn.execute(
            sa.select(
                a,
                s.c.decision.label("signed_decision"),
                s.c.signed_at,
                s.c.signed_by,
            )
            .select_from(a.outerjoin(s, s.c.intake_id == a.c.id))
            .where(a.c.patient_id.in_(ids))
            .order_by(a.c.recorded_at, a.c.id)
        )
        for r in rows:
            found[r.patient_id].append(
                IntakeRow(
                    id=r.id,
                    assessment_date=r.assessment_date,
                    trauma_date=r.trauma_date,
                    decision=r.decision,
                    recorded_at=utc(r.recorded_at),
                    recorded_by=r.recorded_by,
                    signed_decision=r.signed_decision,
                    signed_at=as_utc(r.signed_at),
                    signed_by=r.signed_by,
                )
            )
        return found

    def _consents(self, ids: list[int]) -> dict[int, list[ConsentRow]]:
        c, v = _table("patient_consent"), _table("consent_version")
        found: dict[int, list[ConsentRow]] = defaultdict(list)
        if c is None or v is None:
            return found
        rows = self.conn.execute(
            sa.select(c.c.id, c.c.patient_id, c.c.language, c.c.signed_at, c.c.witness_id)
            .add_columns(v.c.version)
            .select_from(c.join(v, v.c.id == c.c.version_id))
            .where(c.c.patient_id.in_(ids))
            .order_by(c.c.signed_at, c.c.id)
        )
        for r in rows:
            found[r.patient_id].append(
                ConsentRow(r.id, r.version, r.language, utc(r.signed_at), r.witness_id)
            )
        return found

    def _series(self, ids: list[int], chairs: Mapping[int, str]) -> dict[int, list[SeriesRow]]:
        s, v = _table("treatment_series"), _table("series_visit")
        found: dict[int, list[SeriesRow]] = defaultdict(list)
        if s is None or v is None:
            return found

        def visit(r: Any) -> VisitRow:
            chair = chairs.get(r.chair_id, "")
            return VisitRow(r.id, r.series_id, r.number, chair, utc(r.starts_at), utc(r.ends_at))

        visits: Rows = defaultdict(list)
        for r in self.conn.execute(
            sa.select(v).where(v.c.patient_id.in_(ids)).order_by(v.c.series_id, v.c.number)
        ):
            visits[r.series_id].append(visit(r))
        cancelled: Rows = defaultdict(list)
        c = _table("cancelled_visit")
        if c is not None:
            for r in self.conn.execute(
                sa.select(c)
                .where(c.c.patient_id.in_(ids))
                .order_by(c.c.series_id, c.c.number, c.c.id)
            ):
                cancelled[r.series_id].append(
                    CancelledVisitRow(visit(r), utc(r.cancelled_at), r.cancelled_by, r.reason)
                )
        for r in self.conn.execute(
            sa.select(s).where(s.c.patient_id.in_(ids)).order_by(s.c.booked_at, s.c.id)
        ):
            found[r.patient_id].append(
                SeriesRow(
                    r.id,
                    r.protocol_id,
                    utc(r.booked_at),
                    r.decision,
                    tuple(visits[r.id]),
                    tuple(cancelled[r.id]),
                )
            )
        return found

    # --- chair ----------------------------------------------------------------------------

    def _sessions(self, ids: list[int], chairs: Mapping[int, str]) -> dict[int, list[SessionRow]]:
        s = _table("infusion_session")
        found: dict[int, list[SessionRow]] = defaultdict(list)
        if s is None:
            return found
        for r in self.conn.execute(
            sa.select(s).where(s.c.patient_id.in_(ids)).order_by(s.c.checked_in_at, s.c.id)
        ):
            found[r.patient_id].append(
                SessionRow(
                    id=r.id,
                    state=r.state,
                    chair_code=chairs.get(r.chair_id, ""),
                    protocol_id=r.protocol_id,
                    checked_in_at=utc(r.checked_in_at),
                    infusion_started_at=as_utc(r.infusion_started_at),
                    infusion_ended_at=as_utc(r.infusion_ended_at),
                    closed_at=as_utc(r.closed_at),
                    weight_kg=r.weight_kg,
                    planned_dose_mg=r.planned_dose_mg,
                    checked_in_by=r.checked_in_by,
                )
            )
        return found

    def _administrations(
        self, ids: list[int], as_of: dt.datetime
    ) -> tuple[dict[int, list[AdministrationPeriod]], dict[int, list[BolusRow]]]:
        s, e = _table("infusion_session"), _table("administration_event")
        periods: dict[int, list[AdministrationPeriod]] = defaultdict(list)
        boluses: dict[int, list[BolusRow]] = defaultdict(list)
        if s is None or e is None:
            return periods, boluses
        entries: Rows = defaultdict(list)
        owners: dict[int, tuple[int, bool]] = {}
        rows = self.conn.execute(
            sa.select(e, s.c.patient_id, s.c.bolus_allowed)
            .select_from(e.join(s, s.c.id == e.c.session_id))
            .where(s.c.patient_id.in_(ids))
            .order_by(e.c.session_id, e.c.seq)
        )
        for r in rows:
            entries[r.session_id].append(r)
            owners[r.session_id] = (r.patient_id, bool(r.bolus_allowed))
        for session_id, session_rows in entries.items():
            patient_id, bolus_allowed = owners[session_id]
            record = AdministrationRecord(bolus_allowed, tuple(_mar_entry(r) for r in session_rows))
            found, given = periods_of(session_id, record, as_of)
            periods[patient_id].extend(found)
            boluses[patient_id].extend(given)
        return periods, boluses

    def _alerts(self, ids: list[int]) -> dict[int, list[AlertRow]]:
        a, s = _table("chair_alert"), _table("infusion_session")
        found: dict[int, list[AlertRow]] = defaultdict(list)
        if a is None or s is None:
            return found
        # Through the session: chair_alert is indexed by session, infusion_session by patient.
        for r in self.conn.execute(
            sa.select(a)
            .select_from(a.join(s, s.c.id == a.c.session_id))
            .where(s.c.patient_id.in_(ids))
            .order_by(a.c.raised_at, a.c.id)
        ):
            found[r.patient_id].append(
                AlertRow(
                    id=r.id,
                    session_id=r.session_id,
                    rule=r.rule_key,
                    label=r.label,
                    tier=r.tier,
                    state=r.state,
                    value=r.latest_value,
                    unit=r.unit,
                    raised_at=utc(r.raised_at),
                    acknowledged_at=as_utc(r.acknowledged_at),
                    resolved_at=as_utc(r.resolved_at),
                )
            )
        return found

    def _dissociation(self, ids: list[int]) -> dict[int, list[DissociationRow]]:
        d, s = _table("dissociation_score"), _table("infusion_session")
        found: dict[int, list[DissociationRow]] = defaultdict(list)
        if d is None or s is None:
            return found
        item_columns = [c.name for c in d.columns if c.name.startswith("cadss_")]
        for r in self.conn.execute(
            sa.select(d, s.c.patient_id)
            .select_from(d.join(s, s.c.id == d.c.session_id))
            .where(s.c.patient_id.in_(ids))
            .order_by(d.c.scored_at, d.c.id)
        ):
            found[r.patient_id].append(
                DissociationRow(
                    id=r.id,
                    session_id=r.session_id,
                    timepoint=r.timepoint,
                    items={name: int(getattr(r, name)) for name in item_columns},
                    total=r.total,
                    scored_at=utc(r.scored_at),
                    scored_by=r.scored_by,
                )
            )
        return found


def _event(kind: str, r: Any) -> Event:
    """One MAR event from the columns of an ``administration_event`` row."""
    if kind == "start":
        return StartInfusion(
            r.dose_mg,
            r.concentration_mg_per_ml,
            r.volume_ml,
            r.rate_ml_per_h,
            r.lot_number,
            r.pump_id,
        )
    if kind == "rate_change":
        return RateChange(r.rate_ml_per_h)
    if kind == "pause":
        return Pause(r.reason)
    if kind == "resume":
        return Resume()
    if kind == "stop":
        return Stop(r.reason)
    return Bolus(r.dose_mg)


def _mar_entry(r: Any) -> MarEntry:
    by = ChairActor(r.by_user_id, Role(r.by_role))
    if r.kind == "correction":
        replacement = _event(r.corrected_kind, r) if r.corrected_kind else None
        event: Event | Correction = Correction(
            r.corrects_seq, replacement, r.reason, as_utc(r.corrected_at)
        )
    else:
        event = _event(r.kind, r)
    return MarEntry(r.seq, utc(r.at), by, event)
