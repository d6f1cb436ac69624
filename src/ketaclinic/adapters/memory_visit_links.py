"""In-memory implementation of :class:`~ketaclinic.services.chair_visit_ports.VisitLinkRepository`
(the session ↔ booked visit link), held to the SQL one's behaviour by the contract test."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from ketaclinic.domain.errors import Conflict
from ketaclinic.services.chair_visit_ports import VisitLink

if TYPE_CHECKING:
    from ketaclinic.adapters.memory import MemoryStore


@dataclass
class VisitLinkState:
    by_session: dict[int, VisitLink] = field(default_factory=dict)


class MemoryVisitLinkRepository:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    @property
    def _links(self) -> dict[int, VisitLink]:
        return self.store.visit_links.by_session

    def link(self, session_id: int, visit_id: int, at: dt.datetime) -> VisitLink:
        if session_id in self._links:
            raise Conflict(
                f"session_id: session {session_id} is already the infusion of a visit",
                field="session_id",
            )
        if any(link.visit_id == visit_id for link in self._links.values()):
            raise Conflict(
                f"visit_id: visit {visit_id} already has an infusion session", field="visit_id"
            )
        link = VisitLink(session_id, visit_id, at.astimezone(dt.UTC))
        self._links[session_id] = link
        return link

    def unlink(self, session_id: int) -> None:
        self._links.pop(session_id, None)

    def for_session(self, session_id: int) -> VisitLink | None:
        return self._links.get(session_id)

    def for_visits(self, visit_ids: Collection[int]) -> dict[int, VisitLink]:
        wanted = set(visit_ids)
        return {link.visit_id: link for link in self._links.values() if link.visit_id in wanted}

    def mark_done(self, session_id: int, at: dt.datetime) -> VisitLink | None:
        link = self._links.get(session_id)
        if link is None:
            return None
        if link.done_at is None:
            link = replace(link, done_at=at.astimezone(dt.UTC))
            self._links[session_id] = link
        return link
