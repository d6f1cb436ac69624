"""The chair's form actions once the infusion runs and after: pause, resume, stop, complete;
rate changes, boluses and corrections of the administration record; vitals; acknowledging and
resolving alerts; side effects and their review; CADSS-6; the discharge assessment and the
discharge."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from ketaclinic.domain.discharge import (
    AldreteScore,
    PadssScore,
)
from ketaclinic.domain.errors import (
    InvalidInput,
    NotFound,
)
from ketaclinic.domain.side_effects import (
    Intervention,
    SeriousCriterion,
    Severity,
    SideEffectKind,
)
from ketaclinic.domain.vitals import SPECS, VitalKind, VitalReading, VitalSource
from ketaclinic.services import (
    chair_discharge,
    chair_mar,
    chair_vitals,
)
from ketaclinic.services.audit import deny
from ketaclinic.services.chair_discharge import SideEffectInput
from ketaclinic.services.chair_ports import CADSS6_ITEMS, Timepoint
from ketaclinic.services.ports import UnitOfWork
from ketaclinic.web.deps import AppContainer, Csrf, IdPath, PageActor
from ketaclinic.web.pages.chair_support import (
    F,
    LongF,
    checked,
    local_time,
    number,
    required_number,
    whole,
)
from ketaclinic.web.pages.chair_view import override_request, run_action, tz_of

router = APIRouter()


@router.post("/sessions/{session_id}/pump", dependencies=[Csrf])
def pump(
    request: Request,
    session_id: IdPath,
    actor: PageActor,
    c: AppContainer,
    step: F = "",
    reason: F = "",
) -> Response:
    def act(uow: UnitOfWork) -> object:
        if step == "pause":
            return chair_mar.pause(uow, c.clock, actor, session_id, reason)
        if step == "resume":
            return chair_mar.resume(uow, c.clock, actor, session_id)
        if step == "stop":
            return chair_mar.stop(uow, c.clock, actor, session_id, reason)
        if step == "complete":
            return chair_mar.complete(uow, c.clock, actor, session_id)
        raise InvalidInput.for_field("step", step, "pause, resume, stop or complete")

    done = {
        "pause": "Infusion paused.",
        "resume": "Infusion resumed.",
        "stop": "Infusion stopped.",
        "complete": "Infusion complete.",
    }
    values = {"step": step, "reason": reason}
    return run_action(
        request, c, actor, session_id, "actions", values, act, done.get(step, "Charted.")
    )


@router.post("/sessions/{session_id}/rate", dependencies=[Csrf])
def rate(
    request: Request,
    session_id: IdPath,
    actor: PageActor,
    c: AppContainer,
    rate_ml_per_h: F = "",
    override_reason: LongF = "",
    second_username: F = "",
    second_password: F = "",
) -> Response:
    def act(uow: UnitOfWork) -> object:
        return chair_mar.change_rate(
            uow,
            c.clock,
            actor,
            c.passwords,
            session_id,
            required_number("rate_ml_per_h", rate_ml_per_h),
            override_request(override_reason, second_username, second_password),
        )

    values = {
        "rate_ml_per_h": rate_ml_per_h,
        "override_reason": override_reason,
        "second_username": second_username,
    }
    return run_action(request, c, actor, session_id, "mar", values, act, "Rate change charted.")


@router.post("/sessions/{session_id}/bolus", dependencies=[Csrf])
def bolus(
    request: Request,
    session_id: IdPath,
    actor: PageActor,
    c: AppContainer,
    dose_mg: F = "",
    override_reason: LongF = "",
    second_username: F = "",
    second_password: F = "",
) -> Response:
    def act(uow: UnitOfWork) -> object:
        return chair_mar.give_bolus(
            uow,
            c.clock,
            actor,
            c.passwords,
            session_id,
            required_number("dose_mg", dose_mg),
            override_request(override_reason, second_username, second_password),
        )

    values = {"bolus_mg": dose_mg, "override_reason": override_reason}
    return run_action(request, c, actor, session_id, "mar", values, act, "Bolus charted.")


NUMERIC_CORRECTIONS = ("dose_mg", "concentration_mg_per_ml", "volume_ml", "rate_ml_per_h")


@router.post("/sessions/{session_id}/correction", dependencies=[Csrf])
def correction(
    request: Request,
    session_id: IdPath,
    actor: PageActor,
    c: AppContainer,
    entry: F = "",
    reason: F = "",
    void: F = "",
    corrected_time: F = "",
    dose_mg: F = "",
    concentration_mg_per_ml: F = "",
    volume_ml: F = "",
    rate_ml_per_h: F = "",
    lot_number: F = "",
    pump_id: F = "",
    entry_reason: F = "",
) -> Response:
    given = {
        "dose_mg": dose_mg,
        "concentration_mg_per_ml": concentration_mg_per_ml,
        "volume_ml": volume_ml,
        "rate_ml_per_h": rate_ml_per_h,
        "lot_number": lot_number,
        "pump_id": pump_id,
        "reason": entry_reason,
    }

    def act(uow: UnitOfWork) -> object:
        entry_id = whole("entry", entry, 1, 100_000)
        changes: dict[str, object] = {}
        for name, text in given.items():
            if not text.strip():
                continue
            changes[name] = number(name, text) if name in NUMERIC_CORRECTIONS else text.strip()
        at = local_time("corrected_time", corrected_time, tz_of(uow, session_id), c.clock.now())
        return chair_mar.correct_entry(
            uow,
            c.clock,
            actor,
            session_id,
            entry_id,
            reason=reason,
            void=checked(void),
            changes=changes,
            corrected_at=at,
        )

    values = {"entry": entry, "reason": reason, "corrected_time": corrected_time, **given}
    return run_action(request, c, actor, session_id, "mar", values, act, "Correction charted.")


@router.post("/sessions/{session_id}/vitals", dependencies=[Csrf])
def vitals(
    request: Request,
    session_id: IdPath,
    actor: PageActor,
    c: AppContainer,
    systolic: F = "",
    diastolic: F = "",
    heart_rate: F = "",
    spo2: F = "",
    respiratory_rate: F = "",
    temperature: F = "",
    observed_time: F = "",
) -> Response:
    given = {
        VitalKind.BP_SYSTOLIC: ("systolic", systolic),
        VitalKind.BP_DIASTOLIC: ("diastolic", diastolic),
        VitalKind.HEART_RATE: ("heart_rate", heart_rate),
        VitalKind.SPO2: ("spo2", spo2),
        VitalKind.RESPIRATORY_RATE: ("respiratory_rate", respiratory_rate),
        VitalKind.TEMPERATURE: ("temperature", temperature),
    }

    def act(uow: UnitOfWork) -> object:
        now = c.clock.now()
        at = local_time("observed_time", observed_time, tz_of(uow, session_id), now) or now
        readings: list[VitalReading] = []
        for kind, (name, text) in given.items():
            value = number(name, text, required=False)
            if value is not None:
                readings.append(
                    VitalReading(kind, value, at, VitalSource.MANUAL, SPECS[kind].loinc)
                )
        if bool(systolic.strip()) != bool(diastolic.strip()):
            raise InvalidInput.for_field(
                "diastolic" if systolic.strip() else "systolic", "", "both pressures of the BP"
            )
        return chair_vitals.record_vitals(uow, c.clock, actor, session_id, readings)

    values = dict(given.values()) | {"observed_time": observed_time}
    return run_action(request, c, actor, session_id, "vitals", values, act, "Vitals recorded.")


@router.post("/sessions/{session_id}/alerts/{alert_id}", dependencies=[Csrf])
def alert_action(
    request: Request,
    session_id: IdPath,
    alert_id: IdPath,
    actor: PageActor,
    c: AppContainer,
    action: F = "",
    action_taken: LongF = "",
    note: LongF = "",
) -> Response:
    def act(uow: UnitOfWork) -> object:
        found = uow.chair.get_alert(alert_id)
        if found is not None and found.session_id != session_id:
            # The alert exists but belongs to another session: as not found, audited.
            raise deny(uow, c.clock, actor, "chair_alert", NotFound(f"alert {alert_id} not found"))
        if action == "acknowledge":
            return chair_vitals.acknowledge_alert(uow, c.clock, actor, alert_id, action_taken)
        if action == "resolve":
            return chair_vitals.resolve_alert(uow, c.clock, actor, alert_id, note)
        raise InvalidInput.for_field("action", action, "acknowledge or resolve")

    values = {"alert": str(alert_id), "action_taken": action_taken, "note": note}
    done = "Alert acknowledged." if action == "acknowledge" else "Alert resolved."
    return run_action(request, c, actor, session_id, "alerts", values, act, done)


@router.post("/sessions/{session_id}/side-effects", dependencies=[Csrf])
def side_effect(
    request: Request,
    session_id: IdPath,
    actor: PageActor,
    c: AppContainer,
    kind: F = "",
    severity: F = "",
    onset_time: F = "",
    resolved_time: F = "",
    interventions: Annotated[list[str] | None, Form(max_length=40)] = None,
    serious: Annotated[list[str] | None, Form(max_length=40)] = None,
    other_text: F = "",
    intervention_text: F = "",
) -> Response:
    chosen = (interventions or [])[:12]
    criteria = (serious or [])[:7]

    def act(uow: UnitOfWork) -> object:
        tz, now = tz_of(uow, session_id), c.clock.now()
        try:
            parsed_kind, parsed_severity = SideEffectKind(kind), Severity(severity)
            parsed_interventions = frozenset(Intervention(i) for i in chosen or ["none"])
            parsed_serious = frozenset(SeriousCriterion(s) for s in criteria)
        except ValueError as error:
            raise InvalidInput.for_field(
                "side_effect", str(error)[:60], "a listed choice"
            ) from None
        given = SideEffectInput(
            kind=parsed_kind,
            severity=parsed_severity,
            onset_at=local_time("onset_time", onset_time, tz, now) or now,
            interventions=parsed_interventions,
            serious_criteria=parsed_serious,
            other_text=other_text,
            intervention_text=intervention_text,
            resolved_at=local_time("resolved_time", resolved_time, tz, now),
        )
        return chair_discharge.record_side_effect(uow, c.clock, actor, session_id, given)

    values = {
        "kind": kind,
        "severity": severity,
        "onset_time": onset_time,
        "resolved_time": resolved_time,
        "other_text": other_text,
        "intervention_text": intervention_text,
    }
    return run_action(
        request, c, actor, session_id, "side-effects", values, act, "Side effect charted."
    )


@router.post("/sessions/{session_id}/side-effects/{effect_id}/review", dependencies=[Csrf])
def review_side_effect(
    request: Request, session_id: IdPath, effect_id: IdPath, actor: PageActor, c: AppContainer
) -> Response:
    def act(uow: UnitOfWork) -> object:
        found = uow.chair.get_side_effect(effect_id)
        if found is not None and found.session_id != session_id:
            raise deny(
                uow, c.clock, actor, "side_effect", NotFound(f"side effect {effect_id} not found")
            )
        return chair_discharge.review_side_effect(uow, c.clock, actor, effect_id)

    return run_action(request, c, actor, session_id, "side-effects", {}, act, "Marked as reviewed.")


@router.post("/sessions/{session_id}/dissociation", dependencies=[Csrf])
def dissociation(
    request: Request,
    session_id: IdPath,
    actor: PageActor,
    c: AppContainer,
    timepoint: F = "",
    item_1: F = "",
    item_2: F = "",
    item_6: F = "",
    item_7: F = "",
    item_15: F = "",
    item_22: F = "",
) -> Response:
    texts = {1: item_1, 2: item_2, 6: item_6, 7: item_7, 15: item_15, 22: item_22}

    def act(uow: UnitOfWork) -> object:
        try:
            when = Timepoint(timepoint)
        except ValueError:
            raise InvalidInput.for_field("timepoint", timepoint, "a CADSS-6 timepoint") from None
        items = [whole(f"item_{n}", texts[n], 0, 4) for n in CADSS6_ITEMS]
        return chair_discharge.record_dissociation(uow, c.clock, actor, session_id, when, items)

    values = {"timepoint": timepoint} | {f"item_{n}": t for n, t in texts.items()}
    return run_action(
        request, c, actor, session_id, "dissociation", values, act, "CADSS-6 recorded."
    )


ALDRETE_FIELDS = ("activity", "respiration", "circulation", "consciousness", "spo2")
PADSS_FIELDS = ("vital_signs", "activity_mental_status", "pain_nausea_vomiting", "intake_output")


@router.post("/sessions/{session_id}/assessment", dependencies=[Csrf])
def assessment(
    request: Request,
    session_id: IdPath,
    actor: PageActor,
    c: AppContainer,
    aldrete_activity: F = "",
    aldrete_respiration: F = "",
    aldrete_circulation: F = "",
    aldrete_consciousness: F = "",
    aldrete_spo2: F = "",
    padss_vital_signs: F = "",
    padss_activity_mental_status: F = "",
    padss_pain_nausea_vomiting: F = "",
    padss_intake_output: F = "",
    escort_confirmed: F = "",
    mental_status_attested: F = "",
    dissociation_attested: F = "",
) -> Response:
    aldrete_texts = dict(
        zip(
            ALDRETE_FIELDS,
            (
                aldrete_activity,
                aldrete_respiration,
                aldrete_circulation,
                aldrete_consciousness,
                aldrete_spo2,
            ),
            strict=True,
        )
    )
    padss_texts = dict(
        zip(
            PADSS_FIELDS,
            (
                padss_vital_signs,
                padss_activity_mental_status,
                padss_pain_nausea_vomiting,
                padss_intake_output,
            ),
            strict=True,
        )
    )

    def act(uow: UnitOfWork) -> object:
        aldrete = padss = None
        if any(t.strip() for t in aldrete_texts.values()):
            aldrete = AldreteScore(
                *(whole(f"aldrete_{n}", t, 0, 2) for n, t in aldrete_texts.items())
            )
        if any(t.strip() for t in padss_texts.values()):
            padss = PadssScore(*(whole(f"padss_{n}", t, 0, 2) for n, t in padss_texts.items()))
        return chair_discharge.assess_discharge(
            uow,
            c.clock,
            actor,
            session_id,
            aldrete=aldrete,
            padss=padss,
            escort_confirmed=checked(escort_confirmed),
            mental_status_attested=checked(mental_status_attested),
            dissociation_attested=checked(dissociation_attested),
        )

    values = {f"aldrete_{n}": t for n, t in aldrete_texts.items()}
    values |= {f"padss_{n}": t for n, t in padss_texts.items()}
    return run_action(
        request, c, actor, session_id, "discharge", values, act, "Assessment recorded."
    )


@router.post("/sessions/{session_id}/discharge", dependencies=[Csrf])
def discharge(
    request: Request,
    session_id: IdPath,
    actor: PageActor,
    c: AppContainer,
    override_reason: LongF = "",
) -> Response:
    def act(uow: UnitOfWork) -> object:
        return chair_discharge.discharge(
            uow, c.clock, actor, session_id, override_reason.strip() or None
        )

    values = {"override_reason": override_reason}
    return run_action(
        request, c, actor, session_id, "discharge", values, act, "Patient discharged."
    )
