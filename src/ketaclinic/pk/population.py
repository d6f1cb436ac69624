"""Population prediction: N virtual patients with log-normal inter-individual variability.

Each virtual patient's volumes and clearances are the typical values times exp(η), η ~ N(0, ω²)
with ω² = ln(1 + CV²) so that each parameter's coefficient of variation is the given CV. The
default CVs are **design choices** (REFERENCE.md §4.2 gives no variability for these models):
they make the spread visible, not a claim about any population. ke0, which is assumed anyway,
is not varied.

Everything is vectorised across patients: one batched eigendecomposition of an (N, n, n) stack
and, per schedule segment and mode, one exponential over a (T, N) block. Patients are split into
chunks solved on a small thread pool (NumPy releases the GIL inside its array loops), and the
(T, N) plasma matrix is sorted row by row (float32, ample for bands) so percentile bands and
exceedance probabilities are read off directly. The draws depend only on the seed, never on the
number of threads.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from ketaclinic.domain.errors import InvalidInput
from ketaclinic.domain.provenance import Provenance, design
from ketaclinic.pk.linear import FloatArray, decompose, solve
from ketaclinic.pk.models import ModelParams
from ketaclinic.pk.schedule import Schedule, check_times
from ketaclinic.pk.simulate import NG_PER_ML_PER_MG_PER_L

MAX_PATIENTS = 100_000
# Cap on stored plasma values: 60 M float32 values is 240 MB. 10,000 patients on a 10-s grid
# over 280 min (16.8 M) fits with room to spare.
MAX_CELLS = 60_000_000
MAX_CV = 2.0  # design: a CV above 200 % is a typing error (e.g. 30 for 30 %)
DEFAULT_PERCENTILES = (5.0, 50.0, 95.0)
PARAMETERS = ("v1_l", "cl_l_per_min", "q2_l_per_min", "v2_l", "q3_l_per_min", "v3_l")
DEFAULT_CV: Mapping[str, float] = MappingProxyType(
    {
        "v1_l": 0.4,
        "cl_l_per_min": 0.3,
        "q2_l_per_min": 0.3,
        "v2_l": 0.3,
        "q3_l_per_min": 0.3,
        "v3_l": 0.3,
    }
)
CV_PROVENANCE: Provenance = design("illustrative variability; none published for these models")
_CHUNK = 1024  # patients per work unit: (T, chunk) float64 blocks stay a few tens of MB


@dataclass(frozen=True, slots=True, eq=False)
class PopulationResult:
    """Percentile bands and exceedance for N virtual patients.

    ``times_min`` (T,); ``bands_ng_per_ml`` maps each percentile (e.g. 5.0) to a (T,) curve;
    ``cmax_ng_per_ml`` (N,) each patient's highest grid value. ``sorted_plasma_ng_per_ml``
    (T, N) float32 holds every patient's plasma value at each time, sorted across patients.
    """

    model: str
    weight_kg: float
    schedule: Schedule
    n_patients: int
    seed: int
    cv: Mapping[str, float]
    times_min: FloatArray
    bands_ng_per_ml: Mapping[float, FloatArray]
    cmax_ng_per_ml: FloatArray
    sorted_plasma_ng_per_ml: np.ndarray = field(repr=False)
    cv_provenance: Provenance = CV_PROVENANCE

    def band(self, percentile: float) -> FloatArray:
        """The ``percentile`` curve (T,) in ng/mL, interpolated linearly between patients."""
        if not (0.0 <= percentile <= 100.0):
            raise InvalidInput.for_field("percentile", percentile, "0–100")
        return _percentile_rows(self.sorted_plasma_ng_per_ml, percentile)

    def probability_above(self, threshold_ng_per_ml: float) -> FloatArray:
        """Share of patients (T,) whose plasma exceeds ``threshold_ng_per_ml`` at each time."""
        above = (self.sorted_plasma_ng_per_ml > threshold_ng_per_ml).sum(axis=1)
        result: FloatArray = above / self.n_patients
        return result

    def probability_peak_above(self, threshold_ng_per_ml: float) -> float:
        """Share of patients whose plasma exceeds ``threshold_ng_per_ml`` at any grid time."""
        return float(np.mean(self.cmax_ng_per_ml > threshold_ng_per_ml))


def sample_parameters(
    typical: ModelParams,
    n_patients: int,
    seed: int,
    cv: Mapping[str, float] = DEFAULT_CV,
) -> tuple[FloatArray, FloatArray]:
    """Virtual patients' (volumes (N, n) L, clearances (N, n) L/min), drawn with ``seed``.

    One standard-normal vector per parameter in the fixed order of ``PARAMETERS``, so the same
    seed gives the same patients whatever else changes.
    """
    rng = np.random.default_rng(seed)
    columns: dict[str, FloatArray] = {}
    for name in PARAMETERS:
        omega = math.sqrt(math.log1p(cv[name] ** 2))
        columns[name] = getattr(typical, name) * np.exp(omega * rng.standard_normal(n_patients))
    if typical.compartments == 3:
        volumes = np.column_stack([columns["v1_l"], columns["v2_l"], columns["v3_l"]])
        clear = np.column_stack(
            [columns["cl_l_per_min"], columns["q2_l_per_min"], columns["q3_l_per_min"]]
        )
    else:
        volumes = np.column_stack([columns["v1_l"], columns["v2_l"]])
        clear = np.column_stack([columns["cl_l_per_min"], columns["q2_l_per_min"]])
    return volumes, clear


def simulate_population(
    typical: ModelParams,
    schedule: Schedule,
    times_min: object,
    n_patients: int,
    seed: int,
    *,
    cv: Mapping[str, float] | None = None,
    percentiles: tuple[float, ...] = DEFAULT_PERCENTILES,
    workers: int | None = None,
) -> PopulationResult:
    """Simulate ``n_patients`` around ``typical`` and summarise them.

    ``cv`` overrides some or all of :data:`DEFAULT_CV` (fractions: 0.3 = 30 %). ``workers``
    defaults to the number of CPUs (at most 4). Raises :class:`InvalidInput` for a patient count
    outside 1–100,000, a grid too large for that many patients, a CV outside 0–2, unknown
    parameter names or percentiles outside 0–100.
    """
    times = check_times(times_min)
    n = _check_patients(n_patients, times.shape[0])
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InvalidInput.for_field("seed", seed, "a non-negative whole number")
    chosen = _merge_cv(cv)
    for p in percentiles:
        if not (0.0 <= p <= 100.0):
            raise InvalidInput.for_field("percentiles", p, "percentiles in 0–100")
    pool_size = workers if workers is not None else min(os.cpu_count() or 1, 4)
    if isinstance(pool_size, bool) or not isinstance(pool_size, int) or pool_size < 1:
        raise InvalidInput.for_field("workers", workers, "at least 1 thread")
    volumes, clearances = sample_parameters(typical, n, seed, chosen)
    plan = schedule.plan()
    # Plasma only: the effect site (with its assumed ke0) is not part of population output.
    plasma = np.empty((times.shape[0], n), dtype=np.float32)

    def run(bounds: tuple[int, int]) -> None:
        lo, hi = bounds
        modes = decompose(volumes[lo:hi], clearances[lo:hi])
        solve(modes, plan, times, precise=False, plasma_out=plasma[:, lo:hi])
        block = plasma[:, lo:hi]
        block *= NG_PER_ML_PER_MG_PER_L
        # The fast path leaves rounding-level negatives (~1e-13 ng/mL) where nothing has been
        # given yet; a concentration cannot be negative, so they are cut to zero.
        np.maximum(block, 0.0, out=block)

    chunks = [(lo, min(lo + _CHUNK, n)) for lo in range(0, n, _CHUNK)]
    with ThreadPoolExecutor(max_workers=pool_size) as pool:
        list(pool.map(run, chunks))
        cmax = plasma.max(axis=0).astype(np.float64)
        rows = [(lo, min(lo + 256, times.shape[0])) for lo in range(0, times.shape[0], 256)]
        list(pool.map(lambda r: plasma[r[0] : r[1]].sort(axis=1), rows))
    plasma.setflags(write=False)
    cmax.setflags(write=False)
    bands = {float(p): _percentile_rows(plasma, p) for p in percentiles}
    return PopulationResult(
        model=typical.model,
        weight_kg=typical.weight_kg,
        schedule=schedule,
        n_patients=n,
        seed=seed,
        cv=MappingProxyType(chosen),
        times_min=times,
        bands_ng_per_ml=MappingProxyType(bands),
        cmax_ng_per_ml=cmax,
        sorted_plasma_ng_per_ml=plasma,
    )


def _check_patients(n_patients: int, points: int) -> int:
    if isinstance(n_patients, bool) or not isinstance(n_patients, int):
        raise InvalidInput.for_field("population", n_patients, "a whole number of patients")
    if not (1 <= n_patients <= MAX_PATIENTS):
        raise InvalidInput.for_field(
            "population", n_patients, f"1–{MAX_PATIENTS:,} virtual patients"
        )
    if n_patients * points > MAX_CELLS:
        raise InvalidInput.for_field(
            "population",
            n_patients,
            f"at most {MAX_CELLS // points:,} virtual patients on a grid of {points:,} points "
            "(use a coarser step or shorter horizon)",
        )
    return n_patients


def _merge_cv(cv: Mapping[str, float] | None) -> dict[str, float]:
    chosen = dict(DEFAULT_CV)
    for name, value in (cv or {}).items():
        if name not in DEFAULT_CV:
            raise InvalidInput.for_field("cv", name, f"one of {', '.join(PARAMETERS)}")
        if not (isinstance(value, int | float) and 0.0 <= value <= MAX_CV):
            raise InvalidInput.for_field(f"cv.{name}", value, f"a fraction in 0–{MAX_CV:g}")
        chosen[name] = float(value)
    return chosen


def _percentile_rows(sorted_rows: np.ndarray, percentile: float) -> FloatArray:
    """Linear interpolation between order statistics (NumPy's default method) on rows that are
    already sorted: index h = (N − 1)·p/100."""
    count = sorted_rows.shape[1]
    position = (count - 1) * percentile / 100.0
    low = math.floor(position)
    high = min(low + 1, count - 1)
    weight = position - low
    lower = sorted_rows[:, low].astype(np.float64)
    upper = sorted_rows[:, high].astype(np.float64)
    result: FloatArray = lower + weight * (upper - lower)
    result.setflags(write=False)
    return result
