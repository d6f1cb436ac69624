"""The chair's form actions before the infusion starts: begin the checks (or cancel), answer
the checklist (weight, baseline vitals, escort; consent, eligibility and the safety review are
read from the patient's record), a prescriber's override, the dose against the drug library,
and the start itself."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ketaclinic.domain.errors import (
    InvalidInput,
)
from ketaclinic.domain.session_lifecycle import (
    CheckItem,
    Transition,
)
from ketaclinic.services import (
    chair_mar,
    chair_sessions,
)
from ketaclinic.services.chair_mar import DoseValues
from ketaclinic.services.ports import UnitOfWork
from ketaclinic.web.deps import AppContainer, Csrf, IdPath, PageActor
from ketaclinic.web.pages.chair_support import (
    F,
    LongF,
    checked,
    required_number,
)
from ketaclinic.web.pages.chair_view import override_request, run_action

router = APIRouter()


@router.post("/sessions/{session_id}/transition", dependencies=[Csrf])
def transition(
    request: Request,
    session_id: IdPath,
    actor: PageActor,
    c: AppContainer,
    transition: F = "",
    reason: F = "",
) -> Response:
    def act(uow: UnitOfWork) -> object:
        try:
            which = Transition(transition)
        except ValueError:
            raise InvalidInput.for_field("transition", transition, "a session step") from None
        return chair_sessions.transition(uow, c.clock, actor, session_id, which, reason)

    done = {"begin_checks": "Checks begun.", "begin_observation": "Observation begun."}
    return run_action(
        request,
        c,
        actor,
        session_id,
        "actions",
        {"transition": transition, "reason": reason},
        act,
        done.get(transition, "Session cancelled."),
    )


@router.post("/sessions/{session_id}/weight", dependencies=[Csrf])
def weight(
    request: Request,
    session_id: IdPath,
    actor: PageActor,
    c: AppContainer,
    weight_kg: F = "",
    confirmed: F = "",
) -> Response:
    def act(uow: UnitOfWork) -> object:
        value = required_number("weight_kg", weight_kg)
        return chair_sessions.confirm_weight(
            uow, c.clock, actor, session_id, value, confirmed=checked(confirmed)
        )

    values = {"weight_kg": weight_kg}
    return run_action(request, c, actor, session_id, "checklist", values, act, "Weight confirmed.")


@router.post("/sessions/{session_id}/baseline", dependencies=[Csrf])
def baseline(
    request: Request,
    session_id: IdPath,
    actor: PageActor,
    c: AppContainer,
    systolic: F = "",
    diastolic: F = "",
    heart_rate: F = "",
    spo2: F = "",
) -> Response:
    def act(uow: UnitOfWork) -> object:
        return chair_sessions.record_baseline(
            uow,
            c.clock,
            actor,
            session_id,
            systolic_mmhg=required_number("systolic", systolic),
            diastolic_mmhg=required_number("diastolic", diastolic),
            heart_rate_per_min=required_number("heart_rate", heart_rate),
            spo2_percent=required_number("spo2", spo2),
        )

    values = {"systolic": systolic, "diastolic": diastolic, "heart_rate": heart_rate, "spo2": spo2}
    return run_action(request, c, actor, session_id, "checklist", values, act, "Baseline recorded.")


@router.post("/sessions/{session_id}/escort", dependencies=[Csrf])
def escort(
    request: Request,
    session_id: IdPath,
    actor: PageActor,
    c: AppContainer,
    escort_name: F = "",
    escort_phone: F = "",
) -> Response:
    def act(uow: UnitOfWork) -> object:
        return chair_sessions.confirm_escort(
            uow, c.clock, actor, session_id, name=escort_name, phone=escort_phone
        )

    values = {"escort_name": escort_name, "escort_phone": escort_phone}
    return run_action(request, c, actor, session_id, "checklist", values, act, "Escort confirmed.")


@router.post("/sessions/{session_id}/override", dependencies=[Csrf])
def override(
    request: Request,
    session_id: IdPath,
    actor: PageActor,
    c: AppContainer,
    item: F = "",
    reason: LongF = "",
) -> Response:
    def act(uow: UnitOfWork) -> object:
        try:
            which = CheckItem(item)
        except ValueError:
            raise InvalidInput.for_field("item", item, "a checklist item") from None
        return chair_sessions.override(uow, c.clock, actor, session_id, which, reason)

    values = {"item": item, "reason": reason}
    return run_action(request, c, actor, session_id, "checklist", values, act, "Check overridden.")


@router.post("/sessions/{session_id}/dose", dependencies=[Csrf])
def dose(
    request: Request,
    session_id: IdPath,
    actor: PageActor,
    c: AppContainer,
    dose_mg: F = "",
    concentration_mg_per_ml: F = "",
    volume_ml: F = "",
    rate_ml_per_h: F = "",
    override_reason: LongF = "",
    second_username: F = "",
    second_password: F = "",
) -> Response:
    def act(uow: UnitOfWork) -> object:
        values = DoseValues(
            required_number("dose_mg", dose_mg),
            required_number("concentration_mg_per_ml", concentration_mg_per_ml),
            required_number("volume_ml", volume_ml),
            required_number("rate_ml_per_h", rate_ml_per_h),
        )
        return chair_mar.verify_dose(
            uow,
            c.clock,
            actor,
            c.passwords,
            session_id,
            values,
            override_request(override_reason, second_username, second_password),
        )

    values = {
        "dose_mg": dose_mg,
        "concentration_mg_per_ml": concentration_mg_per_ml,
        "volume_ml": volume_ml,
        "rate_ml_per_h": rate_ml_per_h,
        "override_reason": override_reason,
        "second_username": second_username,
    }
    return run_action(request, c, actor, session_id, "dose", values, act, "Dose verified.")


@router.post("/sessions/{session_id}/start", dependencies=[Csrf])
def start(
    request: Request,
    session_id: IdPath,
    actor: PageActor,
    c: AppContainer,
    lot_number: F = "",
    pump_id: F = "",
) -> Response:
    def act(uow: UnitOfWork) -> object:
        return chair_mar.start_infusion(
            uow, c.clock, actor, c.passwords, session_id, lot_number=lot_number, pump_id=pump_id
        )

    values = {"lot_number": lot_number, "pump_id": pump_id}
    return run_action(request, c, actor, session_id, "actions", values, act, "Infusion started.")
