"""The demo clinic tells one story across the chair, intake and measurement-based care, on SQLite
and PostgreSQL: every patient at a chair is cleared in the record (consent on the version in
force, eligibility signed eligible, a signed plan) and has a booked series whose visit of the
session's day is that session; DEMO-0001 is infusing on MIA-1 (DESIGN.md §4.5); the patients
the intake demo calls "cleared, not yet booked" are at no chair and have no series. Score
histories follow the infusion series: baseline the day before the first infusion, responders
respond against it and the others do not, the director's report groups them by protocol, and
the score plot marks their infusions. Every visit keeps to the clinic hours whenever the demo
is loaded (in memory, at fixed clocks), except today's visit of each patient at a chair."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from argon2 import PasswordHasher

from ketaclinic.adapters.memory import MemoryUnitOfWorkFactory
from ketaclinic.domain.scheduling import SiteSchedule, outside_hours_reason
from ketaclinic.domain.session_lifecycle import SessionState
from ketaclinic.services import (
    chair_record_checks,
    chair_visits,
    demo,
    demo_chair,
    demo_intake,
    mbc,
    mbc_cohort,
)
from ketaclinic.services.audit import Actor
from ketaclinic.services.auth import Passwords, Principal
from ketaclinic.services.intake_common import clearance, to_local
from ketaclinic.services.mbc_timeline import InfusionSource
from ketaclinic.services.ports import FixedClock

NEW_YORK = ZoneInfo("America/New_York")

STATES = {
    demo_chair.Target.RUNNING: SessionState.RUNNING,
    demo_chair.Target.CHECKED_IN: SessionState.CHECKED_IN,
    demo_chair.Target.CHECKING: SessionState.PRE_INFUSION_CHECKS,
    demo_chair.Target.OBSERVATION: SessionState.OBSERVATION,
    demo_chair.Target.DISCHARGED: SessionState.DISCHARGED,
}
DONE = {demo_chair.Target.OBSERVATION, demo_chair.Target.DISCHARGED}


@pytest.mark.parametrize("seat", demo_chair.LAYOUT, ids=lambda s: f"{s.mrn}@{s.chair}")
def test_each_patient_at_a_chair_is_cleared_and_fulfils_a_booked_visit(demo, seat) -> None:
    with demo.uow() as uow:
        patient = uow.patients.by_mrn(seat.mrn)
        site = uow.sites.get(patient.site_id)
        chair = next(c for c in uow.sites.chairs(site.id) if c.code == seat.chair)
        # The patient's session of today: the open one, or the last one checked in (the
        # earlier visits of the series have discharged sessions of their own).
        rows = [r for r in uow.chair.list_sessions([site.id]) if r.patient_id == patient.id]
        row = max(rows, key=lambda r: r.checked_in_at)
        assert (row.chair_id, row.state) == (chair.id, STATES[seat.target])
        assert clearance(uow, patient.id).problems() == []
        findings = chair_record_checks.read_record(uow, patient, row.checked_in_at)
        assert {item.value: f.passed for item, f in findings.items()} == {
            "consent_current": True,
            "eligibility_signed": True,
            "safety_screen_reviewed": True,
        }
        booked = chair_visits.visit_of_session(uow, row)
        assert booked is not None
        assert booked.visit.local_day == to_local(row.checked_in_at, site).date()
        assert booked.visit.chair_id == chair.id
        day = to_local(row.checked_in_at, site).date()
        assert booked.visit.number == demo_intake.visit_number_today(seat, day)
        # The visits before today's were attended: each has its discharged session.
        earlier = [v for v in booked.series.visits if v.number < booked.visit.number]
        done = uow.visit_links.for_visits([v.id for v in earlier])
        assert sorted(done) == sorted(v.id for v in earlier)
        assert all(link.done for link in done.values())
        assert booked.visit.starts_at <= row.checked_in_at < booked.visit.ends_at
        assert booked.series.plan_id == clearance(uow, patient.id).plan.id
        assert booked.link.done == (seat.target in DONE)
        if row.state is not SessionState.CHECKED_IN and row.state is not (
            SessionState.PRE_INFUSION_CHECKS
        ):
            # What the start read from the record is stored with the checklist.
            stored = {r.item for r in uow.chair.checks(row.id)}
            assert set(chair_record_checks.RECORD_ITEMS) <= stored


def test_demo_0001_is_infusing_on_mia_1(demo) -> None:
    with demo.uow() as uow:
        patient = uow.patients.by_mrn("DEMO-0001")
        row = uow.chair.open_sessions_for_patients([patient.id])[patient.id]
        chair = next(c for c in uow.sites.chairs(row.site_id) if c.id == row.chair_id)
    assert (chair.code, row.state) == ("MIA-1", SessionState.RUNNING)


def test_every_demo_infusion_takes_its_dose_from_a_verified_order(demo) -> None:
    """Each demo session past the dose check is linked to the verified order its planned dose
    came from (same protocol, same programme); each patient at a chair before the check has
    today's order for the chair to take."""
    from ketaclinic.services import dosing
    from ketaclinic.services.chair_mar import order_values
    from ketaclinic.services.dosing_ports import OrderStatus

    checked = 0
    with demo.uow() as uow:
        for site in uow.sites.all():
            for row in uow.chair.list_sessions([site.id]):
                if row.planned is None:
                    continue
                link = uow.dosing.session_order(row.id)
                assert link is not None, row.id
                order = uow.dosing.get_order(link.order_id)
                assert order.status is OrderStatus.VERIFIED
                assert (order.patient_id, order.protocol_id) == (row.patient_id, row.protocol_id)
                assert (
                    order.prepared_at
                    <= link.verified_at
                    <= row.checked_in_at + dt.timedelta(hours=1)
                )
                programme = order_values(order)
                assert (row.planned.dose_mg, row.planned.rate_ml_per_h) == (
                    programme.dose_mg,
                    programme.rate_ml_per_h,
                )
                checked += 1
        waiting = [
            s
            for s in demo_chair.LAYOUT
            if s.target in {demo_chair.Target.CHECKED_IN, demo_chair.Target.CHECKING}
        ]
        assert waiting
        for seat in waiting:
            patient = uow.patients.by_mrn(seat.mrn)
            row = uow.chair.open_sessions_for_patients([patient.id])[patient.id]
            assert row.planned is None
            nurse = uow.users.by_username(f"nurse.{seat.chair.split('-')[0].lower()}")
            actor = actor_of(uow, nurse.username)
            order = dosing.verified_order_for_session(
                uow, demo.clock, actor, patient_id=patient.id, protocol_id=row.protocol_id
            )
            assert order is not None, seat.mrn
    assert checked > 50  # today's infusions and the completed series'


def test_the_patients_cleared_but_not_booked_are_at_no_chair(demo) -> None:
    at_chairs = {seat.mrn for seat in demo_chair.LAYOUT}
    with demo.uow() as uow:
        for mrn in demo_intake.READY:
            assert mrn not in at_chairs
            patient = uow.patients.by_mrn(mrn)
            assert clearance(uow, patient.id).problems() == []
            assert uow.schedule.series_for(patient.id) == []
            assert uow.chair.open_sessions_for_patients([patient.id]) == {}


# --- the scores follow the series ------------------------------------------------------------


def actor_of(uow, username: str) -> Actor:
    user = uow.users.by_username(username)
    return Actor(Principal(user.id, user.username, user.role, user.site_ids), "test")


def pcl5_outcome(demo, mrn: str):  # type: ignore[no-untyped-def]
    with demo.uow() as uow:
        patient = uow.patients.by_mrn(mrn)
        site = uow.sites.get(patient.site_id)
        nurse = actor_of(uow, f"nurse.{site.code.lower()}")
        view = mbc.patient_outcomes(uow, demo.clock, nurse, patient.id)
    with demo.uow() as uow:
        starts = mbc.infusion_starts(uow, demo.clock, nurse, patient.id)
    with demo.uow() as uow:
        (series, *_) = uow.schedule.series_for(patient.id)
    return view, starts, series, site


@pytest.mark.parametrize(
    ("mrn", "protocol", "course"),
    [(mrn, protocol.id, course) for mrn, protocol, _weeks, course in demo_intake.HISTORY],
)
def test_a_completed_series_and_its_scores_tell_the_same_story(demo, mrn, protocol, course):
    view, starts, series, site = pcl5_outcome(demo, mrn)
    outcome = view.outcome
    # The first infusion is the first session of a real series; the baseline the day before.
    assert series.protocol_id == protocol
    assert view.first_infusion is not None
    assert view.first_infusion.source is InfusionSource.SESSION
    assert view.first_infusion.protocol_id == protocol
    first_visit = min(series.visits, key=lambda v: v.starts_at)
    assert view.first_infusion.on == first_visit.local_day
    assert outcome.baseline.on == first_visit.local_day - dt.timedelta(days=1)
    assert outcome.baseline.total >= 40
    # Every visit was attended: the plot marks one infusion per visit, all after the baseline.
    assert len(starts) == len(series.visits) == {"feder-2021": 6, "abdallah-2022": 8}[protocol]
    assert {to_local(s.started_at, site).date() for s in starts} == {
        v.local_day for v in series.visits
    }
    assert all(s.protocol_id == protocol for s in starts)
    assert len(outcome.points) >= 5
    latest = outcome.points[-1]
    if course == "responder":
        assert latest.response, (mrn, outcome.baseline.total, latest.total)
    elif course == "relapse":
        assert outcome.durability.first_response_on is not None
        assert not latest.response
    else:  # partial and non-responders never reach a response
        assert not any(p.response for p in outcome.points)


def test_the_directors_report_groups_the_patients_by_their_protocol(demo) -> None:
    for code in ("MIA", "FLL"):
        with demo.uow() as uow:
            report = mbc_cohort.outcome_report(
                uow, demo.clock, actor_of(uow, f"director.{code.lower()}")
            )
        groups = {(g.grouping.value, g.label): g for g in report.groups}
        assert groups[("site", code)].summary is not None
        for protocol in ("feder-2021", "abdallah-2022"):
            summary = groups[("protocol", protocol)].summary
            assert summary is not None, (code, protocol)
            assert summary.n >= 3, (code, protocol)
            assert 0 < summary.response.count < summary.n, (code, protocol)
        # Only the patients without a series (waiting for the prescriber, screened weeks ago)
        # are in "none".
        waiting = [m for m in demo_intake.NEEDS_REVIEW if int(m[-2:]) % 2 == (code == "MIA")]
        none = groups[("protocol", "none")].summary
        assert none is not None
        assert none.n == len(waiting) == 1
        assert (
            sum(g.summary.n for (kind, _), g in groups.items() if kind == "protocol" and g.summary)
            == groups[("site", code)].summary.n
        )


def test_the_score_plot_marks_the_infusions(client, demo, login_as) -> None:
    login_as("nurse.mia")
    with demo.uow() as uow:
        treated = uow.patients.by_mrn("DEMO-0025")
        waiting = uow.patients.by_mrn(demo_intake.NEEDS_REVIEW[0])
    plot = client.get(f"/patients/{treated.id}/plots/scores.svg")
    assert plot.status_code == 200
    assert "infusion" in plot.text
    assert "infusion" not in client.get(f"/patients/{waiting.id}/plots/scores.svg").text


# --- the hours, whenever the demo is loaded ----------------------------------------------------

# New York local times: a Monday at 02:00, a Tuesday at 08:20 and at 23:30, a Wednesday
# afternoon (the whole demo within the hours), a Saturday and a Sunday.
LOAD_TIMES = (
    "2026-11-23T02:00",
    "2026-11-24T08:20",
    "2026-11-24T23:30",
    "2026-11-25T14:00",
    "2026-11-28T10:00",
    "2026-11-29T14:00",
)


def load_in_memory(local: str) -> tuple[MemoryUnitOfWorkFactory, FixedClock]:
    at = dt.datetime.fromisoformat(local).replace(tzinfo=NEW_YORK).astimezone(dt.UTC)
    factory, clock = MemoryUnitOfWorkFactory(), FixedClock(at)
    fast = Passwords(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    with factory() as uow:
        demo.load(uow, clock, fast)
        uow.commit()
    return factory, clock


@pytest.mark.parametrize("local", LOAD_TIMES)
def test_every_visit_keeps_to_the_hours_but_the_one_at_the_chair_now(local) -> None:
    factory, _clock = load_in_memory(local)
    seated = {seat.mrn for seat in demo_chair.LAYOUT}
    outside: list[str] = []
    with factory() as uow:
        for site in uow.sites.all():
            hours = uow.schedule.hours(site.id)
            chairs = tuple(c.code for c in uow.sites.chairs(site.id))
            schedule = SiteSchedule(site.code, chairs, hours.hours, slot_min=hours.slot_min)
            open_rows = uow.chair.list_sessions([site.id], open_only=True)
            open_by_patient = {r.patient_id: r for r in open_rows}
            for patient in uow.patients.search(frozenset({site.id}), limit=500):
                for series in uow.schedule.series_for(patient.id):
                    for visit in series.visits:
                        start, end = to_local(visit.starts_at, site), to_local(visit.ends_at, site)
                        reason = outside_hours_reason(schedule, start, end)
                        if reason is None:
                            continue
                        # The exception: the visit of a patient at a chair now, which is the
                        # visit their session fulfils.
                        assert patient.mrn in seated, (patient.mrn, visit.number, reason)
                        rows = [
                            r
                            for r in uow.chair.list_sessions([site.id])
                            if r.patient_id == patient.id
                        ]
                        row = max(rows, key=lambda r: r.checked_in_at)
                        linked = chair_visits.visit_of_session(uow, row)
                        assert linked is not None
                        assert linked.visit.id == visit.id
                        assert visit.starts_at <= row.checked_in_at < visit.ends_at
                        outside.append(patient.mrn)
            # A running infusion is today's, on its visit's day.
            for row in open_by_patient.values():
                linked = chair_visits.visit_of_session(uow, row)
                assert linked is not None
                assert linked.visit.local_day == to_local(row.checked_in_at, site).date()
    if local == "2026-11-25T14:00":  # a weekday afternoon: no exception needed
        assert outside == []


def test_on_a_wednesday_the_seats_keep_their_visit_numbers() -> None:
    day = dt.date(2026, 11, 25)
    assert [demo_intake.visit_number_today(s, day) for s in demo_chair.LAYOUT] == [
        s.visit_number for s in demo_chair.LAYOUT
    ]


def test_a_tuesday_cannot_hold_a_second_feder_visit_so_the_nearest_number_is_used() -> None:
    tuesday = dt.date(2026, 11, 24)
    number, days = demo_intake.at_chair_days(demo_intake.FEDER_2021, tuesday, 2)
    assert number == 1
    assert days[0] == tuesday
    assert all(d.weekday() < 5 for d in days)
    assert demo_intake.series_days(demo_intake.FEDER_2021, tuesday, 2) is None
