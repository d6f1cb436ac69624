"""Inquiries become leads; the front desk registers or dismisses them (services/intake_leads)."""

from __future__ import annotations

import datetime as dt

import pytest

from ketaclinic.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from ketaclinic.domain.people import NewPatient, Sex
from ketaclinic.services import intake_leads
from ketaclinic.services.audit import Actor
from ketaclinic.services.intake_models import Inquiry, LeadStatus

PUBLIC = Actor(None, "203.0.113.9")


def submit(clinic, site_id: int, name: str = "Ana Lucia Redfern") -> int:  # type: ignore[no-untyped-def]
    with clinic.uow() as uow:
        lead = intake_leads.submit_inquiry(
            uow, clinic.clock, PUBLIC, Inquiry(site_id, name, "ana@example.org", "", True, "hi")
        )
    return lead.id


def test_an_inquiry_becomes_a_new_lead_for_the_front_desk_of_its_site(clinic) -> None:
    lead_id = submit(clinic, clinic.mia)
    submit(clinic, clinic.fll, "Someone Else")
    with clinic.uow() as uow:
        mia = intake_leads.list_leads(uow, clinic.clock, clinic.actor("front_desk.mia"))
        fll = intake_leads.list_leads(uow, clinic.clock, clinic.actor("front_desk.fll"))
    assert [lead.id for lead in mia] == [lead_id]
    assert [lead.name for lead in fll] == ["Someone Else"]
    assert mia[0].status is LeadStatus.NEW


def test_the_public_submission_is_audited_without_a_user(clinic) -> None:
    lead_id = submit(clinic, clinic.mia)
    with clinic.uow() as uow:
        entry = list(uow.audit.entries())[-1]
    assert (entry.record.resource, entry.record.resource_id) == ("lead", str(lead_id))
    assert entry.record.user_id is None
    assert entry.record.client == "203.0.113.9"


def test_an_inquiry_for_a_site_that_does_not_exist_is_refused(clinic) -> None:
    with clinic.uow() as uow, pytest.raises(InvalidInput, match="site"):
        intake_leads.submit_inquiry(
            uow, clinic.clock, PUBLIC, Inquiry(999, "Ana", "a@example.org", "", True)
        )


@pytest.mark.parametrize("who", ["nurse.mia", "prescriber.mia"])
def test_clinical_roles_do_not_see_the_lead_queue(clinic, who: str) -> None:
    submit(clinic, clinic.mia)
    before = clinic.denied()
    with clinic.uow() as uow, pytest.raises(PermissionDenied):
        intake_leads.list_leads(uow, clinic.clock, clinic.actor(who))
    assert clinic.denied() == before + 1


def test_registering_a_lead_creates_the_patient_and_marks_who_converted_it(clinic) -> None:
    lead_id = submit(clinic, clinic.mia)
    new = NewPatient(clinic.mia, "NEW-1", "Ana Lucia", "Redfern", dt.date(1985, 2, 3), Sex.FEMALE)
    clinic.clock.advance(minutes=30)
    with clinic.uow() as uow:
        patient = intake_leads.convert_lead(
            uow, clinic.clock, clinic.actor("front_desk.mia"), lead_id, new, weight_kg=64.0
        )
    with clinic.uow() as uow:
        lead = uow.leads.get(lead_id)
        weights = [m.weight_kg for m in uow.patients.measurements(patient.id)]
        queue = intake_leads.list_leads(uow, clinic.clock, clinic.actor("front_desk.mia"))
    assert lead is not None
    assert lead.status is LeadStatus.CONVERTED
    assert lead.patient_id == patient.id
    assert lead.handled_by == clinic.actor("front_desk.mia").user_id
    assert lead.handled_at == clinic.clock.now()
    assert weights == [64.0]
    assert queue == []


def test_a_converted_lead_cannot_be_converted_again(clinic) -> None:
    lead_id = submit(clinic, clinic.mia)
    new = NewPatient(clinic.mia, "NEW-1", "Ana", "Redfern", dt.date(1985, 2, 3), Sex.FEMALE)
    with clinic.uow() as uow:
        intake_leads.convert_lead(uow, clinic.clock, clinic.actor("front_desk.mia"), lead_id, new)
    again = NewPatient(clinic.mia, "NEW-2", "Ana", "Redfern", dt.date(1985, 2, 3), Sex.FEMALE)
    with clinic.uow() as uow, pytest.raises(Conflict, match="already converted"):
        intake_leads.convert_lead(uow, clinic.clock, clinic.actor("director.mia"), lead_id, again)
    with clinic.uow() as uow:
        assert uow.patients.by_mrn("NEW-2") is None


def test_a_duplicate_mrn_leaves_the_lead_new_and_registers_nobody(clinic) -> None:
    lead_id = submit(clinic, clinic.mia)
    taken = NewPatient(clinic.mia, "P-1", "Ana", "Redfern", dt.date(1985, 2, 3), Sex.FEMALE)
    with clinic.uow() as uow, pytest.raises(Conflict, match="mrn"):
        intake_leads.convert_lead(uow, clinic.clock, clinic.actor("front_desk.mia"), lead_id, taken)
    with clinic.uow() as uow:
        lead = uow.leads.get(lead_id)
    assert lead is not None
    assert lead.status is LeadStatus.NEW


def test_another_sites_lead_is_not_found_and_the_attempt_is_audited(clinic) -> None:
    lead_id = submit(clinic, clinic.mia)
    before = clinic.denied()
    with clinic.uow() as uow, pytest.raises(NotFound):
        intake_leads.dismiss_lead(uow, clinic.clock, clinic.actor("front_desk.fll"), lead_id)
    assert clinic.denied() == before + 1
    with clinic.uow() as uow:
        assert uow.leads.get(lead_id).status is LeadStatus.NEW  # type: ignore[union-attr]


def test_a_dismissed_lead_leaves_the_queue(clinic) -> None:
    lead_id = submit(clinic, clinic.mia)
    with clinic.uow() as uow:
        dismissed = intake_leads.dismiss_lead(
            uow, clinic.clock, clinic.actor("director.mia"), lead_id
        )
    assert dismissed.status is LeadStatus.DISMISSED
    with clinic.uow() as uow:
        assert intake_leads.list_leads(uow, clinic.clock, clinic.actor("front_desk.mia")) == []
        everything = intake_leads.list_leads(
            uow, clinic.clock, clinic.actor("front_desk.mia"), status=None
        )
    assert [lead.id for lead in everything] == [lead_id]


def test_suggested_names_split_off_the_last_word_as_family_name(clinic) -> None:
    lead_id = submit(clinic, clinic.mia, "Ana Lucia Redfern")
    with clinic.uow() as uow:
        lead = intake_leads.get_lead(uow, clinic.clock, clinic.actor("front_desk.mia"), lead_id)
    assert lead.suggested_names == ("Ana Lucia", "Redfern")
