"""Exact simulation of one patient: plasma (and effect-site) concentration for any schedule.

:func:`simulate` solves the linear compartment model exactly for a piecewise-constant schedule
(see ``pk/linear.py`` for the maths): every grid point inside a constant-rate segment is computed
at once from the eigendecomposition, so cost grows with the number of points and segments, never
with a fixed integration step. Concentrations are ng/mL (mg/L × 1000), times minutes.

Values are right-continuous: at the time of a bolus the concentration includes it. Curves are
illustrative and never drive dosing (REFERENCE.md §4.4).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ketaclinic.domain.errors import InvalidInput
from ketaclinic.pk.linear import FloatArray, decompose, solve
from ketaclinic.pk.models import ModelParams
from ketaclinic.pk.schedule import Schedule, check_times

NG_PER_ML_PER_MG_PER_L = 1000.0
# Shown with every curve, in every output (REFERENCE.md §4.4).
DISCLAIMER = "Illustrative; never drives dosing."


@dataclass(frozen=True, slots=True)
class Summary:
    """Figures of a simulated curve, taken on its time grid.

    ``cmax_ng_per_ml``/``tmax_min``: the highest grid value and its (first) time.
    ``auc_ng_min_per_ml``: the exact area under the plasma curve from 0 to the last grid time.
    ``time_above_min``: time spent above ``threshold_ng_per_ml``, crossings interpolated
    linearly between grid points (``None`` without a threshold).
    """

    cmax_ng_per_ml: float
    tmax_min: float
    auc_ng_min_per_ml: float
    threshold_ng_per_ml: float | None = None
    time_above_min: float | None = None


@dataclass(frozen=True, slots=True, eq=False)
class SimulationResult:
    """Concentrations of one simulation; arrays are read-only.

    ``times_min`` (T,); ``plasma_ng_per_ml`` (T,); ``effect_ng_per_ml`` (T,) when the model has
    a ke0 (always an *assumed* ke0, REFERENCE.md §4.2), else ``None``; ``total_auc_ng_min_per_ml``
    the exact area under plasma from 0 to the last time. With ``detail=True``: ``amounts_mg``
    (T, n) drug in each compartment and ``auc_ng_min_per_ml`` (T,) the cumulative exact area;
    otherwise ``None`` (they cost more than the curve itself).
    """

    params: ModelParams
    schedule: Schedule
    times_min: FloatArray
    plasma_ng_per_ml: FloatArray
    effect_ng_per_ml: FloatArray | None
    total_auc_ng_min_per_ml: float
    amounts_mg: FloatArray | None = None
    auc_ng_min_per_ml: FloatArray | None = None

    @property
    def model(self) -> str:
        return self.params.model

    @property
    def effect_site_assumed(self) -> bool:
        """Always true when an effect-site curve exists: no ke0 is published (§4.2)."""
        return self.effect_ng_per_ml is not None

    def summary(self, threshold_ng_per_ml: float | None = None) -> Summary:
        """Cmax, Tmax, AUC and (with a threshold in ng/mL) time above it."""
        plasma = self.plasma_ng_per_ml
        peak = int(np.argmax(plasma))
        above = None
        if threshold_ng_per_ml is not None:
            above = time_above(self.times_min, plasma, threshold_ng_per_ml)
        return Summary(
            cmax_ng_per_ml=float(plasma[peak]),
            tmax_min=float(self.times_min[peak]),
            auc_ng_min_per_ml=self.total_auc_ng_min_per_ml,
            threshold_ng_per_ml=threshold_ng_per_ml,
            time_above_min=above,
        )


def simulate(
    params: ModelParams, schedule: Schedule, times_min: object, *, detail: bool = False
) -> SimulationResult:
    """Solve ``params`` under ``schedule`` at ``times_min`` (sorted, minutes, ≥ 0).

    Raises :class:`InvalidInput` for bad times (see ``schedule.check_times``). Cost is
    O(T·n + K) for T times, n compartments and K schedule segments; ``detail`` adds the
    compartment amounts and the cumulative AUC at every time.
    """
    times = check_times(times_min)
    ke0 = None if params.ke0_per_min is None else np.array([params.ke0_per_min])
    modes = decompose(np.array([params.volumes_l]), np.array([params.clearances_l_per_min]))
    plan = schedule.plan()
    trajectory = solve(modes, plan, times, ke0_per_min=ke0, with_auc=detail, with_amounts=detail)
    # The exact area to the last time needs the solution at that one time only.
    final = solve(modes, plan, times[-1:], with_auc=True)
    total_auc = 0.0 if final.auc is None else float(final.auc[0, 0])
    effect = amounts = auc = None
    if trajectory.effect is not None:
        effect = _frozen(trajectory.effect[:, 0] * NG_PER_ML_PER_MG_PER_L)
    if trajectory.amounts is not None:
        amounts = _frozen(trajectory.amounts[:, 0, :])
    if trajectory.auc is not None:
        auc = _frozen(trajectory.auc[:, 0] * NG_PER_ML_PER_MG_PER_L)
    return SimulationResult(
        params=params,
        schedule=schedule,
        times_min=times,
        plasma_ng_per_ml=_frozen(
            np.asarray(trajectory.plasma[:, 0], dtype=np.float64) * NG_PER_ML_PER_MG_PER_L
        ),
        effect_ng_per_ml=effect,
        total_auc_ng_min_per_ml=total_auc * NG_PER_ML_PER_MG_PER_L,
        amounts_mg=amounts,
        auc_ng_min_per_ml=auc,
    )


def time_above(times_min: FloatArray, values: FloatArray, threshold: float) -> float:
    """Minutes during which ``values`` exceed ``threshold``, linear between grid points."""
    if not np.isfinite(threshold):
        raise InvalidInput.for_field("threshold_ng_per_ml", threshold, "a finite concentration")
    if times_min.shape[0] < 2:
        return 0.0
    excess = values - threshold
    left, right = excess[:-1], excess[1:]
    width = np.diff(times_min)
    both = (left > 0) & (right > 0)
    crossing = (left > 0) != (right > 0)
    span = np.abs(left - right)
    # Where the curve crosses the threshold, the part above is the share of the interval on the
    # positive side of the straight line between the two grid values.
    share = np.where(crossing, np.maximum(left, right) / np.where(span > 0, span, 1.0), 0.0)
    return float(np.sum(width * np.where(both, 1.0, share)))


def _frozen(array: FloatArray) -> FloatArray:
    result = np.ascontiguousarray(array)
    result.setflags(write=False)
    return result
