"""Cohort outcome analytics for the clinic director: PCL-5 response and remission rates, mean
change with its 95 % confidence interval, time to response and durability, for all the
director's sites, per site and per protocol, over a date range; and the same as CSV.

Per patient (REFERENCE.md §8.1, domain/outcomes.py), with PCL-5 totals of both forms (past
month ``pcl5`` and past week ``pcl5-week``, ``mbc.PCL5_IDS``, as the patient's page counts them)
dated in the site's time zone (the last of each day, whichever form it was):

- the *first infusion* and the *protocol* follow services/mbc_timeline.py (first started infusion
  session, else first booked visit; protocol of the series holding that visit, else of the first
  signed plan). A patient with no infusion recorded is anchored on their first PCL-5, as the
  patient's own outcome page does;
- *baseline* = the last score on or before the first infusion (it may predate the range);
- *follow-up* scores = those after the first infusion and dated in the range; the last one is
  *current*. A patient counts when they have a baseline and at least one follow-up in range.

Response, remission, reliable and clinically significant change compare current with baseline
(``cohort_summary``). *Time to response* = days from the first infusion to the first follow-up
meeting response (among patients who ever responded), as the patient's page counts
``days_since_first_infusion``; *durability* = days from first response to the first later score
that no longer responds, with patients still responding at their last score censored,
summarised by the Kaplan–Meier median.

Vectorised with NumPy: one SQL query returning columns, one for the anchors, and a few array
passes (``bench/bench_cohort.py`` times 10,000 patients).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from ketaclinic.domain.audit import AuditAction
from ketaclinic.domain.errors import InvalidInput
from ketaclinic.domain.outcomes import (
    CohortSummary,
    OutcomeDefinitions,
    cohort_summary,
)
from ketaclinic.domain.people import Role
from ketaclinic.domain.protocols import protocol_catalog
from ketaclinic.services import clinic_settings
from ketaclinic.services.audit import Actor, record, require_role
from ketaclinic.services.mbc import PCL5_IDS
from ketaclinic.services.mbc_model import InfusionAnchor
from ketaclinic.services.mbc_timeline import NO_PROTOCOL, first_infusion, protocol_of
from ketaclinic.services.ports import Clock, UnitOfWork

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

INSTRUMENT = "pcl5"  # both forms count (PCL5_IDS); the report names the instrument once
ALL_SITES = "All sites"
GROUPING_NOTE = (
    "Grouped by site and by protocol: the protocol of the series holding the patient's first "
    "booked visit, else of their first signed plan; 'none' = neither is recorded."
)


@dataclass(frozen=True, slots=True)
class KaplanMeier:
    """Median of a time-to-event with right censoring (``median_days`` is ``None`` when the
    survival curve never falls to one half)."""

    events: int
    censored: int
    median_days: float | None


def kaplan_meier_median(days: Any, event: Any) -> KaplanMeier:
    """Kaplan–Meier median of ``days`` (shape ``(n,)``) where ``event`` marks an observed
    event (``False`` = censored at that time). S(t) = Π over event times tᵢ ≤ t of
    (1 − dᵢ/nᵢ), dᵢ events at tᵢ, nᵢ still at risk; the median is the first t with S(t) ≤ ½."""
    t = np.asarray(days, dtype=np.float64)
    e = np.asarray(event, dtype=bool)
    events, censored = int(e.sum()), int((~e).sum())
    if events == 0:
        return KaplanMeier(0, censored, None)
    times = np.unique(t[e])
    at_risk = np.array([(t >= x).sum() for x in times], dtype=np.float64)
    died = np.array([(t[e] == x).sum() for x in times], dtype=np.float64)
    survival = np.cumprod(1.0 - died / at_risk)
    below = np.flatnonzero(survival <= 0.5)
    median = float(times[below[0]]) if below.size else None
    return KaplanMeier(events, censored, median)


class Grouping(StrEnum):
    """What a row of the report groups by."""

    ALL = "all"
    SITE = "site"
    PROTOCOL = "protocol"


@dataclass(frozen=True, slots=True)
class CohortGroup:
    """One row of the report. ``summary`` is ``None`` when no patient qualifies. ``grouping``
    is ``all``, ``site`` or ``protocol``; ``name`` the protocol's name where known."""

    label: str
    summary: CohortSummary | None
    ever_responded: int
    median_days_to_response: float | None
    durability: KaplanMeier
    grouping: Grouping = Grouping.ALL
    name: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "grouping": self.grouping.value,
            "group": self.label,
            "name": self.name,
            "summary": self.summary.as_dict() if self.summary is not None else None,
            "ever_responded": self.ever_responded,
            "median_days_to_response": self.median_days_to_response,
            "durability": {
                "lost_response": self.durability.events,
                "still_responding": self.durability.censored,
                "median_days": self.durability.median_days,
            },
        }


@dataclass(frozen=True, slots=True)
class OutcomeReport:
    start: dt.date | None
    end: dt.date | None
    groups: tuple[CohortGroup, ...]
    definitions: OutcomeDefinitions
    grouping_note: str = GROUPING_NOTE

    def as_dict(self) -> dict[str, Any]:
        return {
            "instrument": INSTRUMENT,
            "forms": list(PCL5_IDS),
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
            "groups": [g.as_dict() for g in self.groups],
            "definitions": self.definitions.as_dict(),
            "grouping": self.grouping_note,
        }


def outcome_report(
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    definitions: OutcomeDefinitions | None = None,
) -> OutcomeReport:
    """PCL-5 outcomes of the director's sites with follow-up scores dated ``start``–``end``
    (inclusive, either open; see the module docstring). Directors only (others: audited 403).
    The read is audited."""
    principal = require_role(uow, clock, actor, "outcome_report", {Role.DIRECTOR})
    if definitions is None:  # the clinic's (services/clinic_settings.py)
        definitions = clinic_settings.clinic_outcome_definitions(uow)
    if start is not None and end is not None and end < start:
        raise InvalidInput.for_field("to", end.isoformat(), f"a date on or after {start}")
    sites = {s.id: s for s in uow.sites.all() if s.id in principal.site_ids}
    # Baselines may predate the range, so only the end is filtered in SQL (a day wider; exact
    # local dates are applied below).
    rows = uow.responses.cohort_totals(
        frozenset(PCL5_IDS),
        frozenset(sites),
        None,
        _utc_midnight(end + dt.timedelta(days=2)) if end else None,
    )
    anchors = uow.infusion_history.anchors(frozenset(sites))
    protocol_names = {p.id: p.name for p in protocol_catalog(uow.schedule.protocols()).values()}
    record(
        uow,
        clock,
        actor,
        AuditAction.READ,
        "outcome_report",
        detail=f"{len(rows)} scores",
    )
    uow.commit()
    zones = {site_id: ZoneInfo(site.timezone) for site_id, site in sites.items()}
    timezones = {site_id: site.timezone for site_id, site in sites.items()}
    patient = np.asarray(rows.patient_id, dtype=np.int64)
    site = np.asarray(rows.site_id, dtype=np.int64)
    total = np.asarray(rows.total, dtype=np.float64)
    day = local_days(np.asarray(rows.completed_s, dtype=np.float64), site, zones)
    if end is not None:
        keep = day <= end.toordinal()
        patient, site, day, total = patient[keep], site[keep], day[keep], total[keep]
    # Rows come ordered by patient then time: keep the last score of each patient-day.
    last_of_day = np.ones(patient.size, dtype=bool)
    if patient.size:
        last_of_day[:-1] = (patient[1:] != patient[:-1]) | (day[1:] != day[:-1])
    patient, site = patient[last_of_day], site[last_of_day]
    day, total = day[last_of_day], total[last_of_day]
    chosen, anchor_day = _baseline_and_follow_up(
        patient, day, anchor_days(patient, day, anchors, timezones), start
    )
    per_patient = _per_patient(
        patient[chosen], site[chosen], day[chosen], total[chosen], definitions, anchor_day
    )
    protocol = np.array(
        [protocol_of(anchors.get(int(pid))) or NO_PROTOCOL for pid in per_patient.patient],
        dtype=object,
    )
    groups = [_group(ALL_SITES, per_patient, None, definitions)]
    for site_id in sorted(sites, key=lambda i: sites[i].code):
        groups.append(
            _group(
                sites[site_id].code,
                per_patient,
                per_patient.site == site_id,
                definitions,
                Grouping.SITE,
            )
        )
    # One row per protocol of any patient with a plan, a series or a PCL-5 score, whether or
    # not they qualify in this range, so the rows do not come and go with the dates.
    scored = {protocol_of(anchors.get(int(pid))) for pid in np.unique(patient).tolist()}
    treated = {protocol_of(a) for a in anchors.values()} | scored
    for protocol_id in sorted({p or NO_PROTOCOL for p in treated}):
        groups.append(
            _group(
                protocol_id,
                per_patient,
                protocol == protocol_id,
                definitions,
                Grouping.PROTOCOL,
                protocol_names.get(protocol_id, ""),
            )
        )
    return OutcomeReport(start, end, tuple(groups), definitions)


def anchor_days(
    patient: IntArray,
    day: IntArray,
    anchors: dict[int, InfusionAnchor],
    timezones: dict[int, str],
) -> IntArray:
    """Per row, the ordinal of its patient's first-infusion day (services/mbc_timeline.py),
    or of the patient's first score day when no infusion is recorded. Rows are grouped by
    patient in date order."""
    n = patient.size
    if n == 0:
        return np.array([], dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, patient[1:] != patient[:-1]])
    counts = np.diff(np.r_[starts, n])
    per_patient = day[starts].copy()
    for position, pid in enumerate(patient[starts].tolist()):
        anchor = anchors.get(pid)
        if anchor is None:
            continue
        first = first_infusion(anchor, timezones.get(anchor.site_id, "UTC"))
        if first is not None:
            per_patient[position] = first.on.toordinal()
    return np.repeat(per_patient, counts).astype(np.int64)


def _baseline_and_follow_up(
    patient: IntArray, day: IntArray, anchor: IntArray, start: dt.date | None
) -> tuple[npt.NDArray[np.bool_], IntArray]:
    """Which rows enter the per-patient computation (grouped by patient in date order, one row
    per day): for each patient with a baseline (last row on or before the anchor) and at least
    one follow-up (after the anchor and on or after ``start``), the baseline row and those
    follow-ups. Also the anchor of each chosen row."""
    n = patient.size
    chosen = np.zeros(n, dtype=bool)
    if n == 0:
        return chosen, np.array([], dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, patient[1:] != patient[:-1]])
    index = np.arange(n)
    pre = day <= anchor
    follow = day > anchor
    if start is not None:
        follow &= day >= start.toordinal()
    baseline = np.maximum.reduceat(np.where(pre, index, -1), starts)
    has_follow = np.logical_or.reduceat(follow, starts)
    qualifies = (baseline >= 0) & has_follow
    counts = np.diff(np.r_[starts, n])
    chosen = follow & np.repeat(qualifies, counts)
    chosen[baseline[qualifies]] = True
    return chosen, anchor[chosen]


QUARTER_HOUR_S = 900


def local_days(seconds: FloatArray, site: IntArray, zones: dict[int, ZoneInfo]) -> IntArray:
    """Proleptic ordinal of the local calendar day of each UTC time (seconds since the epoch)
    in its site's time zone. Time-zone offsets and their changes fall on quarter hours, so each
    distinct quarter hour is converted once and the answer spread back with NumPy."""
    days = np.zeros(seconds.size, dtype=np.int64)
    for site_id, zone in zones.items():
        here = site == site_id
        if not here.any():
            continue
        quarters, inverse = np.unique(
            np.floor(seconds[here] / QUARTER_HOUR_S).astype(np.int64), return_inverse=True
        )
        ordinals = np.fromiter(
            (
                dt.datetime.fromtimestamp(int(q) * QUARTER_HOUR_S, zone).date().toordinal()
                for q in quarters
            ),
            dtype=np.int64,
            count=quarters.size,
        )
        days[here] = ordinals[inverse]
    return days


@dataclass(frozen=True, slots=True)
class _PerPatient:
    patient: IntArray
    site: IntArray
    baseline: FloatArray
    current: FloatArray
    days_to_response: FloatArray  # inf where the patient never responded
    response_lasted: FloatArray  # days from first response to loss, or to the last score
    response_lost: npt.NDArray[np.bool_]


def _per_patient(
    patient: IntArray,
    site: IntArray,
    day: IntArray,
    total: FloatArray,
    definitions: OutcomeDefinitions,
    anchor: IntArray | None = None,
) -> _PerPatient:
    """Per-patient arrays from rows grouped by patient in date order (one row per day): the
    first row of each patient is the baseline, the others follow-ups. ``anchor`` (per row, the
    first-infusion day) is what days to response count from; by default the baseline's day."""
    n = patient.size
    starts = np.flatnonzero(np.r_[True, patient[1:] != patient[:-1]]) if n else np.array([], int)
    all_counts = np.diff(np.r_[starts, n]).astype(np.int64)
    qualifying = all_counts >= 2
    counts = all_counts[qualifying]
    if counts.size == 0:
        empty = np.array([], dtype=np.float64)
        none = np.array([], dtype=np.int64)
        return _PerPatient(none, none, empty, empty, empty, empty, np.array([], dtype=bool))
    # Rows of qualifying patients only, so reduceat sees contiguous groups.
    rows = np.flatnonzero(np.repeat(qualifying, all_counts))
    group_of_row = np.repeat(np.arange(counts.size), counts)
    first = np.r_[0, np.cumsum(counts)[:-1]]
    day_r, total_r = day[rows].astype(np.float64), total[rows]
    baseline = total_r[first]
    base_row = baseline[group_of_row]
    day0 = (anchor[rows] if anchor is not None else day[rows]).astype(np.float64)[first]
    follow_up = np.ones(rows.size, dtype=bool)
    follow_up[first] = False
    pct = definitions.response_min_reduction_pct.value
    responds = follow_up & (base_row > 0) & (100.0 * (base_row - total_r) >= pct * base_row)
    first_response = np.minimum.reduceat(np.where(responds, day_r, np.inf), first)
    first_response_row = first_response[group_of_row]
    lost_row = follow_up & ~responds & (day_r > first_response_row)
    loss = np.minimum.reduceat(np.where(lost_row, day_r, np.inf), first)
    last_day = day_r[first + counts - 1]
    ever = np.isfinite(first_response)
    lost = ever & np.isfinite(loss)
    # Replace the infinities first so no inf − inf is ever computed.
    response_day = np.where(ever, first_response, 0.0)
    lasted = np.where(lost, loss, last_day) - response_day
    return _PerPatient(
        patient=patient[rows][first],
        site=site[rows][first],
        baseline=baseline,
        current=total_r[first + counts - 1],
        days_to_response=np.where(ever, first_response - day0, np.inf),
        response_lasted=np.where(ever, lasted, np.nan),
        response_lost=lost,
    )


def _group(
    label: str,
    data: _PerPatient,
    mask: npt.NDArray[np.bool_] | None,
    definitions: OutcomeDefinitions,
    grouping: Grouping = Grouping.ALL,
    name: str = "",
) -> CohortGroup:
    if mask is None:
        mask = np.ones(data.site.size, dtype=bool)
    if not mask.any():
        return CohortGroup(label, None, 0, None, KaplanMeier(0, 0, None), grouping, name)
    summary = cohort_summary(data.baseline[mask], data.current[mask], definitions)
    to_response = data.days_to_response[mask]
    ever = np.isfinite(to_response)
    median_to_response = float(np.median(to_response[ever])) if ever.any() else None
    durability = kaplan_meier_median(
        data.response_lasted[mask][ever], data.response_lost[mask][ever]
    )
    return CohortGroup(
        label, summary, int(ever.sum()), median_to_response, durability, grouping, name
    )


def _utc_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=dt.UTC)


CSV_COLUMNS = (
    "grouping",
    "group",
    "start",
    "end",
    "patients",
    "responders",
    "response_rate",
    "remitters",
    "remission_rate",
    "reliable_change",
    "clinically_significant",
    "mean_change",
    "mean_change_ci95_low",
    "mean_change_ci95_high",
    "ever_responded",
    "median_days_to_response",
    "lost_response",
    "still_responding",
    "durability_median_days",
)


def report_csv(report: OutcomeReport) -> str:
    """The report as CSV: one row per group with the columns of :data:`CSV_COLUMNS`."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for group in report.groups:
        s = group.summary
        writer.writerow(
            [
                group.grouping.value,
                group.label,
                report.start.isoformat() if report.start else "",
                report.end.isoformat() if report.end else "",
                s.n if s else 0,
                s.response.count if s else "",
                _num(s.response.proportion) if s else "",
                s.remission.count if s else "",
                _num(s.remission.proportion) if s else "",
                s.reliable_change.count if s else "",
                s.clinically_significant.count if s else "",
                _num(s.mean_change.mean) if s else "",
                _num(s.mean_change.ci_low) if s else "",
                _num(s.mean_change.ci_high) if s else "",
                group.ever_responded,
                _num(group.median_days_to_response),
                group.durability.events,
                group.durability.censored,
                _num(group.durability.median_days),
            ]
        )
    return out.getvalue()


def _num(value: float | None) -> str:
    if value is None or math.isnan(value):
        return ""
    return f"{value:.4f}".rstrip("0").rstrip(".")
