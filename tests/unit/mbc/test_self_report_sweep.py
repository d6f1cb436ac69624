"""The scheduled self-report sweep (services/mbc_sweep.py): it sends each due slot's link once,
leaves the front desk a notice when a link cannot be e-mailed, and shows staff the schedule."""

from __future__ import annotations

import datetime as dt

import pytest

from ketaclinic.adapters.memory_mbc import MemoryNotifier
from ketaclinic.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from ketaclinic.domain.people import NewPatient, Sex
from ketaclinic.services import mbc_sweep
from ketaclinic.services.audit import SYSTEM
from ketaclinic.services.mbc_model import RequestOutcome, ScheduleSettings
from ketaclinic.services.mbc_schedule import default_settings, plan_slots
from ketaclinic.services.mbc_self_report import submit_self_report

T0 = dt.datetime(2026, 11, 20, 14, 0, tzinfo=dt.UTC)  # the world's clock: Friday 09:00 Miami
BASE = "https://clinic.example.org"


class MailOff(MemoryNotifier):
    enabled = False


def sweep(world, notifier=None):
    return mbc_sweep.send_due(world.uow, world.clock, notifier or world.notifier, BASE)


def links(world) -> list:
    return sorted(world.uow.store.mbc.links.values(), key=lambda link: link.id)


def requests(world) -> list:
    return sorted(world.uow.store.mbc.requests.values(), key=lambda r: r.id)


def new_patient(world, mrn: str, email: str = "") -> int:
    with world.uow() as uow:
        p = uow.patients.add(
            NewPatient(
                world.mia, mrn, "Dee", "Quinn", dt.date(1985, 5, 5), Sex.FEMALE, email=email
            ),
            T0,
        )
        uow.commit()
    return p.id


def test_the_slot_before_tomorrows_infusion_is_mailed_once(world) -> None:
    # Visits tomorrow and on Monday; only tomorrow's is within 48 hours.
    world.book(world.patient, "feder-2021", [T0 + dt.timedelta(days=1), T0 + dt.timedelta(days=3)])
    result = sweep(world)
    assert [(i.slot_key.startswith("visit-"), i.outcome) for i in result.items] == [
        (True, RequestOutcome.MAILED)
    ]
    (link,) = links(world)
    assert link.instrument_ids == ("pcl5", "phq9")
    assert link.due_at == T0 + dt.timedelta(days=1)
    assert link.created_by is None  # the system operator
    (mail,) = world.notifier.sent
    assert mail.to == "ana@example.invalid"
    assert f"{BASE}/r/" in mail.body
    assert "PCL" not in mail.body  # no instrument, no health data in the message
    (request,) = requests(world)
    assert (request.outcome, request.link_id) == (RequestOutcome.MAILED, link.id)
    # Running again sends nothing more.
    assert sweep(world).items == ()
    assert len(links(world)) == 1
    assert len(world.notifier.sent) == 1
    # On Saturday morning Monday's slot opens, and only that one goes out.
    world.clock.advance(days=1, hours=1)
    again = sweep(world)
    assert len(again.items) == 1
    assert len(links(world)) == 2


def test_a_patient_without_e_mail_gets_a_front_desk_notice_and_no_link(world) -> None:
    pid = new_patient(world, "NO-MAIL-1")
    world.book(pid, "feder-2021", [T0 + dt.timedelta(days=1)])
    result = sweep(world)
    assert [i.outcome for i in result.items] == [RequestOutcome.NO_EMAIL]
    assert links(world) == []
    with world.uow() as uow:
        notices = mbc_sweep.open_notices(uow, world.clock, world.actor("frontdesk.mia"))
    (notice,) = notices
    assert (notice.mrn, notice.reason, notice.before_visit) == (
        "NO-MAIL-1",
        "no e-mail address on file",
        True,
    )
    actions = [(e.record.action.value, e.record.resource) for e in world.uow.store.audit]
    assert ("create", "self_report_notice") in actions
    assert sweep(world).items == ()


def test_with_mail_off_no_link_is_made_and_the_front_desk_is_told(world) -> None:
    world.book(world.patient, "feder-2021", [T0 + dt.timedelta(days=1)])
    result = sweep(world, MailOff())
    assert [i.outcome for i in result.items] == [RequestOutcome.MAIL_OFF]
    assert links(world) == []
    assert requests(world)[0].notice_open


def test_a_refused_e_mail_keeps_the_link_and_tells_the_front_desk(world) -> None:
    world.book(world.patient, "feder-2021", [T0 + dt.timedelta(days=1)])
    result = sweep(world, MemoryNotifier(fail_for={"ana@example.invalid"}))
    assert [i.outcome for i in result.items] == [RequestOutcome.MAIL_FAILED]
    (link,) = links(world)
    assert link.mailed_at is None
    assert requests(world)[0].notice_open


def test_weekly_requests_follow_the_end_of_a_series(world) -> None:
    # The series ended 8 days ago (a Thursday): week 1 opened yesterday at 09:00 Miami.
    ended = T0 - dt.timedelta(days=8)
    world.book(world.patient, "feder-2021", [ended - dt.timedelta(days=4), ended])
    result = sweep(world)
    assert [(i.slot_key.endswith("week-1"), i.outcome) for i in result.items] == [
        (True, RequestOutcome.MAILED)
    ]
    (link,) = links(world)
    assert link.instrument_ids == ("pcl5",)
    assert link.expires_at == link.due_at


def test_two_sweeps_racing_for_one_slot_make_one_link(world) -> None:
    world.book(world.patient, "feder-2021", [T0 + dt.timedelta(days=1)])
    with world.uow() as uow:
        patient = uow.patients.get(world.patient)
        series = uow.schedule.series_for(world.patient)
    slot = plan_slots(series, default_settings, "America/New_York")[0]
    with world.uow() as uow:
        first = mbc_sweep._act(uow, world.clock, world.notifier, BASE, patient, slot)
    with world.uow() as uow:
        second = mbc_sweep._act(uow, world.clock, world.notifier, BASE, patient, slot)
    assert (first, second) == (RequestOutcome.MAILED, None)
    assert len(links(world)) == 1  # the loser's link was rolled back with its claim


def test_saved_settings_change_what_the_sweep_asks(world) -> None:
    with world.uow() as uow:
        mbc_sweep.save_schedule_settings(
            uow,
            world.clock,
            world.actor("director.mia"),
            ScheduleSettings("abdallah-2022", ("gad7", "who5"), 72, (), 0),
        )
    world.book(world.patient, "abdallah-2022", [T0 + dt.timedelta(days=2, hours=12)])
    sweep(world)
    (link,) = links(world)
    assert link.instrument_ids == ("gad7", "who5")


def test_only_directors_change_schedules_and_bad_values_change_nothing(world) -> None:
    settings = ScheduleSettings("feder-2021", ("pcl5",), 24, ("pcl5",), 2)
    with world.uow() as uow, pytest.raises(PermissionDenied):
        mbc_sweep.save_schedule_settings(uow, world.clock, world.actor("prescriber.mia"), settings)
    for bad, field in (
        (ScheduleSettings("nope", ("pcl5",), 24, (), 0), "protocol_id"),
        (ScheduleSettings("feder-2021", ("cssrs",), 24, (), 0), "before_infusion"),
        (ScheduleSettings("feder-2021", ("pcl5",), 500, (), 0), "before_hours"),
    ):
        with world.uow() as uow, pytest.raises(InvalidInput) as caught:
            mbc_sweep.save_schedule_settings(uow, world.clock, world.actor("director.mia"), bad)
        assert caught.value.field == field
    assert world.uow.store.mbc.schedules == {}
    with world.uow() as uow:
        saved = mbc_sweep.save_schedule_settings(
            uow, world.clock, world.actor("director.mia"), settings
        )
        rows = {
            r.protocol_id: r
            for r in mbc_sweep.schedule_settings(uow, world.clock, world.actor("nurse.mia"))
        }
    assert (saved.updated_by, saved.updated_at) == (world.user_ids["director.mia"], T0)
    assert rows["feder-2021"].settings == saved
    assert not rows["feder-2021"].is_default
    assert rows["abdallah-2022"].is_default
    assert rows["abdallah-2022"].settings == default_settings("abdallah-2022")
    with world.uow() as uow, pytest.raises(PermissionDenied):
        mbc_sweep.schedule_settings(uow, world.clock, world.actor("frontdesk.mia"))


def test_the_patient_schedule_shows_each_slot_and_what_became_of_it(world) -> None:
    world.book(world.patient, "feder-2021", [T0 + dt.timedelta(days=1), T0 + dt.timedelta(days=3)])
    sweep(world)
    with world.uow() as uow:
        schedule = mbc_sweep.patient_schedule(
            uow, world.clock, world.actor("nurse.mia"), world.patient
        )
    states = [(e.slot.key.split("-")[0], e.state) for e in schedule.entries]
    assert states == [
        ("visit", "mailed"),
        ("visit", "planned"),
        ("series", "planned"),
        ("series", "planned"),
        ("series", "planned"),
        ("series", "planned"),
    ]
    assert schedule.entries[0].answered is False
    # The patient answers the link: the schedule says so.
    (link,) = links(world)
    token = world.notifier.sent[0].body.split("/r/", 1)[1].split()[0]
    with world.uow() as uow:
        submit_self_report(
            uow,
            world.clock,
            SYSTEM,
            token,
            {
                "pcl5": {f"pcl5_{n:02d}": 1 for n in range(1, 21)},
                "phq9": {f"phq9_{n:02d}": 0 for n in range(1, 10)},
            },
            language="es",
            notifier=world.notifier,
        )
    with world.uow() as uow:
        schedule = mbc_sweep.patient_schedule(
            uow, world.clock, world.actor("nurse.mia"), world.patient
        )
    assert schedule.entries[0].answered is True
    assert link.id == schedule.entries[0].request.link_id
    with world.uow() as uow, pytest.raises(PermissionDenied):
        mbc_sweep.patient_schedule(uow, world.clock, world.actor("frontdesk.mia"), world.patient)
    with world.uow() as uow, pytest.raises(NotFound):
        mbc_sweep.patient_schedule(uow, world.clock, world.actor("nurse.mia"), world.fll_patient)


def test_a_missed_slot_is_shown_as_not_sent(world) -> None:
    world.book(world.patient, "feder-2021", [T0 - dt.timedelta(days=1)])
    with world.uow() as uow:
        schedule = mbc_sweep.patient_schedule(
            uow, world.clock, world.actor("nurse.mia"), world.patient
        )
    assert schedule.entries[0].state == "not sent"


def test_notices_are_closed_once_by_staff_of_their_site(world) -> None:
    pid = new_patient(world, "NO-MAIL-2")
    world.book(pid, "feder-2021", [T0 + dt.timedelta(days=1)])
    sweep(world)
    (request,) = requests(world)
    with world.uow() as uow, pytest.raises(NotFound):
        mbc_sweep.close_notice(uow, world.clock, world.actor("prescriber.fll"), request.id)
    with world.uow() as uow:
        closed = mbc_sweep.close_notice(uow, world.clock, world.actor("frontdesk.mia"), request.id)
    assert (closed.notice_closed_by, closed.notice_closed_at) == (
        world.user_ids["frontdesk.mia"],
        T0,
    )
    assert not closed.notice_open
    with world.uow() as uow, pytest.raises(Conflict):
        mbc_sweep.close_notice(uow, world.clock, world.actor("frontdesk.mia"), request.id)
    with world.uow() as uow:
        assert mbc_sweep.open_notices(uow, world.clock, world.actor("frontdesk.mia")) == []
