"""SQLAlchemy implementation of the visit notices
(:class:`~ketaclinic.services.visit_notice_ports.VisitNoticeRepository`, table
``visit_notice``).

It works inside its unit of work's connection and never commits. A claim is inserted in a
savepoint, so a second claim of the same visit and kind (another process's sweep) becomes a
:class:`Conflict` and the surrounding transaction stays usable. On PostgreSQL the second insert
waits for the first transaction and then fails on the unique constraint; on SQLite the write
lock orders them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from ketaclinic.adapters.db import tables_visit_notices as v
from ketaclinic.adapters.db.repositories import as_utc, utc
from ketaclinic.domain.errors import Conflict
from ketaclinic.services.visit_notice_ports import NoticeKind, NoticeOutcome, VisitNotice

_T = v.visit_notice


def _notice(row: Any) -> VisitNotice:
    return VisitNotice(
        id=row.id,
        visit_id=row.visit_id,
        kind=NoticeKind(row.kind),
        patient_id=row.patient_id,
        site_id=row.site_id,
        starts_at=utc(row.starts_at),
        outcome=NoticeOutcome(row.outcome),
        claimed_at=utc(row.claimed_at),
        finished_at=as_utc(row.finished_at),
    )


class SqlVisitNoticeRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def claim(
        self,
        *,
        visit_id: int,
        kind: NoticeKind,
        patient_id: int,
        site_id: int,
        starts_at: dt.datetime,
        at: dt.datetime,
        outcome: NoticeOutcome,
    ) -> VisitNotice:
        finished = None if outcome is NoticeOutcome.PENDING else utc(at)
        try:
            with self.conn.begin_nested():
                new_id = self.conn.execute(
                    _T.insert()
                    .values(
                        visit_id=visit_id,
                        kind=kind.value,
                        patient_id=patient_id,
                        site_id=site_id,
                        starts_at=utc(starts_at),
                        outcome=outcome.value,
                        claimed_at=utc(at),
                        finished_at=finished,
                    )
                    .returning(_T.c.id)
                ).scalar_one()
        except IntegrityError:
            raise Conflict(
                f"visit_id: visit {visit_id} already has its {kind.value}", field="visit_id"
            ) from None
        return VisitNotice(
            new_id, visit_id, kind, patient_id, site_id, utc(starts_at), outcome, utc(at), finished
        )

    def set_outcome(self, notice_id: int, outcome: NoticeOutcome, at: dt.datetime) -> None:
        self.conn.execute(
            _T.update()
            .where(_T.c.id == notice_id)
            .values(outcome=outcome.value, finished_at=utc(at))
        )

    def for_visits(self, visit_ids: Collection[int], kind: NoticeKind) -> dict[int, VisitNotice]:
        ids = sorted(set(visit_ids))
        if not ids:
            return {}
        rows = self.conn.execute(
            sa.select(_T).where(_T.c.visit_id.in_(ids), _T.c.kind == kind.value)
        )
        return {row.visit_id: _notice(row) for row in rows}

    def forget(self, visit_id: int, kind: NoticeKind) -> bool:
        result = self.conn.execute(
            _T.delete().where(_T.c.visit_id == visit_id, _T.c.kind == kind.value)
        )
        return bool(result.rowcount)
