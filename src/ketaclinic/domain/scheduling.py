"""Chair scheduling: where and when each infusion of a series sits.

Pure functions over a site's opening hours, its chairs and the bookings already made. Times are
naive local times of the site (a booking's ``start`` and ``end`` are naive datetimes on one date);
converting to and from UTC is the caller's job. A visit keeps a chair for setup + infusion +
observation minutes (:attr:`~ketaclinic.domain.protocols.Protocol.chair_min`).

Rules (design):

- a chair holds one visit at a time; back-to-back visits (one ends as the next starts) are fine;
- a visit starts and ends within the site's opening hours of its date, never on a closed date;
- searches try start times from opening time in steps of ``slot_min``, earliest first, then
  chairs in the site's order;
- a series is booked on exactly the dates :func:`~ketaclinic.domain.protocols.plan` gives, so
  its spacing is the protocol's; a date without a free slot is reported with the reason, never
  silently shifted. Moving one visit (:func:`reschedule_visit`) is checked against the protocol's
  spacing, the hours and the other bookings;
- :func:`earliest_series` searches, on request, for the earliest series that fits: each visit on
  or after its planned date, at least ``gap_days`` after the one before, all within the
  protocol's window, trying later first days (on the protocol's weekdays) up to
  ``SEARCH_DAYS`` after the requested start.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from ketaclinic.domain.errors import Conflict, InvalidInput
from ketaclinic.domain.protocols import Protocol, plan, spacing_problem

SLOT_MIN_RANGE = (5, 120)  # design: coarser than 2 h or finer than 5 min helps nobody
# design: how many days after the requested start :func:`earliest_series` tries first days
SEARCH_DAYS = 56
SEARCH_DAYS_RANGE = (0, 366)
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True, slots=True)
class OpeningHours:
    """The hours a site is open on one weekday (0 = Monday), as naive local times."""

    weekday: int
    opens: dt.time
    closes: dt.time

    def __post_init__(self) -> None:
        if not (0 <= self.weekday <= 6):
            raise InvalidInput.for_field("weekday", self.weekday, "0 (Mon)–6 (Sun)")
        if self.opens.tzinfo is not None or self.closes.tzinfo is not None:
            raise InvalidInput.for_field("opens", self.opens.isoformat(), "a naive local time")
        if self.closes <= self.opens:
            raise InvalidInput.for_field(
                "closes", _hm(self.closes), f"a time after opening ({_hm(self.opens)})"
            )

    @property
    def minutes(self) -> int:
        return _minutes(self.closes) - _minutes(self.opens)

    def describe(self) -> str:
        return f"{_hm(self.opens)}–{_hm(self.closes)} on {DAY_NAMES[self.weekday]}s"


@dataclass(frozen=True, slots=True)
class SiteSchedule:
    """What scheduling needs to know about a site: its chairs (ids in search order), opening
    hours per weekday (a weekday without an entry is closed), closed dates and the search step.

    Raises :class:`InvalidInput` for an empty site, no chairs, a repeated chair or weekday, or a
    step outside 5–120 minutes.
    """

    site: str
    chairs: tuple[str, ...]
    hours: tuple[OpeningHours, ...]
    closed_dates: frozenset[dt.date] = frozenset()
    slot_min: int = 15

    def __post_init__(self) -> None:
        if not self.site.strip():
            raise InvalidInput.for_field("site", self.site, "a site code")
        if not self.chairs:
            raise InvalidInput.for_field("chairs", [], "at least one chair")
        for index, chair in enumerate(self.chairs):
            if not chair.strip() or chair in self.chairs[:index]:
                raise InvalidInput.for_field(f"chairs[{index}]", chair, "a distinct chair id")
        seen: set[int] = set()
        for index, entry in enumerate(self.hours):
            if entry.weekday in seen:
                raise InvalidInput.for_field(
                    f"hours[{index}]", DAY_NAMES[entry.weekday], "one entry per weekday"
                )
            seen.add(entry.weekday)
        low, high = SLOT_MIN_RANGE
        if isinstance(self.slot_min, bool) or not (low <= self.slot_min <= high):
            raise InvalidInput.for_field("slot_min", self.slot_min, f"{low}–{high} minutes")

    def hours_on(self, day: dt.date) -> OpeningHours | None:
        """The opening hours of ``day``, or ``None`` when the site is closed that day."""
        if day in self.closed_dates:
            return None
        return next((h for h in self.hours if h.weekday == day.weekday()), None)


@dataclass(frozen=True, slots=True)
class Booking:
    """A chair held from ``start`` to ``end`` (naive local datetimes on the same date).

    ``ref`` is an opaque internal reference (appointment or series id) for messages; never a
    patient's name or MRN.
    """

    chair_id: str
    start: dt.datetime
    end: dt.datetime
    ref: str = ""

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise InvalidInput.for_field("start", self.start.isoformat(), "a naive local time")
        if self.end <= self.start:
            raise InvalidInput.for_field(
                "end", self.end.isoformat(), f"a time after start ({self.start.isoformat()})"
            )
        if self.end.date() != self.start.date():
            raise InvalidInput.for_field(
                "end", self.end.isoformat(), f"the same date as start ({self.start.date()})"
            )

    @property
    def day(self) -> dt.date:
        return self.start.date()

    def overlaps(self, other: Booking) -> bool:
        """Same chair and the time ranges share more than an instant."""
        return self.chair_id == other.chair_id and self.start < other.end and other.start < self.end

    def describe(self) -> str:
        label = f" ({self.ref})" if self.ref else ""
        return (
            f"chair {self.chair_id} {self.day.isoformat()} "
            f"{_hm(self.start.time())}–{_hm(self.end.time())}{label}"
        )


@dataclass(frozen=True, slots=True)
class DayProblem:
    """A planned date on which no visit could be booked, and why."""

    day: dt.date
    reason: str


@dataclass(frozen=True, slots=True)
class SeriesBooking:
    """The outcome of booking a series: the visits found, in date order, and the planned dates
    that had no slot. Nothing is stored; the caller saves the visits only when complete."""

    protocol_id: str
    planned_dates: tuple[dt.date, ...]
    visits: tuple[Booking, ...]
    problems: tuple[DayProblem, ...]

    @property
    def complete(self) -> bool:
        return not self.problems

    def require_complete(self) -> tuple[Booking, ...]:
        """The visits, or :class:`Conflict` naming every date that had no slot and why."""
        if self.problems:
            detail = "; ".join(f"{p.day.isoformat()}: {p.reason}" for p in self.problems)
            raise Conflict(
                f"series: {len(self.problems)} planned date(s) of {self.protocol_id} have no "
                f"free chair: {detail}",
                field="start_date",
            )
        return self.visits


def outside_hours_reason(
    schedule: SiteSchedule, start: dt.datetime, end: dt.datetime
) -> str | None:
    """Why a visit from ``start`` to ``end`` falls outside the site's hours, or ``None``."""
    day = start.date()
    if day in schedule.closed_dates:
        return f"site {schedule.site} is closed on {day.isoformat()}"
    hours = schedule.hours_on(day)
    if hours is None:
        return f"site {schedule.site} is closed on {DAY_NAMES[day.weekday()]}s"
    if end.date() != day or start.time() < hours.opens or end.time() > hours.closes:
        return (
            f"site {schedule.site} is open {hours.describe()}; the visit would run "
            f"{_hm(start.time())}–{_hm(end.time())}"
        )
    return None


def find_conflict(bookings: Iterable[Booking], candidate: Booking) -> Booking | None:
    """The first existing booking that holds the candidate's chair at an overlapping time."""
    return next((b for b in bookings if b.overlaps(candidate)), None)


def check_booking(schedule: SiteSchedule, bookings: Iterable[Booking], candidate: Booking) -> None:
    """Refuse a booking that the site cannot take.

    Raises:
        InvalidInput: unknown chair, or the visit falls outside opening hours (the message says
            the hours and the visit's times).
        Conflict: the chair is already booked then (the message names the booking).
    """
    _check_chair(schedule, candidate.chair_id)
    _check_hours(schedule, candidate)
    clash = find_conflict(bookings, candidate)
    if clash is not None:
        raise Conflict(
            f"chair_id: {candidate.describe()} overlaps {clash.describe()}", field="chair_id"
        )


def _check_chair(schedule: SiteSchedule, chair_id: str) -> None:
    if chair_id not in schedule.chairs:
        raise InvalidInput.for_field(
            "chair_id",
            chair_id,
            f"one of the chairs of {schedule.site}: {', '.join(schedule.chairs)}",
        )


def _check_hours(schedule: SiteSchedule, candidate: Booking) -> None:
    reason = outside_hours_reason(schedule, candidate.start, candidate.end)
    if reason is not None:
        raise InvalidInput.for_field(
            "start", candidate.start.isoformat(timespec="minutes"), f"a time within hours: {reason}"
        )


def earliest_slot(
    schedule: SiteSchedule,
    bookings: Iterable[Booking],
    day: dt.date,
    duration_min: int,
    *,
    not_before: dt.time | None = None,
    chair_id: str | None = None,
    ref: str = "",
) -> Booking | None:
    """The earliest free visit of ``duration_min`` minutes on ``day``, or ``None``.

    Start times run from opening time in steps of ``schedule.slot_min`` (from ``not_before``
    when given, rounded up to the step); at each time the chairs are tried in the site's order,
    or only ``chair_id`` when given.
    """
    if duration_min < 1:
        raise InvalidInput.for_field("duration_min", duration_min, "at least 1 minute")
    if chair_id is not None:
        _check_chair(schedule, chair_id)
    hours = schedule.hours_on(day)
    if hours is None:
        return None
    same_day = [b for b in bookings if b.day == day]
    chairs = schedule.chairs if chair_id is None else (chair_id,)
    first = _minutes(hours.opens)
    if not_before is not None and _minutes(not_before) > first:
        steps = -(-(_minutes(not_before) - first) // schedule.slot_min)  # ceiling division
        first += steps * schedule.slot_min
    opening = dt.datetime.combine(day, dt.time())
    for start_min in range(first, _minutes(hours.closes) - duration_min + 1, schedule.slot_min):
        start = opening + dt.timedelta(minutes=start_min)
        end = start + dt.timedelta(minutes=duration_min)
        for chair in chairs:
            candidate = Booking(chair, start, end, ref)
            if find_conflict(same_day, candidate) is None:
                return candidate
    return None


def no_slot_reason(schedule: SiteSchedule, day: dt.date, duration_min: int) -> str:
    """Why :func:`earliest_slot` found nothing on ``day`` for a visit of ``duration_min``."""
    if day in schedule.closed_dates:
        return f"site {schedule.site} is closed on {day.isoformat()}"
    hours = schedule.hours_on(day)
    if hours is None:
        return f"site {schedule.site} is closed on {DAY_NAMES[day.weekday()]}s"
    if duration_min > hours.minutes:
        return (
            f"a visit keeps a chair {duration_min} min but the site is open "
            f"{hours.describe()} ({hours.minutes} min)"
        )
    return (
        f"every chair ({len(schedule.chairs)}) is booked: no free {duration_min}-min stretch "
        f"{hours.describe()}"
    )


def book_series(
    schedule: SiteSchedule,
    bookings: Iterable[Booking],
    protocol: Protocol,
    start_date: dt.date,
    *,
    ref: str = "",
) -> SeriesBooking:
    """Book every infusion of a series on the protocol's planned dates.

    Each planned date gets its earliest free slot on any chair (visits of the same series count
    as bookings too). Dates without a slot are returned in ``problems`` with the reason; the
    other visits are still proposed so the caller can show what worked.
    """
    taken = list(bookings)
    planned = plan(protocol, start_date)
    visits: list[Booking] = []
    problems: list[DayProblem] = []
    for day in planned:
        slot = earliest_slot(schedule, taken, day, protocol.chair_min, ref=ref)
        if slot is None:
            problems.append(DayProblem(day, no_slot_reason(schedule, day, protocol.chair_min)))
            continue
        visits.append(slot)
        taken.append(slot)
    return SeriesBooking(protocol.id, tuple(planned), tuple(visits), tuple(problems))


@dataclass(frozen=True, slots=True)
class SeriesSearch:
    """The outcome of :func:`earliest_series`: the earliest feasible visits (empty when none
    starts within the searched days) and the last first day that was tried."""

    protocol_id: str
    requested: dt.date
    searched_until: dt.date
    visits: tuple[Booking, ...]

    @property
    def found(self) -> bool:
        return bool(self.visits)

    @property
    def first_day(self) -> dt.date | None:
        return self.visits[0].day if self.visits else None

    def describe(self) -> str:
        """``2026-12-02 08:00 MIA-1, 2026-12-04 08:00 MIA-2, …`` or why nothing was found."""
        if not self.visits:
            return (
                f"no series of {self.protocol_id} fits with a first day from "
                f"{self.requested.isoformat()} to {self.searched_until.isoformat()}"
            )
        return ", ".join(
            f"{v.day.isoformat()} {_hm(v.start.time())} {v.chair_id}" for v in self.visits
        )


def earliest_series(
    schedule: SiteSchedule,
    bookings: Iterable[Booking],
    protocol: Protocol,
    start_date: dt.date,
    *,
    blocked_dates: Iterable[dt.date] = (),
    search_days: int = SEARCH_DAYS,
    ref: str = "",
) -> SeriesSearch:
    """The earliest feasible series from ``start_date`` on.

    First days are tried in date order from ``start_date`` to ``start_date + search_days``
    (with a weekday rhythm only the protocol's weekdays). For a first day ``d``, visit ``i``
    goes on the earliest day with a free slot that is on or after its planned date
    (``plan(protocol, d)[i]``), at least ``protocol.gap_days`` after the visit before, and
    fewer than ``protocol.window_days`` days after ``d``; on that day it takes the earliest
    slot (:func:`earliest_slot`). ``blocked_dates`` are days the patient cannot come (their
    other visits). The first first day for which every visit fits wins: no feasible series
    starts earlier, and within it each visit is as early as the ones before it allow.
    """
    low, high = SEARCH_DAYS_RANGE
    if isinstance(search_days, bool) or not (low <= search_days <= high):
        raise InvalidInput.for_field("search_days", search_days, f"{low}–{high} days")
    blocked = frozenset(blocked_dates)
    by_day: dict[dt.date, list[Booking]] = {}
    for booking in bookings:
        by_day.setdefault(booking.day, []).append(booking)
    found: dict[dt.date, Booking | None] = {}

    def slot(day: dt.date) -> Booking | None:
        if day not in found:
            found[day] = (
                None
                if day in blocked
                else earliest_slot(schedule, by_day.get(day, ()), day, protocol.chair_min, ref=ref)
            )
        return found[day]

    last = start_date + dt.timedelta(days=search_days)
    first = start_date
    while first <= last:
        if not protocol.weekdays or first.weekday() in protocol.weekdays:
            visits = _fit_series(protocol, first, slot)
            if visits:
                return SeriesSearch(protocol.id, start_date, last, visits)
        first += dt.timedelta(days=1)
    return SeriesSearch(protocol.id, start_date, last, ())


def _fit_series(
    protocol: Protocol, first: dt.date, slot: Callable[[dt.date], Booking | None]
) -> tuple[Booking, ...]:
    """The greedy series from ``first`` (see :func:`earliest_series`), or ``()``."""
    deadline = first + dt.timedelta(days=protocol.window_days - 1)
    gap = dt.timedelta(days=protocol.gap_days)
    visits: list[Booking] = []
    for target in plan(protocol, first):
        if not visits:
            chosen = slot(target)  # the first visit is on its first day or not at all
        else:
            day, chosen = max(target, visits[-1].day + gap), None
            while chosen is None and day <= deadline:
                chosen = slot(day)
                day += dt.timedelta(days=1)
        if chosen is None:
            return ()
        visits.append(chosen)
    return tuple(visits)


def reschedule_visit(
    schedule: SiteSchedule,
    bookings: Iterable[Booking],
    protocol: Protocol,
    series: Sequence[Booking],
    index: int,
    new_day: dt.date,
    *,
    at: dt.time | None = None,
    chair_id: str | None = None,
) -> tuple[Booking, ...]:
    """Move visit ``index`` (0-based, in date order) of ``series`` to ``new_day``.

    With ``at`` the visit starts exactly then (on ``chair_id`` or the first free chair); without
    it, the earliest free slot of the day. ``bookings`` are the site's other bookings; the moved
    visit's old slot is released. Returns the whole series with the visit replaced.

    Raises:
        InvalidInput: ``index`` out of range; the new date breaks the protocol's order or
            spacing (the message says which visits and why); the time is outside hours; an
            unknown chair.
        Conflict: no free chair at the requested time, or no free slot that day.
    """
    if not (0 <= index < len(series)):
        raise InvalidInput.for_field("index", index, f"a visit number 0–{len(series) - 1}")
    if chair_id is not None:
        _check_chair(schedule, chair_id)
    old = series[index]
    dates = [visit.day for visit in series]
    dates[index] = new_day
    problem = spacing_problem(protocol, dates)
    if problem is not None:
        raise InvalidInput.for_field(
            "new_day", new_day.isoformat(), f"a date that keeps the series valid ({problem})"
        )
    # dict.fromkeys drops duplicates and keeps order, so messages name the same clash each run.
    others = [b for b in dict.fromkeys([*bookings, *series]) if b != old]
    duration = dt.timedelta(minutes=protocol.chair_min)
    if at is None:
        slot = earliest_slot(
            schedule, others, new_day, protocol.chair_min, chair_id=chair_id, ref=old.ref
        )
        if slot is None:
            reason = no_slot_reason(schedule, new_day, protocol.chair_min)
            hours = schedule.hours_on(new_day)
            if chair_id is not None and hours is not None and protocol.chair_min <= hours.minutes:
                reason = f"chair {chair_id} has no free {protocol.chair_min}-min stretch"
            raise Conflict(
                f"new_day: got {new_day.isoformat()}, expected a day with a free chair ({reason})",
                field="new_day",
            )
        return _replaced(series, index, slot)
    start = dt.datetime.combine(new_day, at)
    chairs = schedule.chairs if chair_id is None else (chair_id,)
    candidates = [Booking(chair, start, start + duration, old.ref) for chair in chairs]
    outside = outside_hours_reason(schedule, candidates[0].start, candidates[0].end)
    if outside is not None:  # the request names the time "at"
        raise InvalidInput.for_field("at", _hm(at), f"a start time within hours: {outside}")
    for candidate in candidates:
        if find_conflict(others, candidate) is None:
            return _replaced(series, index, candidate)
    if chair_id is not None:
        check_booking(schedule, others, candidates[0])  # raises the Conflict naming the clash
    raise Conflict(
        f"at: every chair of {schedule.site} is booked at {new_day.isoformat()} {_hm(at)} "
        f"for {protocol.chair_min} min",
        field="at",
    )


def _replaced(series: Sequence[Booking], index: int, visit: Booking) -> tuple[Booking, ...]:
    return tuple(visit if i == index else b for i, b in enumerate(series))


def _minutes(time: dt.time) -> int:
    return time.hour * 60 + time.minute


def _hm(time: dt.time) -> str:
    return time.strftime("%H:%M")
