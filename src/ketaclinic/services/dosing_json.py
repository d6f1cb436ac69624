"""The JSON results of the dose calculator and the PK simulator, shared by the CLI and the API.

They have exactly the shape of ``ketaclinic dose --json`` and ``ketaclinic simulate --json``
(DESIGN.md §4.2; ``cli/pk.py`` prints these very dictionaries), so a script can move between
the command and the API without change. ``tests/e2e/http/dosing`` compares the two outputs.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import Any

import numpy as np

from ketaclinic.domain.dosing import DoseCalculation
from ketaclinic.domain.drug_library import LimitEvaluation
from ketaclinic.domain.errors import InvalidInput
from ketaclinic.pk.landmarks import LANDMARKS
from ketaclinic.pk.models import PkModel
from ketaclinic.pk.population import PopulationResult
from ketaclinic.pk.simulate import DISCLAIMER, SimulationResult

# Time above this concentration is reported for a single curve: the low end of the
# dissociation range, 100 ng/mL [cited: Zanos 2018, REFERENCE.md §4.3].
THRESHOLD_NG_PER_ML = LANDMARKS[1].low_ng_per_ml


def dose_body(
    calculation: DoseCalculation, evaluation: LimitEvaluation, findings: list[str]
) -> dict[str, Any]:
    """The ``dose --json`` result for a computed dose and its drug-library evaluation."""
    weight = calculation.weight
    return {
        "dose_mg": calculation.dose_mg,
        "concentration_mg_per_ml": calculation.concentration_mg_per_ml,
        "volume_ml": calculation.volume_ml,
        "rate_ml_per_h": calculation.rate_ml_per_h,
        "rate_mg_per_kg_per_h": calculation.rate_mg_per_kg_per_h,
        "limit": evaluation.level.value,
        "pump_rate_ml_per_h": calculation.pump_rate_ml_per_h,
        "pump_resolution_ml_per_h": calculation.pump_resolution_ml_per_h,
        "pump_duration_min": calculation.pump_duration_min,
        "dose_error_mg": calculation.dose_error_mg,
        "dose_error_percent": calculation.dose_error_percent,
        "weight_basis": weight.basis.value,
        "dosing_weight_kg": weight.dosing_kg,
        "actual_weight_kg": weight.actual_kg,
        "ideal_weight_kg": weight.ideal_kg,
        "adjusted_weight_kg": weight.adjusted_kg,
        "weight_provenance": weight.provenance.label(),
        "protocol": evaluation.protocol_id,
        "limits_hit": [
            {
                "quantity": hit.quantity.value,
                "value": hit.value,
                "level": hit.level.value,
                "limit": hit.bound.value,
                "unit": hit.unit,
                "provenance": hit.bound.provenance.label(),
                "message": hit.message,
            }
            for hit in evaluation.hits
        ],
        "warnings": list(weight.warnings),
        "weight_findings": findings,
    }


def simulation_header(
    model: PkModel,
    weight_kg: float,
    dose_mg: float,
    minutes: float | None,
    warnings: tuple[str, ...],
) -> dict[str, Any]:
    """The part of the ``simulate --json`` result that describes the model and the dose."""
    return {
        "model": model.name,
        "model_title": model.title,
        "citation": model.citation,
        "provenance": model.provenance.label(),
        "weight_kg": weight_kg,
        "dose_mg": dose_mg,
        "minutes": minutes,
        "warnings": list(warnings),
        "note": DISCLAIMER,
    }


# design: a threshold above the anaesthetic range's top several times over is a typing error.
MAX_THRESHOLD_NG_PER_ML = 10_000.0


def check_threshold(value: float | None) -> float:
    """The concentration "time above" is measured at: ``value``, else 100 ng/mL. Raises
    :class:`InvalidInput` outside (0, 10,000] ng/mL."""
    if value is None:
        return THRESHOLD_NG_PER_ML
    finite = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not finite or not (0.0 < value <= MAX_THRESHOLD_NG_PER_ML):
        raise InvalidInput.for_field(
            "threshold_ng_per_ml",
            value,
            f"more than 0 and at most {MAX_THRESHOLD_NG_PER_ML:,.0f} ng/mL",
        )
    return float(value)


def single_body(
    result: SimulationResult, model: PkModel, threshold_ng_per_ml: float = THRESHOLD_NG_PER_ML
) -> dict[str, Any]:
    """One curve: times, plasma (and assumed effect site), Cmax/Tmax, AUC, time above the
    threshold (100 ng/mL unless given)."""
    summary = result.summary(threshold_ng_per_ml=threshold_ng_per_ml)
    body: dict[str, Any] = {
        "times_min": rounded(result.times_min, 4),
        "plasma_ng_per_ml": rounded(result.plasma_ng_per_ml, 3),
        "cmax_ng_per_ml": summary.cmax_ng_per_ml,
        "tmax_min": summary.tmax_min,
        "auc_ng_min_per_ml": summary.auc_ng_min_per_ml,
        "time_above_ng_per_ml": {f"{summary.threshold_ng_per_ml:g}": summary.time_above_min},
    }
    if result.effect_ng_per_ml is not None and model.ke0_provenance is not None:
        body["effect_site_ng_per_ml"] = rounded(result.effect_ng_per_ml, 3)
        body["effect_site_note"] = f"assumed ke0 {model.ke0_per_min:g}/min, " + (
            model.ke0_provenance.label()
        )
    return body


def population_body(
    bands: PopulationResult,
    threshold_ng_per_ml: float | None = None,
    cv_given: Collection[str] = (),
) -> dict[str, Any]:
    """Percentile bands (5, 50, 95) of N virtual patients, peak percentiles and the share whose
    peak exceeds each landmark bound (and ``threshold_ng_per_ml`` when given). ``cv_given``
    names the CVs the caller set; the others are the design defaults."""
    cmax = np.sort(bands.cmax_ng_per_ml)
    thresholds = sorted(
        {lm.low_ng_per_ml for lm in LANDMARKS}
        | {lm.high_ng_per_ml for lm in LANDMARKS}
        | ({threshold_ng_per_ml} if threshold_ng_per_ml is not None else set())
    )
    return {
        "population": bands.n_patients,
        "seed": bands.seed,
        "cv": dict(bands.cv),
        "cv_given": sorted(cv_given),
        "cv_provenance": bands.cv_provenance.label()
        + (" for the CVs not given; the given ones are the caller's" if cv_given else ""),
        "times_min": rounded(bands.times_min, 4),
        "plasma_percentiles_ng_per_ml": {
            f"{p:g}": rounded(curve, 3) for p, curve in bands.bands_ng_per_ml.items()
        },
        "cmax_percentiles_ng_per_ml": {
            f"{p:g}": float(np.percentile(cmax, p)) for p in bands.bands_ng_per_ml
        },
        "probability_peak_above_ng_per_ml": {
            f"{c:g}": bands.probability_peak_above(c) for c in thresholds
        },
    }


def model_body(model: PkModel) -> dict[str, Any]:
    """One model as ``GET /api/v1/models`` lists it."""
    validity = model.validity
    return {
        "name": model.name,
        "title": model.title,
        "citation": model.citation,
        "population": model.population,
        "compartments": model.compartments,
        "provenance": model.provenance.label(),
        "validity": {
            "weight_kg": list(validity.weight_kg),
            "age_years": list(validity.age_years) if validity.age_years else None,
            "provenance": validity.provenance.label(),
        },
        "ke0_per_min": model.ke0_per_min,
        "ke0_provenance": model.ke0_provenance.label() if model.ke0_provenance else None,
        "notes": list(model.notes),
    }


def rounded(values: np.ndarray, decimals: int) -> list[float]:
    result: list[float] = np.round(values, decimals).tolist()
    return result
