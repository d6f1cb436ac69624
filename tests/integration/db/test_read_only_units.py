"""A read-only unit of work reads one moment of the database and cannot write, on SQLite (a
deferred transaction in ``query_only`` mode) and on PostgreSQL (REPEATABLE READ, READ ONLY) —
so the director's chain check is not fooled by entries appended while it reads."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.exc import DBAPIError

from ketaclinic.adapters.db.uow import SqlUnitOfWorkFactory
from ketaclinic.domain.audit import AuditAction, AuditRecord
from ketaclinic.services import audit as audit_svc

T0 = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)


def append(factory: SqlUnitOfWorkFactory, n: int) -> None:
    with factory() as uow:
        uow.audit.append(AuditRecord(AuditAction.READ, "patient", resource_id=str(n)), T0)
        uow.commit()


def test_the_chain_check_holds_while_the_feed_appends_between_its_reads(
    factory: SqlUnitOfWorkFactory,
) -> None:
    for n in range(3):
        append(factory, n)
    with factory(readonly=True) as uow:
        log = uow.audit
        entries = log.entries

        def entries_after_a_concurrent_append(**kwargs: int) -> object:
            append(factory, 99)  # committed after the check read the head
            return entries(**kwargs)

        log.entries = entries_after_a_concurrent_append  # type: ignore[method-assign]
        report = audit_svc.verify(uow)
    assert report.ok, report.problem
    assert report.entries_checked == 3
    with factory(readonly=True) as uow:
        assert audit_svc.verify(uow).entries_checked == 4


def test_a_write_in_a_read_only_unit_is_refused_and_the_next_writer_is_not_affected(
    factory: SqlUnitOfWorkFactory,
) -> None:
    with factory(readonly=True) as uow:
        with pytest.raises(DBAPIError, match=r"(?i)read-?only"):
            uow.connection.exec_driver_sql(
                "INSERT INTO site (code, name, timezone) VALUES ('X', 'X', 'UTC')"
            )
        uow.rollback()
    # Every pooled connection, read-only before, writes again in an ordinary unit.
    units = [factory() for _ in range(3)]
    for n, uow in enumerate(units):
        with uow:
            uow.connection.exec_driver_sql(
                f"INSERT INTO site (code, name, timezone) VALUES ('W{n}', 'W', 'UTC')"
            )
            uow.commit()
    with factory(readonly=True) as uow:
        codes = uow.connection.exec_driver_sql("SELECT code FROM site ORDER BY code").scalars()
        assert list(codes) == ["W0", "W1", "W2"]
