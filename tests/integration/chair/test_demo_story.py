"""The demo clinic tells one story across the chair, intake and measurement-based care, on SQLite
and PostgreSQL: every patient at a chair is cleared in the record (consent on the version in
force, eligibility signed eligible, a signed plan) and has a booked series whose visit of the
session's day is that session; DEMO-0001 is infusing on MIA-1 (DESIGN.md §4.5); the patients
the intake demo calls "cleared, not yet booked" are at no chair and have no series."""

from __future__ import annotations

import pytest

from ketaclinic.domain.session_lifecycle import SessionState
from ketaclinic.services import chair_record_checks, chair_visits, demo_chair, demo_intake
from ketaclinic.services.intake_common import clearance, to_local

STATES = {
    demo_chair.Target.RUNNING: SessionState.RUNNING,
    demo_chair.Target.CHECKED_IN: SessionState.CHECKED_IN,
    demo_chair.Target.CHECKING: SessionState.PRE_INFUSION_CHECKS,
    demo_chair.Target.OBSERVATION: SessionState.OBSERVATION,
    demo_chair.Target.DISCHARGED: SessionState.DISCHARGED,
}
DONE = {demo_chair.Target.OBSERVATION, demo_chair.Target.DISCHARGED}


@pytest.mark.parametrize("seat", demo_chair.LAYOUT, ids=lambda s: f"{s.mrn}@{s.chair}")
def test_each_patient_at_a_chair_is_cleared_and_fulfils_a_booked_visit(demo, seat) -> None:
    with demo.uow() as uow:
        patient = uow.patients.by_mrn(seat.mrn)
        site = uow.sites.get(patient.site_id)
        chair = next(c for c in uow.sites.chairs(site.id) if c.code == seat.chair)
        (row,) = [r for r in uow.chair.list_sessions([site.id]) if r.patient_id == patient.id]
        assert (row.chair_id, row.state) == (chair.id, STATES[seat.target])
        assert clearance(uow, patient.id).problems() == []
        findings = chair_record_checks.read_record(uow, patient, row.checked_in_at)
        assert {item.value: f.passed for item, f in findings.items()} == {
            "consent_current": True,
            "eligibility_signed": True,
            "safety_screen_reviewed": True,
        }
        booked = chair_visits.visit_of_session(uow, row)
        assert booked is not None
        assert booked.visit.local_day == to_local(row.checked_in_at, site).date()
        assert booked.visit.chair_id == chair.id
        assert booked.visit.number == seat.visit_number
        assert booked.visit.starts_at <= row.checked_in_at < booked.visit.ends_at
        assert booked.series.plan_id == clearance(uow, patient.id).plan.id
        assert booked.link.done == (seat.target in DONE)
        if row.state is not SessionState.CHECKED_IN and row.state is not (
            SessionState.PRE_INFUSION_CHECKS
        ):
            # What the start read from the record is stored with the checklist.
            stored = {r.item for r in uow.chair.checks(row.id)}
            assert set(chair_record_checks.RECORD_ITEMS) <= stored


def test_demo_0001_is_infusing_on_mia_1(demo) -> None:
    with demo.uow() as uow:
        patient = uow.patients.by_mrn("DEMO-0001")
        row = uow.chair.open_sessions_for_patients([patient.id])[patient.id]
        chair = next(c for c in uow.sites.chairs(row.site_id) if c.id == row.chair_id)
    assert (chair.code, row.state) == ("MIA-1", SessionState.RUNNING)


def test_the_patients_cleared_but_not_booked_are_at_no_chair(demo) -> None:
    at_chairs = {seat.mrn for seat in demo_chair.LAYOUT}
    with demo.uow() as uow:
        for mrn in demo_intake.READY:
            assert mrn not in at_chairs
            patient = uow.patients.by_mrn(mrn)
            assert clearance(uow, patient.id).problems() == []
            assert uow.schedule.series_for(patient.id) == []
            assert uow.chair.open_sessions_for_patients([patient.id]) == {}
