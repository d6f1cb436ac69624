"""A backup taken while the clinic keeps writing is one consistent snapshot (adapters/db/backup.py,
SQLite and PostgreSQL).

A writer thread registers patients (patient, body measurement, audit entry) and stores monitor
messages through the HL7 database sink (message, readings, session links, audit entry), one
transaction each, for as long as the backup runs. The backup's progress callback, called between
tables, makes sure writes land *during* the dump: it waits for the writer to commit more, and
commits writes of its own. The backup is then restored into a fresh database, which must hold
exactly the state of one moment: the audit chain verifies and is a prefix of the live one, every
patient the writer created has its creation entry and vice versa, every stored message has its
readings and its entry, no row's parent is missing, and nothing committed after the snapshot
began is there.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ketaclinic.adapters.db import backup as backup_mod
from ketaclinic.adapters.db import tables as t
from ketaclinic.adapters.db.engine import make_engine
from ketaclinic.adapters.db.monitor_sink import DatabaseSink
from ketaclinic.adapters.db.tables import metadata
from ketaclinic.adapters.db.uow import SqlUnitOfWorkFactory
from ketaclinic.adapters.hl7.parser import parse_oru
from ketaclinic.adapters.hl7.sink import StoreStatus
from ketaclinic.domain.people import NewPatient, Sex
from ketaclinic.services import audit as audit_svc
from ketaclinic.services import patients as patients_svc
from ketaclinic.services.audit import Actor
from ketaclinic.services.auth import principal_of

WRITER_APP = "BKWRITER"  # MSH-3 of the writer's monitor messages
HOOK_APP = "BKHOOK"  # MSH-3 of the messages the progress callback stores
MORE_WRITES_DURING_BACKUP = 3
WAIT_S = 120.0  # a bound on waiting for the writer, never reached unless writes are blocked
# DEMO-0001 is infusing on MIA-1 (readings attach to the session), DEMO-0009 has no session.
MONITORED = ("DEMO-0001", "DEMO-0009")


def oru(app: str, control_id: str, mrn: str) -> bytes:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S+0000")
    segments = [
        f"MSH|^~\\&|{app}|DEMO-MIA|KETACLINIC|DEMO|{stamp}||ORU^R01^ORU_R01|{control_id}|P|2.6",
        f"PID|1||{mrn}^^^DEMO^MR",
        "PV1|1|O|MIA-1",
        f"OBR|1|||85353-1^Vital signs^LN|||{stamp}",
        f"OBX|1|NM|147842^MDC_ECG_HEART_RATE^MDC||74|/min|||||F|||{stamp}",
        f"OBX|2|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC||97|%|||||F|||{stamp}",
    ]
    return "\r".join(segments).encode() + b"\r"


@dataclasses.dataclass
class Clinic:
    """The writes the test makes through the application's services."""

    demo: object
    actor: Actor
    site_id: int

    def register(self, mrn: str) -> None:
        new = NewPatient(self.site_id, mrn, "Backup", "Writer", dt.date(1980, 1, 2), Sex.FEMALE)
        with self.demo.uow() as uow:
            patients_svc.register_patient(
                uow, self.demo.clock, self.actor, new, weight_kg=70.0, height_cm=170.0
            )

    def monitor(self, app: str, control_id: str, mrn: str) -> None:
        outcome = DatabaseSink(self.demo.engine).store([parse_oru(oru(app, control_id, mrn))])
        assert [o.status for o in outcome] == [StoreStatus.STORED], outcome


class Writer(threading.Thread):
    """Alternately registers a patient and stores a monitor message until stopped."""

    def __init__(self, clinic: Clinic) -> None:
        super().__init__(daemon=True)
        self.clinic = clinic
        self.committed = 0
        self.error: BaseException | None = None
        self.stop = threading.Event()
        self.progress = threading.Condition()

    def run(self) -> None:
        n = 0
        try:
            while not self.stop.is_set():
                if n % 2 == 0:
                    self.clinic.register(f"BK-{n:05d}")
                else:
                    self.clinic.monitor(WRITER_APP, f"BK-{n:05d}", MONITORED[(n // 2) % 2])
                n += 1
                with self.progress:
                    self.committed = n
                    self.progress.notify_all()
        except BaseException as error:  # reported by the test
            self.error = error
            with self.progress:
                self.progress.notify_all()

    def wait_for(self, count: int) -> None:
        with self.progress:
            reached = self.progress.wait_for(
                lambda: self.committed >= count or self.error is not None, timeout=WAIT_S
            )
        assert self.error is None, self.error
        assert reached, f"the writer committed {self.committed} of {count} writes"


def count(engine: Engine, table: sa.Table, *where: sa.ColumnElement[bool]) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar()
        )


def orphans(conn: sa.Connection) -> list[str]:
    """Every foreign key whose child rows point at a parent that is not there."""
    found = []
    for table in metadata.sorted_tables:
        for fk in table.foreign_keys:
            child, parent = fk.parent, fk.column
            missing = conn.execute(
                sa.select(sa.func.count())
                .select_from(table)
                .where(
                    child.is_not(None),
                    ~sa.exists().where(parent == child),
                )
            ).scalar()
            if missing:
                found.append(f"{table.name}.{child.name} → {parent.table.name}: {missing}")
    return found


def test_a_backup_taken_during_writes_restores_one_consistent_moment(
    demo, provision_db: Callable[[str], str], tmp_path: Path
) -> None:
    with demo.uow() as uow:
        nurse = principal_of(uow.users.by_username("nurse.mia"))
        site = uow.sites.by_code("MIA")
    clinic = Clinic(demo, Actor(nurse, "203.0.113.9"), site.id)
    writer = Writer(clinic)
    writer.start()
    writer.wait_for(4)  # patients and messages exist before the backup starts

    hooked: list[str] = []

    def between_tables(table: str, _rows: int) -> None:
        # After the first table (the audit trail) and after the monitor messages, the clinic
        # commits more: the writer's next writes, and some of this callback's own.
        if table in ("audit_event", "monitor_message"):
            writer.wait_for(writer.committed + MORE_WRITES_DURING_BACKUP)
            clinic.register(f"BK-HOOK-{table}")
            clinic.monitor(HOOK_APP, f"HOOK-{table}", "DEMO-0001")
            hooked.append(table)

    backup_file = tmp_path / "during-writes.gz"
    try:
        counts = backup_mod.backup(demo.engine, backup_file, progress=between_tables)
        writer.wait_for(writer.committed + 1)  # still writing after the backup
    finally:
        writer.stop.set()
        writer.join(timeout=WAIT_S)
    assert writer.error is None, writer.error
    assert hooked == ["audit_event", "monitor_message"]

    # The live database holds the callback's writes …
    assert count(demo.engine, t.patient, t.patient.c.mrn.like("BK-HOOK-%")) == 2
    assert (
        count(demo.engine, t.monitor_message, t.monitor_message.c.sending_application == HOOK_APP)
        == 2
    )

    kind = "sqlite" if demo.engine.dialect.name == "sqlite" else "postgres"
    restored = make_engine(provision_db(kind))
    try:
        assert backup_mod.restore(restored, backup_file) == counts
        check_restored(restored, demo.engine, counts)
    finally:
        restored.dispose()


def check_restored(restored: Engine, live: Engine, counts: dict[str, int]) -> None:
    for name, expected in counts.items():
        assert count(restored, metadata.tables[name]) == expected, name

    # … the backup none of them: they committed after its snapshot began.
    assert count(restored, t.patient, t.patient.c.mrn.like("BK-HOOK-%")) == 0
    hook_messages = t.monitor_message.c.sending_application == HOOK_APP
    assert count(restored, t.monitor_message, hook_messages) == 0
    assert count(restored, t.audit_event, t.audit_event.c.client == HOOK_APP) == 0

    with SqlUnitOfWorkFactory(restored)() as uow:
        report = audit_svc.verify(uow)
        assert report.ok, report
        head = uow.audit.head()
    assert head is not None
    assert report.entries_checked == head[0] == counts["audit_event"]

    with restored.connect() as conn, live.connect() as live_conn:
        assert orphans(conn) == []
        # The restored trail is the live trail up to one point, entry for entry.
        ours = conn.execute(sa.select(t.audit_event.c.seq, t.audit_event.c.hash)).all()
        theirs = live_conn.execute(
            sa.select(t.audit_event.c.seq, t.audit_event.c.hash).where(
                t.audit_event.c.seq <= head[0]
            )
        ).all()
        assert sorted(ours) == sorted(theirs)

        # Patients the writer registered: a prefix of its sequence, each with its measurement
        # and its creation entry, and no creation entry without its patient.
        registered = dict(
            conn.execute(
                sa.select(t.patient.c.mrn, t.patient.c.id).where(t.patient.c.mrn.like("BK-%"))
            ).all()
        )
        assert registered, "the backup holds none of the writer's patients"
        numbers = sorted(int(mrn.removeprefix("BK-")) for mrn in registered)
        assert numbers == list(range(0, 2 * len(numbers), 2))
        created = conn.execute(
            sa.select(t.audit_event.c.patient_id).where(
                t.audit_event.c.action == "create",
                t.audit_event.c.resource == "patient",
                t.audit_event.c.client == "203.0.113.9",
            )
        ).scalars()
        assert sorted(created) == sorted(registered.values())
        measured = conn.execute(
            sa.select(t.body_measurement.c.patient_id, sa.func.count())
            .where(t.body_measurement.c.patient_id.in_(registered.values()))
            .group_by(t.body_measurement.c.patient_id)
        ).all()
        assert dict(measured) == dict.fromkeys(registered.values(), 1)

        # Monitor messages the writer stored: each with both readings and its audit entry, and
        # no entry without its message.
        messages = dict(
            conn.execute(
                sa.select(t.monitor_message.c.id, t.monitor_message.c.control_id).where(
                    t.monitor_message.c.sending_application == WRITER_APP
                )
            ).all()
        )
        assert messages, "the backup holds none of the writer's monitor messages"
        numbers = sorted(int(c.removeprefix("BK-")) for c in messages.values())
        assert numbers == list(range(1, 2 * len(numbers), 2))
        # Registrations and messages alternate, so the snapshot holds as many of one as of the
        # other, or one more registration.
        assert len(registered) - len(messages) in (0, 1)
        entries = conn.execute(
            sa.select(t.audit_event.c.resource_id).where(
                t.audit_event.c.resource == "vital_reading",
                t.audit_event.c.client == WRITER_APP,
            )
        ).scalars()
        assert sorted(entries) == sorted(str(i) for i in messages)
        readings = conn.execute(
            sa.select(t.vital_reading.c.monitor_message_id, sa.func.count())
            .where(t.vital_reading.c.monitor_message_id.in_(messages))
            .group_by(t.vital_reading.c.monitor_message_id)
        ).all()
        assert dict(readings) == dict.fromkeys(messages, 2)
