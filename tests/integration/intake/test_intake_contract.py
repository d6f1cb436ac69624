"""One contract for the intake ports (leads, intakes and consent, scheduling): the in-memory
fake, SQLite and PostgreSQL must store and return the same things (STYLE.md §3)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from ketaclinic.domain.eligibility import Decision
from ketaclinic.domain.errors import Conflict
from ketaclinic.domain.intake import Condition, IntakeRecord
from ketaclinic.domain.people import NewPatient, Role, Sex
from ketaclinic.domain.scheduling import OpeningHours
from ketaclinic.services.intake_models import (
    ClinicHours,
    ConsentText,
    EligibilitySignoff,
    InductionDecision,
    Inquiry,
    IntakeNotes,
    LeadStatus,
    NewVisit,
    PatientConsent,
    Series,
    StoredIntake,
    StoredReason,
    TreatmentPlan,
    clinic_protocol,
)

T0 = dt.datetime(2026, 11, 20, 14, 0, tzinfo=dt.UTC)


@dataclass
class World:
    mia: int
    fll: int
    chairs: list[int]
    user: int
    patient: int
    other: int


def seed(uow_factory: object) -> World:
    with uow_factory() as uow:  # type: ignore[operator]
        mia = uow.sites.add("MIA", "Miami", "America/New_York")
        fll = uow.sites.add("FLL", "Fort Lauderdale", "America/New_York")
        chairs = [uow.sites.add_chair(mia.id, f"MIA-{n}", f"Chair {n}").id for n in (1, 2)]
        user = uow.users.add("nurse.a", "Nurse A", Role.NURSE, frozenset({mia.id}), "hash")
        p1 = uow.patients.add(
            NewPatient(mia.id, "P-1", "Ana", "Redfern", dt.date(1980, 1, 2), Sex.FEMALE), T0
        )
        p2 = uow.patients.add(
            NewPatient(mia.id, "P-2", "Luis", "Ocampo", dt.date(1975, 5, 6), Sex.MALE), T0
        )
        uow.commit()
    return World(mia.id, fll.id, chairs, user.id, p1.id, p2.id)


def inquiry(site_id: int, name: str = "Ana Redfern") -> Inquiry:
    return Inquiry(site_id, name, "ana@example.org", "", True, "Please call", "es")


def test_leads_are_listed_by_site_and_status_newest_first(uow_factory: object) -> None:
    w = seed(uow_factory)
    with uow_factory() as uow:  # type: ignore[operator]
        first = uow.leads.add(inquiry(w.mia, "First One"), T0)
        second = uow.leads.add(inquiry(w.mia, "Second One"), T0 + dt.timedelta(minutes=5))
        uow.leads.add(inquiry(w.fll, "Elsewhere Person"), T0)
        uow.commit()
    with uow_factory() as uow:  # type: ignore[operator]
        listed = uow.leads.list(frozenset({w.mia}), LeadStatus.NEW)
        assert [lead.id for lead in listed] == [second.id, first.id]
        assert listed[1].language == "es"
        assert listed[1].received_at == T0
        converted = uow.leads.set_status(
            first.id, LeadStatus.CONVERTED, w.user, T0 + dt.timedelta(hours=1), w.patient
        )
        uow.commit()
    assert converted.status is LeadStatus.CONVERTED
    with uow_factory() as uow:  # type: ignore[operator]
        assert [lead.id for lead in uow.leads.list(frozenset({w.mia}), LeadStatus.NEW)] == [
            second.id
        ]
        stored = uow.leads.get(first.id)
        assert stored is not None
        assert (stored.patient_id, stored.handled_by) == (w.patient, w.user)
        assert stored.handled_at == T0 + dt.timedelta(hours=1)
        assert len(uow.leads.list(frozenset({w.mia, w.fll}), None)) == 3


def an_intake(patient_id: int, user: int, at: dt.datetime) -> StoredIntake:
    record = IntakeRecord(
        assessment_date=dt.date(2026, 11, 20),
        age_years=46,
        sex=Sex.FEMALE,
        weight_kg=70.5,
        height_cm=165.0,
        trauma_date=dt.date(2024, 3, 1),
        pregnant=False,
        bp_systolic=150,
        bp_diastolic=85,
        heart_rate=70,
        spo2=98,
        pcl5=(2,) * 20,
        phq9=(1,) * 8 + (0,),
        conditions=frozenset({Condition.PSYCHOSIS_HISTORY, Condition.LIVER_DISEASE}),
        medications=("sertraline", "propranolol"),
    )
    return StoredIntake(
        id=0,
        patient_id=patient_id,
        record=record,
        notes=IntakeNotes("low mood since 2024", "none", "penicillin"),
        decision=Decision.NEEDS_REVIEW,
        reasons=(
            StoredReason("psychosis_history", "relative", "needs_review", "msg", "[src]"),
            StoredReason("bp_above_hold_limit", "vital_limit", "needs_review", "m2", "[s2]"),
        ),
        weight_findings=("weight changed +12.0 %",),
        weight_confirmed=True,
        measurement_id=None,
        recorded_by=user,
        recorded_at=at,
    )


def test_an_intake_round_trips_with_every_reason_and_is_signed_once(uow_factory: object) -> None:
    w = seed(uow_factory)
    with uow_factory() as uow:  # type: ignore[operator]
        older = uow.intake.add_intake(an_intake(w.patient, w.user, T0))
        newer = uow.intake.add_intake(an_intake(w.patient, w.user, T0 + dt.timedelta(days=1)))
        uow.commit()
    with uow_factory() as uow:  # type: ignore[operator]
        found = uow.intake.intakes(w.patient)
        assert [i.id for i in found] == [newer.id, older.id]
        assert found[0] == newer
        assert found[0].record.conditions == frozenset(
            {Condition.PSYCHOSIS_HISTORY, Condition.LIVER_DISEASE}
        )
        assert [r.code for r in found[0].reasons] == ["psychosis_history", "bp_above_hold_limit"]
        assert uow.intake.intakes(w.other) == []
        signoff = EligibilitySignoff(
            0, newer.id, w.patient, Decision.ELIGIBLE, Decision.NEEDS_REVIEW, w.user, T0,
            "reviewed with the psychiatrist", ("psychosis_history", "bp_above_hold_limit"),
        )  # fmt: skip
        stored = uow.intake.add_signoff(signoff)
        uow.commit()
    assert stored.id > 0
    with uow_factory() as uow:  # type: ignore[operator]
        again = uow.intake.signoff(newer.id)
        assert again is not None
        assert again.overridden
        assert again.overridden_codes == ("psychosis_history", "bp_above_hold_limit")
        assert uow.intake.signoff(older.id) is None
        with pytest.raises(Conflict, match="already signed"):
            uow.intake.add_signoff(signoff)


def test_consent_versions_count_up_and_know_when_they_are_used(uow_factory: object) -> None:
    w = seed(uow_factory)
    with uow_factory() as uow:  # type: ignore[operator]
        v1 = uow.intake.add_consent_version(ConsentText("one", "uno"), w.user, T0)
        v2 = uow.intake.add_consent_version(ConsentText("two"), None, T0)
        uow.commit()
    assert (v1.version, v2.version) == (1, 2)
    with uow_factory() as uow:  # type: ignore[operator]
        assert [v.version for v in uow.intake.consent_versions()] == [2, 1]
        assert not uow.intake.consent_version_used(v1.id)
        edited = uow.intake.update_consent_version(v1.id, ConsentText("one, fixed", "uno"))
        consent = uow.intake.add_consent(
            PatientConsent(0, w.patient, v1.id, 0, "es", "Ana Redfern", w.user, T0)
        )
        uow.commit()
    assert edited.text.body_en == "one, fixed"
    assert consent.version == 1
    with uow_factory() as uow:  # type: ignore[operator]
        assert uow.intake.consent_version_used(v1.id)
        assert not uow.intake.consent_version_used(v2.id)
        (only,) = uow.intake.consents(w.patient)
        assert (only.version, only.language, only.signer_name) == (1, "es", "Ana Redfern")
        assert only.signed_at == T0


def test_clinic_hours_replace_the_previous_ones(uow_factory: object) -> None:
    w = seed(uow_factory)
    nine, five = dt.time(9), dt.time(17)
    with uow_factory() as uow:  # type: ignore[operator]
        assert uow.schedule.hours(w.mia) is None
        uow.schedule.set_hours(ClinicHours(w.mia, (OpeningHours(0, nine, five),), 15))
        uow.schedule.set_hours(
            ClinicHours(
                w.mia, (OpeningHours(1, nine, five), OpeningHours(2, dt.time(8, 30), five)), 30
            )
        )
        uow.schedule.lock_site(w.mia)
        uow.commit()
    with uow_factory() as uow:  # type: ignore[operator]
        hours = uow.schedule.hours(w.mia)
    assert hours == ClinicHours(
        w.mia, (OpeningHours(1, nine, five), OpeningHours(2, dt.time(8, 30), five)), 30
    )


def test_clinic_protocols_round_trip_and_ids_are_unique(uow_factory: object) -> None:
    w = seed(uow_factory)
    weekly = clinic_protocol(
        id="weekly-4",
        name="Four weekly infusions",
        infusion_count=4,
        duration_weeks=4,
        dose_mg_per_kg=0.5,
        infusion_min=40,
        spacing_days=7,
        observation_min=90,
        setup_min=15,
        note="clinic template",
    )
    twice = clinic_protocol(
        id="twice-weekly",
        name="Tue/Fri",
        infusion_count=4,
        duration_weeks=2,
        dose_mg_per_kg=0.4,
        infusion_min=45,
        weekdays=(1, 4),
        observation_min=120,
        setup_min=20,
    )
    with uow_factory() as uow:  # type: ignore[operator]
        uow.schedule.add_protocol(weekly, w.user, T0)
        uow.schedule.add_protocol(twice, w.user, T0)
        uow.commit()
    with uow_factory() as uow:  # type: ignore[operator]
        assert uow.schedule.protocols() == [twice, weekly]
        with pytest.raises(Conflict, match="weekly-4"):
            uow.schedule.add_protocol(weekly, w.user, T0)


def test_plans_are_listed_newest_first(uow_factory: object) -> None:
    w = seed(uow_factory)
    with uow_factory() as uow:  # type: ignore[operator]
        a = uow.schedule.add_plan(
            TreatmentPlan(0, w.patient, "feder-2021", 0.5, dt.date(2026, 11, 23), w.user, T0)
        )
        b = uow.schedule.add_plan(
            TreatmentPlan(
                0, w.patient, "abdallah-2022", 0.2, dt.date(2026, 12, 1), w.user,
                T0 + dt.timedelta(hours=1), "lower dose",
            )
        )  # fmt: skip
        uow.commit()
    with uow_factory() as uow:  # type: ignore[operator]
        assert uow.schedule.plans(w.patient) == [b, a]
        assert uow.schedule.plans(w.other) == []


def visit(chair: int, number: int, start: dt.datetime, minutes: int = 180) -> NewVisit:
    return NewVisit(chair, number, start, start + dt.timedelta(minutes=minutes), start.date())


def booked(uow: object, w: World, patient: int, visits: list[NewVisit]) -> Series:
    plan = uow.schedule.add_plan(  # type: ignore[attr-defined]
        TreatmentPlan(0, patient, "feder-2021", 0.5, dt.date(2026, 11, 23), w.user, T0)
    )
    return uow.schedule.add_series(  # type: ignore[attr-defined,no-any-return]
        Series(0, patient, w.mia, plan.id, "feder-2021", w.user, T0), visits
    )


def test_series_keep_their_visits_and_are_found_by_time_window(uow_factory: object) -> None:
    w = seed(uow_factory)
    monday = dt.datetime(2026, 11, 23, 13, 0, tzinfo=dt.UTC)
    with uow_factory() as uow:  # type: ignore[operator]
        series = booked(
            uow,
            w,
            w.patient,
            [visit(w.chairs[0], n + 1, monday + dt.timedelta(days=2 * n)) for n in range(3)],
        )
        other = booked(uow, w, w.other, [visit(w.chairs[1], 1, monday)])
        uow.commit()
    with uow_factory() as uow:  # type: ignore[operator]
        found = uow.schedule.get_series(series.id)
        assert found is not None
        assert [v.number for v in found.visits] == [1, 2, 3]
        assert found.visits[0].starts_at == monday
        assert found.visits[0].local_day == monday.date()
        assert [s.id for s in uow.schedule.series_for(w.patient)] == [series.id]
        window = uow.schedule.visits_between(
            w.mia, monday + dt.timedelta(hours=2), monday + dt.timedelta(hours=3)
        )
        # Both visits of Monday overlap 15:00–16:00; a visit ending at the window start does not.
        assert [v.series_id for v in window] == [series.id, other.id]
        hour = dt.timedelta(hours=1)
        assert uow.schedule.visits_between(w.mia, monday + 3 * hour, monday + 4 * hour) == []
        assert uow.schedule.visits_between(w.fll, monday, monday + dt.timedelta(days=9)) == []
        assert len(uow.schedule.patient_visits(w.patient)) == 3


def test_a_chair_cannot_hold_two_visits_starting_together(uow_factory: object) -> None:
    w = seed(uow_factory)
    start = dt.datetime(2026, 11, 23, 13, 0, tzinfo=dt.UTC)
    with uow_factory() as uow:  # type: ignore[operator]
        first = booked(uow, w, w.patient, [visit(w.chairs[0], 1, start)])
        uow.commit()
    with uow_factory() as uow:  # type: ignore[operator]
        with pytest.raises(Conflict, match="already has a visit"):
            booked(uow, w, w.other, [visit(w.chairs[0], 1, start)])
        uow.rollback()
    with uow_factory() as uow:  # type: ignore[operator]
        assert uow.schedule.series_for(w.other) == []
        later = booked(uow, w, w.other, [visit(w.chairs[0], 1, start + dt.timedelta(hours=3))])
        with pytest.raises(Conflict):
            uow.schedule.move_visit(later.visits[0].id, visit(w.chairs[0], 1, start))
        moved = uow.schedule.move_visit(
            later.visits[0].id, visit(w.chairs[1], 1, start + dt.timedelta(days=1))
        )
        uow.commit()
    assert moved.chair_id == w.chairs[1]
    with uow_factory() as uow:  # type: ignore[operator]
        assert uow.schedule.get_series(first.id).visits[0].starts_at == start
        assert uow.schedule.patient_visits(w.other)[0].local_day == dt.date(2026, 11, 24)


def test_a_decision_is_stored_on_the_series(uow_factory: object) -> None:
    w = seed(uow_factory)
    with uow_factory() as uow:  # type: ignore[operator]
        series = booked(uow, w, w.patient, [visit(w.chairs[0], 1, T0)])
        decided = uow.schedule.set_decision(
            series.id, InductionDecision.MAINTENANCE, "good response", w.user, T0
        )
        uow.commit()
    assert decided.decision is InductionDecision.MAINTENANCE
    with uow_factory() as uow:  # type: ignore[operator]
        again = uow.schedule.get_series(series.id)
    assert (again.decision, again.decision_note, again.decided_by, again.decided_at) == (
        InductionDecision.MAINTENANCE,
        "good response",
        w.user,
        T0,
    )


def test_uncommitted_intake_work_is_rolled_back(uow_factory: object) -> None:
    w = seed(uow_factory)
    with uow_factory() as uow:  # type: ignore[operator]
        uow.leads.add(inquiry(w.mia), T0)
        uow.intake.add_consent_version(ConsentText("text"), None, T0)
        uow.schedule.set_hours(ClinicHours(w.mia, (OpeningHours(0, dt.time(8), dt.time(18)),)))
        booked(uow, w, w.patient, [visit(w.chairs[0], 1, T0)])
    with uow_factory() as uow:  # type: ignore[operator]
        assert uow.leads.list(frozenset({w.mia}), None) == []
        assert uow.intake.consent_versions() == []
        assert uow.schedule.hours(w.mia) is None
        assert uow.schedule.series_for(w.patient) == []
