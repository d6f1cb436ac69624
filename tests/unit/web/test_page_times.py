"""Staff pages show stored (UTC) times in the zone of the site they are working at."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ketaclinic.domain.people import Site
from ketaclinic.web.templating import templates

ENV = templates.env


def shown(value: object, site: Site | None) -> str:
    return ENV.from_string("{{ value|datetime }}").render(value=value, active_site=site)


MIAMI = Site(1, "MIA", "Miami", "America/New_York")
HONOLULU = Site(2, "HNL", "Honolulu", "Pacific/Honolulu")


@pytest.mark.parametrize(
    ("site", "expected"),
    [
        (MIAMI, "24 Nov 2026 16:05 EST"),  # UTC−5 in November
        (HONOLULU, "24 Nov 2026 11:05 HST"),  # UTC−10, no daylight saving
        (None, "24 Nov 2026 21:05 UTC"),  # no active site: UTC, and it says so
    ],
)
def test_a_utc_time_is_shown_in_the_active_sites_zone(site: Site | None, expected: str) -> None:
    assert shown(dt.datetime(2026, 11, 24, 21, 5, tzinfo=dt.UTC), site) == expected


def test_daylight_saving_time_is_named() -> None:
    assert shown(dt.datetime(2026, 7, 1, 12, 0, tzinfo=dt.UTC), MIAMI) == "01 Jul 2026 08:00 EDT"


def test_a_time_without_a_zone_is_taken_as_utc() -> None:
    assert shown(dt.datetime(2026, 11, 24, 21, 5), MIAMI) == "24 Nov 2026 16:05 EST"


def test_nothing_is_shown_for_no_time() -> None:
    assert shown(None, MIAMI) == ""


def test_an_unknown_zone_falls_back_to_utc_and_says_so() -> None:
    broken = Site(3, "XXX", "Nowhere", "Not/AZone")
    assert shown(dt.datetime(2026, 11, 24, 21, 5, tzinfo=dt.UTC), broken).endswith("21:05 UTC")


@given(
    st.datetimes(
        min_value=dt.datetime(2000, 1, 1),
        max_value=dt.datetime(2100, 1, 1),
        timezones=st.just(dt.UTC),
    )
)
def test_the_shown_time_is_the_same_instant(value: dt.datetime) -> None:
    text, zone = shown(value, MIAMI).rsplit(" ", 1)
    local = dt.datetime.strptime(text, "%d %b %Y %H:%M")
    offset = dt.timedelta(hours={"EDT": -4, "EST": -5}[zone])
    assert local == (value + offset).replace(tzinfo=None, second=0, microsecond=0)
