"""The vitals chart of one infusion session: blood pressure and heart rate above, SpO2 below,
the alert thresholds as dashed lines (labelled with their source), the infusion shaded.

matplotlib through ``Figure`` and ``FigureCanvasAgg`` only (no pyplot global state), rendered
to SVG for the session page and the printed record. Readings set aside as implausible are drawn
as grey crosses, apart from the lines.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import DateFormatter
from matplotlib.figure import Figure

from ketaclinic.domain.vitals import VitalKind
from ketaclinic.services.chair_ports import StoredReading

_SERIES = (
    (VitalKind.BP_SYSTOLIC, "Systolic BP (mmHg)", "#b3261e", "v"),
    (VitalKind.BP_DIASTOLIC, "Diastolic BP (mmHg)", "#d9822b", "^"),
    (VitalKind.HEART_RATE, "Heart rate (/min)", "#11607a", "o"),
)
_SPO2_COLOUR = "#5b3f8c"
PNG_DPI = 150  # sharp on paper at the printed width (about 18 cm)


@dataclass(frozen=True, slots=True)
class ThresholdLine:
    """A dashed horizontal line: ``value`` on the BP/HR panel, or on the SpO2 panel."""

    label: str
    value: float
    spo2: bool = False


def render_vitals_chart(
    readings: Sequence[StoredReading],
    *,
    tz: dt.tzinfo,
    infusion_start: dt.datetime | None,
    infusion_end: dt.datetime | None,
    now: dt.datetime,
    thresholds: Sequence[ThresholdLine] = (),
    title: str = "Vital signs",
    image_format: Literal["svg", "png"] = "svg",
) -> bytes:
    """The chart as SVG (or, for the PDF record, PNG at ``PNG_DPI``) bytes; times are shown in
    ``tz`` (the site's zone)."""
    figure = Figure(figsize=(8.0, 4.6), layout="constrained")
    FigureCanvasAgg(figure)
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=(3, 1.4))
    usable = [r for r in readings if r.usable]
    odd = [r for r in readings if not r.usable]
    times = [r.reading.observed_at for r in readings]
    first = min([*times, infusion_start or now, now - dt.timedelta(minutes=10)])
    last = max([*times, now])
    for kind, label, colour, marker in _SERIES:
        points = [
            (r.reading.observed_at, r.reading.value) for r in usable if r.reading.kind is kind
        ]
        if points:
            xs, ys = zip(*points, strict=True)
            top.plot(xs, ys, color=colour, marker=marker, ms=4, lw=1.6, label=label)
    spo2 = [
        (r.reading.observed_at, r.reading.value) for r in usable if r.reading.kind is VitalKind.SPO2
    ]
    if spo2:
        xs, ys = zip(*spo2, strict=True)
        bottom.plot(xs, ys, color=_SPO2_COLOUR, marker="o", ms=3, lw=1.4, label="SpO2 (%)")
    for axes, want_spo2 in ((top, False), (bottom, True)):
        crosses = [
            (r.reading.observed_at, r.reading.value)
            for r in odd
            if (r.reading.kind is VitalKind.SPO2) == want_spo2
        ]
        if crosses:
            xs, ys = zip(*crosses, strict=True)
            axes.scatter(xs, ys, marker="x", color="#888888", label="set aside (implausible)")
    for line in thresholds:
        axes = bottom if line.spo2 else top
        axes.axhline(line.value, color="#777777", lw=0.9, ls="--")
        axes.annotate(
            line.label,
            xy=(1.0, line.value),
            xycoords=("axes fraction", "data"),
            xytext=(-4, 2),
            textcoords="offset points",
            ha="right",
            fontsize=7,
            color="#555555",
        )
    if infusion_start is not None:
        for axes in (top, bottom):
            _shade(axes, infusion_start, infusion_end or now)
    top.set_ylabel("mmHg · /min")
    top.set_ylim(30, 220)
    bottom.set_ylabel("SpO2 %")
    bottom.set_ylim(80, 101)
    bottom.set_xlim(first, last)
    bottom.xaxis.set_major_formatter(DateFormatter("%H:%M", tz=tz))  # type: ignore[no-untyped-call]
    for axes in (top, bottom):
        axes.grid(True, color="#e3e3e3", lw=0.6)
    top.set_title(title, fontsize=11, loc="left")
    handles, labels = top.get_legend_handles_labels()
    more_handles, more_labels = bottom.get_legend_handles_labels()
    if handles or more_handles:
        figure.legend(
            handles + more_handles,
            labels + more_labels,
            loc="outside lower center",
            ncols=4,
            fontsize=7,
            frameon=False,
        )
    buffer = io.BytesIO()
    if image_format == "png":
        figure.savefig(buffer, format="png", dpi=PNG_DPI, metadata={"Software": None})
    else:
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def _shade(axes: Axes, start: dt.datetime, end: dt.datetime) -> None:
    axes.axvspan(start, end, color="#cfe3ec", alpha=0.45, lw=0)  # type: ignore[arg-type]
