"""Concentration–time figure: simulated plasma curves, population bands and landmark ranges.

:func:`render_concentration_plot` draws, on one axis (time in min, plasma concentration in
ng/mL):

* the infusion periods as a light shade along the time axis;
* the landmark bands of REFERENCE.md §4.3 (analgesia, dissociation, anaesthesia) that fall in the
  plotted range, and a note for those above it;
* each simulated curve, with its effect-site curve dotted and labelled "assumed ke0";
* a population's 5–95 % band and median, if given;
* the model's name and the statement that the figure is illustrative and never drives dosing.

matplotlib is used through ``Figure`` and ``FigureCanvasAgg`` only: no pyplot, no global figure
state, safe to call from a web worker.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ketaclinic.domain.errors import InvalidInput
from ketaclinic.pk.landmarks import LANDMARKS, Landmark
from ketaclinic.pk.models import MODELS
from ketaclinic.pk.population import PopulationResult
from ketaclinic.pk.schedule import Schedule
from ketaclinic.pk.simulate import DISCLAIMER, SimulationResult

PlotFormat = Literal["svg", "png"]
FORMATS: tuple[PlotFormat, ...] = ("svg", "png")
_BAND_COLOURS = {"analgesia": "#4c9f70", "dissociation": "#d99a2b", "anaesthesia": "#b0413e"}
_CURVE_COLOURS = ("#1f4e79", "#7a3b8f", "#2a7f62", "#8c5a2b")
_MIN_TOP_NG_PER_ML = 300.0  # so the dissociation range (to 250 ng/mL) is always in view


def format_for_path(path: Path) -> PlotFormat:
    """``"svg"`` or ``"png"`` from the file name's extension, else :class:`InvalidInput`."""
    suffix = path.suffix.lower().lstrip(".")
    for known in FORMATS:
        if suffix == known:
            return known
    raise InvalidInput.for_field("plot", str(path), "a file name ending in .svg or .png")


def render_concentration_plot(
    *,
    curves: Sequence[SimulationResult] = (),
    population: PopulationResult | None = None,
    landmarks: Sequence[Landmark] = LANDMARKS,
    fmt: PlotFormat = "svg",
    title: str | None = None,
) -> bytes:
    """The figure as SVG or PNG bytes. At least one curve or a population is required."""
    if fmt not in FORMATS:
        raise InvalidInput.for_field("format", fmt, "svg or png")
    if not curves and population is None:
        raise InvalidInput.for_field("curves", 0, "at least one curve or a population")
    figure = Figure(figsize=(8.0, 4.8), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    top = _MIN_TOP_NG_PER_ML
    end = 0.0
    schedules: list[Schedule] = []
    names: list[str] = []

    if population is not None:
        times = population.times_min
        low, high = population.band(5.0), population.band(95.0)
        axes.fill_between(times, low, high, color="#9db7d5", alpha=0.45, lw=0, label="5–95 %")
        axes.plot(times, population.band(50.0), color="#1f4e79", lw=1.6, ls="--", label="median")
        top = max(top, float(high.max()))
        end = max(end, float(times[-1]))
        schedules.append(population.schedule)
        names.append(population.model)

    for index, curve in enumerate(curves):
        colour = _CURVE_COLOURS[index % len(_CURVE_COLOURS)]
        label = _model_title(curve.model)
        axes.plot(curve.times_min, curve.plasma_ng_per_ml, color=colour, lw=2.0, label=label)
        if curve.effect_ng_per_ml is not None:
            axes.plot(
                curve.times_min,
                curve.effect_ng_per_ml,
                color=colour,
                lw=1.2,
                ls=":",
                label=f"{label}: effect site (assumed ke0)",
            )
        top = max(top, float(curve.plasma_ng_per_ml.max()))
        end = max(end, float(curve.times_min[-1]))
        schedules.append(curve.schedule)
        names.append(curve.model)

    top *= 1.12  # headroom for the peak and the band labels
    _draw_infusions(axes, schedules, end)
    _draw_landmarks(axes, landmarks, top, end)
    axes.set_xlim(0.0, end if end > 0 else 1.0)
    axes.set_ylim(0.0, top)
    axes.set_xlabel("Time since start (min)")
    axes.set_ylabel("Plasma concentration (ng/mL)")
    axes.grid(True, color="#dddddd", lw=0.6)
    shown = ", ".join(dict.fromkeys(_model_title(name) for name in names))
    figure.suptitle(title or "Ketamine plasma concentration", fontsize=12)
    axes.set_title(f"Model: {shown}. {DISCLAIMER}", fontsize=8, color="#555555", loc="left")
    figure.legend(loc="outside lower center", ncols=3, fontsize=8, frameon=False)
    buffer = io.BytesIO()
    figure.savefig(buffer, format=fmt, dpi=120, metadata=_metadata(fmt))
    return buffer.getvalue()


def _draw_infusions(axes: Axes, schedules: Sequence[Schedule], end: float) -> None:
    """Shade each infusion period once, labelled in the legend as "infusion"."""
    labelled = False
    seen: set[tuple[float, float]] = set()
    for schedule in schedules:
        for infusion in schedule.infusions:
            span = (infusion.start_min, min(infusion.end_min, end))
            if span in seen or span[0] >= end:
                continue
            seen.add(span)
            axes.axvspan(
                *span, color="#888888", alpha=0.10, lw=0, label=None if labelled else "infusion"
            )
            labelled = True


def _draw_landmarks(axes: Axes, landmarks: Sequence[Landmark], top: float, end: float) -> None:
    """Bands inside the plotted range, labelled at their left; a note for those above it."""
    above: list[str] = []
    for landmark in landmarks:
        colour = _BAND_COLOURS.get(landmark.key, "#999999")
        range_text = f"{landmark.low_ng_per_ml:,.0f}–{landmark.high_ng_per_ml:,.0f} ng/mL"
        if landmark.low_ng_per_ml >= top:
            above.append(f"{landmark.label} {range_text}")
            continue
        axes.axhspan(
            landmark.low_ng_per_ml, min(landmark.high_ng_per_ml, top), color=colour, alpha=0.08
        )
        axes.text(
            end * 0.005,
            landmark.high_ng_per_ml if landmark.high_ng_per_ml < top else top,
            f" {landmark.label} ({range_text}; {landmark.provenance.reference})",
            fontsize=7,
            color=colour,
            va="top",
        )
    if above:
        axes.text(
            0.99,
            0.02,
            "Above this range: " + "; ".join(above),
            transform=axes.transAxes,
            fontsize=7,
            color="#555555",
            ha="right",
        )


def _model_title(name: str) -> str:
    model = MODELS.get(name)
    return model.title if model is not None else name


def _metadata(fmt: PlotFormat) -> dict[str, str | None]:
    # No creation date: the same curves give the same bytes (SVG), which keeps files diffable.
    if fmt == "svg":
        return {"Date": None, "Creator": "ketaclinic"}
    return {"Software": "ketaclinic"}
