"""The clinician's tools without a patient — the dose calculator, the PK simulator, the model
catalog — and an order's predicted concentration. Clinical roles only; refusals are audited.

The calculator and simulator store nothing and hold no health data of a patient: their
answers are not audited. The order's prediction reads an order and is audited like one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ketaclinic.domain.audit import AuditAction
from ketaclinic.domain.dosing import DEFAULT_PUMP_RESOLUTION_ML_PER_H, Preparation
from ketaclinic.domain.drug_library import LimitLevel, evaluate, limits_for
from ketaclinic.domain.errors import InvalidInput
from ketaclinic.domain.people import CLINICAL_ROLES, Patient
from ketaclinic.domain.weight import check_plausibility, dosing_weight
from ketaclinic.pk.models import MODELS
from ketaclinic.services.audit import Actor, record, record_patient, require_role
from ketaclinic.services.dosing import RESOURCE, RESOURCE_CALCULATION, VIEW_ROLES, load_order
from ketaclinic.services.dosing_calc import DoseRequest, checked_compute_dose, compute
from ketaclinic.services.dosing_json import dose_body, model_body
from ketaclinic.services.dosing_library import (
    CLINIC_LIBRARY_NOTE,
    clinic_library,
    clinic_pk_model,
)
from ketaclinic.services.dosing_pk import (
    OrderPrediction,
    SimulationRun,
    SimulationSpec,
    calculation_schedule,
    order_prediction,
    pump_prediction,
    run_simulation,
)
from ketaclinic.services.dosing_ports import DoseOrder
from ketaclinic.services.patients import load_visible
from ketaclinic.services.ports import Clock, UnitOfWork

RESOURCE_CALCULATOR = "dose_calculator"
RESOURCE_PK = "pk_simulation"


@dataclass(frozen=True, slots=True)
class CalculatorInput:
    """The inputs of ``ketaclinic dose`` (DESIGN.md §4.2), weights in kg, height in cm."""

    weight_kg: float
    mg_per_kg: float
    minutes: float
    preparation: Preparation
    basis: str = "actual"
    height_cm: float | None = None
    sex: str | None = None
    protocol: str = "default"
    previous_weight_kg: float | None = None
    weight_confirmed: bool = False
    pump_resolution_ml_per_h: float = DEFAULT_PUMP_RESOLUTION_ML_PER_H


def calculate_dose(
    uow: UnitOfWork, clock: Clock, actor: Actor, given: CalculatorInput
) -> dict[str, Any]:
    """Dose, concentration and pump rate checked against the clinic's drug library: the
    ``dose --json`` result. Raises :class:`InvalidInput` for bad input or a doubtful weight
    not confirmed, :class:`LimitExceeded` for a hard limit (no override exists)."""
    require_role(uow, clock, actor, RESOURCE_CALCULATOR, CLINICAL_ROLES)
    weight = dosing_weight(given.weight_kg, given.basis, height_cm=given.height_cm, sex=given.sex)
    findings = check_plausibility(given.weight_kg, given.previous_weight_kg)
    if findings and not given.weight_confirmed:
        reasons = "; ".join(finding.message for finding in findings)
        raise InvalidInput.for_field(
            "weight_kg", given.weight_kg, f"a confirmed weight ({reasons}); send weight_confirmed"
        )
    limits = limits_for(given.protocol, clinic_library(uow))
    calculation = checked_compute_dose(
        weight,
        given.mg_per_kg,
        given.minutes,
        given.preparation,
        pump_resolution_ml_per_h=given.pump_resolution_ml_per_h,
    )
    evaluation = evaluate(limits, calculation)
    if evaluation.level is LimitLevel.HARD:
        evaluation.require_permitted()  # raises LimitExceeded: no override exists
    body = dose_body(calculation, evaluation, [finding.message for finding in findings])
    body.update({"library": "clinic", "library_note": CLINIC_LIBRARY_NOTE})
    return body


def simulate(uow: UnitOfWork, clock: Clock, actor: Actor, spec: SimulationSpec) -> SimulationRun:
    """Run a simulation for a clinician (see :func:`~ketaclinic.services.dosing_pk.run_simulation`
    for the bounds)."""
    require_role(uow, clock, actor, RESOURCE_PK, CLINICAL_ROLES)
    return run_simulation(spec)


def list_models(uow: UnitOfWork, clock: Clock, actor: Actor) -> list[dict[str, Any]]:
    """The six models with citation, population, validity range and provenance."""
    require_role(uow, clock, actor, RESOURCE_PK, CLINICAL_ROLES)
    return [model_body(model) for model in MODELS.values()]


def check_clinician(uow: UnitOfWork, clock: Clock, actor: Actor) -> str:
    """Refuse (audited) anyone but clinical roles; returns the clinic's PK model."""
    require_role(uow, clock, actor, RESOURCE_PK, CLINICAL_ROLES)
    return clinic_pk_model(uow)


@dataclass(frozen=True, slots=True, eq=False)
class OrderCurve:
    order: DoseOrder
    patient: Patient
    prediction: OrderPrediction


def order_curve(
    uow: UnitOfWork, clock: Clock, actor: Actor, order_id: int, model: str | None = None
) -> OrderCurve:
    """An order's predicted plasma curve with its population band (clinical roles, the order's
    site only; audited). ``model`` defaults to the clinic's choice (``kamp`` unless set)."""
    require_role(uow, clock, actor, RESOURCE, CLINICAL_ROLES)
    order, patient = load_order(uow, clock, actor, order_id, RESOURCE)
    chosen = model or clinic_pk_model(uow)
    age = patient.age_on(order.prepared_at.date())
    prediction = order_prediction(order, chosen, float(age))
    record(
        uow,
        clock,
        actor,
        AuditAction.READ,
        RESOURCE,
        site_id=patient.site_id,
        patient_id=patient.id,
        resource_id=order.id,
        detail=f"predicted concentration ({prediction.model.name})",
    )
    uow.commit()
    return OrderCurve(order, patient, prediction)


# design: the dose form's band is drawn with a fixed seed, so the same values always give the
# same picture while the prescriber types.
PREVIEW_SEED = 1


def preview_curve(
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    patient_id: int,
    request: DoseRequest,
    model: str | None = None,
) -> OrderPrediction:
    """The predicted concentration of a dose being filled in on the dose form, before it is
    ordered: computed as :func:`~ketaclinic.services.dosing.preview_dose` computes it (the
    patient's latest weight, the clinic's library), run as the pump would run it on the
    patient's actual weight and age with the clinic's model (or ``model``), with the population
    band. Nothing is stored; the read is audited. Raises :class:`InvalidInput` for bad input
    and :class:`LimitExceeded` for a dose at a hard limit (it cannot be ordered)."""
    require_role(uow, clock, actor, RESOURCE_CALCULATION, VIEW_ROLES)
    patient = load_visible(uow, clock, actor, patient_id, RESOURCE_CALCULATION)
    computation = compute(uow, patient, request, clinic_library(uow))
    if computation.evaluation.level is LimitLevel.HARD:
        computation.evaluation.require_permitted()  # no curve for a dose that cannot be given
    chosen = model or clinic_pk_model(uow)
    age = patient.age_on(clock.now().date())
    prediction = pump_prediction(
        calculation_schedule(computation.calculation),
        computation.weight.actual_kg,
        chosen,
        float(age),
        PREVIEW_SEED,
    )
    record_patient(
        uow,
        clock,
        actor,
        AuditAction.READ,
        RESOURCE_CALCULATION,
        patient,
        detail=f"predicted concentration of the dose form ({prediction.model.name})",
    )
    uow.commit()
    return prediction
