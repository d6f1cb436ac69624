"""What is given and when: infusions, boluses and the time grid a simulation is evaluated on.

A :class:`Schedule` is any mix of constant-rate infusions (overlaps add up) and instantaneous
boluses; a pause is simply a gap between infusions. :meth:`Schedule.from_rate_steps` builds one
from an administration record (start, rate changes, pause = rate 0, stop). Times are minutes
from the first administration (t = 0), drug in mg. Every value is checked on construction and a
bad one is :class:`~ketaclinic.domain.errors.InvalidInput` naming the field, value and range.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from ketaclinic.domain.errors import InvalidInput
from ketaclinic.pk.linear import FloatArray, Plan

# Bounds (design). Beyond them a value is a typing error, not a ketamine administration:
# a week is longer than any infusion plus observation; 100 mg/min is ~20× an anaesthetic
# maintenance rate; 1 g is several anaesthetic induction doses.
MAX_TIME_MIN = 7 * 24 * 60.0
MAX_RATE_MG_PER_MIN = 100.0
MAX_BOLUS_MG = 1000.0
MAX_EVENTS = 10_000
MAX_STEP_S = 3600.0
MAX_POINTS = 2_000_000  # 16 MB per float64 curve; a week at a 1-s step is 604,801


@dataclass(frozen=True, slots=True)
class Infusion:
    """``rate_mg_per_min`` from ``start_min`` for ``duration_min`` minutes."""

    start_min: float
    duration_min: float
    rate_mg_per_min: float

    def __post_init__(self) -> None:
        _check("start_min", self.start_min, 0.0, MAX_TIME_MIN, "min")
        _check("duration_min", self.duration_min, 0.0, MAX_TIME_MIN, "min", open_low=True)
        _check("rate_mg_per_min", self.rate_mg_per_min, 0.0, MAX_RATE_MG_PER_MIN, "mg/min")

    @property
    def end_min(self) -> float:
        return self.start_min + self.duration_min

    @property
    def dose_mg(self) -> float:
        return self.rate_mg_per_min * self.duration_min


@dataclass(frozen=True, slots=True)
class Bolus:
    """``dose_mg`` given at once at ``t_min`` (for cross-checks; the clinic has no push mode)."""

    t_min: float
    dose_mg: float

    def __post_init__(self) -> None:
        _check("t_min", self.t_min, 0.0, MAX_TIME_MIN, "min")
        _check("dose_mg", self.dose_mg, 0.0, MAX_BOLUS_MG, "mg")


@dataclass(frozen=True, slots=True)
class Schedule:
    """Infusions and boluses; order does not matter."""

    infusions: tuple[Infusion, ...] = ()
    boluses: tuple[Bolus, ...] = ()

    def __post_init__(self) -> None:
        events = len(self.infusions) + len(self.boluses)
        if events > MAX_EVENTS:
            raise InvalidInput.for_field("schedule", events, f"at most {MAX_EVENTS} events")
        for infusion in self.infusions:
            if infusion.end_min > MAX_TIME_MIN:
                raise InvalidInput.for_field(
                    "end_min", infusion.end_min, f"an infusion ending by {MAX_TIME_MIN:g} min"
                )

    @classmethod
    def single_infusion(
        cls, dose_mg: float, duration_min: float, start_min: float = 0.0
    ) -> Schedule:
        """``dose_mg`` at a constant rate over ``duration_min``."""
        _check("duration_min", duration_min, 0.0, MAX_TIME_MIN, "min", open_low=True)
        _check("dose_mg", dose_mg, 0.0, MAX_RATE_MG_PER_MIN * MAX_TIME_MIN, "mg")
        return cls(infusions=(Infusion(start_min, duration_min, dose_mg / duration_min),))

    @classmethod
    def from_rate_steps(cls, steps: Sequence[tuple[float, float]], stop_min: float) -> Schedule:
        """From an administration record: each ``(t_min, rate_mg_per_min)`` sets the rate from
        ``t_min`` on (0 = paused) until the next step; everything stops at ``stop_min``.

        Step times must increase strictly and lie before ``stop_min``.
        """
        _check("stop_min", stop_min, 0.0, MAX_TIME_MIN, "min")
        infusions: list[Infusion] = []
        for index, (t_min, rate) in enumerate(steps):
            end = steps[index + 1][0] if index + 1 < len(steps) else stop_min
            if not end > t_min:
                raise InvalidInput.for_field(
                    f"steps[{index + 1}].t_min" if index + 1 < len(steps) else "stop_min",
                    end,
                    f"a time after {t_min:g} min",
                )
            if rate > 0:
                infusions.append(Infusion(t_min, end - t_min, rate))
            else:
                _check(f"steps[{index}].rate_mg_per_min", rate, 0.0, MAX_RATE_MG_PER_MIN, "mg/min")
        return cls(infusions=tuple(infusions))

    @classmethod
    def from_segments(
        cls,
        segments: Iterable[tuple[float, float, float]],
        boluses: Iterable[tuple[float, float]] = (),
    ) -> Schedule:
        """From delivered ``(start_min, end_min, rate_mg_per_min)`` segments and
        ``(t_min, dose_mg)`` boluses, as an administration record yields them. Segments of zero
        length or zero rate are skipped (nothing was given); a segment ending before it starts
        or with a negative rate is :class:`InvalidInput`."""
        infusions = tuple(
            Infusion(start, end - start, rate)
            for start, end, rate in segments
            if end != start and rate != 0
        )
        return cls(infusions, tuple(Bolus(t_min, dose) for t_min, dose in boluses))

    @property
    def total_dose_mg(self) -> float:
        return sum(i.dose_mg for i in self.infusions) + sum(b.dose_mg for b in self.boluses)

    @property
    def end_min(self) -> float:
        """When the last administration ends (0 for an empty schedule)."""
        ends = [i.end_min for i in self.infusions] + [b.t_min for b in self.boluses]
        return max(ends, default=0.0)

    def shifted(self, offset_min: float) -> Schedule:
        """The same schedule ``offset_min`` later."""
        return Schedule(
            tuple(
                Infusion(i.start_min + offset_min, i.duration_min, i.rate_mg_per_min)
                for i in self.infusions
            ),
            tuple(Bolus(b.t_min + offset_min, b.dose_mg) for b in self.boluses),
        )

    def plan(self) -> Plan:
        """The piecewise-constant input: segment starts, rate per segment, bolus per start."""
        edges = {0.0}
        edges.update(i.start_min for i in self.infusions)
        edges.update(i.end_min for i in self.infusions)
        edges.update(b.t_min for b in self.boluses)
        starts = np.array(sorted(edges))
        rates = np.zeros_like(starts)
        boluses = np.zeros_like(starts)
        for infusion in self.infusions:
            first = int(np.searchsorted(starts, infusion.start_min))
            last = int(np.searchsorted(starts, infusion.end_min))
            rates[first:last] += infusion.rate_mg_per_min
        for bolus in self.boluses:
            boluses[int(np.searchsorted(starts, bolus.t_min))] += bolus.dose_mg
        return Plan(starts, rates, boluses)


def time_grid(horizon_min: float, step_s: float) -> FloatArray:
    """Times 0, step, 2·step, … up to ``horizon_min`` (included when it falls on a step), in
    minutes. ``step_s`` is in seconds and may not exceed the horizon."""
    _check("horizon_min", horizon_min, 0.0, MAX_TIME_MIN, "min", open_low=True)
    _check("step_s", step_s, 0.0, MAX_STEP_S, "s", open_low=True)
    if step_s > horizon_min * 60.0:
        raise InvalidInput.for_field(
            "step_s", step_s, f"at most the horizon ({horizon_min * 60.0:g} s)"
        )
    # The small allowance keeps the last point when horizon/step is whole but not exactly so
    # in binary (e.g. 280 min at 0.1 s).
    ratio = horizon_min * 60.0 / step_s
    steps = math.floor(ratio + 1e-9) if math.isfinite(ratio) and ratio < MAX_POINTS else MAX_POINTS
    if steps + 1 > MAX_POINTS:
        raise InvalidInput.for_field(
            "step_s",
            step_s,
            f"a step giving at most {MAX_POINTS:,} points over {horizon_min:g} min "
            f"(at least {horizon_min * 60.0 / (MAX_POINTS - 1):.3g} s)",
        )
    return np.arange(steps + 1, dtype=np.float64) * (step_s / 60.0)


def check_times(times_min: object) -> FloatArray:
    """``times_min`` as a read-only float array (T,), or :class:`InvalidInput`: it must be
    one-dimensional, non-empty, finite, non-negative, non-decreasing and not too long."""
    try:
        times = np.array(times_min, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInput.for_field("times_min", times_min, "a sequence of numbers") from None
    if times.ndim != 1 or not (1 <= times.shape[0] <= MAX_POINTS):
        raise InvalidInput.for_field(
            "times_min", f"array of shape {times.shape}", f"1 to {MAX_POINTS:,} times"
        )
    if not np.all(np.isfinite(times)) or times[0] < 0 or times[-1] > MAX_TIME_MIN:
        raise InvalidInput.for_field(
            "times_min",
            f"{times.min():g}..{times.max():g}",
            f"finite times in 0–{MAX_TIME_MIN:g} min",
        )
    if np.any(np.diff(times) < 0):
        raise InvalidInput.for_field("times_min", "unsorted times", "non-decreasing times")
    times.setflags(write=False)
    return times


def _check(
    field: str, value: float, low: float, high: float, unit: str, *, open_low: bool = False
) -> None:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if not number or not math.isfinite(value):
        raise InvalidInput.for_field(field, value, f"a number in {low:g}–{high:g} {unit}")
    if (value <= low if open_low else value < low) or value > high:
        relation = f"more than {low:g} and at most" if open_low else f"{low:g} to"
        raise InvalidInput.for_field(field, value, f"{relation} {high:g} {unit}")
