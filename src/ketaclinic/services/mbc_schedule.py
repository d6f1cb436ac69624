"""Self-report schedules: which questionnaire requests a patient's booked series call for, and
when each may be sent. Pure: no storage, no clock.

A protocol's :class:`~ketaclinic.services.mbc_model.ScheduleSettings` has two rules (the
defaults are *design* choices, REFERENCE.md §8.1 leaves the timing to the clinic; review them
with the medical director):

- **before each infusion**: for every booked visit of a series, a link asking for
  ``before_infusion`` (default PCL-5 and PHQ-9) goes out ``before_hours`` (default 48 h) ahead
  of the visit; it is due when the visit starts and still works until the visit ends (the
  patient may answer in the waiting room). Once the visit has started it is not sent.
- **weekly after a series**: on days 7, 14, … ``7 × after_weeks`` (default 4 weeks) after the
  last visit of a series, at 09:00 site time, a link asking for ``after_series`` (default
  PCL-5); it is due, and expires, three days later. Weeks that fall on or after the first day of
  the patient's next series are dropped: that series' before-infusion requests take over.

Every slot has a key unique for the patient (``visit-{visit id}``,
``series-{series id}-week-{n}``), so storage can refuse a second link for the same slot.
Weekly slots are placed by calendar day in the site's time zone, so they stay seven days apart
at 09:00 local time across daylight-saving changes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from ketaclinic.domain.errors import InvalidInput
from ketaclinic.services.intake_models import Series
from ketaclinic.services.mbc_model import ScheduleSettings, SlotKind

DEFAULT_BEFORE = ("pcl5", "phq9")
DEFAULT_BEFORE_HOURS = 48
DEFAULT_AFTER = ("pcl5",)
DEFAULT_AFTER_WEEKS = 4
WEEKLY_SEND_TIME = dt.time(9, 0)
WEEKLY_ANSWER_DAYS = 3
BEFORE_HOURS_RANGE = (1, 168)
AFTER_WEEKS_RANGE = (0, 26)
MAX_SCHEDULED_INSTRUMENTS = 5
MIN_LINK_LIFE = dt.timedelta(hours=1)
"""A slot is not sent once less than this is left before its link would expire (the link
service refuses shorter lives)."""


def default_settings(protocol_id: str) -> ScheduleSettings:
    """The built-in schedule (*design*): PCL-5 and PHQ-9 48 h before each infusion, weekly
    PCL-5 for four weeks after the last infusion of a series."""
    return ScheduleSettings(
        protocol_id=protocol_id,
        before_infusion=DEFAULT_BEFORE,
        before_hours=DEFAULT_BEFORE_HOURS,
        after_series=DEFAULT_AFTER,
        after_weeks=DEFAULT_AFTER_WEEKS,
    )


def check_settings(
    settings: ScheduleSettings, allowed_instruments: Sequence[str]
) -> ScheduleSettings:
    """``settings`` if every field is in bounds, else :class:`InvalidInput` naming the field:
    instruments the patient completes (at most five per rule, each once), 1–168 hours ahead,
    0–26 weeks after."""
    for field, chosen in (
        ("before_infusion", settings.before_infusion),
        ("after_series", settings.after_series),
    ):
        if len(chosen) > MAX_SCHEDULED_INSTRUMENTS or len(set(chosen)) != len(chosen):
            raise InvalidInput.for_field(
                field, ",".join(chosen), f"at most {MAX_SCHEDULED_INSTRUMENTS}, each once"
            )
        for instrument in chosen:
            if instrument not in allowed_instruments:
                raise InvalidInput.for_field(
                    field, instrument, "one of " + ", ".join(allowed_instruments)
                )
    low, high = BEFORE_HOURS_RANGE
    if not low <= settings.before_hours <= high:
        raise InvalidInput.for_field(
            "before_hours", settings.before_hours, f"a whole number of hours, {low}–{high}"
        )
    low, high = AFTER_WEEKS_RANGE
    if not low <= settings.after_weeks <= high:
        raise InvalidInput.for_field(
            "after_weeks", settings.after_weeks, f"a whole number of weeks, {low}–{high}"
        )
    return settings


@dataclass(frozen=True, slots=True)
class Slot:
    """One request a schedule calls for. ``opens_at``: from when it may be sent; ``due_at``:
    when the answers are wanted; ``expires_at``: when its link stops working; ``closes_at``:
    after this it is no longer sent (a missed slot). Times are UTC; ``local_day`` is the
    site-local day it concerns (the visit's day, or the weekly day)."""

    key: str
    kind: SlotKind
    series_id: int
    protocol_id: str
    instruments: tuple[str, ...]
    local_day: dt.date
    opens_at: dt.datetime
    due_at: dt.datetime
    expires_at: dt.datetime
    visit_id: int | None = None
    week: int | None = None

    @property
    def closes_at(self) -> dt.datetime:
        if self.kind is SlotKind.BEFORE_INFUSION:
            return min(self.due_at, self.expires_at - MIN_LINK_LIFE)
        return self.expires_at - MIN_LINK_LIFE

    def sendable(self, now: dt.datetime) -> bool:
        """Whether a link for this slot may go out at ``now``."""
        return self.opens_at <= now < self.closes_at


SettingsFor = Callable[[str], ScheduleSettings]


def plan_slots(series: Sequence[Series], settings_for: SettingsFor, timezone: str) -> list[Slot]:
    """Every slot the patient's ``series`` call for under their protocols' settings, ordered by
    ``opens_at`` then key. ``timezone`` is the site's (weekly slots are placed in it)."""
    zone = ZoneInfo(timezone)
    slots: list[Slot] = []
    first_days = sorted(s.first_day for s in series if s.first_day is not None)
    for one in series:
        settings = settings_for(one.protocol_id)
        visits = sorted(one.visits, key=lambda v: (v.starts_at, v.id))
        if settings.before_infusion:
            ahead = dt.timedelta(hours=settings.before_hours)
            for visit in visits:
                slots.append(
                    Slot(
                        key=f"visit-{visit.id}",
                        kind=SlotKind.BEFORE_INFUSION,
                        series_id=one.id,
                        protocol_id=one.protocol_id,
                        instruments=settings.before_infusion,
                        local_day=visit.local_day,
                        opens_at=visit.starts_at - ahead,
                        due_at=visit.starts_at,
                        expires_at=visit.ends_at,
                        visit_id=visit.id,
                    )
                )
        if not (settings.after_series and settings.after_weeks and visits):
            continue
        last_day = max(v.local_day for v in visits)
        later = [day for day in first_days if day > last_day]
        stop = later[0] if later else None
        for week in range(1, settings.after_weeks + 1):
            day = last_day + dt.timedelta(weeks=week)
            if stop is not None and day >= stop:
                break
            opens = dt.datetime.combine(day, WEEKLY_SEND_TIME, tzinfo=zone).astimezone(dt.UTC)
            due = dt.datetime.combine(
                day + dt.timedelta(days=WEEKLY_ANSWER_DAYS), WEEKLY_SEND_TIME, tzinfo=zone
            ).astimezone(dt.UTC)
            slots.append(
                Slot(
                    key=f"series-{one.id}-week-{week}",
                    kind=SlotKind.AFTER_SERIES,
                    series_id=one.id,
                    protocol_id=one.protocol_id,
                    instruments=settings.after_series,
                    local_day=day,
                    opens_at=opens,
                    due_at=due,
                    expires_at=due,
                    week=week,
                )
            )
    return sorted(slots, key=lambda s: (s.opens_at, s.key))
