"""Outcomes of a treatment series: change from baseline, response, remission, reliable and
clinically significant change, durability of response, and cohort statistics.

Definitions (REFERENCE.md §8.1), each a clinic-owned :class:`Threshold` with its provenance:

- **baseline** = the last score dated on or before the first infusion of the series;
- **change** = baseline − current (positive = better, for symptom scales where lower is better);
  **percent change** = 100 × change / baseline (undefined for a baseline of 0);
- **response** = a reduction of at least 30 % [cited: Feder 2021, on CAPS-5; applying it to
  PCL-5 is a design choice];
- **remission** = total < 33 [unverified: Albott 2018] by default, or total ≤ 28 [cited: Marx
  2022, the clinically significant end state] as the alternative;
- **reliable change** = change ≥ 15 points [cited: Marx 2022];
- **clinically significant improvement** = reliable change and total ≤ 28 [cited: Marx 2022];
- **durability** = days from the first follow-up score meeting response to the first later score
  that no longer does (loss of response); still responding at the last score is censored.

Cohort helpers are vectorised with NumPy (10,000 patients in one call); the confidence interval
of a mean uses the t-distribution (SciPy). Pure functions; dates are passed in, never read.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt

from ketaclinic.domain.errors import InvalidInput
from ketaclinic.domain.provenance import Threshold, cited, unverified

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


class Comparison(StrEnum):
    BELOW = "below"
    AT_OR_BELOW = "at_or_below"


@dataclass(frozen=True, slots=True)
class ScoreCriterion:
    """A total below (or at or below) a threshold, e.g. remission = total < 33."""

    threshold: Threshold
    comparison: Comparison

    def met(self, totals: FloatArray) -> BoolArray:
        """Element-wise test of ``totals`` (shape ``(n,)``) against the threshold."""
        if self.comparison is Comparison.BELOW:
            return np.less(totals, self.threshold.value)
        return np.less_equal(totals, self.threshold.value)

    def describe(self) -> str:
        sign = "<" if self.comparison is Comparison.BELOW else "≤"
        return f"total {sign} {_number(self.threshold.value)} {self.threshold.provenance.label()}"


PCL5_RESPONSE = Threshold(
    "pcl5.response_min_reduction_pct",
    30.0,
    "%",
    cited("Feder 2021 (on CAPS-5; use with PCL-5 is a design choice)", "§8.1"),
)
PCL5_REMISSION_BELOW_33 = ScoreCriterion(
    Threshold("pcl5.remission_below", 33.0, "{score}", unverified("Albott 2018", "§8.1")),
    Comparison.BELOW,
)
PCL5_REMISSION_AT_OR_BELOW_28 = ScoreCriterion(
    Threshold(
        "pcl5.remission_at_or_below",
        28.0,
        "{score}",
        cited("Marx 2022 (clinically significant end state)", "§8.1"),
    ),
    Comparison.AT_OR_BELOW,
)
PCL5_RELIABLE_CHANGE = Threshold(
    "pcl5.reliable_change_min", 15.0, "{score}", cited("Marx 2022", "§8.1")
)
PCL5_CLINICALLY_SIGNIFICANT = ScoreCriterion(
    Threshold(
        "pcl5.clinically_significant_at_or_below", 28.0, "{score}", cited("Marx 2022", "§8.1")
    ),
    Comparison.AT_OR_BELOW,
)


@dataclass(frozen=True, slots=True)
class OutcomeDefinitions:
    """The thresholds used to judge change. Defaults are REFERENCE.md §8.1's PCL-5 values; a
    clinic replaces any of them (``Threshold.with_value``) and the provenance travels along."""

    response_min_reduction_pct: Threshold = PCL5_RESPONSE
    remission: ScoreCriterion = PCL5_REMISSION_BELOW_33
    reliable_change_min: Threshold = PCL5_RELIABLE_CHANGE
    clinically_significant: ScoreCriterion = PCL5_CLINICALLY_SIGNIFICANT

    def __post_init__(self) -> None:
        pct = self.response_min_reduction_pct
        if not 0 < pct.value <= 100:
            raise InvalidInput.for_field(pct.key, pct.value, "a reduction between 0 and 100 %")
        for threshold in (
            self.remission.threshold,
            self.reliable_change_min,
            self.clinically_significant.threshold,
        ):
            if not math.isfinite(threshold.value) or threshold.value < 0:
                raise InvalidInput.for_field(threshold.key, threshold.value, "a score ≥ 0")

    def as_dict(self) -> dict[str, str]:
        """Each definition in words with its provenance, for display beside the results."""
        pct, rc = self.response_min_reduction_pct, self.reliable_change_min
        return {
            "response": f"reduction ≥ {_number(pct.value)} % {pct.provenance.label()}",
            "remission": self.remission.describe(),
            "reliable_change": f"change ≥ {_number(rc.value)} {rc.provenance.label()}",
            "clinically_significant": (
                f"reliable change and {self.clinically_significant.describe()}"
            ),
        }


PCL5_DEFAULTS = OutcomeDefinitions()


@dataclass(frozen=True, slots=True)
class Classified:
    """Element-wise outcome of comparing current totals with baseline totals (arrays ``(n,)``).

    ``percent_change`` is NaN where the baseline is 0 (no reduction can be a percentage of 0);
    such a patient never counts as a responder.
    """

    change: FloatArray
    percent_change: FloatArray
    response: BoolArray
    remission: BoolArray
    reliable_change: BoolArray
    clinically_significant: BoolArray


def classify(
    baseline_totals: Any, current_totals: Any, definitions: OutcomeDefinitions = PCL5_DEFAULTS
) -> Classified:
    """Vectorised outcome classification of paired totals (sequences or arrays of equal length).

    Raises :class:`InvalidInput` naming the first total that is not a finite number ≥ 0, or a
    length mismatch.
    """
    baseline = _totals("baseline_totals", baseline_totals)
    current = _totals("current_totals", current_totals)
    if baseline.shape != current.shape:
        raise InvalidInput.for_field(
            "current_totals", current.size, f"{baseline.size} totals, one per baseline"
        )
    change = baseline - current
    positive = baseline > 0
    percent = np.full(baseline.shape, np.nan)
    np.divide(100.0 * change, baseline, out=percent, where=positive)
    # change/baseline ≥ pct/100, compared as products so 15/50 is exactly 30 %.
    response = positive & (
        100.0 * change >= definitions.response_min_reduction_pct.value * baseline
    )
    reliable = change >= definitions.reliable_change_min.value
    return Classified(
        change=change,
        percent_change=percent,
        response=response,
        remission=definitions.remission.met(current),
        reliable_change=reliable,
        clinically_significant=reliable & definitions.clinically_significant.met(current),
    )


# --- one patient -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DatedScore:
    """A total (e.g. PCL-5) on a calendar date."""

    on: dt.date
    total: float

    def __post_init__(self) -> None:
        if isinstance(self.on, dt.datetime) or not isinstance(self.on, dt.date):
            raise InvalidInput.for_field("on", self.on, "a calendar date")
        if isinstance(self.total, bool) or not isinstance(self.total, int | float):
            raise InvalidInput.for_field("total", self.total, "a number ≥ 0")
        if not math.isfinite(self.total) or self.total < 0:
            raise InvalidInput.for_field("total", self.total, "a number ≥ 0")


@dataclass(frozen=True, slots=True)
class OutcomePoint:
    """One follow-up score judged against the baseline."""

    on: dt.date
    total: float
    days_since_first_infusion: int
    change: float
    percent_change: float | None
    response: bool
    remission: bool
    reliable_change: bool
    clinically_significant: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "on": self.on.isoformat(),
            "total": self.total,
            "days_since_first_infusion": self.days_since_first_infusion,
            "change": self.change,
            "percent_change": self.percent_change,
            "response": self.response,
            "remission": self.remission,
            "reliable_change": self.reliable_change,
            "clinically_significant": self.clinically_significant,
        }


@dataclass(frozen=True, slots=True)
class Durability:
    """How long a response lasted.

    ``days`` = loss of response − first response when response was lost; when the patient still
    responds at the last score, ``censored`` is true and ``days`` counts to that score. Both are
    ``None`` if the patient never responded.
    """

    first_response_on: dt.date | None
    loss_of_response_on: dt.date | None
    days: int | None
    censored: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "first_response_on": _iso(self.first_response_on),
            "loss_of_response_on": _iso(self.loss_of_response_on),
            "days": self.days,
            "censored": self.censored,
        }


@dataclass(frozen=True, slots=True)
class PatientOutcome:
    """A patient's series judged against its baseline; ``points`` are in date order."""

    first_infusion_on: dt.date
    baseline: DatedScore
    points: tuple[OutcomePoint, ...]
    durability: Durability
    definitions: OutcomeDefinitions

    @property
    def latest(self) -> OutcomePoint | None:
        return self.points[-1] if self.points else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "first_infusion_on": self.first_infusion_on.isoformat(),
            "baseline": {"on": self.baseline.on.isoformat(), "total": self.baseline.total},
            "points": [p.as_dict() for p in self.points],
            "durability": self.durability.as_dict(),
            "definitions": self.definitions.as_dict(),
        }


def assess_patient(
    scores: Sequence[DatedScore],
    first_infusion_on: dt.date,
    definitions: OutcomeDefinitions = PCL5_DEFAULTS,
) -> PatientOutcome:
    """Judge every score dated after ``first_infusion_on`` against the baseline.

    ``scores`` may come in any order but at most one per date. A score dated on the day of the
    first infusion counts as baseline (taken before dosing). Raises :class:`InvalidInput` for a
    repeated date, or when no score lies on or before the first infusion.
    """
    if isinstance(first_infusion_on, dt.datetime) or not isinstance(first_infusion_on, dt.date):
        raise InvalidInput.for_field("first_infusion_on", first_infusion_on, "a calendar date")
    seen: dict[dt.date, int] = {}
    for position, item in enumerate(scores):
        if not isinstance(item, DatedScore):
            raise InvalidInput.for_field(f"scores[{position}]", item, "a dated score")
        if item.on in seen:
            raise InvalidInput.for_field(
                f"scores[{position}].on", item.on.isoformat(), "one score per date"
            )
        seen[item.on] = position
    ordered = sorted(scores, key=lambda s: s.on)
    before = [s for s in ordered if s.on <= first_infusion_on]
    if not before:
        raise InvalidInput.for_field(
            "scores",
            len(ordered),
            f"a baseline score on or before the first infusion ({first_infusion_on.isoformat()})",
        )
    baseline = before[-1]
    follow_up = [s for s in ordered if s.on > first_infusion_on]
    judged = classify([baseline.total] * len(follow_up), [s.total for s in follow_up], definitions)
    points = tuple(
        OutcomePoint(
            on=s.on,
            total=s.total,
            days_since_first_infusion=(s.on - first_infusion_on).days,
            change=float(judged.change[n]),
            percent_change=None
            if math.isnan(judged.percent_change[n])
            else float(judged.percent_change[n]),
            response=bool(judged.response[n]),
            remission=bool(judged.remission[n]),
            reliable_change=bool(judged.reliable_change[n]),
            clinically_significant=bool(judged.clinically_significant[n]),
        )
        for n, s in enumerate(follow_up)
    )
    return PatientOutcome(
        first_infusion_on=first_infusion_on,
        baseline=baseline,
        points=points,
        durability=durability(points),
        definitions=definitions,
    )


def durability(points: Sequence[OutcomePoint]) -> Durability:
    """Time from the first responding point to the first later point that does not respond.

    ``points`` must be in date order (as :func:`assess_patient` returns them).
    """
    first = next((p for p in points if p.response), None)
    if first is None:
        return Durability(None, None, None, censored=False)
    later = [p for p in points if p.on > first.on]
    lost = next((p for p in later if not p.response), None)
    if lost is None:
        return Durability(first.on, None, (points[-1].on - first.on).days, censored=True)
    return Durability(first.on, lost.on, (lost.on - first.on).days, censored=False)


# --- cohorts ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rate:
    """``count`` of ``n`` patients."""

    count: int
    n: int

    @property
    def proportion(self) -> float:
        return self.count / self.n if self.n else math.nan

    def as_dict(self) -> dict[str, Any]:
        return {"count": self.count, "n": self.n, "proportion": self.proportion}


@dataclass(frozen=True, slots=True)
class MeanWithCI:
    """A sample mean with its two-sided confidence interval from the t-distribution.

    ``ci_low``/``ci_high`` are ``None`` for a single value (no spread can be estimated).
    """

    n: int
    mean: float
    ci_low: float | None
    ci_high: float | None
    confidence: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "mean": self.mean,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "confidence": self.confidence,
        }


def mean_with_ci(values: Any, confidence: float = 0.95) -> MeanWithCI:
    """Mean of ``values`` (shape ``(n,)``, n ≥ 1) with the interval
    mean ± t₍₁₊c₎/₂,ₙ₋₁ · s / √n, where s is the sample standard deviation (ddof = 1).

    Raises :class:`InvalidInput` for an empty sample, a non-finite value or a confidence
    outside (0, 1).
    """
    if not 0 < confidence < 1:
        raise InvalidInput.for_field("confidence", confidence, "a level between 0 and 1")
    sample = _finite("values", values)
    n = int(sample.size)
    if n == 0:
        raise InvalidInput.for_field("values", 0, "at least one value")
    mean = float(sample.mean())
    if n == 1:
        return MeanWithCI(1, mean, None, None, confidence)
    half = (
        _student_t_quantile((1 + confidence) / 2, n - 1) * float(sample.std(ddof=1)) / math.sqrt(n)
    )
    return MeanWithCI(n, mean, mean - half, mean + half, confidence)


@dataclass(frozen=True, slots=True)
class CohortSummary:
    """Rates and mean change over a cohort's baseline → current pairs."""

    n: int
    response: Rate
    remission: Rate
    reliable_change: Rate
    clinically_significant: Rate
    mean_change: MeanWithCI
    definitions: OutcomeDefinitions

    def as_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "response": self.response.as_dict(),
            "remission": self.remission.as_dict(),
            "reliable_change": self.reliable_change.as_dict(),
            "clinically_significant": self.clinically_significant.as_dict(),
            "mean_change": self.mean_change.as_dict(),
            "definitions": self.definitions.as_dict(),
        }


def cohort_summary(
    baseline_totals: Any,
    current_totals: Any,
    definitions: OutcomeDefinitions = PCL5_DEFAULTS,
    confidence: float = 0.95,
) -> CohortSummary:
    """Response, remission, reliable and clinically significant change rates and the mean change
    (with its confidence interval) over paired totals, one pair per patient (e.g. baseline and
    latest PCL-5). Vectorised: one pass over arrays of any length ≥ 1."""
    judged = classify(baseline_totals, current_totals, definitions)
    n = int(judged.change.size)
    if n == 0:
        raise InvalidInput.for_field("baseline_totals", 0, "at least one patient")

    def rate(flags: BoolArray) -> Rate:
        return Rate(int(np.count_nonzero(flags)), n)

    return CohortSummary(
        n=n,
        response=rate(judged.response),
        remission=rate(judged.remission),
        reliable_change=rate(judged.reliable_change),
        clinically_significant=rate(judged.clinically_significant),
        mean_change=mean_with_ci(judged.change, confidence),
        definitions=definitions,
    )


# --- helpers ---------------------------------------------------------------------------------


def _finite(field_name: str, values: Any) -> FloatArray:
    if isinstance(values, str | bytes):
        raise InvalidInput.for_field(field_name, values, "a list of numbers")
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInput.for_field(field_name, values, "a list of numbers") from None
    if array.ndim != 1:
        raise InvalidInput.for_field(field_name, array.shape, "a flat list of numbers")
    bad = np.flatnonzero(~np.isfinite(array))
    if bad.size:
        first = int(bad[0])
        raise InvalidInput.for_field(
            f"{field_name}[{first}]", _at(values, array, first), "a finite number"
        )
    return array


def _totals(field_name: str, values: Any) -> FloatArray:
    array = _finite(field_name, values)
    negative = np.flatnonzero(array < 0)
    if negative.size:
        first = int(negative[0])
        raise InvalidInput.for_field(
            f"{field_name}[{first}]", _at(values, array, first), "a total ≥ 0"
        )
    return array


def _at(values: Any, array: FloatArray, index: int) -> Any:
    """The caller's own value at ``index`` for an error message (``None`` stays ``None``)."""
    return values[index] if isinstance(values, Sequence) else float(array[index])


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day is not None else None


def _student_t_quantile(p: float, degrees: int) -> float:
    """Student's t quantile. scipy.stats is imported here, on first use: importing it costs
    most of a second, which every command-line start would otherwise pay."""
    from scipy import stats

    return float(stats.t.ppf(p, degrees))
