"""A small clinic in memory for the chair's service tests: sites MIA and FLL with two chairs
each, one staff member per role (and a second nurse) at MIA, a nurse at FLL, and patients with
a weight history. Time is a FixedClock the tests move by hand. Personas: Mia the nurse, Max the
second nurse, Pia the prescriber, Dora the director, Fred at the front desk, Flo the FLL nurse.

Every patient is on record as cleared for treatment (:func:`put_on_record`: consent to the
version in force, an intake signed eligible), which the chair reads at the start; tests about
the record take it away again or start from a patient who is not.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from argon2 import PasswordHasher

from ketaclinic.adapters.memory import MemoryUnitOfWorkFactory
from ketaclinic.domain.eligibility import Decision, evaluate
from ketaclinic.domain.intake import IntakeRecord
from ketaclinic.domain.people import BodyMeasurement, NewPatient, Principal, Role, Sex
from ketaclinic.services.audit import Actor
from ketaclinic.services.auth import Passwords
from ketaclinic.services.intake_models import (
    ConsentText,
    EligibilitySignoff,
    IntakeNotes,
    PatientConsent,
    StoredIntake,
    StoredReason,
)
from ketaclinic.services.ports import FixedClock, UnitOfWork

T0 = dt.datetime(2026, 3, 2, 14, 0, tzinfo=dt.UTC)
PASSWORD = "correct horse battery"


@dataclass
class Clinic:
    uow: MemoryUnitOfWorkFactory
    clock: FixedClock
    passwords: Passwords
    mia: int
    fll: int
    nurse: Actor
    nurse2: Actor
    prescriber: Actor
    director: Actor
    front_desk: Actor
    fll_nurse: Actor
    patient: int  # at MIA, 80 kg
    patient2: int  # at MIA, 70 kg
    fll_patient: int

    def minutes(self, n: float) -> None:
        self.clock.advance(minutes=n)


def put_on_record(
    uow: UnitOfWork,
    patient_id: int,
    *,
    nurse: int,
    prescriber: int,
    at: dt.datetime,
    consent: bool = True,
    decision: Decision | None = Decision.ELIGIBLE,
) -> StoredIntake:
    """An intake of the patient assessed a week before ``at`` (eligible by the engine), signed
    ``decision`` by ``prescriber`` (``None``: not signed), and, with ``consent``, the patient's
    consent to the version in force (written first if the clinic has none)."""
    patient = uow.patients.get(patient_id)
    assert patient is not None
    assessed = (at - dt.timedelta(days=7)).date()
    record = IntakeRecord(
        assessment_date=assessed,
        age_years=patient.age_on(assessed),
        sex=patient.sex,
        weight_kg=80.0,
        height_cm=168.0,
        trauma_date=assessed - dt.timedelta(days=900),
        pregnant=False,
        bp_systolic=122,
        bp_diastolic=78,
        heart_rate=70,
        spo2=98,
        pcl5=(2,) * 20,
        phq9=(1,) * 8 + (0,),
        conditions=frozenset(),
        medications=(),
    )
    result = evaluate(record)
    intake = uow.intake.add_intake(
        StoredIntake(
            0,
            patient_id,
            record,
            IntakeNotes(),
            result.decision,
            tuple(
                StoredReason(r.code, r.rule.rule_class.value, r.action.value, r.message, r.source)
                for r in result.reasons
            ),
            (),
            False,
            None,
            nurse,
            at - dt.timedelta(days=7),
        )
    )
    if decision is not None:
        uow.intake.add_signoff(
            EligibilitySignoff(0, intake.id, patient_id, decision, result.decision, prescriber, at)
        )
    if consent:
        versions = uow.intake.consent_versions()
        version = (
            versions[0]
            if versions
            else uow.intake.add_consent_version(
                ConsentText("Our consent text."), None, at - dt.timedelta(days=30)
            )
        )
        uow.intake.add_consent(
            PatientConsent(0, patient_id, version.id, version.version, "en", "A Patient", nurse, at)
        )
    return intake


@pytest.fixture
def clinic() -> Clinic:
    factory = MemoryUnitOfWorkFactory()
    passwords = Passwords(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    clock = FixedClock(T0)
    with factory() as uow:
        mia = uow.sites.add("MIA", "Miami", "America/New_York")
        fll = uow.sites.add("FLL", "Fort Lauderdale", "America/New_York")
        for site, code in ((mia, "MIA"), (fll, "FLL")):
            for n in (1, 2):
                uow.sites.add_chair(site.id, f"{code}-{n}", f"Chair {n}")

        def staff(name: str, role: Role, site_id: int) -> Actor:
            user = uow.users.add(name, name, role, frozenset({site_id}), passwords.hash(PASSWORD))
            return Actor(Principal(user.id, name, role, frozenset({site_id})), "test")

        def patient(mrn: str, site_id: int, weight: float) -> int:
            p = uow.patients.add(
                NewPatient(site_id, mrn, "Ana", "Redfern", dt.date(1980, 1, 2), Sex.FEMALE),
                T0 - dt.timedelta(days=30),
            )
            uow.patients.add_measurement(
                BodyMeasurement(p.id, T0 - dt.timedelta(days=7), weight, 168.0)
            )
            return p.id

        clinic = Clinic(
            uow=factory,
            clock=clock,
            passwords=passwords,
            mia=mia.id,
            fll=fll.id,
            nurse=staff("mia.nurse", Role.NURSE, mia.id),
            nurse2=staff("max.nurse", Role.NURSE, mia.id),
            prescriber=staff("pia.prescriber", Role.PRESCRIBER, mia.id),
            director=staff("dora.director", Role.DIRECTOR, mia.id),
            front_desk=staff("fred.desk", Role.FRONT_DESK, mia.id),
            fll_nurse=staff("flo.nurse", Role.NURSE, fll.id),
            patient=patient("P-1", mia.id, 80.0),
            patient2=patient("P-2", mia.id, 70.0),
            fll_patient=patient("P-3", fll.id, 75.0),
        )
        nurse_id, prescriber_id = (
            clinic.nurse.principal.user_id,  # type: ignore[union-attr]
            clinic.prescriber.principal.user_id,  # type: ignore[union-attr]
        )
        for patient_id in (clinic.patient, clinic.patient2, clinic.fll_patient):
            put_on_record(
                uow,
                patient_id,
                nurse=nurse_id,
                prescriber=prescriber_id,
                at=T0 - dt.timedelta(days=2),
            )
        uow.commit()
    return clinic
