"""Escalation notices of the chair's SQL storage (part of ``SqlChairRepository``): the outbox of
the e-mails about unacknowledged alerts.

Two guarantees hold across processes, on SQLite and PostgreSQL alike. A level is stored once:
``UNIQUE (alert_id, level)`` turns a second sweeper's insert into "already there". A notice is
sent by one process at a time: a claim is an ``UPDATE … WHERE`` the notice is still free, so of
two concurrent claims the second matches nothing (PostgreSQL re-checks the condition after the
first commits; SQLite runs one writer at a time).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from ketaclinic.adapters.db import tables_chair as c
from ketaclinic.adapters.db.repositories import as_utc, utc
from ketaclinic.services.chair_ports import EscalationNotice, NoticeState

_e = c.chair_alert_escalation
OUTCOME_MAX = 200


class ChairEscalationStore:
    """Mixed into ``SqlChairRepository``; works on its connection."""

    conn: Connection

    def add_escalation(self, notice: EscalationNotice) -> EscalationNotice | None:
        values = {
            "alert_id": notice.alert_id,
            "session_id": notice.session_id,
            "site_id": notice.site_id,
            "level": notice.level,
            "escalated_at": notice.escalated_at,
            "state": notice.state.value,
            "attempts": notice.attempts,
            "claimed_until": notice.claimed_until,
            "recipients": notice.recipients,
            "sent": notice.sent,
            "finished_at": notice.finished_at,
            "outcome": notice.outcome[:OUTCOME_MAX],
        }
        try:
            with self.conn.begin_nested():
                new_id = self.conn.execute(
                    _e.insert().values(**values).returning(_e.c.id)
                ).scalar_one()
        except IntegrityError:
            return None
        return EscalationNotice(**{**_fields(notice), "id": new_id})

    def claim_escalations(
        self, now: dt.datetime, until: dt.datetime, *, limit: int = 50
    ) -> list[EscalationNotice]:
        free = sa.and_(
            _e.c.state == NoticeState.PENDING.value,
            sa.or_(_e.c.claimed_until.is_(None), _e.c.claimed_until <= now),
        )
        candidates = (
            self.conn.execute(
                sa.select(_e.c.id).where(free).order_by(_e.c.escalated_at, _e.c.id).limit(limit)
            )
            .scalars()
            .all()
        )
        claimed: list[int] = []
        for notice_id in candidates:
            result = self.conn.execute(
                _e.update()
                .where(_e.c.id == notice_id, free)
                .values(claimed_until=until, attempts=_e.c.attempts + 1)
            )
            if result.rowcount == 1:
                claimed.append(notice_id)
        if not claimed:
            return []
        rows = self.conn.execute(
            sa.select(_e).where(_e.c.id.in_(claimed)).order_by(_e.c.escalated_at, _e.c.id)
        )
        return [_notice(row) for row in rows]

    def finish_escalation(
        self,
        notice_id: int,
        state: NoticeState,
        at: dt.datetime,
        *,
        recipients: int = 0,
        sent: int = 0,
        outcome: str = "",
        retry_at: dt.datetime | None = None,
    ) -> None:
        values: dict[str, Any] = {
            "state": state.value,
            "recipients": recipients,
            "sent": sent,
            "outcome": outcome[:OUTCOME_MAX],
        }
        if state is NoticeState.PENDING:
            values.update(claimed_until=retry_at, finished_at=None)
        else:
            values.update(claimed_until=None, finished_at=at)
        self.conn.execute(_e.update().where(_e.c.id == notice_id).values(**values))

    def escalations(self, session_ids: Collection[int]) -> list[EscalationNotice]:
        if not session_ids:
            return []
        rows = self.conn.execute(
            sa.select(_e)
            .where(_e.c.session_id.in_(sorted(set(session_ids))))
            .order_by(_e.c.escalated_at, _e.c.id)
        )
        return [_notice(row) for row in rows]


def _fields(notice: EscalationNotice) -> dict[str, Any]:
    return {name: getattr(notice, name) for name in EscalationNotice.__dataclass_fields__}


def _notice(row: Any) -> EscalationNotice:
    return EscalationNotice(
        id=row.id,
        alert_id=row.alert_id,
        session_id=row.session_id,
        site_id=row.site_id,
        level=row.level,
        escalated_at=utc(row.escalated_at),
        state=NoticeState(row.state),
        attempts=row.attempts,
        claimed_until=as_utc(row.claimed_until),
        recipients=row.recipients,
        sent=row.sent,
        finished_at=as_utc(row.finished_at),
        outcome=row.outcome,
    )
