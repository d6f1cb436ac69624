"""The record of the e-mails a booked visit has had: what the reminder sweep claims so that a
visit is reminded once, however many processes sweep at once.

:class:`VisitNoticeRepository` is ``uow.visit_notices``. The SQL implementation is
``adapters/db/repositories_visit_notices.py`` (table ``visit_notice``, migration
``intake_0003_visit_notices``), the in-memory fake ``adapters/memory_visit_notices.py``;
``tests/integration/intake/test_visit_reminders.py`` holds both to the same behaviour. A visit has
at most one notice of each kind (a unique constraint on visit and kind on the databases): the
first claim wins and every later one is a :class:`~ketaclinic.domain.errors.Conflict`. Times are
timezone-aware UTC. Repositories never commit; the unit of work does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

DEFAULT_REMINDER_LEAD = dt.timedelta(hours=24)
"""How long before a visit its reminder goes out, unless the clinic sets
``KETACLINIC_VISIT_REMINDER_LEAD_H`` (docs/intake.md): the day before, at about the visit's time
of day."""
MIN_REMINDER_LEAD = dt.timedelta(hours=1)
MAX_REMINDER_LEAD = dt.timedelta(days=7)


class NoticeKind(StrEnum):
    """What a notice is about. One kind today; the column leaves room for others (a text message,
    a second reminder) without a migration."""

    REMINDER = "reminder"


class NoticeOutcome(StrEnum):
    """What became of a notice.

    - ``pending``: claimed, the e-mail not sent yet (a process that stopped between the claim
      and the send leaves it so: nothing is sent twice, so it is never retried);
    - ``sent``: the mail server took the e-mail;
    - ``no_email``: the patient has no e-mail address on file, nothing was sent;
    - ``failed``: the mail server refused or could not be reached (logged by error type);
    - ``confirmation``: the e-mail confirming the booking or the move went out within the
      reminder's lead time and carried this visit, so it stands in for the reminder.
    """

    PENDING = "pending"
    SENT = "sent"
    NO_EMAIL = "no_email"
    FAILED = "failed"
    CONFIRMATION = "confirmation"


@dataclass(frozen=True, slots=True)
class VisitNotice:
    """Visit ``visit_id`` (of ``patient_id`` at ``site_id``, starting ``starts_at`` when the
    notice was claimed) had a notice of ``kind``, claimed at ``claimed_at``; ``finished_at`` is
    when its outcome was settled (``None`` while pending)."""

    id: int
    visit_id: int
    kind: NoticeKind
    patient_id: int
    site_id: int
    starts_at: dt.datetime
    outcome: NoticeOutcome
    claimed_at: dt.datetime
    finished_at: dt.datetime | None = None


class VisitNoticeRepository(Protocol):
    """Works inside its unit of work and never commits."""

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
        """Record that the visit has (or is about to have) its notice of ``kind``. Raises
        Conflict when it already has one; the surrounding transaction stays usable."""
        ...

    def set_outcome(self, notice_id: int, outcome: NoticeOutcome, at: dt.datetime) -> None:
        """Settle a notice's outcome at ``at``."""
        ...

    def for_visits(self, visit_ids: Collection[int], kind: NoticeKind) -> dict[int, VisitNotice]:
        """Visit id → its notice of ``kind``, for those of ``visit_ids`` that have one."""
        ...

    def forget(self, visit_id: int, kind: NoticeKind) -> bool:
        """Drop the visit's notice of ``kind`` (a moved visit is reminded again, before its new
        time); returns whether there was one."""
        ...
