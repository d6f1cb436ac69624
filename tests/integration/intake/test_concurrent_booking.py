"""Many front-desk requests booking the same chairs at once never double-book
(services/intake_schedule on SQLite and PostgreSQL, one thread per request).

The site has 2 chairs open 08:00–18:00; a feder-2021 visit holds a chair 180 min, so a day takes
six visits. Eight patients ask for the same series dates at the same moment: exactly six series
must be booked, two refused as full, and no chair may hold two overlapping visits.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from itertools import combinations

from ketaclinic.adapters.db.uow import SqlUnitOfWorkFactory
from ketaclinic.domain.eligibility import Decision
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

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)  # Monday, 07:00 in Miami
START = dt.date(2026, 11, 30)  # the Monday after
PATIENTS = 8
CAPACITY = 6  # 2 chairs × 3 visits of 180 min in 10 opening hours


def seed(factory: SqlUnitOfWorkFactory) -> tuple[Actor, list[int]]:
    with factory() as uow:
        site = uow.sites.add("MIA", "Miami", "America/New_York")
        for n in (1, 2):
            uow.sites.add_chair(site.id, f"MIA-{n}", f"Chair {n}")
        user = uow.users.add("desk.mia", "Desk", Role.FRONT_DESK, frozenset({site.id}), "h")
        hours = tuple(OpeningHours(d, dt.time(8), dt.time(18)) for d in range(5))
        uow.schedule.set_hours(ClinicHours(site.id, hours, 15))
        version = uow.intake.add_consent_version(ConsentText("text"), None, NOW)
        record = IntakeRecord(
            dt.date(2026, 11, 20), 46, Sex.FEMALE, 70.0, 165.0, dt.date(2024, 1, 1), False,
            120, 80, 70, 98, (2,) * 20, (0,) * 9, frozenset(), (),
        )  # fmt: skip
        patients = []
        for n in range(PATIENTS):
            patient = uow.patients.add(
                NewPatient(site.id, f"P-{n}", "A", "B", dt.date(1980, 1, 1), Sex.FEMALE), NOW
            )
            intake = uow.intake.add_intake(
                StoredIntake(
                    0, patient.id, record, IntakeNotes(), Decision.ELIGIBLE, (), (), False, None,
                    user.id, NOW,
                )
            )  # fmt: skip
            uow.intake.add_signoff(
                EligibilitySignoff(
                    0, intake.id, patient.id, Decision.ELIGIBLE, Decision.ELIGIBLE, user.id, NOW
                )
            )
            uow.intake.add_consent(
                PatientConsent(0, patient.id, version.id, 1, "en", "A B", user.id, NOW)
            )
            uow.schedule.add_plan(
                TreatmentPlan(0, patient.id, "feder-2021", 0.5, START, user.id, NOW)
            )
            patients.append(patient.id)
        uow.commit()
    return Actor(Principal(user.id, "desk.mia", Role.FRONT_DESK, frozenset({site.id}))), patients


def run_together(jobs: list[Callable[[], object]]) -> list[object]:
    """Start every job at the same moment on its own thread; return results or exceptions."""
    barrier = threading.Barrier(len(jobs))
    results: list[object] = [None] * len(jobs)

    def work(index: int) -> None:
        barrier.wait()
        try:
            results[index] = jobs[index]()
        except Exception as error:
            results[index] = error

    threads = [threading.Thread(target=work, args=(n,)) for n in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def no_overlaps(factory: SqlUnitOfWorkFactory, patients: list[int]) -> list[object]:
    with factory() as uow:
        visits = [v for p in patients for v in uow.schedule.patient_visits(p)]
    for a, b in combinations(visits, 2):
        if a.chair_id == b.chair_id:
            assert a.ends_at <= b.starts_at or b.ends_at <= a.starts_at, (a, b)
    return visits  # type: ignore[return-value]


def test_concurrent_series_bookings_fill_the_chairs_and_never_double_book(
    factory: SqlUnitOfWorkFactory,
) -> None:
    actor, patients = seed(factory)
    clock = FixedClock(NOW)

    def booking(patient_id: int) -> Callable[[], object]:
        def book() -> object:
            with factory() as uow:
                return intake_schedule.book_series(uow, clock, actor, patient_id, START)

        return book

    results = run_together([booking(p) for p in patients])
    booked = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(booked) == CAPACITY
    assert len(refused) == PATIENTS - CAPACITY
    assert all(
        isinstance(r, Conflict) and "every chair (2) is booked" in r.message for r in refused
    )
    visits = no_overlaps(factory, patients)
    assert len(visits) == CAPACITY * 6  # every booked series is whole; refused ones left nothing


def test_concurrent_moves_to_one_free_slot_let_exactly_one_through(
    factory: SqlUnitOfWorkFactory,
) -> None:
    actor, patients = seed(factory)
    clock = FixedClock(NOW)
    series = {}
    for patient_id in patients[:4]:
        with factory() as uow:
            series[patient_id] = intake_schedule.book_series(uow, clock, actor, patient_id, START)

    def mover(patient_id: int) -> Callable[[], object]:
        def move() -> object:
            with factory() as uow:
                # Everyone wants Friday's last infusion at 14:00 on chair MIA-2.
                return intake_schedule.reschedule_visit(
                    uow, clock, actor, patient_id, series[patient_id].id, 3,
                    dt.date(2026, 12, 4), at=dt.time(14, 0), chair_code="MIA-2",
                )  # fmt: skip

        return move

    results = run_together([mover(p) for p in patients[:4]])
    moved = [r for r in results if not isinstance(r, Exception)]
    assert len(moved) == 1
    assert all(isinstance(r, Conflict) for r in results if isinstance(r, Exception))
    no_overlaps(factory, patients)
