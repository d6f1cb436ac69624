"""Properties of chair scheduling over generated sites, bookings and series: a chair is never
double-booked, visits stay within opening hours, a series keeps its protocol's spacing, and a
reported problem day really has no free slot."""

from __future__ import annotations

import datetime as dt

from hypothesis import assume, given
from hypothesis import strategies as st

from ketaclinic.domain.errors import KetaclinicError
from ketaclinic.domain.protocols import BUILTIN_PROTOCOLS, Protocol, plan, spacing_problem
from ketaclinic.domain.scheduling import (
    Booking,
    OpeningHours,
    SiteSchedule,
    book_series,
    check_booking,
    earliest_slot,
    outside_hours_reason,
    reschedule_visit,
)

FIRST_DAY = dt.date(2026, 11, 30)
HORIZON_DAYS = 70  # covers the longest built-in series (maintenance: 56 days) from any start


@st.composite
def schedules(draw: st.DrawFn) -> SiteSchedule:
    chair_count = draw(st.integers(1, 3))
    hours = []
    for weekday in range(7):
        if draw(st.booleans()) or weekday == 0:
            opens = draw(st.integers(6, 10))
            closes = draw(st.integers(12, 20))
            hours.append(OpeningHours(weekday, dt.time(opens), dt.time(closes)))
    closed = draw(
        st.sets(
            st.integers(0, HORIZON_DAYS).map(lambda n: FIRST_DAY + dt.timedelta(days=n)), max_size=4
        )
    )
    return SiteSchedule(
        site="MIA",
        chairs=tuple(f"MIA-{n}" for n in range(1, chair_count + 1)),
        hours=tuple(hours),
        closed_dates=frozenset(closed),
        slot_min=draw(st.sampled_from([5, 10, 15, 30, 60])),
    )


@st.composite
def existing_bookings(draw: st.DrawFn, schedule: SiteSchedule) -> list[Booking]:
    """Valid bookings only: each candidate is kept if the site could have accepted it."""
    kept: list[Booking] = []
    for _ in range(draw(st.integers(0, 30))):
        day = FIRST_DAY + dt.timedelta(days=draw(st.integers(0, HORIZON_DAYS)))
        start = dt.datetime.combine(
            day, dt.time(draw(st.integers(6, 19)), draw(st.sampled_from([0, 10, 25, 40])))
        )
        end = start + dt.timedelta(minutes=draw(st.integers(15, 300)))
        if end.date() != day:
            continue
        candidate = Booking(draw(st.sampled_from(schedule.chairs)), start, end)
        try:
            check_booking(schedule, kept, candidate)
        except KetaclinicError:
            continue
        kept.append(candidate)
    return kept


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[SiteSchedule, list[Booking], Protocol, dt.date]:
    schedule = draw(schedules())
    bookings = draw(existing_bookings(schedule))
    protocol = draw(st.sampled_from(list(BUILTIN_PROTOCOLS.values())))
    start = FIRST_DAY + dt.timedelta(days=draw(st.integers(0, 6)))
    return schedule, bookings, protocol, start


def assert_no_double_booking(bookings: list[Booking]) -> None:
    for i, first in enumerate(bookings):
        for second in bookings[i + 1 :]:
            assert not first.overlaps(second), (first, second)


@given(scenarios())
def test_booking_a_series_never_double_books_and_stays_in_hours(
    scenario: tuple[SiteSchedule, list[Booking], Protocol, dt.date],
) -> None:
    schedule, bookings, protocol, start = scenario
    result = book_series(schedule, bookings, protocol, start)
    assert_no_double_booking([*bookings, *result.visits])
    for visit in result.visits:
        assert visit.chair_id in schedule.chairs
        assert outside_hours_reason(schedule, visit.start, visit.end) is None
        assert visit.end - visit.start == dt.timedelta(minutes=protocol.chair_min)


@given(scenarios())
def test_a_series_is_booked_on_its_planned_dates_and_keeps_the_spacing(
    scenario: tuple[SiteSchedule, list[Booking], Protocol, dt.date],
) -> None:
    schedule, bookings, protocol, start = scenario
    result = book_series(schedule, bookings, protocol, start)
    planned = plan(protocol, start)
    assert list(result.planned_dates) == planned
    booked = [visit.day for visit in result.visits]
    missing = [problem.day for problem in result.problems]
    assert sorted(booked + missing) == planned
    assert booked == sorted(booked)
    assert spacing_problem(protocol, planned) is None
    assert spacing_problem(protocol, booked) is None


@given(scenarios())
def test_a_reported_problem_day_really_has_no_free_slot(
    scenario: tuple[SiteSchedule, list[Booking], Protocol, dt.date],
) -> None:
    schedule, bookings, protocol, start = scenario
    result = book_series(schedule, bookings, protocol, start)
    taken = [*bookings, *result.visits]
    for problem in result.problems:
        assert earliest_slot(schedule, taken, problem.day, protocol.chair_min) is None
        assert problem.reason


def attempt_reschedule(
    schedule: SiteSchedule,
    bookings: list[Booking],
    protocol: Protocol,
    series: tuple[Booking, ...],
    index: int,
    new_day: dt.date,
    new_time: dt.time | None,
) -> tuple[Booking, ...] | KetaclinicError:
    try:
        return reschedule_visit(schedule, bookings, protocol, series, index, new_day, at=new_time)
    except KetaclinicError as error:
        return error


@given(
    scenarios(),
    st.data(),
    st.integers(-4, 4),
    st.one_of(st.none(), st.builds(dt.time, st.integers(6, 19), st.sampled_from([0, 15, 30, 45]))),
)
def test_rescheduling_either_keeps_the_series_valid_or_refuses(
    scenario: tuple[SiteSchedule, list[Booking], Protocol, dt.date],
    data: st.DataObject,
    shift_days: int,
    new_time: dt.time | None,
) -> None:
    schedule, bookings, protocol, start = scenario
    result = book_series(schedule, bookings, protocol, start)
    assume(result.complete)
    series = result.visits
    index = data.draw(st.integers(0, len(series) - 1))
    new_day = series[index].day + dt.timedelta(days=shift_days)
    everything = [*bookings, *series]
    moved = attempt_reschedule(schedule, everything, protocol, series, index, new_day, new_time)
    if isinstance(moved, KetaclinicError):
        assert moved.message  # refused, and says why
        return
    assert [b for i, b in enumerate(moved) if i != index] == [
        b for i, b in enumerate(series) if i != index
    ]
    assert moved[index].day == new_day
    assert spacing_problem(protocol, [visit.day for visit in moved]) is None
    assert outside_hours_reason(schedule, moved[index].start, moved[index].end) is None
    others = [b for b in everything if b != series[index]]
    assert all(not moved[index].overlaps(b) for b in others)
