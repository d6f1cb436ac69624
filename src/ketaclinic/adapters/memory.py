"""In-memory implementations of the ports: real behaviour, no database.

Used by unit tests of the services and by the repository contract tests, which hold them to
the same behaviour as the SQL implementations. A unit of work snapshots the store on entry and
restores it unless committed, so rollback semantics match the databases.
"""

from __future__ import annotations

import copy
import datetime as dt
import threading
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field, replace
from typing import Self

from ketaclinic.adapters.memory_chair import ChairState, MemoryChairRepository
from ketaclinic.adapters.memory_dosing import DosingState, MemoryDosingRepository
from ketaclinic.adapters.memory_intake import (
    IntakeState,
    MemoryIntakeRepository,
    MemoryLeadRepository,
    MemoryScheduleRepository,
)
from ketaclinic.adapters.memory_interop import ExtraSections, MemoryRecordReader
from ketaclinic.adapters.memory_mbc import (
    MbcState,
    MemoryContentPackRepository,
    MemoryInfusionHistory,
    MemoryLinkRepository,
    MemoryResponseRepository,
    MemorySafetyTaskRepository,
    MemorySelfReportScheduleRepository,
)
from ketaclinic.adapters.memory_settings import MemoryClinicSettingRepository, SettingsState
from ketaclinic.adapters.memory_visit_links import MemoryVisitLinkRepository, VisitLinkState
from ketaclinic.adapters.memory_visit_notices import MemoryVisitNoticeRepository, VisitNoticeState
from ketaclinic.domain.audit import GENESIS, AuditEntry, AuditRecord, seal
from ketaclinic.domain.errors import Conflict, NotFound
from ketaclinic.domain.people import (
    BodyMeasurement,
    Chair,
    NewPatient,
    Patient,
    Role,
    Site,
    StaffUser,
)
from ketaclinic.services.chair_ports import ChairRepository
from ketaclinic.services.chair_visit_ports import VisitLinkRepository
from ketaclinic.services.dosing_ports import DosingRepository
from ketaclinic.services.intake_ports import (
    IntakeRepository,
    LeadRepository,
    ScheduleRepository,
)
from ketaclinic.services.interop_ports import RecordReader
from ketaclinic.services.mbc_ports import (
    ContentPackRepository,
    InfusionHistoryReader,
    ResponseRepository,
    SafetyTaskRepository,
    SelfReportLinkRepository,
    SelfReportScheduleRepository,
)
from ketaclinic.services.ports import (
    AuditLog,
    PatientRepository,
    SiteRepository,
    UserRepository,
)
from ketaclinic.services.settings_ports import ClinicSettingRepository
from ketaclinic.services.visit_notice_ports import VisitNoticeRepository


@dataclass
class _UserRow:
    user: StaffUser
    password_hash: str
    failures: int = 0
    locked_until: dt.datetime | None = None


@dataclass
class _Token:
    user_id: int
    issued_at: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None = None


@dataclass
class MemoryStore:
    organisation: str = ""
    sites: dict[int, Site] = field(default_factory=dict)
    chairs: dict[int, Chair] = field(default_factory=dict)
    users: dict[int, _UserRow] = field(default_factory=dict)
    tokens: dict[str, _Token] = field(default_factory=dict)
    patients: dict[int, Patient] = field(default_factory=dict)
    measurements: list[BodyMeasurement] = field(default_factory=list)
    audit: list[AuditEntry] = field(default_factory=list)
    mbc: MbcState = field(default_factory=MbcState)
    intake: IntakeState = field(default_factory=IntakeState)
    chair_state: ChairState = field(default_factory=ChairState)
    dosing: DosingState = field(default_factory=DosingState)
    interop: ExtraSections = field(default_factory=ExtraSections)
    visit_links: VisitLinkState = field(default_factory=VisitLinkState)
    clinic_settings: SettingsState = field(default_factory=SettingsState)
    visit_notices: VisitNoticeState = field(default_factory=VisitNoticeState)
    next_id: int = 1
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def new_id(self) -> int:
        value = self.next_id
        self.next_id += 1
        return value

    def __deepcopy__(self, memo: dict[int, object]) -> MemoryStore:
        return MemoryStore(
            organisation=self.organisation,
            sites=dict(self.sites),
            chairs=dict(self.chairs),
            users={k: copy.copy(v) for k, v in self.users.items()},
            tokens={k: copy.copy(v) for k, v in self.tokens.items()},
            patients=dict(self.patients),
            measurements=list(self.measurements),
            audit=list(self.audit),
            mbc=copy.deepcopy(self.mbc),
            intake=copy.deepcopy(self.intake),
            chair_state=copy.deepcopy(self.chair_state),
            dosing=copy.deepcopy(self.dosing),
            visit_links=copy.deepcopy(self.visit_links),
            clinic_settings=copy.deepcopy(self.clinic_settings),
            visit_notices=copy.deepcopy(self.visit_notices),
            next_id=self.next_id,
        )


class MemorySiteRepository:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def organisation_name(self) -> str:
        return self.store.organisation

    def set_organisation_name(self, name: str) -> None:
        self.store.organisation = name

    def add(self, code: str, name: str, timezone: str, phone: str = "") -> Site:
        if self.by_code(code) is not None:
            raise Conflict(f"site code {code!r} already exists", field="code")
        site = Site(self.store.new_id(), code, name, timezone, phone)
        self.store.sites[site.id] = site
        return site

    def set_phone(self, site_id: int, phone: str) -> Site:
        site = self.store.sites.get(site_id)
        if site is None:
            raise NotFound(f"site {site_id} not found", field="site")
        self.store.sites[site_id] = replace(site, phone=phone)
        return self.store.sites[site_id]

    def get(self, site_id: int) -> Site | None:
        return self.store.sites.get(site_id)

    def by_code(self, code: str) -> Site | None:
        return next((s for s in self.store.sites.values() if s.code == code), None)

    def all(self) -> list[Site]:
        return sorted(self.store.sites.values(), key=lambda s: s.code)

    def add_chair(self, site_id: int, code: str, name: str) -> Chair:
        if any(c.code == code for c in self.store.chairs.values()):
            raise Conflict(f"chair code {code!r} already exists", field="code")
        chair = Chair(self.store.new_id(), site_id, code, name)
        self.store.chairs[chair.id] = chair
        return chair

    def chairs(self, site_id: int, *, retired: bool = False) -> list[Chair]:
        return sorted(
            (
                c
                for c in self.store.chairs.values()
                if c.site_id == site_id and (retired or c.in_service)
            ),
            key=lambda c: c.code,
        )

    def retire_chair(self, chair_id: int, at: dt.datetime) -> Chair:
        chair = self.store.chairs.get(chair_id)
        if chair is None or not chair.in_service:
            raise NotFound(f"chair {chair_id} is not in service")
        self.store.chairs[chair_id] = replace(chair, retired_at=at)
        return self.store.chairs[chair_id]


class MemoryUserRepository:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

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
        user = StaffUser(self.store.new_id(), username, display_name, role, site_ids, True, email)
        self.store.users[user.id] = _UserRow(user, password_hash)
        return user

    def get(self, user_id: int) -> StaffUser | None:
        row = self.store.users.get(user_id)
        return row.user if row else None

    def by_username(self, username: str) -> StaffUser | None:
        return next(
            (r.user for r in self.store.users.values() if r.user.username == username), None
        )

    def all(self) -> list[StaffUser]:
        return sorted((r.user for r in self.store.users.values()), key=lambda u: u.username)

    def password_hash(self, user_id: int) -> str:
        return self.store.users[user_id].password_hash

    def set_password_hash(self, user_id: int, password_hash: str) -> None:
        self.store.users[user_id].password_hash = password_hash

    def login_state(self, user_id: int) -> tuple[int, dt.datetime | None]:
        row = self.store.users[user_id]
        return row.failures, row.locked_until

    def set_login_state(
        self, user_id: int, failures: int, locked_until: dt.datetime | None
    ) -> None:
        row = self.store.users[user_id]
        row.failures, row.locked_until = failures, locked_until

    def add_token(
        self, jti: str, user_id: int, issued_at: dt.datetime, expires_at: dt.datetime
    ) -> None:
        self.store.tokens[jti] = _Token(user_id, issued_at, expires_at)

    def token_valid(self, jti: str, now: dt.datetime) -> bool:
        token = self.store.tokens.get(jti)
        return token is not None and token.revoked_at is None and token.expires_at > now

    def revoke_token(self, jti: str, at: dt.datetime) -> None:
        if jti in self.store.tokens:
            self.store.tokens[jti].revoked_at = at


class MemoryPatientRepository:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def add(self, patient: NewPatient, at: dt.datetime) -> Patient:
        if self.by_mrn(patient.mrn) is not None:
            raise Conflict(f"mrn: {patient.mrn!r} is already registered", field="mrn")
        stored = Patient(
            id=self.store.new_id(),
            site_id=patient.site_id,
            mrn=patient.mrn,
            given_name=patient.given_name,
            family_name=patient.family_name,
            birth_date=patient.birth_date,
            sex=patient.sex,
            email=patient.email,
            phone=patient.phone,
            preferred_language=patient.preferred_language,
            created_at=at,
        )
        self.store.patients[stored.id] = stored
        return stored

    def get(self, patient_id: int) -> Patient | None:
        return self.store.patients.get(patient_id)

    def get_many(self, patient_ids: Collection[int]) -> dict[int, Patient]:
        found = (self.store.patients.get(patient_id) for patient_id in set(patient_ids))
        return {patient.id: patient for patient in found if patient is not None}

    def by_mrn(self, mrn: str) -> Patient | None:
        return next((p for p in self.store.patients.values() if p.mrn == mrn), None)

    def search(
        self,
        site_ids: frozenset[int],
        *,
        mrn: str | None = None,
        query: str = "",
        limit: int = 100,
        offset: int = 0,
    ) -> list[Patient]:
        needle = query.lower()
        found = [
            p
            for p in self.store.patients.values()
            if p.site_id in site_ids
            and (mrn is None or p.mrn == mrn)
            and (
                not needle
                or needle in p.family_name.lower()
                or needle in p.given_name.lower()
                or needle in p.mrn.lower()
            )
        ]
        found.sort(key=lambda p: (p.family_name, p.given_name, p.id))
        return found[offset : offset + limit]

    def count(self, site_ids: frozenset[int]) -> int:
        return sum(1 for p in self.store.patients.values() if p.site_id in site_ids)

    def set_preferred_language(self, patient_id: int, language: str) -> bool:
        found = self.store.patients.get(patient_id)
        if found is None:
            return False
        self.store.patients[patient_id] = replace(found, preferred_language=language)
        return True

    def add_measurement(self, measurement: BodyMeasurement) -> BodyMeasurement:
        stored = replace(measurement, id=self.store.new_id())
        self.store.measurements.append(stored)
        return stored

    def measurements(self, patient_id: int) -> list[BodyMeasurement]:
        return sorted(
            (m for m in self.store.measurements if m.patient_id == patient_id),
            key=lambda m: (m.measured_at, m.id or 0),
        )


class MemoryAuditLog:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def append(self, record: AuditRecord, at: dt.datetime) -> AuditEntry:
        last = self.store.audit[-1] if self.store.audit else None
        entry = seal(last.hash if last else GENESIS, (last.seq if last else 0) + 1, at, record)
        self.store.audit.append(entry)
        return entry

    def entries(self, *, after_seq: int = 0, batch: int = 5000) -> Iterator[AuditEntry]:
        del batch
        yield from (e for e in list(self.store.audit) if e.seq > after_seq)

    def head(self) -> tuple[int, str] | None:
        last = self.store.audit[-1] if self.store.audit else None
        return (last.seq, last.hash) if last else None

    def for_patient(self, patient_id: int, limit: int = 500) -> list[AuditEntry]:
        found = [e for e in reversed(self.store.audit) if e.record.patient_id == patient_id]
        return found[:limit]

    def recent(self, limit: int = 200, site_ids: frozenset[int] | None = None) -> list[AuditEntry]:
        found = [
            e
            for e in reversed(self.store.audit)
            if site_ids is None or e.record.site_id is None or e.record.site_id in site_ids
        ]
        return found[:limit]


class MemoryUnitOfWork:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self._snapshot: MemoryStore | None = None

    def __enter__(self) -> Self:
        self.store.lock.acquire()
        self._snapshot = copy.deepcopy(self.store)
        self.sites: SiteRepository = MemorySiteRepository(self.store)
        self.users: UserRepository = MemoryUserRepository(self.store)
        self.patients: PatientRepository = MemoryPatientRepository(self.store)
        self.audit: AuditLog = MemoryAuditLog(self.store)
        self.responses: ResponseRepository = MemoryResponseRepository(self.store)
        self.safety_tasks: SafetyTaskRepository = MemorySafetyTaskRepository(self.store)
        self.content_packs: ContentPackRepository = MemoryContentPackRepository(self.store)
        self.self_report_links: SelfReportLinkRepository = MemoryLinkRepository(self.store)
        self.self_report_schedules: SelfReportScheduleRepository = (
            MemorySelfReportScheduleRepository(self.store)
        )
        self.infusion_history: InfusionHistoryReader = MemoryInfusionHistory(self.store)
        self.leads: LeadRepository = MemoryLeadRepository(self.store)
        self.intake: IntakeRepository = MemoryIntakeRepository(self.store)
        self.schedule: ScheduleRepository = MemoryScheduleRepository(self.store)
        self.chair: ChairRepository = MemoryChairRepository(self.store)
        self.dosing: DosingRepository = MemoryDosingRepository(self.store)
        self.records: RecordReader = MemoryRecordReader(self.store)
        self.visit_links: VisitLinkRepository = MemoryVisitLinkRepository(self.store)
        self.clinic_settings: ClinicSettingRepository = MemoryClinicSettingRepository(self.store)
        self.visit_notices: VisitNoticeRepository = MemoryVisitNoticeRepository(self.store)
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.rollback()
        finally:
            self._snapshot = None
            self.store.lock.release()

    def commit(self) -> None:
        self._snapshot = copy.deepcopy(self.store)

    def rollback(self) -> None:
        snap = self._snapshot
        if snap is None:
            return
        for name in (
            "organisation",
            "sites",
            "chairs",
            "users",
            "tokens",
            "patients",
            "measurements",
            "audit",
            "mbc",
            "intake",
            "chair_state",
            "dosing",
            "visit_links",
            "clinic_settings",
            "visit_notices",
            "next_id",
        ):
            setattr(self.store, name, copy.copy(getattr(snap, name)))
        self._snapshot = copy.deepcopy(self.store)


class MemoryUnitOfWorkFactory:
    def __init__(self, store: MemoryStore | None = None) -> None:
        self.store = store or MemoryStore()

    def __call__(self, *, readonly: bool = False) -> MemoryUnitOfWork:
        del readonly  # the fake serialises every unit anyway
        return MemoryUnitOfWork(self.store)
