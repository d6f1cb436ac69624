"""Discharge: Modified Aldrete and PADSS exactly as REFERENCE.md §7's tables, the circulation
helper's boundaries, every readiness criterion, and the prescriber override."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from ketaclinic.domain.discharge import (
    DEFAULT_POLICY,
    AldreteScore,
    CirculationMode,
    Criterion,
    DischargeAssessment,
    DischargePolicy,
    DischargeScale,
    PadssScore,
    aldrete_circulation,
    assess_readiness,
    clear_for_discharge,
    padss_vital_signs,
)
from ketaclinic.domain.errors import InvalidInput, OverrideRequired, PermissionDenied
from ketaclinic.domain.people import Role
from ketaclinic.domain.session_lifecycle import (
    Actor,
    SessionState,
    Transition,
    apply_transition,
)

NURSE = Actor(11, Role.NURSE)
PRESCRIBER = Actor(21, Role.PRESCRIBER)
ENDED = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)


def after(minutes: float) -> dt.datetime:
    return ENDED + dt.timedelta(minutes=minutes)


# --- Modified Aldrete [cited: Aldrete tables] --------------------------------------------------


@pytest.mark.parametrize(
    ("items", "total", "ready"),
    [
        ((2, 2, 2, 2, 2), 10, True),
        ((2, 2, 2, 2, 1), 9, True),  # ≥ 9
        ((1, 2, 2, 1, 2), 8, True),  # 8 with respiration 2 and SpO2 2
        ((2, 1, 2, 2, 1), 8, False),  # 8, respiration 1
        ((2, 2, 2, 1, 1), 8, False),  # 8, SpO2 1
        ((1, 2, 1, 1, 2), 7, False),
    ],
)
def test_aldrete_worked_examples(items: tuple[int, ...], total: int, ready: bool) -> None:
    score = AldreteScore(*items)
    assert score.total == total
    assert score.meets_criterion is ready


@pytest.mark.parametrize("bad", [-1, 3, True, 1.5])
def test_aldrete_items_are_0_1_or_2(bad: object) -> None:
    with pytest.raises(InvalidInput, match=r"aldrete\.spo2: got .*, expected 0, 1 or 2"):
        AldreteScore(2, 2, 2, 2, bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("current", "score"),
    [(140, 2), (141, 1), (170, 1), (171, 0), (100, 2), (99, 1), (70, 1), (69, 0)],
)
def test_aldrete_circulation_in_absolute_mode(current: float, score: int) -> None:
    # Baseline 120: within ±20 → 2, ±20–50 → 1, beyond ±50 → 0.
    assert aldrete_circulation(120, current, CirculationMode.ABSOLUTE) == score


@pytest.mark.parametrize(
    ("current", "score"),
    [(120, 2), (121, 1), (149, 1), (150, 0), (80, 2), (79, 1), (51, 1), (50, 0)],
)
def test_aldrete_circulation_in_percent_mode(current: float, score: int) -> None:
    # Baseline 100: within 20 % → 2, 20–49 % → 1, ≥ 50 % → 0.
    assert aldrete_circulation(100, current, CirculationMode.PERCENT) == score


def test_a_pressure_must_be_positive() -> None:
    with pytest.raises(InvalidInput, match="baseline_systolic_mmhg"):
        aldrete_circulation(0, 120, CirculationMode.PERCENT)


# --- PADSS [cited: Chung 1995; PADSS table] ----------------------------------------------------


@pytest.mark.parametrize(
    ("items", "total", "ready"),
    [((2, 2, 2, 2), 10, True), ((2, 2, 1, 2), 9, True), ((2, 1, 1, 2), 8, False)],
)
def test_padss_worked_examples(items: tuple[int, ...], total: int, ready: bool) -> None:
    score = PadssScore(*items)
    assert score.surgical_bleeding == 2  # n/a after an infusion scores 2
    assert score.total == total
    assert score.meets_criterion is ready


@pytest.mark.parametrize(("current", "score"), [(120, 2), (121, 1), (140, 1), (141, 0), (59, 0)])
def test_padss_vital_signs_compare_with_baseline_in_percent(current: float, score: int) -> None:
    assert padss_vital_signs(100, current) == score


# --- readiness -----------------------------------------------------------------------------------


def ready_assessment(**changes: object) -> DischargeAssessment:
    base = DischargeAssessment(
        infusion_ended_at=ENDED,
        assessed_at=after(120),
        aldrete=AldreteScore(2, 2, 2, 2, 2),
        padss=PadssScore(2, 2, 2, 2),
        escort_confirmed=True,
        mental_status_attested_by=NURSE,
        cadss6_pre_dose=2,
        cadss6_pre_discharge=2,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def unmet(
    assessment: DischargeAssessment, policy: DischargePolicy = DEFAULT_POLICY
) -> list[Criterion]:
    return [u.criterion for u in assess_readiness(assessment, policy).unmet]


def test_a_patient_meeting_every_criterion_is_ready() -> None:
    readiness = assess_readiness(ready_assessment())
    assert readiness.ready
    assert readiness.unmet == ()
    assert readiness.earliest_at == after(120)


@pytest.mark.parametrize(
    ("changes", "criterion"),
    [
        ({"assessed_at": after(119)}, Criterion.OBSERVATION_TIME),
        ({"aldrete": AldreteScore(2, 1, 2, 2, 1)}, Criterion.SCALE),
        ({"aldrete": None}, Criterion.SCALE),
        ({"escort_confirmed": False}, Criterion.ESCORT),
        ({"mental_status_attested_by": None}, Criterion.MENTAL_STATUS),
        ({"cadss6_pre_discharge": 3}, Criterion.DISSOCIATION),
        ({"cadss6_pre_dose": None}, Criterion.DISSOCIATION),
        ({"open_clinical_alerts": ("bp_urgency",)}, Criterion.OPEN_ALERTS),
    ],
)
def test_each_unmet_criterion_is_named_alone(changes: dict, criterion: Criterion) -> None:
    assert unmet(ready_assessment(**changes)) == [criterion]


def test_every_unmet_criterion_is_listed_at_once() -> None:
    assessment = DischargeAssessment(
        infusion_ended_at=ENDED, assessed_at=after(30), open_clinical_alerts=("spo2_low",)
    )
    assert unmet(assessment) == list(Criterion)


def test_exactly_the_minimum_observation_time_is_enough() -> None:
    assert unmet(ready_assessment(assessed_at=after(120))) == []


def test_the_observation_message_shows_the_unverified_default() -> None:
    [miss] = assess_readiness(ready_assessment(assessed_at=after(90))).unmet
    assert miss.message.startswith("observed 90 min of the minimum 120 min [unverified:")


def test_a_clinic_may_set_a_longer_observation_time() -> None:
    policy = DischargePolicy(
        min_observation=DEFAULT_POLICY.min_observation.with_value(
            180, "dr.lee", dt.date(2026, 1, 1)
        )
    )
    assert unmet(ready_assessment(assessed_at=after(150)), policy) == [Criterion.OBSERVATION_TIME]


def test_dissociation_back_to_pre_dose_level_or_attested() -> None:
    assert unmet(ready_assessment(cadss6_pre_dose=4, cadss6_pre_discharge=3)) == []
    attested = ready_assessment(cadss6_pre_discharge=9, dissociation_attested_by=PRESCRIBER)
    assert unmet(attested) == []


def test_with_padss_chosen_the_aldrete_score_is_not_needed() -> None:
    policy = DischargePolicy(scale=DischargeScale.PADSS)
    assert unmet(ready_assessment(aldrete=None), policy) == []
    assert unmet(ready_assessment(padss=PadssScore(2, 1, 1, 2)), policy) == [Criterion.SCALE]
    assert unmet(ready_assessment(padss=None), policy) == [Criterion.SCALE]


@pytest.mark.parametrize("score", [-1, 25, True])
def test_cadss6_is_a_whole_number_from_0_to_24(score: object) -> None:
    with pytest.raises(InvalidInput, match="cadss6_pre_dose"):
        ready_assessment(cadss6_pre_dose=score)


def test_an_assessment_before_the_infusion_ended_is_refused() -> None:
    with pytest.raises(InvalidInput, match="assessed_at"):
        ready_assessment(assessed_at=after(-1))


def test_only_chair_staff_attest() -> None:
    with pytest.raises(PermissionDenied, match="attest"):
        ready_assessment(mental_status_attested_by=Actor(31, Role.FRONT_DESK))


# --- clearance and override ----------------------------------------------------------------------


def test_a_ready_patient_is_cleared_by_a_nurse() -> None:
    clearance = clear_for_discharge(assess_readiness(ready_assessment()), NURSE, after(121))
    assert not clearance.is_override
    result = apply_transition(
        SessionState.OBSERVATION, Transition.DISCHARGE, NURSE, after(122), clearance=clearance
    )
    assert result.state is SessionState.DISCHARGED


def test_discharge_while_not_ready_requires_an_override() -> None:
    readiness = assess_readiness(ready_assessment(escort_confirmed=False))
    with pytest.raises(OverrideRequired, match="escort"):
        clear_for_discharge(readiness, PRESCRIBER, after(121))


def test_a_nurse_cannot_override() -> None:
    readiness = assess_readiness(ready_assessment(escort_confirmed=False))
    with pytest.raises(PermissionDenied, match="prescriber"):
        clear_for_discharge(readiness, NURSE, after(121), override_reason="family on the way")


def test_an_override_needs_a_non_empty_reason() -> None:
    readiness = assess_readiness(ready_assessment(escort_confirmed=False))
    with pytest.raises(InvalidInput, match="override_reason"):
        clear_for_discharge(readiness, PRESCRIBER, after(121), override_reason="  ")


def test_a_prescriber_override_records_the_unmet_criteria_and_the_reason() -> None:
    readiness = assess_readiness(ready_assessment(escort_confirmed=False))
    clearance = clear_for_discharge(
        readiness, PRESCRIBER, after(121), override_reason="transferred to ED by ambulance"
    )
    assert clearance.is_override
    assert clearance.unmet[0].startswith("escort: ")
    result = apply_transition(
        SessionState.OBSERVATION, Transition.DISCHARGE, PRESCRIBER, after(122), clearance=clearance
    )
    assert result.record.override_reason == "transferred to ED by ambulance"


def test_a_clearance_cannot_predate_the_assessment() -> None:
    readiness = assess_readiness(ready_assessment())
    with pytest.raises(InvalidInput, match="at or after the assessment"):
        clear_for_discharge(readiness, NURSE, after(100))
