"""One contract for the session ↔ visit link (``uow.visit_links``): the in-memory fake, SQLite
and PostgreSQL behave the same — one visit per session and one session per visit, done marked
once, unlinking, rollback, and (on the databases) a visit taken off the schedule takes its link
with it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from ketaclinic.domain.errors import Conflict
from ketaclinic.domain.people import NewPatient, Role, Sex
from ketaclinic.services.chair_ports import NewSession
from ketaclinic.services.intake_models import NewVisit, Series, TreatmentPlan

T0 = dt.datetime(2026, 11, 23, 14, 0, tzinfo=dt.UTC)


@dataclass
class Seed:
    sessions: list[int]
    visits: list[int]


def seed(factory) -> Seed:
    """Two patients at MIA, each with a one-visit series today and an open session."""
    with factory() as uow:
        mia = uow.sites.add("MIA", "Miami", "America/New_York")
        chairs = [uow.sites.add_chair(mia.id, f"MIA-{n}", f"Chair {n}").id for n in (1, 2)]
        user = uow.users.add("nurse.a", "Nurse A", Role.PRESCRIBER, frozenset({mia.id}), "hash")
        sessions, visits = [], []
        for n, chair in enumerate(chairs, start=1):
            patient = uow.patients.add(
                NewPatient(mia.id, f"P-{n}", "Ana", "Redfern", dt.date(1980, 1, 2), Sex.FEMALE), T0
            ).id
            plan = uow.schedule.add_plan(
                TreatmentPlan(0, patient, "feder-2021", 0.5, T0.date(), user.id, T0)
            )
            series = uow.schedule.add_series(
                Series(0, patient, mia.id, plan.id, "feder-2021", user.id, T0),
                [NewVisit(chair, 1, T0, T0 + dt.timedelta(hours=3), T0.date())],
            )
            visits.append(series.visits[0].id)
            sessions.append(
                uow.chair.add_session(
                    NewSession(patient, mia.id, chair, "feder-2021", False, T0, user.id)
                ).id
            )
        uow.commit()
    return Seed(sessions, visits)


def test_a_link_round_trips_and_is_marked_done_once(uow_factory) -> None:
    s = seed(uow_factory)
    with uow_factory() as uow:
        link = uow.visit_links.link(s.sessions[0], s.visits[0], T0)
        uow.commit()
    assert (link.session_id, link.visit_id, link.linked_at, link.done_at) == (
        s.sessions[0],
        s.visits[0],
        T0,
        None,
    )
    with uow_factory() as uow:
        assert uow.visit_links.for_session(s.sessions[0]) == link
        assert uow.visit_links.for_session(s.sessions[1]) is None
        assert uow.visit_links.for_visits(s.visits) == {s.visits[0]: link}
        assert uow.visit_links.for_visits([]) == {}
        done = uow.visit_links.mark_done(s.sessions[0], T0 + dt.timedelta(minutes=45))
        again = uow.visit_links.mark_done(s.sessions[0], T0 + dt.timedelta(minutes=200))
        assert uow.visit_links.mark_done(s.sessions[1], T0) is None  # no visit: nothing to mark
        uow.commit()
    assert done.done_at == again.done_at == T0 + dt.timedelta(minutes=45)
    with uow_factory() as uow:
        assert uow.visit_links.for_session(s.sessions[0]).done_at == done.done_at


def test_a_session_fulfils_one_visit_and_a_visit_one_session(uow_factory) -> None:
    s = seed(uow_factory)
    with uow_factory() as uow:
        uow.visit_links.link(s.sessions[0], s.visits[0], T0)
        uow.commit()
    with uow_factory() as uow:
        with pytest.raises(Conflict):
            uow.visit_links.link(s.sessions[1], s.visits[0], T0)
        with pytest.raises(Conflict):
            uow.visit_links.link(s.sessions[0], s.visits[1], T0)
        # A refused link leaves the transaction usable.
        uow.visit_links.link(s.sessions[1], s.visits[1], T0)
        uow.commit()
    with uow_factory() as uow:
        assert set(uow.visit_links.for_visits(s.visits)) == set(s.visits)


def test_unlinking_frees_the_visit_and_uncommitted_links_roll_back(uow_factory) -> None:
    s = seed(uow_factory)
    with uow_factory() as uow:
        uow.visit_links.link(s.sessions[0], s.visits[0], T0)
        uow.commit()
    with uow_factory() as uow:
        uow.visit_links.unlink(s.sessions[0])
        uow.visit_links.unlink(s.sessions[1])  # nothing to unlink: no error
        uow.visit_links.link(s.sessions[1], s.visits[0], T0)
        uow.commit()
    with uow_factory() as uow:
        assert uow.visit_links.for_session(s.sessions[0]) is None
        assert uow.visit_links.for_visits([s.visits[0]])[s.visits[0]].session_id == s.sessions[1]
        uow.visit_links.link(s.sessions[0], s.visits[1], T0)  # never committed
    with uow_factory() as uow:
        assert uow.visit_links.for_session(s.sessions[0]) is None


def test_a_visit_taken_off_the_schedule_leaves_the_session_without_a_visit(uow_factory) -> None:
    from ketaclinic.services import chair_visits

    s = seed(uow_factory)
    with uow_factory() as uow:
        uow.visit_links.link(s.sessions[0], s.visits[0], T0)
        uow.commit()
    with uow_factory() as uow:
        row = uow.chair.get_session(s.sessions[0])
        assert chair_visits.visit_of_session(uow, row).visit.id == s.visits[0]
        user = uow.users.by_username("nurse.a")
        uow.schedule.cancel_visit(s.visits[0], user.id, T0, "patient ill")  # no error
        uow.commit()
    with uow_factory() as uow:
        row = uow.chair.get_session(s.sessions[0])
        assert chair_visits.visit_of_session(uow, row) is None
