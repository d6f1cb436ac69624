"""SQLAlchemy implementation of the session ↔ visit link
(:class:`~ketaclinic.services.chair_visit_ports.VisitLinkRepository`, table ``session_visit``).

It works inside its unit of work's connection and never commits. The link is inserted in a
savepoint, so a second link of the same session or visit becomes a :class:`Conflict` and the
surrounding transaction stays usable.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from ketaclinic.adapters.db import tables_visit_links as v
from ketaclinic.adapters.db.repositories import as_utc, utc
from ketaclinic.domain.errors import Conflict
from ketaclinic.services.chair_visit_ports import VisitLink


def _link(row: Any) -> VisitLink:
    return VisitLink(row.session_id, row.visit_id, utc(row.linked_at), as_utc(row.done_at))


class SqlVisitLinkRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def link(self, session_id: int, visit_id: int, at: dt.datetime) -> VisitLink:
        try:
            with self.conn.begin_nested():
                self.conn.execute(
                    v.session_visit.insert().values(
                        session_id=session_id, visit_id=visit_id, linked_at=utc(at)
                    )
                )
        except IntegrityError:
            raise Conflict(
                f"visit_id: session {session_id} or visit {visit_id} is already linked",
                field="visit_id",
            ) from None
        return VisitLink(session_id, visit_id, utc(at))

    def unlink(self, session_id: int) -> None:
        self.conn.execute(
            v.session_visit.delete().where(v.session_visit.c.session_id == session_id)
        )

    def for_session(self, session_id: int) -> VisitLink | None:
        row = self.conn.execute(
            sa.select(v.session_visit).where(v.session_visit.c.session_id == session_id)
        ).first()
        return _link(row) if row is not None else None

    def for_visits(self, visit_ids: Collection[int]) -> dict[int, VisitLink]:
        ids = sorted(set(visit_ids))
        if not ids:
            return {}
        rows = self.conn.execute(
            sa.select(v.session_visit).where(v.session_visit.c.visit_id.in_(ids))
        )
        return {row.visit_id: _link(row) for row in rows}

    def mark_done(self, session_id: int, at: dt.datetime) -> VisitLink | None:
        self.conn.execute(
            v.session_visit.update()
            .where(
                v.session_visit.c.session_id == session_id,
                v.session_visit.c.done_at.is_(None),
            )
            .values(done_at=utc(at))
        )
        return self.for_session(session_id)
