"""Properties of the self-report schedule (services/mbc_schedule.plan_slots) for any booked
series, settings and time zone: no slot twice, one before-infusion slot per visit, weekly slots
exactly seven local days apart at the same local time, never past the next series."""

from __future__ import annotations

import datetime as dt
import itertools
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from ketaclinic.services.intake_models import Series, Visit
from ketaclinic.services.mbc_model import ScheduleSettings, SlotKind
from ketaclinic.services.mbc_schedule import WEEKLY_SEND_TIME, plan_slots

ZONES = ("America/New_York", "Europe/London", "Australia/Sydney", "UTC")
START = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
INSTRUMENTS = st.lists(
    st.sampled_from(["pcl5", "pcl5-week", "phq9", "gad7", "who5"]), unique=True, max_size=3
).map(tuple)

settings = st.builds(
    ScheduleSettings,
    protocol_id=st.just("p"),
    before_infusion=INSTRUMENTS,
    before_hours=st.integers(1, 168),
    after_series=INSTRUMENTS,
    after_weeks=st.integers(0, 26),
)


@st.composite
def bookings(draw) -> tuple[str, list[Series]]:
    """1–3 series of 1–8 visits each, visits at least a day apart inside a series, at local
    times between 07:00 and 18:00; series may overlap in time."""
    timezone = draw(st.sampled_from(ZONES))
    zone = ZoneInfo(timezone)
    made: list[Series] = []
    next_visit_id = 1
    for series_id in range(1, draw(st.integers(1, 3)) + 1):
        day = draw(st.integers(0, 360))
        visits = []
        for number in range(1, draw(st.integers(1, 8)) + 1):
            local_day = (START + dt.timedelta(days=day)).date()
            at = dt.datetime.combine(
                local_day,
                dt.time(draw(st.integers(7, 18)), draw(st.sampled_from([0, 15, 30]))),
                zone,
            ).astimezone(dt.UTC)
            visits.append(
                Visit(
                    next_visit_id,
                    series_id,
                    1,
                    1,
                    1,
                    number,
                    at,
                    at + dt.timedelta(minutes=draw(st.integers(60, 300))),
                    local_day,
                )
            )
            next_visit_id += 1
            day += draw(st.integers(1, 14))
        protocol = f"p{series_id % 2}"
        made.append(Series(series_id, 1, 1, 1, protocol, 1, START, tuple(visits)))
    return timezone, made


@given(bookings(), settings, settings)
def test_slots_are_unique_per_visit_and_weekly_spacing_is_kept(booked, even, odd) -> None:
    timezone, series = booked
    zone = ZoneInfo(timezone)
    chosen = {"p0": even, "p1": odd}
    slots = plan_slots(series, lambda pid: chosen[pid], timezone)
    keys = [s.key for s in slots]
    assert len(keys) == len(set(keys)), "a slot appears twice"
    assert [s.opens_at for s in slots] == sorted(s.opens_at for s in slots)
    for one in series:
        rule = chosen[one.protocol_id]
        before = [s for s in slots if s.series_id == one.id and s.kind is SlotKind.BEFORE_INFUSION]
        if rule.before_infusion:
            assert sorted(s.visit_id for s in before) == sorted(v.id for v in one.visits)
            for slot in before:
                visit = next(v for v in one.visits if v.id == slot.visit_id)
                assert slot.due_at == visit.starts_at
                assert slot.due_at - slot.opens_at == dt.timedelta(hours=rule.before_hours)
                assert slot.expires_at == visit.ends_at
        else:
            assert before == []
        weekly = sorted(
            (s for s in slots if s.series_id == one.id and s.kind is SlotKind.AFTER_SERIES),
            key=lambda s: s.week or 0,
        )
        if not (rule.after_series and rule.after_weeks):
            assert weekly == []
            continue
        last_day = max(v.local_day for v in one.visits)
        later_starts = [s.first_day for s in series if s.first_day and s.first_day > last_day]
        stop = min(later_starts, default=None)
        expected_weeks = [
            w
            for w in range(1, rule.after_weeks + 1)
            if stop is None or last_day + dt.timedelta(weeks=w) < stop
        ]
        # Weeks are dropped only from the end (at the next series), never in between.
        assert [s.week for s in weekly] == expected_weeks[: len(weekly)]
        assert len(weekly) == len(expected_weeks)
        for slot in weekly:
            assert slot.local_day == last_day + dt.timedelta(weeks=slot.week or 0)
            assert slot.opens_at.astimezone(zone).time() == WEEKLY_SEND_TIME
            assert slot.opens_at.astimezone(zone).date() == slot.local_day
            assert slot.opens_at < slot.due_at == slot.expires_at
        for earlier, later in itertools.pairwise(weekly):
            assert (later.local_day - earlier.local_day).days == 7
