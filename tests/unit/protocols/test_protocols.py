"""Protocol templates (REFERENCE.md §1 regimens) and the dates of a series."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest

from ketaclinic.domain.errors import Conflict, InvalidInput
from ketaclinic.domain.protocols import (
    ABDALLAH_2022,
    BUILTIN_PROTOCOLS,
    FEDER_2021,
    MAINTENANCE,
    Protocol,
    find_protocol,
    plan,
    protocol_catalog,
    spacing_problem,
)
from ketaclinic.domain.provenance import Tag, design

MONDAY = dt.date(2026, 11, 30)


def weekdays(dates: list[dt.date]) -> list[str]:
    return [day.strftime("%a") for day in dates]


def clinic_protocol(**changes: Any) -> Protocol:
    fields: dict[str, Any] = {
        "id": "clinic-weekly",
        "name": "Weekly infusions for six weeks",
        "infusion_count": 6,
        "weekdays": (1,),
        "duration_weeks": 6,
        "dose_mg_per_kg": 0.5,
        "infusion_min": 40,
        "source": design("clinic template"),
    }
    fields.update(changes)
    return Protocol(**fields)


def test_feder_2021_is_six_infusions_mon_wed_fri_over_two_weeks() -> None:
    dates = plan(FEDER_2021, MONDAY)
    assert weekdays(dates) == ["Mon", "Wed", "Fri", "Mon", "Wed", "Fri"]
    assert dates[0] == MONDAY
    assert (dates[-1] - dates[0]).days == 11
    assert FEDER_2021.dose_mg_per_kg == 0.5
    assert FEDER_2021.infusion_min == 40
    assert FEDER_2021.source.reference == "Feder 2021"
    assert FEDER_2021.source.tag is Tag.CITED


def test_a_series_starts_on_the_first_allowed_day_on_or_after_the_start_date() -> None:
    saturday = dt.date(2026, 11, 28)
    assert plan(FEDER_2021, saturday)[0] == MONDAY
    wednesday_start = plan(FEDER_2021, dt.date(2026, 12, 2))
    assert weekdays(wednesday_start) == ["Wed", "Fri", "Mon", "Wed", "Fri", "Mon"]
    assert (wednesday_start[-1] - wednesday_start[0]).days < 14


def test_abdallah_2022_is_eight_infusions_twice_weekly_over_four_weeks() -> None:
    dates = plan(ABDALLAH_2022, dt.date(2026, 12, 1))  # a Tuesday
    assert weekdays(dates) == ["Thu", "Mon"] * 4
    assert len(dates) == 8
    assert (dates[-1] - dates[0]).days < 28
    assert ABDALLAH_2022.other_doses_mg_per_kg == (0.2,)
    assert ABDALLAH_2022.source.reference == "Abdallah 2022"


def test_maintenance_boosters_are_spaced_by_days_and_marked_as_design() -> None:
    dates = plan(MAINTENANCE, dt.date(2026, 12, 3))
    assert dates == [dt.date(2026, 12, 3), dt.date(2026, 12, 31), dt.date(2027, 1, 28)]
    assert MAINTENANCE.source.tag is Tag.DESIGN


def test_a_visit_keeps_a_chair_for_setup_infusion_and_observation() -> None:
    # 20 min setup + 40 min infusion + 120 min observation: the ~3 h on site of Albott 2018.
    assert FEDER_2021.chair_min == 180
    assert FEDER_2021.observation_min == 120
    assert FEDER_2021.observation_source.tag is Tag.UNVERIFIED


def test_forty_minute_infusion_time_of_the_trials_is_marked_unverified() -> None:
    assert FEDER_2021.infusion_source.tag is Tag.UNVERIFIED
    assert FEDER_2021.dose_source.tag is Tag.CITED


@pytest.mark.parametrize(
    ("protocol", "gap"), [(FEDER_2021, 2), (ABDALLAH_2022, 3), (MAINTENANCE, 21)]
)
def test_the_shortest_allowed_gap_follows_the_rhythm_unless_set(
    protocol: Protocol, gap: int
) -> None:
    assert protocol.gap_days == gap


def test_rhythm_is_described_for_people() -> None:
    assert FEDER_2021.rhythm == "Mon/Wed/Fri"
    assert MAINTENANCE.rhythm == "every 28 days"


def test_a_valid_clinic_protocol_is_accepted_and_planned() -> None:
    weekly = clinic_protocol()
    dates = plan(weekly, MONDAY)
    assert weekdays(dates) == ["Tue"] * 6
    assert weekly.gap_days == 7


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"id": "Weekly"}, "id"),
        ({"id": "x"}, "id"),
        ({"name": " "}, "name"),
        ({"infusion_count": 0}, "infusion_count"),
        ({"dose_mg_per_kg": 1.5}, "dose_mg_per_kg"),
        ({"dose_mg_per_kg": 0.05}, "dose_mg_per_kg"),
        ({"other_doses_mg_per_kg": (2.0,)}, "other_doses_mg_per_kg[0]"),
        ({"infusion_min": 30}, "infusion_min"),
        ({"observation_min": 10}, "observation_min"),
        ({"setup_min": -5}, "setup_min"),
        ({"weekdays": ()}, "weekdays"),
        ({"spacing_days": 7}, "weekdays"),
        ({"weekdays": (3, 1)}, "weekdays"),
        ({"weekdays": (1, 1)}, "weekdays"),
        ({"weekdays": (7,)}, "weekdays"),
        ({"weekdays": (), "spacing_days": 0}, "spacing_days"),
        ({"min_gap_days": 8}, "min_gap_days"),
        ({"duration_weeks": 5}, "duration_weeks"),
    ],
)
def test_invalid_clinic_protocols_are_refused_naming_the_field(
    changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        clinic_protocol(**changes)
    assert caught.value.field == field


def test_a_series_that_cannot_fit_its_weeks_says_how_long_it_would_run() -> None:
    with pytest.raises(InvalidInput) as caught:
        dataclasses.replace(FEDER_2021, id="feder-short", infusion_count=7)
    assert "15 days" in caught.value.message


def test_the_catalog_adds_clinic_protocols_to_the_built_ins() -> None:
    catalog = protocol_catalog([clinic_protocol()])
    assert set(catalog) == {"feder-2021", "abdallah-2022", "maintenance", "clinic-weekly"}
    assert find_protocol("clinic-weekly", catalog).infusion_count == 6


def test_a_clinic_protocol_may_not_reuse_an_id() -> None:
    with pytest.raises(Conflict):
        protocol_catalog([clinic_protocol(id="feder-2021")])


def test_an_unknown_protocol_lists_the_known_ids() -> None:
    with pytest.raises(InvalidInput) as caught:
        find_protocol("feder")
    assert caught.value.field == "protocol"
    for protocol_id in BUILTIN_PROTOCOLS:
        assert protocol_id in caught.value.message


def test_planned_dates_keep_the_spacing() -> None:
    for protocol in BUILTIN_PROTOCOLS.values():
        assert spacing_problem(protocol, plan(protocol, MONDAY)) is None


def test_spacing_problem_spots_visits_out_of_order() -> None:
    dates = plan(FEDER_2021, MONDAY)
    dates[1], dates[2] = dates[2], dates[1]
    problem = spacing_problem(FEDER_2021, dates)
    assert problem is not None
    assert "visit 3" in problem


def test_spacing_problem_spots_visits_too_close() -> None:
    dates = plan(ABDALLAH_2022, MONDAY)
    dates[1] = dates[0] + dt.timedelta(days=2)
    problem = spacing_problem(ABDALLAH_2022, dates)
    assert problem == "visits 1 and 2 are 2 day(s) apart; abdallah-2022 needs at least 3"


def test_spacing_problem_spots_a_series_that_overruns_its_weeks() -> None:
    dates = plan(FEDER_2021, MONDAY)
    dates[-1] = dates[0] + dt.timedelta(days=14)
    problem = spacing_problem(FEDER_2021, dates)
    assert problem is not None
    assert "within 2 week(s)" in problem


def test_spacing_problem_spots_too_many_visits() -> None:
    dates = plan(MAINTENANCE, MONDAY)
    assert spacing_problem(MAINTENANCE, [*dates, dates[-1] + dt.timedelta(days=28)]) is not None
