"""A bulk export reads in read-only units of work: on SQLite it never holds the write lock while
it reads, so the monitor feed (and every other writer) commits at once in the middle of it,
and every exported patient's audit entry is still written."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

import pytest

from ketaclinic.adapters.db.repositories_interop import SqlRecordReader
from ketaclinic.adapters.fhir import ndjson
from ketaclinic.domain.audit import AuditAction
from ketaclinic.services import audit as audit_svc
from ketaclinic.services import interop


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_writer_that_will_not_wait_commits_while_the_export_reads(
    demo, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    database = demo.engine.url.database
    written: list[int] = []
    read = SqlRecordReader.records

    def read_then_write(self: SqlRecordReader, ids: Sequence[int]) -> object:
        found = read(self, ids)
        # A writer with no patience at all: "database is locked" if the export held the lock.
        writer = sqlite3.connect(database, timeout=0, isolation_level=None)
        try:
            writer.execute("BEGIN IMMEDIATE")
            writer.execute("UPDATE site SET phone = phone")
            writer.execute("COMMIT")
        finally:
            writer.close()
        written.append(len(ids))
        return found

    monkeypatch.setattr(SqlRecordReader, "records", read_then_write)
    counts = ndjson.export_site(
        demo.uow, demo.clock, interop.Operator("tester"), "MIA", tmp_path / "out", batch=2
    )
    assert len(written) >= 2  # several batches, a write in the middle of each
    with demo.uow(readonly=True) as uow:
        exported = [
            e
            for e in uow.audit.recent(2000)
            if e.record.action is AuditAction.EXPORT and e.record.detail == "bulk"
        ]
        assert len(exported) == counts["Patient"] == sum(written)
        assert audit_svc.verify(uow).ok
