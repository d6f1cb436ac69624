"""The database sink of the HL7 listener (adapters/hl7/sink.py's ``ObservationSink``).

One batch is one transaction: every message's readings, its ``monitor_message`` row and its
audit entry commit together, and only then does the listener acknowledge (``AA``). A message
whose (sending application, facility, MSH-10) was stored before is a duplicate: acknowledged,
stored once. A message for an MRN the clinic does not know is rejected (``AE``) and stores
nothing. Readings for a known patient without an active infusion session are kept and flagged
``no_active_session`` (DESIGN.md §4.4); the infusion-chair capability attaches them to sessions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ketaclinic.adapters.db import tables as t
from ketaclinic.adapters.db.repositories import SqlAuditLog
from ketaclinic.adapters.hl7.parser import MonitorMessage
from ketaclinic.adapters.hl7.sink import StoreOutcome
from ketaclinic.domain.audit import AuditAction, AuditRecord
from ketaclinic.domain.errors import NotFound
from ketaclinic.domain.vitals import VitalSource

NO_ACTIVE_SESSION = "no_active_session"


class DatabaseSink:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def store(self, batch: Sequence[MonitorMessage]) -> list[StoreOutcome]:
        now = dt.datetime.now(dt.UTC)
        with self.engine.connect() as conn:
            outcomes = self._store(conn, batch, now)
            conn.commit()
        return outcomes

    def _store(
        self, conn: Connection, batch: Sequence[MonitorMessage], now: dt.datetime
    ) -> list[StoreOutcome]:
        mrns = sorted({m.mrn for m in batch})
        patients = {
            row.mrn: (row.id, row.site_id)
            for row in conn.execute(
                sa.select(t.patient.c.id, t.patient.c.mrn, t.patient.c.site_id).where(
                    t.patient.c.mrn.in_(mrns)
                )
            )
        }
        keys = {m.dedup_key for m in batch}
        seen = {
            (r.sending_application, r.sending_facility, r.control_id)
            for r in conn.execute(
                sa.select(
                    t.monitor_message.c.sending_application,
                    t.monitor_message.c.sending_facility,
                    t.monitor_message.c.control_id,
                ).where(t.monitor_message.c.control_id.in_(sorted({k[2] for k in keys})))
            )
        }
        audit = SqlAuditLog(conn)
        outcomes: list[StoreOutcome] = []
        for message in batch:
            found = patients.get(message.mrn)
            if found is None:
                # The MRN itself never goes into the ACK text or the logs.
                error = NotFound("PID-3: no patient with this MRN at this clinic", field="PID-3")
                outcomes.append(StoreOutcome.rejected(error))
                continue
            if message.dedup_key in seen:
                outcomes.append(StoreOutcome.duplicate())
                continue
            seen.add(message.dedup_key)
            patient_id, site_id = found
            header = message.header
            message_id = conn.execute(
                t.monitor_message.insert()
                .values(
                    sending_application=header.sending_application,
                    sending_facility=header.sending_facility,
                    control_id=header.control_id,
                    patient_id=patient_id,
                    chair_code=message.chair,
                    message_time=message.message_time,
                    received_at=now,
                )
                .returning(t.monitor_message.c.id)
            ).scalar_one()
            rows = [
                {
                    "patient_id": patient_id,
                    "kind": obs.reading.kind.value,
                    "value": obs.reading.value,
                    "unit": obs.reading.unit,
                    "code": obs.reading.code,
                    "observed_at": obs.reading.observed_at,
                    "source": VitalSource.MONITOR.value,
                    "flag": NO_ACTIVE_SESSION,
                    "monitor_message_id": message_id,
                    "recorded_at": now,
                }
                for obs in message.observations
            ]
            if rows:
                conn.execute(t.vital_reading.insert(), rows)
            audit.append(
                AuditRecord(
                    action=AuditAction.CREATE,
                    resource="vital_reading",
                    username="",
                    role="device",
                    site_id=site_id,
                    patient_id=patient_id,
                    resource_id=str(message_id),
                    client=header.sending_application[:64],
                    detail=f"{len(rows)} readings from monitor",
                ),
                now,
            )
            outcomes.append(StoreOutcome.stored())
        return outcomes
