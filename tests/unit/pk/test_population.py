"""Population prediction (pk/population.py): bounds, reproducibility, bands, exceedance."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ketaclinic.domain.errors import InvalidInput
from ketaclinic.pk.models import get_model
from ketaclinic.pk.population import (
    DEFAULT_CV,
    MAX_PATIENTS,
    PARAMETERS,
    sample_parameters,
    simulate_population,
)
from ketaclinic.pk.schedule import Schedule, time_grid
from ketaclinic.pk.simulate import simulate

KAMP = get_model("kamp").parameters(70.0).params
STANDARD = Schedule.single_infusion(35.0, 40.0)
GRID = time_grid(280.0, 60.0)


def run(n: int = 200, seed: int = 7, **kwargs: object) -> object:
    return simulate_population(KAMP, STANDARD, GRID, n, seed, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("n", [0, -3, 10**9, MAX_PATIENTS + 1])
def test_patient_counts_outside_the_bounds_are_refused_with_the_range(n: int) -> None:
    with pytest.raises(InvalidInput) as caught:
        simulate_population(KAMP, STANDARD, GRID, n, 1)
    assert caught.value.field == "population"
    assert "1–100,000" in caught.value.message
    assert repr(n) in caught.value.message


@pytest.mark.parametrize("n", [2.5, True, "10"])
def test_a_patient_count_must_be_a_whole_number(n: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        simulate_population(KAMP, STANDARD, GRID, n, 1)  # type: ignore[arg-type]
    assert caught.value.field == "population"


def test_too_many_patients_for_a_fine_grid_are_refused() -> None:
    fine = time_grid(280.0, 1.0)
    with pytest.raises(InvalidInput) as caught:
        simulate_population(KAMP, STANDARD, fine, 10_000, 1)
    assert caught.value.field == "population"
    assert "coarser step" in caught.value.message


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"cv": {"clearance": 0.3}}, "cv"),
        ({"cv": {"cl_l_per_min": 30.0}}, "cv.cl_l_per_min"),
        ({"cv": {"v1_l": -0.1}}, "cv.v1_l"),
        ({"percentiles": (5.0, 150.0)}, "percentiles"),
        ({"workers": 0}, "workers"),
    ],
)
def test_bad_settings_name_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        run(**kwargs)
    assert caught.value.field == field


def test_a_negative_seed_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        simulate_population(KAMP, STANDARD, GRID, 10, -1)
    assert caught.value.field == "seed"


def test_the_same_seed_gives_the_same_patients_whatever_the_threads() -> None:
    one = simulate_population(KAMP, STANDARD, GRID, 3000, 11, workers=1)
    three = simulate_population(KAMP, STANDARD, GRID, 3000, 11, workers=3)
    assert np.array_equal(one.sorted_plasma_ng_per_ml, three.sorted_plasma_ng_per_ml)
    assert np.array_equal(one.cmax_ng_per_ml, three.cmax_ng_per_ml)


def test_another_seed_gives_other_patients() -> None:
    a = simulate_population(KAMP, STANDARD, GRID, 200, 1)
    b = simulate_population(KAMP, STANDARD, GRID, 200, 2)
    assert not np.array_equal(a.cmax_ng_per_ml, b.cmax_ng_per_ml)


def test_bands_are_ordered() -> None:
    result = simulate_population(KAMP, STANDARD, GRID, 500, 3)
    low, mid, high = (result.bands_ng_per_ml[p] for p in (5.0, 50.0, 95.0))
    assert np.all(low <= mid)
    assert np.all(mid <= high)
    assert np.all(low >= 0.0)


def test_without_variability_every_patient_is_the_typical_one() -> None:
    none = dict.fromkeys(PARAMETERS, 0.0)
    result = simulate_population(KAMP, STANDARD, GRID, 50, 5, cv=none)
    typical = simulate(KAMP, STANDARD, GRID).plasma_ng_per_ml
    # Stored as float32 (relative precision 6e-8); 1e-6 of the peak allows for that.
    tolerance = 1e-6 * typical.max()
    for p in (5.0, 50.0, 95.0):
        assert np.allclose(result.bands_ng_per_ml[p], typical, rtol=0, atol=tolerance)


def test_exceedance_probabilities_are_shares_that_fall_with_the_threshold() -> None:
    result = simulate_population(KAMP, STANDARD, GRID, 1000, 9)
    at_100 = result.probability_above(100.0)
    at_250 = result.probability_above(250.0)
    assert np.all((at_100 >= 0) & (at_100 <= 1))
    assert np.all(at_250 <= at_100)
    assert result.probability_peak_above(0.0) == 1.0
    assert result.probability_peak_above(1e9) == 0.0
    end = int(np.searchsorted(GRID, 40.0))
    median = result.band(50.0)[end]
    # Half the patients lie above the median, give or take one in 1000 for ties.
    assert result.probability_above(float(median))[end] == pytest.approx(0.5, abs=0.002)


def test_a_band_outside_0_to_100_is_refused() -> None:
    result = simulate_population(KAMP, STANDARD, GRID, 10, 1)
    with pytest.raises(InvalidInput):
        result.band(101.0)


def test_sampled_parameters_have_the_requested_variability() -> None:
    volumes, clearances = sample_parameters(KAMP, 20_000, 4)
    omega = math.sqrt(math.log1p(DEFAULT_CV["cl_l_per_min"] ** 2))
    spread = float(np.std(np.log(clearances[:, 0])))
    # The standard error of a log-SD from 20,000 draws is ω/√40000 ≈ 0.5 % of ω; 3 % is > 5 SE.
    assert spread == pytest.approx(omega, rel=0.03)
    median_v1 = float(np.median(volumes[:, 0]))
    # The median of a log-normal is its typical value; the SE of a median here is ≈ 0.4 %.
    assert median_v1 == pytest.approx(KAMP.v1_l, rel=0.02)


def test_one_patient_is_enough() -> None:
    result = simulate_population(KAMP, STANDARD, GRID, 1, 0)
    assert result.n_patients == 1
    assert np.array_equal(result.band(5.0), result.band(95.0))
