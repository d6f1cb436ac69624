"""The day view's table: chairs as columns, slots as rows, visits spanning rows
(web/pages/intake_schedule.day_grid)."""

from __future__ import annotations

import datetime as dt

from ketaclinic.domain.people import Chair, Site
from ketaclinic.domain.scheduling import OpeningHours
from ketaclinic.services.intake_models import Visit
from ketaclinic.services.intake_schedule import DayEntry, DayView
from ketaclinic.web.pages.intake_schedule import day_grid

DAY = dt.date(2026, 11, 23)
CHAIRS = (Chair(1, 1, "MIA-1", "Chair 1"), Chair(2, 1, "MIA-2", "Chair 2"))


def entry(chair: str, start: tuple[int, int], end: tuple[int, int]) -> DayEntry:
    begin = dt.datetime.combine(DAY, dt.time(*start))
    finish = dt.datetime.combine(DAY, dt.time(*end))
    visit = Visit(1, 1, 1, 1, 1, 1, begin, finish, DAY)
    return DayEntry(visit, chair, begin, finish, 1, "P-1", "Doe, Jo", 6, "feder-2021")


def view(*entries: DayEntry) -> DayView:
    hours = OpeningHours(0, dt.time(8), dt.time(18))
    return DayView(Site(1, "MIA", "Miami"), DAY, hours, 15, CHAIRS, entries)


def test_the_grid_runs_from_opening_to_closing_in_slot_steps() -> None:
    rows = day_grid(view())
    assert len(rows) == 40  # 10 h of 15-min rows
    assert (rows[0].label, rows[-1].label) == ("08:00", "17:45")
    assert all(len(row.cells) == 2 for row in rows)


def test_a_visit_spans_its_rows_and_the_covered_cells_are_left_out() -> None:
    rows = day_grid(view(entry("MIA-2", (11, 0), (14, 0))))
    start = next(n for n, row in enumerate(rows) if row.label == "11:00")
    cell = rows[start].cells[1]
    assert cell is not None
    assert cell.rows == 12
    assert all(rows[start + k].cells[1] is None for k in range(1, 12))
    assert rows[start + 12].cells[1] is not None
    assert all(row.cells[0] is not None for row in rows)


def test_visits_off_the_grid_stay_rectangular_and_never_overlap() -> None:
    rows = day_grid(view(entry("MIA-1", (8, 5), (11, 5)), entry("MIA-1", (11, 5), (14, 5))))
    spans = [(n, c.rows) for n, row in enumerate(rows) for c in row.cells[:1] if c and c.entry]
    (first, first_rows), (second, _) = spans
    assert first + first_rows <= second
    covered = sum(c.rows if c else 0 for row in rows for c in row.cells[:1])
    assert covered == len(rows)


def test_a_visit_outside_the_hours_widens_the_grid() -> None:
    rows = day_grid(view(entry("MIA-1", (17, 0), (19, 0))))
    assert rows[-1].label == "18:45"
