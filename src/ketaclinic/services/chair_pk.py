"""Predicted plasma concentration of the administration record as charted (``ketaclinic.pk``).

The delivered schedule of ``domain/administration.py`` (constant-rate segments and boluses, the
bag's volume respected) is simulated exactly with one published model. While the pump runs the
projection assumes it keeps running as programmed until the bag is empty; while paused or after
the stop, that nothing more is given. The curve is illustrative and never drives dosing
(REFERENCE.md §4.4); the model's values are unverified (§4.2) and the page says so.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ketaclinic.domain.administration import AdministrationRecord, PumpState
from ketaclinic.pk.models import get_model
from ketaclinic.pk.schedule import Schedule, time_grid
from ketaclinic.pk.simulate import SimulationResult, simulate

# Kamp 2020: built on pooled raw data of 14 adult studies, no covariates beyond weight
# (REFERENCE.md §4.2) — the broadest adult base of the shipped models (design choice). The
# chair passes the clinic's "PK model for plots" (services/dosing_library.clinic_pk_model).
DEFAULT_MODEL = "kamp"
AFTER_DELIVERY_MIN = 60.0  # how far the curve runs past the last drug given (design)
PROJECTION_LIMIT = dt.timedelta(hours=6)  # a running pump empties its bag long before this
STEP_S = 30.0  # a 30-s grid: smooth at chart scale, a few hundred points


@dataclass(frozen=True, slots=True)
class Prediction:
    """``result`` on minutes from the infusion start; ``now_min`` is now on that axis and
    ``now_ng_per_ml`` the predicted plasma concentration at that moment."""

    result: SimulationResult
    now_min: float
    now_ng_per_ml: float
    model_name: str
    model_title: str
    citation: str
    provenance: str
    warnings: tuple[str, ...]


def predict(
    record: AdministrationRecord,
    weight_kg: float | None,
    now: dt.datetime,
    *,
    age_years: float | None = None,
    model: str = DEFAULT_MODEL,
) -> Prediction | None:
    """The prediction, or None before the start or without a weight."""
    start = record.start
    if start is None or weight_kg is None:
        return None
    state = record.pump_state
    if state is PumpState.STOPPED:
        delivered = record.delivered_schedule()
    elif state is PumpState.RUNNING:
        delivered = record.delivered_schedule(now + PROJECTION_LIMIT)
    else:
        delivered = record.delivered_schedule(now)
    if delivered is None:
        return None
    schedule = Schedule.from_segments(
        [(s.start_min, s.end_min, s.rate_mg_per_min) for s in delivered.segments],
        [(b.t_min, b.dose_mg) for b in delivered.boluses],
    )
    now_min = max((now - start.at).total_seconds() / 60.0, 0.0)
    horizon = max(now_min, schedule.end_min) + AFTER_DELIVERY_MIN
    pk_model = get_model(model)
    fitted = pk_model.parameters(weight_kg, age_years)
    result = simulate(fitted.params, schedule, time_grid(horizon, STEP_S))
    at_now = simulate(fitted.params, schedule, [now_min])
    return Prediction(
        result=result,
        now_min=now_min,
        now_ng_per_ml=float(at_now.plasma_ng_per_ml[0]),
        model_name=pk_model.name,
        model_title=pk_model.title,
        citation=pk_model.citation,
        provenance=pk_model.provenance.label(),
        warnings=fitted.warnings,
    )
