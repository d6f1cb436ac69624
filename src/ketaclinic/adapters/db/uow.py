"""The SQLAlchemy unit of work: one connection, one transaction, the repositories bound to it."""

from __future__ import annotations

from typing import Self

from sqlalchemy.engine import Connection, Engine

from ketaclinic.adapters.db.engine import READONLY_KEY
from ketaclinic.adapters.db.repositories import (
    SqlAuditLog,
    SqlPatientRepository,
    SqlSiteRepository,
    SqlUserRepository,
)
from ketaclinic.services.ports import (
    AuditLog,
    PatientRepository,
    SiteRepository,
    UserRepository,
)


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
        self.audit: AuditLog = SqlAuditLog(conn)
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

    def rollback(self) -> None:
        self.connection.rollback()


class SqlUnitOfWorkFactory:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __call__(self, *, readonly: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, readonly=readonly)
