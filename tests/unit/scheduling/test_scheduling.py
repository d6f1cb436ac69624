"""Chair scheduling: earliest free slots, hours, conflicts, whole series and rescheduling."""

from __future__ import annotations

import datetime as dt

import pytest

from ketaclinic.domain.errors import Conflict, InvalidInput
from ketaclinic.domain.protocols import ABDALLAH_2022, FEDER_2021, MAINTENANCE, plan
from ketaclinic.domain.scheduling import (
    Booking,
    OpeningHours,
    SiteSchedule,
    book_series,
    check_booking,
    earliest_series,
    earliest_slot,
    no_slot_reason,
    outside_hours_reason,
    reschedule_visit,
)

MONDAY = dt.date(2026, 11, 30)
WEDNESDAY = dt.date(2026, 12, 2)
SATURDAY = dt.date(2026, 12, 5)
WEEKDAY_HOURS = tuple(OpeningHours(day, dt.time(8), dt.time(17)) for day in range(5))
MIA = SiteSchedule(site="MIA", chairs=("MIA-1", "MIA-2"), hours=WEEKDAY_HOURS)


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute))


def booking(chair: str, day: dt.date, start: int, end: int, ref: str = "") -> Booking:
    return Booking(chair, at(day, start), at(day, end), ref)


def test_the_earliest_slot_is_at_opening_on_the_first_chair() -> None:
    slot = earliest_slot(MIA, [], MONDAY, 180)
    assert slot == booking("MIA-1", MONDAY, 8, 11)


def test_a_busy_first_chair_moves_the_slot_to_the_next_chair() -> None:
    slot = earliest_slot(MIA, [booking("MIA-1", MONDAY, 8, 11)], MONDAY, 180)
    assert slot == booking("MIA-2", MONDAY, 8, 11)


def test_when_every_chair_is_busy_the_slot_moves_later() -> None:
    busy = [booking("MIA-1", MONDAY, 8, 11), booking("MIA-2", MONDAY, 8, 12)]
    assert earliest_slot(MIA, busy, MONDAY, 180) == booking("MIA-1", MONDAY, 11, 14)


def test_slots_follow_the_configured_step() -> None:
    half_hourly = SiteSchedule("MIA", ("MIA-1",), WEEKDAY_HOURS, slot_min=30)
    busy = [Booking("MIA-1", at(MONDAY, 8), at(MONDAY, 9, 10))]
    slot = earliest_slot(half_hourly, busy, MONDAY, 60)
    assert slot == Booking("MIA-1", at(MONDAY, 9, 30), at(MONDAY, 10, 30))


def test_not_before_is_rounded_up_to_the_step() -> None:
    slot = earliest_slot(MIA, [], MONDAY, 60, not_before=dt.time(9, 5))
    assert slot is not None
    assert slot.start == at(MONDAY, 9, 15)


def test_a_visit_must_end_by_closing_time() -> None:
    busy = [booking("MIA-1", MONDAY, 8, 15), booking("MIA-2", MONDAY, 8, 15)]
    assert earliest_slot(MIA, busy, MONDAY, 120) == booking("MIA-1", MONDAY, 15, 17)
    assert earliest_slot(MIA, busy, MONDAY, 135) is None


def test_no_slot_on_a_closed_weekday_and_the_reason_says_so() -> None:
    assert earliest_slot(MIA, [], SATURDAY, 180) is None
    assert no_slot_reason(MIA, SATURDAY, 180) == "site MIA is closed on Saturdays"


def test_no_slot_on_a_closed_date() -> None:
    holiday = SiteSchedule("MIA", ("MIA-1",), WEEKDAY_HOURS, closed_dates=frozenset({MONDAY}))
    assert earliest_slot(holiday, [], MONDAY, 60) is None
    assert no_slot_reason(holiday, MONDAY, 60) == "site MIA is closed on 2026-11-30"


def test_a_visit_longer_than_the_opening_hours_is_explained() -> None:
    short_day = SiteSchedule("MIA", ("MIA-1",), (OpeningHours(0, dt.time(9), dt.time(11)),))
    assert earliest_slot(short_day, [], MONDAY, 180) is None
    assert no_slot_reason(short_day, MONDAY, 180) == (
        "a visit keeps a chair 180 min but the site is open 09:00–11:00 on Mondays (120 min)"
    )


def test_a_full_day_is_explained() -> None:
    full = [booking(chair, MONDAY, 8, 17) for chair in MIA.chairs]
    assert earliest_slot(MIA, full, MONDAY, 180) is None
    assert no_slot_reason(MIA, MONDAY, 180).startswith("every chair (2) is booked")


def test_a_booking_outside_hours_is_refused_with_the_reason() -> None:
    with pytest.raises(InvalidInput) as caught:
        check_booking(MIA, [], booking("MIA-1", MONDAY, 15, 18))
    assert caught.value.field == "start"
    assert "open 08:00–17:00 on Mondays; the visit would run 15:00–18:00" in caught.value.message


def test_a_booking_before_opening_is_refused() -> None:
    reason = outside_hours_reason(MIA, at(MONDAY, 7, 45), at(MONDAY, 10, 45))
    assert reason is not None


def test_a_booking_on_a_weekend_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        check_booking(MIA, [], booking("MIA-1", SATURDAY, 9, 12))
    assert "closed on Saturdays" in caught.value.message


def test_a_chair_is_never_double_booked() -> None:
    existing = booking("MIA-1", MONDAY, 9, 12, ref="appt-41")
    with pytest.raises(Conflict) as caught:
        check_booking(MIA, [existing], booking("MIA-1", MONDAY, 11, 14))
    assert "appt-41" in caught.value.message
    assert "11:00–14:00" in caught.value.message


def test_back_to_back_visits_on_one_chair_are_fine() -> None:
    existing = booking("MIA-1", MONDAY, 9, 12)
    check_booking(MIA, [existing], booking("MIA-1", MONDAY, 12, 15))
    check_booking(MIA, [existing], booking("MIA-2", MONDAY, 9, 12))


def test_an_unknown_chair_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        check_booking(MIA, [], booking("FLL-1", MONDAY, 9, 12))
    assert caught.value.field == "chair_id"


def test_a_booking_must_end_after_it_starts_on_the_same_day() -> None:
    with pytest.raises(InvalidInput):
        Booking("MIA-1", at(MONDAY, 12), at(MONDAY, 12))
    with pytest.raises(InvalidInput):
        Booking("MIA-1", at(MONDAY, 22), at(MONDAY + dt.timedelta(days=1), 1))
    with pytest.raises(InvalidInput):
        Booking(
            "MIA-1", at(MONDAY, 9).replace(tzinfo=dt.UTC), at(MONDAY, 12).replace(tzinfo=dt.UTC)
        )


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"site": " "}, "site"),
        ({"chairs": ()}, "chairs"),
        ({"chairs": ("A", "A")}, "chairs[1]"),
        ({"slot_min": 1}, "slot_min"),
        ({"hours": (WEEKDAY_HOURS[0], WEEKDAY_HOURS[0])}, "hours[1]"),
    ],
)
def test_a_site_schedule_checks_its_parts(kwargs: dict[str, object], field: str) -> None:
    base: dict[str, object] = {"site": "MIA", "chairs": ("MIA-1",), "hours": WEEKDAY_HOURS}
    base.update(kwargs)
    with pytest.raises(InvalidInput) as caught:
        SiteSchedule(**base)  # type: ignore[arg-type]
    assert caught.value.field == field


def test_opening_hours_must_close_after_they_open() -> None:
    with pytest.raises(InvalidInput) as caught:
        OpeningHours(0, dt.time(17), dt.time(8))
    assert caught.value.field == "closes"


def test_a_whole_series_is_booked_on_the_planned_dates() -> None:
    result = book_series(MIA, [], FEDER_2021, MONDAY, ref="series-9")
    assert result.complete
    assert [visit.day for visit in result.visits] == plan(FEDER_2021, MONDAY)
    assert all(visit.start.time() == dt.time(8) for visit in result.visits)
    assert all(visit.ref == "series-9" for visit in result.visits)
    assert result.require_complete() == result.visits


def test_a_planned_date_without_a_slot_is_reported_with_the_reason() -> None:
    full_wednesday = [booking(chair, WEDNESDAY, 8, 17) for chair in MIA.chairs]
    result = book_series(MIA, full_wednesday, FEDER_2021, MONDAY)
    assert not result.complete
    [problem] = result.problems
    assert problem.day == WEDNESDAY
    assert problem.reason.startswith("every chair (2) is booked")
    assert len(result.visits) == 5
    with pytest.raises(Conflict) as caught:
        result.require_complete()
    assert "2026-12-02" in caught.value.message


def test_a_site_closed_on_fridays_cannot_host_a_mon_wed_fri_series() -> None:
    no_fridays = SiteSchedule("FLL", ("FLL-1",), WEEKDAY_HOURS[:4])
    result = book_series(no_fridays, [], FEDER_2021, MONDAY)
    assert [p.day.strftime("%a") for p in result.problems] == ["Fri", "Fri"]
    assert all(p.reason == "site FLL is closed on Fridays" for p in result.problems)


def test_visits_of_the_same_series_do_not_collide_with_existing_bookings() -> None:
    existing = [booking("MIA-1", MONDAY, 8, 11)]
    result = book_series(MIA, existing, FEDER_2021, MONDAY)
    assert result.visits[0] == booking("MIA-2", MONDAY, 8, 11)


def series() -> tuple[Booking, ...]:
    return book_series(MIA, [], ABDALLAH_2022, MONDAY).require_complete()


def test_rescheduling_a_visit_to_a_valid_day_keeps_the_rest() -> None:
    visits = series()
    thursday = visits[1].day
    moved = reschedule_visit(MIA, visits, ABDALLAH_2022, visits, 1, thursday + dt.timedelta(days=1))
    assert moved[1].day == thursday + dt.timedelta(days=1)
    assert moved[1].start.time() == dt.time(8)
    assert moved[:1] == visits[:1]
    assert moved[2:] == visits[2:]


def test_rescheduling_at_a_time_releases_the_old_slot() -> None:
    visits = series()
    moved = reschedule_visit(
        MIA, visits, ABDALLAH_2022, visits, 0, MONDAY, at=dt.time(9), chair_id="MIA-1"
    )
    assert moved[0] == booking("MIA-1", MONDAY, 9, 12)


def test_rescheduling_too_close_to_the_next_visit_is_refused_with_the_reason() -> None:
    visits = series()
    with pytest.raises(InvalidInput) as caught:
        reschedule_visit(
            MIA, visits, ABDALLAH_2022, visits, 1, visits[2].day - dt.timedelta(days=1)
        )
    assert caught.value.field == "new_day"
    assert "visits 2 and 3 are 1 day(s) apart; abdallah-2022 needs at least 3" in (
        caught.value.message
    )


def test_rescheduling_out_of_order_is_refused() -> None:
    visits = series()
    with pytest.raises(InvalidInput) as caught:
        reschedule_visit(MIA, visits, ABDALLAH_2022, visits, 2, visits[0].day)
    assert "is not after" in caught.value.message


def test_rescheduling_past_the_protocol_window_is_refused() -> None:
    visits = book_series(MIA, [], FEDER_2021, MONDAY).require_complete()
    with pytest.raises(InvalidInput) as caught:
        reschedule_visit(MIA, visits, FEDER_2021, visits, 5, MONDAY + dt.timedelta(days=14))
    assert "within 2 week(s)" in caught.value.message


def test_rescheduling_to_a_closed_day_says_why() -> None:
    visits = series()
    with pytest.raises(Conflict) as caught:
        reschedule_visit(MIA, visits, ABDALLAH_2022, visits, 7, dt.date(2026, 12, 27))
    assert "closed on Sundays" in caught.value.message


def test_rescheduling_outside_hours_is_refused() -> None:
    visits = series()
    with pytest.raises(InvalidInput) as caught:
        reschedule_visit(MIA, visits, ABDALLAH_2022, visits, 0, MONDAY, at=dt.time(15))
    assert "15:00–18:00" in caught.value.message


def test_rescheduling_onto_a_taken_chair_is_a_conflict() -> None:
    visits = series()
    other = booking("MIA-2", MONDAY, 9, 12, ref="appt-7")
    with pytest.raises(Conflict) as caught:
        reschedule_visit(
            MIA,
            [*visits, other],
            ABDALLAH_2022,
            visits,
            0,
            MONDAY,
            at=dt.time(10),
            chair_id="MIA-2",
        )
    assert "appt-7" in caught.value.message


def test_rescheduling_when_every_chair_is_taken_is_a_conflict() -> None:
    visits = series()
    taken = [booking("MIA-2", MONDAY, 9, 12), booking("MIA-1", MONDAY, 12, 15)]
    with pytest.raises(Conflict) as caught:
        reschedule_visit(MIA, [*visits, *taken], ABDALLAH_2022, visits, 0, MONDAY, at=dt.time(10))
    assert caught.value.field == "at"


def test_rescheduling_a_visit_that_does_not_exist_is_refused() -> None:
    visits = series()
    with pytest.raises(InvalidInput) as caught:
        reschedule_visit(MIA, visits, ABDALLAH_2022, visits, 8, MONDAY)
    assert caught.value.field == "index"


def test_rescheduling_to_a_chair_that_is_full_that_day_names_the_chair() -> None:
    visits = series()
    thursday = visits[1].day
    full_chair = booking("MIA-2", thursday + dt.timedelta(days=1), 8, 17)
    with pytest.raises(Conflict) as caught:
        reschedule_visit(
            MIA,
            [*visits, full_chair],
            ABDALLAH_2022,
            visits,
            1,
            thursday + dt.timedelta(days=1),
            chair_id="MIA-2",
        )
    assert "chair MIA-2 has no free 180-min stretch" in caught.value.message


# --- the earliest feasible series -----------------------------------------------------------


def full_day(day: dt.date) -> list[Booking]:
    return [booking(chair, day, 8, 17) for chair in MIA.chairs]


def test_the_earliest_series_is_the_planned_one_when_every_date_is_free() -> None:
    found = earliest_series(MIA, [], FEDER_2021, MONDAY)
    assert found.visits == book_series(MIA, [], FEDER_2021, MONDAY).visits


def test_a_full_first_week_wednesday_moves_the_series_to_the_friday() -> None:
    # Mon 30 Nov: Wed 2 Dec full → Thu 3, then Fri is too close, and the series cannot end
    # within two weeks; Wed 2 Dec itself is full; Fri 4 Dec starts a series that fits.
    found = earliest_series(MIA, full_day(WEDNESDAY), FEDER_2021, MONDAY)
    assert found.first_day == dt.date(2026, 12, 4)
    assert [v.day for v in found.visits] == plan(FEDER_2021, dt.date(2026, 12, 4))
    assert found.describe().startswith("2026-12-04 08:00 MIA-1, 2026-12-07 08:00 MIA-1")


def test_a_full_visit_date_shifts_that_visit_and_keeps_the_spacing() -> None:
    # maintenance: every 28 days, at least 21 apart, within 12 weeks
    second = MONDAY + dt.timedelta(days=28)
    found = earliest_series(MIA, full_day(second), MAINTENANCE, MONDAY)
    assert [v.day for v in found.visits] == [
        MONDAY,
        second + dt.timedelta(days=1),
        MONDAY + dt.timedelta(days=56),
    ]


def test_the_patients_other_visit_days_are_avoided() -> None:
    found = earliest_series(
        MIA, [], MAINTENANCE, MONDAY, blocked_dates=[MONDAY + dt.timedelta(days=28)]
    )
    assert found.visits[1].day == MONDAY + dt.timedelta(days=29)


def test_when_nothing_fits_within_the_search_it_says_so() -> None:
    closed = SiteSchedule("MIA", ("MIA-1",), (OpeningHours(0, dt.time(8), dt.time(10)),))
    found = earliest_series(closed, [], FEDER_2021, MONDAY, search_days=14)
    assert not found.found
    assert found.first_day is None
    assert found.describe() == (
        "no series of feder-2021 fits with a first day from 2026-11-30 to 2026-12-14"
    )


def test_the_search_length_is_bounded() -> None:
    with pytest.raises(InvalidInput) as caught:
        earliest_series(MIA, [], FEDER_2021, MONDAY, search_days=400)
    assert caught.value.field == "search_days"


def test_a_move_to_a_time_outside_hours_names_the_at_field() -> None:
    visits = book_series(MIA, [], ABDALLAH_2022, MONDAY).visits
    with pytest.raises(InvalidInput) as caught:
        reschedule_visit(MIA, visits, ABDALLAH_2022, visits, 0, MONDAY, at=dt.time(16))
    assert caught.value.field == "at"
    assert caught.value.message.startswith("at: got '16:00', expected a start time within hours")
