"""The alert life cycle: raise, no spam on repeats, acknowledge, resolve, escalate.

Time is passed in; nothing sleeps."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from ketaclinic.domain.alerts import (
    DEFAULT_RULES,
    Alert,
    AlertFinding,
    AlertState,
    ReadingContext,
    acknowledge,
    escalate,
    evaluate,
    open_clinical,
    resolve,
    track,
)
from ketaclinic.domain.errors import IllegalTransition, InvalidInput, PermissionDenied
from ketaclinic.domain.people import Role
from ketaclinic.domain.session_lifecycle import Actor, Phase
from ketaclinic.domain.vitals import VitalKind, VitalReading, VitalSource

NURSE = Actor(11, Role.NURSE)
PRESCRIBER = Actor(21, Role.PRESCRIBER)
T0 = dt.datetime(2026, 3, 2, 14, 0, tzinfo=dt.UTC)
DURING = ReadingContext(Phase.INFUSION)


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def hr_finding(value: float, minutes: float) -> AlertFinding:
    [finding] = evaluate(
        [VitalReading(VitalKind.HEART_RATE, value, at(minutes), VitalSource.MONITOR)], DURING
    )
    return finding


def raised(minutes: float = 0, value: float = 120) -> Alert:
    return track([], hr_finding(value, minutes), new_id=1).alert


def test_a_first_finding_raises_a_new_alert() -> None:
    tracked = track([], hr_finding(120, 0), new_id=7)
    assert tracked.created
    assert tracked.alert.id == 7
    assert tracked.alert.state is AlertState.RAISED
    assert tracked.alert.raised_at == at(0)
    assert tracked.alert.rule_key == "hr_during_infusion"


def test_repeated_readings_update_the_open_alert_instead_of_raising_another() -> None:
    alerts = [raised()]
    for minute, value in [(1, 124), (2, 131), (3, 118)]:
        tracked = track(alerts, hr_finding(value, minute), new_id=99)
        assert not tracked.created
        alerts = [tracked.alert]

    [alert] = alerts
    assert alert.id == 1
    assert alert.occurrences == 4
    assert alert.first.value == 120
    assert alert.latest.value == 118
    assert alert.latest.observed_at == at(3)


def test_an_acknowledged_alert_still_absorbs_repeats() -> None:
    acked = acknowledge(raised(), NURSE, at(1), "infusion paused")
    tracked = track([acked], hr_finding(125, 2), new_id=2)
    assert not tracked.created
    assert tracked.alert.state is AlertState.ACKNOWLEDGED
    assert tracked.alert.latest.value == 125


def test_a_late_arriving_older_reading_does_not_replace_the_latest_value() -> None:
    alert = track([raised(minutes=5, value=130)], hr_finding(140, 2), new_id=2).alert
    assert alert.latest.value == 130
    assert alert.occurrences == 2


def test_after_resolution_the_same_rule_raises_a_new_alert() -> None:
    done = resolve(acknowledge(raised(), NURSE, at(1), "paused"), NURSE, at(5))
    tracked = track([done], hr_finding(122, 20), new_id=2)
    assert tracked.created
    assert tracked.alert.id == 2


def test_a_different_rule_raises_its_own_alert() -> None:
    [spo2] = evaluate(
        [VitalReading(VitalKind.SPO2, 88, at(1), VitalSource.MONITOR)], DURING, DEFAULT_RULES
    )
    tracked = track([raised()], spo2, new_id=2)
    assert tracked.created
    assert tracked.alert.rule_key == "spo2_low"


def test_plausibility_findings_never_become_alerts() -> None:
    [artefact] = evaluate([VitalReading(VitalKind.SPO2, 104, at(1), VitalSource.MONITOR)], DURING)
    with pytest.raises(InvalidInput, match="tier: got 'plausibility'"):
        track([], artefact, new_id=1)


# --- acknowledge and resolve ---------------------------------------------------------------------


def test_acknowledging_records_who_when_and_the_action_taken() -> None:
    acked = acknowledge(raised(), NURSE, at(1), "  paused the pump, informed Dr  ")
    assert acked.state is AlertState.ACKNOWLEDGED
    assert acked.acknowledged_by == NURSE
    assert acked.acknowledged_at == at(1)
    assert acked.action_taken == "paused the pump, informed Dr"


def test_acknowledging_needs_the_action_taken() -> None:
    with pytest.raises(InvalidInput, match="action_taken"):
        acknowledge(raised(), NURSE, at(1), " ")


def test_an_alert_is_acknowledged_once() -> None:
    acked = acknowledge(raised(), NURSE, at(1), "paused")
    with pytest.raises(IllegalTransition, match="already acknowledged"):
        acknowledge(acked, PRESCRIBER, at(2), "again")


def test_acknowledging_before_the_alert_was_raised_is_refused() -> None:
    with pytest.raises(InvalidInput, match="at or after"):
        acknowledge(raised(minutes=5), NURSE, at(4), "paused")


def test_front_desk_cannot_acknowledge() -> None:
    with pytest.raises(PermissionDenied):
        acknowledge(raised(), Actor(31, Role.FRONT_DESK), at(1), "ok")


def test_resolving_needs_an_acknowledgement_first() -> None:
    with pytest.raises(IllegalTransition, match="acknowledge the alert"):
        resolve(raised(), NURSE, at(1))


def test_a_resolved_alert_is_closed_and_stays_closed() -> None:
    done = resolve(acknowledge(raised(), NURSE, at(1), "paused"), PRESCRIBER, at(9), "HR 88")
    assert done.state is AlertState.RESOLVED
    assert not done.is_open
    assert done.resolved_by == PRESCRIBER
    assert open_clinical([done]) == []
    with pytest.raises(IllegalTransition, match="already resolved"):
        resolve(done, NURSE, at(10))


# --- escalation ----------------------------------------------------------------------------------


def test_an_unacknowledged_alert_escalates_after_the_interval_and_not_before() -> None:
    alert = raised()  # default escalation interval: 2 min (design)
    assert DEFAULT_RULES.escalate_after_min.value == 2

    assert escalate([alert], at(1.99)) == []
    [once] = escalate([alert], at(2))
    assert once.escalation_level == 1


def test_escalation_rises_one_level_per_interval_and_is_not_repeated() -> None:
    [level1] = escalate([raised()], at(2))
    assert escalate([level1], at(3)) == []  # same level: nothing new to notify
    [level2] = escalate([level1], at(4.5))
    assert level2.escalation_level == 2


def test_an_acknowledged_alert_does_not_escalate() -> None:
    acked = acknowledge(raised(), NURSE, at(1), "paused")
    assert escalate([acked], at(30)) == []


def test_a_clinic_may_set_a_longer_escalation_interval() -> None:
    rules = dataclasses.replace(
        DEFAULT_RULES,
        escalate_after_min=DEFAULT_RULES.escalate_after_min.with_value(
            5, "dr.lee", dt.date(2026, 1, 1)
        ),
    )
    assert escalate([raised()], at(4), rules) == []
    assert len(escalate([raised()], at(5), rules)) == 1


def test_a_non_positive_escalation_interval_is_refused() -> None:
    rules = dataclasses.replace(
        DEFAULT_RULES,
        escalate_after_min=DEFAULT_RULES.escalate_after_min.with_value(
            0, "dr.lee", dt.date(2026, 1, 1)
        ),
    )
    with pytest.raises(InvalidInput, match="escalate_after_min"):
        escalate([raised()], at(5), rules)
