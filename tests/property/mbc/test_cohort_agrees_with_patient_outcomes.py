"""The cohort report's vectorised per-patient arrays (services/mbc_cohort.py) agree with the
domain's one-patient assessment (domain/outcomes.assess_patient) for any trajectories, any
first-infusion days and any range start."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from ketaclinic.domain.outcomes import PCL5_DEFAULTS, DatedScore, assess_patient
from ketaclinic.services.mbc_cohort import _baseline_and_follow_up, _per_patient

EPOCH = dt.date(2026, 1, 1)

trajectory = st.lists(
    st.tuples(st.integers(0, 200), st.integers(0, 80)),
    min_size=1,
    max_size=8,
    unique_by=lambda x: x[0],
).map(sorted)


@given(st.lists(trajectory, min_size=1, max_size=6))
def test_vectorised_patients_match_one_patient_assessment(trajectories) -> None:
    """Anchored on each patient's first score (no infusion recorded), whole history."""
    patient, site, day, total = [], [], [], []
    for pid, points in enumerate(trajectories, start=1):
        for offset, value in points:
            patient.append(pid)
            site.append(pid % 2)
            day.append(EPOCH.toordinal() + offset)
            total.append(float(value))
    result = _per_patient(
        np.array(patient, dtype=np.int64),
        np.array(site, dtype=np.int64),
        np.array(day, dtype=np.int64),
        np.array(total, dtype=np.float64),
        PCL5_DEFAULTS,
    )
    qualifying = [(pid, pts) for pid, pts in enumerate(trajectories, start=1) if len(pts) >= 2]
    assert result.baseline.size == len(qualifying)
    for n, (pid, points) in enumerate(qualifying):
        scores = [DatedScore(EPOCH + dt.timedelta(days=o), float(v)) for o, v in points]
        outcome = assess_patient(scores, scores[0].on, PCL5_DEFAULTS)
        assert result.patient[n] == pid
        assert result.site[n] == pid % 2
        assert result.baseline[n] == points[0][1]
        assert result.current[n] == points[-1][1]
        durability = outcome.durability
        if durability.first_response_on is None:
            assert math.isinf(result.days_to_response[n])
            assert not result.response_lost[n]
            continue
        assert result.days_to_response[n] == (durability.first_response_on - scores[0].on).days
        assert result.response_lasted[n] == durability.days
        assert bool(result.response_lost[n]) == (not durability.censored)


@given(
    st.lists(st.tuples(trajectory, st.integers(-10, 210)), min_size=1, max_size=6),
    st.one_of(st.none(), st.integers(0, 200)),
)
def test_baselines_at_the_first_infusion_match_one_patient_assessment(patients, start) -> None:
    """Each patient has a first-infusion day; follow-ups count from ``start`` on (if given)."""
    patient, day, total, anchor = [], [], [], []
    for pid, (points, first) in enumerate(patients, start=1):
        for offset, value in points:
            patient.append(pid)
            day.append(EPOCH.toordinal() + offset)
            total.append(float(value))
            anchor.append(EPOCH.toordinal() + first)
    p, d, v, a = (
        np.array(patient, dtype=np.int64),
        np.array(day, dtype=np.int64),
        np.array(total, dtype=np.float64),
        np.array(anchor, dtype=np.int64),
    )
    start_day = EPOCH + dt.timedelta(days=start) if start is not None else None
    chosen, chosen_anchor = _baseline_and_follow_up(p, d, a, start_day)
    result = _per_patient(p[chosen], p[chosen], d[chosen], v[chosen], PCL5_DEFAULTS, chosen_anchor)
    expected = []
    for pid, (points, first) in enumerate(patients, start=1):
        infusion = EPOCH + dt.timedelta(days=first)
        kept = [
            DatedScore(EPOCH + dt.timedelta(days=o), float(value))
            for o, value in points
            if o <= first or start is None or o >= start
        ]
        before = [s for s in kept if s.on <= infusion]
        if not before or len(before) == len(kept):
            continue  # no baseline, or no follow-up in range: the patient does not count
        expected.append((pid, assess_patient(kept, infusion, PCL5_DEFAULTS), infusion))
    assert result.patient.tolist() == [pid for pid, _o, _i in expected]
    for n, (_pid, outcome, infusion) in enumerate(expected):
        latest = outcome.latest
        assert latest is not None
        assert result.baseline[n] == outcome.baseline.total
        assert result.current[n] == latest.total
        durability = outcome.durability
        if durability.first_response_on is None:
            assert math.isinf(result.days_to_response[n])
            continue
        assert result.days_to_response[n] == (durability.first_response_on - infusion).days
        assert result.response_lasted[n] == durability.days
        assert bool(result.response_lost[n]) == (not durability.censored)
