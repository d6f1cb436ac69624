"""The concentration figure (adapters/plots/concentration.py): formats, labels, refusals.

matplotlib writes each text of an SVG as an XML comment beside its glyph paths, which is what
these tests read."""

from __future__ import annotations

from pathlib import Path

import pytest

from ketaclinic.adapters.plots.concentration import format_for_path, render_concentration_plot
from ketaclinic.domain.errors import InvalidInput
from ketaclinic.pk.models import get_model
from ketaclinic.pk.population import simulate_population
from ketaclinic.pk.schedule import Schedule, time_grid
from ketaclinic.pk.simulate import simulate

SCHEDULE = Schedule.single_infusion(35.0, 40.0)
GRID = time_grid(280.0, 60.0)
KAMP = get_model("kamp").parameters(70.0).params


@pytest.mark.parametrize(("name", "fmt"), [("a.svg", "svg"), ("b.PNG", "png")])
def test_the_format_follows_the_extension(name: str, fmt: str) -> None:
    assert format_for_path(Path(name)) == fmt


def test_an_unknown_extension_is_bad_input() -> None:
    with pytest.raises(InvalidInput) as caught:
        format_for_path(Path("curve.pdf"))
    assert caught.value.field == "plot"
    assert ".svg or .png" in caught.value.message


def test_the_svg_has_labelled_axes_model_landmarks_and_disclaimer() -> None:
    svg = render_concentration_plot(curves=[simulate(KAMP, SCHEDULE, GRID)]).decode()
    assert svg.lstrip().startswith("<?xml")
    assert "<svg" in svg
    for text in (
        "Time since start (min)",
        "Plasma concentration (ng/mL)",
        "Kamp 2020",
        "Illustrative; never drives dosing.",
        "Dissociation",
        "Analgesia",
        "General anaesthesia 1,200–2,400 ng/mL",  # above the plotted range, named in a note
    ):
        assert text in svg, text


def test_a_population_png_starts_with_the_png_signature() -> None:
    population = simulate_population(KAMP, SCHEDULE, GRID, 100, 1)
    png = render_concentration_plot(population=population, fmt="png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_nothing_to_draw_is_bad_input() -> None:
    with pytest.raises(InvalidInput) as caught:
        render_concentration_plot()
    assert caught.value.field == "curves"
