"""E-mailing the patient when their visits are booked, moved or cancelled.

The staff pages and the API call :func:`confirm_booked`, :func:`confirm_moved` or
:func:`confirm_cancelled` right after the change is committed
(:mod:`ketaclinic.services.intake_schedule`). Each writes the e-mail in the patient's preferred
language (:mod:`ketaclinic.services.visit_mail`) and sends it through the notifier, and answers
with a :class:`Confirmation` whose :attr:`~Confirmation.message` the page or the API shows staff:
sent, not sent because the patient has no e-mail address on file, mail not set up, or the mail
server refused. The change itself stands whatever happens to the e-mail.

**Who gets one.** The patient's e-mail address is the channel they gave the clinic to be written
to (the patient record has no separate contact consent; an inquiry that became the patient's
record was only kept with the visitor's consent to be contacted). No address, no e-mail.

**The reminder.** A visit that starts within the reminder's lead time of a confirmation that was
sent gets no separate reminder: the confirmation stands in for it (claimed as the visit's
reminder, outcome ``confirmation``), so the patient does not get two e-mails about one visit
minutes apart. A visit that is moved is reminded again before its new time
(:func:`~ketaclinic.services.intake_schedule.reschedule_visit` drops the old reminder).

Logs carry ids and the error type only; the audit trail records each e-mail sent or tried
(resource ``visit_mail``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from ketaclinic.domain.audit import AuditAction
from ketaclinic.domain.errors import Conflict
from ketaclinic.domain.people import Patient
from ketaclinic.services import mbc_safety
from ketaclinic.services.audit import Actor, record
from ketaclinic.services.intake_models import Series, Visit
from ketaclinic.services.ports import Clock, Notifier, UnitOfWork
from ketaclinic.services.visit_mail import Mail, Place, booked, cancelled, moved
from ketaclinic.services.visit_notice_ports import (
    DEFAULT_REMINDER_LEAD,
    NoticeKind,
    NoticeOutcome,
)

log = logging.getLogger("ketaclinic.visits")


class MailOutcome(StrEnum):
    SENT = "sent"
    NO_EMAIL = "no_email"
    MAIL_OFF = "mail_off"
    FAILED = "failed"


NOTICES = {
    MailOutcome.SENT: "confirmation e-mailed to the patient",
    MailOutcome.NO_EMAIL: "the patient has no e-mail address on file: no confirmation was sent",
    MailOutcome.MAIL_OFF: "e-mail is not set up at this clinic: no confirmation was sent",
    MailOutcome.FAILED: "the confirmation e-mail could not be delivered (see the log)",
}
"""What staff read about a confirmation (staff pages are English)."""


@dataclass(frozen=True, slots=True)
class Confirmation:
    """What became of one confirmation e-mail."""

    kind: str
    outcome: MailOutcome

    @property
    def sent(self) -> bool:
        return self.outcome is MailOutcome.SENT

    @property
    def message(self) -> str:
        return NOTICES[self.outcome]


def place_of(uow: UnitOfWork, site_id: int) -> Place:
    """The clinic's and the site's names, the site's time zone and phone, as the e-mails give
    them."""
    site = uow.sites.get(site_id)
    return Place(
        clinic=uow.sites.organisation_name(),
        site=site.name if site is not None else "",
        timezone=site.timezone if site is not None else "UTC",
        phone=site.phone if site is not None else "",
    )


def send_mail(notifier: Notifier, patient: Patient, mail: Mail, *, ref: int) -> MailOutcome:
    """Send ``mail`` to the patient's address; never raises. A failure is logged with the
    patient's id, ``ref`` (the series' or visit's id), the kind and the error type only. Call it
    outside any transaction: the mail server may take seconds to answer."""
    if not patient.email:
        return MailOutcome.NO_EMAIL
    if not mbc_safety.delivers(notifier):
        return MailOutcome.MAIL_OFF
    try:
        notifier.send(patient.email, mail.subject, mail.body)
    except Exception as error:  # any delivery failure: the booking stands, staff are told
        log.error(
            "visit e-mail failed",
            extra={
                "patient_id": patient.id,
                "ref": ref,
                "kind": mail.kind.value,
                "error_type": type(error).__name__,
            },
        )
        return MailOutcome.FAILED
    return MailOutcome.SENT


def _upcoming(uow: UnitOfWork, patient_id: int, now: dt.datetime) -> list[dt.datetime]:
    return [v.starts_at for v in uow.schedule.patient_visits(patient_id) if v.starts_at > now]


def _stand_in(
    uow: UnitOfWork, now: dt.datetime, visits: Sequence[Visit], lead: dt.timedelta
) -> None:
    """Claim the reminder of each of ``visits`` starting within ``lead`` of ``now``: the
    confirmation just sent told the patient about it. A reminder already claimed (the sweep got
    there first) stays as it is."""
    for visit in visits:
        if not now < visit.starts_at <= now + lead:
            continue
        try:
            uow.visit_notices.claim(
                visit_id=visit.id,
                kind=NoticeKind.REMINDER,
                patient_id=visit.patient_id,
                site_id=visit.site_id,
                starts_at=visit.starts_at,
                at=now,
                outcome=NoticeOutcome.CONFIRMATION,
            )
        except Conflict:
            continue


def _finish(
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    patient: Patient,
    mail: Mail,
    outcome: MailOutcome,
    *,
    resource_id: int,
    covered: Sequence[Visit] = (),
    lead: dt.timedelta = DEFAULT_REMINDER_LEAD,
) -> Confirmation:
    if outcome is MailOutcome.SENT:
        _stand_in(uow, clock.now(), covered, lead)
    if outcome in {MailOutcome.SENT, MailOutcome.FAILED}:
        record(
            uow,
            clock,
            actor,
            AuditAction.CREATE,
            "visit_mail",
            site_id=patient.site_id,
            patient_id=patient.id,
            resource_id=resource_id,
            detail=f"{mail.kind.value} ({mail.language}): {outcome.value}",
        )
        uow.commit()
    return Confirmation(mail.kind.value, outcome)


def _patient(uow: UnitOfWork, patient_id: int) -> Patient:
    patient = uow.patients.get(patient_id)
    assert patient is not None  # the series was just read for this patient (foreign key)
    return patient


def confirm_booked(
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    notifier: Notifier,
    series: Series,
    *,
    reminder_lead: dt.timedelta = DEFAULT_REMINDER_LEAD,
) -> Confirmation:
    """E-mail the patient every visit of a series just booked (``actor`` booked it; audited
    when an e-mail is sent or tried). Commits."""
    patient = _patient(uow, series.patient_id)
    mail = booked(
        place_of(uow, series.site_id),
        patient.preferred_language,
        [v.starts_at for v in series.visits],
    )
    uow.commit()  # end the read: no lock is held while the mail server answers
    outcome = send_mail(notifier, patient, mail, ref=series.id)
    return _finish(
        uow,
        clock,
        actor,
        patient,
        mail,
        outcome,
        resource_id=series.id,
        covered=series.visits,
        lead=reminder_lead,
    )


def confirm_moved(
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    notifier: Notifier,
    series: Series,
    visit_number: int,
    *,
    reminder_lead: dt.timedelta = DEFAULT_REMINDER_LEAD,
) -> Confirmation:
    """E-mail the patient the new time of visit ``visit_number`` of ``series`` (as it is after
    the move) and all their upcoming visits. Commits."""
    patient = _patient(uow, series.patient_id)
    visit = series.visit_numbered(visit_number)
    assert visit is not None  # it was just moved, so it is on the schedule
    mail = moved(
        place_of(uow, series.site_id),
        patient.preferred_language,
        visit.starts_at,
        _upcoming(uow, patient.id, clock.now()),
    )
    uow.commit()  # end the read: no lock is held while the mail server answers
    outcome = send_mail(notifier, patient, mail, ref=visit.id)
    return _finish(
        uow,
        clock,
        actor,
        patient,
        mail,
        outcome,
        resource_id=visit.id,
        covered=[visit],
        lead=reminder_lead,
    )


def confirm_cancelled(
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    notifier: Notifier,
    series: Series,
    visit_number: int,
) -> Confirmation:
    """E-mail the patient that visit ``visit_number`` of ``series`` (just cancelled) will not
    take place, and the visits they still have. Commits."""
    patient = _patient(uow, series.patient_id)
    gone = max(
        (c for c in series.cancelled if c.visit.number == visit_number),
        key=lambda c: (c.cancelled_at, c.visit.id),
    )
    mail = cancelled(
        place_of(uow, series.site_id),
        patient.preferred_language,
        gone.visit.starts_at,
        _upcoming(uow, patient.id, clock.now()),
    )
    uow.commit()  # end the read: no lock is held while the mail server answers
    outcome = send_mail(notifier, patient, mail, ref=gone.visit.id)
    return _finish(uow, clock, actor, patient, mail, outcome, resource_id=gone.visit.id)
