"""The chair's use cases on the in-memory store: a session from check-in to discharge, the
checklist, the drug library at the chair, alerts, corrections, side effects, CADSS-6 and
discharge — with who may do what, and the audit trail of it."""

from __future__ import annotations

import pytest

from ketaclinic.domain.alerts import AlertState, AlertTier
from ketaclinic.domain.audit import AuditAction
from ketaclinic.domain.discharge import AldreteScore
from ketaclinic.domain.dosing import BagPreparation
from ketaclinic.domain.errors import (
    Conflict,
    IllegalTransition,
    InvalidInput,
    LimitExceeded,
    NotFound,
    OverrideRequired,
    PermissionDenied,
)
from ketaclinic.domain.session_lifecycle import CheckItem, CheckOutcome, SessionState, Transition
from ketaclinic.domain.side_effects import Intervention, Severity, SideEffectKind
from ketaclinic.domain.vitals import VitalKind, VitalReading, VitalSource
from ketaclinic.services import audit as audit_svc
from ketaclinic.services import (
    chair_discharge,
    chair_mar,
    chair_sessions,
    chair_views,
    chair_vitals,
    dosing,
    dosing_library,
)
from ketaclinic.services.chair_discharge import SideEffectInput
from ketaclinic.services.chair_mar import DoseValues, OverrideRequest
from ketaclinic.services.chair_ports import FLAG_IMPLAUSIBLE, LimitLevelSeen, Timepoint
from ketaclinic.services.chair_vitals import sweep
from ketaclinic.services.dosing_calc import DoseRequest
from ketaclinic.services.dosing_ports import ConfirmationMethod, DoseOrder

# 0.5 mg/kg for 80 kg over 40 min in a 100 mL bag: 40 mg, 0.4 mg/mL, 150 mL/h = 0.75 mg/kg/h,
# exactly at (not above) the library's soft limits [feder-2021 defaults, drug_library.py].
DOSE = DoseValues(40.0, 0.4, 100.0, 150.0)
CODES = {
    VitalKind.BP_SYSTOLIC: "8480-6",
    VitalKind.BP_DIASTOLIC: "8462-4",
    VitalKind.HEART_RATE: "8867-4",
    VitalKind.SPO2: "59408-5",
}


def check_in(c, chair: str = "MIA-1", patient: int | None = None, **kw) -> int:
    with c.uow() as uow:
        row = chair_sessions.check_in(
            uow,
            c.clock,
            c.nurse,
            chair_code=chair,
            patient_id=patient or c.patient,
            protocol_id="feder-2021",
            **kw,
        )
    return row.id


def order_dose(c, sid: int, mg_per_kg: float = 0.5, reason: str = "") -> DoseOrder:
    """The prescriber orders ``mg_per_kg`` over 40 min in a 100 mL bag for the session's
    patient on their latest weight (a soft limit with ``reason``, confirmed by the nurse)."""
    with c.uow() as uow:
        patient_id = uow.chair.get_session(sid).patient_id
    request = DoseRequest(
        mg_per_kg, 40.0, BagPreparation(100.0), protocol_id="feder-2021", override_reason=reason
    )
    with c.uow() as uow:
        order = dosing.order_dose(uow, c.clock, c.prescriber, patient_id, request)
    if reason:
        with c.uow() as uow:
            order = dosing.confirm_override(
                uow, c.clock, c.nurse, order.id, via=ConfirmationMethod.PASSWORD
            )
    return order


def clear_checklist(c, sid: int, dose: DoseValues = DOSE) -> None:
    """Answer every item asked at the chair (consent, eligibility and the safety review are
    read from the patient's record, which the clinic fixture puts in order)."""
    with c.uow() as uow:
        chair_sessions.confirm_weight(uow, c.clock, c.nurse, sid, 80.0)
    with c.uow() as uow:
        chair_sessions.record_baseline(
            uow,
            c.clock,
            c.nurse,
            sid,
            systolic_mmhg=120,
            diastolic_mmhg=80,
            heart_rate_per_min=70,
            spo2_percent=98,
        )
    with c.uow() as uow:
        chair_sessions.confirm_escort(uow, c.clock, c.nurse, sid, name="Sam Doe", phone="555-0101")
    order_dose(c, sid)  # 0.5 mg/kg of 80 kg: DOSE
    with c.uow() as uow:
        chair_mar.verify_dose(uow, c.clock, c.nurse, c.passwords, sid, dose)


def started(c, **kw) -> int:
    sid = check_in(c, **kw)
    c.minutes(5)
    clear_checklist(c, sid)
    c.minutes(5)
    with c.uow() as uow:
        chair_mar.start_infusion(
            uow, c.clock, c.nurse, c.passwords, sid, lot_number="L1", pump_id="P1"
        )
    return sid


def vitals(c, sid: int, **values: float) -> chair_vitals.IngestResult:
    now = c.clock.now()
    kinds = {
        "sys": VitalKind.BP_SYSTOLIC,
        "dia": VitalKind.BP_DIASTOLIC,
        "hr": VitalKind.HEART_RATE,
        "spo2": VitalKind.SPO2,
    }
    readings = [
        VitalReading(kinds[k], v, now, VitalSource.MANUAL, CODES[kinds[k]])
        for k, v in values.items()
    ]
    with c.uow() as uow:
        return chair_vitals.record_vitals(uow, c.clock, c.nurse, sid, readings)


def session(c, sid: int):
    with c.uow() as uow:
        return uow.chair.get_session(sid)


def audit_entries(c):
    with c.uow() as uow:
        return list(uow.audit.entries())


def test_a_session_runs_from_check_in_to_discharge(clinic) -> None:
    c = clinic
    sid = started(c)
    assert session(c, sid).state is SessionState.RUNNING
    c.minutes(10)
    vitals(c, sid, sys=130, dia=84, hr=76, spo2=97)
    c.minutes(10)
    with c.uow() as uow:
        chair_mar.pause(uow, c.clock, c.nurse, sid, "patient asked for a break")
    c.minutes(5)
    with c.uow() as uow:
        chair_mar.resume(uow, c.clock, c.nurse, sid)
    c.minutes(20)
    with c.uow() as uow:
        chair_mar.complete(uow, c.clock, c.nurse, sid)
    with c.uow() as uow:
        chair_sessions.transition(uow, c.clock, c.nurse, sid, Transition.BEGIN_OBSERVATION)
    with c.uow() as uow:
        chair_discharge.record_dissociation(
            uow, c.clock, c.nurse, sid, Timepoint.END_OF_INFUSION, [1, 1, 0, 0, 1, 0]
        )
    c.minutes(121)
    vitals(c, sid, sys=122, dia=80, hr=72, spo2=98)
    with c.uow() as uow:
        chair_discharge.record_dissociation(
            uow, c.clock, c.nurse, sid, Timepoint.PRE_DISCHARGE, [0] * 6
        )
    with c.uow() as uow:
        _, readiness = chair_discharge.assess_discharge(
            uow,
            c.clock,
            c.nurse,
            sid,
            aldrete=AldreteScore(2, 2, 2, 2, 2),
            padss=None,
            escort_confirmed=True,
            mental_status_attested=True,
            dissociation_attested=True,
        )
    assert readiness.ready, readiness.unmet
    with c.uow() as uow:
        row = chair_discharge.discharge(uow, c.clock, c.nurse, sid)
    assert row.state is SessionState.DISCHARGED
    with c.uow() as uow:
        d = chair_views.session_detail(uow, c.clock, c.prescriber, sid, "record")
    steps = [r.transition for r in d.timeline.records]
    assert steps == [
        Transition.BEGIN_CHECKS,
        Transition.START,
        Transition.PAUSE,
        Transition.RESUME,
        Transition.COMPLETE,
        Transition.BEGIN_OBSERVATION,
        Transition.DISCHARGE,
    ]
    assert [e.entry.event.kind.value for e in d.mar_entries] == ["start", "pause", "resume", "stop"]
    # 20 + 20 min running at 150 mL/h of 0.4 mg/mL = 1 mg/min; the 5-min pause gave nothing,
    # and the 100 mL bag (40 mg) ran out exactly at the end. Float minutes: a rounding margin.
    assert d.delivered_mg == pytest.approx(40.0, rel=1e-9)
    actions = [(e.record.action, e.record.resource) for e in audit_entries(c)]
    assert (AuditAction.CREATE, "infusion_session") in actions
    assert (AuditAction.CREATE, "administration") in actions
    assert (AuditAction.UPDATE, "discharge") in actions
    with c.uow() as uow:
        assert audit_svc.verify(uow).ok


def test_an_occupied_chair_or_a_patient_in_a_session_is_a_conflict(clinic) -> None:
    c = clinic
    check_in(c, "MIA-1", c.patient)
    with pytest.raises(Conflict, match="MIA-1 is occupied"):
        check_in(c, "MIA-1", c.patient2)
    with pytest.raises(Conflict, match="already has an open infusion session"):
        check_in(c, "MIA-2", c.patient)


def test_starting_before_the_checklist_is_cleared_lists_every_open_item(clinic) -> None:
    c = clinic
    sid = check_in(c)
    order_dose(c, sid)
    with c.uow() as uow:
        chair_mar.verify_dose(uow, c.clock, c.nurse, c.passwords, sid, DOSE)
    with c.uow() as uow, pytest.raises(IllegalTransition) as refused:
        chair_mar.start_infusion(
            uow, c.clock, c.nurse, c.passwords, sid, lot_number="L", pump_id="P"
        )
    for item in ("weight_confirmed", "baseline_vitals_within_limits", "escort_confirmed"):
        assert f"{item}: not checked" in refused.value.message
    assert "consent_current" not in refused.value.message  # on record: read, not asked
    assert session(c, sid).state is SessionState.PRE_INFUSION_CHECKS


def test_an_illegal_step_is_refused_with_the_reason_and_changes_nothing(clinic) -> None:
    c = clinic
    sid = started(c)
    before = len(audit_entries(c))
    with (
        c.uow() as uow,
        pytest.raises(IllegalTransition, match="cannot resume: the infusion is not paused"),
    ):
        chair_mar.resume(uow, c.clock, c.nurse, sid)
    with (
        c.uow() as uow,
        pytest.raises(IllegalTransition, match="cannot cancel: the infusion has started"),
    ):
        chair_sessions.transition(uow, c.clock, c.nurse, sid, Transition.CANCEL, "changed mind")
    assert session(c, sid).state is SessionState.RUNNING
    with c.uow() as uow:
        assert len(uow.chair.mar_entries(sid)) == 1
    assert len(audit_entries(c)) == before


@pytest.mark.parametrize("who", ["front_desk", "director"])
def test_only_nurses_and_prescribers_act_and_a_refusal_is_audited(clinic, who: str) -> None:
    c = clinic
    sid = started(c)
    with c.uow() as uow, pytest.raises(PermissionDenied):
        chair_mar.pause(uow, c.clock, getattr(c, who), sid)
    denied = [e for e in audit_entries(c) if e.record.action is AuditAction.DENIED]
    assert [e.record.username for e in denied] == [getattr(c, who).principal.username]
    assert session(c, sid).state is SessionState.RUNNING


def test_another_sites_session_is_not_found_and_the_attempt_is_audited(clinic) -> None:
    c = clinic
    sid = started(c)
    with c.uow() as uow, pytest.raises(NotFound):
        chair_views.session_detail(uow, c.clock, c.fll_nurse, sid)
    denied = [e for e in audit_entries(c) if e.record.action is AuditAction.DENIED]
    assert denied[-1].record.patient_id == c.patient
    assert denied[-1].record.username == "flo.nurse"


def test_resting_bp_above_180_100_fails_hard_and_cannot_be_overridden(clinic) -> None:
    c = clinic
    sid = check_in(c)
    with c.uow() as uow:
        result = chair_sessions.record_baseline(
            uow,
            c.clock,
            c.nurse,
            sid,
            systolic_mmhg=186,
            diastolic_mmhg=104,
            heart_rate_per_min=80,
            spo2_percent=97,
        )
    assert result.outcome is CheckOutcome.FAILED
    assert result.hard
    assert "Swiss label" in result.note
    with c.uow() as uow, pytest.raises(LimitExceeded):
        chair_sessions.override(
            uow, c.clock, c.prescriber, sid, CheckItem.BASELINE_VITALS_WITHIN_LIMITS, "felt fine"
        )


def test_a_bp_hold_is_released_only_by_a_prescriber_with_a_reason(clinic) -> None:
    c = clinic
    sid = check_in(c)
    with c.uow() as uow:
        result = chair_sessions.record_baseline(
            uow,
            c.clock,
            c.nurse,
            sid,
            systolic_mmhg=148,
            diastolic_mmhg=86,
            heart_rate_per_min=80,
            spo2_percent=97,
        )
    assert (result.outcome, result.hard) == (CheckOutcome.FAILED, False)
    with c.uow() as uow, pytest.raises(PermissionDenied):
        chair_sessions.override(
            uow, c.clock, c.nurse, sid, CheckItem.BASELINE_VITALS_WITHIN_LIMITS, "rested"
        )
    with c.uow() as uow, pytest.raises(InvalidInput, match="reason"):
        chair_sessions.override(
            uow, c.clock, c.prescriber, sid, CheckItem.BASELINE_VITALS_WITHIN_LIMITS, " "
        )
    with c.uow() as uow:
        released = chair_sessions.override(
            uow,
            c.clock,
            c.prescriber,
            sid,
            CheckItem.BASELINE_VITALS_WITHIN_LIMITS,
            "138/84 after 15 min rest",
        )
    assert released.outcome is CheckOutcome.OVERRIDDEN


def test_the_dose_needs_a_verified_order_and_must_match_it(clinic) -> None:
    c = clinic
    sid = check_in(c)
    with c.uow() as uow, pytest.raises(IllegalTransition, match="no verified dose order"):
        chair_mar.verify_dose(uow, c.clock, c.nurse, c.passwords, sid, DOSE)
    with c.uow() as uow:  # a nurse's order awaiting the prescriber's signature is not enough
        patient = uow.chair.get_session(sid).patient_id
        request = DoseRequest(0.5, 40.0, BagPreparation(100.0), protocol_id="feder-2021")
        dosing.order_dose(uow, c.clock, c.nurse, patient, request)
    with c.uow() as uow, pytest.raises(IllegalTransition, match="no verified dose order"):
        chair_mar.verify_dose(uow, c.clock, c.nurse, c.passwords, sid, DOSE)
    order = order_dose(c, sid)
    # 90 mg in 100 mL is not what the prescriber ordered (40 mg): refused, naming the order.
    with c.uow() as uow, pytest.raises(InvalidInput, match=f"order #{order.id}") as refused:
        chair_mar.verify_dose(
            uow, c.clock, c.nurse, c.passwords, sid, DoseValues(90, 0.9, 100, 150)
        )
    assert refused.value.field == "dose_mg"
    with c.uow() as uow, pytest.raises(InvalidInput, match="rate_ml_per_h"):
        chair_mar.verify_dose(
            uow, c.clock, c.nurse, c.passwords, sid, DoseValues(40, 0.4, 100, 200)
        )
    assert session(c, sid).planned is None
    with c.uow() as uow:
        assert uow.chair.checks(sid) == []
        assert uow.dosing.session_order(sid) is None
    with c.uow() as uow:  # no values: the order's own programme
        result = chair_mar.verify_dose(uow, c.clock, c.nurse, c.passwords, sid)
    assert f"order #{order.id}" in result.note
    planned = session(c, sid).planned
    assert (planned.dose_mg, planned.concentration_mg_per_ml, planned.rate_ml_per_h) == (
        40.0,
        0.4,
        150.0,
    )
    with c.uow() as uow:
        link = uow.dosing.session_order(sid)
    assert (link.order_id, link.weight_basis.value, link.dosing_weight_kg) == (
        order.id,
        "actual",
        80.0,
    )
    assert link.verified_by == c.nurse.principal.user_id


def test_an_order_older_than_a_day_or_under_another_protocol_is_not_taken(clinic) -> None:
    c = clinic
    sid = check_in(c)
    order_dose(c, sid)
    c.minutes(24 * 60 + 1)
    with c.uow() as uow, pytest.raises(IllegalTransition, match="last 24 hours"):
        chair_mar.verify_dose(uow, c.clock, c.nurse, c.passwords, sid, DOSE)
    with c.uow() as uow:
        patient = uow.chair.get_session(sid).patient_id
        request = DoseRequest(0.5, 40.0, BagPreparation(100.0), protocol_id="abdallah-2022")
        dosing.order_dose(uow, c.clock, c.prescriber, patient, request)
    with c.uow() as uow, pytest.raises(IllegalTransition, match="protocol feder-2021"):
        chair_mar.verify_dose(uow, c.clock, c.nurse, c.passwords, sid, DOSE)


def test_an_order_on_a_weight_far_from_todays_is_refused(clinic) -> None:
    c = clinic
    sid = check_in(c)
    order = order_dose(c, sid)  # on the 80 kg of last week
    with c.uow() as uow:
        chair_sessions.confirm_weight(uow, c.clock, c.nurse, sid, 70.0, confirmed=True)
    with c.uow() as uow, pytest.raises(InvalidInput, match=f"80 kg dose order #{order.id}"):
        chair_mar.verify_dose(uow, c.clock, c.nurse, c.passwords, sid, DOSE)
    assert session(c, sid).planned is None


def test_a_clinic_lowered_hard_limit_is_refused_at_the_chair(clinic) -> None:
    c = clinic
    sid = check_in(c)
    order_dose(c, sid)  # 0.5 mg/kg: within the shipped library when ordered
    with c.uow() as uow:
        dosing_library.set_limit(
            uow,
            c.clock,
            c.director,
            protocol_id="feder-2021",
            quantity="dose_mg_per_kg",
            level="soft",
            value=0.4,
            reason="clinic starts lower",
        )
    with c.uow() as uow:
        dosing_library.set_limit(
            uow,
            c.clock,
            c.director,
            protocol_id="feder-2021",
            quantity="dose_mg_per_kg",
            level="hard",
            value=0.45,
            reason="clinic ceiling for the first series",
        )
    with c.uow() as uow, pytest.raises(LimitExceeded, match="dose_mg_per_kg") as refused:
        chair_mar.verify_dose(uow, c.clock, c.nurse, c.passwords, sid, DOSE)
    assert "0.45" in refused.value.message
    assert session(c, sid).planned is None
    with c.uow() as uow:
        assert uow.chair.checks(sid) == []


def test_a_soft_limit_reached_at_the_chair_needs_a_reason_and_a_second_person(clinic) -> None:
    c = clinic
    sid = check_in(c)
    order_dose(c, sid)  # 40 mg for last week's 80 kg: within the library
    with c.uow() as uow:  # today 73 kg: 40 mg is 0.55 mg/kg, above the 0.5 mg/kg soft limit
        chair_sessions.confirm_weight(uow, c.clock, c.nurse, sid, 73.0)
    dose = DOSE
    with c.uow() as uow, pytest.raises(OverrideRequired, match="dose_mg_per_kg"):
        chair_mar.verify_dose(uow, c.clock, c.nurse, c.passwords, sid, dose)
    wrong = OverrideRequest("response was partial at 0.5", "pia.prescriber", "not the password")
    with c.uow() as uow, pytest.raises(InvalidInput, match="second_password"):
        chair_mar.verify_dose(uow, c.clock, c.nurse, c.passwords, sid, dose, wrong)
    two_nurses = OverrideRequest(
        "response was partial at 0.5", "max.nurse", "correct horse battery"
    )
    with c.uow() as uow, pytest.raises(InvalidInput, match="prescriber"):
        chair_mar.verify_dose(uow, c.clock, c.nurse, c.passwords, sid, dose, two_nurses)
    ok = OverrideRequest("response was partial at 0.5", "pia.prescriber", "correct horse battery")
    with c.uow() as uow:
        chair_mar.verify_dose(uow, c.clock, c.nurse, c.passwords, sid, dose, ok)
    planned = session(c, sid).planned
    assert planned.check.level is LimitLevelSeen.SOFT
    assert planned.check.override_reason == "response was partial at 0.5"
    assert planned.check.override_confirmed_by == c.prescriber.principal.user_id


def test_the_orders_confirmed_override_covers_the_same_soft_limit_at_the_chair(clinic) -> None:
    c = clinic
    sid = check_in(c)
    # 0.6 mg/kg of 80 kg = 48 mg: above the 0.5 mg/kg soft limit, signed with a reason and
    # confirmed by a second person when ordered.
    order = order_dose(c, sid, 0.6, reason="partial response after two infusions")
    with c.uow() as uow:
        chair_mar.verify_dose(
            uow, c.clock, c.nurse, c.passwords, sid, DoseValues(48.0, 0.48, 100.0, 150.0)
        )
    planned = session(c, sid).planned
    assert planned.check.level is LimitLevelSeen.SOFT
    assert planned.check.override_reason == "partial response after two infusions"
    assert planned.check.override_confirmed_by == order.override_confirmed_by
    with c.uow() as uow:
        detail = chair_views.session_detail(uow, c.clock, c.nurse, sid)
    assert detail.order is not None
    assert detail.order.id == order.id
    assert detail.order_now is not None
    assert detail.order_now.id == order.id


def test_a_start_with_another_programme_is_held_to_the_linked_order(clinic) -> None:
    c = clinic
    sid = check_in(c)
    c.minutes(5)
    clear_checklist(c, sid)
    with c.uow() as uow, pytest.raises(InvalidInput, match="dose_mg: got 20"):
        chair_mar.start_infusion(
            uow,
            c.clock,
            c.nurse,
            c.passwords,
            sid,
            lot_number="L1",
            pump_id="P1",
            values=DoseValues(20.0, 0.4, 50.0, 150.0),
        )
    with c.uow() as uow:  # 1 % off the order's 150 mL/h: the same programme, charted
        chair_mar.start_infusion(
            uow,
            c.clock,
            c.nurse,
            c.passwords,
            sid,
            lot_number="L1",
            pump_id="P1",
            values=DoseValues(40.0, 0.4, 100.0, 148.5),
        )
    assert session(c, sid).state is SessionState.RUNNING


def test_the_session_prediction_uses_the_clinics_pk_model(clinic) -> None:
    c = clinic
    sid = started(c)
    c.minutes(10)
    with c.uow() as uow:
        _row, default = chair_views.session_prediction(uow, c.clock, c.nurse, sid)
    assert default is not None
    assert default.model_title.startswith("Kamp 2020")
    with c.uow() as uow:
        dosing_library.set_pk_model(uow, c.clock, c.director, "domino")
    with c.uow() as uow:
        _row, chosen = chair_views.session_prediction(uow, c.clock, c.nurse, sid)
    assert chosen is not None
    assert chosen.model_title.startswith("Domino")
    assert chosen.now_ng_per_ml != pytest.approx(default.now_ng_per_ml, rel=1e-3)


def test_repeated_alarming_readings_update_one_alert_instead_of_raising_more(clinic) -> None:
    c = clinic
    sid = started(c)
    for minute in range(3):
        c.minutes(3)
        vitals(c, sid, spo2=89 - minute)
    with c.uow() as uow:
        alerts = uow.chair.session_alerts([sid], open_only=True)
    assert [a.alert.rule_key for a in alerts] == ["spo2_low"]
    assert alerts[0].alert.occurrences == 3
    assert (alerts[0].alert.first.value, alerts[0].alert.latest.value) == (89, 87)


def test_an_implausible_reading_is_set_aside_and_flagged_not_alarmed(clinic) -> None:
    c = clinic
    sid = started(c)
    c.minutes(1)
    result = vitals(c, sid, sys=80, dia=95, hr=72)  # systolic below diastolic: a cuff artefact
    assert [f.rule_key for f in result.findings] == ["bp_systolic_not_above_diastolic"]
    with c.uow() as uow:
        flags = {
            r.reading.kind: r.flag for r in uow.chair.session_readings(sid, since=c.clock.now())
        }
        alerts = uow.chair.session_alerts([sid], open_only=True)
    assert flags[VitalKind.BP_SYSTOLIC] == flags[VitalKind.BP_DIASTOLIC] == FLAG_IMPLAUSIBLE
    assert flags[VitalKind.HEART_RATE] == ""
    assert [(a.alert.tier, a.alert.rule_key) for a in alerts] == [
        (AlertTier.PLAUSIBILITY, "bp_systolic_not_above_diastolic")
    ]


def test_nibp_overdue_is_raised_by_the_sweep_and_unacknowledged_alerts_escalate(clinic) -> None:
    c = clinic
    sid = started(c)
    c.minutes(10)
    with c.uow() as uow:
        assert sweep(uow, c.clock.now(), [c.mia]) == set()  # exactly 10 min: not yet overdue
        uow.commit()
    c.minutes(1)
    with c.uow() as uow:
        assert sweep(uow, c.clock.now(), [c.mia]) == {c.mia}
        uow.commit()
    c.minutes(4.5)  # 4.5 min unacknowledged: two 2-min escalation intervals
    with c.uow() as uow:
        sweep(uow, c.clock.now(), [c.mia])
        uow.commit()
    with c.uow() as uow:
        (alert,) = uow.chair.session_alerts([sid], open_only=True)
    assert alert.alert.rule_key == "nibp_overdue"
    assert alert.alert.escalation_level == 2
    assert alert.reading_source == "system"


def test_an_alert_is_acknowledged_with_the_action_taken_then_resolved(clinic) -> None:
    c = clinic
    sid = started(c)
    c.minutes(2)
    (raised,) = vitals(c, sid, spo2=88).raised
    with c.uow() as uow, pytest.raises(IllegalTransition, match="acknowledge"):
        chair_vitals.resolve_alert(uow, c.clock, c.nurse, raised.id)
    with c.uow() as uow, pytest.raises(InvalidInput, match="action_taken"):
        chair_vitals.acknowledge_alert(uow, c.clock, c.nurse, raised.id, "")
    c.minutes(1)
    with c.uow() as uow:
        acked = chair_vitals.acknowledge_alert(uow, c.clock, c.nurse, raised.id, "jaw thrust")
    assert (acked.alert.state, acked.alert.action_taken) == (AlertState.ACKNOWLEDGED, "jaw thrust")
    with c.uow() as uow:
        done = chair_vitals.resolve_alert(uow, c.clock, c.prescriber, raised.id, "SpO2 97")
    assert done.alert.state is AlertState.RESOLVED
    c.minutes(1)
    (again,) = vitals(c, sid, spo2=88).raised  # resolved stays resolved: a new finding, a new alert
    assert again.id != raised.id


def test_discharge_before_ready_needs_a_prescribers_override_with_a_reason(clinic) -> None:
    c = clinic
    sid = started(c)
    c.minutes(40)
    with c.uow() as uow:
        chair_mar.complete(uow, c.clock, c.nurse, sid)
    with c.uow() as uow:
        chair_sessions.transition(uow, c.clock, c.nurse, sid, Transition.BEGIN_OBSERVATION)
    c.minutes(30)  # far less than the 120-min minimum observation
    with c.uow() as uow:
        _, readiness = chair_discharge.assess_discharge(
            uow,
            c.clock,
            c.nurse,
            sid,
            aldrete=AldreteScore(2, 2, 2, 2, 2),
            padss=None,
            escort_confirmed=True,
            mental_status_attested=True,
            dissociation_attested=True,
        )
    assert [u.criterion.value for u in readiness.unmet] == ["observation_time"]
    with c.uow() as uow, pytest.raises(OverrideRequired, match="observation_time"):
        chair_discharge.discharge(uow, c.clock, c.nurse, sid)
    with c.uow() as uow, pytest.raises(PermissionDenied):
        chair_discharge.discharge(uow, c.clock, c.nurse, sid, "family emergency")
    with c.uow() as uow:
        row = chair_discharge.discharge(uow, c.clock, c.prescriber, sid, "family emergency")
    assert row.state is SessionState.DISCHARGED
    with c.uow() as uow:
        last = uow.chair.transitions(sid)[-1]
    assert last.override_reason == "family emergency"


def test_a_correction_is_a_new_entry_and_the_original_stays(clinic) -> None:
    c = clinic
    sid = started(c)
    c.minutes(5)
    with c.uow() as uow:
        chair_mar.correct_entry(
            uow, c.clock, c.nurse, sid, 1, reason="lot misread", changes={"lot_number": "L2"}
        )
    with c.uow() as uow:
        entries = uow.chair.mar_entries(sid)
        record = chair_mar.record_of(uow, uow.chair.get_session(sid))
    assert entries[0].entry.event.lot_number == "L1"  # the original, untouched
    assert entries[1].entry.event.corrects_id == 1
    assert record.start.event.lot_number == "L2"
    with c.uow() as uow, pytest.raises(InvalidInput, match="void"):
        chair_mar.correct_entry(uow, c.clock, c.nurse, sid, 1, reason="oops", void=True)


def test_a_bolus_is_refused_unless_the_session_allows_one(clinic) -> None:
    c = clinic
    sid = started(c)
    with c.uow() as uow, pytest.raises(IllegalTransition, match="allows none"):
        chair_mar.give_bolus(uow, c.clock, c.nurse, c.passwords, sid, 5.0)
    with c.uow() as uow, pytest.raises(PermissionDenied):
        chair_sessions.check_in(
            uow,
            c.clock,
            c.nurse,
            chair_code="MIA-2",
            patient_id=c.patient2,
            protocol_id="feder-2021",
            bolus_allowed=True,
        )


def test_cadss6_is_scored_at_its_moments_with_every_item(clinic) -> None:
    c = clinic
    sid = started(c)
    with c.uow() as uow, pytest.raises(IllegalTransition, match="before the infusion starts"):
        chair_discharge.record_dissociation(uow, c.clock, c.nurse, sid, Timepoint.PRE_DOSE, [0] * 6)
    sid2 = check_in(c, "MIA-2", c.patient2)
    with c.uow() as uow, pytest.raises(InvalidInput):
        chair_discharge.record_dissociation(
            uow, c.clock, c.nurse, sid2, Timepoint.PRE_DOSE, [0, 0, 5, 0, 0, 0]
        )
    with c.uow() as uow:
        score = chair_discharge.record_dissociation(
            uow, c.clock, c.nurse, sid2, Timepoint.PRE_DOSE, [1, 0, 2, 0, 0, 1]
        )
    assert (score.items, score.total) == ((1, 0, 2, 0, 0, 1), 4)


def test_a_severe_side_effect_is_flagged_and_only_a_prescriber_reviews_it(clinic) -> None:
    c = clinic
    sid = started(c)
    given = SideEffectInput(
        SideEffectKind.NAUSEA_VOMITING,
        Severity.SEVERE,
        c.clock.now(),
        frozenset({Intervention.ANTIEMETIC}),
    )
    with c.uow() as uow:
        stored = chair_discharge.record_side_effect(uow, c.clock, c.nurse, sid, given)
    assert stored.entry.flagged_for_prescriber
    with c.uow() as uow, pytest.raises(PermissionDenied):
        chair_discharge.review_side_effect(uow, c.clock, c.nurse, stored.id)
    with c.uow() as uow:
        reviewed = chair_discharge.review_side_effect(uow, c.clock, c.prescriber, stored.id)
    assert reviewed.reviewed_by == c.prescriber.principal.user_id


def test_a_weight_far_from_the_last_visit_needs_confirmation(clinic) -> None:
    c = clinic
    sid = check_in(c)
    with c.uow() as uow, pytest.raises(InvalidInput, match="likely pounds"):
        chair_sessions.confirm_weight(uow, c.clock, c.nurse, sid, 176.4)  # 80 kg typed in lb
    with c.uow() as uow:
        result = chair_sessions.confirm_weight(uow, c.clock, c.nurse, sid, 92.0, confirmed=True)
    assert "large_change" in result.note
    assert session(c, sid).weight_kg == 92.0


def test_the_board_shows_each_chair_and_audits_each_patient_shown(clinic) -> None:
    c = clinic
    sid = started(c)
    with c.uow() as uow:
        board = chair_views.board(uow, c.clock, c.nurse, c.mia)
    cards = {card.chair.code: card for card in board.cards}
    assert cards["MIA-1"].session.id == sid
    assert cards["MIA-2"].session is None
    reads = [e for e in audit_entries(c) if e.record.resource == "chair_board"]
    assert [e.record.patient_id for e in reads] == [c.patient]
    with c.uow() as uow, pytest.raises(NotFound):
        chair_views.board(uow, c.clock, c.fll_nurse, c.mia)
