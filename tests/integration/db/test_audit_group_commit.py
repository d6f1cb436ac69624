"""The audit entries of read-only units of work go through the engine's group commit
(adapters/db/audit_commit.py): written when the unit commits, dropped when it rolls back, many
readers' entries in one transaction, and the chain stays whole — on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path

import pytest

from ketaclinic.adapters.db import audit_commit
from ketaclinic.adapters.db.engine import make_engine
from ketaclinic.adapters.db.repositories import SqlAuditLog
from ketaclinic.adapters.db.uow import SqlUnitOfWorkFactory
from ketaclinic.domain.audit import AuditAction, AuditRecord
from ketaclinic.services import audit as audit_svc

T0 = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)


def read(n: int) -> AuditRecord:
    return AuditRecord(AuditAction.READ, "patient", resource_id=str(n))


def stored(factory: SqlUnitOfWorkFactory) -> list[str]:
    with factory() as uow:
        return [e.record.resource_id for e in uow.audit.entries()]


def test_a_read_only_unit_writes_its_entries_on_commit_and_drops_them_on_rollback(
    factory: SqlUnitOfWorkFactory,
) -> None:
    with factory(readonly=True) as uow:
        uow.audit.append(read(1), T0)
        assert stored(factory) == []  # nothing before the commit
        uow.commit()
        assert stored(factory) == ["1"]
        uow.audit.append(read(2), T0)
        uow.rollback()
        uow.audit.append(read(3), T0)
        uow.commit()
    with factory(readonly=True) as uow:
        uow.audit.append(read(4), T0)  # left without a commit
    assert stored(factory) == ["1", "3"]
    with factory() as uow:
        assert audit_svc.verify(uow).ok


def test_readers_waiting_behind_a_write_share_the_next_transaction(
    factory: SqlUnitOfWorkFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    group = audit_commit.group_commit_for(factory.engine)
    release = threading.Event()
    first_started = threading.Event()
    original = SqlAuditLog.append_many

    def slow_first(self: SqlAuditLog, items: list[object]) -> object:
        if not first_started.is_set():
            first_started.set()
            assert release.wait(10)
        return original(self, items)  # type: ignore[arg-type]

    monkeypatch.setattr(SqlAuditLog, "append_many", slow_first)
    errors: list[BaseException] = []

    def reader(n: int) -> None:
        try:
            with factory(readonly=True) as uow:
                uow.audit.append(read(n), T0)
                uow.commit()
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    before = group.batches
    leader = threading.Thread(target=reader, args=(1,))
    leader.start()
    assert first_started.wait(10)
    followers = [threading.Thread(target=reader, args=(n,)) for n in (2, 3, 4)]
    for thread in followers:
        thread.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # until all three wait behind the leader's write
        with group._lock:
            if len(group._waiting) == 3:
                break
        time.sleep(0.01)
    release.set()
    for thread in [leader, *followers]:
        thread.join(10)
    assert errors == []
    assert group.batches - before == 2  # the leader's, then one for all three followers
    assert sorted(stored(factory)) == ["1", "2", "3", "4"]
    with factory() as uow:
        assert audit_svc.verify(uow).ok


def test_many_readers_at_once_each_entry_lands_once_and_nobody_is_left_waiting(
    factory: SqlUnitOfWorkFactory,
) -> None:
    """Leadership passes from writer to writer (each woken by its own ticket): under a crowd of
    readers no entry is lost or doubled, no thread waits forever, the chain verifies."""
    errors: list[BaseException] = []

    def reader(k: int) -> None:
        try:
            for n in range(15):
                with factory(readonly=True) as uow:
                    uow.audit.append(read(k * 100 + n), T0)
                    uow.commit()
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=reader, args=(k,), daemon=True) for k in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    expected = sorted(str(k * 100 + n) for k in range(12) for n in range(15))
    assert sorted(stored(factory)) == expected
    with factory() as uow:
        assert audit_svc.verify(uow).ok


def test_a_failed_write_reaches_every_reader_of_its_batch(
    factory: SqlUnitOfWorkFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: SqlAuditLog, items: list[object]) -> object:
        raise OSError("disk full")

    monkeypatch.setattr(SqlAuditLog, "append_many", broken)
    with factory(readonly=True) as uow:
        uow.audit.append(read(1), T0)
        with pytest.raises(OSError, match="disk full"):
            uow.commit()
    monkeypatch.undo()
    assert stored(factory) == []


def test_a_write_in_a_read_only_unit_fails_at_once_on_sqlite(tmp_path: Path) -> None:
    """SQLite begins a read-only unit DEFERRED; a write slipped into one would race for the lock
    it never took. The connection is query_only there: the write fails at once, the next write
    unit on the same pooled connection works, and the read unit's audit entry still lands."""
    from sqlalchemy.exc import OperationalError

    from ketaclinic.adapters.db import migrate

    engine = make_engine(f"sqlite:///{tmp_path / 'ro.sqlite3'}")
    migrate.upgrade(engine)
    factory = SqlUnitOfWorkFactory(engine)
    with factory(readonly=True) as uow:
        uow.audit.append(read(1), T0)
        with pytest.raises(OperationalError, match="readonly"):
            uow.connection.exec_driver_sql(
                "INSERT INTO site (code, name, timezone) VALUES ('X', 'X', 'UTC')"
            )
        uow.rollback()
        uow.audit.append(read(2), T0)
        uow.commit()
    with factory() as uow:
        uow.connection.exec_driver_sql(
            "INSERT INTO site (code, name, timezone) VALUES ('Y', 'Y', 'UTC')"
        )
        uow.commit()
    with factory(readonly=True) as uow:
        assert uow.connection.exec_driver_sql("SELECT code FROM site").scalars().all() == ["Y"]
    assert stored(factory) == ["2"]
    engine.dispose()
