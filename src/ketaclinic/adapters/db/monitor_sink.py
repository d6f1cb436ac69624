"""The database sink of the HL7 listener (adapters/hl7/sink.py's ``ObservationSink``).

One batch is one transaction: every message's readings, its ``monitor_message`` row, the alerts
its readings raise and its audit entry commit together, and only then does the listener
acknowledge (``AA``) — so an acknowledged message's alerts exist. The writes are made per batch,
not per message (one statement for all message rows, two for all readings, three for all audit
entries), so a larger batch costs little more than a small one. A message whose (sending
application, facility, MSH-10) was stored before is a duplicate: acknowledged, stored once. A
message for an MRN the clinic does not know is rejected (``AE``) and stores nothing.

Readings of a patient with an open infusion session are attached to it and go through the
chair's alert rules (``services/chair_vitals.py``). A patient has at most one open session, so
the MRN decides; the chair in PV1-3 is kept on the message row. Readings of a patient without an
open session are kept and flagged ``no_active_session`` (DESIGN.md §4.4).

After the commit, ``on_change`` (if given) hears which sites' chairs changed, for the live chair
board; it is called from the listener's worker thread.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ketaclinic.adapters.db import tables as t
from ketaclinic.adapters.db.repositories import SqlAuditLog
from ketaclinic.adapters.db.uow import SqlUnitOfWork
from ketaclinic.adapters.hl7.parser import MonitorMessage
from ketaclinic.adapters.hl7.sink import StoreOutcome
from ketaclinic.domain.alerts import AlertRules
from ketaclinic.domain.audit import AuditAction, AuditRecord
from ketaclinic.domain.errors import NotFound
from ketaclinic.services import clinic_settings
from ketaclinic.services.chair_ports import FLAG_NO_ACTIVE_SESSION
from ketaclinic.services.chair_vitals import MonitorFeeds

NO_ACTIVE_SESSION = FLAG_NO_ACTIVE_SESSION

Clock = Callable[[], dt.datetime]


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# The statements every batch runs, built once: building a statement and its cache key anew
# costs SQLAlchemy several times what running it does.
_MM = t.monitor_message
_PATIENTS = sa.select(t.patient.c.id, t.patient.c.mrn, t.patient.c.site_id).where(
    t.patient.c.mrn.in_(sa.bindparam("mrns", expanding=True))
)
_SEEN = sa.select(_MM.c.sending_application, _MM.c.sending_facility, _MM.c.control_id).where(
    _MM.c.control_id.in_(sa.bindparam("control_ids", expanding=True))
)
_ADD_MESSAGES = _MM.insert().returning(
    _MM.c.id, _MM.c.sending_application, _MM.c.sending_facility, _MM.c.control_id
)


class DatabaseSink:
    def __init__(
        self,
        engine: Engine,
        *,
        on_change: Callable[[set[int]], None] | None = None,
        clock: Clock = _utc_now,
        rules: AlertRules | None = None,
    ) -> None:
        self.engine = engine
        self.on_change = on_change
        self.clock = clock
        self.rules = rules

    def store(self, batch: Sequence[MonitorMessage]) -> list[StoreOutcome]:
        now = self.clock()
        with SqlUnitOfWork(self.engine) as uow:
            outcomes, sites = self._store(uow, batch, now)
            uow.commit()
        if sites and self.on_change is not None:
            self.on_change(sites)
        return outcomes

    def _store(
        self, uow: SqlUnitOfWork, batch: Sequence[MonitorMessage], now: dt.datetime
    ) -> tuple[list[StoreOutcome], set[int]]:
        conn = uow.connection
        mrns = sorted({m.mrn for m in batch})
        patients = {
            row.mrn: (row.id, row.site_id) for row in conn.execute(_PATIENTS, {"mrns": mrns})
        }
        # By the batch's control ids: ix_monitor_message_control (led by the control id) gives
        # one seek per id on either engine, whatever the table's statistics say; other senders'
        # messages with the same ids come back too and never match a whole sender key. (The
        # unique key, led by the sender, made PostgreSQL read every message of the sender while
        # its statistics were young; a row-value IN made SQLite walk the whole index.)
        control_ids = sorted({m.header.control_id for m in batch})
        seen = {
            (r.sending_application, r.sending_facility, r.control_id)
            for r in conn.execute(_SEEN, {"control_ids": control_ids})
        }
        outcomes: list[StoreOutcome] = []
        accepted: list[tuple[MonitorMessage, int, int]] = []  # message, patient, site
        for message in batch:
            found = patients.get(message.mrn)
            if found is None:
                # The MRN itself never goes into the ACK text or the logs.
                error = NotFound("PID-3: no patient with this MRN at this clinic", field="PID-3")
                outcomes.append(StoreOutcome.rejected(error))
            elif message.dedup_key in seen:
                outcomes.append(StoreOutcome.duplicate())
            else:
                seen.add(message.dedup_key)
                accepted.append((message, *found))
                outcomes.append(StoreOutcome.stored())
        if not accepted:
            return outcomes, set()
        # One multi-row INSERT for every message row; RETURNING does not promise the rows'
        # order, so each id is matched back by the message's unique sender key.
        returned = conn.execute(
            _ADD_MESSAGES,
            [
                {
                    "sending_application": m.header.sending_application,
                    "sending_facility": m.header.sending_facility,
                    "control_id": m.header.control_id,
                    "patient_id": patient_id,
                    "chair_code": m.chair,
                    "message_time": m.message_time,
                    "received_at": now,
                }
                for m, patient_id, _ in accepted
            ],
        ).all()
        by_key = {(r.sending_application, r.sending_facility, r.control_id): r.id for r in returned}
        message_ids = [by_key[m.dedup_key] for m, _, _ in accepted]
        # Lock the open sessions of these patients (always before the audit head), so this
        # batch and a nurse charting at the chair serialise instead of deadlocking.
        sessions = uow.chair.open_sessions_for_patients(
            {patient_id for _, patient_id, _ in accepted}, for_update=True
        )
        times = [o.reading.observed_at for m, _, _ in accepted for o in m.observations]
        # The clinic's alert rules, read once per batch, unless the sink was given its own.
        rules = self.rules if self.rules is not None else clinic_settings.clinic_alert_rules(uow)
        feeds = MonitorFeeds(uow, list(sessions.values()), min(times, default=now), rules)
        records: list[AuditRecord] = []
        for (message, patient_id, site_id), message_id in zip(accepted, message_ids, strict=True):
            readings = [obs.reading for obs in message.observations]
            session = sessions.get(patient_id)
            if session is not None and readings:
                result = feeds.ingest(session, readings, now, monitor_message_id=message_id)
                detail = f"session {session.id}: {len(readings)} readings from monitor"
                if result.raised or result.updated:
                    detail += "; " + result.summary()
            else:
                feeds.keep_unattached(patient_id, readings, now, message_id)
                detail = f"{len(readings)} readings from monitor, no active session"
            records.append(
                AuditRecord(
                    action=AuditAction.CREATE,
                    resource="vital_reading",
                    username="",
                    role="device",
                    site_id=site_id,
                    patient_id=patient_id,
                    resource_id=str(message_id),
                    client=message.header.sending_application[:64],
                    detail=detail[:500],
                )
            )
        sites = feeds.finish(now)
        SqlAuditLog(conn).append_many([(record, now) for record in records])
        return outcomes, sites
