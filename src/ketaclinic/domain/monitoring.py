"""Monitoring reminders: which vital signs are due at the chair now, and when the next one is.

Blood pressure is measured every 10 minutes during the infusion and every 15 minutes after it
until discharge [cited: Riva-Posse 2018, REFERENCE.md §5; the clinic default is a design
choice]. Heart rate and SpO2 are continuous on the bedside monitor [cited: Ketalar US PI] and
are charted with each blood pressure (design). Before the start, a baseline of each is due once.

Counting: a vital group is due ``interval`` after the later of its last reading and the start of
the current phase, so the first in-infusion measurement is due one interval after the start and
an old baseline does not make it due at once. A group whose vitals have never been measured in
this session is due from the start of the phase. The matching overdue *alert* lives in
:func:`ketaclinic.domain.alerts.nibp_overdue`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from ketaclinic.domain.errors import InvalidInput
from ketaclinic.domain.provenance import Threshold, cited, design
from ketaclinic.domain.session_lifecycle import Phase
from ketaclinic.domain.vitals import VitalKind


@dataclass(frozen=True, slots=True)
class ReminderRule:
    """One vital group and its interval per phase. The group's last measurement is the oldest
    of its vitals' latest readings (a blood pressure needs both pressures)."""

    key: str
    label: str
    vitals: frozenset[VitalKind]
    every: Mapping[Phase, Threshold]  # INFUSION and/or POST_INFUSION, in minutes
    baseline: bool = True  # due once before the start


@dataclass(frozen=True, slots=True)
class MonitoringPlan:
    rules: tuple[ReminderRule, ...]


_NIBP_DURING = Threshold(
    "nibp_every_infusion", 10, "min", cited("Riva-Posse 2018; Yale 2024; design default", "§5")
)
_NIBP_AFTER = Threshold(
    "nibp_every_post", 15, "min", cited("Riva-Posse 2018; design default", "§5")
)
_WITH_NIBP = design("charted with each blood pressure; continuous on the monitor", "§5")

DEFAULT_PLAN = MonitoringPlan(
    rules=(
        ReminderRule(
            key="nibp",
            label="Blood pressure (NIBP)",
            vitals=frozenset({VitalKind.BP_SYSTOLIC, VitalKind.BP_DIASTOLIC}),
            every={Phase.INFUSION: _NIBP_DURING, Phase.POST_INFUSION: _NIBP_AFTER},
        ),
        ReminderRule(
            key="heart_rate",
            label="Heart rate",
            vitals=frozenset({VitalKind.HEART_RATE}),
            every={
                Phase.INFUSION: Threshold("hr_every_infusion", 10, "min", _WITH_NIBP),
                Phase.POST_INFUSION: Threshold("hr_every_post", 15, "min", _WITH_NIBP),
            },
        ),
        ReminderRule(
            key="spo2",
            label="SpO2",
            vitals=frozenset({VitalKind.SPO2}),
            every={
                Phase.INFUSION: Threshold("spo2_every_infusion", 10, "min", _WITH_NIBP),
                Phase.POST_INFUSION: Threshold("spo2_every_post", 15, "min", _WITH_NIBP),
            },
        ),
    )
)


@dataclass(frozen=True, slots=True)
class DueItem:
    """A vital group's next measurement: ``due_at``; ``overdue_min`` is how late it is by
    ``now`` (0 when it is not yet due)."""

    key: str
    label: str
    vitals: frozenset[VitalKind]
    last_at: dt.datetime | None
    due_at: dt.datetime
    overdue_min: float


@dataclass(frozen=True, slots=True)
class MonitoringStatus:
    """``due_now``: groups due at or before ``now``; ``next_due_at``: the earliest due time
    after ``now`` (None when nothing more is scheduled, e.g. the baseline is complete)."""

    phase: Phase
    now: dt.datetime
    items: tuple[DueItem, ...]

    @property
    def due_now(self) -> tuple[DueItem, ...]:
        return tuple(i for i in self.items if i.due_at <= self.now)

    @property
    def next_due_at(self) -> dt.datetime | None:
        later = [i.due_at for i in self.items if i.due_at > self.now]
        return min(later) if later else None


def reminders(
    phase: Phase,
    now: dt.datetime,
    last_reading_at: Mapping[VitalKind, dt.datetime],
    *,
    infusion_started_at: dt.datetime | None = None,
    infusion_stopped_at: dt.datetime | None = None,
    plan: MonitoringPlan = DEFAULT_PLAN,
) -> MonitoringStatus:
    """What is due at ``now``. ``last_reading_at`` holds this session's latest reading time per
    vital. The infusion phase needs ``infusion_started_at``, the post-infusion phase
    ``infusion_stopped_at`` (InvalidInput otherwise). Nothing is due once the session closed.
    """
    if phase is Phase.CLOSED:
        return MonitoringStatus(phase, now, ())
    phase_start: dt.datetime | None = None
    if phase is Phase.INFUSION:
        phase_start = _required("infusion_started_at", infusion_started_at)
    elif phase is Phase.POST_INFUSION:
        phase_start = _required("infusion_stopped_at", infusion_stopped_at)
    items: list[DueItem] = []
    for rule in plan.rules:
        last = _group_last(rule, last_reading_at)
        if phase_start is None:  # pre-infusion: a baseline, once
            if not rule.baseline or last is not None:
                continue
            due_at = now
        else:
            every = rule.every.get(phase)
            if every is None:
                continue
            if every.value <= 0:
                raise InvalidInput.for_field(every.key, every.value, "a positive interval in min")
            if last is None:
                due_at = phase_start
            else:
                due_at = max(last, phase_start) + dt.timedelta(minutes=every.value)
        overdue_min = max((now - due_at).total_seconds() / 60.0, 0.0)
        items.append(DueItem(rule.key, rule.label, rule.vitals, last, due_at, overdue_min))
    return MonitoringStatus(phase, now, tuple(items))


def _group_last(
    rule: ReminderRule, last_reading_at: Mapping[VitalKind, dt.datetime]
) -> dt.datetime | None:
    times = [last_reading_at.get(kind) for kind in rule.vitals]
    present = [t for t in times if t is not None]
    if len(present) < len(times):
        return None
    return min(present)


def _required(name: str, value: dt.datetime | None) -> dt.datetime:
    if value is None:
        raise InvalidInput.for_field(name, None, "a time for this phase")
    return value
