"""JSON shapes of the dosing API: the contract other programs rely on, separate from storage and
from the domain objects they are built from. Request models forbid unknown fields and bound
every number to the ranges the core accepts (so the OpenAPI document states them); the core
still checks the clinical rules and the drug library.

``DoseOut`` and ``SimulationOut`` are the JSON of ``ketaclinic dose --json`` and
``ketaclinic simulate --json`` (DESIGN.md §4.2); a simulation carries only the keys the
command prints for it (one curve, or population bands).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from ketaclinic.domain.dosing import (
    ACCEPTED_DURATION_MIN,
    ACCEPTED_MG_PER_KG,
    ACCEPTED_PUMP_RESOLUTION_ML_PER_H,
    ACCEPTED_STOCK_MG_PER_ML,
    ACCEPTED_VOLUME_ML,
    DEFAULT_PUMP_RESOLUTION_ML_PER_H,
)
from ketaclinic.domain.weight import ACCEPTED_HEIGHT_CM, ACCEPTED_WEIGHT_KG
from ketaclinic.pk.population import MAX_CV
from ketaclinic.pk.schedule import MAX_BOLUS_MG, MAX_RATE_MG_PER_MIN, MAX_STEP_S, MAX_TIME_MIN
from ketaclinic.services.dosing_calc import (
    MIN_DURATION_MIN,
    MIN_MG_PER_KG,
    MIN_PUMP_RESOLUTION_ML_PER_H,
)
from ketaclinic.services.dosing_json import MAX_THRESHOLD_NG_PER_ML
from ketaclinic.services.dosing_pk import MAX_POPULATION, MAX_SEED
from ketaclinic.services.dosing_ports import DoseOrder

ModelName = Literal["domino", "clements", "hijazi", "kamp", "herd", "hornik"]
CvValue = Annotated[float, Field(ge=0, le=MAX_CV, allow_inf_nan=False)]
Basis = Literal["actual", "ideal", "adjusted"]

WeightKg = Annotated[
    float, Field(ge=ACCEPTED_WEIGHT_KG[0], le=ACCEPTED_WEIGHT_KG[1], allow_inf_nan=False)
]
HeightCm = Annotated[
    float, Field(ge=ACCEPTED_HEIGHT_CM[0], le=ACCEPTED_HEIGHT_CM[1], allow_inf_nan=False)
]
MgPerKg = Annotated[float, Field(ge=MIN_MG_PER_KG, le=ACCEPTED_MG_PER_KG[1], allow_inf_nan=False)]
Minutes = Annotated[
    float, Field(ge=MIN_DURATION_MIN, le=ACCEPTED_DURATION_MIN[1], allow_inf_nan=False)
]
VolumeMl = Annotated[
    float, Field(ge=ACCEPTED_VOLUME_ML[0], le=ACCEPTED_VOLUME_ML[1], allow_inf_nan=False)
]
MgPerMl = Annotated[
    float,
    Field(gt=ACCEPTED_STOCK_MG_PER_ML[0], le=ACCEPTED_STOCK_MG_PER_ML[1], allow_inf_nan=False),
]
PumpStep = Annotated[
    float,
    Field(
        ge=MIN_PUMP_RESOLUTION_ML_PER_H,
        le=ACCEPTED_PUMP_RESOLUTION_ML_PER_H[1],
        allow_inf_nan=False,
    ),
]
TimeMin = Annotated[float, Field(ge=0, le=MAX_TIME_MIN, allow_inf_nan=False)]
ProtocolId = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[a-z0-9][a-z0-9\-]*$")]
Text = Annotated[str, Field(max_length=500)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class _Preparation(_In):
    """Exactly one preparation: ``bag_ml``, ``concentration_mg_per_ml``, or ``diluent_ml`` with
    ``stock_mg_per_ml`` (the dose drawn from a stock vial into a diluent bag)."""

    bag_ml: VolumeMl | None = Field(None, description="final bag volume, drug included (mL)")
    concentration_mg_per_ml: MgPerMl | None = Field(None, description="fixed concentration")
    diluent_ml: VolumeMl | None = Field(None, description="diluent volume before the drug (mL)")
    stock_mg_per_ml: MgPerMl | None = Field(None, description="stock vial concentration")


# --- calculator and simulator -----------------------------------------------------------------


class DoseIn(_In):
    """The options of ``ketaclinic dose`` (without the dilution form, which the command lacks)."""

    weight_kg: WeightKg
    mg_per_kg: MgPerKg
    minutes: Minutes
    bag_ml: VolumeMl | None = None
    concentration_mg_per_ml: MgPerMl | None = None
    basis: Basis = "actual"
    height_cm: HeightCm | None = None
    sex: Literal["male", "female"] | None = None
    protocol: ProtocolId = "default"
    previous_weight_kg: WeightKg | None = None
    weight_confirmed: bool = False
    pump_resolution_ml_per_h: PumpStep = DEFAULT_PUMP_RESOLUTION_ML_PER_H


class LimitHitOut(BaseModel):
    quantity: str
    value: float
    level: str
    limit: float
    unit: str
    provenance: str
    message: str


class DoseOut(BaseModel):
    dose_mg: float
    concentration_mg_per_ml: float
    volume_ml: float
    rate_ml_per_h: float
    rate_mg_per_kg_per_h: float
    limit: Literal["ok", "soft", "hard"]
    pump_rate_ml_per_h: float
    pump_resolution_ml_per_h: float
    pump_duration_min: float
    dose_error_mg: float
    dose_error_percent: float
    weight_basis: str
    dosing_weight_kg: float
    actual_weight_kg: float
    ideal_weight_kg: float | None
    adjusted_weight_kg: float | None
    weight_provenance: str
    protocol: str
    limits_hit: list[LimitHitOut]
    warnings: list[str]
    weight_findings: list[str]
    library: Literal["clinic", "shipped"] = Field(
        description="whose limits were checked: the clinic's (the API always) or the shipped "
        "defaults (the command line without a readable database)"
    )
    library_note: str


class InfusionIn(_In):
    start_min: TimeMin
    duration_min: Annotated[float, Field(gt=0, le=MAX_TIME_MIN, allow_inf_nan=False)]
    rate_mg_per_min: Annotated[float, Field(ge=0, le=MAX_RATE_MG_PER_MIN, allow_inf_nan=False)]


class BolusIn(_In):
    t_min: TimeMin
    dose_mg: Annotated[float, Field(ge=0, le=MAX_BOLUS_MG, allow_inf_nan=False)]


class ScheduleIn(_In):
    """Infusions (overlaps add up; a pause is a gap) and boluses, minutes from the start."""

    infusions: list[InfusionIn] = Field(default_factory=list, max_length=200)
    boluses: list[BolusIn] = Field(default_factory=list, max_length=200)


class SimulateIn(_In):
    """``ketaclinic simulate``: mg/kg over minutes, or an explicit ``schedule``."""

    model: ModelName
    weight_kg: WeightKg
    mg_per_kg: MgPerKg | None = None
    minutes: Minutes | None = None
    schedule: ScheduleIn | None = None
    age_years: Annotated[float, Field(ge=0, le=120, allow_inf_nan=False)] | None = None
    horizon_min: Annotated[float, Field(gt=0, le=MAX_TIME_MIN, allow_inf_nan=False)] | None = None
    step_s: Annotated[float, Field(gt=0, le=MAX_STEP_S, allow_inf_nan=False)] = 10.0
    population: Annotated[int, Field(ge=1, le=MAX_POPULATION)] | None = None
    seed: Annotated[int, Field(ge=0, le=MAX_SEED)] = 0
    cv: dict[Annotated[str, Field(max_length=20)], CvValue] | None = Field(
        default=None,
        description="with population: coefficients of variation by parameter (v1_l, "
        "cl_l_per_min, q2_l_per_min, v2_l, q3_l_per_min, v3_l; fractions, 0.3 = 30 %) in place "
        "of the design defaults; the others keep theirs",
    )
    threshold_ng_per_ml: (
        Annotated[float, Field(gt=0, le=MAX_THRESHOLD_NG_PER_ML, allow_inf_nan=False)] | None
    ) = Field(
        default=None,
        description="the concentration time above (and, with population, the share of peaks "
        "above) is reported at; default 100 ng/mL",
    )


class SessionPredictionOut(BaseModel):
    """The predicted plasma concentration of an infusion session's administration record as
    charted, with the clinic's PK model for plots. Minutes are from the infusion's start;
    ``now_min`` is now on that axis. Illustrative; never drives dosing."""

    session_id: int
    model: str
    model_title: str
    citation: str
    provenance: str
    warnings: list[str]
    note: str
    now_min: float
    now_ng_per_ml: float
    times_min: list[float]
    plasma_ng_per_ml: list[float]
    cmax_ng_per_ml: float
    tmax_min: float
    auc_ng_min_per_ml: float
    time_above_ng_per_ml: dict[str, float | None]
    effect_site_ng_per_ml: list[float] | None = None
    effect_site_note: str | None = None


class SimulationOut(BaseModel):
    """One curve (``times_min`` … ``time_above_ng_per_ml``) or, with ``population``, bands."""

    model: str
    model_title: str
    citation: str
    provenance: str
    weight_kg: float
    dose_mg: float
    minutes: float | None
    warnings: list[str]
    note: str
    times_min: list[float]
    plasma_ng_per_ml: list[float] | None = None
    cmax_ng_per_ml: float | None = None
    tmax_min: float | None = None
    auc_ng_min_per_ml: float | None = None
    time_above_ng_per_ml: dict[str, float | None] | None = None
    effect_site_ng_per_ml: list[float] | None = None
    effect_site_note: str | None = None
    population: int | None = None
    seed: int | None = None
    cv: dict[str, float] | None = None
    cv_given: list[str] | None = None
    cv_provenance: str | None = None
    plasma_percentiles_ng_per_ml: dict[str, list[float]] | None = None
    cmax_percentiles_ng_per_ml: dict[str, float] | None = None
    probability_peak_above_ng_per_ml: dict[str, float] | None = None


class ValidityOut(BaseModel):
    weight_kg: list[float]
    age_years: list[float] | None
    provenance: str


class ModelOut(BaseModel):
    name: str
    title: str
    citation: str
    population: str
    compartments: int
    provenance: str
    validity: ValidityOut
    ke0_per_min: float | None
    ke0_provenance: str | None
    notes: list[str]


class ModelList(BaseModel):
    items: list[ModelOut]
    note: str


# --- dose orders ------------------------------------------------------------------------------


class DoseOrderIn(_Preparation):
    """A dose order on the patient's latest recorded weight. ``protocol`` defaults to the
    patient's treatment plan (or ``default``). ``confirm_weight`` confirms a weight the
    plausibility checks doubt; ``override_reason`` is a prescriber's reason to proceed past a
    soft limit (a second person must then confirm)."""

    mg_per_kg: MgPerKg
    minutes: Minutes
    basis: Basis = "actual"
    protocol: ProtocolId | None = None
    pump_resolution_ml_per_h: PumpStep = DEFAULT_PUMP_RESOLUTION_ML_PER_H
    confirm_weight: bool = False
    override_reason: Text = ""
    note: Text = ""


class SignatureIn(_In):
    """A prescriber signs; an order that reached a soft limit needs the override reason."""

    override_reason: Text = ""


class WeightOut(BaseModel):
    basis: str
    actual_kg: float
    dosing_kg: float
    ideal_kg: float | None
    adjusted_kg: float | None
    height_cm: float | None
    provenance: str
    warnings: list[str]
    findings: list[str]
    confirmed_by: str | None
    confirmed_at: dt.datetime | None
    measurement_id: int | None


class PreparationOut(BaseModel):
    kind: str
    volume_ml: float | None
    mg_per_ml: float | None


class OrderLimitHitOut(LimitHitOut):
    approved_by: str


class OverrideOut(BaseModel):
    reason: str
    requested_by: str | None
    requested_at: dt.datetime | None
    confirmed_by: str | None
    confirmed_at: dt.datetime | None
    confirmed_via: str | None


class DoseOrderOut(BaseModel):
    id: int
    patient_id: int
    status: Literal["awaiting_signature", "awaiting_confirmation", "verified"]
    protocol: str
    weight: WeightOut
    mg_per_kg: float
    minutes: float
    preparation: PreparationOut
    pump_resolution_ml_per_h: float
    dose_mg: float
    concentration_mg_per_ml: float
    volume_ml: float
    rate_ml_per_h: float
    rate_mg_per_kg_per_h: float
    pump_rate_ml_per_h: float
    pump_duration_min: float
    dose_error_mg: float
    dose_error_percent: float
    limit: Literal["ok", "soft"]
    limits_hit: list[OrderLimitHitOut]
    prepared_by: str
    prepared_at: dt.datetime
    signed_by: str | None
    signed_at: dt.datetime | None
    override: OverrideOut | None
    note: str

    @classmethod
    def of(cls, order: DoseOrder, names: dict[int, str]) -> DoseOrderOut:
        def name(user_id: int | None) -> str | None:
            return None if user_id is None else names.get(user_id, f"user {user_id}")

        override = None
        if order.override_requested_by is not None:
            override = OverrideOut(
                reason=order.override_reason,
                requested_by=name(order.override_requested_by),
                requested_at=order.override_requested_at,
                confirmed_by=name(order.override_confirmed_by),
                confirmed_at=order.override_confirmed_at,
                confirmed_via=order.override_confirmed_via or None,
            )
        return cls(
            id=order.id,
            patient_id=order.patient_id,
            status=order.status.value,
            protocol=order.protocol_id,
            weight=WeightOut(
                basis=order.weight_basis.value,
                actual_kg=order.actual_weight_kg,
                dosing_kg=order.dosing_weight_kg,
                ideal_kg=order.ideal_weight_kg,
                adjusted_kg=order.adjusted_weight_kg,
                height_cm=order.height_cm,
                provenance=order.weight_provenance,
                warnings=list(order.weight_warnings),
                findings=list(order.weight_findings),
                confirmed_by=name(order.weight_confirmed_by),
                confirmed_at=order.weight_confirmed_at,
                measurement_id=order.measurement_id,
            ),
            mg_per_kg=order.mg_per_kg,
            minutes=order.duration_min,
            preparation=PreparationOut(
                kind=order.preparation.value,
                volume_ml=order.preparation_volume_ml,
                mg_per_ml=order.preparation_mg_per_ml,
            ),
            pump_resolution_ml_per_h=order.pump_resolution_ml_per_h,
            dose_mg=order.dose_mg,
            concentration_mg_per_ml=order.concentration_mg_per_ml,
            volume_ml=order.volume_ml,
            rate_ml_per_h=order.rate_ml_per_h,
            rate_mg_per_kg_per_h=order.rate_mg_per_kg_per_h,
            pump_rate_ml_per_h=order.pump_rate_ml_per_h,
            pump_duration_min=order.pump_duration_min,
            dose_error_mg=order.dose_error_mg,
            dose_error_percent=order.dose_error_percent,
            limit="soft" if order.limit_level.value == "soft" else "ok",
            limits_hit=[
                OrderLimitHitOut(
                    quantity=hit.quantity.value,
                    value=hit.value,
                    level=hit.level.value,
                    limit=hit.limit_value,
                    unit=hit.unit,
                    provenance=hit.provenance,
                    approved_by=hit.approved_by,
                    message=hit.message,
                )
                for hit in order.limit_hits
            ],
            prepared_by=name(order.prepared_by) or "",
            prepared_at=order.prepared_at,
            signed_by=name(order.signed_by),
            signed_at=order.signed_at,
            override=override,
            note=order.note,
        )


class DoseOrderList(BaseModel):
    items: list[DoseOrderOut]
