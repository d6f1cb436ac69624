"""The day-before reminder sweep (services/visit_reminders.py) and its store (``uow.visit_notices``)
on the in-memory fake, SQLite and PostgreSQL: each visit is reminded once however often and
however many sweeps run, in the patient's language; a cancelled visit, a visit beyond the lead
time and a visit that has begun get none; a patient without an address is recorded, not mailed;
while mail is off nothing is claimed."""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass

import pytest

from ketaclinic.adapters.memory_mbc import MemoryNotifier
from ketaclinic.domain.errors import Conflict
from ketaclinic.domain.people import NewPatient, Role, Sex
from ketaclinic.domain.scheduling import OpeningHours
from ketaclinic.services.intake_models import ClinicHours, NewVisit, Series, TreatmentPlan
from ketaclinic.services.ports import FixedClock
from ketaclinic.services.visit_notice_ports import NoticeKind, NoticeOutcome
from ketaclinic.services.visit_reminders import send_reminders

# Monday 23 November 2026, 12:00 UTC (07:00 in Miami).
T0 = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


class MailOff(MemoryNotifier):
    enabled = False


@dataclass
class Seed:
    """Visit ids by name: ``es`` (Spanish speaker, e-mail) 20 h ahead, ``en`` (English, e-mail)
    23 h ahead, ``none`` (no address) 10 h ahead, ``later`` (es) 30 h ahead, ``begun`` (en)
    started an hour ago; the site, a user, and the addresses."""

    visits: dict[str, int]
    patients: dict[str, int]
    site_id: int
    user_id: int


def seed(factory) -> Seed:  # type: ignore[no-untyped-def]
    with factory() as uow:
        uow.sites.set_organisation_name("Harbor Clinic")
        mia = uow.sites.add("MIA", "Miami Beach", "America/New_York")
        chair = uow.sites.add_chair(mia.id, "MIA-1", "Chair 1").id
        uow.schedule.set_hours(
            ClinicHours(mia.id, tuple(OpeningHours(d, dt.time(0), dt.time(23)) for d in range(7)))
        )
        user = uow.users.add("desk", "Desk", Role.FRONT_DESK, frozenset({mia.id}), "hash")
        patients: dict[str, int] = {}
        for key, email, lang in (
            ("es", "rosa@example.invalid", "es"),
            ("en", "sam@example.invalid", "en"),
            ("none", "", "es"),
        ):
            patients[key] = uow.patients.add(
                NewPatient(
                    mia.id,
                    f"R-{key}",
                    "Given",
                    "Family",
                    dt.date(1980, 1, 2),
                    Sex.FEMALE,
                    email=email,
                    preferred_language=lang,
                ),
                T0,
            ).id
        visits: dict[str, int] = {}
        plans: dict[str, int] = {}
        for name, who, hours in (
            ("es", "es", 20),
            ("en", "en", 23),
            ("none", "none", 10),
            ("later", "es", 30),
            ("begun", "en", -1),
        ):
            if who not in plans:
                plans[who] = uow.schedule.add_plan(
                    TreatmentPlan(0, patients[who], "feder-2021", 0.5, T0.date(), user.id, T0)
                ).id
            start = T0 + hours * HOUR
            series = uow.schedule.add_series(
                Series(0, patients[who], mia.id, plans[who], "feder-2021", user.id, T0),
                [NewVisit(chair, 1, start, start + 3 * HOUR, start.date())],
            )
            visits[name] = series.visits[0].id
        uow.commit()
    return Seed(visits, patients, mia.id, user.id)


def notices(factory, seeded: Seed) -> dict[str, NoticeOutcome]:  # type: ignore[no-untyped-def]
    names = {v: k for k, v in seeded.visits.items()}
    with factory(readonly=True) as uow:
        found = uow.visit_notices.for_visits(seeded.visits.values(), NoticeKind.REMINDER)
    return {names[v]: n.outcome for v, n in found.items()}


def test_each_visit_is_reminded_once_in_its_patients_language(uow_factory) -> None:
    seeded = seed(uow_factory)
    clock = FixedClock(T0)
    outbox = MemoryNotifier()
    first = send_reminders(uow_factory, clock, outbox)
    assert first.mail_on
    assert first.visits_due == 3  # es, en, none: "later" is 30 h away, "begun" has begun
    assert {(i.visit_id, i.outcome) for i in first.items} == {
        (seeded.visits["es"], NoticeOutcome.SENT),
        (seeded.visits["en"], NoticeOutcome.SENT),
        (seeded.visits["none"], NoticeOutcome.NO_EMAIL),
    }
    by_address = {m.to: m for m in outbox.sent}
    assert set(by_address) == {"rosa@example.invalid", "sam@example.invalid"}
    spanish = by_address["rosa@example.invalid"]
    assert spanish.subject == (
        "Harbor Clinic: recordatorio de su cita del martes, 24 de noviembre de 2026"
    )
    assert "martes, 24 de noviembre de 2026, a las 3:00" in spanish.body.splitlines()
    english = by_address["sam@example.invalid"]
    assert english.subject == (
        "Harbor Clinic: reminder of your appointment on Tuesday, November 24, 2026"
    )
    assert "Tuesday, November 24, 2026 at 6:00\u202fAM" in english.body.splitlines()
    # Again at once, and again an hour later: nothing more for these visits.
    assert send_reminders(uow_factory, clock, outbox).items == ()
    clock.advance(hours=1)
    assert send_reminders(uow_factory, clock, outbox).items == ()
    assert len(outbox.sent) == 2
    assert notices(uow_factory, seeded) == {
        "es": NoticeOutcome.SENT,
        "en": NoticeOutcome.SENT,
        "none": NoticeOutcome.NO_EMAIL,
    }
    # Seven hours on, "later" comes within 24 hours and is reminded in its turn.
    clock.advance(hours=6)
    latest = send_reminders(uow_factory, clock, outbox)
    assert [(i.visit_id, i.outcome) for i in latest.items] == [
        (seeded.visits["later"], NoticeOutcome.SENT)
    ]
    with uow_factory(readonly=True) as uow:
        audited = [e.record for e in uow.audit.entries() if e.record.resource == "visit_mail"]
    assert sorted(r.detail for r in audited) == [
        "reminder (en): pending",
        "reminder (es): no_email",
        "reminder (es): pending",
        "reminder (es): pending",
    ]
    assert all(r.client == "system" for r in audited)


def test_two_sweeps_at_once_send_each_reminder_once(uow_factory) -> None:
    seed(uow_factory)
    clock = FixedClock(T0)
    outbox = MemoryNotifier()
    barrier = threading.Barrier(3)
    failures: list[BaseException] = []

    def sweep() -> None:
        try:
            barrier.wait(timeout=30)
            send_reminders(uow_factory, clock, outbox)
        except BaseException as error:  # reported below
            failures.append(error)

    threads = [threading.Thread(target=sweep) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    assert sorted(m.to for m in outbox.sent) == ["rosa@example.invalid", "sam@example.invalid"]


def test_a_cancelled_visit_gets_no_reminder(uow_factory) -> None:
    seeded = seed(uow_factory)
    with uow_factory() as uow:
        uow.schedule.cancel_visit(seeded.visits["es"], seeded.user_id, T0, "travelling")
        uow.commit()
    outbox = MemoryNotifier()
    swept = send_reminders(uow_factory, FixedClock(T0), outbox)
    assert seeded.visits["es"] not in [i.visit_id for i in swept.items]
    assert [m.to for m in outbox.sent] == ["sam@example.invalid"]
    assert "es" not in notices(uow_factory, seeded)


def test_with_mail_off_nothing_is_claimed_and_turning_it_on_reminds(uow_factory) -> None:
    seeded = seed(uow_factory)
    clock = FixedClock(T0)
    off = send_reminders(uow_factory, clock, MailOff())
    assert (off.mail_on, off.items) == (False, ())
    assert notices(uow_factory, seeded) == {}
    outbox = MemoryNotifier()
    assert len(send_reminders(uow_factory, clock, outbox).items) == 3
    assert len(outbox.sent) == 2


def test_a_refused_e_mail_is_recorded_as_failed_and_not_retried(uow_factory) -> None:
    seeded = seed(uow_factory)
    clock = FixedClock(T0)
    refusing = MemoryNotifier(fail_for={"rosa@example.invalid"})
    swept = send_reminders(uow_factory, clock, refusing)
    assert swept.count(NoticeOutcome.FAILED) == 1
    assert notices(uow_factory, seeded)["es"] is NoticeOutcome.FAILED
    assert send_reminders(uow_factory, clock, MemoryNotifier()).items == ()


def test_the_lead_time_decides_which_visits_are_reminded(uow_factory) -> None:
    seeded = seed(uow_factory)
    outbox = MemoryNotifier()
    swept = send_reminders(uow_factory, FixedClock(T0), outbox, lead=dt.timedelta(hours=12))
    assert [i.visit_id for i in swept.items] == [seeded.visits["none"]]
    wide = send_reminders(uow_factory, FixedClock(T0), outbox, lead=dt.timedelta(hours=48))
    assert {i.visit_id for i in wide.items} == {seeded.visits[n] for n in ("es", "en", "later")}


# --- the store ------------------------------------------------------------------------------


def claim(uow, seeded: Seed, name: str = "es", outcome=NoticeOutcome.PENDING):  # type: ignore[no-untyped-def]
    return uow.visit_notices.claim(
        visit_id=seeded.visits[name],
        kind=NoticeKind.REMINDER,
        patient_id=seeded.patients["es"],
        site_id=seeded.site_id,
        starts_at=T0 + 20 * HOUR,
        at=T0,
        outcome=outcome,
    )


def test_a_visit_has_one_notice_of_a_kind_and_the_transaction_goes_on(uow_factory) -> None:
    seeded = seed(uow_factory)
    with uow_factory() as uow:
        first = claim(uow, seeded)
        with pytest.raises(Conflict) as refused:
            claim(uow, seeded, outcome=NoticeOutcome.NO_EMAIL)
        assert refused.value.field == "visit_id"
        other = claim(uow, seeded, "later")  # still usable after the refusal
        uow.visit_notices.set_outcome(first.id, NoticeOutcome.SENT, T0 + HOUR)
        uow.commit()
    with uow_factory(readonly=True) as uow:
        found = uow.visit_notices.for_visits(
            [seeded.visits["es"], seeded.visits["later"], seeded.visits["en"]],
            NoticeKind.REMINDER,
        )
        assert uow.visit_notices.for_visits([], NoticeKind.REMINDER) == {}
    stored = found[seeded.visits["es"]]
    assert (stored.id, stored.outcome, stored.claimed_at, stored.finished_at) == (
        first.id,
        NoticeOutcome.SENT,
        T0,
        T0 + HOUR,
    )
    assert stored.starts_at == T0 + 20 * HOUR
    assert found[seeded.visits["later"]].id == other.id
    assert found[seeded.visits["later"]].finished_at is None  # pending
    assert seeded.visits["en"] not in found


def test_forgetting_a_notice_lets_the_visit_be_claimed_again(uow_factory) -> None:
    seeded = seed(uow_factory)
    with uow_factory() as uow:
        claim(uow, seeded)
        uow.commit()
    with uow_factory() as uow:
        assert uow.visit_notices.forget(seeded.visits["es"], NoticeKind.REMINDER)
        assert not uow.visit_notices.forget(seeded.visits["es"], NoticeKind.REMINDER)
        again = claim(uow, seeded, outcome=NoticeOutcome.CONFIRMATION)
        uow.commit()
    assert again.finished_at == T0  # settled when claimed
    assert notices(uow_factory, seeded) == {"es": NoticeOutcome.CONFIRMATION}


def test_a_claim_rolled_back_is_not_kept(uow_factory) -> None:
    seeded = seed(uow_factory)
    with uow_factory() as uow:
        claim(uow, seeded)
        uow.rollback()
    assert notices(uow_factory, seeded) == {}
