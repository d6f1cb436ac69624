"""Schedules and time grids (pk/schedule.py): construction, validation, the piecewise plan."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from ketaclinic.domain.errors import InvalidInput
from ketaclinic.pk.schedule import MAX_POINTS, Bolus, Infusion, Schedule, check_times, time_grid


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: Infusion(-1.0, 40.0, 1.0), "start_min"),
        (lambda: Infusion(0.0, 0.0, 1.0), "duration_min"),
        (lambda: Infusion(0.0, 40.0, -1.0), "rate_mg_per_min"),
        (lambda: Infusion(0.0, 40.0, 1e6), "rate_mg_per_min"),
        (lambda: Infusion(0.0, float("nan"), 1.0), "duration_min"),
        (lambda: Bolus(-5.0, 10.0), "t_min"),
        (lambda: Bolus(0.0, 1e5), "dose_mg"),
    ],
)
def test_bad_administrations_name_the_field(make: Callable[[], object], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        make()
    assert caught.value.field == field


def test_an_infusion_running_past_a_week_is_bad_input() -> None:
    with pytest.raises(InvalidInput) as caught:
        Schedule(infusions=(Infusion(10_000.0, 1_000.0, 1.0),))
    assert caught.value.field == "end_min"


def test_a_single_infusion_spreads_the_dose_evenly() -> None:
    schedule = Schedule.single_infusion(35.0, 40.0)
    (infusion,) = schedule.infusions
    assert infusion.rate_mg_per_min == pytest.approx(0.875, rel=1e-15)
    assert schedule.total_dose_mg == pytest.approx(35.0, rel=1e-15)
    assert schedule.end_min == 40.0


def test_overlapping_infusions_add_up_in_the_plan() -> None:
    schedule = Schedule(
        infusions=(Infusion(0.0, 40.0, 1.0), Infusion(20.0, 40.0, 0.5)),
        boluses=(Bolus(20.0, 5.0), Bolus(70.0, 2.0)),
    )
    plan = schedule.plan()
    assert plan.starts_min.tolist() == [0.0, 20.0, 40.0, 60.0, 70.0]
    assert plan.rates_mg_per_min.tolist() == [1.0, 1.5, 0.5, 0.0, 0.0]
    assert plan.boluses_mg.tolist() == [0.0, 5.0, 0.0, 0.0, 2.0]


def test_an_administration_record_with_a_pause_becomes_two_infusions() -> None:
    schedule = Schedule.from_rate_steps([(0.0, 1.0), (10.0, 0.0), (15.0, 0.8)], stop_min=45.0)
    assert schedule.infusions == (Infusion(0.0, 10.0, 1.0), Infusion(15.0, 30.0, 0.8))


def test_rate_steps_must_move_forward_in_time() -> None:
    with pytest.raises(InvalidInput) as caught:
        Schedule.from_rate_steps([(0.0, 1.0), (0.0, 2.0)], stop_min=40.0)
    assert caught.value.field == "steps[1].t_min"


def test_delivered_segments_skip_what_gave_nothing() -> None:
    schedule = Schedule.from_segments(
        [(0.0, 10.0, 1.0), (10.0, 10.0, 2.0), (10.0, 20.0, 0.0), (20.0, 30.0, 0.5)],
        [(12.0, 3.0)],
    )
    assert schedule.infusions == (Infusion(0.0, 10.0, 1.0), Infusion(20.0, 10.0, 0.5))
    assert schedule.boluses == (Bolus(12.0, 3.0),)


def test_a_segment_ending_before_it_starts_is_bad_input() -> None:
    with pytest.raises(InvalidInput):
        Schedule.from_segments([(10.0, 5.0, 1.0)])


def test_shifting_moves_every_administration() -> None:
    shifted = Schedule((Infusion(0.0, 40.0, 1.0),), (Bolus(5.0, 2.0),)).shifted(30.0)
    assert shifted.infusions[0].start_min == 30.0
    assert shifted.boluses[0].t_min == 35.0


def test_a_grid_of_280_min_at_1_s_has_16801_points_ending_on_the_horizon() -> None:
    grid = time_grid(280.0, 1.0)
    assert grid.size == 16_801
    assert grid[-1] == pytest.approx(280.0, rel=1e-15)
    assert grid[0] == 0.0


def test_a_step_longer_than_the_horizon_is_bad_input() -> None:
    with pytest.raises(InvalidInput) as caught:
        time_grid(1.0, 120.0)
    assert caught.value.field == "step_s"
    assert "at most the horizon (60 s)" in caught.value.message


@pytest.mark.parametrize(("horizon", "step"), [(0.0, 1.0), (-5.0, 1.0), (60.0, 0.0)])
def test_non_positive_horizons_and_steps_are_bad_input(horizon: float, step: float) -> None:
    with pytest.raises(InvalidInput):
        time_grid(horizon, step)


def test_a_grid_with_too_many_points_is_refused_with_the_smallest_step() -> None:
    with pytest.raises(InvalidInput) as caught:
        time_grid(10_000.0, 0.01)
    assert caught.value.field == "step_s"
    assert f"{MAX_POINTS:,}" in caught.value.message


@pytest.mark.parametrize(
    "times",
    [[], [[0.0, 1.0]], [0.0, -1.0], [-1.0, 0.0], [0.0, float("nan")], [2.0, 1.0], ["a"]],
)
def test_bad_time_arrays_are_bad_input(times: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_times(times)
    assert caught.value.field == "times_min"


def test_checked_times_are_read_only() -> None:
    times = check_times([0.0, 1.0, 1.0, 2.0])
    assert not times.flags.writeable
    assert np.array_equal(times, [0.0, 1.0, 1.0, 2.0])
