"""``ketaclinic simulate`` (DESIGN.md §4.2): a predicted plasma curve (or population bands) as
JSON, an optional plot file; bad input is one stderr line and exit code 2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner, Result

from ketaclinic.cli.pk import register

STANDARD = ("--weight-kg", "70", "--mg-per-kg", "0.5", "--minutes", "40")


def invoke(*args: str) -> Result:
    app = typer.Typer()
    register(app)
    return CliRunner().invoke(app, ["simulate", *args])


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


def test_domino_curve_peaks_at_the_end_of_the_infusion() -> None:
    body = as_json("--model", "domino", *STANDARD)
    assert body["model"] == "domino"
    assert "PMID 6488686" in body["citation"]
    assert len(body["times_min"]) == len(body["plasma_ng_per_ml"]) == 1681  # 280 min, 10 s
    assert body["tmax_min"] == pytest.approx(40.0, rel=1e-12)
    assert body["cmax_ng_per_ml"] == pytest.approx(240.0, abs=1.0)  # REFERENCE.md §4.4
    assert "never drives dosing" in body["note"]


def test_horizon_and_step_set_the_grid() -> None:
    body = as_json("--model", "kamp", *STANDARD, "--horizon-min", "60", "--step-s", "60")
    assert body["times_min"] == [float(m) for m in range(61)]


def test_an_effect_site_curve_is_labelled_as_assumed() -> None:
    body = as_json("--model", "kamp", *STANDARD)
    assert len(body["effect_site_ng_per_ml"]) == len(body["times_min"])
    assert "assumed" in body["effect_site_note"]


def test_a_paediatric_model_for_an_adult_warns() -> None:
    body = as_json("--model", "herd", *STANDARD)
    assert any("cross-checks only" in w for w in body["warnings"])
    assert any("validity range" in w for w in body["warnings"])


def test_population_gives_percentile_bands_instead_of_one_curve() -> None:
    body = as_json("--model", "kamp", *STANDARD, "--population", "500", "--seed", "4")
    assert "plasma_ng_per_ml" not in body
    bands = body["plasma_percentiles_ng_per_ml"]
    assert set(bands) == {"5", "50", "95"}
    end = body["times_min"].index(40.0)
    assert bands["5"][end] <= bands["50"][end] <= bands["95"][end]
    assert body["population"] == 500
    assert "design" in body["cv_provenance"]
    again = as_json("--model", "kamp", *STANDARD, "--population", "500", "--seed", "4")
    assert again["plasma_percentiles_ng_per_ml"] == bands


def test_population_cvs_and_the_threshold_can_be_set() -> None:
    base = ("--model", "kamp", *STANDARD, "--population", "500", "--seed", "4")
    default = as_json(*base)
    assert default["cv_given"] == []
    wider = as_json(*base, "--cv", "cl_l_per_min=0.6", "--cv", "v1_l=0.8")
    assert wider["cv"]["cl_l_per_min"] == 0.6
    assert wider["cv"]["v1_l"] == 0.8
    assert wider["cv"]["v2_l"] == default["cv"]["v2_l"]  # the others keep the defaults
    assert wider["cv_given"] == ["cl_l_per_min", "v1_l"]
    assert "the given ones are the caller's" in wider["cv_provenance"]
    end = wider["times_min"].index(40.0)
    spread = {
        name: body["plasma_percentiles_ng_per_ml"]["95"][end]
        - body["plasma_percentiles_ng_per_ml"]["5"][end]
        for name, body in (("default", default), ("wider", wider))
    }
    assert spread["wider"] > spread["default"]
    at_150 = as_json(*base, "--threshold-ng-per-ml", "150")
    assert "150" in at_150["probability_peak_above_ng_per_ml"]
    single = as_json("--model", "kamp", *STANDARD, "--threshold-ng-per-ml", "150")
    assert list(single["time_above_ng_per_ml"]) == ["150"]
    assert (
        0
        < single["time_above_ng_per_ml"]["150"]
        < as_json("--model", "kamp", *STANDARD)["time_above_ng_per_ml"]["100"]
    )


def test_an_svg_plot_is_written(tmp_path: Path) -> None:
    target = tmp_path / "curve.svg"
    body = as_json("--model", "kamp", *STANDARD, "--plot", str(target))
    assert body["plot"] == str(target)
    text = target.read_text()
    assert "<svg" in text
    assert text.rstrip().endswith("</svg>")


def test_a_png_plot_of_a_population_is_written(tmp_path: Path) -> None:
    target = tmp_path / "bands.png"
    result = invoke("--model", "kamp", *STANDARD, "--population", "200", "--plot", str(target))
    assert result.exit_code == 0, result.stderr
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("args", "field", "expected"),
    [
        (("--model", "schnider"), "model", "domino, clements"),
        (("--weight-kg", "0"), "weight_kg", "2–350 kg"),
        (("--weight-kg", "-5"), "weight_kg", "2–350 kg"),
        (("--weight-kg", "700"), "weight_kg", "2–350 kg"),
        (("--mg-per-kg", "50"), "mg_per_kg", "at most 10 mg/kg"),
        (("--step-s", "100000"), "step_s", "at most 3600 s"),
        (("--horizon-min", "1", "--step-s", "120"), "step_s", "at most the horizon"),
        (("--population", "0"), "population", "1–100,000"),
        (("--population", "1000000000"), "population", "1–100,000"),
        (("--plot", "curve.pdf"), "plot", ".svg or .png"),
        (("--cv", "v1_l=0.5"), "cv", "--population as well"),
        (("--population", "10", "--cv", "clearance=0.5"), "cv", "one of v1_l"),
        (("--population", "10", "--cv", "v1_l=30"), "cv.v1_l", "a fraction in 0–2"),
        (("--population", "10", "--cv", "v1_l"), "cv", "NAME=FRACTION"),
        (("--threshold-ng-per-ml", "0"), "threshold_ng_per_ml", "more than 0"),
        (("--threshold-ng-per-ml", "50000"), "threshold_ng_per_ml", "at most 10,000 ng/mL"),
    ],
)
def test_bad_input_is_one_line_naming_field_value_and_range(
    args: tuple[str, ...], field: str, expected: str
) -> None:
    options = {"--model": "kamp", **dict(zip(STANDARD[::2], STANDARD[1::2], strict=True))}
    options.update(dict(zip(args[::2], args[1::2], strict=True)))
    flat = [part for pair in options.items() for part in pair]
    result = invoke(*flat, "--json")
    assert result.exit_code == 2
    line = stderr_line(result)
    assert line.startswith(f"error: {field}: got ")
    assert expected in line


def test_an_unwritable_plot_path_is_refused_before_any_work(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "dir" / "curve.svg"
    result = invoke("--model", "kamp", *STANDARD, "--plot", str(missing))
    assert result.exit_code == 2
    assert "error: plot: got" in stderr_line(result)
    assert not missing.exists()


def test_a_directory_named_like_a_plot_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "curve.svg"
    folder.mkdir()
    result = invoke("--model", "kamp", *STANDARD, "--plot", str(folder))
    assert result.exit_code == 2
    assert "writable file path" in stderr_line(result)


def test_human_output_summarises_the_curve() -> None:
    result = invoke("--model", "domino", *STANDARD)
    assert result.exit_code == 0, result.stderr
    assert "Cmax" in result.stdout
    assert "never drives dosing" in result.stdout
