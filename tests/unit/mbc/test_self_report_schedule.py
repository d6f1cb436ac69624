"""Self-report slots from booked series (services/mbc_schedule.py): before each infusion and
weekly after a series, per protocol settings, in the site's time zone."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from ketaclinic.domain.errors import InvalidInput
from ketaclinic.services.intake_models import Series, Visit
from ketaclinic.services.mbc_model import ScheduleSettings, SlotKind
from ketaclinic.services.mbc_schedule import (
    check_settings,
    default_settings,
    plan_slots,
)

MIAMI = ZoneInfo("America/New_York")
ALLOWED = ["pcl5", "pcl5-week", "phq9", "gad7", "who5"]


def local(y: int, m: int, d: int, h: int = 10) -> dt.datetime:
    return dt.datetime(y, m, d, h, tzinfo=MIAMI).astimezone(dt.UTC)


def series(series_id: int, protocol: str, starts: list[dt.datetime], first_visit_id: int) -> Series:
    visits = tuple(
        Visit(
            id=first_visit_id + n,
            series_id=series_id,
            patient_id=1,
            site_id=1,
            chair_id=1,
            number=n + 1,
            starts_at=at,
            ends_at=at + dt.timedelta(hours=2, minutes=30),
            local_day=at.astimezone(MIAMI).date(),
        )
        for n, at in enumerate(starts)
    )
    return Series(series_id, 1, 1, 1, protocol, 1, starts[0] - dt.timedelta(days=7), visits)


FEDER = [local(2026, 11, 2), local(2026, 11, 4), local(2026, 11, 6)]


def test_the_default_asks_before_each_infusion_and_weekly_after() -> None:
    slots = plan_slots([series(7, "feder-2021", FEDER, 100)], default_settings, "America/New_York")
    before = [s for s in slots if s.kind is SlotKind.BEFORE_INFUSION]
    weekly = [s for s in slots if s.kind is SlotKind.AFTER_SERIES]
    assert [s.key for s in before] == ["visit-100", "visit-101", "visit-102"]
    first = before[0]
    assert first.instruments == ("pcl5", "phq9")
    assert first.opens_at == FEDER[0] - dt.timedelta(hours=48)
    assert first.due_at == FEDER[0]
    assert first.expires_at == FEDER[0] + dt.timedelta(hours=2, minutes=30)
    assert [s.key for s in weekly] == [f"series-7-week-{n}" for n in range(1, 5)]
    assert all(s.instruments == ("pcl5",) for s in weekly)
    # 7, 14, 21, 28 days after the last visit (6 Nov), at 09:00 in Miami, due three days on.
    assert [s.local_day for s in weekly] == [
        dt.date(2026, 11, 13),
        dt.date(2026, 11, 20),
        dt.date(2026, 11, 27),
        dt.date(2026, 12, 4),
    ]
    assert {s.opens_at.astimezone(MIAMI).time() for s in weekly} == {dt.time(9)}
    assert all(s.due_at - s.opens_at == dt.timedelta(days=3) for s in weekly)


def test_weekly_slots_keep_09_00_local_across_the_daylight_saving_change() -> None:
    # Last visit on Monday 26 October 2026 (EDT); clocks go back on Sunday 1 November.
    one = series(1, "feder-2021", [local(2026, 10, 22), local(2026, 10, 26)], 10)
    weekly = [s for s in plan_slots([one], default_settings, "America/New_York") if s.week]
    assert [s.opens_at.hour for s in weekly] == [14, 14, 14, 14]  # 09:00 EST = 14:00 UTC
    assert [(s.local_day - dt.date(2026, 10, 26)).days for s in weekly] == [7, 14, 21, 28]
    summer = series(2, "feder-2021", [local(2026, 6, 1)], 20)
    assert plan_slots([summer], default_settings, "America/New_York")[1].opens_at.hour == 13


def test_settings_per_protocol_change_or_turn_off_each_rule() -> None:
    custom = {
        "abdallah-2022": ScheduleSettings("abdallah-2022", ("gad7",), 24, (), 0),
        "feder-2021": ScheduleSettings("feder-2021", (), 48, ("pcl5-week",), 2),
    }
    lookup = lambda pid: custom.get(pid) or default_settings(pid)  # noqa: E731
    a = plan_slots([series(1, "abdallah-2022", FEDER, 10)], lookup, "America/New_York")
    assert [(s.kind, s.instruments) for s in a] == [(SlotKind.BEFORE_INFUSION, ("gad7",))] * 3
    assert a[0].opens_at == FEDER[0] - dt.timedelta(hours=24)
    f = plan_slots([series(2, "feder-2021", FEDER, 20)], lookup, "America/New_York")
    assert [(s.key, s.instruments) for s in f] == [
        ("series-2-week-1", ("pcl5-week",)),
        ("series-2-week-2", ("pcl5-week",)),
    ]


def test_weekly_slots_stop_where_the_next_series_begins() -> None:
    first = series(1, "feder-2021", FEDER, 10)
    # A booster series starts 17 days after the last visit: only weeks 1 and 2 stay.
    booster = series(2, "maintenance", [local(2026, 11, 23)], 20)
    slots = plan_slots([first, booster], default_settings, "America/New_York")
    keys = [s.key for s in slots]
    assert "series-1-week-2" in keys
    assert "series-1-week-3" not in keys
    assert {"visit-20", "series-2-week-4"} <= set(keys)
    assert len(keys) == len(set(keys))


def test_a_slot_is_sent_between_opening_and_closing_only() -> None:
    slot = plan_slots([series(1, "feder-2021", FEDER[:1], 10)], default_settings, "UTC")[0]
    assert not slot.sendable(slot.opens_at - dt.timedelta(seconds=1))
    assert slot.sendable(slot.opens_at)
    assert slot.sendable(slot.due_at - dt.timedelta(seconds=1))
    assert not slot.sendable(slot.due_at)  # the infusion has begun
    weekly = plan_slots([series(1, "feder-2021", FEDER[:1], 10)], default_settings, "UTC")[1]
    # A link must live at least an hour: a weekly slot closes an hour before it expires.
    assert weekly.sendable(weekly.expires_at - dt.timedelta(minutes=61))
    assert not weekly.sendable(weekly.expires_at - dt.timedelta(minutes=59))


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        (ScheduleSettings("p", ("cssrs",), 48, (), 0), "before_infusion"),
        (ScheduleSettings("p", ("pcl5", "pcl5"), 48, (), 0), "before_infusion"),
        (ScheduleSettings("p", (), 0, (), 0), "before_hours"),
        (ScheduleSettings("p", (), 169, (), 0), "before_hours"),
        (ScheduleSettings("p", (), 48, ("bprs4",), 2), "after_series"),
        (ScheduleSettings("p", (), 48, ("pcl5",), 27), "after_weeks"),
        (ScheduleSettings("p", (), 48, ("pcl5",), -1), "after_weeks"),
    ],
)
def test_settings_out_of_bounds_name_the_field(settings: ScheduleSettings, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_settings(settings, ALLOWED)
    assert caught.value.field == field


def test_the_default_settings_pass_their_own_check() -> None:
    assert check_settings(default_settings("feder-2021"), ALLOWED).after_weeks == 4
