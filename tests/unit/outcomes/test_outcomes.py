"""Outcomes of a series: baseline, change, response, remission, reliable and clinically
significant change, durability, and cohort statistics (REFERENCE.md §8.1)."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from ketaclinic.domain.errors import InvalidInput
from ketaclinic.domain.outcomes import (
    PCL5_REMISSION_AT_OR_BELOW_28,
    DatedScore,
    OutcomeDefinitions,
    assess_patient,
    classify,
    cohort_summary,
    mean_with_ci,
)
from ketaclinic.domain.provenance import Tag, Threshold, design

START = dt.date(2026, 3, 2)  # first infusion of the series


def day(offset: int) -> dt.date:
    return START + dt.timedelta(days=offset)


def series(*points: tuple[int, float]) -> list[DatedScore]:
    return [DatedScore(day(offset), total) for offset, total in points]


def test_baseline_is_the_last_score_on_or_before_the_first_infusion() -> None:
    outcome = assess_patient(series((-20, 60), (-3, 55), (7, 40)), START)
    assert outcome.baseline == DatedScore(day(-3), 55)
    assert [p.on for p in outcome.points] == [day(7)]


def test_score_on_the_day_of_the_first_infusion_is_the_baseline() -> None:
    outcome = assess_patient(series((-3, 55), (0, 50), (7, 40)), START)
    assert outcome.baseline.total == 50


def test_scores_are_judged_in_date_order_whatever_order_they_come_in() -> None:
    outcome = assess_patient(series((14, 30), (-1, 50), (7, 40)), START)
    assert [p.days_since_first_infusion for p in outcome.points] == [7, 14]


def test_change_is_positive_when_the_score_falls() -> None:
    point = assess_patient(series((0, 50), (7, 40)), START).points[0]
    assert point.change == 10
    assert point.percent_change == pytest.approx(20.0, rel=1e-12)  # float division only


def test_worsening_gives_a_negative_change() -> None:
    point = assess_patient(series((0, 40), (7, 50)), START).points[0]
    assert point.change == -10
    assert not point.response


@pytest.mark.parametrize(("current", "responds"), [(35, True), (36, False)])
def test_response_is_a_reduction_of_at_least_30_percent(current: int, responds: bool) -> None:
    # 50 → 35 is exactly 30 %: inclusive, and not lost to rounding of 15/50.
    point = assess_patient(series((0, 50), (7, current)), START).points[0]
    assert point.response is responds


def test_zero_baseline_has_no_percent_change_and_no_response() -> None:
    point = assess_patient(series((0, 0), (7, 0)), START).points[0]
    assert point.percent_change is None
    assert not point.response


@pytest.mark.parametrize(("current", "remits"), [(32, True), (33, False)])
def test_default_remission_is_below_33(current: int, remits: bool) -> None:
    point = assess_patient(series((0, 60), (7, current)), START).points[0]
    assert point.remission is remits


def test_default_remission_is_shown_as_unverified() -> None:
    assert OutcomeDefinitions().remission.threshold.provenance.tag is Tag.UNVERIFIED


@pytest.mark.parametrize(("current", "remits"), [(28, True), (29, False)])
def test_marx_remission_is_at_or_below_28(current: int, remits: bool) -> None:
    definitions = OutcomeDefinitions(remission=PCL5_REMISSION_AT_OR_BELOW_28)
    point = assess_patient(series((0, 60), (7, current)), START, definitions).points[0]
    assert point.remission is remits


@pytest.mark.parametrize(("current", "reliable"), [(45, True), (46, False)])
def test_reliable_change_is_at_least_15_points(current: int, reliable: bool) -> None:
    point = assess_patient(series((0, 60), (7, current)), START).points[0]
    assert point.reliable_change is reliable


def test_clinically_significant_needs_reliable_change_and_a_score_of_28_or_less() -> None:
    points = assess_patient(series((0, 42), (7, 28), (14, 29), (21, 27)), START).points
    # 42 → 28: change 14, not reliable; 42 → 27: change 15 and ≤ 28.
    assert [p.clinically_significant for p in points] == [False, False, True]
    low_start = assess_patient(series((0, 30), (7, 20)), START).points[0]
    assert not low_start.clinically_significant  # ≤ 28 but only 10 points of change


def test_durability_runs_from_first_response_to_loss_of_response() -> None:
    outcome = assess_patient(series((0, 50), (7, 45), (14, 30), (28, 32), (56, 40)), START)
    assert outcome.durability.first_response_on == day(14)
    assert outcome.durability.loss_of_response_on == day(56)
    assert outcome.durability.days == 42
    assert not outcome.durability.censored


def test_response_held_to_the_last_score_is_censored() -> None:
    durability = assess_patient(series((0, 50), (7, 30), (21, 25)), START).durability
    assert durability.loss_of_response_on is None
    assert durability.days == 14
    assert durability.censored


def test_never_responding_has_no_durability() -> None:
    durability = assess_patient(series((0, 50), (7, 45)), START).durability
    assert durability.first_response_on is None
    assert durability.days is None


def test_patient_without_a_baseline_is_refused() -> None:
    with pytest.raises(InvalidInput, match="baseline score on or before the first infusion"):
        assess_patient(series((1, 50), (7, 40)), START)


def test_two_scores_on_one_date_are_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        assess_patient(series((0, 50), (7, 40), (7, 41)), START)
    assert caught.value.field == "scores[2].on"


@pytest.mark.parametrize("total", [-1, math.nan, math.inf, "40", True])
def test_dated_score_must_be_a_finite_total_of_at_least_zero(total: object) -> None:
    with pytest.raises(InvalidInput, match="total"):
        DatedScore(START, total)  # type: ignore[arg-type]


def test_dated_score_must_be_a_date_not_a_time() -> None:
    with pytest.raises(InvalidInput, match="on: got"):
        DatedScore(dt.datetime(2026, 3, 2, 9, 0), 40)


def test_clinic_thresholds_replace_the_defaults_and_keep_the_original_source() -> None:
    defaults = OutcomeDefinitions()
    response_50 = defaults.response_min_reduction_pct.with_value(50, "director-1", START)
    definitions = OutcomeDefinitions(response_min_reduction_pct=response_50)
    point = assess_patient(series((0, 50), (7, 30)), START, definitions).points[0]
    assert not point.response  # 40 % is below the clinic's 50 %
    assert "Feder 2021" in definitions.as_dict()["response"]


@pytest.mark.parametrize("pct", [0, -5, 101])
def test_response_threshold_outside_0_to_100_percent_is_refused(pct: float) -> None:
    with pytest.raises(InvalidInput, match="between 0 and 100"):
        OutcomeDefinitions(response_min_reduction_pct=Threshold("r", pct, "%", design("x")))


def test_outcome_as_dict_carries_definitions_with_their_provenance() -> None:
    body = assess_patient(series((0, 50), (7, 30)), START).as_dict()
    assert body["baseline"] == {"on": "2026-03-02", "total": 50}
    assert body["points"][0]["response"] is True
    assert "[cited: Marx 2022" in body["definitions"]["reliable_change"]


# --- cohorts ---------------------------------------------------------------------------------


def test_mean_with_ci_matches_a_hand_computed_t_interval() -> None:
    """Values 1..5: mean 3, s = √2.5, t(0.975, 4) = 2.776445 (standard t table), so the
    half-width is 2.776445 × √2.5 / √5 = 1.963243. Tolerance 1e-6: the table value's digits."""
    result = mean_with_ci([1, 2, 3, 4, 5])
    assert result.mean == 3
    assert result.ci_low == pytest.approx(3 - 1.963243, abs=1e-6)
    assert result.ci_high == pytest.approx(3 + 1.963243, abs=1e-6)


def test_mean_of_one_value_has_no_interval() -> None:
    result = mean_with_ci([7.0])
    assert (result.mean, result.ci_low, result.ci_high) == (7.0, None, None)


def test_mean_of_no_values_is_refused() -> None:
    with pytest.raises(InvalidInput, match="at least one value"):
        mean_with_ci([])


def test_non_finite_value_is_refused_naming_its_position() -> None:
    with pytest.raises(InvalidInput) as caught:
        mean_with_ci([1.0, None, 2.0])
    assert caught.value.field == "values[1]"


@pytest.mark.parametrize("confidence", [0, 1, 1.5])
def test_confidence_level_must_lie_between_0_and_1(confidence: float) -> None:
    with pytest.raises(InvalidInput, match="confidence"):
        mean_with_ci([1, 2], confidence)


def test_cohort_summary_counts_each_outcome() -> None:
    baseline = [50, 50, 60, 40]
    current = [35, 36, 27, 45]
    summary = cohort_summary(baseline, current)
    assert summary.n == 4
    assert (summary.response.count, summary.response.n) == (2, 4)  # 50→35 and 60→27
    assert summary.remission.count == 1  # only 27 < 33
    assert summary.reliable_change.count == 2  # 15 and 33 points
    assert summary.clinically_significant.count == 1  # 60→27
    assert summary.mean_change.mean == pytest.approx(np.mean([15, 14, 33, -5]), rel=1e-12)
    assert summary.as_dict()["response"]["proportion"] == 0.5


def test_cohort_of_mismatched_lengths_is_refused() -> None:
    with pytest.raises(InvalidInput, match="current_totals"):
        cohort_summary([50, 40], [30])


def test_negative_total_in_a_cohort_is_refused_naming_its_position() -> None:
    with pytest.raises(InvalidInput) as caught:
        classify([50, 40, 30], [30, -2, 10])
    assert caught.value.field == "current_totals[1]"


def test_empty_cohort_is_refused() -> None:
    with pytest.raises(InvalidInput, match="at least one patient"):
        cohort_summary([], [])
