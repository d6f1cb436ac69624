"""The SQLAlchemy unit of work: one connection, one transaction, the repositories bound to it."""

from __future__ import annotations

from typing import Self

from sqlalchemy.engine import Connection, Engine

from ketaclinic.adapters.db.audit_commit import DeferredAuditLog, group_commit_for
from ketaclinic.adapters.db.engine import READONLY_KEY
from ketaclinic.adapters.db.repositories import (
    SqlAuditLog,
    SqlPatientRepository,
    SqlSiteRepository,
    SqlUserRepository,
)
from ketaclinic.adapters.db.repositories_chair import PROCESS_TOKEN, SqlChairRepository
from ketaclinic.adapters.db.repositories_dosing import SqlDosingRepository
from ketaclinic.adapters.db.repositories_intake import SqlIntakeRepository, SqlLeadRepository
from ketaclinic.adapters.db.repositories_intake_schedule import SqlScheduleRepository
from ketaclinic.adapters.db.repositories_interop import SqlRecordReader
from ketaclinic.adapters.db.repositories_mbc import (
    SqlContentPackRepository,
    SqlInfusionHistoryReader,
    SqlResponseRepository,
    SqlSafetyTaskRepository,
    SqlSelfReportLinkRepository,
    SqlSelfReportScheduleRepository,
)
from ketaclinic.adapters.db.repositories_settings import SqlClinicSettingRepository
from ketaclinic.adapters.db.repositories_visit_links import SqlVisitLinkRepository
from ketaclinic.adapters.db.repositories_visit_notices import SqlVisitNoticeRepository
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


class SqlUnitOfWork:
    """``with uow:`` begins a transaction; leaving the block without :meth:`commit` rolls back.

    Later capabilities add their repositories here, each bound to the same connection.
    """

    def __init__(self, engine: Engine, *, readonly: bool = False) -> None:
        self.engine = engine
        self.readonly = readonly
        self._conn: Connection | None = None

    def __enter__(self) -> Self:
        # The connection begins a transaction by itself on first use (SQLAlchemy autobegin), so
        # an idle unit of work holds no lock.
        conn = self.engine.connect()
        # Read-only units begin deferred on SQLite, so they do not queue for the write lock.
        conn.info[READONLY_KEY] = self.readonly
        self._conn = conn
        self.sites: SiteRepository = SqlSiteRepository(conn)
        self.users: UserRepository = SqlUserRepository(conn)
        self.patients: PatientRepository = SqlPatientRepository(conn)
        # A read-only unit's audit entries (the reads of health data) are written on commit by
        # the engine's group commit, outside its read transaction (adapters/db/audit_commit.py).
        self._deferred = (
            DeferredAuditLog(conn, group_commit_for(self.engine)) if self.readonly else None
        )
        self.audit: AuditLog = self._deferred or SqlAuditLog(conn)
        self.responses: ResponseRepository = SqlResponseRepository(conn)
        self.safety_tasks: SafetyTaskRepository = SqlSafetyTaskRepository(conn)
        self.content_packs: ContentPackRepository = SqlContentPackRepository(conn)
        self.self_report_links: SelfReportLinkRepository = SqlSelfReportLinkRepository(conn)
        self.self_report_schedules: SelfReportScheduleRepository = SqlSelfReportScheduleRepository(
            conn
        )
        self.infusion_history: InfusionHistoryReader = SqlInfusionHistoryReader(conn)
        self.leads: LeadRepository = SqlLeadRepository(conn)
        self.intake: IntakeRepository = SqlIntakeRepository(conn)
        self.schedule: ScheduleRepository = SqlScheduleRepository(conn)
        self.chair: ChairRepository = SqlChairRepository(conn, PROCESS_TOKEN)
        self.dosing: DosingRepository = SqlDosingRepository(conn)
        self.records: RecordReader = SqlRecordReader(conn)
        self.visit_links: VisitLinkRepository = SqlVisitLinkRepository(conn)
        self.clinic_settings: ClinicSettingRepository = SqlClinicSettingRepository(conn)
        self.visit_notices: VisitNoticeRepository = SqlVisitNoticeRepository(conn)
        return self

    @property
    def connection(self) -> Connection:
        if self._conn is None:
            raise RuntimeError("the unit of work is not open")
        return self._conn

    def __exit__(self, *exc: object) -> None:
        conn = self._conn
        self._conn = None
        if conn is None:
            return
        try:
            if conn.in_transaction():
                conn.rollback()
        finally:
            conn.close()

    def commit(self) -> None:
        self.connection.commit()
        if self._deferred is not None:
            self._deferred.flush()

    def rollback(self) -> None:
        self.connection.rollback()
        if self._deferred is not None:
            self._deferred.discard()


class SqlUnitOfWorkFactory:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __call__(self, *, readonly: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, readonly=readonly)
