"""``ketaclinic score`` and ``ketaclinic instruments validate`` (DESIGN.md §4.2): JSON on
stdout, one ``error:`` line on stderr naming field, value and expectation, exit code 2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner, Result

from ketaclinic.cli.scoring import register
from ketaclinic.domain.instruments import get_instrument


def invoke(*args: str) -> Result:
    app = typer.Typer()
    register(app)
    return CliRunner().invoke(app, list(args))


def stderr_line(result: Result) -> str:
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_pcl5_json_has_the_documented_shape() -> None:
    result = invoke("score", "pcl5", "--answers", ",".join(["2"] * 20), "--json")
    assert result.exit_code == 0, result.stderr
    body = json.loads(result.stdout)
    assert set(body) == {"instrument", "total", "subscales", "flags", "provisional_diagnosis"}
    assert body["instrument"] == "pcl5"
    assert body["total"] == 40
    assert body["subscales"] == {"B": 10, "C": 4, "D": 14, "E": 12}
    assert body["flags"] == ["dsm5_cluster_rule_met", "probable_ptsd_cut_point"]
    assert body["provisional_diagnosis"]["cut_point"]["cut_point"] == 33


def test_phq9_json_carries_severity_and_the_item9_flag() -> None:
    result = invoke("score", "phq9", "--answers", "1, 1, 1, 1, 1, 0, 0, 0, 1", "--json")
    assert result.exit_code == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["severity"] == "mild"
    assert "phq9_item9_positive" in body["flags"]
    assert "provisional_diagnosis" not in body


@pytest.mark.parametrize(
    ("instrument", "answers", "total"),
    [
        ("gad7", "3,3,3,3,3,3,3", 21),
        ("who5", "5,5,5,5,5", 25),
        ("cadss6", "0,1,2,3,4,0", 10),
        ("bprs4", "1,1,1,1", 4),
    ],
)
def test_each_documented_instrument_scores_from_the_command_line(
    instrument: str, answers: str, total: int
) -> None:
    result = invoke("score", instrument, "--answers", answers, "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["total"] == total


def test_human_output_is_a_table_with_the_total_and_clusters() -> None:
    result = invoke("score", "pcl5", "--answers", ",".join(["1"] * 20))
    assert result.exit_code == 0, result.stderr
    assert "Total" in result.stdout
    assert "20 (range 0–80)" in result.stdout
    assert "Subscale D" in result.stdout
    assert "not a diagnosis" in result.stdout


def test_out_of_range_answer_is_one_stderr_line_and_exit_2() -> None:
    result = invoke("score", "gad7", "--answers", "0,0,7,0,0,0,0", "--json")
    assert result.exit_code == 2
    assert result.stdout == ""
    line = stderr_line(result)
    assert line.startswith("error: answers[3]: got 7, expected a whole number 0–3 for gad7_03")


def test_empty_answer_names_its_position() -> None:
    result = invoke("score", "phq9", "--answers", "0,0,,0,0,0,0,0,0")
    assert result.exit_code == 2
    assert "answers[3]: got ''" in stderr_line(result)


def test_wrong_number_of_answers_says_how_many_are_expected() -> None:
    result = invoke("score", "who5", "--answers", "1,2,3")
    assert result.exit_code == 2
    assert "answers: got 3, expected 5 answers for who5" in stderr_line(result)


def test_bprs_item_not_assessed_is_refused() -> None:
    result = invoke("score", "bprs4", "--answers", "2,0,2,2")
    assert result.exit_code == 2
    assert "not assessed" in stderr_line(result)


def test_unknown_instrument_is_refused_with_the_known_ids() -> None:
    result = invoke("score", "ies-r", "--answers", "1")
    assert result.exit_code == 2
    assert "instrument: got 'ies-r', expected one of" in stderr_line(result)


def test_cssrs_is_not_scored_from_answers() -> None:
    result = invoke("score", "cssrs", "--answers", "1,0,0,0,0,0,0")
    assert result.exit_code == 2
    assert "clinician-entered" in stderr_line(result)


# --- instruments validate --------------------------------------------------------------------


def write_pack(tmp_path: Path, **overrides: Any) -> Path:
    instrument = get_instrument("gad7")
    data = {
        "format": "ketaclinic.content-pack/1",
        "instrument": "gad7",
        "language": "es",
        "items": {i: f"Placeholder text for {i}" for i in instrument.item_ids},
        "anchors": ["Placeholder 0", "Placeholder 1", "Placeholder 2", "Placeholder 3"],
    } | overrides
    path = tmp_path / "pack.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_valid_pack_is_reported_as_valid(tmp_path: Path) -> None:
    result = invoke("instruments", "validate", str(write_pack(tmp_path)), "--json")
    assert result.exit_code == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["valid"] is True
    assert (body["instrument"], body["language"], body["items"]) == ("gad7", "es", 7)


def test_valid_pack_human_summary(tmp_path: Path) -> None:
    result = invoke("instruments", "validate", str(write_pack(tmp_path)))
    assert result.exit_code == 0, result.stderr
    text = " ".join(result.stdout.split())  # Rich wraps long lines at the terminal width
    assert "valid content pack for gad7 (es), 7 items" in text


def test_invalid_pack_lists_every_problem_and_exits_2(tmp_path: Path) -> None:
    path = write_pack(tmp_path, language="spanish", anchors=["only one"])
    result = invoke("instruments", "validate", str(path), "--json")
    assert result.exit_code == 2
    body = json.loads(result.stdout)
    assert body["valid"] is False
    assert [p["field"] for p in body["problems"]] == ["language", "anchors"]
    line = stderr_line(result)
    assert line.startswith("error: content pack has 2 problems: language: got 'spanish'")


def test_missing_file_is_one_stderr_line(tmp_path: Path) -> None:
    result = invoke("instruments", "validate", str(tmp_path / "absent.json"))
    assert result.exit_code == 2
    assert "FILE: got" in stderr_line(result)
    assert "expected a readable UTF-8 JSON file" in result.stderr


def test_file_that_is_not_json_is_one_stderr_line(tmp_path: Path) -> None:
    path = tmp_path / "pack.json"
    path.write_text("{not json", encoding="utf-8")
    result = invoke("instruments", "validate", str(path))
    assert result.exit_code == 2
    assert "expected valid JSON" in stderr_line(result)


def test_who5_human_output_shows_the_percentage() -> None:
    result = invoke("score", "who5", "--answers", "3,4,2,5,1")
    assert result.exit_code == 0, result.stderr
    assert "60 %" in result.stdout


def test_invalid_pack_human_output_is_a_table_of_problems(tmp_path: Path) -> None:
    path = write_pack(tmp_path, instrument="gad8")
    result = invoke("instruments", "validate", str(path))
    assert result.exit_code == 2
    assert "1 problem(s) in pack.json" in result.stdout
    assert "instrument: got 'gad8'" in stderr_line(result)


def test_pack_larger_than_the_limit_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "huge.json"
    path.write_text(" " * 1_000_001, encoding="utf-8")
    result = invoke("instruments", "validate", str(path))
    assert result.exit_code == 2
    assert "at most 1000000 bytes" in stderr_line(result)
