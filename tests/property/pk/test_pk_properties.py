"""Properties every exact linear PK solution must have, for any shipped model and schedule:
mass balance, linearity in dose, superposition, non-negativity, steady state = rate/clearance
and invariance under shifting time."""

from __future__ import annotations

import numpy as np
from hypothesis import assume, given
from hypothesis import strategies as st

from ketaclinic.pk.models import MODELS, ModelParams, get_model
from ketaclinic.pk.schedule import Bolus, Infusion, Schedule
from ketaclinic.pk.simulate import simulate

params_strategy = st.builds(
    lambda name, weight: get_model(name).parameters(weight).params,
    st.sampled_from(list(MODELS)),
    st.floats(min_value=40.0, max_value=120.0),
)
infusions = st.builds(
    Infusion,
    start_min=st.floats(min_value=0.0, max_value=120.0),
    duration_min=st.floats(min_value=0.5, max_value=90.0),
    rate_mg_per_min=st.floats(min_value=0.0, max_value=5.0),
)
boluses = st.builds(
    Bolus,
    t_min=st.floats(min_value=0.0, max_value=120.0),
    dose_mg=st.floats(min_value=0.0, max_value=50.0),
)
schedules = st.builds(
    Schedule,
    infusions=st.lists(infusions, max_size=3).map(tuple),
    boluses=st.lists(boluses, max_size=2).map(tuple),
)
times_strategy = st.lists(st.floats(min_value=0.0, max_value=400.0), min_size=1, max_size=40).map(
    sorted
)


def given_by(schedule: Schedule, times: np.ndarray) -> np.ndarray:
    """Milligrams administered from 0 to each time (boluses count at their own time)."""
    total = np.zeros_like(times)
    for infusion in schedule.infusions:
        running = np.clip(times - infusion.start_min, 0.0, infusion.duration_min)
        total += infusion.rate_mg_per_min * running
    for bolus in schedule.boluses:
        total += np.where(times >= bolus.t_min, bolus.dose_mg, 0.0)
    return total


def scale(schedule: Schedule, factor: float) -> Schedule:
    return Schedule(
        tuple(
            Infusion(i.start_min, i.duration_min, i.rate_mg_per_min * factor)
            for i in schedule.infusions
        ),
        tuple(Bolus(b.t_min, b.dose_mg * factor) for b in schedule.boluses),
    )


@given(params_strategy, schedules, times_strategy)
def test_mass_balance_drug_in_the_body_plus_eliminated_equals_drug_given(
    params: ModelParams, schedule: Schedule, times: list[float]
) -> None:
    result = simulate(params, schedule, times, detail=True)
    assert result.amounts_mg is not None
    assert result.auc_ng_min_per_ml is not None
    in_body = result.amounts_mg.sum(axis=1)
    eliminated = params.cl_l_per_min * result.auc_ng_min_per_ml / 1000.0  # L/min · mg·min/L
    given_mg = given_by(schedule, result.times_min)
    # Exact formulas; what is left is rounding over a few segments: 1e-9 of the largest dose.
    scale_mg = max(1.0, schedule.total_dose_mg)
    assert np.allclose(in_body + eliminated, given_mg, rtol=0, atol=1e-9 * scale_mg)


@given(params_strategy, schedules, times_strategy, st.floats(min_value=0.1, max_value=10.0))
def test_concentration_is_linear_in_dose(
    params: ModelParams, schedule: Schedule, times: list[float], factor: float
) -> None:
    base = simulate(params, schedule, times).plasma_ng_per_ml
    scaled = simulate(params, scale(schedule, factor), times).plasma_ng_per_ml
    # Rounding only: relative 1e-12 of the largest value on the curve.
    tolerance = 1e-12 * max(1.0, float(np.max(np.abs(scaled))))
    assert np.allclose(scaled, factor * base, rtol=1e-10, atol=tolerance)


@given(params_strategy, schedules, schedules, times_strategy)
def test_schedules_superpose(
    params: ModelParams, first: Schedule, second: Schedule, times: list[float]
) -> None:
    both = Schedule(first.infusions + second.infusions, first.boluses + second.boluses)
    together = simulate(params, both, times).plasma_ng_per_ml
    apart = simulate(params, first, times).plasma_ng_per_ml
    apart = apart + simulate(params, second, times).plasma_ng_per_ml
    tolerance = 1e-12 * max(1.0, float(np.max(np.abs(together))))
    assert np.allclose(together, apart, rtol=1e-10, atol=tolerance)


@given(params_strategy, schedules, times_strategy)
def test_concentrations_are_never_negative(
    params: ModelParams, schedule: Schedule, times: list[float]
) -> None:
    result = simulate(params, schedule, times)
    peak = max(1.0, float(np.max(result.plasma_ng_per_ml)))
    # Modal sums can round to a hair below zero once the drug has washed out.
    assert np.all(result.plasma_ng_per_ml >= -1e-12 * peak)
    if result.effect_ng_per_ml is not None:
        assert np.all(result.effect_ng_per_ml >= -1e-12 * peak)


@given(params_strategy, st.floats(min_value=0.1, max_value=5.0))
def test_a_long_infusion_reaches_rate_over_clearance(params: ModelParams, rate: float) -> None:
    slowest = max(params.half_lives_min)
    duration = min(20 * slowest, 10_000.0)
    result = simulate(params, Schedule((Infusion(0.0, duration, rate),)), [duration])
    steady = rate / params.cl_l_per_min * 1000.0
    # After n slowest half-lives the gap is at most 2^-n of the steady state (n = 20: 1e-6).
    gap = 2.0 ** (-duration / slowest)
    assert abs(result.plasma_ng_per_ml[0] - steady) <= (gap + 1e-12) * steady


@given(params_strategy, schedules, times_strategy, st.floats(min_value=0.0, max_value=500.0))
def test_shifting_the_schedule_shifts_the_curve(
    params: ModelParams, schedule: Schedule, times: list[float], offset: float
) -> None:
    # A bolus is a jump: a time within rounding of it may land on either side once shifted.
    assume(all(abs(t - b.t_min) > 1e-6 for t in times for b in schedule.boluses))
    base = simulate(params, schedule, times).plasma_ng_per_ml
    moved = simulate(params, schedule.shifted(offset), np.array(times) + offset).plasma_ng_per_ml
    # Adding the offset rounds each time by ~1e-14 min; concentrations move by that times the
    # fastest rate (< 2/min): far below 1e-9 of the peak.
    tolerance = 1e-9 * max(1.0, float(np.max(np.abs(base))))
    assert np.allclose(moved, base, rtol=1e-9, atol=tolerance)
