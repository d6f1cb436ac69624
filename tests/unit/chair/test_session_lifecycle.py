"""The infusion session state machine and the pre-infusion checklist."""

from __future__ import annotations

import datetime as dt

import pytest

from ketaclinic.domain.errors import (
    IllegalTransition,
    InvalidInput,
    LimitExceeded,
    PermissionDenied,
)
from ketaclinic.domain.people import Role
from ketaclinic.domain.session_lifecycle import (
    TERMINAL_STATES,
    TRANSITIONS,
    Actor,
    CheckItem,
    CheckOutcome,
    CheckResult,
    DischargeClearance,
    Phase,
    PreInfusionChecklist,
    SessionState,
    SessionTimeline,
    Transition,
    TransitionResult,
    allowed_transitions,
    apply_transition,
    override_check,
    phase_of,
)

NURSE = Actor(11, Role.NURSE)
PRESCRIBER = Actor(21, Role.PRESCRIBER)
FRONT_DESK = Actor(31, Role.FRONT_DESK)
DIRECTOR = Actor(41, Role.DIRECTOR)
T0 = dt.datetime(2026, 3, 2, 14, 0, tzinfo=dt.UTC)


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def all_passed(by: Actor = NURSE) -> PreInfusionChecklist:
    checklist = PreInfusionChecklist()
    for item in CheckItem:
        checklist = checklist.record(CheckResult(item, CheckOutcome.PASSED, by, T0))
    return checklist


def run(state: SessionState, transition: Transition, when: dt.datetime) -> TransitionResult:
    """Apply a transition with everything any transition may need (a reason, a passed
    checklist, a clearance), so only the state decides whether it is legal."""
    return apply_transition(
        state,
        transition,
        NURSE,
        when,
        reason="patient request",
        checklist=all_passed(),
        clearance=DischargeClearance(by=NURSE, at=T0),
    )


@pytest.mark.parametrize(("state", "transition"), list(TRANSITIONS))
def test_every_legal_transition_moves_to_its_target_and_records_who_and_when(
    state: SessionState, transition: Transition
) -> None:
    result = run(state, transition, at(5))

    assert result.state is TRANSITIONS[(state, transition)]
    assert result.record.from_state is state
    assert result.record.to_state is result.state
    assert result.record.by == NURSE
    assert result.record.at == at(5)


ILLEGAL = [(s, t) for s in SessionState for t in Transition if (s, t) not in TRANSITIONS]


@pytest.mark.parametrize(("state", "transition"), ILLEGAL)
def test_every_illegal_transition_is_refused_with_a_reason_naming_it(
    state: SessionState, transition: Transition
) -> None:
    with pytest.raises(IllegalTransition) as refused:
        run(state, transition, at(5))

    verb = transition.value.replace("_", " ")
    assert refused.value.message.startswith(f"cannot {verb}: ")


@pytest.mark.parametrize(
    ("state", "transition", "reason"),
    [
        (SessionState.CHECKED_IN, Transition.STOP, "the infusion never started"),
        (SessionState.PRE_INFUSION_CHECKS, Transition.STOP, "the infusion never started"),
        (SessionState.PRE_INFUSION_CHECKS, Transition.PAUSE, "the infusion never started"),
        (SessionState.RUNNING, Transition.START, "already running"),
        (SessionState.PAUSED, Transition.START, "resume it instead"),
        (SessionState.RUNNING, Transition.RESUME, "not paused"),
        (SessionState.PAUSED, Transition.PAUSE, "already paused"),
        (SessionState.PAUSED, Transition.COMPLETE, "resume it or stop it"),
        (SessionState.STOPPED, Transition.START, "already ended"),
        (SessionState.COMPLETED, Transition.RESUME, "already ended"),
        (SessionState.RUNNING, Transition.CANCEL, "stop it with a reason instead"),
        (SessionState.RUNNING, Transition.DISCHARGE, "not in observation"),
        (SessionState.RUNNING, Transition.BEGIN_OBSERVATION, "has not ended"),
        (SessionState.CHECKED_IN, Transition.START, "checks have not begun"),
        (SessionState.DISCHARGED, Transition.BEGIN_CHECKS, "already discharged"),
        (SessionState.CANCELLED, Transition.START, "already cancelled"),
    ],
)
def test_refusals_say_why_in_clinical_words(
    state: SessionState, transition: Transition, reason: str
) -> None:
    with pytest.raises(IllegalTransition, match=reason):
        run(state, transition, at(5))


def test_terminal_states_offer_no_transition() -> None:
    assert all(allowed_transitions(state) == [] for state in TERMINAL_STATES)
    assert {SessionState.DISCHARGED, SessionState.CANCELLED} == TERMINAL_STATES


@pytest.mark.parametrize("actor", [FRONT_DESK, DIRECTOR])
def test_only_nurses_and_prescribers_run_transitions(actor: Actor) -> None:
    with pytest.raises(PermissionDenied, match="nurse or prescriber"):
        apply_transition(SessionState.CHECKED_IN, Transition.BEGIN_CHECKS, actor, T0)


def test_a_prescriber_may_run_transitions() -> None:
    result = apply_transition(SessionState.RUNNING, Transition.PAUSE, PRESCRIBER, T0)
    assert result.state is SessionState.PAUSED


@pytest.mark.parametrize(
    ("state", "transition"),
    [(SessionState.RUNNING, Transition.STOP), (SessionState.CHECKED_IN, Transition.CANCEL)],
)
def test_stop_and_cancel_need_a_reason(state: SessionState, transition: Transition) -> None:
    with pytest.raises(InvalidInput, match="reason"):
        apply_transition(state, transition, NURSE, T0, reason="   ")


def test_the_stop_reason_is_kept_on_the_record() -> None:
    result = apply_transition(
        SessionState.PAUSED, Transition.STOP, NURSE, T0, reason=" BP 190/105 persisting "
    )
    assert result.record.reason == "BP 190/105 persisting"


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(InvalidInput, match="timezone-aware"):
        apply_transition(
            SessionState.RUNNING, Transition.PAUSE, NURSE, dt.datetime(2026, 3, 2, 14, 0)
        )


# --- starting needs the checklist -------------------------------------------------------------


def test_start_without_any_checks_names_every_unchecked_item() -> None:
    with pytest.raises(IllegalTransition) as refused:
        apply_transition(SessionState.PRE_INFUSION_CHECKS, Transition.START, NURSE, T0)

    for item in CheckItem:
        assert f"{item.value}: not checked" in refused.value.message


def test_start_with_one_failed_check_names_that_check() -> None:
    checklist = all_passed().record(
        CheckResult(CheckItem.ESCORT_CONFIRMED, CheckOutcome.FAILED, NURSE, at(1), "no escort")
    )
    with pytest.raises(IllegalTransition) as refused:
        apply_transition(
            SessionState.PRE_INFUSION_CHECKS, Transition.START, NURSE, at(2), checklist=checklist
        )

    assert refused.value.message == "cannot start: escort_confirmed: failed: no escort"


def test_the_latest_answer_to_a_check_counts() -> None:
    failed = CheckResult(CheckItem.DOSE_VERIFIED, CheckOutcome.FAILED, NURSE, T0, "rate typo")
    checklist = all_passed().record(failed)
    assert not checklist.all_clear
    fixed = checklist.record(
        CheckResult(CheckItem.DOSE_VERIFIED, CheckOutcome.PASSED, NURSE, at(1))
    )
    assert fixed.all_clear
    assert len(fixed.results) == len(CheckItem) + 2  # history kept, nothing overwritten


def test_a_prescriber_override_clears_a_failed_check() -> None:
    hold = CheckResult(
        CheckItem.BASELINE_VITALS_WITHIN_LIMITS, CheckOutcome.FAILED, NURSE, T0, "BP 146/88"
    )
    released = override_check(hold, PRESCRIBER, at(10), "re-measured 138/86 after rest")
    checklist = all_passed().record(hold).record(released)

    result = apply_transition(
        SessionState.PRE_INFUSION_CHECKS, Transition.START, NURSE, at(11), checklist=checklist
    )

    assert result.state is SessionState.RUNNING
    assert released.outcome is CheckOutcome.OVERRIDDEN
    assert released.by == PRESCRIBER


def test_a_nurse_cannot_override_a_failed_check() -> None:
    hold = CheckResult(CheckItem.BASELINE_VITALS_WITHIN_LIMITS, CheckOutcome.FAILED, NURSE, T0)
    with pytest.raises(PermissionDenied, match="prescriber"):
        override_check(hold, NURSE, at(1), "looks fine")


def test_an_override_needs_a_reason() -> None:
    hold = CheckResult(CheckItem.BASELINE_VITALS_WITHIN_LIMITS, CheckOutcome.FAILED, NURSE, T0)
    with pytest.raises(InvalidInput, match="note"):
        override_check(hold, PRESCRIBER, at(1), " ")


def test_a_hard_failure_cannot_be_overridden() -> None:
    no_infusion = CheckResult(
        CheckItem.BASELINE_VITALS_WITHIN_LIMITS,
        CheckOutcome.FAILED,
        NURSE,
        T0,
        "BP 186/104",
        hard=True,
    )
    with pytest.raises(LimitExceeded, match="hard limit"):
        override_check(no_infusion, PRESCRIBER, at(1), "patient insists")
    blocking = all_passed().record(no_infusion).blocking()
    assert blocking == [
        "baseline_vitals_within_limits: failed (hard limit: no infusion today): BP 186/104"
    ]


def test_only_a_failed_check_can_be_overridden() -> None:
    passed = CheckResult(CheckItem.WEIGHT_CONFIRMED, CheckOutcome.PASSED, NURSE, T0)
    with pytest.raises(IllegalTransition, match="not failed"):
        override_check(passed, PRESCRIBER, at(1), "why not")


# --- discharge needs a clearance -----------------------------------------------------------------


def test_discharge_without_a_clearance_is_refused() -> None:
    with pytest.raises(IllegalTransition, match="no discharge clearance"):
        apply_transition(SessionState.OBSERVATION, Transition.DISCHARGE, NURSE, T0)


def test_discharge_with_a_clearance_dated_later_is_refused() -> None:
    clearance = DischargeClearance(by=NURSE, at=at(10))
    with pytest.raises(IllegalTransition, match="dated after"):
        apply_transition(
            SessionState.OBSERVATION, Transition.DISCHARGE, NURSE, at(5), clearance=clearance
        )


def test_an_override_clearance_puts_the_reason_on_the_record() -> None:
    clearance = DischargeClearance(
        by=PRESCRIBER, at=T0, unmet=("escort: none",), override_reason="taxi with nurse escort"
    )
    result = apply_transition(
        SessionState.OBSERVATION, Transition.DISCHARGE, PRESCRIBER, T0, clearance=clearance
    )
    assert result.record.override_reason == "taxi with nurse escort"
    assert clearance.is_override


def test_an_override_clearance_needs_a_prescriber_and_a_reason() -> None:
    with pytest.raises(PermissionDenied, match="prescriber"):
        DischargeClearance(by=NURSE, at=T0, unmet=("escort: none",), override_reason="ok")
    with pytest.raises(InvalidInput, match="override_reason"):
        DischargeClearance(by=PRESCRIBER, at=T0, unmet=("escort: none",), override_reason="")


# --- phases and the timeline ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "phase"),
    [
        (SessionState.CHECKED_IN, Phase.PRE_INFUSION),
        (SessionState.PRE_INFUSION_CHECKS, Phase.PRE_INFUSION),
        (SessionState.RUNNING, Phase.INFUSION),
        (SessionState.PAUSED, Phase.INFUSION),
        (SessionState.STOPPED, Phase.POST_INFUSION),
        (SessionState.COMPLETED, Phase.POST_INFUSION),
        (SessionState.OBSERVATION, Phase.POST_INFUSION),
        (SessionState.DISCHARGED, Phase.CLOSED),
        (SessionState.CANCELLED, Phase.CLOSED),
    ],
)
def test_each_state_has_its_clinical_phase(state: SessionState, phase: Phase) -> None:
    assert phase_of(state) is phase


def test_a_timeline_follows_a_whole_session_and_knows_the_infusion_times() -> None:
    timeline = (
        SessionTimeline(T0)
        .apply(Transition.BEGIN_CHECKS, NURSE, at(5))
        .apply(Transition.START, NURSE, at(20), checklist=all_passed())
        .apply(Transition.PAUSE, NURSE, at(30))
        .apply(Transition.RESUME, NURSE, at(33))
        .apply(Transition.COMPLETE, NURSE, at(63))
        .apply(Transition.BEGIN_OBSERVATION, NURSE, at(63))
        .apply(
            Transition.DISCHARGE, NURSE, at(190), clearance=DischargeClearance(by=NURSE, at=at(190))
        )
    )

    assert timeline.state is SessionState.DISCHARGED
    assert timeline.infusion_started_at == at(20)
    assert timeline.infusion_ended_at == at(63)
    assert [r.to_state for r in timeline.records][-1] is SessionState.DISCHARGED
    assert len(timeline.records) == 7


def test_a_timeline_refuses_a_transition_dated_before_the_previous_one() -> None:
    timeline = SessionTimeline(T0).apply(Transition.BEGIN_CHECKS, NURSE, at(5))
    with pytest.raises(InvalidInput, match="at or after"):
        timeline.apply(Transition.CANCEL, NURSE, at(4), reason="left")


def test_a_new_timeline_is_checked_in_with_no_infusion_times() -> None:
    timeline = SessionTimeline(T0)
    assert timeline.state is SessionState.CHECKED_IN
    assert timeline.infusion_started_at is None
    assert timeline.infusion_ended_at is None
