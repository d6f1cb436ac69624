"""In the real browser: the front desk books a whole series for a cleared patient and finds it
on the day view of the chairs."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

pytestmark = pytest.mark.browser


def test_the_front_desk_books_a_series_and_sees_the_day(page, sign_in, screenshot) -> None:
    sign_in("frontdesk.mia")
    page.click(".mainnav >> text=Patients")
    page.fill("#q", "DEMO-0005")
    page.click("button:has-text('Search')")
    page.click("table.list a")
    page.click("text=Series and visits")
    start = dt.datetime.now(ZoneInfo("America/New_York")).date() + dt.timedelta(days=14)
    page.fill("#start_date", start.isoformat())
    page.click("button:has-text('Book whole series')")
    assert "Series booked: 6 visits" in page.inner_text(".flash")
    series = page.locator("[data-testid=series]").first
    assert series.locator("tbody tr").count() == 6
    screenshot("intake-series-booked")
    first_day = series.locator("tbody tr").first.locator("td").nth(1).inner_text()
    day = dt.datetime.strptime(first_day, "%a %d %b %Y").date()
    page.goto(f"/schedule?date={day.isoformat()}")
    grid = page.locator("[data-testid=day-view]")
    assert "DEMO-0005" in grid.inner_text()
    assert "visit 1/6" in grid.inner_text()
    headers = grid.locator("thead th").all_inner_texts()
    assert [h.split("\n")[0] for h in headers[1:]] == ["MIA-1", "MIA-2", "MIA-3", "MIA-4"]
    screenshot("intake-day-view")


def test_the_front_desk_sees_the_earliest_possible_series_and_books_it(
    page, sign_in, screenshot
) -> None:
    sign_in("frontdesk.mia")
    page.click(".mainnav >> text=Patients")
    page.fill("#q", "DEMO-0005")
    page.click("button:has-text('Search')")
    page.click("table.list a")
    page.click("text=Series and visits")
    before = page.locator("[data-testid=series]").count()
    # Six weeks ahead: the series is first booked on its protocol dates, then the same dates
    # again clash with the patient's own visits, and the page names the earliest series instead.
    start = dt.datetime.now(ZoneInfo("America/New_York")).date() + dt.timedelta(days=42)
    page.fill("#start_date", start.isoformat())
    page.click("button:has-text('Book whole series')")
    assert "Series booked: 6 visits" in page.inner_text(".flash")
    page.fill("#start_date", start.isoformat())
    page.click("button:has-text('Book whole series')")
    assert "already has a visit" in page.inner_text("#form-error")
    hint = page.inner_text("[data-testid=earliest-hint]")
    assert hint.startswith("Earliest possible: ")
    first = dt.date.fromisoformat(hint.removeprefix("Earliest possible: ")[:10])
    assert first > start
    screenshot("intake-series-earliest-hint")
    page.click("[data-testid=book-earliest]")
    assert f"Series booked: 6 visits from {first.isoformat()}" in page.inner_text(".flash")
    assert page.locator("[data-testid=series]").count() == before + 2
