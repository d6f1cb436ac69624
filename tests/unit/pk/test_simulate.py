"""One-patient simulation (pk/simulate.py): outputs, summary figures, input checks."""

from __future__ import annotations

import numpy as np
import pytest

from ketaclinic.domain.errors import InvalidInput
from ketaclinic.pk.models import get_model
from ketaclinic.pk.schedule import Bolus, Schedule, time_grid
from ketaclinic.pk.simulate import simulate, time_above

STANDARD = Schedule.single_infusion(35.0, 40.0)
DOMINO = get_model("domino").parameters(70.0).params
KAMP = get_model("kamp").parameters(70.0).params


def test_an_infusion_peaks_when_it_ends() -> None:
    summary = simulate(DOMINO, STANDARD, time_grid(280.0, 10.0)).summary()
    assert summary.tmax_min == pytest.approx(40.0, rel=1e-12)
    assert summary.cmax_ng_per_ml == pytest.approx(240.0, abs=1.0)


def test_time_above_interpolates_crossings_linearly() -> None:
    # A triangle from 0 up to 2 and back: above 1 from t = 0.5 to t = 1.5.
    times = np.array([0.0, 1.0, 2.0])
    assert time_above(times, np.array([0.0, 2.0, 0.0]), 1.0) == pytest.approx(1.0, rel=1e-15)
    assert time_above(times, np.array([3.0, 3.0, 3.0]), 1.0) == pytest.approx(2.0, rel=1e-15)
    assert time_above(times, np.array([0.0, 0.5, 0.0]), 1.0) == 0.0


def test_a_non_finite_threshold_is_bad_input() -> None:
    result = simulate(DOMINO, STANDARD, [0.0, 40.0])
    with pytest.raises(InvalidInput) as caught:
        result.summary(threshold_ng_per_ml=float("nan"))
    assert caught.value.field == "threshold_ng_per_ml"


def test_the_exact_auc_agrees_with_the_trapezoid_rule_on_a_fine_grid() -> None:
    result = simulate(KAMP, STANDARD, time_grid(280.0, 1.0), detail=True)
    trapezoid = float(np.trapezoid(result.plasma_ng_per_ml, result.times_min))
    # The trapezoid rule's error at a 1-s step is O(h²·C''): measured 3e-7 relative here.
    assert result.summary().auc_ng_min_per_ml == pytest.approx(trapezoid, rel=1e-5)
    assert result.auc_ng_min_per_ml is not None
    assert result.auc_ng_min_per_ml[-1] == pytest.approx(result.total_auc_ng_min_per_ml, rel=1e-12)


def test_the_time_above_the_dissociation_floor_is_reported() -> None:
    summary = simulate(DOMINO, STANDARD, time_grid(280.0, 1.0)).summary(100.0)
    assert summary.threshold_ng_per_ml == 100.0
    assert summary.time_above_min is not None
    # Domino rises past 100 ng/mL within minutes and falls below it soon after 40 min.
    assert 30.0 < summary.time_above_min < 45.0


def test_a_bolus_counts_at_its_own_time() -> None:
    schedule = Schedule(boluses=(Bolus(5.0, 10.0),))
    result = simulate(DOMINO, schedule, [4.999, 5.0])
    assert result.plasma_ng_per_ml[0] == 0.0
    assert result.plasma_ng_per_ml[1] == pytest.approx(10.0 / DOMINO.v1_l * 1000, rel=1e-13)


def test_the_effect_site_exists_only_with_a_ke0_and_lags_plasma() -> None:
    grid = time_grid(120.0, 1.0)
    assert simulate(DOMINO, STANDARD, grid).effect_ng_per_ml is None
    result = simulate(KAMP, STANDARD, grid)
    assert result.effect_site_assumed
    assert result.effect_ng_per_ml is not None
    assert result.effect_ng_per_ml[0] == 0.0
    assert int(np.argmax(result.effect_ng_per_ml)) > int(np.argmax(result.plasma_ng_per_ml))


def test_detail_is_opt_in() -> None:
    light = simulate(KAMP, STANDARD, [0.0, 40.0])
    assert light.amounts_mg is None
    assert light.auc_ng_min_per_ml is None
    full = simulate(KAMP, STANDARD, [0.0, 40.0], detail=True)
    assert full.amounts_mg is not None
    assert full.amounts_mg.shape == (2, 3)


def test_result_arrays_are_read_only() -> None:
    result = simulate(KAMP, STANDARD, [0.0, 40.0], detail=True)
    for array in (result.times_min, result.plasma_ng_per_ml, result.effect_ng_per_ml):
        assert array is not None
        assert not array.flags.writeable


def test_bad_times_are_bad_input() -> None:
    with pytest.raises(InvalidInput) as caught:
        simulate(KAMP, STANDARD, [10.0, 5.0])
    assert caught.value.field == "times_min"


def test_an_empty_schedule_gives_zero_everywhere() -> None:
    result = simulate(KAMP, Schedule(), time_grid(60.0, 60.0))
    assert np.all(result.plasma_ng_per_ml == 0.0)
    assert result.summary().auc_ng_min_per_ml == 0.0
