"""The cohort report's vectorised per-patient arrays (services/mbc_cohort.py) agree with the
domain's one-patient assessment (domain/outcomes.assess_patient) for any trajectories, any
first-infusion days and any range start; and the whole report, read through the repositories,
agrees with each patient's own outcome page when the patients answered both PCL-5 forms (past
month and past week), several times a day."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import replace

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ketaclinic.adapters.memory import MemoryUnitOfWorkFactory
from ketaclinic.domain.instruments import score
from ketaclinic.domain.outcomes import PCL5_DEFAULTS, DatedScore, assess_patient
from ketaclinic.domain.people import NewPatient, Principal, Role, Sex
from ketaclinic.domain.session_lifecycle import SessionState
from ketaclinic.services import mbc
from ketaclinic.services.audit import Actor
from ketaclinic.services.chair_ports import NewSession
from ketaclinic.services.mbc_cohort import _baseline_and_follow_up, _per_patient, outcome_report
from ketaclinic.services.mbc_model import QuestionnaireResponse, ResponseSource
from ketaclinic.services.ports import FixedClock

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


# 05:00 UTC = midnight in Miami (EST): hours 0–23 after it fall on one local day.
MIDNIGHT_MIAMI = dt.datetime(2026, 1, 1, 5, 0, tzinfo=dt.UTC)

answered = st.tuples(
    st.integers(0, 60),  # day
    st.integers(0, 23),  # hour of that (local) day
    st.sampled_from(mbc.PCL5_IDS),  # which form
    st.lists(st.integers(0, 4), min_size=20, max_size=20),  # item answers
)
mixed_patient = st.tuples(
    st.lists(answered, min_size=1, max_size=6, unique_by=lambda x: (x[0], x[1])),
    st.one_of(st.none(), st.integers(0, 60)),  # day the first infusion started, if any
)


@settings(max_examples=40, deadline=None)
@given(st.lists(mixed_patient, min_size=1, max_size=4))
def test_report_over_both_pcl5_forms_agrees_with_each_patients_outcomes(patients) -> None:
    """Each patient's baseline and current total on their outcome page (both forms, the last
    of each local day) give the report's counts and mean change."""
    factory = MemoryUnitOfWorkFactory()
    clock = FixedClock(MIDNIGHT_MIAMI + dt.timedelta(days=90))
    with factory() as uow:
        site = uow.sites.add("MIA", "Miami", "America/New_York")
        chair = uow.sites.add_chair(site.id, "C-1", "C")
        director = uow.users.add("dir", "Dir", Role.DIRECTOR, frozenset({site.id}), "x")
        nurse = uow.users.add("nurse", "Nurse", Role.NURSE, frozenset({site.id}), "x")
        ids = []
        for n, (responses, infusion_day) in enumerate(patients):
            patient = uow.patients.add(
                NewPatient(site.id, f"P-{n}", "Syn", "Thetic", dt.date(1980, 1, 2), Sex.MALE),
                MIDNIGHT_MIAMI,
            )
            ids.append(patient.id)
            for day, hour, form, answers in responses:
                at = MIDNIGHT_MIAMI + dt.timedelta(days=day, hours=hour)
                uow.responses.add(
                    QuestionnaireResponse.scored(
                        score(form, answers),
                        patient_id=patient.id,
                        source=ResponseSource.SELF_REPORT,
                        entered_by=None,
                        completed_at=at,
                        language="en",
                    ),
                    at,
                )
            if infusion_day is not None:
                # Noon in Miami: the pump ran on that local day.
                started = MIDNIGHT_MIAMI + dt.timedelta(days=infusion_day, hours=12)
                session = uow.chair.add_session(
                    NewSession(
                        patient.id, site.id, chair.id, "feder-2021", False, started, nurse.id
                    )
                )
                uow.chair.save_session(
                    replace(
                        session,
                        state=SessionState.DISCHARGED,
                        infusion_started_at=started,
                        infusion_ended_at=started + dt.timedelta(minutes=40),
                        closed_at=started + dt.timedelta(hours=3),
                    )
                )
        uow.commit()
    as_director = Actor(Principal(director.id, "dir", Role.DIRECTOR, director.site_ids), "test")
    pairs = []
    for patient_id in ids:
        with factory() as uow:
            view = mbc.patient_outcomes(uow, clock, as_director, patient_id)
        if view.outcome is not None and view.outcome.latest is not None:
            latest = view.outcome.latest
            pairs.append(
                (view.outcome.baseline.total, latest.total, latest.response, latest.remission)
            )
    with factory() as uow:
        report = outcome_report(uow, clock, as_director)
    summary = report.groups[0].summary
    if not pairs:
        assert summary is None
        return
    assert summary is not None
    assert summary.n == len(pairs)
    changes = [baseline - current for baseline, current, _r, _m in pairs]
    # Whole-number totals: the means differ by float summation order only.
    assert math.isclose(summary.mean_change.mean, sum(changes) / len(changes), abs_tol=1e-9)
    assert summary.response.count == sum(1 for *_t, response, _m in pairs if response)
    assert summary.remission.count == sum(1 for *_t, remission in pairs if remission)
