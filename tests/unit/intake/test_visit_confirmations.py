"""E-mails confirming a booking, a move or a cancellation (services/visit_confirmations.py), on
the in-memory clinic of conftest.py (Monday 2026-11-23, 07:00 in Miami): who gets one and in
which language, what staff are told when none can be sent, and how a confirmation stands in for
the reminder of a visit that is close."""

from __future__ import annotations

import datetime as dt
import logging

from ketaclinic.adapters.memory_mbc import MemoryNotifier
from ketaclinic.domain.people import NewPatient, Sex
from ketaclinic.services import intake_schedule, visit_confirmations, visit_reminders
from ketaclinic.services.visit_confirmations import MailOutcome
from ketaclinic.services.visit_notice_ports import NoticeOutcome

ADDRESS = "rosa@example.invalid"
SPANISH_SUBJECT = "Su clínica: sus citas están confirmadas"  # the clinic has no name here


class MailOff(MemoryNotifier):
    enabled = False


def spanish_patient(clinic, email: str = ADDRESS) -> int:  # type: ignore[no-untyped-def]
    """P-4 at MIA, preferring Spanish, cleared for a feder-2021 series."""
    with clinic.uow() as uow:
        patient = uow.patients.add(
            NewPatient(
                clinic.mia,
                "P-4",
                "Rosa",
                "Quintero",
                dt.date(1980, 5, 17),
                Sex.FEMALE,
                email=email,
                preferred_language="es",
            ),
            clinic.clock.now(),
        )
        uow.commit()
    clinic.patients["P-4"] = patient.id
    clinic.clear("P-4")
    return patient.id


def book_and_confirm(clinic, notifier, mrn="P-4", start=dt.date(2026, 11, 23)):  # type: ignore[no-untyped-def]
    actor = clinic.actor("front_desk.mia")
    with clinic.uow() as uow:
        series = intake_schedule.book_series(uow, clinic.clock, actor, clinic.patients[mrn], start)
        confirmation = visit_confirmations.confirm_booked(
            uow, clinic.clock, actor, notifier, series
        )
    return series, confirmation


def mail_audit(clinic) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    with clinic.uow() as uow:
        return [
            (e.record.username, e.record.detail)
            for e in uow.audit.entries()
            if e.record.resource == "visit_mail"
        ]


def reminders(clinic) -> dict[int, NoticeOutcome]:  # type: ignore[no-untyped-def]
    return {n.visit_id: n.outcome for n in clinic.uow.store.visit_notices.by_key.values()}


def test_a_booked_series_is_e_mailed_in_the_patients_language(clinic) -> None:
    spanish_patient(clinic)
    outbox = MemoryNotifier()
    series, confirmation = book_and_confirm(clinic, outbox)
    assert confirmation.outcome is MailOutcome.SENT
    assert confirmation.message == "confirmation e-mailed to the patient"
    ((to, subject, body),) = [(m.to, m.subject, m.body) for m in outbox.sent]
    assert (to, subject) == (ADDRESS, SPANISH_SUBJECT)
    assert "Sus citas en Su clínica (Miami) están confirmadas:" in body
    listed = [line for line in body.splitlines() if line.startswith("- ") and "2026" in line]
    assert len(listed) == len(series.visits) == 6
    assert listed[0] == "- lunes, 23 de noviembre de 2026, a las 8:00"
    # No name, MRN or anything clinical: the address may be read by others.
    for private in ("Rosa", "Quintero", "P-4", "feder", "0.5"):
        assert private not in body
    assert mail_audit(clinic) == [("front_desk.mia", "booked (es): sent")]


def test_without_an_e_mail_address_nothing_is_sent_and_staff_are_told(clinic) -> None:
    clinic.clear("P-1")  # P-1 has no e-mail address
    outbox = MemoryNotifier()
    series, confirmation = book_and_confirm(clinic, outbox, mrn="P-1")
    assert series.visits  # the booking stands
    assert confirmation.outcome is MailOutcome.NO_EMAIL
    assert not confirmation.sent
    assert confirmation.message == (
        "the patient has no e-mail address on file: no confirmation was sent"
    )
    assert outbox.sent == []
    assert mail_audit(clinic) == []  # nothing left the clinic
    assert reminders(clinic) == {}  # the sweep will record the missing address itself


def test_with_mail_off_nothing_is_sent_and_staff_are_told(clinic) -> None:
    spanish_patient(clinic)
    off = MailOff()
    _, confirmation = book_and_confirm(clinic, off)
    assert confirmation.outcome is MailOutcome.MAIL_OFF
    assert "e-mail is not set up" in confirmation.message
    assert off.sent == []
    assert reminders(clinic) == {}


def test_a_refused_e_mail_is_logged_by_ids_and_the_reminder_still_goes(clinic, caplog) -> None:
    patient_id = spanish_patient(clinic)
    refusing = MemoryNotifier(fail_for={ADDRESS})
    with caplog.at_level(logging.ERROR, logger="ketaclinic.visits"):
        series, confirmation = book_and_confirm(clinic, refusing)
    assert confirmation.outcome is MailOutcome.FAILED
    assert "could not be delivered" in confirmation.message
    (logged,) = [r for r in caplog.records if r.getMessage() == "visit e-mail failed"]
    assert (logged.patient_id, logged.ref, logged.kind, logged.error_type) == (  # type: ignore[attr-defined]
        patient_id,
        series.id,
        "booked",
        "OSError",
    )
    assert ADDRESS not in logged.getMessage()
    assert mail_audit(clinic) == [("front_desk.mia", "booked (es): failed")]
    # The confirmation did not reach the patient: the reminder of today's visit is not covered.
    outbox = MemoryNotifier()
    swept = visit_reminders.send_reminders(clinic.uow, clinic.clock, outbox)
    assert [i.visit_id for i in swept.items] == [series.visits[0].id]
    assert outbox.sent[0].subject.startswith("Su clínica: recordatorio de su cita del lunes")


def test_a_confirmation_within_the_lead_time_stands_in_for_the_reminder(clinic) -> None:
    spanish_patient(clinic)
    outbox = MemoryNotifier()
    series, _ = book_and_confirm(clinic, outbox)  # visit 1 today at 8:00, visit 2 Wednesday
    first = series.visits[0]
    assert reminders(clinic) == {first.id: NoticeOutcome.CONFIRMATION}
    swept = visit_reminders.send_reminders(clinic.uow, clinic.clock, outbox)
    assert swept.visits_due == 1
    assert swept.items == ()
    assert len(outbox.sent) == 1  # the confirmation only


def move_and_confirm(clinic, series, number, day, at, outbox):  # type: ignore[no-untyped-def]
    actor = clinic.actor("front_desk.mia")
    with clinic.uow() as uow:
        moved = intake_schedule.reschedule_visit(
            uow, clinic.clock, actor, clinic.patients["P-4"], series.id, number, day, at=at
        )
        return visit_confirmations.confirm_moved(uow, clinic.clock, actor, outbox, moved, number)


def test_a_moved_visit_is_confirmed_and_reminded_again_before_its_new_time(clinic) -> None:
    spanish_patient(clinic)
    outbox = MemoryNotifier()
    series, _ = book_and_confirm(clinic, outbox, start=dt.date(2026, 11, 30))
    third = series.visits[2]  # Friday 4 December, 8:00
    # Wednesday 2 December, 10:00 in Miami, with a 48-hour lead: the third visit is reminded.
    clinic.clock.at = dt.datetime(2026, 12, 2, 15, 0, tzinfo=dt.UTC)
    early = visit_reminders.send_reminders(
        clinic.uow, clinic.clock, outbox, lead=dt.timedelta(hours=48)
    )
    assert [(i.visit_id, i.outcome) for i in early.items] == [(third.id, NoticeOutcome.SENT)]
    confirmation = move_and_confirm(clinic, series, 3, None, dt.time(15, 0), outbox)
    assert confirmation.sent
    mail = outbox.sent[-1]
    assert mail.subject == "Su clínica: su cita ha cambiado"
    assert "viernes, 4 de diciembre de 2026, a las 15:00" in mail.body.splitlines()
    # The reminder of the old time is gone; the new one is 53 hours away, beyond the 24-hour
    # lead of the confirmation, so the confirmation does not stand in for it...
    assert third.id not in reminders(clinic)
    # ...and a sweep the day before reminds the new time.
    clinic.clock.at = dt.datetime(2026, 12, 3, 21, 0, tzinfo=dt.UTC)
    later = visit_reminders.send_reminders(clinic.uow, clinic.clock, outbox)
    assert [(i.visit_id, i.outcome) for i in later.items] == [(third.id, NoticeOutcome.SENT)]
    assert "viernes, 4 de diciembre de 2026, a las 15:00" in outbox.sent[-1].body.splitlines()


def test_a_visit_moved_within_the_lead_time_is_not_reminded_twice(clinic) -> None:
    spanish_patient(clinic)
    outbox = MemoryNotifier()
    series, _ = book_and_confirm(clinic, outbox, start=dt.date(2026, 11, 30))
    third = series.visits[2]
    clinic.clock.at = dt.datetime(2026, 12, 3, 21, 0, tzinfo=dt.UTC)  # Thursday 16:00
    assert len(visit_reminders.send_reminders(clinic.uow, clinic.clock, outbox).items) == 1
    before = len(outbox.sent)
    assert move_and_confirm(clinic, series, 3, None, dt.time(15, 0), outbox).sent
    assert reminders(clinic)[third.id] is NoticeOutcome.CONFIRMATION
    again = visit_reminders.send_reminders(clinic.uow, clinic.clock, outbox)
    assert again.items == ()
    assert len(outbox.sent) == before + 1  # the move's confirmation, nothing more


def test_a_cancellation_says_which_visit_is_off_but_never_why(clinic) -> None:
    spanish_patient(clinic)
    outbox = MemoryNotifier()
    series, _ = book_and_confirm(clinic, outbox, start=dt.date(2026, 11, 30))
    actor = clinic.actor("front_desk.mia")
    with clinic.uow() as uow:
        updated = intake_schedule.cancel_visit(
            uow,
            clinic.clock,
            actor,
            clinic.patients["P-4"],
            series.id,
            2,
            "Blood pressure too high at the last visit",
        )
        confirmation = visit_confirmations.confirm_cancelled(
            uow, clinic.clock, actor, outbox, updated, 2
        )
    assert confirmation.outcome is MailOutcome.SENT
    mail = outbox.sent[-1]
    assert mail.subject == "Su clínica: se ha cancelado su cita"
    body = mail.body.splitlines()
    assert "miércoles, 2 de diciembre de 2026, a las 8:00" in body
    remaining = [line for line in body if line.startswith("- ") and "2026" in line]
    assert len(remaining) == 5
    assert "- miércoles, 2 de diciembre de 2026, a las 8:00" not in remaining
    assert "Blood" not in mail.body
    assert "presión" not in mail.body
    assert mail_audit(clinic)[-1] == ("front_desk.mia", "cancelled (es): sent")


def test_nothing_is_claimed_for_visits_beyond_the_lead_time(clinic) -> None:
    spanish_patient(clinic)
    _, confirmation = book_and_confirm(clinic, MemoryNotifier(), start=dt.date(2026, 11, 30))
    assert confirmation.sent
    assert reminders(clinic) == {}
