"""From a patient's stored weight and an order request to the numbers of a dose order.

The pure core does the arithmetic (``domain/weight.py``, ``domain/dosing.py``,
``domain/drug_library.py``); this module chooses its inputs from storage:

* the **weight** is the patient's latest body measurement; the one before it is the "previous
  visit" that plausibility compares against (``domain/weight.check_plausibility``);
* **height** is the latest recorded height (the latest measurement may leave it out);
* **sex** feeds the Devine formula only when it is male or female; for other values ideal and
  adjusted bases are refused naming the field, and actual weight works as always;
* the **protocol** is the one asked for, else the protocol of the patient's current treatment
  plan when the drug library has it, else ``default``;
* the **limits** are the clinic's effective drug library (``services/dosing_library.py``).

Nothing here writes or audits; the use cases in ``services/dosing.py`` do (and the demo clinic,
which builds its orders with :func:`build_order`).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from ketaclinic.domain.dosing import (
    ACCEPTED_DURATION_MIN,
    ACCEPTED_MG_PER_KG,
    ACCEPTED_PUMP_RESOLUTION_ML_PER_H,
    DEFAULT_PUMP_RESOLUTION_ML_PER_H,
    BagPreparation,
    DilutionPreparation,
    DoseCalculation,
    Preparation,
    StockPreparation,
    check_duration_min,
    check_mg_per_kg,
    compute_dose,
)
from ketaclinic.domain.drug_library import LimitEvaluation, ProtocolLimits, evaluate, limits_for
from ketaclinic.domain.errors import InvalidInput, KetaclinicError
from ketaclinic.domain.people import BodyMeasurement, Patient, Sex
from ketaclinic.domain.weight import (
    DosingWeight,
    WeightBasis,
    WeightFinding,
    check_plausibility,
    dosing_weight,
)
from ketaclinic.services.dosing_ports import (
    DoseOrder,
    OverrideRequest,
    PreparationKind,
    StoredLimitHit,
)
from ketaclinic.services.ports import UnitOfWork

DEFAULT_PROTOCOL = "default"
DEFAULT_MG_PER_KG = 0.5  # [cited: Feder 2014; Feder 2021; Abdallah 2022, REFERENCE.md §3.1]
DEFAULT_DURATION_MIN = 40.0  # [cited: the same trials, REFERENCE.md §3.1]
DEFAULT_BAG_ML = 100.0  # [unverified: 50–100 mL NS bag in psychiatric practice, §3.3]
# design: 100× the pump programming ceiling (999 mL/h, the drug library's hard limit); a
# computed rate above it comes from a typing error, not from a dose to weigh against limits.
MAX_COMPUTED_RATE_ML_PER_H = 100_000.0
# design: syringe pumps step by 0.01 mL/h at the finest; a finer step is a typing error, and
# rate / step must stay within what the core's decimal rounding represents exactly.
MIN_PUMP_RESOLUTION_ML_PER_H = 0.001
# design: floors below which a number is a typing error rather than a dose. 1 µg/kg is a
# hundredth of the lowest trial dose (0.1 mg/kg [cited: Andrade 2017, REFERENCE.md §3.1]); no
# infusion is shorter than 1 min, since even anaesthetic boluses take ≥ 60 s [cited: Ketalar
# US PI, §3.1]. They also keep the core's arithmetic away from subnormal numbers.
MIN_MG_PER_KG = 0.001
MIN_DURATION_MIN = 1.0


@dataclass(frozen=True, slots=True)
class DoseRequest:
    """What a prescriber asks for. ``protocol_id`` "" means the patient's plan (or default);
    ``override_reason`` is a prescriber's reason to proceed past soft limits."""

    mg_per_kg: float
    duration_min: float
    preparation: Preparation
    basis: str = WeightBasis.ACTUAL.value
    protocol_id: str = ""
    pump_resolution_ml_per_h: float = DEFAULT_PUMP_RESOLUTION_ML_PER_H
    confirm_weight: bool = False
    override_reason: str = ""
    note: str = ""


@dataclass(frozen=True, slots=True)
class WeightContext:
    """The patient's weight as dosing sees it: the latest measurement, the previous one, the
    latest height, the sex the Devine formula can use, and the plausibility findings."""

    measurement: BodyMeasurement | None
    previous: BodyMeasurement | None
    height_cm: float | None
    sex: str | None
    findings: tuple[WeightFinding, ...]

    @property
    def weight_kg(self) -> float | None:
        return self.measurement.weight_kg if self.measurement else None

    def require_measurement(self) -> BodyMeasurement:
        if self.measurement is None:
            raise InvalidInput.for_field(
                "weight_kg", None, "a recorded body weight (record the patient's weight first)"
            )
        return self.measurement

    def dosing_weight(self, basis: str) -> DosingWeight:
        """The dosing weight on ``basis``; InvalidInput naming height or sex when it needs them."""
        measurement = self.require_measurement()
        weight_kg = measurement.weight_kg
        if basis == WeightBasis.ACTUAL.value:
            try:
                return dosing_weight(weight_kg, basis, height_cm=self.height_cm, sex=self.sex)
            except InvalidInput:
                # IBW/AdjBW are shown beside actual weight only when they can be computed
                # (e.g. not below ~102 cm); actual weight itself needs neither height nor sex.
                return dosing_weight(weight_kg, basis)
        return dosing_weight(weight_kg, basis, height_cm=self.height_cm, sex=self.sex)


@dataclass(frozen=True, slots=True)
class BasisOption:
    """One weight basis as the dose form shows it: its weight, or why it is not available."""

    basis: WeightBasis
    weight: DosingWeight | None
    unavailable: str = ""


@dataclass(frozen=True, slots=True)
class DoseComputation:
    """Everything an order stores, before it is stored."""

    context: WeightContext
    weight: DosingWeight
    limits: ProtocolLimits
    calculation: DoseCalculation
    evaluation: LimitEvaluation


@dataclass(frozen=True, slots=True)
class FieldError:
    """A refused input as the form shows it next to the field."""

    field: str | None
    message: str
    code: str

    @classmethod
    def of(cls, error: KetaclinicError) -> FieldError:
        return cls(error.field, error.message, error.code)


def preparation_from(
    *,
    bag_ml: float | None = None,
    concentration_mg_per_ml: float | None = None,
    diluent_ml: float | None = None,
    stock_mg_per_ml: float | None = None,
) -> Preparation:
    """Exactly one preparation from form or JSON fields: a bag's final volume, a fixed
    concentration, or a diluent volume with the stock concentration added to it."""
    kinds = [
        name
        for name, given in (
            ("bag_ml", bag_ml is not None),
            ("concentration_mg_per_ml", concentration_mg_per_ml is not None),
            ("diluent_ml/stock_mg_per_ml", diluent_ml is not None or stock_mg_per_ml is not None),
        )
        if given
    ]
    if len(kinds) != 1:
        raise InvalidInput.for_field(
            "preparation",
            ", ".join(kinds) or "none",
            "exactly one of bag_ml, concentration_mg_per_ml, or diluent_ml with stock_mg_per_ml",
        )
    if bag_ml is not None:
        return BagPreparation(bag_ml)
    if concentration_mg_per_ml is not None:
        return StockPreparation(concentration_mg_per_ml)
    if diluent_ml is None:
        raise InvalidInput.for_field("diluent_ml", None, "the diluent volume in mL")
    if stock_mg_per_ml is None:
        raise InvalidInput.for_field("stock_mg_per_ml", None, "the stock concentration in mg/mL")
    return DilutionPreparation(diluent_ml, stock_mg_per_ml)


def checked_compute_dose(
    weight: DosingWeight,
    mg_per_kg: float,
    duration_min: float,
    preparation: Preparation,
    *,
    pump_resolution_ml_per_h: float = DEFAULT_PUMP_RESOLUTION_ML_PER_H,
) -> DoseCalculation:
    """:func:`~ketaclinic.domain.dosing.compute_dose`, refusing first what can only be a typing
    error and what the core's arithmetic cannot represent: a dose below 0.001 mg/kg, a duration
    under 1 min, a pump step finer than 0.001 mL/h, and a rate above 100,000 mL/h (e.g. from a
    concentration of 1e-300 mg/mL). Raises :class:`InvalidInput` naming the field."""
    check_mg_per_kg(mg_per_kg)
    minutes = check_duration_min(duration_min)
    if mg_per_kg < MIN_MG_PER_KG:
        raise InvalidInput.for_field(
            "mg_per_kg", mg_per_kg, f"{MIN_MG_PER_KG:g}–{ACCEPTED_MG_PER_KG[1]:g} mg/kg"
        )
    if minutes < MIN_DURATION_MIN:
        raise InvalidInput.for_field(
            "duration_min",
            duration_min,
            f"{MIN_DURATION_MIN:g}–{ACCEPTED_DURATION_MIN[1]:g} min (there is no push mode)",
        )
    low, high = MIN_PUMP_RESOLUTION_ML_PER_H, ACCEPTED_PUMP_RESOLUTION_ML_PER_H[1]
    step = pump_resolution_ml_per_h
    if not _finite(step) or not (low <= step <= high):
        raise InvalidInput.for_field("pump_resolution_ml_per_h", step, f"{low:g}–{high:g} mL/h")
    dose_mg = mg_per_kg * weight.dosing_kg
    if isinstance(preparation, BagPreparation):
        volume_ml = preparation.final_volume_ml
    elif isinstance(preparation, DilutionPreparation):
        volume_ml = preparation.diluent_ml + dose_mg / preparation.stock_mg_per_ml
    else:
        volume_ml = dose_mg / preparation.concentration_mg_per_ml
    rate = volume_ml * 60.0 / minutes
    if not math.isfinite(rate) or rate > MAX_COMPUTED_RATE_ML_PER_H:
        raise InvalidInput.for_field(
            "rate_ml_per_h",
            rate,
            f"at most {MAX_COMPUTED_RATE_ML_PER_H:,.0f} mL/h (check the duration and the "
            "preparation)",
        )
    return compute_dose(
        weight,
        mg_per_kg,
        minutes,
        preparation,
        pump_resolution_ml_per_h=pump_resolution_ml_per_h,
    )


def weight_context(uow: UnitOfWork, patient: Patient) -> WeightContext:
    """Read the patient's measurements (oldest first) and check the latest for plausibility."""
    measurements = uow.patients.measurements(patient.id)
    latest = measurements[-1] if measurements else None
    previous = measurements[-2] if len(measurements) > 1 else None
    height = next((m.height_cm for m in reversed(measurements) if m.height_cm), None)
    sex = patient.sex.value if patient.sex in (Sex.MALE, Sex.FEMALE) else None
    findings: tuple[WeightFinding, ...] = ()
    if latest is not None:
        findings = check_plausibility(
            latest.weight_kg, previous.weight_kg if previous is not None else None
        )
    return WeightContext(latest, previous, height, sex, findings)


def basis_options(context: WeightContext) -> list[BasisOption]:
    """Each weight basis with its weight, or the reason it cannot be used for this patient."""
    options: list[BasisOption] = []
    for basis in WeightBasis:
        try:
            options.append(BasisOption(basis, context.dosing_weight(basis.value)))
        except InvalidInput as error:
            options.append(BasisOption(basis, None, error.message))
    return options


def plan_defaults(
    uow: UnitOfWork, patient: Patient, library: dict[str, ProtocolLimits]
) -> tuple[str, float]:
    """(protocol id, mg/kg) from the patient's current treatment plan; the protocol falls back
    to ``default`` when the drug library has no limits for the plan's protocol."""
    plans = uow.schedule.plans(patient.id)
    if not plans:
        return DEFAULT_PROTOCOL, DEFAULT_MG_PER_KG
    plan = plans[0]
    protocol = plan.protocol_id if plan.protocol_id in library else DEFAULT_PROTOCOL
    return protocol, plan.dose_mg_per_kg


def compute(
    uow: UnitOfWork,
    patient: Patient,
    request: DoseRequest,
    library: dict[str, ProtocolLimits],
    context: WeightContext | None = None,
) -> DoseComputation:
    """Dose, pump rate and limit evaluation for ``request`` on the patient's latest weight.

    Raises :class:`InvalidInput` naming the field for a missing weight, a basis the patient's
    record cannot support, an unknown protocol or a value outside the calculator's ranges. A
    hard limit is *not* raised here: the evaluation says so, and the caller refuses it.
    """
    context = context or weight_context(uow, patient)
    weight = context.dosing_weight(request.basis)
    protocol_id = request.protocol_id or plan_defaults(uow, patient, library)[0]
    limits = limits_for(protocol_id, library)
    calculation = checked_compute_dose(
        weight,
        request.mg_per_kg,
        request.duration_min,
        request.preparation,
        pump_resolution_ml_per_h=request.pump_resolution_ml_per_h,
    )
    return DoseComputation(context, weight, limits, calculation, evaluate(limits, calculation))


def findings_text(findings: tuple[WeightFinding, ...]) -> str:
    return "; ".join(finding.message for finding in findings)


def require_confirmed_weight(context: WeightContext, confirmed: bool) -> None:
    """A weight with plausibility findings blocks the order until someone confirms it."""
    if context.findings and not confirmed:
        raise InvalidInput.for_field(
            "confirm_weight",
            False,
            f"a confirmed weight ({findings_text(context.findings)}): re-check the weight, "
            "record a new one if it was wrong, or confirm it",
        )


def build_order(
    patient: Patient,
    computation: DoseComputation,
    request: DoseRequest,
    *,
    prepared_by: int,
    at: dt.datetime,
    signed: bool,
    override: OverrideRequest | None,
    note: str = "",
) -> DoseOrder:
    """The order to store for ``computation`` (not yet stored, so ``id`` is 0). A doubtful
    weight counts as confirmed by the person preparing the order, at ``at``; ``signed`` means
    that person is the prescriber who signs it."""
    calc = computation.calculation
    weight = computation.weight
    context = computation.context
    measurement = context.require_measurement()
    evaluation = computation.evaluation
    volume_ml, mg_per_ml = _preparation_fields(request.preparation)
    return DoseOrder(
        id=0,
        patient_id=patient.id,
        site_id=patient.site_id,
        protocol_id=computation.limits.protocol_id,
        measurement_id=measurement.id,
        actual_weight_kg=weight.actual_kg,
        height_cm=context.height_cm,
        weight_basis=weight.basis,
        dosing_weight_kg=weight.dosing_kg,
        ideal_weight_kg=weight.ideal_kg,
        adjusted_weight_kg=weight.adjusted_kg,
        weight_provenance=weight.provenance.label(),
        weight_warnings=weight.warnings,
        weight_findings=tuple(finding.message for finding in context.findings),
        weight_confirmed_by=prepared_by if context.findings else None,
        weight_confirmed_at=at if context.findings else None,
        mg_per_kg=calc.mg_per_kg,
        duration_min=calc.duration_min,
        preparation=_preparation_kind(request.preparation),
        preparation_volume_ml=volume_ml,
        preparation_mg_per_ml=mg_per_ml,
        pump_resolution_ml_per_h=calc.pump_resolution_ml_per_h,
        dose_mg=calc.dose_mg,
        concentration_mg_per_ml=calc.concentration_mg_per_ml,
        volume_ml=calc.volume_ml,
        rate_ml_per_h=calc.rate_ml_per_h,
        rate_mg_per_kg_per_h=calc.rate_mg_per_kg_per_h,
        pump_rate_ml_per_h=calc.pump_rate_ml_per_h,
        pump_duration_min=calc.pump_duration_min,
        dose_error_mg=calc.dose_error_mg,
        limit_level=evaluation.level,
        limit_hits=tuple(
            StoredLimitHit(
                quantity=hit.quantity,
                value=hit.value,
                level=hit.level,
                limit_value=hit.bound.value,
                unit=hit.unit,
                upper=hit.upper,
                threshold_key=hit.bound.key,
                provenance=hit.bound.provenance.label(),
                approved_by=hit.bound.approved_by,
            )
            for hit in evaluation.hits
        ),
        prepared_by=prepared_by,
        prepared_at=at,
        signed_by=prepared_by if signed else None,
        signed_at=at if signed else None,
        override_reason=override.reason if override else "",
        override_requested_by=override.requested_by if override else None,
        override_requested_at=override.requested_at if override else None,
        note=note,
    )


def _preparation_kind(preparation: Preparation) -> PreparationKind:
    if isinstance(preparation, BagPreparation):
        return PreparationKind.BAG
    if isinstance(preparation, DilutionPreparation):
        return PreparationKind.DILUTION
    return PreparationKind.STOCK


def _preparation_fields(preparation: Preparation) -> tuple[float | None, float | None]:
    """(volume mL, mg/mL) as an order stores them for each preparation kind."""
    if isinstance(preparation, BagPreparation):
        return preparation.final_volume_ml, None
    if isinstance(preparation, DilutionPreparation):
        return preparation.diluent_ml, preparation.stock_mg_per_ml
    return None, preparation.concentration_mg_per_ml


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
