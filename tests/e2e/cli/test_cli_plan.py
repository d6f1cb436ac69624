"""``ketaclinic plan PROTOCOL --start YYYY-MM-DD`` (DESIGN.md §4.2): the series dates as JSON or
a table; an unknown protocol or a bad date is one stderr line and exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

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


# --- the clinic's own protocols from the configured database --------------------------------


def _clinic_protocol_in(url: str) -> None:
    import datetime as dt

    from ketaclinic.adapters.db.engine import make_engine
    from ketaclinic.adapters.db.uow import SqlUnitOfWorkFactory
    from ketaclinic.domain.people import Role
    from ketaclinic.services.intake_models import clinic_protocol

    engine = make_engine(url)
    try:
        with SqlUnitOfWorkFactory(engine)() as uow:
            user = uow.users.add("director.x", "Director", Role.DIRECTOR, frozenset(), "h")
            weekly = clinic_protocol(
                id="weekly-4",
                name="Four weekly infusions",
                infusion_count=4,
                duration_weeks=4,
                dose_mg_per_kg=0.5,
                infusion_min=40,
                weekdays=(1,),
                observation_min=120,
                setup_min=20,
            )
            uow.schedule.add_protocol(weekly, user.id, dt.datetime(2026, 11, 1, tzinfo=dt.UTC))
            uow.commit()
    finally:
        engine.dispose()


def test_a_clinic_protocol_is_planned_from_the_configured_database(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _clinic_protocol_in(db_url)
    monkeypatch.setenv("KETACLINIC_DATABASE_URL", db_url)
    monkeypatch.setenv("KETACLINIC_DATA_DIR", str(tmp_path / "data"))
    result = invoke("plan", "weekly-4", "--start", "2026-12-01", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {
        "protocol": "weekly-4",
        "dates": ["2026-12-01", "2026-12-08", "2026-12-15", "2026-12-22"],
    }
    unknown = invoke("plan", "weekly-5", "--start", "2026-12-01")
    assert unknown.exit_code == 2
    assert stderr_line(unknown) == (
        "error: protocol: got 'weekly-5', expected one of abdallah-2022, feder-2021, "
        "maintenance, weekly-4"
    )


def test_without_a_database_only_the_built_in_protocols_are_known_and_none_is_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KETACLINIC_DATABASE_URL", raising=False)
    monkeypatch.setenv("KETACLINIC_DATA_DIR", str(tmp_path / "data"))
    result = invoke("plan", "weekly-4", "--start", "2026-12-01")
    assert result.exit_code == 2
    assert stderr_line(result).endswith("expected one of abdallah-2022, feder-2021, maintenance")
    assert not (tmp_path / "data").exists()


def test_a_database_that_cannot_be_read_is_bad_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty.sqlite3"  # never migrated: no protocol table
    monkeypatch.setenv("KETACLINIC_DATABASE_URL", f"sqlite:///{empty}")
    result = invoke("plan", "weekly-4", "--start", "2026-12-01")
    assert result.exit_code == 2
    assert stderr_line(result).startswith("error: database: got 'OperationalError', expected a ")
    # a built-in protocol never touches the database
    assert invoke("plan", "feder-2021", "--start", "2026-12-01").exit_code == 0
