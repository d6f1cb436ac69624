"""Building engines for SQLite (the embedded default) and PostgreSQL.

SQLite runs in WAL mode with a busy timeout, foreign keys on, and every transaction started with
``BEGIN IMMEDIATE``: nearly every transaction writes (reads of health data append to the audit
trail), and taking the write lock up front avoids lock-upgrade failures under concurrency. A
unit of work declared read-only (sign-in checks, menus, pages and API reads) begins DEFERRED
instead, with the connection in ``query_only`` mode: a write slipped into it fails at once and
by name, rather than racing for the lock it did not take (SQLITE_BUSY under load).

PostgreSQL runs a read-only unit as a ``REPEATABLE READ, READ ONLY`` transaction: every query of
a page sees the database at one moment (the director's chain check reads the head and then the
entries, which the monitor feed appends to all the while), and a write slipped into it fails by
name, as on SQLite. Other transactions are READ COMMITTED.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine

SQLITE_BUSY_TIMEOUT_MS = 30_000
# Connections kept open per engine. The web server runs sync handlers on up to 40 threads
# (anyio's default); an overflow connection is closed as soon as it is returned, so a pool
# smaller than the usual concurrency opens and closes a connection per request under load.
# A SQLite connection is a file handle; a PostgreSQL one is a server process (two app
# processes and the HL7 listener stay well under the default max_connections of 100).
SQLITE_POOL_SIZE = 32
POSTGRES_POOL_SIZE = 20
# Set on a connection's ``info`` by a read-only unit of work: its transaction begins DEFERRED.
READONLY_KEY = "ketaclinic.readonly"
# Whether the SQLite connection is in ``PRAGMA query_only`` now (switched only on a change).
_QUERY_ONLY_KEY = "ketaclinic.query_only"
# Whether the PostgreSQL connection begins REPEATABLE READ, READ ONLY now (switched on a change).
_SNAPSHOT_KEY = "ketaclinic.snapshot"
# synchronous=FULL: an acknowledged commit survives a power cut, not only a process crash.


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` and use the psycopg 3 driver for them."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(url: str, *, echo: bool = False) -> Engine:
    url = normalise_url(url)
    if is_sqlite(url):
        database = sa.engine.make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url,
            echo=echo,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            pool_size=SQLITE_POOL_SIZE,
            max_overflow=8,
        )
        _configure_sqlite(engine)
    else:
        engine = sa.create_engine(
            url, echo=echo, pool_size=POSTGRES_POOL_SIZE, max_overflow=10, pool_pre_ping=True
        )
        _configure_postgres(engine)

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        # Back in the pool as an ordinary connection: whoever takes it next without a unit of
        # work (a migration, a backup, a test's own statements) begins a write transaction.
        record.info.pop(READONLY_KEY, None)

    return engine


def _configure_postgres(engine: Engine) -> None:
    import psycopg  # here, so that SQLite alone never loads libpq

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        readonly = connection.info.get(READONLY_KEY, False)
        if connection.info.get(_SNAPSHOT_KEY, False) == readonly:
            return
        # psycopg puts both in the BEGIN it sends with the first statement: no round trip,
        # unless the pool's liveness check already opened a transaction, which ends first.
        raw = connection.connection.driver_connection
        if raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            raw.rollback()
        raw.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ if readonly else None
        raw.read_only = readonly or None
        connection.info[_SNAPSHOT_KEY] = readonly


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        readonly = connection.info.get(READONLY_KEY, False)
        if connection.info.get(_QUERY_ONLY_KEY, False) != readonly:
            connection.exec_driver_sql(f"PRAGMA query_only={int(readonly)}")
            connection.info[_QUERY_ONLY_KEY] = readonly
        connection.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")
