"""The chair pages' small pure helpers: the board's sparkline (CSP-safe SVG), the SSE frame,
clinic-local time input, and the thinning of monitor rows in the printed record."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest

from ketaclinic.domain.errors import InvalidInput
from ketaclinic.domain.vitals import VitalKind, VitalReading, VitalSource
from ketaclinic.services.chair_ports import FLAG_IMPLAUSIBLE, StoredReading
from ketaclinic.web.pages.chair_board import SPARK_H, SPARK_W, sparkline, sse_frame
from ketaclinic.web.pages.chair_support import local_time, number
from ketaclinic.web.pages.chair_view import record_rows

NOW = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)
NY = ZoneInfo("America/New_York")


def test_the_sparkline_is_inline_svg_with_presentation_attributes_only() -> None:
    points = {
        VitalKind.BP_SYSTOLIC: [(NOW - dt.timedelta(minutes=m), 120.0 + m) for m in (50, 30, 10)],
        VitalKind.HEART_RATE: [(NOW - dt.timedelta(minutes=5), 300.0)],  # off the frame: clamped
    }
    svg = str(sparkline(points, NOW))
    assert svg.startswith("<svg")
    assert svg.endswith("</svg>")
    assert "style" not in svg  # the CSP forbids inline styles
    assert svg.count("<polyline") == 2
    coords = [float(v) for v in re.findall(r'(?:cx|cy|x1|x2|y1|y2)="([\d.]+)"', svg)]
    assert all(0 <= v <= max(SPARK_W, SPARK_H) for v in coords)
    hr_y = float(re.findall(r'cy="([\d.]+)"', svg)[-1])
    assert hr_y == pytest.approx(2.0)  # clamped to the top edge, 2 px inside the frame


def test_readings_older_than_the_window_are_left_out_of_the_sparkline() -> None:
    old = {VitalKind.BP_SYSTOLIC: [(NOW - dt.timedelta(hours=2), 120.0)]}
    assert "<polyline" not in str(sparkline(old, NOW))


def test_an_sse_frame_puts_every_line_in_its_own_data_field() -> None:
    assert sse_frame("board", "<p>a</p>\r\n<p>b</p>") == (
        "event: board\ndata: <p>a</p>\ndata: <p>b</p>\n\n"
    )


def test_a_clock_time_is_read_in_the_clinic_zone_today() -> None:
    # 15:00 UTC is 10:00 in New York (EST, UTC−5, on 2 March 2026).
    assert local_time("t", "09:30", NY, NOW) == dt.datetime(2026, 3, 2, 14, 30, tzinfo=dt.UTC)
    assert local_time("t", "", NY, NOW) is None
    with pytest.raises(InvalidInput, match="t: got '9h30', expected a time as HH:MM"):
        local_time("t", "9h30", NY, NOW)


def test_numbers_from_forms_name_the_field() -> None:
    assert number("dose_mg", " 35,5 ") == 35.5
    assert number("rate", "", required=False) is None
    for bad in ("abc", "nan", "1e999", "9" * 30):
        with pytest.raises(InvalidInput, match="dose_mg"):
            number("dose_mg", bad)


def _reading(minute: float, kind: VitalKind, value: float, source: VitalSource) -> VitalReading:
    return VitalReading(kind, value, NOW + dt.timedelta(minutes=minute), source)


def test_the_record_keeps_every_clinically_relevant_row_and_thins_the_monitor_feed() -> None:
    stored: list[StoredReading] = []
    for second in range(0, 600, 20):  # a monitor every 20 s for 10 min: 30 rows of HR
        stored.append(
            StoredReading(
                len(stored), _reading(second / 60, VitalKind.HEART_RATE, 80, VitalSource.MONITOR)
            )
        )
    stored.append(
        StoredReading(
            900, _reading(2.5, VitalKind.SPO2, 105, VitalSource.MONITOR), FLAG_IMPLAUSIBLE
        )
    )
    stored.append(StoredReading(901, _reading(3, VitalKind.BP_SYSTOLIC, 120, VitalSource.MANUAL)))
    alarm_at = NOW + dt.timedelta(minutes=7)
    rows, left_out = record_rows(
        sorted(stored, key=lambda s: s.reading.observed_at), frozenset({alarm_at})
    )
    # Kept: the first monitor row, the set-aside one (2.5 min), the manual one (3 min), the
    # alarming one (7 min); then no monitor row until 5 min after 7 min, beyond the feed's end.
    assert [(r.at - NOW).total_seconds() / 60 for r in rows] == [0, 2.5, 3, 7]
    assert rows[2].sources == frozenset({"manual", "monitor"})
    assert rows[1].set_aside
    assert len(rows) + left_out == 31  # the 30 times of the HR feed and the SpO2 at 2.5 min
