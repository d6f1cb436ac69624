"""Dosing and pharmacokinetics over HTTP: the dose calculator, the PK simulator and model
catalog (clinical roles), and dose orders (site-scoped, every call audited).

- ``POST /dose`` and ``POST /simulate`` answer exactly as ``ketaclinic dose --json`` and
  ``ketaclinic simulate --json`` do; nothing is stored. A hard limit is a 422 naming the limit.
- ``GET /models``: the six PK models with citation, population, validity range, provenance.
- ``POST /patients/{id}/dose-orders``: order on the patient's latest weight (nurse: awaits a
  prescriber's signature; prescriber: signed). A doubtful weight needs ``confirm_weight``
  (422 otherwise), a soft limit a prescriber's ``override_reason`` (409 otherwise), a hard
  limit is refused (422).
- ``POST /dose-orders/{id}/signature`` (prescriber) and
  ``POST /dose-orders/{id}/override-confirmation``: the second person, with their own token;
  the requester themselves is refused (403).
- ``GET /sessions/{id}/prediction``: the predicted concentration of an infusion session's
  record as charted, with the clinic's PK model (clinical roles of the session's site; audited;
  404 before the start or without a weight).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ketaclinic.domain.errors import NotFound
from ketaclinic.pk.models import get_model
from ketaclinic.pk.schedule import Bolus, Infusion, Schedule
from ketaclinic.pk.simulate import DISCLAIMER
from ketaclinic.services import chair_views, dosing, dosing_tools
from ketaclinic.services.dosing_calc import DoseRequest, preparation_from
from ketaclinic.services.dosing_json import single_body
from ketaclinic.services.dosing_pk import SimulationSpec
from ketaclinic.services.dosing_ports import ConfirmationMethod, DoseOrder
from ketaclinic.services.ports import UnitOfWork
from ketaclinic.web.api.dosing_schemas import (
    DoseIn,
    DoseOrderIn,
    DoseOrderList,
    DoseOrderOut,
    DoseOut,
    ModelList,
    ModelOut,
    SessionPredictionOut,
    SignatureIn,
    SimulateIn,
    SimulationOut,
)
from ketaclinic.web.api.schemas import ErrorResponse
from ketaclinic.web.deps import ApiActor, AppContainer, IdPath

router = APIRouter(tags=["dosing"])

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse},
    403: {"model": ErrorResponse},
    422: {"model": ErrorResponse, "description": "bad input, or a hard limit (code hard_limit)"},
}
ORDER_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    404: {"model": ErrorResponse},
    409: {"model": ErrorResponse, "description": "a soft limit needs an override, or a clash"},
}


@router.post("/dose", response_model=DoseOut, responses=ERRORS)
def calculate_dose(body: DoseIn, actor: ApiActor, c: AppContainer) -> DoseOut:
    """Dose, concentration and pump rate, checked against the clinic's drug library (no
    patient, nothing stored): the JSON of ``ketaclinic dose --json``."""
    preparation = preparation_from(
        bag_ml=body.bag_ml, concentration_mg_per_ml=body.concentration_mg_per_ml
    )
    given = dosing_tools.CalculatorInput(
        weight_kg=body.weight_kg,
        mg_per_kg=body.mg_per_kg,
        minutes=body.minutes,
        preparation=preparation,
        basis=body.basis,
        height_cm=body.height_cm,
        sex=body.sex,
        protocol=body.protocol,
        previous_weight_kg=body.previous_weight_kg,
        weight_confirmed=body.weight_confirmed,
        pump_resolution_ml_per_h=body.pump_resolution_ml_per_h,
    )
    with c.uow() as uow:
        result = dosing_tools.calculate_dose(uow, c.clock, actor, given)
    return DoseOut.model_validate(result)


@router.post(
    "/simulate",
    response_model=SimulationOut,
    response_model_exclude_unset=True,
    responses=ERRORS,
)
def simulate(body: SimulateIn, actor: ApiActor, c: AppContainer) -> SimulationOut:
    """Predicted plasma concentration (illustrative; never drives dosing): the JSON of
    ``ketaclinic simulate --json``. With ``population`` (1–10,000 virtual patients, seeded),
    percentile bands 5/50/95 instead of one curve. At most 20,001 grid points, and at most
    20,000,000 patients × points."""
    schedule = None
    if body.schedule is not None:
        schedule = Schedule(
            infusions=tuple(
                Infusion(i.start_min, i.duration_min, i.rate_mg_per_min)
                for i in body.schedule.infusions
            ),
            boluses=tuple(Bolus(b.t_min, b.dose_mg) for b in body.schedule.boluses),
        )
    spec = SimulationSpec(
        model=body.model,
        weight_kg=body.weight_kg,
        mg_per_kg=body.mg_per_kg,
        minutes=body.minutes,
        schedule=schedule,
        age_years=body.age_years,
        horizon_min=body.horizon_min,
        step_s=body.step_s,
        population=body.population,
        seed=body.seed,
        cv=dict(body.cv) if body.cv is not None else None,
        threshold_ng_per_ml=body.threshold_ng_per_ml,
    )
    with c.uow() as uow:
        run = dosing_tools.simulate(uow, c.clock, actor, spec)
    return SimulationOut(**run.body())


@router.get("/models", response_model=ModelList, responses=ERRORS)
def list_models(actor: ApiActor, c: AppContainer) -> ModelList:
    """The six ketamine models: citation, study population, validity range and provenance."""
    with c.uow(readonly=True) as uow:
        models = dosing_tools.list_models(uow, c.clock, actor)
    return ModelList(items=[ModelOut.model_validate(m) for m in models], note=DISCLAIMER)


@router.post(
    "/patients/{patient_id}/dose-orders",
    response_model=DoseOrderOut,
    status_code=201,
    responses=ORDER_ERRORS,
)
def order_dose(
    patient_id: IdPath, body: DoseOrderIn, actor: ApiActor, c: AppContainer
) -> DoseOrderOut:
    """Order a dose on the patient's latest recorded weight (nurse or prescriber)."""
    request = DoseRequest(
        mg_per_kg=body.mg_per_kg,
        duration_min=body.minutes,
        preparation=preparation_from(
            bag_ml=body.bag_ml,
            concentration_mg_per_ml=body.concentration_mg_per_ml,
            diluent_ml=body.diluent_ml,
            stock_mg_per_ml=body.stock_mg_per_ml,
        ),
        basis=body.basis,
        protocol_id=body.protocol or "",
        pump_resolution_ml_per_h=body.pump_resolution_ml_per_h,
        confirm_weight=body.confirm_weight,
        override_reason=body.override_reason,
        note=body.note,
    )
    with c.uow() as uow:
        order = dosing.order_dose(uow, c.clock, actor, patient_id, request)
        return _out(uow, order)


@router.get(
    "/patients/{patient_id}/dose-orders", response_model=DoseOrderList, responses=ORDER_ERRORS
)
def list_orders(patient_id: IdPath, actor: ApiActor, c: AppContainer) -> DoseOrderList:
    """The patient's dose orders, newest first."""
    with c.uow(readonly=True) as uow:
        orders = dosing.list_orders(uow, c.clock, actor, patient_id)
        names = dosing.staff_names(uow, orders)
    return DoseOrderList(items=[DoseOrderOut.of(order, names) for order in orders])


@router.get("/dose-orders/{order_id}", response_model=DoseOrderOut, responses=ORDER_ERRORS)
def read_order(order_id: IdPath, actor: ApiActor, c: AppContainer) -> DoseOrderOut:
    """One dose order with its limit evaluation, signature and override."""
    with c.uow(readonly=True) as uow:
        order = dosing.get_order(uow, c.clock, actor, order_id)
        return _out(uow, order)


@router.post(
    "/dose-orders/{order_id}/signature", response_model=DoseOrderOut, responses=ORDER_ERRORS
)
def sign_order(
    order_id: IdPath, actor: ApiActor, c: AppContainer, body: SignatureIn | None = None
) -> DoseOrderOut:
    """A prescriber signs a nurse's order; a soft limit needs ``override_reason``."""
    reason = body.override_reason if body is not None else ""
    with c.uow() as uow:
        order = dosing.sign_order(uow, c.clock, actor, order_id, reason)
        return _out(uow, order)


@router.post(
    "/dose-orders/{order_id}/override-confirmation",
    response_model=DoseOrderOut,
    responses=ORDER_ERRORS,
)
def confirm_override(order_id: IdPath, actor: ApiActor, c: AppContainer) -> DoseOrderOut:
    """The second staff member (nurse or prescriber, not the requester) confirms a soft-limit
    override with their own bearer token."""
    with c.uow() as uow:
        order = dosing.confirm_override(uow, c.clock, actor, order_id, via=ConfirmationMethod.TOKEN)
        return _out(uow, order)


def _out(uow: UnitOfWork, order: DoseOrder) -> DoseOrderOut:
    return DoseOrderOut.of(order, dosing.staff_names(uow, [order]))


@router.get(
    "/sessions/{session_id}/prediction", response_model=SessionPredictionOut, responses=ORDER_ERRORS
)
def session_prediction(
    session_id: IdPath, actor: ApiActor, c: AppContainer
) -> SessionPredictionOut:
    """The predicted plasma concentration of the session's administration record as charted
    (the chair's chart as numbers), with the clinic's PK model for plots; a running pump is
    assumed to run on until its bag is empty. 404 before the start or without a weight."""
    with c.uow(readonly=True) as uow:
        row, prediction = chair_views.session_prediction(uow, c.clock, actor, session_id)
    if prediction is None:
        raise NotFound(
            f"infusion session {row.id}: no prediction before the infusion starts or without "
            "a weight"
        )
    body = single_body(prediction.result, get_model(prediction.model_name))
    return SessionPredictionOut(
        session_id=row.id,
        model=prediction.model_name,
        model_title=prediction.model_title,
        citation=prediction.citation,
        provenance=prediction.provenance,
        warnings=list(prediction.warnings),
        note=DISCLAIMER,
        now_min=prediction.now_min,
        now_ng_per_ml=prediction.now_ng_per_ml,
        **body,
    )
