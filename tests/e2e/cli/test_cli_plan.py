"""``ketaclinic plan PROTOCOL --start YYYY-MM-DD`` (DESIGN.md §4.2): the series dates as JSON or
a table; an unknown protocol or a bad date is one stderr line and exit code 2."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner, Result

from ketaclinic.cli.intake import register


def invoke(*args: str) -> Result:
    app = typer.Typer()
    register(app)
    return CliRunner().invoke(app, list(args))


def stderr_line(result: Result) -> str:
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_feder_2021_from_a_saturday_starts_on_monday() -> None:
    result = invoke("plan", "feder-2021", "--start", "2026-11-28", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {
        "protocol": "feder-2021",
        "dates": [
            "2026-11-30",
            "2026-12-02",
            "2026-12-04",
            "2026-12-07",
            "2026-12-09",
            "2026-12-11",
        ],
    }


def test_abdallah_2022_gives_eight_dates_twice_weekly() -> None:
    result = invoke("plan", "abdallah-2022", "--start", "2026-12-01", "--json")
    assert result.exit_code == 0, result.stderr
    dates = json.loads(result.stdout)["dates"]
    assert dates[:3] == ["2026-12-03", "2026-12-07", "2026-12-10"]
    assert len(dates) == 8


def test_human_output_lists_the_dates_with_weekdays() -> None:
    result = invoke("plan", "maintenance", "--start", "2026-12-03")
    assert result.exit_code == 0, result.stderr
    for day in ("2026-12-03", "2026-12-31", "2027-01-28"):
        assert day in result.stdout
    assert "Thu" in result.stdout


def test_an_unknown_protocol_is_bad_input() -> None:
    result = invoke("plan", "ketamine-forever", "--start", "2026-12-01", "--json")
    assert result.exit_code == 2
    assert stderr_line(result) == (
        "error: protocol: got 'ketamine-forever', expected one of abdallah-2022, feder-2021, "
        "maintenance"
    )
    assert result.stdout == ""


@pytest.mark.parametrize("text", ["01/12/2026", "2026-13-01", "tomorrow", "2026-12-1"])
def test_a_bad_start_date_is_bad_input(text: str) -> None:
    result = invoke("plan", "feder-2021", "--start", text)
    assert result.exit_code == 2
    assert stderr_line(result) == f"error: --start: got {text!r}, expected a date YYYY-MM-DD"


def test_the_start_date_is_required() -> None:
    result = invoke("plan", "feder-2021")
    assert result.exit_code == 2
    assert "--start" in result.stderr
