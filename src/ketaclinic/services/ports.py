"""The ports the use cases depend on. Adapters implement them; ``bootstrap.py`` wires them.

Each port has an in-memory implementation (``adapters/memory.py``) and a SQLAlchemy one
(``adapters/db``); ``tests/integration/db/test_repository_contract.py`` runs one contract against
all of them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterator, Sequence
from typing import Protocol, Self

from ketaclinic.domain.audit import AuditEntry, AuditRecord
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
from ketaclinic.services.settings_ports import ClinicSettingRepository
from ketaclinic.services.visit_notice_ports import VisitNoticeRepository


class Clock(Protocol):
    def now(self) -> dt.datetime:
        """Timezone-aware current time (UTC)."""
        ...


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


class FixedClock:
    """A clock tests move by hand."""

    def __init__(self, at: dt.datetime) -> None:
        self.at = at

    def now(self) -> dt.datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at = self.at + dt.timedelta(**delta)


class Notifier(Protocol):
    def send(self, to: str, subject: str, body: str) -> None:
        """Deliver a message or raise; the body never carries more health data than needed."""
        ...


class SiteRepository(Protocol):
    def organisation_name(self) -> str: ...
    def set_organisation_name(self, name: str) -> None: ...
    def add(self, code: str, name: str, timezone: str, phone: str = "") -> Site: ...
    def get(self, site_id: int) -> Site | None: ...
    def set_phone(self, site_id: int, phone: str) -> Site: ...
    def by_code(self, code: str) -> Site | None: ...
    def all(self) -> list[Site]: ...
    def add_chair(self, site_id: int, code: str, name: str) -> Chair: ...
    def chairs(self, site_id: int, *, retired: bool = False) -> list[Chair]:
        """The site's chairs in service, by code; ``retired=True`` adds the retired ones (to
        name the chair of a past visit or session)."""
        ...

    def retire_chair(self, chair_id: int, at: dt.datetime) -> Chair: ...


class UserRepository(Protocol):
    def add(
        self,
        username: str,
        display_name: str,
        role: Role,
        site_ids: frozenset[int],
        password_hash: str,
        email: str = "",
    ) -> StaffUser: ...
    def get(self, user_id: int) -> StaffUser | None: ...
    def by_username(self, username: str) -> StaffUser | None: ...
    def all(self) -> list[StaffUser]: ...
    def password_hash(self, user_id: int) -> str: ...
    def set_password_hash(self, user_id: int, password_hash: str) -> None: ...
    def login_state(self, user_id: int) -> tuple[int, dt.datetime | None]:
        """(consecutive failures, locked until)."""
        ...

    def set_login_state(
        self, user_id: int, failures: int, locked_until: dt.datetime | None
    ) -> None: ...
    def add_token(
        self, jti: str, user_id: int, issued_at: dt.datetime, expires_at: dt.datetime
    ) -> None: ...
    def token_valid(self, jti: str, now: dt.datetime) -> bool: ...
    def revoke_token(self, jti: str, at: dt.datetime) -> None: ...


class PatientRepository(Protocol):
    def add(self, patient: NewPatient, at: dt.datetime) -> Patient:
        """Raises Conflict when the MRN exists in the organisation."""
        ...

    def get(self, patient_id: int) -> Patient | None: ...
    def get_many(self, patient_ids: Collection[int]) -> dict[int, Patient]:
        """The patients found among ``patient_ids``, by id (one query for a list or a board)."""
        ...

    def by_mrn(self, mrn: str) -> Patient | None: ...
    def search(
        self,
        site_ids: frozenset[int],
        *,
        mrn: str | None = None,
        query: str = "",
        limit: int = 100,
        offset: int = 0,
    ) -> list[Patient]: ...
    def count(self, site_ids: frozenset[int]) -> int: ...
    def set_preferred_language(self, patient_id: int, language: str) -> bool:
        """Change the patient's preferred language; false if there is no such patient."""
        ...

    def add_measurement(self, measurement: BodyMeasurement) -> BodyMeasurement: ...
    def measurements(self, patient_id: int) -> list[BodyMeasurement]:
        """Oldest first."""
        ...


class AuditLog(Protocol):
    def append(self, record: AuditRecord, at: dt.datetime) -> object:
        """Add an entry; it is kept when the unit of work commits (a read-only unit's entries
        may be written by a group commit, so what this returns is not to be relied on)."""
        ...

    def entries(self, *, after_seq: int = 0, batch: int = 5000) -> Iterator[AuditEntry]:
        """Every entry in sequence order, read in batches."""
        ...

    def head(self) -> tuple[int, str] | None: ...
    def for_patient(self, patient_id: int, limit: int = 500) -> list[AuditEntry]:
        """Newest first."""
        ...

    def recent(
        self, limit: int = 200, site_ids: frozenset[int] | None = None
    ) -> list[AuditEntry]: ...


class UnitOfWork(Protocol):
    """One transaction. ``with uow:`` opens it; leaving without :meth:`commit` rolls back."""

    sites: SiteRepository
    users: UserRepository
    patients: PatientRepository
    audit: AuditLog
    responses: ResponseRepository
    safety_tasks: SafetyTaskRepository
    content_packs: ContentPackRepository
    self_report_links: SelfReportLinkRepository
    self_report_schedules: SelfReportScheduleRepository
    infusion_history: InfusionHistoryReader
    leads: LeadRepository
    intake: IntakeRepository
    schedule: ScheduleRepository
    chair: ChairRepository
    dosing: DosingRepository
    records: RecordReader
    visit_links: VisitLinkRepository
    clinic_settings: ClinicSettingRepository
    visit_notices: VisitNoticeRepository

    def __enter__(self) -> Self: ...
    def __exit__(self, *exc: object) -> None: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self, *, readonly: bool = False) -> UnitOfWork:
        """A new unit of work; ``readonly`` promises it will not write (it may then share
        the database with writers more cheaply)."""
        ...


def sorted_measurements(items: Sequence[BodyMeasurement]) -> list[BodyMeasurement]:
    return sorted(items, key=lambda m: (m.measured_at, m.id or 0))
