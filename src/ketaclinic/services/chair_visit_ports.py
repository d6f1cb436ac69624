"""The link between an infusion session and the booked visit it fulfils: where the chair and the
schedule of intake meet.

:class:`VisitLinkRepository` is ``uow.visit_links``. The SQL implementation is
``adapters/db/repositories_visit_links.py`` (table ``session_visit``), the in-memory fake
``adapters/memory_visit_links.py``; ``tests/integration/chair/test_visit_link_contract.py``
holds both to the same behaviour. A session fulfils at most one visit and a visit is fulfilled by
at most one session. Times are timezone-aware UTC.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class VisitLink:
    """Session ``session_id`` is the infusion of booked visit ``visit_id`` since ``linked_at``;
    ``done_at`` is when the visit was marked done (the infusion completed, or the patient was
    discharged), ``None`` while it is not."""

    session_id: int
    visit_id: int
    linked_at: dt.datetime
    done_at: dt.datetime | None = None

    @property
    def done(self) -> bool:
        return self.done_at is not None


class VisitLinkRepository(Protocol):
    """Works inside its unit of work and never commits."""

    def link(self, session_id: int, visit_id: int, at: dt.datetime) -> VisitLink:
        """Link a session to a visit. Raises Conflict when either is already linked."""
        ...

    def unlink(self, session_id: int) -> None:
        """Remove the session's link; nothing happens when it has none."""
        ...

    def for_session(self, session_id: int) -> VisitLink | None: ...

    def for_visits(self, visit_ids: Collection[int]) -> dict[int, VisitLink]:
        """Visit id → its link, for those of ``visit_ids`` that have one."""
        ...

    def mark_done(self, session_id: int, at: dt.datetime) -> VisitLink | None:
        """Mark the session's visit done at ``at``; a visit already done keeps its first time.
        Returns the link as stored (``None`` when the session has no visit)."""
        ...
