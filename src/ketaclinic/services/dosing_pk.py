"""Predicted plasma concentrations for the API, the PK explorer and a dose order's plot.

:func:`run_simulation` checks a request against bounds a web worker can afford and runs the
exact solver (``pk/simulate.py``) or the population model (``pk/population.py``).
:func:`order_prediction` simulates an order as the pump will run it: the pump rate
(mL/h × mg/mL) from the start until the volume to be infused is in, on the patient's *actual*
weight (the models scale with body weight, whatever basis the dose used), with the patient's
age checked against the model's validity range, plus a seeded population band.

Every curve is illustrative and never drives dosing (REFERENCE.md §4.4).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ketaclinic.domain.dosing import DoseCalculation, check_duration_min, check_mg_per_kg
from ketaclinic.domain.errors import InvalidInput
from ketaclinic.pk.linear import FloatArray
from ketaclinic.pk.models import Parameterised, PkModel, get_model
from ketaclinic.pk.population import PopulationResult, simulate_population
from ketaclinic.pk.schedule import MAX_TIME_MIN, Infusion, Schedule, time_grid
from ketaclinic.pk.simulate import SimulationResult, simulate
from ketaclinic.services.dosing_json import (
    THRESHOLD_NG_PER_ML,
    check_threshold,
    population_body,
    simulation_header,
    single_body,
)
from ketaclinic.services.dosing_ports import DoseOrder

DEFAULT_AFTER_INFUSION_MIN = 240.0  # 4 h after the infusion, as the command line does
DEFAULT_STEP_S = 10.0
# Bounds for one web request (design). 20,001 points holds a 1-s grid over the 40-min infusion
# plus 4 h of DESIGN.md §5 (16,801 points); 20 M cells (patients × points) holds 10,000 virtual
# patients on a 10-s grid over the same 280 min (16.8 M) and costs about a second.
MAX_POPULATION = 10_000
MAX_POINTS = 20_001
MAX_CELLS = 20_000_000
MAX_SEED = 2**31 - 1
# The band on an order's plot (design): 1,000 virtual patients on a 30-s grid draw a smooth
# 5–95 % band in well under a second; the seed is the order id, so a plot never changes.
PLOT_POPULATION = 1_000
PLOT_STEP_S = 30.0


@dataclass(frozen=True, slots=True)
class SimulationSpec:
    """A simulation request: a model and a weight, and either mg/kg over minutes or an explicit
    schedule. ``horizon_min`` defaults to the end of the last administration + 240 min."""

    model: str
    weight_kg: float
    mg_per_kg: float | None = None
    minutes: float | None = None
    schedule: Schedule | None = None
    age_years: float | None = None
    horizon_min: float | None = None
    step_s: float = DEFAULT_STEP_S
    population: int | None = None
    seed: int = 0
    # The population's coefficients of variation by parameter name (fractions, 0–2), in place
    # of the design defaults of pk/population.py; and the concentration "time above" and the
    # peak exceedance are reported at (default 100 ng/mL).
    cv: Mapping[str, float] | None = None
    threshold_ng_per_ml: float | None = None


@dataclass(frozen=True, slots=True, eq=False)
class SimulationRun:
    """A finished simulation: one curve (``result``) or population bands (``bands``)."""

    model: PkModel
    parameterised: Parameterised
    schedule: Schedule
    dose_mg: float
    minutes: float | None
    result: SimulationResult | None
    bands: PopulationResult | None
    threshold_ng_per_ml: float = THRESHOLD_NG_PER_ML
    cv_given: tuple[str, ...] = ()

    def body(self) -> dict[str, Any]:
        """The ``simulate --json`` result."""
        params = self.parameterised.params
        body = simulation_header(
            self.model, params.weight_kg, self.dose_mg, self.minutes, self.parameterised.warnings
        )
        if self.result is not None:
            body.update(single_body(self.result, self.model, self.threshold_ng_per_ml))
        if self.bands is not None:
            body.update(population_body(self.bands, self.threshold_ng_per_ml, self.cv_given))
        return body


def run_simulation(spec: SimulationSpec) -> SimulationRun:
    """Run ``spec``. Raises :class:`InvalidInput` naming the field for an unknown model, a
    weight, dose, duration or age out of range, both or neither of (mg/kg + minutes) and a
    schedule, a step longer than the horizon, too many grid points, or a population outside
    1–10,000 (or too large for the grid)."""
    model = get_model(spec.model)
    parameterised = model.parameters(spec.weight_kg, spec.age_years)
    weight_kg = parameterised.params.weight_kg
    schedule, minutes, dose_mg = _schedule(spec, weight_kg)
    horizon = spec.horizon_min
    if horizon is None:
        horizon = min(schedule.end_min + DEFAULT_AFTER_INFUSION_MIN, MAX_TIME_MIN)
    times = _grid(horizon, spec.step_s)
    threshold = check_threshold(spec.threshold_ng_per_ml)
    if spec.cv is not None and spec.population is None:
        raise InvalidInput.for_field(
            "cv", dict(spec.cv), "a population as well: CVs vary the virtual patients"
        )
    result = bands = None
    if spec.population is None:
        result = simulate(parameterised.params, schedule, times)
    else:
        count = _check_population(spec.population, times.shape[0])
        seed = _check_seed(spec.seed)
        bands = simulate_population(parameterised.params, schedule, times, count, seed, cv=spec.cv)
    return SimulationRun(
        model,
        parameterised,
        schedule,
        dose_mg,
        minutes,
        result,
        bands,
        threshold,
        tuple(sorted(spec.cv or {})),
    )


@dataclass(frozen=True, slots=True, eq=False)
class OrderPrediction:
    """An order's predicted curve and population band, with the model's warnings."""

    model: PkModel
    result: SimulationResult
    bands: PopulationResult
    warnings: tuple[str, ...]


def order_schedule(order: DoseOrder) -> Schedule:
    """The order as the pump runs it: its rate (mg/min) until the whole volume is given."""
    return Schedule(infusions=(Infusion(0.0, order.pump_duration_min, order.rate_mg_per_min),))


def order_prediction(order: DoseOrder, model_name: str, age_years: float | None) -> OrderPrediction:
    """Simulate ``order`` with the named model on the patient's actual weight."""
    return pump_prediction(
        order_schedule(order),
        order.actual_weight_kg,
        model_name,
        age_years,
        order.id % (MAX_SEED + 1),
    )


def calculation_schedule(calculation: DoseCalculation) -> Schedule:
    """A computed dose as the pump would run it: the pump rate (mg/min) until the volume is in."""
    rate_mg_per_min = calculation.pump_rate_ml_per_h * calculation.concentration_mg_per_ml / 60.0
    return Schedule(infusions=(Infusion(0.0, calculation.pump_duration_min, rate_mg_per_min),))


def pump_prediction(
    schedule: Schedule,
    actual_weight_kg: float,
    model_name: str,
    age_years: float | None,
    seed: int,
) -> OrderPrediction:
    """The typical curve of ``schedule`` on a 30-s grid to 4 h after it, with the 5–95 % band
    of 1,000 virtual patients drawn with ``seed`` (the plots of orders and of the dose form)."""
    model = get_model(model_name)
    parameterised = model.parameters(actual_weight_kg, age_years)
    horizon = min(schedule.end_min + DEFAULT_AFTER_INFUSION_MIN, MAX_TIME_MIN)
    times = time_grid(horizon, PLOT_STEP_S)
    result = simulate(parameterised.params, schedule, times)
    bands = simulate_population(parameterised.params, schedule, times, PLOT_POPULATION, seed)
    return OrderPrediction(model, result, bands, parameterised.warnings)


def explore(
    model_name: str,
    weight_kg: float,
    mg_per_kg: float,
    minutes: float,
    age_years: float | None = None,
) -> tuple[SimulationRun, PopulationResult]:
    """The PK explorer: one typical curve on a 10-s grid and a population band beside it."""
    spec = SimulationSpec(model_name, weight_kg, mg_per_kg, minutes, age_years=age_years)
    run = run_simulation(spec)
    assert run.result is not None  # no population was asked for
    bands = simulate_population(
        run.parameterised.params, run.schedule, run.result.times_min, PLOT_POPULATION, 1
    )
    return run, bands


def _schedule(spec: SimulationSpec, weight_kg: float) -> tuple[Schedule, float | None, float]:
    """(schedule, infusion minutes or None for a schedule, total dose in mg)."""
    given = spec.mg_per_kg is not None or spec.minutes is not None
    if spec.schedule is not None:
        if given:
            raise InvalidInput.for_field(
                "schedule", "with mg_per_kg/minutes", "either a schedule or mg_per_kg and minutes"
            )
        if not spec.schedule.infusions and not spec.schedule.boluses:
            raise InvalidInput.for_field("schedule", "empty", "at least one infusion or bolus")
        return spec.schedule, None, spec.schedule.total_dose_mg
    if spec.mg_per_kg is None:
        raise InvalidInput.for_field("mg_per_kg", None, "a dose in mg/kg (or a schedule)")
    if spec.minutes is None:
        raise InvalidInput.for_field("minutes", None, "an infusion duration in min")
    mg_per_kg = check_mg_per_kg(spec.mg_per_kg)
    minutes = check_duration_min(spec.minutes)
    dose_mg = mg_per_kg * weight_kg
    return Schedule.single_infusion(dose_mg, minutes), minutes, dose_mg


def _grid(horizon_min: float, step_s: float) -> FloatArray:
    """The time grid, refusing more than :data:`MAX_POINTS` points *before* building it (a
    step of 1e-300 s would otherwise ask the core for an infinite grid)."""
    if _number(horizon_min) and _number(step_s) and horizon_min > 0 and step_s > 0:
        points = horizon_min * 60.0 / step_s + 1
        if not math.isfinite(points) or points > MAX_POINTS:
            raise InvalidInput.for_field(
                "step_s",
                step_s,
                f"a step giving at most {MAX_POINTS:,} points over {horizon_min:g} min "
                f"(at least {horizon_min * 60.0 / (MAX_POINTS - 1):.3g} s)",
            )
    return time_grid(horizon_min, step_s)


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_population(population: int, points: int) -> int:
    if isinstance(population, bool) or not isinstance(population, int):
        raise InvalidInput.for_field("population", population, "a whole number of patients")
    if not (1 <= population <= MAX_POPULATION):
        raise InvalidInput.for_field(
            "population", population, f"1–{MAX_POPULATION:,} virtual patients"
        )
    if population * points > MAX_CELLS:
        raise InvalidInput.for_field(
            "population",
            population,
            f"at most {MAX_CELLS // points:,} virtual patients on a grid of {points:,} points "
            "(use a coarser step or a shorter horizon)",
        )
    return population


def _check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or not (0 <= seed <= MAX_SEED):
        raise InvalidInput.for_field("seed", seed, f"a whole number in 0–{MAX_SEED}")
    return seed
