"""In-memory implementation of
:class:`~ketaclinic.services.visit_notice_ports.VisitNoticeRepository` (what e-mails a booked
visit has had), held to the SQL one's behaviour by the contract test."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from ketaclinic.domain.errors import Conflict
from ketaclinic.services.visit_notice_ports import NoticeKind, NoticeOutcome, VisitNotice

if TYPE_CHECKING:
    from ketaclinic.adapters.memory import MemoryStore


@dataclass
class VisitNoticeState:
    by_key: dict[tuple[int, NoticeKind], VisitNotice] = field(default_factory=dict)


class MemoryVisitNoticeRepository:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    @property
    def _notices(self) -> dict[tuple[int, NoticeKind], VisitNotice]:
        return self.store.visit_notices.by_key

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
        if (visit_id, kind) in self._notices:
            raise Conflict(
                f"visit_id: visit {visit_id} already has its {kind.value}", field="visit_id"
            )
        at = at.astimezone(dt.UTC)
        notice = VisitNotice(
            id=self.store.new_id(),
            visit_id=visit_id,
            kind=kind,
            patient_id=patient_id,
            site_id=site_id,
            starts_at=starts_at.astimezone(dt.UTC),
            outcome=outcome,
            claimed_at=at,
            finished_at=None if outcome is NoticeOutcome.PENDING else at,
        )
        self._notices[(visit_id, kind)] = notice
        return notice

    def set_outcome(self, notice_id: int, outcome: NoticeOutcome, at: dt.datetime) -> None:
        for key, notice in self._notices.items():
            if notice.id == notice_id:
                self._notices[key] = replace(
                    notice, outcome=outcome, finished_at=at.astimezone(dt.UTC)
                )
                return

    def for_visits(self, visit_ids: Collection[int], kind: NoticeKind) -> dict[int, VisitNotice]:
        wanted = set(visit_ids)
        return {
            n.visit_id: n
            for (visit_id, k), n in self._notices.items()
            if k is kind and visit_id in wanted
        }

    def forget(self, visit_id: int, kind: NoticeKind) -> bool:
        return self._notices.pop((visit_id, kind), None) is not None
