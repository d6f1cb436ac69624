"""A small clinic in memory for the intake services: sites MIA and FLL with two chairs each, one
user per role per site, two patients at MIA and one at FLL, Monday–Friday 08:00–18:00 hours and
consent version 1. The clock stands on Monday 2026-11-23, 07:00 in Miami (12:00 UTC)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pytest

from ketaclinic.adapters.memory import MemoryUnitOfWorkFactory
from ketaclinic.domain.people import NewPatient, Principal, Role, Sex
from ketaclinic.domain.scheduling import OpeningHours
from ketaclinic.services import intake_assessment, intake_consent, intake_plans
from ketaclinic.services.audit import Actor
from ketaclinic.services.intake_models import ClinicHours, ConsentText, IntakeNotes
from ketaclinic.services.ports import FixedClock

MONDAY_7AM_MIAMI = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
HOURS = tuple(OpeningHours(day, dt.time(8), dt.time(18)) for day in range(5))


@dataclass
class Clinic:
    uow: MemoryUnitOfWorkFactory
    clock: FixedClock
    mia: int
    fll: int
    chairs: dict[str, int]
    actors: dict[str, Actor]
    patients: dict[str, int] = field(default_factory=dict)

    def actor(self, name: str) -> Actor:
        return self.actors[name]

    def denied(self) -> int:
        with self.uow() as uow:
            return sum(1 for e in uow.audit.entries() if e.record.action.value == "denied")

    @staticmethod
    def intake_json(**changes: Any) -> dict[str, Any]:
        """A complete, eligible intake for P-1 (born 1980-05-17, female) on 2026-11-20."""
        data: dict[str, Any] = {
            "assessment_date": "2026-11-20",
            "weight_kg": 70.0,
            "height_cm": 165.0,
            "trauma_date": "2024-06-01",
            "pregnant": False,
            "bp_systolic": 122,
            "bp_diastolic": 78,
            "heart_rate": 70,
            "spo2": 98,
            "pcl5": [2] * 20,
            "phq9": [1] * 8 + [0],
            "conditions": [],
            "medications": ["sertraline"],
        }
        data.update(changes)
        return data

    def record(self, mrn: str = "P-1", who: str = "nurse.mia", **changes: Any) -> Any:
        """Record an intake (weight confirmed) and return the stored intake."""
        with self.uow() as uow:
            return intake_assessment.record_intake(
                uow,
                self.clock,
                self.actor(who),
                self.patients[mrn],
                self.intake_json(**changes),
                IntakeNotes("notes", "", "none"),
                weight_confirmed=True,
            )

    def clear(self, mrn: str = "P-1", protocol: str = "feder-2021") -> None:
        """Intake, signed eligible, consent on the version in force, and a signed plan."""
        site = "mia" if mrn != "P-3" else "fll"
        stored = self.record(mrn, f"nurse.{site}")
        patient_id = self.patients[mrn]
        with self.uow() as uow:
            intake_assessment.sign_eligibility(
                uow, self.clock, self.actor(f"prescriber.{site}"), patient_id, stored.id
            )
        with self.uow() as uow:
            intake_consent.record_consent(
                uow, self.clock, self.actor(f"nurse.{site}"), patient_id, None, "Sig", "en"
            )
        with self.uow() as uow:
            intake_plans.sign_plan(
                uow,
                self.clock,
                self.actor(f"prescriber.{site}"),
                patient_id,
                protocol_id=protocol,
                dose_mg_per_kg=0.5,
                start_date=dt.date(2026, 11, 23),
            )


@pytest.fixture
def clinic() -> Clinic:
    factory = MemoryUnitOfWorkFactory()
    clock = FixedClock(MONDAY_7AM_MIAMI)
    with factory() as uow:
        mia = uow.sites.add("MIA", "Miami", "America/New_York")
        fll = uow.sites.add("FLL", "Fort Lauderdale", "America/New_York")
        chairs = {
            code: uow.sites.add_chair(site.id, code, code).id
            for site in (mia, fll)
            for code in (f"{site.code}-1", f"{site.code}-2")
        }
        actors: dict[str, Actor] = {}
        for role in Role:
            for site in (mia, fll):
                name = f"{role.value}.{site.code.lower()}"
                user = uow.users.add(name, name, role, frozenset({site.id}), "hash")
                actors[name] = Actor(Principal(user.id, name, role, frozenset({site.id})), "test")
        patients = {}
        for mrn, site, sex, birth in (
            ("P-1", mia, Sex.FEMALE, dt.date(1980, 5, 17)),
            ("P-2", mia, Sex.MALE, dt.date(1975, 1, 2)),
            ("P-3", fll, Sex.FEMALE, dt.date(1990, 3, 3)),
        ):
            patient = uow.patients.add(
                NewPatient(site.id, mrn, "Given", f"Family{mrn[-1]}", birth, sex), clock.now()
            )
            patients[mrn] = patient.id
        for site in (mia, fll):
            uow.schedule.set_hours(ClinicHours(site.id, HOURS, 15))
        uow.intake.add_consent_version(ConsentText("Consent text", "Texto"), None, clock.now())
        uow.commit()
    return Clinic(factory, clock, mia.id, fll.id, chairs, actors, patients)
