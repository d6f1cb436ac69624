"""SQLAlchemy implementations of the repository ports (services/ports.py).

Each repository works inside the connection of its unit of work; it never commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ketaclinic.adapters.db import tables as t
from ketaclinic.domain.audit import (
    GENESIS,
    AuditAction,
    AuditEntry,
    AuditOutcome,
    AuditRecord,
    seal,
)
from ketaclinic.domain.errors import Conflict, NotFound
from ketaclinic.domain.people import (
    BodyMeasurement,
    Chair,
    NewPatient,
    Patient,
    Role,
    Sex,
    Site,
    StaffUser,
)


def as_utc(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite returns naive datetimes; everything we store is UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def utc(value: dt.datetime) -> dt.datetime:
    result = as_utc(value)
    assert result is not None
    return result


def sqlite_time(value: dt.datetime) -> str:
    """A time as the text SQLAlchemy stores a UTC ``DateTime`` as in SQLite (which sorts as
    time does), for statements sent as driver SQL."""
    return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


# The lookups nearly every request makes (its caller's token and account, the patient and site
# it concerns), built once: building a statement and its cache key anew costs SQLAlchemy more
# than running such a lookup does.
_SITE_BY_ID = sa.select(t.site).where(t.site.c.id == sa.bindparam("id"))
_USER_BY_ID = sa.select(t.staff_user).where(t.staff_user.c.id == sa.bindparam("id"))
_USER_SITES = sa.select(t.user_site.c.site_id).where(t.user_site.c.user_id == sa.bindparam("id"))
_TOKEN = sa.select(t.api_token.c.expires_at, t.api_token.c.revoked_at).where(
    t.api_token.c.jti == sa.bindparam("jti")
)
_PATIENT_BY_ID = sa.select(t.patient).where(t.patient.c.id == sa.bindparam("id"))
_MEASUREMENTS = (
    sa.select(t.body_measurement)
    .where(t.body_measurement.c.patient_id == sa.bindparam("patient"))
    .order_by(t.body_measurement.c.measured_at, t.body_measurement.c.id)
)


def site_row(row: Any) -> Site:
    return Site(row.id, row.code, row.name, row.timezone, row.phone)


class SqlSiteRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def organisation_name(self) -> str:
        name = self.conn.execute(sa.select(t.organisation.c.name).limit(1)).scalar()
        return name or ""

    def set_organisation_name(self, name: str) -> None:
        if self.conn.execute(sa.select(t.organisation.c.id)).first() is None:
            self.conn.execute(t.organisation.insert().values(id=1, name=name))
        else:
            self.conn.execute(t.organisation.update().values(name=name))

    def add(self, code: str, name: str, timezone: str, phone: str = "") -> Site:
        if self.by_code(code) is not None:
            raise Conflict(f"site code {code!r} already exists", field="code")
        new_id = self.conn.execute(
            t.site.insert()
            .values(code=code, name=name, timezone=timezone, phone=phone)
            .returning(t.site.c.id)
        ).scalar_one()
        return Site(new_id, code, name, timezone, phone)

    def get(self, site_id: int) -> Site | None:
        row = self.conn.execute(_SITE_BY_ID, {"id": site_id}).first()
        return site_row(row) if row else None

    def by_code(self, code: str) -> Site | None:
        row = self.conn.execute(sa.select(t.site).where(t.site.c.code == code)).first()
        return site_row(row) if row else None

    def all(self) -> list[Site]:
        rows = self.conn.execute(sa.select(t.site).order_by(t.site.c.code))
        return [site_row(r) for r in rows]

    def set_phone(self, site_id: int, phone: str) -> Site:
        self.conn.execute(t.site.update().where(t.site.c.id == site_id).values(phone=phone))
        site = self.get(site_id)
        if site is None:
            raise NotFound(f"site {site_id} not found", field="site")
        return site

    def add_chair(self, site_id: int, code: str, name: str) -> Chair:
        exists = self.conn.execute(sa.select(t.chair.c.id).where(t.chair.c.code == code)).first()
        if exists is not None:
            raise Conflict(f"chair code {code!r} already exists", field="code")
        new_id = self.conn.execute(
            t.chair.insert().values(site_id=site_id, code=code, name=name).returning(t.chair.c.id)
        ).scalar_one()
        return Chair(new_id, site_id, code, name)

    def chairs(self, site_id: int, *, retired: bool = False) -> list[Chair]:
        query = sa.select(t.chair).where(t.chair.c.site_id == site_id)
        if not retired:
            query = query.where(t.chair.c.retired_at.is_(None))
        rows = self.conn.execute(query.order_by(t.chair.c.code))
        return [Chair(r.id, r.site_id, r.code, r.name, as_utc(r.retired_at)) for r in rows]

    def retire_chair(self, chair_id: int, at: dt.datetime) -> Chair:
        row = self.conn.execute(
            t.chair.update()
            .where(t.chair.c.id == chair_id, t.chair.c.retired_at.is_(None))
            .values(retired_at=at)
            .returning(t.chair)
        ).first()
        if row is None:
            raise NotFound(f"chair {chair_id} is not in service")
        return Chair(row.id, row.site_id, row.code, row.name, utc(row.retired_at))


class SqlUserRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def _user(self, row: Any) -> StaffUser:
        site_ids = frozenset(self.conn.execute(_USER_SITES, {"id": row.id}).scalars())
        return StaffUser(
            id=row.id,
            username=row.username,
            display_name=row.display_name,
            role=Role(row.role),
            site_ids=site_ids,
            active=bool(row.active),
            email=row.email,
        )

    def add(
        self,
        username: str,
        display_name: str,
        role: Role,
        site_ids: frozenset[int],
        password_hash: str,
        email: str = "",
    ) -> StaffUser:
        if self.by_username(username) is not None:
            raise Conflict(f"username {username!r} already exists", field="username")
        new_id = self.conn.execute(
            t.staff_user.insert()
            .values(
                username=username,
                display_name=display_name,
                role=role.value,
                password_hash=password_hash,
                email=email,
            )
            .returning(t.staff_user.c.id)
        ).scalar_one()
        for site_id in sorted(site_ids):
            self.conn.execute(t.user_site.insert().values(user_id=new_id, site_id=site_id))
        return StaffUser(new_id, username, display_name, role, site_ids, True, email)

    def get(self, user_id: int) -> StaffUser | None:
        row = self.conn.execute(_USER_BY_ID, {"id": user_id}).first()
        return self._user(row) if row else None

    def by_username(self, username: str) -> StaffUser | None:
        row = self.conn.execute(
            sa.select(t.staff_user).where(t.staff_user.c.username == username)
        ).first()
        return self._user(row) if row else None

    def all(self) -> list[StaffUser]:
        rows = self.conn.execute(sa.select(t.staff_user).order_by(t.staff_user.c.username)).all()
        return [self._user(r) for r in rows]

    def password_hash(self, user_id: int) -> str:
        value: str = self.conn.execute(
            sa.select(t.staff_user.c.password_hash).where(t.staff_user.c.id == user_id)
        ).scalar_one()
        return value

    def set_password_hash(self, user_id: int, password_hash: str) -> None:
        self.conn.execute(
            t.staff_user.update()
            .where(t.staff_user.c.id == user_id)
            .values(password_hash=password_hash)
        )

    def login_state(self, user_id: int) -> tuple[int, dt.datetime | None]:
        row = self.conn.execute(
            sa.select(t.staff_user.c.failed_logins, t.staff_user.c.locked_until).where(
                t.staff_user.c.id == user_id
            )
        ).one()
        return int(row.failed_logins), as_utc(row.locked_until)

    def set_login_state(
        self, user_id: int, failures: int, locked_until: dt.datetime | None
    ) -> None:
        self.conn.execute(
            t.staff_user.update()
            .where(t.staff_user.c.id == user_id)
            .values(failed_logins=failures, locked_until=locked_until)
        )

    def add_token(
        self, jti: str, user_id: int, issued_at: dt.datetime, expires_at: dt.datetime
    ) -> None:
        self.conn.execute(
            t.api_token.insert().values(
                jti=jti, user_id=user_id, issued_at=issued_at, expires_at=expires_at
            )
        )

    def token_valid(self, jti: str, now: dt.datetime) -> bool:
        row = self.conn.execute(_TOKEN, {"jti": jti}).first()
        if row is None or row.revoked_at is not None:
            return False
        return utc(row.expires_at) > now

    def revoke_token(self, jti: str, at: dt.datetime) -> None:
        self.conn.execute(
            t.api_token.update().where(t.api_token.c.jti == jti).values(revoked_at=at)
        )


def _patient(row: Any) -> Patient:
    return Patient(
        id=row.id,
        site_id=row.site_id,
        mrn=row.mrn,
        given_name=row.given_name,
        family_name=row.family_name,
        birth_date=row.birth_date,
        sex=Sex(row.sex),
        email=row.email,
        phone=row.phone,
        preferred_language=row.preferred_language,
        created_at=as_utc(row.created_at),
    )


class SqlPatientRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, patient: NewPatient, at: dt.datetime) -> Patient:
        if self.by_mrn(patient.mrn) is not None:
            raise Conflict(f"mrn: {patient.mrn!r} is already registered", field="mrn")
        values = {
            "site_id": patient.site_id,
            "mrn": patient.mrn,
            "given_name": patient.given_name,
            "family_name": patient.family_name,
            "birth_date": patient.birth_date,
            "sex": patient.sex.value,
            "email": patient.email,
            "phone": patient.phone,
            "preferred_language": patient.preferred_language,
            "created_at": at,
        }
        new_id = self.conn.execute(
            t.patient.insert().values(**values).returning(t.patient.c.id)
        ).scalar_one()
        found = self.get(new_id)
        assert found is not None
        return found

    def get(self, patient_id: int) -> Patient | None:
        row = self.conn.execute(_PATIENT_BY_ID, {"id": patient_id}).first()
        return _patient(row) if row else None

    def get_many(self, patient_ids: Collection[int]) -> dict[int, Patient]:
        if not patient_ids:
            return {}
        rows = self.conn.execute(
            sa.select(t.patient).where(t.patient.c.id.in_(sorted(set(patient_ids))))
        )
        return {row.id: _patient(row) for row in rows}

    def by_mrn(self, mrn: str) -> Patient | None:
        row = self.conn.execute(sa.select(t.patient).where(t.patient.c.mrn == mrn)).first()
        return _patient(row) if row else None

    def search(
        self,
        site_ids: frozenset[int],
        *,
        mrn: str | None = None,
        query: str = "",
        limit: int = 100,
        offset: int = 0,
    ) -> list[Patient]:
        stmt = sa.select(t.patient).where(t.patient.c.site_id.in_(sorted(site_ids)))
        if mrn is not None:
            stmt = stmt.where(t.patient.c.mrn == mrn)
        if query:
            like = f"%{query.lower()}%"
            stmt = stmt.where(
                sa.or_(
                    sa.func.lower(t.patient.c.family_name).like(like),
                    sa.func.lower(t.patient.c.given_name).like(like),
                    sa.func.lower(t.patient.c.mrn).like(like),
                )
            )
        stmt = stmt.order_by(t.patient.c.family_name, t.patient.c.given_name, t.patient.c.id)
        rows = self.conn.execute(stmt.limit(limit).offset(offset))
        return [_patient(r) for r in rows]

    def count(self, site_ids: frozenset[int]) -> int:
        value: int = self.conn.execute(
            sa.select(sa.func.count())
            .select_from(t.patient)
            .where(t.patient.c.site_id.in_(sorted(site_ids)))
        ).scalar_one()
        return value

    def set_preferred_language(self, patient_id: int, language: str) -> bool:
        changed = self.conn.execute(
            t.patient.update()
            .where(t.patient.c.id == patient_id)
            .values(preferred_language=language)
        )
        return bool(changed.rowcount)

    def add_measurement(self, measurement: BodyMeasurement) -> BodyMeasurement:
        new_id = self.conn.execute(
            t.body_measurement.insert()
            .values(
                patient_id=measurement.patient_id,
                measured_at=measurement.measured_at,
                weight_kg=measurement.weight_kg,
                height_cm=measurement.height_cm,
                recorded_by=measurement.recorded_by,
                note=measurement.note,
            )
            .returning(t.body_measurement.c.id)
        ).scalar_one()
        return BodyMeasurement(
            patient_id=measurement.patient_id,
            measured_at=measurement.measured_at,
            weight_kg=measurement.weight_kg,
            height_cm=measurement.height_cm,
            recorded_by=measurement.recorded_by,
            id=new_id,
            note=measurement.note,
        )

    def measurements(self, patient_id: int) -> list[BodyMeasurement]:
        rows = self.conn.execute(_MEASUREMENTS, {"patient": patient_id})
        return [
            BodyMeasurement(
                patient_id=r.patient_id,
                measured_at=utc(r.measured_at),
                weight_kg=r.weight_kg,
                height_cm=r.height_cm,
                recorded_by=r.recorded_by,
                id=r.id,
                note=r.note,
            )
            for r in rows
        ]


def _entry(row: Any) -> AuditEntry:
    return AuditEntry(
        seq=row.seq,
        at=utc(row.at),
        record=AuditRecord(
            action=AuditAction(row.action),
            resource=row.resource,
            outcome=AuditOutcome(row.outcome),
            user_id=row.user_id,
            username=row.username,
            role=row.role,
            site_id=row.site_id,
            patient_id=row.patient_id,
            resource_id=row.resource_id,
            client=row.client,
            detail=row.detail,
        ),
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


_AUDIT_COLUMNS = (
    "seq",
    "at",
    "action",
    "resource",
    "outcome",
    "user_id",
    "username",
    "role",
    "site_id",
    "patient_id",
    "resource_id",
    "client",
    "detail",
    "prev_hash",
    "hash",
)
_SQLITE_AUDIT_HEAD = "SELECT seq, hash FROM audit_head WHERE id = 1"
_SQLITE_AUDIT_INSERT = (
    f"INSERT INTO audit_event ({', '.join(_AUDIT_COLUMNS)})"  # noqa: S608 (constants only)
    f" VALUES ({', '.join('?' for _ in _AUDIT_COLUMNS)})"
)
_SQLITE_AUDIT_HEAD_NEW = "INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?)"
_SQLITE_AUDIT_HEAD_MOVE = "UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1"


def _seal_all(head: Any, items: Sequence[tuple[AuditRecord, dt.datetime]]) -> list[AuditEntry]:
    """``items`` sealed in order onto the chain whose head row is ``head`` (None: empty)."""
    seq, prev_hash = (head.seq, head.hash) if head else (0, GENESIS)
    entries: list[AuditEntry] = []
    for record, at in items:
        entry = seal(prev_hash, seq + 1, at.astimezone(dt.UTC), record)
        seq, prev_hash = entry.seq, entry.hash
        entries.append(entry)
    return entries


def _audit_values(e: AuditEntry) -> list[Any]:
    """An entry's column values, in the order of _AUDIT_COLUMNS."""
    r = e.record
    return [
        e.seq,
        e.at,
        r.action.value,
        r.resource,
        r.outcome.value,
        r.user_id,
        r.username,
        r.role,
        r.site_id,
        r.patient_id,
        r.resource_id,
        r.client,
        r.detail,
        e.prev_hash,
        e.hash,
    ]


class SqlAuditLog:
    """Appends lock the single chain-head row, so appends from several processes serialise and
    the chain stays linear. On SQLite the transaction already holds the write lock."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def append(self, record: AuditRecord, at: dt.datetime) -> AuditEntry:
        return self.append_many([(record, at)])[0]

    def append_many(self, items: Sequence[tuple[AuditRecord, dt.datetime]]) -> list[AuditEntry]:
        """Append entries in order, in three statements however many there are: the head row
        locked, each entry sealed on the previous one's hash, the head moved last."""
        if not items:
            return []
        if self.conn.dialect.name == "sqlite":
            return self._append_sqlite(items)
        head = self.conn.execute(
            sa.select(t.audit_head.c.seq, t.audit_head.c.hash)
            .where(t.audit_head.c.id == 1)
            .with_for_update()
        ).first()
        entries = _seal_all(head, items)
        self.conn.execute(
            t.audit_event.insert(),
            [dict(zip(_AUDIT_COLUMNS, _audit_values(e), strict=True)) for e in entries],
        )
        seq, last = entries[-1].seq, entries[-1].hash
        if head is None:
            self.conn.execute(t.audit_head.insert().values(id=1, seq=seq, hash=last))
        else:
            self.conn.execute(
                t.audit_head.update().where(t.audit_head.c.id == 1).values(seq=seq, hash=last)
            )
        return entries

    def _append_sqlite(self, items: Sequence[tuple[AuditRecord, dt.datetime]]) -> list[AuditEntry]:
        """SQLite: the same three statements as driver SQL, the time already in the text
        SQLAlchemy stores it as. Every chart view and monitor batch appends here, and
        SQLAlchemy's processing of each row's values cost more than SQLite's insert; the
        transaction already holds the write lock (BEGIN IMMEDIATE), so no row lock is needed."""
        head = self.conn.exec_driver_sql(_SQLITE_AUDIT_HEAD).first()
        entries = _seal_all(head, items)
        rows = [_audit_values(e) for e in entries]
        for row in rows:
            row[1] = sqlite_time(row[1])
        self.conn.exec_driver_sql(_SQLITE_AUDIT_INSERT, [tuple(row) for row in rows])
        seq, last = entries[-1].seq, entries[-1].hash
        if head is None:
            self.conn.exec_driver_sql(_SQLITE_AUDIT_HEAD_NEW, (seq, last))
        else:
            self.conn.exec_driver_sql(_SQLITE_AUDIT_HEAD_MOVE, (seq, last))
        return entries

    def entries(self, *, after_seq: int = 0, batch: int = 5000) -> Iterator[AuditEntry]:
        last = after_seq
        while True:
            rows = self.conn.execute(
                sa.select(t.audit_event)
                .where(t.audit_event.c.seq > last)
                .order_by(t.audit_event.c.seq)
                .limit(batch)
            ).all()
            if not rows:
                return
            for row in rows:
                yield _entry(row)
            last = rows[-1].seq

    def head(self) -> tuple[int, str] | None:
        row = self.conn.execute(
            sa.select(t.audit_head.c.seq, t.audit_head.c.hash).where(t.audit_head.c.id == 1)
        ).first()
        return (int(row.seq), str(row.hash)) if row else None

    def for_patient(self, patient_id: int, limit: int = 500) -> list[AuditEntry]:
        rows = self.conn.execute(
            sa.select(t.audit_event)
            .where(t.audit_event.c.patient_id == patient_id)
            .order_by(t.audit_event.c.seq.desc())
            .limit(limit)
        )
        return [_entry(r) for r in rows]

    def recent(self, limit: int = 200, site_ids: frozenset[int] | None = None) -> list[AuditEntry]:
        stmt = sa.select(t.audit_event)
        if site_ids is not None:
            stmt = stmt.where(
                sa.or_(
                    t.audit_event.c.site_id.in_(sorted(site_ids)), t.audit_event.c.site_id.is_(None)
                )
            )
        rows = self.conn.execute(stmt.order_by(t.audit_event.c.seq.desc()).limit(limit))
        return [_entry(r) for r in rows]
