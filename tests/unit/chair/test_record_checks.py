"""The checks the chair reads from the patient's record (services/chair_record_checks.py):
consent on the version in force, the signed eligibility decision and no open safety review —
shown with what was found, read again at the start, overridable only where the failure allows.
Personas and the cleared patients come from conftest.py."""

from __future__ import annotations

import datetime as dt

import pytest

from ketaclinic.domain.eligibility import Decision
from ketaclinic.domain.errors import IllegalTransition, LimitExceeded, PermissionDenied
from ketaclinic.domain.session_lifecycle import CheckItem, CheckOutcome, SessionState
from ketaclinic.services import chair_mar, chair_sessions, chair_views, mbc, mbc_safety
from ketaclinic.services.intake_models import ConsentText
from ketaclinic.services.ports import Notifier

from .conftest import put_on_record
from .test_chair_services import check_in, clear_checklist, session


class NoMail(Notifier):
    enabled = False

    def send(self, to: str, subject: str, body: str) -> None:  # pragma: no cover - mail is off
        raise AssertionError("mail is off")


def start(c, sid: int, who=None):
    with c.uow() as uow:
        return chair_mar.start_infusion(
            uow, c.clock, who or c.nurse, c.passwords, sid, lot_number="L1", pump_id="P1"
        )


def ready(c, patient: int | None = None) -> int:
    """A session with every item asked at the chair answered."""
    sid = check_in(c, patient=patient)
    c.minutes(2)
    clear_checklist(c, sid)
    c.minutes(2)
    return sid


def finding(c, sid: int, item: CheckItem):
    with c.uow() as uow:
        detail = chair_views.session_detail(uow, c.clock, c.nurse, sid)
    line = next(line for line in detail.lines if line.item is item)
    return line, detail


def new_patient(c, *, consent: bool = True, decision: Decision | None = Decision.ELIGIBLE) -> int:
    from ketaclinic.domain.people import BodyMeasurement, NewPatient, Sex

    with c.uow() as uow:
        p = uow.patients.add(
            NewPatient(c.mia, "P-9", "Lia", "Northway", dt.date(1985, 6, 1), Sex.FEMALE),
            c.clock.now() - dt.timedelta(days=30),
        )
        uow.patients.add_measurement(
            BodyMeasurement(p.id, c.clock.now() - dt.timedelta(days=7), 80.0, 168.0)
        )
        put_on_record(
            uow,
            p.id,
            nurse=c.nurse.principal.user_id,
            prescriber=c.prescriber.principal.user_id,
            at=c.clock.now() - dt.timedelta(days=1),
            consent=consent,
            decision=decision,
        )
        uow.commit()
    return p.id


def test_the_checklist_shows_what_the_record_says(clinic) -> None:
    c = clinic
    sid = check_in(c)
    line, _ = finding(c, sid, CheckItem.CONSENT_CURRENT)
    assert line.clears
    assert line.from_record
    assert line.finding.note == "Consent v1 signed 2026-02-28 (en), witnessed by mia.nurse"
    line, _ = finding(c, sid, CheckItem.ELIGIBILITY_SIGNED)
    assert line.finding.note == (
        "Intake of 2026-02-21 signed eligible by pia.prescriber on 2026-02-28"
    )
    line, _ = finding(c, sid, CheckItem.SAFETY_SCREEN_REVIEWED)
    assert line.finding.note == "no open safety review; no PHQ-9 on record"


def test_a_start_without_current_consent_is_refused_with_the_reason(clinic) -> None:
    c = clinic
    patient = new_patient(c, consent=False)
    sid = ready(c, patient)
    with c.uow() as uow, pytest.raises(IllegalTransition) as refused:
        chair_mar.start_infusion(
            uow, c.clock, c.nurse, c.passwords, sid, lot_number="L1", pump_id="P1"
        )
    message = refused.value.message
    assert message.startswith("cannot start: consent_current: failed (no override): ")
    assert "no consent to version 1, the version in force; the patient has signed no version" in (
        message
    )
    assert "record the patient's consent" in message
    assert session(c, sid).state is SessionState.PRE_INFUSION_CHECKS
    line, detail = finding(c, sid, CheckItem.CONSENT_CURRENT)
    assert not line.clears
    assert not line.overridable
    assert detail.blocking[0].startswith("consent_current: failed (no override)")
    # No prescriber can wave it through.
    with c.uow() as uow, pytest.raises(LimitExceeded, match="no override: no consent"):
        chair_sessions.override(
            uow, c.clock, c.prescriber, sid, CheckItem.CONSENT_CURRENT, "signed on paper"
        )


def test_consent_recorded_at_the_clinic_clears_the_start(clinic) -> None:
    from ketaclinic.services import intake_consent

    c = clinic
    patient = new_patient(c, consent=False)
    sid = ready(c, patient)
    with c.uow() as uow:
        intake_consent.record_consent(uow, c.clock, c.nurse, patient, None, "Lia Northway", "en")
    start(c, sid)
    assert session(c, sid).state is SessionState.RUNNING
    with c.uow() as uow:
        stored = [r for r in uow.chair.checks(sid) if r.item is CheckItem.CONSENT_CURRENT]
    assert [(r.outcome, r.note) for r in stored] == [
        (CheckOutcome.PASSED, "Consent v1 signed 2026-03-02 (en), witnessed by mia.nurse")
    ]


def test_a_new_consent_version_makes_the_old_consent_not_current(clinic) -> None:
    c = clinic
    sid = ready(c)
    with c.uow() as uow:
        uow.intake.add_consent_version(ConsentText("Version two."), None, c.clock.now())
        uow.commit()
    with c.uow() as uow, pytest.raises(IllegalTransition, match="no consent to version 2") as no:
        chair_mar.start_infusion(
            uow, c.clock, c.nurse, c.passwords, sid, lot_number="L1", pump_id="P1"
        )
    assert "the patient signed version 1 on 2026-02-28" in no.value.message


def test_an_excluded_patient_cannot_start_and_no_override_exists(clinic) -> None:
    c = clinic
    patient = new_patient(c, decision=Decision.EXCLUDED)
    sid = ready(c, patient)
    line, _ = finding(c, sid, CheckItem.ELIGIBILITY_SIGNED)
    assert line.finding.hard
    assert "excluded" in line.finding.note
    with c.uow() as uow, pytest.raises(LimitExceeded):
        chair_sessions.override(
            uow, c.clock, c.prescriber, sid, CheckItem.ELIGIBILITY_SIGNED, "I know better"
        )
    with c.uow() as uow, pytest.raises(IllegalTransition, match="eligibility_signed: failed"):
        chair_mar.start_infusion(
            uow, c.clock, c.nurse, c.passwords, sid, lot_number="L1", pump_id="P1"
        )


def test_an_unsigned_decision_is_released_only_by_a_prescriber_and_only_as_it_stood(
    clinic,
) -> None:
    c = clinic
    patient = new_patient(c, decision=None)
    sid = ready(c, patient)
    line, _ = finding(c, sid, CheckItem.ELIGIBILITY_SIGNED)
    assert line.overridable
    assert "is not signed by a prescriber" in line.finding.note
    with c.uow() as uow, pytest.raises(PermissionDenied):
        chair_sessions.override(
            uow, c.clock, c.nurse, sid, CheckItem.ELIGIBILITY_SIGNED, "paper chart"
        )
    with c.uow() as uow:
        released = chair_sessions.override(
            uow, c.clock, c.prescriber, sid, CheckItem.ELIGIBILITY_SIGNED, "signed on paper"
        )
    assert released.outcome is CheckOutcome.OVERRIDDEN
    line, detail = finding(c, sid, CheckItem.ELIGIBILITY_SIGNED)
    assert line.clears
    assert detail.blocking == []
    # The record changes (a newer intake, also unsigned): the override no longer holds.
    c.minutes(1)
    with c.uow() as uow:
        put_on_record(
            uow,
            patient,
            nurse=c.nurse.principal.user_id,
            prescriber=c.prescriber.principal.user_id,
            at=c.clock.now() + dt.timedelta(days=1),
            decision=None,
            consent=False,
        )
        uow.commit()
    with c.uow() as uow, pytest.raises(IllegalTransition, match="eligibility_signed: failed"):
        chair_mar.start_infusion(
            uow, c.clock, c.nurse, c.passwords, sid, lot_number="L1", pump_id="P1"
        )
    with c.uow() as uow:
        chair_sessions.override(
            uow, c.clock, c.prescriber, sid, CheckItem.ELIGIBILITY_SIGNED, "seen again"
        )
    start(c, sid)
    assert session(c, sid).state is SessionState.RUNNING


def test_nothing_to_override_when_the_record_clears_the_item(clinic) -> None:
    c = clinic
    sid = ready(c)
    with c.uow() as uow, pytest.raises(IllegalTransition, match="the record shows it cleared"):
        chair_sessions.override(
            uow, c.clock, c.prescriber, sid, CheckItem.CONSENT_CURRENT, "just in case"
        )


def test_an_open_safety_review_blocks_the_start_until_a_prescriber_closes_it(clinic) -> None:
    c = clinic
    sid = ready(c)
    with c.uow() as uow:
        recorded = mbc.record_response(
            uow, c.clock, c.nurse, c.patient, "phq9", [1, 1, 1, 1, 1, 1, 1, 1, 1], notifier=NoMail()
        )
    assert recorded.task is not None
    line, _ = finding(c, sid, CheckItem.SAFETY_SCREEN_REVIEWED)
    assert not line.clears
    assert not line.overridable
    assert line.finding.note.startswith("open safety review: PHQ-9 item 9 positive, raised")
    with c.uow() as uow, pytest.raises(LimitExceeded):
        chair_sessions.override(
            uow, c.clock, c.prescriber, sid, CheckItem.SAFETY_SCREEN_REVIEWED, "she is fine"
        )
    with c.uow() as uow, pytest.raises(IllegalTransition, match="safety_screen_reviewed"):
        chair_mar.start_infusion(
            uow, c.clock, c.nurse, c.passwords, sid, lot_number="L1", pump_id="P1"
        )
    c.minutes(10)
    with c.uow() as uow:
        mbc_safety.close_task(
            uow, c.clock, c.prescriber, recorded.task.id, "C-SSRS low; safety plan reviewed"
        )
    start(c, sid)
    with c.uow() as uow:
        (stored,) = [r for r in uow.chair.checks(sid) if r.item is CheckItem.SAFETY_SCREEN_REVIEWED]
    assert stored.outcome is CheckOutcome.PASSED
    assert stored.note == (
        "no open safety review; today's PHQ-9 (09:04): item 9 = 1; today's review (PHQ-9 item 9 "
        "positive) closed 09:14 by pia.prescriber: C-SSRS low; safety plan reviewed"
    )
