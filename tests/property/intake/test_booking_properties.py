"""Whatever the order and timing of bookings, the schedule stays valid
(services/intake_schedule.book_series on the in-memory store).

Invariants after any sequence of series bookings at random times and start dates:
no chair holds two overlapping visits; every visit lies within the site's opening hours in site
time; no visit starts before the moment it was booked; a patient has at most one visit a day.
"""

from __future__ import annotations

import datetime as dt
from itertools import combinations
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from ketaclinic.adapters.memory import MemoryUnitOfWorkFactory
from ketaclinic.domain.eligibility import Decision, evaluate
from ketaclinic.domain.errors import Conflict
from ketaclinic.domain.intake import IntakeRecord
from ketaclinic.domain.people import NewPatient, Principal, Role, Sex
from ketaclinic.domain.scheduling import OpeningHours
from ketaclinic.services import intake_schedule
from ketaclinic.services.audit import Actor
from ketaclinic.services.intake_models import (
    ClinicHours,
    ConsentText,
    EligibilitySignoff,
    IntakeNotes,
    PatientConsent,
    StoredIntake,
    TreatmentPlan,
)
from ketaclinic.services.ports import FixedClock

MIAMI = ZoneInfo("America/New_York")
START = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)  # Monday, 07:00 in Miami
OPEN, CLOSE = dt.time(8), dt.time(18)
PATIENTS = 5


def clinic() -> tuple[MemoryUnitOfWorkFactory, FixedClock, Actor, list[int]]:
    factory, clock = MemoryUnitOfWorkFactory(), FixedClock(START)
    with factory() as uow:
        site = uow.sites.add("MIA", "Miami", "America/New_York")
        for n in (1, 2, 3):
            uow.sites.add_chair(site.id, f"MIA-{n}", f"Chair {n}")
        user = uow.users.add("desk", "Desk", Role.FRONT_DESK, frozenset({site.id}), "h")
        uow.schedule.set_hours(
            ClinicHours(site.id, tuple(OpeningHours(d, OPEN, CLOSE) for d in range(5)), 15)
        )
        version = uow.intake.add_consent_version(ConsentText("text"), None, START)
        patients = []
        for n in range(PATIENTS):
            patient = uow.patients.add(
                NewPatient(site.id, f"P-{n}", "A", "B", dt.date(1980, 1, 1), Sex.FEMALE), START
            )
            record = IntakeRecord(
                dt.date(2026, 11, 20), 46, Sex.FEMALE, 70.0, 165.0, dt.date(2024, 1, 1), False,
                120, 80, 70, 98, (2,) * 20, (0,) * 9, frozenset(), (),
            )  # fmt: skip
            assert evaluate(record).decision is Decision.ELIGIBLE
            intake = uow.intake.add_intake(
                StoredIntake(
                    0,
                    patient.id,
                    record,
                    IntakeNotes(),
                    Decision.ELIGIBLE,
                    (),
                    (),
                    False,
                    None,
                    user.id,
                    START,
                )
            )
            uow.intake.add_signoff(
                EligibilitySignoff(
                    0, intake.id, patient.id, Decision.ELIGIBLE, Decision.ELIGIBLE, user.id, START
                )
            )
            uow.intake.add_consent(
                PatientConsent(0, patient.id, version.id, 1, "en", "A B", user.id, START)
            )
            protocol = "feder-2021" if n % 2 else "abdallah-2022"
            uow.schedule.add_plan(
                TreatmentPlan(0, patient.id, protocol, 0.5, START.date(), user.id, START)
            )
            patients.append(patient.id)
        uow.commit()
    actor = Actor(Principal(user.id, "desk", Role.FRONT_DESK, frozenset({site.id})))
    return factory, clock, actor, patients


bookings = st.lists(
    st.tuples(
        st.integers(0, PATIENTS - 1),
        st.integers(0, 9),  # start this many days after "today"
        st.integers(0, 12 * 60),  # minutes the clock moves on before the booking
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=40)
@given(bookings)
def test_bookings_never_overlap_and_stay_within_hours(plan: list[tuple[int, int, int]]) -> None:
    factory, clock, actor, patients = clinic()
    booked_at: dict[int, dt.datetime] = {}
    for index, offset, wait in plan:
        clock.advance(minutes=wait)
        today = clock.now().astimezone(MIAMI).date()
        try:
            with factory() as uow:
                series = intake_schedule.book_series(
                    uow, clock, actor, patients[index], today + dt.timedelta(days=offset)
                )
        except Conflict:
            continue  # a full day or a patient already booked that day: refused, nothing stored
        for visit in series.visits:
            booked_at[visit.id] = clock.now()
    with factory() as uow:
        visits = [v for p in patients for v in uow.schedule.patient_visits(p)]
    for visit in visits:
        start, end = visit.starts_at.astimezone(MIAMI), visit.ends_at.astimezone(MIAMI)
        assert start.date() == end.date() == visit.local_day
        assert start.weekday() < 5
        assert start.time() >= OPEN
        assert end.time() <= CLOSE
        assert visit.starts_at >= booked_at[visit.id]
    for a, b in combinations(visits, 2):
        if a.chair_id == b.chair_id:
            assert a.ends_at <= b.starts_at or b.ends_at <= a.starts_at
        if a.patient_id == b.patient_id:
            assert a.local_day != b.local_day
