"""A patient's PCL-5 outcome (services/mbc.patient_outcomes) and the director's cohort report
(services/mbc_cohort), on hand-checked trajectories."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from ketaclinic.domain.errors import InvalidInput, PermissionDenied
from ketaclinic.domain.instruments import score
from ketaclinic.domain.outcomes import mean_with_ci
from ketaclinic.services import mbc, mbc_cohort
from ketaclinic.services.mbc_model import QuestionnaireResponse, ResponseSource

T0 = dt.datetime(2026, 11, 20, 14, 0, tzinfo=dt.UTC)  # the world's clock (conftest.py)


def answers_for(total: int) -> list[int]:
    """20 PCL-5 answers summing to ``total`` (0–80)."""
    return [min(4, max(0, total - 4 * n)) for n in range(20)]


def put(world, patient: int, day: int, total: int, hour: int = 14) -> None:
    """A PCL-5 total ``day`` days after T0's date, stored directly (no audit, no routing)."""
    at = dt.datetime(2026, 11, 20, hour, 0, tzinfo=dt.UTC) + dt.timedelta(days=day)
    with world.uow() as uow:
        uow.responses.add(
            QuestionnaireResponse.scored(
                score("pcl5", answers_for(total)),
                patient_id=patient,
                source=ResponseSource.STAFF_ENTRY,
                entered_by=None,
                completed_at=at,
                language="en",
            ),
            at,
        )
        uow.commit()


def outcomes(world, who="nurse.mia", **kwargs):
    with world.uow() as uow:
        return mbc.patient_outcomes(uow, world.clock, world.actor(who), world.patient, **kwargs)


def test_answers_for_builds_the_requested_total() -> None:
    for total in (0, 1, 33, 79, 80):
        assert score("pcl5", answers_for(total)).total == total


def test_a_patient_outcome_judges_each_follow_up_against_the_first_score(world) -> None:
    for day, total in ((-60, 50), (-53, 40), (-46, 34), (-39, 30), (-32, 38)):
        put(world, world.patient, day, total)
    view = outcomes(world)
    assert view.outcome is not None
    assert view.baseline_rule.startswith("first PCL-5 on record")
    assert view.outcome.baseline.total == 50
    points = view.outcome.points
    assert [p.change for p in points] == [10, 16, 20, 12]
    # ≥ 30 % reduction: 16/50 = 32 % yes, 10/50 = 20 % no; remission < 33.
    assert [p.response for p in points] == [False, True, True, False]
    assert [p.remission for p in points] == [False, False, True, False]
    assert [p.reliable_change for p in points] == [False, True, True, False]
    assert [p.clinically_significant for p in points] == [False, False, False, False]
    durability = view.outcome.durability
    assert (durability.days, durability.censored) == (14, False)
    assert "Feder 2021" in view.outcome.definitions.as_dict()["response"]


def test_the_last_score_of_a_local_day_counts(world) -> None:
    put(world, world.patient, -10, 60, hour=14)
    # 03:00 UTC the next day is still the evening before in Miami.
    put(world, world.patient, -9, 20, hour=3)
    put(world, world.patient, -5, 30)
    view = outcomes(world)
    assert view.outcome is not None
    assert view.outcome.baseline.total == 20
    assert [p.total for p in view.outcome.points] == [30]


def test_a_given_first_infusion_sets_the_baseline(world) -> None:
    for day, total in ((-30, 60), (-20, 50), (-10, 30)):
        put(world, world.patient, day, total)
    first_infusion = (T0 + dt.timedelta(days=-20)).date()
    view = outcomes(world, first_infusion_on=first_infusion)
    assert view.outcome is not None
    assert view.outcome.baseline.total == 50
    assert [p.total for p in view.outcome.points] == [30]
    too_early = outcomes(world, first_infusion_on=(T0 - dt.timedelta(days=40)).date())
    assert too_early.outcome is None
    assert "before the first infusion" in too_early.note


def test_without_pcl5_there_is_no_outcome_and_front_desk_is_refused(world) -> None:
    assert outcomes(world).outcome is None
    with pytest.raises(PermissionDenied):
        outcomes(world, who="frontdesk.mia")


def report(world, who="director.mia", **kwargs):
    with world.uow() as uow:
        return mbc_cohort.outcome_report(uow, world.clock, world.actor(who), **kwargs)


def add_second_mia_patient(world) -> int:
    from ketaclinic.domain.people import NewPatient, Sex

    with world.uow() as uow:
        p = uow.patients.add(
            NewPatient(world.mia, "MRN-3", "Cy", "Northway", dt.date(1970, 1, 1), Sex.MALE), T0
        )
        uow.commit()
    return p.id


def test_the_cohort_report_matches_hand_computed_rates_and_times(world) -> None:
    other = add_second_mia_patient(world)
    # Patient A: 50 → 40 → 30 (responds on day 14) → 45 (lost on day 21) ; final 45.
    for day, total in ((0, 50), (7, 40), (14, 30), (21, 45)):
        put(world, world.patient, day - 40, total)
    # Patient B: 40 → 20 (responds on day 7, remits) → 18; still responding (censored at 14).
    for day, total in ((0, 40), (7, 20), (14, 18)):
        put(world, other, day - 40, total)
    # FLL patient: not the MIA director's site.
    for day, total in ((0, 70), (7, 10)):
        put(world, world.fll_patient, day - 40, total)
    result = report(world)
    overall, mia, no_protocol = result.groups
    assert (overall.label, mia.label, no_protocol.label) == ("All sites", "MIA", "none")
    # No series or plan is stored: every patient is in the "none" protocol group, and each is
    # anchored on their first PCL-5.
    assert no_protocol.summary == overall.summary
    assert overall.summary is not None
    summary = overall.summary
    assert summary.n == 2
    assert (summary.response.count, summary.remission.count) == (1, 1)
    assert summary.reliable_change.count == 1  # B: 22 ≥ 15; A: 5
    expected = mean_with_ci([5.0, 22.0])
    assert summary.mean_change.mean == pytest.approx(13.5)
    # Same formula as the domain helper; exact equality would also hold, approx guards only
    # against summation order.
    assert summary.mean_change.ci_low == pytest.approx(expected.ci_low)
    assert overall.ever_responded == 2
    assert overall.median_days_to_response == pytest.approx(10.5)  # median of 14 and 7
    # Kaplan–Meier: A lost at 7 days (event), B censored at 7 days: S(7) = 1 − 1/2 = ½.
    assert (overall.durability.events, overall.durability.censored) == (1, 1)
    assert overall.durability.median_days == pytest.approx(7.0)
    assert mia.summary is not None
    assert mia.summary.n == 2


def test_the_date_range_filters_follow_ups_and_the_baseline_may_predate_it(world) -> None:
    for day, total in ((-40, 50), (-30, 20), (-20, 48)):
        put(world, world.patient, day, total)
    start = (T0 - dt.timedelta(days=35)).date()
    result = report(world, start=start)
    summary = result.groups[0].summary
    assert summary is not None
    assert summary.n == 1
    # No infusion recorded: anchored on the first PCL-5 (day −40), which stays the baseline
    # although it lies before the range; current = the last follow-up in range.
    assert summary.mean_change.mean == pytest.approx(50 - 48)
    until = report(world, start=start, end=(T0 - dt.timedelta(days=25)).date())
    assert until.groups[0].summary is not None
    assert until.groups[0].summary.mean_change.mean == pytest.approx(50 - 20)
    no_follow_up = report(world, start=(T0 - dt.timedelta(days=15)).date())
    assert no_follow_up.groups[0].summary is None
    with pytest.raises(InvalidInput, match="to"):
        report(world, start=T0.date(), end=(T0 - dt.timedelta(days=1)).date())


def test_only_directors_see_the_cohort_report(world) -> None:
    with pytest.raises(PermissionDenied):
        report(world, who="prescriber.mia")


def test_the_csv_has_one_row_per_group_with_the_numbers(world) -> None:
    for day, total in ((-40, 50), (-30, 20)):
        put(world, world.patient, day, total)
    text = mbc_cohort.report_csv(report(world))
    header, overall, mia, no_protocol = text.strip().split("\n")
    assert header.split(",")[:7] == [
        "grouping",
        "group",
        "start",
        "end",
        "patients",
        "responders",
        "response_rate",
    ]
    assert overall.startswith("all,All sites,,,1,1,1,")
    assert mia.startswith("site,MIA,,,1,")
    assert no_protocol.startswith("protocol,none,,,1,")


def test_kaplan_meier_median_against_a_hand_worked_example() -> None:
    # Times 2, 3(censored), 4, 5, 8: S(2)=4/5, S(4)=4/5·2/3=8/15, S(5)=8/15·1/2=4/15 ≤ ½.
    km = mbc_cohort.kaplan_meier_median([2, 3, 4, 5, 8], [True, False, True, True, True])
    assert (km.events, km.censored, km.median_days) == (4, 1, 5.0)
    never = mbc_cohort.kaplan_meier_median(np.array([4.0]), np.array([False]))
    assert never.median_days is None


def test_local_days_follow_the_site_time_zone_across_daylight_saving() -> None:
    from zoneinfo import ZoneInfo

    times = [
        dt.datetime(2026, 3, 8, 4, 30, tzinfo=dt.UTC),  # 23:30 on 7 March in Miami (EST)
        dt.datetime(2026, 3, 9, 3, 30, tzinfo=dt.UTC),  # 23:30 on 8 March (EDT after the switch)
        dt.datetime(2026, 3, 9, 4, 30, tzinfo=dt.UTC),  # 00:30 on 9 March
        dt.datetime(2026, 3, 9, 4, 30, tzinfo=dt.UTC),  # the same instant at a UTC site
    ]
    seconds = np.array([t.timestamp() for t in times])
    site = np.array([1, 1, 1, 2])
    days = mbc_cohort.local_days(
        seconds, site, {1: ZoneInfo("America/New_York"), 2: ZoneInfo("UTC")}
    )
    assert [dt.date.fromordinal(int(d)) for d in days] == [
        dt.date(2026, 3, 7),
        dt.date(2026, 3, 8),
        dt.date(2026, 3, 9),
        dt.date(2026, 3, 9),
    ]
