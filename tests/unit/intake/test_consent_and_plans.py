"""Versioned consent, clinic protocols and treatment plans (services/intake_consent,
services/intake_plans)."""

from __future__ import annotations

import datetime as dt

import pytest

from ketaclinic.domain.errors import Conflict, InvalidInput, PermissionDenied
from ketaclinic.services import intake_consent, intake_plans
from ketaclinic.services.intake_common import clearance
from ketaclinic.services.intake_models import ConsentText, clinic_protocol


def consent(clinic, who="nurse.mia", version_id=None, language="en"):  # type: ignore[no-untyped-def]
    with clinic.uow() as uow:
        return intake_consent.record_consent(
            uow, clinic.clock, clinic.actor(who), clinic.patients["P-1"], version_id,
            "Ana Redfern", language,
        )  # fmt: skip


def new_version(clinic, text="Version two", who="director.mia"):  # type: ignore[no-untyped-def]
    with clinic.uow() as uow:
        return intake_consent.add_consent_version(
            uow, clinic.clock, clinic.actor(who), ConsentText(text)
        )


def test_consent_records_version_signer_witness_and_time(clinic) -> None:
    signed = consent(clinic, language="es")
    assert (signed.version, signed.language, signed.signer_name) == (1, "es", "Ana Redfern")
    assert signed.witness_id == clinic.actor("nurse.mia").user_id
    assert signed.signed_at == clinic.clock.now()
    with clinic.uow() as uow:
        view = intake_consent.consent_view(
            uow, clinic.clock, clinic.actor("prescriber.mia"), clinic.patients["P-1"]
        )
    assert view.is_current


def test_a_new_version_makes_earlier_consent_not_current(clinic) -> None:
    consent(clinic)
    v2 = new_version(clinic)
    assert v2.version == 2
    with clinic.uow() as uow:
        status = clearance(uow, clinic.patients["P-1"])
    assert not status.consent_current
    assert "consent version 2 is not signed" in status.problems()


def test_consent_to_a_version_no_longer_in_force_is_refused(clinic) -> None:
    with clinic.uow() as uow:
        v1 = uow.intake.consent_versions()[0]
    new_version(clinic)
    with pytest.raises(Conflict, match="version in force"):
        consent(clinic, version_id=v1.id)


def test_a_patient_consents_to_a_version_once(clinic) -> None:
    consent(clinic)
    with pytest.raises(Conflict, match="already signed"):
        consent(clinic, who="prescriber.mia")


def test_spanish_consent_needs_a_spanish_text(clinic) -> None:
    new_version(clinic)  # English only
    with pytest.raises(InvalidInput, match="no Spanish text"):
        consent(clinic, language="es")


def test_a_blank_signer_name_is_refused(clinic) -> None:
    with clinic.uow() as uow, pytest.raises(InvalidInput, match="signer_name"):
        intake_consent.record_consent(
            uow, clinic.clock, clinic.actor("nurse.mia"), clinic.patients["P-1"], None, " ", "en"
        )


def test_the_front_desk_does_not_record_consent(clinic) -> None:
    before = clinic.denied()
    with pytest.raises(PermissionDenied):
        consent(clinic, who="front_desk.mia")
    assert clinic.denied() == before + 1


def test_only_the_director_writes_consent_versions(clinic) -> None:
    with pytest.raises(PermissionDenied):
        new_version(clinic, who="prescriber.mia")
    with clinic.uow() as uow:
        assert len(uow.intake.consent_versions()) == 1


def test_a_version_can_be_corrected_until_a_patient_signs_it(clinic) -> None:
    v2 = new_version(clinic, "Versoin two")
    with clinic.uow() as uow:
        fixed = intake_consent.edit_consent_version(
            uow, clinic.clock, clinic.actor("director.mia"), v2.id, ConsentText("Version two")
        )
    assert fixed.text.body_en == "Version two"
    consent(clinic)
    with clinic.uow() as uow, pytest.raises(Conflict, match="can no longer change"):
        intake_consent.edit_consent_version(
            uow, clinic.clock, clinic.actor("director.mia"), v2.id, ConsentText("Changed")
        )
    with clinic.uow() as uow:
        assert uow.intake.consent_versions()[0].text.body_en == "Version two"


def test_a_consent_text_needs_english(clinic) -> None:
    with pytest.raises(InvalidInput, match="body_en"):
        ConsentText("  ", "solo español")


def sign_plan(clinic, who="prescriber.mia", **changes):  # type: ignore[no-untyped-def]
    values = {
        "protocol_id": "feder-2021",
        "dose_mg_per_kg": 0.5,
        "start_date": dt.date(2026, 11, 25),
    }
    values.update(changes)
    with clinic.uow() as uow:
        return intake_plans.sign_plan(
            uow, clinic.clock, clinic.actor(who), clinic.patients["P-1"], **values
        )


def test_a_prescriber_signs_a_plan(clinic) -> None:
    plan = sign_plan(clinic, dose_mg_per_kg=0.4, note="start lower")
    assert (plan.protocol_id, plan.dose_mg_per_kg, plan.note) == ("feder-2021", 0.4, "start lower")
    with clinic.uow() as uow:
        view = intake_plans.plan_view(
            uow, clinic.clock, clinic.actor("nurse.mia"), clinic.patients["P-1"]
        )
    assert view.current == plan


def test_an_unknown_protocol_is_refused_naming_the_catalog(clinic) -> None:
    with pytest.raises(InvalidInput, match="abdallah-2022, feder-2021, maintenance"):
        sign_plan(clinic, protocol_id="made-up")


def test_a_plan_cannot_start_in_the_past(clinic) -> None:
    with pytest.raises(InvalidInput, match=r"start_date: got '2026-11-22'"):
        sign_plan(clinic, start_date=dt.date(2026, 11, 22))


@pytest.mark.parametrize("dose", [0.05, 1.5, float("nan")])
def test_a_dose_outside_the_template_bounds_is_refused(clinic, dose: float) -> None:
    with pytest.raises(InvalidInput, match="dose_mg_per_kg"):
        sign_plan(clinic, dose_mg_per_kg=dose)


@pytest.mark.parametrize("who", ["nurse.mia", "director.mia", "front_desk.mia"])
def test_only_a_prescriber_signs_a_plan(clinic, who: str) -> None:
    with pytest.raises(PermissionDenied):
        sign_plan(clinic, who=who)


WEEKLY = {
    "id": "weekly-4",
    "name": "Four weekly infusions",
    "infusion_count": 4,
    "duration_weeks": 4,
    "dose_mg_per_kg": 0.5,
    "infusion_min": 40,
    "spacing_days": 7,
    "observation_min": 90,
    "setup_min": 15,
}


def test_the_director_adds_a_clinic_protocol_that_plans_can_use(clinic) -> None:
    with clinic.uow() as uow:
        intake_plans.add_clinic_protocol(
            uow, clinic.clock, clinic.actor("director.mia"), clinic_protocol(**WEEKLY)
        )
    plan = sign_plan(clinic, protocol_id="weekly-4")
    assert plan.protocol_id == "weekly-4"
    with clinic.uow() as uow:
        found = {
            p.id: p
            for p in intake_plans.list_protocols(uow, clinic.clock, clinic.actor("nurse.mia"))
        }
    assert found["weekly-4"].source.label().startswith("[design: clinic-defined protocol")


@pytest.mark.parametrize("protocol_id", ["weekly-4", "feder-2021"])
def test_a_protocol_id_already_in_the_catalog_is_refused(clinic, protocol_id: str) -> None:
    with clinic.uow() as uow:
        intake_plans.add_clinic_protocol(
            uow, clinic.clock, clinic.actor("director.mia"), clinic_protocol(**WEEKLY)
        )
    with clinic.uow() as uow, pytest.raises(Conflict, match=protocol_id):
        intake_plans.add_clinic_protocol(
            uow,
            clinic.clock,
            clinic.actor("director.mia"),
            clinic_protocol(**{**WEEKLY, "id": protocol_id}),
        )


def test_an_inconsistent_clinic_protocol_is_refused_by_the_domain(clinic) -> None:
    with pytest.raises(InvalidInput, match="duration_weeks"):
        clinic_protocol(**{**WEEKLY, "duration_weeks": 2})


def test_only_the_director_adds_protocols(clinic) -> None:
    with clinic.uow() as uow, pytest.raises(PermissionDenied):
        intake_plans.add_clinic_protocol(
            uow, clinic.clock, clinic.actor("prescriber.mia"), clinic_protocol(**WEEKLY)
        )
