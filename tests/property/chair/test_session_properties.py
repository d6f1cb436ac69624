"""Properties of the session state machine and of alert tracking under random use.

- Random requested transitions are applied exactly when the table allows them and refused
  otherwise, leaving the state unchanged; every recorded step is a legal transition.
- From every reachable state a terminal state can be reached, and a state with no way out is
  terminal: any valid path can only end in ``discharged`` or ``cancelled``.
- However findings, acknowledgements and resolutions interleave, a rule never has more than
  one open alert, and no finding is lost (occurrences add up).
"""

from __future__ import annotations

import datetime as dt
from collections import deque

from hypothesis import given
from hypothesis import strategies as st

from ketaclinic.domain.alerts import (
    Alert,
    AlertFinding,
    ReadingContext,
    acknowledge,
    evaluate,
    resolve,
    track,
)
from ketaclinic.domain.errors import IllegalTransition
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
    allowed_transitions,
)
from ketaclinic.domain.vitals import VitalKind, VitalReading, VitalSource

NURSE = Actor(11, Role.NURSE)
T0 = dt.datetime(2026, 3, 2, 14, 0, tzinfo=dt.UTC)
CHECKLIST = PreInfusionChecklist(
    tuple(CheckResult(item, CheckOutcome.PASSED, NURSE, T0) for item in CheckItem)
)


def reachable_from(state: SessionState) -> set[SessionState]:
    seen, queue = {state}, deque([state])
    while queue:
        current = queue.popleft()
        for transition in allowed_transitions(current):
            target = TRANSITIONS[(current, transition)]
            if target not in seen:
                seen.add(target)
                queue.append(target)
    return seen


@given(st.lists(st.sampled_from(list(Transition)), max_size=40))
def test_random_requests_follow_the_table_exactly(requests: list[Transition]) -> None:
    timeline = SessionTimeline(T0)
    for step, transition in enumerate(requests, start=1):
        when = T0 + dt.timedelta(minutes=step)
        before = timeline.state
        try:
            timeline = timeline.apply(
                transition,
                NURSE,
                when,
                reason="requested",
                checklist=CHECKLIST,
                clearance=DischargeClearance(by=NURSE, at=when),
            )
        except IllegalTransition:
            assert (before, transition) not in TRANSITIONS
            assert timeline.state is before
            continue
        assert (before, transition) in TRANSITIONS
        assert timeline.state is TRANSITIONS[(before, transition)]

    state = SessionState.CHECKED_IN
    for record in timeline.records:
        assert record.from_state is state
        assert TRANSITIONS[(record.from_state, record.transition)] is record.to_state
        state = record.to_state
    assert state is timeline.state


@given(st.lists(st.integers(min_value=0, max_value=10), max_size=60))
def test_every_valid_path_can_only_end_in_a_terminal_state(choices: list[int]) -> None:
    state = SessionState.CHECKED_IN
    for choice in choices:
        options = allowed_transitions(state)
        if not options:
            break
        state = TRANSITIONS[(state, options[choice % len(options)])]
    # Wherever the walk stopped, a terminal state is still reachable, and a dead end is one.
    assert reachable_from(state) & TERMINAL_STATES
    assert (allowed_transitions(state) == []) is (state in TERMINAL_STATES)


# --- alert tracking ------------------------------------------------------------------------------

DURING = ReadingContext(Phase.INFUSION)
RULE_READINGS = {
    "hr_during_infusion": (VitalKind.HEART_RATE, 130.0),
    "spo2_low": (VitalKind.SPO2, 85.0),
}


def finding(rule: str, minute: int) -> AlertFinding:
    kind, value = RULE_READINGS[rule]
    reading = VitalReading(kind, value, T0 + dt.timedelta(minutes=minute), VitalSource.MONITOR)
    [found] = evaluate([reading], DURING)
    return found


operations = st.lists(
    st.tuples(
        st.sampled_from(["find", "find", "acknowledge", "resolve"]),
        st.sampled_from(sorted(RULE_READINGS)),
    ),
    max_size=40,
)


@given(operations)
def test_no_rule_ever_has_two_open_alerts_and_no_finding_is_lost(
    ops: list[tuple[str, str]],
) -> None:
    alerts: dict[int, Alert] = {}
    found = 0
    for minute, (op, rule) in enumerate(ops):
        now = T0 + dt.timedelta(minutes=minute)
        open_for_rule = [a for a in alerts.values() if a.is_open and a.rule_key == rule]
        if op == "find":
            tracked = track(alerts.values(), finding(rule, minute), new_id=len(alerts) + 1)
            alerts[tracked.alert.id] = tracked.alert
            found += 1
        elif open_for_rule:
            alert = open_for_rule[0]
            try:
                if op == "acknowledge":
                    alerts[alert.id] = acknowledge(alert, NURSE, now, "paused")
                else:
                    alerts[alert.id] = resolve(alert, NURSE, now)
            except IllegalTransition:
                pass
        for key in RULE_READINGS:
            assert len([a for a in alerts.values() if a.is_open and a.rule_key == key]) <= 1
    assert sum(a.occurrences for a in alerts.values()) == found
