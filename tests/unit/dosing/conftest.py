"""A small clinic in memory for the dosing services: two sites, named staff, a few patients.

Personas: ``prescriber`` (Dr Pia, MIA), ``prescriber2`` (Dr Quinn, MIA), ``nurse`` (Nora, MIA),
``director`` (MIA), ``frontdesk`` (MIA), ``nurse_fll`` (FLL). Patients: ``adam`` (male,
175 cm, 100 kg after 99 kg: REFERENCE.md §3.2's worked example), ``beth`` (female, 160 cm,
50 kg, so IBW 52.4 kg exceeds her weight), ``cas`` (sex "other", 70 kg), ``dora`` (no weight
yet), ``fll`` (a patient of the other site).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from ketaclinic.adapters.memory import MemoryUnitOfWorkFactory
from ketaclinic.domain.people import BodyMeasurement, NewPatient, Role, Sex
from ketaclinic.services.audit import Actor
from ketaclinic.services.auth import principal_of
from ketaclinic.services.ports import FixedClock

NOW = dt.datetime(2026, 11, 24, 14, 0, tzinfo=dt.UTC)


@dataclass
class Clinic:
    uow: MemoryUnitOfWorkFactory
    clock: FixedClock
    actors: dict[str, Actor]
    patients: dict[str, int]
    sites: dict[str, int]

    def actor(self, name: str) -> Actor:
        return self.actors[name]

    def user_id(self, name: str) -> int:
        principal = self.actors[name].principal
        assert principal is not None
        return principal.user_id

    def audit(self, resource: str | None = None) -> list[tuple[str, str, str, str]]:
        """(action, resource, outcome, detail) of every audit entry, oldest first."""
        with self.uow() as uow:
            return [
                (e.record.action.value, e.record.resource, e.record.outcome.value, e.record.detail)
                for e in uow.audit.entries()
                if resource is None or e.record.resource == resource
            ]

    def weigh(self, patient: str, weight_kg: float, hours_ago: float = 0.0) -> None:
        with self.uow() as uow:
            uow.patients.add_measurement(
                BodyMeasurement(
                    self.patients[patient],
                    self.clock.now() - dt.timedelta(hours=hours_ago),
                    weight_kg,
                    None,
                )
            )
            uow.commit()


@pytest.fixture
def clinic() -> Clinic:
    factory = MemoryUnitOfWorkFactory()
    clock = FixedClock(NOW)
    with factory() as uow:
        mia = uow.sites.add("MIA", "Miami", "America/New_York")
        fll = uow.sites.add("FLL", "Fort Lauderdale", "America/New_York")
        staff = {
            "prescriber": ("dr.pia", Role.PRESCRIBER, mia.id),
            "prescriber2": ("dr.quinn", Role.PRESCRIBER, mia.id),
            "nurse": ("nora", Role.NURSE, mia.id),
            "director": ("dir.mia", Role.DIRECTOR, mia.id),
            "frontdesk": ("desk.mia", Role.FRONT_DESK, mia.id),
            "nurse_fll": ("nurse.fll", Role.NURSE, fll.id),
        }
        actors = {}
        for key, (username, role, site_id) in staff.items():
            user = uow.users.add(username, username, role, frozenset({site_id}), "unused-hash")
            actors[key] = Actor(principal_of(user), "test")
        people = {
            "adam": (mia.id, Sex.MALE, [(99.0, 175.0, 24 * 42), (100.0, 175.0, 2)]),
            "beth": (mia.id, Sex.FEMALE, [(50.0, 160.0, 2)]),
            "cas": (mia.id, Sex.OTHER, [(70.0, 170.0, 2)]),
            "dora": (mia.id, Sex.FEMALE, []),
            "fll": (fll.id, Sex.MALE, [(80.0, 180.0, 2)]),
        }
        patients = {}
        for number, (name, (site_id, sex, weights)) in enumerate(people.items(), start=1):
            patient = uow.patients.add(
                NewPatient(site_id, f"T-{number}", name.title(), "Test", dt.date(1980, 5, 1), sex),
                NOW - dt.timedelta(days=90),
            )
            patients[name] = patient.id
            for weight_kg, height_cm, hours_ago in weights:
                uow.patients.add_measurement(
                    BodyMeasurement(
                        patient.id, NOW - dt.timedelta(hours=hours_ago), weight_kg, height_cm
                    )
                )
        uow.commit()
    return Clinic(factory, clock, actors, patients, {"MIA": mia.id, "FLL": fll.id})
