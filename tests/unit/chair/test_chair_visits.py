"""A session and its booked visit (services/chair_visits.py): check-in picks the patient's visit
of the day, completing or discharging marks it done, cancelling frees it; the end-of-induction
decision goes by the sessions once there are any. The clock stands on Monday 2026-03-02, 09:00
in Miami (conftest.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from ketaclinic.domain.discharge import AldreteScore
from ketaclinic.domain.errors import Conflict
from ketaclinic.domain.session_lifecycle import Transition
from ketaclinic.services import (
    chair_discharge,
    chair_mar,
    chair_sessions,
    chair_views,
    chair_visits,
    intake_review,
)
from ketaclinic.services.intake_common import to_utc
from ketaclinic.services.intake_models import InductionDecision, NewVisit, Series, TreatmentPlan

from .test_chair_services import check_in, clear_checklist

MONDAY = dt.date(2026, 3, 2)


def book(c, days_and_chairs: list[tuple[dt.date, str]], patient: int | None = None) -> Series:
    """A feder-2021 series of the patient with a visit 09:00–12:00 on each (day, chair)."""
    patient = patient or c.patient
    with c.uow() as uow:
        site = uow.sites.get(c.mia)
        chairs = {ch.code: ch.id for ch in uow.sites.chairs(c.mia)}
        prescriber = c.prescriber.principal.user_id
        plan = uow.schedule.add_plan(
            TreatmentPlan(
                0, patient, "feder-2021", 0.5, days_and_chairs[0][0], prescriber, c.clock.now()
            )
        )
        visits = [
            NewVisit(
                chairs[code],
                n,
                to_utc(dt.datetime.combine(day, dt.time(9)), site),
                to_utc(dt.datetime.combine(day, dt.time(12)), site),
                day,
            )
            for n, (day, code) in enumerate(days_and_chairs, start=1)
        ]
        series = uow.schedule.add_series(
            Series(0, patient, c.mia, plan.id, "feder-2021", prescriber, c.clock.now()), visits
        )
        uow.commit()
    return series


def link_of(c, sid: int):
    with c.uow() as uow:
        return uow.visit_links.for_session(sid)


def run_to_end(c, sid: int, *, complete: bool = True) -> None:
    c.minutes(2)
    clear_checklist(c, sid)
    with c.uow() as uow:
        chair_mar.start_infusion(
            uow, c.clock, c.nurse, c.passwords, sid, lot_number="L1", pump_id="P1"
        )
    c.minutes(40)
    with c.uow() as uow:
        if complete:
            chair_mar.complete(uow, c.clock, c.nurse, sid)
        else:
            chair_mar.stop(uow, c.clock, c.nurse, sid, "patient asked to stop")


def test_check_in_links_the_patients_visit_of_today_preferring_the_chair(clinic) -> None:
    c = clinic
    series = book(c, [(MONDAY - dt.timedelta(days=2), "MIA-1"), (MONDAY, "MIA-2")])
    sid = check_in(c, "MIA-1")  # seated elsewhere than booked: today's visit is still the one
    link = link_of(c, sid)
    assert link.visit_id == series.visits[1].id
    assert link.done_at is None
    with c.uow() as uow:
        detail = chair_views.session_detail(uow, c.clock, c.nurse, sid)
    assert (detail.visit.visit.number, detail.visit.of) == (2, 2)
    other = check_in(c, "MIA-2", c.patient2)  # no booking today: a session without a visit
    assert link_of(c, other) is None


def test_completing_marks_the_visit_done_and_cancelling_frees_it(clinic) -> None:
    c = clinic
    series = book(c, [(MONDAY, "MIA-1")])
    first = check_in(c)
    with c.uow() as uow:
        chair_sessions.transition(uow, c.clock, c.nurse, first, Transition.CANCEL, "came late")
    assert link_of(c, first) is None
    c.minutes(30)
    again = check_in(c)
    assert link_of(c, again).visit_id == series.visits[0].id
    run_to_end(c, again)
    link = link_of(c, again)
    assert link.done_at == c.clock.now()
    c.minutes(130)
    with c.uow() as uow:
        chair_sessions.transition(uow, c.clock, c.nurse, again, Transition.BEGIN_OBSERVATION)
    assert link_of(c, again).done_at == link.done_at  # the first time counts


def test_a_session_stopped_early_is_done_at_discharge(clinic) -> None:
    c = clinic
    book(c, [(MONDAY, "MIA-1")])
    sid = check_in(c)
    run_to_end(c, sid, complete=False)
    assert link_of(c, sid).done_at is None
    with c.uow() as uow:
        chair_sessions.transition(uow, c.clock, c.nurse, sid, Transition.BEGIN_OBSERVATION)
    c.minutes(121)
    with c.uow() as uow:
        chair_discharge.assess_discharge(
            uow,
            c.clock,
            c.nurse,
            sid,
            aldrete=AldreteScore(2, 2, 2, 2, 2),
            padss=None,
            escort_confirmed=True,
            mental_status_attested=True,
            dissociation_attested=True,
        )
    with c.uow() as uow:
        chair_discharge.discharge(uow, c.clock, c.nurse, sid)
    assert link_of(c, sid).done_at == c.clock.now()


def test_the_end_of_induction_goes_by_the_real_sessions(clinic) -> None:
    c = clinic
    saturday = MONDAY - dt.timedelta(days=2)
    series = book(c, [(saturday, "MIA-1"), (MONDAY, "MIA-1")])

    def review():
        with c.uow() as uow:
            return intake_review.induction_review(uow, c.clock, c.prescriber, c.patient, series.id)

    sid = check_in(c)
    c.minutes(200)  # 12:20: the booked end (12:00) has passed, the infusion has not started
    assert not review().finished
    with c.uow() as uow, pytest.raises(Conflict, match="decide after it"):
        intake_review.record_induction_decision(
            uow, c.clock, c.prescriber, c.patient, series.id, InductionDecision.CONTINUE
        )
    run_to_end(c, sid)
    found = review()
    assert found.finished
    assert found.given == 1
    assert found.first_infusion == MONDAY  # Saturday's visit had no session
    with c.uow() as uow:
        decided = intake_review.record_induction_decision(
            uow, c.clock, c.prescriber, c.patient, series.id, InductionDecision.MAINTENANCE
        )
    assert decided.decision is InductionDecision.MAINTENANCE


def test_the_series_sessions_pair_each_visit_with_its_session(clinic) -> None:
    c = clinic
    series = book(c, [(MONDAY, "MIA-1"), (MONDAY + dt.timedelta(days=2), "MIA-1")])
    sid = check_in(c)
    run_to_end(c, sid)
    with c.uow() as uow:
        pairs = chair_visits.series_sessions(uow, series)
    assert [(p.visit.number, p.session.id if p.session else None, p.given) for p in pairs] == [
        (1, sid, True),
        (2, None, False),
    ]
