"""Properties of the earliest-series search (domain/scheduling.earliest_series) on generated
small sites: what it finds is feasible (within hours, no double booking, the protocol's spacing
kept, nothing on a blocked day), and a brute force over every combination of days finds no
series with an earlier first day, nor an earlier one with the same first day."""

from __future__ import annotations

import datetime as dt
import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from ketaclinic.domain.errors import KetaclinicError
from ketaclinic.domain.protocols import Protocol, plan, spacing_problem
from ketaclinic.domain.provenance import design
from ketaclinic.domain.scheduling import (
    Booking,
    OpeningHours,
    SiteSchedule,
    book_series,
    check_booking,
    earliest_series,
    outside_hours_reason,
)

FIRST_DAY = dt.date(2026, 11, 30)  # a Monday
SEARCH = 9  # small enough for the brute force
HORIZON = SEARCH + 21  # the longest window below is 3 weeks


@st.composite
def protocols(draw: st.DrawFn) -> Protocol:
    """Short series (2–3 visits) with a weekday rhythm or a fixed interval, sometimes with a
    shorter minimum gap than the rhythm; chair time 70–100 min."""
    count = draw(st.integers(2, 3))
    observation = draw(st.sampled_from([30, 60]))
    if draw(st.booleans()):
        weekdays = tuple(sorted(draw(st.sets(st.integers(0, 6), min_size=2, max_size=4))))
        rhythm: dict[str, object] = {"weekdays": weekdays}
        natural = min(
            (weekdays[(i + 1) % len(weekdays)] - d) % 7 or 7 for i, d in enumerate(weekdays)
        )
    else:
        natural = draw(st.integers(1, 4))
        rhythm = {"spacing_days": natural}
    min_gap = draw(st.one_of(st.none(), st.integers(1, natural)))
    weeks = draw(st.integers(1, 3))
    try:
        return Protocol(
            id="small",
            name="small",
            infusion_count=count,
            duration_weeks=weeks,
            dose_mg_per_kg=0.5,
            infusion_min=40,
            observation_min=observation,
            setup_min=0,
            min_gap_days=min_gap,
            source=design("test"),
            **rhythm,  # type: ignore[arg-type]
        )
    except KetaclinicError:
        # the rhythm does not fit the weeks: take the roomiest window instead
        return Protocol(
            id="small",
            name="small",
            infusion_count=count,
            duration_weeks=3,
            dose_mg_per_kg=0.5,
            infusion_min=40,
            observation_min=observation,
            setup_min=0,
            min_gap_days=min_gap,
            source=design("test"),
            **rhythm,  # type: ignore[arg-type]
        )


@st.composite
def scenarios(
    draw: st.DrawFn,
) -> tuple[SiteSchedule, list[Booking], Protocol, dt.date, frozenset[dt.date]]:
    chairs = tuple(f"C{n}" for n in range(1, draw(st.integers(1, 2)) + 1))
    hours = [
        OpeningHours(weekday, dt.time(8), dt.time(draw(st.sampled_from([9, 10, 11]))))
        for weekday in range(7)
        if draw(st.integers(0, 3)) > 0
    ]
    closed = draw(st.sets(st.integers(0, HORIZON).map(lambda n: FIRST_DAY + dt.timedelta(n))))
    schedule = SiteSchedule(
        "MIA", chairs, tuple(hours), closed_dates=frozenset(closed), slot_min=30
    )
    kept: list[Booking] = []
    for _ in range(draw(st.integers(0, 40))):
        day = FIRST_DAY + dt.timedelta(days=draw(st.integers(0, HORIZON)))
        begin = dt.datetime.combine(day, dt.time(8, draw(st.sampled_from([0, 30]))))
        end = begin + dt.timedelta(minutes=draw(st.sampled_from([30, 60, 90, 150])))
        candidate = Booking(draw(st.sampled_from(chairs)), begin, end)
        try:
            check_booking(schedule, kept, candidate)
        except KetaclinicError:
            continue
        kept.append(candidate)
    protocol = draw(protocols())
    start = FIRST_DAY + dt.timedelta(days=draw(st.integers(0, 6)))
    blocked = draw(st.sets(st.integers(0, HORIZON).map(lambda n: FIRST_DAY + dt.timedelta(n))))
    return schedule, kept, protocol, start, frozenset(blocked)


def has_free_slot(
    schedule: SiteSchedule, bookings: list[Booking], day: dt.date, minutes: int
) -> bool:
    """Brute force: any start time in steps of the slot, on any chair, that the site takes."""
    length = dt.timedelta(minutes=minutes)
    midnight = dt.datetime.combine(day, dt.time())
    for step in range(0, 24 * 60, schedule.slot_min):
        start = midnight + dt.timedelta(minutes=step)
        if (start + length).date() != day:
            break
        for chair in schedule.chairs:
            try:
                check_booking(schedule, bookings, Booking(chair, start, start + length))
            except KetaclinicError:
                continue
            return True
    return False


def feasible_series(
    schedule: SiteSchedule,
    bookings: list[Booking],
    protocol: Protocol,
    start: dt.date,
    blocked: frozenset[dt.date],
) -> list[tuple[dt.date, ...]]:
    """Every feasible tuple of visit days, by enumeration: the first day on a protocol weekday
    (any day for an interval rhythm) within the search, each later visit on or after its
    planned date, the spacing kept, every day free and not blocked."""
    free: dict[dt.date, bool] = {}

    def ok(day: dt.date) -> bool:
        if day not in free:
            free[day] = day not in blocked and has_free_slot(
                schedule, bookings, day, protocol.chair_min
            )
        return free[day]

    found = []
    for offset in range(SEARCH + 1):
        first = start + dt.timedelta(days=offset)
        if protocol.weekdays and first.weekday() not in protocol.weekdays:
            continue
        if not ok(first):
            continue
        targets = plan(protocol, first)
        later_days = [first + dt.timedelta(days=n) for n in range(1, protocol.window_days)]
        for rest in itertools.combinations(later_days, protocol.infusion_count - 1):
            days = (first, *rest)
            if any(day < target for day, target in zip(days, targets, strict=True)):
                continue
            if spacing_problem(protocol, days) is None and all(ok(day) for day in rest):
                found.append(days)
    return found


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_the_earliest_series_is_feasible_and_nothing_feasible_is_earlier(
    scenario: tuple[SiteSchedule, list[Booking], Protocol, dt.date, frozenset[dt.date]],
) -> None:
    schedule, bookings, protocol, start, blocked = scenario
    result = earliest_series(
        schedule, bookings, protocol, start, blocked_dates=blocked, search_days=SEARCH
    )
    everything = feasible_series(schedule, bookings, protocol, start, blocked)
    if not result.found:
        assert everything == [], everything[:1]
        return
    visits = result.visits
    days = [visit.day for visit in visits]
    # feasible
    assert len(visits) == protocol.infusion_count
    assert spacing_problem(protocol, days) is None
    assert start <= days[0] <= start + dt.timedelta(days=SEARCH)
    for visit, target in zip(visits, plan(protocol, days[0]), strict=True):
        assert visit.day >= target
        assert visit.day not in blocked
        assert visit.chair_id in schedule.chairs
        assert outside_hours_reason(schedule, visit.start, visit.end) is None
        assert visit.end - visit.start == dt.timedelta(minutes=protocol.chair_min)
    taken = [*bookings, *visits]
    for i, first in enumerate(taken):
        for second in taken[i + 1 :]:
            assert not first.overlaps(second), (first, second)
    # earliest: no feasible series starts earlier, nor is earlier with the same first day
    assert tuple(days) in everything
    assert tuple(days) == min(everything)


@settings(max_examples=100, deadline=None)
@given(scenarios())
def test_when_the_planned_dates_fit_the_search_books_exactly_them(
    scenario: tuple[SiteSchedule, list[Booking], Protocol, dt.date, frozenset[dt.date]],
) -> None:
    schedule, bookings, protocol, start, _ = scenario
    planned = book_series(schedule, bookings, protocol, start)
    if not planned.complete:
        return
    result = earliest_series(schedule, bookings, protocol, start, search_days=SEARCH)
    assert result.visits == planned.visits
