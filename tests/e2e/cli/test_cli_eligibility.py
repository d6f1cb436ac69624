"""``ketaclinic eligibility FILE.json`` (DESIGN.md §4.2): the decision with every reason as JSON
or a table; unreadable files, bad JSON and bad fields end as one stderr line and exit code 2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner, Result

from ketaclinic.cli.intake import register


@pytest.fixture(autouse=True)
def no_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No database is configured (an empty data directory): the shipped thresholds apply."""
    monkeypatch.delenv("KETACLINIC_DATABASE_URL", raising=False)
    monkeypatch.setenv("KETACLINIC_DATA_DIR", str(tmp_path / "var"))


def invoke(*args: str) -> Result:
    app = typer.Typer()
    register(app)
    return CliRunner().invoke(app, list(args))


def stderr_line(result: Result) -> str:
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def intake(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "assessment_date": "2026-01-20",
        "age_years": 42,
        "sex": "female",
        "weight_kg": 80.0,
        "height_cm": 170.0,
        "trauma_date": "2025-03-01",
        "pregnant": False,
        "bp_systolic": 128,
        "bp_diastolic": 82,
        "heart_rate": 72,
        "spo2": 98,
        "pcl5": [2] * 20,
        "phq9": [1] * 8 + [0],
        "conditions": [],
        "medications": ["sertraline"],
    }
    data.update(overrides)
    return data


@pytest.fixture
def write(tmp_path: Path) -> Any:
    def _write(content: object, name: str = "intake.json") -> str:
        path = tmp_path / name
        path.write_text(content if isinstance(content, str) else json.dumps(content))
        return str(path)

    return _write


def test_an_eligible_record_gives_the_documented_json(write: Any) -> None:
    result = invoke("eligibility", write(intake()), "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"decision": "eligible", "reasons": []}


def test_a_relative_contraindication_needs_review_with_its_source(write: Any) -> None:
    result = invoke("eligibility", write(intake(conditions=["psychosis_history"])), "--json")
    assert result.exit_code == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["decision"] == "needs_review"
    [reason] = body["reasons"]
    assert reason["code"] == "psychosis_history"
    assert reason["source"] == "[unverified: Sanacora 2017 (attributed), REFERENCE.md §2]"


def test_an_excluded_record_lists_every_reason(write: Any) -> None:
    data = intake(conditions=["stroke_history", "liver_disease"], bp_systolic=185)
    result = invoke("eligibility", write(data), "--json")
    assert result.exit_code == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["decision"] == "excluded"
    assert [r["code"] for r in body["reasons"]] == [
        "stroke_history",
        "liver_disease",
        "bp_above_absolute_limit",
    ]


def test_human_output_shows_the_decision_and_a_table_of_reasons(write: Any) -> None:
    result = invoke("eligibility", write(intake(pregnant=True)))
    assert result.exit_code == 0, result.stderr
    assert "Decision: needs_review" in result.stdout
    assert "pregnancy" in result.stdout
    # Sources are printed literally, not eaten as console markup.
    assert "[cited: Ketalar US PI; UK SmPC" in " ".join(result.stdout.split())


def test_a_missing_file_is_bad_input(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.json")
    result = invoke("eligibility", missing, "--json")
    assert result.exit_code == 2
    line = stderr_line(result)
    assert line.startswith("error: FILE: got ")
    assert "nope.json" in line
    assert "a readable file" in line
    assert result.stdout == ""


def test_invalid_json_says_where(write: Any) -> None:
    result = invoke("eligibility", write('{"age_years": 42,,}'), "--json")
    assert result.exit_code == 2
    line = stderr_line(result)
    assert "expected valid JSON" in line
    assert "line 1, column 18" in line


def test_a_json_array_is_not_an_intake_record(write: Any) -> None:
    result = invoke("eligibility", write([intake()]))
    assert result.exit_code == 2
    assert stderr_line(result) == "error: intake: got 'list', expected a JSON object"


def test_an_unknown_condition_names_field_value_and_vocabulary(write: Any) -> None:
    result = invoke("eligibility", write(intake(conditions=["broken_leg"])), "--json")
    assert result.exit_code == 2
    line = stderr_line(result)
    assert line.startswith("error: conditions[0]: got 'broken_leg', expected one of ")
    assert "ketamine_hypersensitivity" in line
    assert "seizure_disorder" in line


def test_a_bad_field_value_is_named(write: Any) -> None:
    result = invoke("eligibility", write(intake(bp_systolic="high")), "--json")
    assert result.exit_code == 2
    assert stderr_line(result) == "error: bp_systolic: got 'high', expected a number"


def test_an_assessment_date_in_the_future_is_bad_input(write: Any) -> None:
    result = invoke("eligibility", write(intake(assessment_date="2999-01-01")), "--json")
    assert result.exit_code == 2
    line = stderr_line(result)
    assert line.startswith("error: assessment_date: got '2999-01-01', expected a date on or before")


def test_a_file_that_is_not_utf8_is_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "latin1.json"
    path.write_bytes(b'{"sex": "f\xe9minin"}')
    result = invoke("eligibility", str(path))
    assert result.exit_code == 2
    assert "UTF-8" in stderr_line(result)


def test_absurdly_deep_json_is_bad_input_not_a_crash(write: Any) -> None:
    result = invoke("eligibility", write("[" * 200_000 + "]" * 200_000))
    assert result.exit_code == 2
    assert "nested" in stderr_line(result)


def test_a_directory_is_not_a_readable_file(tmp_path: Path) -> None:
    result = invoke("eligibility", str(tmp_path))
    assert result.exit_code == 2
    assert "a readable file" in stderr_line(result)


def test_the_table_says_the_shipped_thresholds_apply_without_a_database(write: Any) -> None:
    result = invoke("eligibility", write(intake()))
    assert result.exit_code == 0, result.stderr
    text = " ".join(result.stdout.split())
    assert "Thresholds: shipped defaults: no database configured" in text


def test_a_clinic_value_in_the_configured_database_decides(
    write: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import datetime as dt

    from argon2 import PasswordHasher

    from ketaclinic.adapters.db import migrate
    from ketaclinic.bootstrap import build
    from ketaclinic.config import Settings
    from ketaclinic.services import clinic_settings, demo
    from ketaclinic.services.audit import Actor
    from ketaclinic.services.auth import Passwords, principal_of

    url = f"sqlite:///{tmp_path / 'clinic.sqlite3'}"
    settings = Settings(
        database_url=url,
        data_dir=tmp_path / "data",
        secret_key="cli-eligibility-" + "s" * 40,
        environment="test",
        _env_file=None,  # type: ignore[call-arg]
    )
    container = build(settings, fast_password_hashing=True)
    migrate.upgrade(container.engine)
    quick = Passwords(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    with container.uow() as uow:
        demo.load(uow, container.clock, quick)
        uow.commit()
    with container.uow() as uow:
        director = Actor(principal_of(uow.users.by_username("director.mia")), "test")
        clinic_settings.set_value(
            uow,
            container.clock,
            director,
            kind="eligibility",
            key="age_max",
            value=40,
            reason="Clinic protocol: adults up to 40 only",
        )
    container.dispose()
    monkeypatch.setenv("KETACLINIC_DATABASE_URL", url)

    result = invoke("eligibility", write(intake(age_years=42)), "--json")
    assert result.exit_code == 0, result.stderr
    body = json.loads(result.stdout)
    assert set(body) == {"decision", "reasons"}  # DESIGN.md §4.2's answer, nothing more
    assert body["decision"] == "needs_review"
    (reason,) = body["reasons"]
    assert "clinic value (approved by director.mia on " in reason["source"]
    assert f"{dt.date.today().year}" in reason["source"]
    table = invoke("eligibility", write(intake(age_years=42)))
    assert "Thresholds: the clinic's values (sqlite:///" in " ".join(table.stdout.split())
    # Forty is within the clinic's range: eligible as with the shipped thresholds.
    assert json.loads(invoke("eligibility", write(intake(age_years=40)), "--json").stdout) == {
        "decision": "eligible",
        "reasons": [],
    }
