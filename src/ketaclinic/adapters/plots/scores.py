"""Symptom-score trajectories: PCL-5 total and clusters, PHQ-9 and GAD-7 over time.

:func:`render_score_plot` draws two stacked axes sharing the date axis:

* top: the PCL-5 total (thick) and clusters B–E (thin), with the remission line and the
  response line (baseline reduced by the response percentage) when the caller gives them, each
  labelled with its source;
* bottom: PHQ-9 and GAD-7 totals;
* infusion markers as thin dotted vertical lines on both axes (``infusions_at``: infusion
  sessions that started), and booked visits with no session started as dashed lines of another
  colour (``unstarted_visits_at``), each with its legend entry.

Dates are plotted as given (the caller converts them to the site's local time). matplotlib is
used through ``Figure`` and ``FigureCanvasAgg`` only: no pyplot, no global state.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, date2num
from matplotlib.figure import Figure

from ketaclinic.domain.errors import InvalidInput

PlotFormat = Literal["svg", "png"]
_CLUSTER_COLOURS = {"B": "#7a3b8f", "C": "#2a7f62", "D": "#b0413e", "E": "#8c5a2b"}
_PCL5_COLOUR = "#1f4e79"
_PHQ9_COLOUR = "#11607a"
_GAD7_COLOUR = "#d99a2b"
_UNSTARTED_COLOUR = "#b5477a"


@dataclass(frozen=True, slots=True)
class ScorePoint:
    """One scored response: when (naive local or aware), total, and subscales by id."""

    at: dt.datetime
    total: float
    subscales: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ReferenceLine:
    """A horizontal line on the PCL-5 axis with its label (value and source)."""

    value: float
    label: str


def render_score_plot(
    *,
    pcl5: Sequence[ScorePoint] = (),
    phq9: Sequence[ScorePoint] = (),
    gad7: Sequence[ScorePoint] = (),
    remission: ReferenceLine | None = None,
    response: ReferenceLine | None = None,
    infusions_at: Sequence[dt.datetime] = (),
    unstarted_visits_at: Sequence[dt.datetime] = (),
    fmt: PlotFormat = "svg",
    title: str = "Symptom scores",
) -> bytes:
    """The figure as SVG or PNG bytes; with no points at all it says so instead of plotting."""
    if fmt not in ("svg", "png"):
        raise InvalidInput.for_field("format", fmt, "svg or png")
    figure = Figure(figsize=(8.0, 6.2), layout="constrained")
    FigureCanvasAgg(figure)
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    figure.suptitle(title, fontsize=12)
    if not (pcl5 or phq9 or gad7):
        for axes in (top, bottom):
            axes.set_axis_off()
        top.text(0.5, 0.5, "No scores recorded yet", ha="center", va="center", fontsize=11)
        return _save(figure, fmt)

    _draw_pcl5(top, pcl5, remission, response)
    _draw_series(bottom, phq9, "PHQ-9", _PHQ9_COLOUR, 27)
    _draw_series(bottom, gad7, "GAD-7", _GAD7_COLOUR, 21)
    bottom.set_ylabel("PHQ-9 / GAD-7 total")
    bottom.set_ylim(0, 28)
    for axes in (top, bottom):
        for n, at in enumerate(sorted(infusions_at)):
            axes.axvline(
                _day_number(at),
                color="#888888",
                lw=0.8,
                ls=":",
                label="infusion" if n == 0 and axes is top else None,
            )
        for n, at in enumerate(sorted(unstarted_visits_at)):
            axes.axvline(
                _day_number(at),
                color=_UNSTARTED_COLOUR,
                lw=0.9,
                ls=(0, (5, 3)),
                label="booked visit, no infusion started" if n == 0 and axes is top else None,
            )
        axes.grid(True, color="#dddddd", lw=0.6)
    # matplotlib.dates ships without type annotations.
    locator = AutoDateLocator(minticks=3, maxticks=8)  # type: ignore[no-untyped-call]
    bottom.xaxis.set_major_locator(locator)
    bottom.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    # One legend below both axes, so no label ever covers a score.
    figure.legend(loc="outside lower center", fontsize=7, ncols=4, frameon=False)
    return _save(figure, fmt)


def _draw_pcl5(
    axes: Axes,
    points: Sequence[ScorePoint],
    remission: ReferenceLine | None,
    response: ReferenceLine | None,
) -> None:
    axes.set_ylabel("PCL-5 (total 0–80)")
    axes.set_ylim(0, 84)
    if points:
        times = _dates(points)
        axes.plot(
            times,
            [p.total for p in points],
            color=_PCL5_COLOUR,
            lw=2.2,
            marker="o",
            ms=4,
            label="PCL-5 total",
        )
        for cluster, colour in _CLUSTER_COLOURS.items():
            if all(cluster in p.subscales for p in points):
                values = [p.subscales[cluster] for p in points]
                axes.plot(times, values, color=colour, lw=1.0, ls="--", label=f"cluster {cluster}")
    for line, colour in ((remission, "#1e7b46"), (response, "#9a6200")):
        if line is not None:
            axes.axhline(line.value, color=colour, lw=1.1, ls="-.", label=line.label)


def _draw_series(
    axes: Axes, points: Sequence[ScorePoint], label: str, colour: str, maximum: int
) -> None:
    if not points:
        return
    axes.plot(
        _dates(points),
        [p.total for p in points],
        color=colour,
        lw=1.8,
        marker="o",
        ms=3.5,
        label=f"{label} (0–{maximum})",
    )


def _dates(points: Sequence[ScorePoint]) -> npt.NDArray[np.float64]:
    return np.array([_day_number(p.at) for p in points], dtype=np.float64)


def _day_number(at: dt.datetime) -> float:
    """matplotlib's date number (days since its epoch); matplotlib.dates is untyped."""
    return float(date2num(at))  # type: ignore[no-untyped-call]


def _save(figure: Figure, fmt: PlotFormat) -> bytes:
    buffer = io.BytesIO()
    # No creation date: the same scores give the same bytes.
    metadata = {"Date": None, "Creator": "ketaclinic"} if fmt == "svg" else {}
    figure.savefig(buffer, format=fmt, dpi=110, metadata=metadata)
    return buffer.getvalue()
