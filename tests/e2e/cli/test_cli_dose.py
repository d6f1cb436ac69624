"""``ketaclinic dose`` (DESIGN.md §4.2): dose, concentration and pump rate as JSON; a hard
limit or bad input is one stderr line and exit code 2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner, Result

from ketaclinic.cli.pk import register

STANDARD = ("--weight-kg", "70", "--mg-per-kg", "0.5", "--minutes", "40")


@pytest.fixture(autouse=True)
def no_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No database is configured (an empty data directory): the shipped library applies."""
    monkeypatch.delenv("KETACLINIC_DATABASE_URL", raising=False)
    monkeypatch.setenv("KETACLINIC_DATA_DIR", str(tmp_path / "var"))


def invoke(*args: str) -> Result:
    app = typer.Typer()
    register(app)
    return CliRunner().invoke(app, ["dose", *args])


def as_json(*args: str) -> dict[str, Any]:
    result = invoke(*args, "--json")
    assert result.exit_code == 0, result.stderr
    body: dict[str, Any] = json.loads(result.stdout)
    return body


def stderr_line(result: Result) -> str:
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def test_the_standard_dose_in_a_100_ml_bag() -> None:
    body = as_json(*STANDARD, "--bag-ml", "100")
    assert body["dose_mg"] == pytest.approx(35.0, abs=1e-9)
    assert body["concentration_mg_per_ml"] == pytest.approx(0.35, abs=1e-9)
    assert body["volume_ml"] == pytest.approx(100.0, abs=1e-9)
    assert body["rate_ml_per_h"] == pytest.approx(150.0, abs=1e-9)
    assert body["rate_mg_per_kg_per_h"] == pytest.approx(0.75, abs=1e-9)
    assert body["limit"] == "ok"
    assert body["limits_hit"] == []


def test_a_fixed_concentration_gives_volume_and_rate() -> None:
    body = as_json(*STANDARD, "--concentration-mg-per-ml", "1")
    assert body["volume_ml"] == pytest.approx(35.0, abs=1e-9)
    assert body["rate_ml_per_h"] == pytest.approx(52.5, abs=1e-9)
    assert body["pump_rate_ml_per_h"] == 52.5


def test_the_adjusted_basis_worked_example() -> None:
    body = as_json(
        "--weight-kg", "100", "--mg-per-kg", "0.5", "--minutes", "40", "--bag-ml", "100",
        "--basis", "adjusted", "--height-cm", "175", "--sex", "male",
    )  # fmt: skip
    assert body["weight_basis"] == "adjusted"
    assert body["dose_mg"] == pytest.approx(41.1, abs=0.05)  # REFERENCE.md §3.2, to 0.1 mg
    assert body["ideal_weight_kg"] == pytest.approx(70.5, abs=0.05)
    assert "unverified" in body["weight_provenance"]


def test_a_soft_limit_is_reported_with_every_limit_hit_and_its_source() -> None:
    body = as_json("--weight-kg", "70", "--mg-per-kg", "0.6", "--minutes", "30", "--bag-ml", "100")
    assert body["limit"] == "soft"
    quantities = {hit["quantity"] for hit in body["limits_hit"]}
    assert {"dose_mg_per_kg", "duration_min", "rate_mg_per_kg_per_h"} <= quantities
    for hit in body["limits_hit"]:
        assert hit["level"] == "soft"
        assert hit["provenance"].startswith("[")


def test_a_hard_limit_exits_2_with_one_line_naming_the_limit() -> None:
    result = invoke("--weight-kg", "70", "--mg-per-kg", "1.5", "--minutes", "40", "--bag-ml", "100")
    assert result.exit_code == 2
    line = stderr_line(result)
    assert "dose_mg_per_kg" in line
    assert "1.5" in line
    assert "hard limit" in line
    assert result.stdout == ""


def test_undiluted_stock_is_a_hard_limit() -> None:
    result = invoke(*STANDARD, "--concentration-mg-per-ml", "100", "--json")
    assert result.exit_code == 2
    assert "concentration_mg_per_ml" in stderr_line(result)


def test_a_hard_limit_with_json_prints_the_result_with_limit_hard_and_still_exits_2() -> None:
    result = invoke(
        "--weight-kg", "70", "--mg-per-kg", "1.5", "--minutes", "40", "--bag-ml", "100", "--json"
    )
    assert result.exit_code == 2
    assert "dose_mg_per_kg" in stderr_line(result)
    body = json.loads(result.stdout)
    assert body["limit"] == "hard"
    assert body["dose_mg"] == pytest.approx(105.0)
    hard = [hit for hit in body["limits_hit"] if hit["level"] == "hard"]
    assert [hit["quantity"] for hit in hard] == ["dose_mg_per_kg"]


def test_without_a_database_the_shipped_library_is_used_and_said(tmp_path: Path) -> None:
    body = as_json(*STANDARD, "--bag-ml", "100")
    assert body["library"] == "shipped"
    assert "no database configured" in body["library_note"]
    assert str(tmp_path / "var" / "ketaclinic.sqlite3") in body["library_note"]
    assert not (tmp_path / "var" / "ketaclinic.sqlite3").exists()  # nothing was created
    human = invoke(*STANDARD, "--bag-ml", "100")
    assert "shipped" in " ".join(human.stdout.split())


def test_an_unreadable_database_falls_back_to_the_shipped_library_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty.sqlite3"
    empty.write_bytes(b"")  # a database without ketaclinic's tables (never migrated)
    monkeypatch.setenv("KETACLINIC_DATABASE_URL", f"sqlite:///{empty}")
    body = as_json(*STANDARD, "--bag-ml", "100")
    assert body["library"] == "shipped"
    assert "could not be read" in body["library_note"]
    assert "drug_limit_setting" in body["library_note"]
    assert body["limit"] == "ok"


def test_the_protocol_is_chosen_by_id() -> None:
    assert as_json(*STANDARD, "--bag-ml", "100", "--protocol", "abdallah-2022")["protocol"] == (
        "abdallah-2022"
    )


def test_pounds_typed_as_kilograms_block_until_confirmed() -> None:
    args = ("--weight-kg", "154", "--mg-per-kg", "0.2", "--minutes", "40", "--bag-ml", "100")
    refused = invoke(*args, "--previous-weight-kg", "70", "--json")
    assert refused.exit_code == 2
    assert "pounds" in stderr_line(refused)
    body = as_json(*args, "--previous-weight-kg", "70", "--weight-confirmed")
    assert body["weight_findings"]


@pytest.mark.parametrize(
    ("args", "field", "expected"),
    [
        (("--weight-kg", "0"), "weight_kg", "2–350 kg"),
        (("--weight-kg", "-5"), "weight_kg", "2–350 kg"),
        (("--weight-kg", "700"), "weight_kg", "2–350 kg"),
        (("--mg-per-kg", "50"), "mg_per_kg", "at most 10 mg/kg"),
        (("--minutes", "0"), "duration_min", "more than 0"),
        (("--protocol", "nope"), "protocol", "feder-2021"),
        (("--basis", "lean"), "basis", "actual, ideal, adjusted"),
        (("--basis", "ideal"), "height_cm", "a height in cm"),
    ],
)
def test_bad_input_is_one_line_naming_field_value_and_range(
    args: tuple[str, str], field: str, expected: str
) -> None:
    options = dict(zip(STANDARD[::2], STANDARD[1::2], strict=True))
    options.update(dict(zip(args[::2], args[1::2], strict=True)))
    flat = [part for pair in options.items() for part in pair]
    result = invoke(*flat, "--bag-ml", "100", "--json")
    assert result.exit_code == 2
    line = stderr_line(result)
    assert line.startswith(f"error: {field}: got ")
    assert expected in line


def test_exactly_one_preparation_is_required() -> None:
    for extra in ((), ("--bag-ml", "100", "--concentration-mg-per-ml", "1")):
        result = invoke(*STANDARD, *extra)
        assert result.exit_code == 2
        assert "exactly one of --bag-ml or --concentration-mg-per-ml" in stderr_line(result)


def test_human_output_shows_the_pump_rate() -> None:
    result = invoke(*STANDARD, "--bag-ml", "100")
    assert result.exit_code == 0, result.stderr
    assert "150 mL/h" in result.stdout
    assert "ok" in result.stdout


def test_human_output_keeps_the_sources_of_soft_limits() -> None:
    # Sources are written in brackets, which a terminal renderer could take for markup.
    result = invoke("--weight-kg", "70", "--mg-per-kg", "0.6", "--minutes", "40", "--bag-ml", "100")
    assert result.exit_code == 0, result.stderr
    flat = " ".join(result.stdout.split())
    assert "[derived: 0.5 mg/kg over 40 min" in flat
