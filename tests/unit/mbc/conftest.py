"""A small clinic in memory for the measurement-based-care service tests: sites MIA and FLL,
one user per role at MIA (prescribers with e-mail), a prescriber at FLL, two patients; and
helpers that store what the chair and the schedule would (plans, booked series, infusion
sessions that started), written straight through the ports."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo

import pytest

from ketaclinic.adapters.memory import MemoryUnitOfWorkFactory
from ketaclinic.adapters.memory_mbc import MemoryNotifier
from ketaclinic.domain.people import NewPatient, Principal, Role, Sex
from ketaclinic.domain.session_lifecycle import SessionState
from ketaclinic.services.audit import Actor
from ketaclinic.services.chair_ports import NewSession
from ketaclinic.services.intake_models import NewVisit, Series, TreatmentPlan
from ketaclinic.services.ports import FixedClock

MIAMI = ZoneInfo("America/New_York")
CHAIR_NUMBERS = itertools.count(1)

# 14:00 UTC = 09:00 in Miami (EST) on a weekday.
T0 = dt.datetime(2026, 11, 20, 14, 0, tzinfo=dt.UTC)


@dataclass
class World:
    uow: MemoryUnitOfWorkFactory
    clock: FixedClock
    notifier: MemoryNotifier
    mia: int
    fll: int
    patient: int
    fll_patient: int
    actors: dict[str, Actor]
    user_ids: dict[str, int]

    def actor(self, username: str) -> Actor:
        return self.actors[username]

    def plan(self, patient_id: int, protocol_id: str, signed_at: dt.datetime = T0) -> int:
        """A signed plan (no series booked)."""
        with self.uow() as uow:
            plan = uow.schedule.add_plan(
                TreatmentPlan(
                    0,
                    patient_id,
                    protocol_id,
                    0.5,
                    signed_at.date(),
                    self.user_ids["prescriber.mia"],
                    signed_at,
                )
            )
            uow.commit()
        return plan.id

    def book(
        self, patient_id: int, protocol_id: str, starts: list[dt.datetime], minutes: int = 150
    ) -> Series:
        """A series under a new signed plan with one visit per start (UTC), on a chair of the
        patient's site made for it."""
        plan_id = self.plan(patient_id, protocol_id, min(starts) - dt.timedelta(days=3))
        with self.uow() as uow:
            patient = uow.patients.get(patient_id)
            chair = uow.sites.add_chair(patient.site_id, f"C-{next(CHAIR_NUMBERS)}", "C")
            series = uow.schedule.add_series(
                Series(
                    0,
                    patient_id,
                    patient.site_id,
                    plan_id,
                    protocol_id,
                    self.user_ids["frontdesk.mia"],
                    min(starts) - dt.timedelta(days=2),
                ),
                [
                    NewVisit(
                        chair.id,
                        n,
                        at,
                        at + dt.timedelta(minutes=minutes),
                        at.astimezone(MIAMI).date(),
                    )
                    for n, at in enumerate(sorted(starts), start=1)
                ],
            )
            uow.commit()
            booked = uow.schedule.get_series(series.id)
        assert booked is not None
        return booked

    def infuse(
        self, patient_id: int, started_at: dt.datetime, protocol_id: str = "feder-2021"
    ) -> int:
        """An infusion session that started at ``started_at`` and was discharged."""
        with self.uow() as uow:
            patient = uow.patients.get(patient_id)
            chair = uow.sites.add_chair(patient.site_id, f"S-{next(CHAIR_NUMBERS)}", "S")
            row = uow.chair.add_session(
                NewSession(
                    patient_id,
                    patient.site_id,
                    chair.id,
                    protocol_id,
                    False,
                    started_at - dt.timedelta(minutes=30),
                    self.user_ids["nurse.mia"],
                )
            )
            uow.chair.save_session(
                replace(
                    row,
                    state=SessionState.DISCHARGED,
                    infusion_started_at=started_at,
                    infusion_ended_at=started_at + dt.timedelta(minutes=40),
                    closed_at=started_at + dt.timedelta(hours=3),
                )
            )
            uow.commit()
        return row.id


@pytest.fixture
def world() -> World:
    """The clock stands at ``T0``: 2026-11-20 14:00 UTC, 09:00 in Miami."""
    factory = MemoryUnitOfWorkFactory()
    with factory() as uow:
        mia = uow.sites.add("MIA", "Miami", "America/New_York")
        fll = uow.sites.add("FLL", "Fort Lauderdale", "America/New_York")
        users = {
            "frontdesk.mia": (Role.FRONT_DESK, mia.id, ""),
            "nurse.mia": (Role.NURSE, mia.id, "nurse.mia@example.invalid"),
            "prescriber.mia": (Role.PRESCRIBER, mia.id, "prescriber.mia@example.invalid"),
            "prescriber2.mia": (Role.PRESCRIBER, mia.id, "second.mia@example.invalid"),
            "director.mia": (Role.DIRECTOR, mia.id, "director.mia@example.invalid"),
            "prescriber.fll": (Role.PRESCRIBER, fll.id, "prescriber.fll@example.invalid"),
            "director.fll": (Role.DIRECTOR, fll.id, ""),
        }
        actors: dict[str, Actor] = {}
        user_ids: dict[str, int] = {}
        for username, (role, site_id, email) in users.items():
            user = uow.users.add(username, username, role, frozenset({site_id}), "x", email)
            actors[username] = Actor(Principal(user.id, username, role, user.site_ids), "test")
            user_ids[username] = user.id
        p1 = uow.patients.add(
            NewPatient(
                mia.id,
                "MRN-SECRET-1",
                "Ana",
                "Ocampo",
                dt.date(1980, 1, 2),
                Sex.FEMALE,
                email="ana@example.invalid",
                preferred_language="es",
            ),
            T0,
        )
        p2 = uow.patients.add(
            NewPatient(fll.id, "MRN-2", "Bea", "Redfern", dt.date(1981, 1, 2), Sex.FEMALE), T0
        )
        uow.commit()
    return World(
        uow=factory,
        clock=FixedClock(T0),
        notifier=MemoryNotifier(),
        mia=mia.id,
        fll=fll.id,
        patient=p1.id,
        fll_patient=p2.id,
        actors=actors,
        user_ids=user_ids,
    )
