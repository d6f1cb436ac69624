"""The reminder before each booked visit: a sweep that e-mails every visit starting within the
lead time (default 24 hours) once.

:func:`send_reminders` is ``ketaclinic visits send-reminders`` and runs in the background
sweeper of every ``serve`` and ``hl7 listen`` process (adapters/chair_sweeper.py). For each
visit on the schedule that starts after now and at most ``lead`` from now, and has no reminder
yet, it

- claims the visit's reminder in storage (``visit_notice``, unique on visit and kind): of two
  sweeps at once, in one process or several, the second claim is refused by the database, so
  the reminder goes out once;
- commits the claim, then e-mails the patient in their language (services/visit_mail.py) and
  records the outcome: ``sent``, ``failed`` (logged by error type; never retried, as the mail
  server may have taken it), or ``no_email`` (claimed without sending: the patient has no
  address).

A cancelled visit has left the schedule and gets no reminder. A moved visit is reminded before
its new time. While mail is off the sweep claims nothing, so turning mail on later still
reminds the visits ahead. Each visit is its own transaction: one failure never undoes another.
Results carry ids only.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from ketaclinic.domain.audit import AuditAction
from ketaclinic.domain.errors import Conflict, InvalidInput
from ketaclinic.services import mbc_safety
from ketaclinic.services.audit import SYSTEM, record
from ketaclinic.services.intake_models import Visit
from ketaclinic.services.ports import Clock, Notifier, UnitOfWork, UnitOfWorkFactory
from ketaclinic.services.visit_confirmations import MailOutcome, place_of, send_mail
from ketaclinic.services.visit_mail import reminder
from ketaclinic.services.visit_notice_ports import (
    DEFAULT_REMINDER_LEAD,
    MAX_REMINDER_LEAD,
    MIN_REMINDER_LEAD,
    NoticeKind,
    NoticeOutcome,
)

log = logging.getLogger("ketaclinic.visits")

_OUTCOMES = {
    MailOutcome.SENT: NoticeOutcome.SENT,
    MailOutcome.FAILED: NoticeOutcome.FAILED,
    MailOutcome.NO_EMAIL: NoticeOutcome.NO_EMAIL,
}


def check_lead(lead: dt.timedelta, field: str = "lead_hours") -> dt.timedelta:
    """``lead`` if it is between 1 hour and 7 days, else :class:`InvalidInput` naming ``field``."""
    if not MIN_REMINDER_LEAD <= lead <= MAX_REMINDER_LEAD:
        hours = lead.total_seconds() / 3600
        raise InvalidInput.for_field(
            field,
            f"{hours:g}",
            f"{MIN_REMINDER_LEAD.total_seconds() / 3600:g}–"
            f"{MAX_REMINDER_LEAD.total_seconds() / 3600:g} hours",
        )
    return lead


@dataclass(frozen=True, slots=True)
class ReminderItem:
    """One visit the sweep acted on (ids only: this goes to logs and ``--json``)."""

    visit_id: int
    patient_id: int
    site_id: int
    starts_at: dt.datetime
    outcome: NoticeOutcome

    def as_dict(self) -> dict[str, Any]:
        return {
            "visit_id": self.visit_id,
            "patient_id": self.patient_id,
            "site_id": self.site_id,
            "starts_at": self.starts_at.isoformat(),
            "outcome": self.outcome.value,
        }


@dataclass(frozen=True, slots=True)
class ReminderSweep:
    """What one sweep did: when, the lead time, whether mail is on, how many visits fall within
    the lead time (reminded before or now), and the visits reminded now."""

    at: dt.datetime
    lead: dt.timedelta
    mail_on: bool
    visits_due: int
    items: tuple[ReminderItem, ...]

    def count(self, outcome: NoticeOutcome) -> int:
        return sum(1 for item in self.items if item.outcome is outcome)

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "lead_hours": self.lead.total_seconds() / 3600,
            "mail": "on" if self.mail_on else "off",
            "visits_due": self.visits_due,
            "reminded": len(self.items),
            "by_outcome": {
                o.value: self.count(o)
                for o in (NoticeOutcome.SENT, NoticeOutcome.NO_EMAIL, NoticeOutcome.FAILED)
            },
            "items": [item.as_dict() for item in self.items],
        }


def _due(uow: UnitOfWork, now: dt.datetime, lead: dt.timedelta) -> list[Visit]:
    """Visits on the schedule starting after ``now`` and at most ``lead`` later, every site."""
    found: list[Visit] = []
    for site in uow.sites.all():
        found += [
            v
            for v in uow.schedule.visits_between(site.id, now, now + lead)
            if now < v.starts_at <= now + lead
        ]
    return found


def send_reminders(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    notifier: Notifier,
    *,
    lead: dt.timedelta = DEFAULT_REMINDER_LEAD,
) -> ReminderSweep:
    """Remind every visit starting within ``lead`` (1 hour – 7 days) that has had no reminder
    (see the module docstring). Running it again at once sends nothing more. Raises
    :class:`InvalidInput` for a lead out of bounds."""
    check_lead(lead)
    now = clock.now()
    if not mbc_safety.delivers(notifier):
        return ReminderSweep(now, lead, False, 0, ())
    with uow_factory(readonly=True) as uow:
        due = _due(uow, now, lead)
        done = uow.visit_notices.for_visits([v.id for v in due], NoticeKind.REMINDER)
    items: list[ReminderItem] = []
    for visit in due:
        if visit.id in done:
            continue
        with uow_factory() as uow:
            outcome = _remind(uow, clock, notifier, visit)
        if outcome is not None:
            items.append(
                ReminderItem(visit.id, visit.patient_id, visit.site_id, visit.starts_at, outcome)
            )
    result = ReminderSweep(now, lead, True, len(due), tuple(items))
    if items:
        log.info(
            "visit reminders sent",
            extra={
                "visits_due": result.visits_due,
                **{f"outcome_{o.value}": result.count(o) for o in NoticeOutcome if result.count(o)},
            },
        )
    return result


def _still_booked(uow: UnitOfWork, visit: Visit) -> bool:
    """Whether ``visit`` is on the schedule still, at the time the sweep saw (it may have been
    cancelled or moved since)."""
    return any(
        v.id == visit.id and v.starts_at == visit.starts_at
        for v in uow.schedule.patient_visits(visit.patient_id)
    )


def _remind(
    uow: UnitOfWork, clock: Clock, notifier: Notifier, visit: Visit
) -> NoticeOutcome | None:
    """Claim and send ``visit``'s reminder; ``None`` if another sweep claimed it first or the
    visit changed since it was seen (the next sweep looks again)."""
    patient = uow.patients.get(visit.patient_id)
    if patient is None:
        return None
    # Under the site's booking lock, a cancellation or a move cannot slip in between the check
    # and the claim.
    uow.schedule.lock_site(visit.site_id)
    if not _still_booked(uow, visit):
        uow.rollback()
        return None
    now = clock.now()
    first = NoticeOutcome.PENDING if patient.email else NoticeOutcome.NO_EMAIL
    try:
        notice = uow.visit_notices.claim(
            visit_id=visit.id,
            kind=NoticeKind.REMINDER,
            patient_id=patient.id,
            site_id=visit.site_id,
            starts_at=visit.starts_at,
            at=now,
            outcome=first,
        )
    except Conflict:
        uow.rollback()
        return None
    mail = reminder(place_of(uow, visit.site_id), patient.preferred_language, visit.starts_at)
    record(
        uow,
        clock,
        SYSTEM,
        AuditAction.CREATE,
        "visit_mail",
        site_id=visit.site_id,
        patient_id=patient.id,
        resource_id=visit.id,
        detail=f"reminder ({mail.language}): {first.value}",
    )
    uow.commit()
    if first is NoticeOutcome.NO_EMAIL:
        return first
    # Sent after the claim is committed: a process that stops in between leaves it pending and
    # nothing is ever sent twice.
    sent = send_mail(notifier, patient, mail, ref=visit.id)
    outcome = _OUTCOMES.get(sent, NoticeOutcome.FAILED)
    uow.visit_notices.set_outcome(notice.id, outcome, clock.now())
    uow.commit()
    return outcome
