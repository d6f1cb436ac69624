"""The infusion session's state machine and its pre-infusion checklist.

An infusion session moves through these states (DESIGN.md §2 item 5)::

    checked_in ──begin_checks──▶ pre_infusion_checks ──start──▶ running ◀──resume── paused
        │                              │                          │ └──pause──────────▲
        └──────cancel──────────────────┴──cancel──▶ cancelled     ├──complete──▶ completed ─┐
                                                                  └──stop──────▶ stopped ───┤
                                  (stop is also allowed from paused)                        │
                          discharged ◀──discharge── observation ◀──begin_observation────────┘

``discharged`` and ``cancelled`` are terminal. :func:`apply_transition` is the pure transition
function: current state + requested transition + who + when → new state and a
:class:`TransitionRecord`, or :class:`~ketaclinic.domain.errors.IllegalTransition` saying why.
:class:`SessionTimeline` keeps the records of one session and refuses times that run backwards.

Starting needs every item of the :class:`PreInfusionChecklist` passed (or, where allowed,
overridden by a prescriber). Discharging needs a :class:`DischargeClearance`, which
``ketaclinic.domain.discharge.clear_for_discharge`` builds from a readiness assessment.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from enum import StrEnum

from ketaclinic.domain.errors import (
    IllegalTransition,
    InvalidInput,
    LimitExceeded,
    PermissionDenied,
)
from ketaclinic.domain.people import Role

REASON_MAX = 500

# Who may move a session along: the staff at the chair (brief for issue 6; DESIGN.md §1 gives
# infusions to nurses and overrides to prescribers).
CHAIR_ROLES = frozenset({Role.NURSE, Role.PRESCRIBER})


class SessionState(StrEnum):
    CHECKED_IN = "checked_in"
    PRE_INFUSION_CHECKS = "pre_infusion_checks"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"
    COMPLETED = "completed"
    OBSERVATION = "observation"
    DISCHARGED = "discharged"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATES


TERMINAL_STATES = frozenset({SessionState.DISCHARGED, SessionState.CANCELLED})


class Phase(StrEnum):
    """Where the patient is clinically; alert rules and monitoring intervals depend on it."""

    PRE_INFUSION = "pre_infusion"
    INFUSION = "infusion"
    POST_INFUSION = "post_infusion"
    CLOSED = "closed"


def phase_of(state: SessionState) -> Phase:
    """The clinical phase of a state. A paused infusion is still the infusion phase: the drug
    is on board and the pump may restart."""
    if state in {SessionState.CHECKED_IN, SessionState.PRE_INFUSION_CHECKS}:
        return Phase.PRE_INFUSION
    if state in {SessionState.RUNNING, SessionState.PAUSED}:
        return Phase.INFUSION
    if state in {SessionState.STOPPED, SessionState.COMPLETED, SessionState.OBSERVATION}:
        return Phase.POST_INFUSION
    return Phase.CLOSED


class Transition(StrEnum):
    BEGIN_CHECKS = "begin_checks"
    START = "start"
    PAUSE = "pause"
    RESUME = "resume"
    STOP = "stop"  # ended before the planned dose was given; needs a reason
    COMPLETE = "complete"  # the planned dose was given
    BEGIN_OBSERVATION = "begin_observation"
    DISCHARGE = "discharge"
    CANCEL = "cancel"  # before the infusion started; needs a reason


# The whole machine as data: (from state, transition) → to state.
TRANSITIONS: dict[tuple[SessionState, Transition], SessionState] = {
    (SessionState.CHECKED_IN, Transition.BEGIN_CHECKS): SessionState.PRE_INFUSION_CHECKS,
    (SessionState.CHECKED_IN, Transition.CANCEL): SessionState.CANCELLED,
    (SessionState.PRE_INFUSION_CHECKS, Transition.START): SessionState.RUNNING,
    (SessionState.PRE_INFUSION_CHECKS, Transition.CANCEL): SessionState.CANCELLED,
    (SessionState.RUNNING, Transition.PAUSE): SessionState.PAUSED,
    (SessionState.RUNNING, Transition.STOP): SessionState.STOPPED,
    (SessionState.RUNNING, Transition.COMPLETE): SessionState.COMPLETED,
    (SessionState.PAUSED, Transition.RESUME): SessionState.RUNNING,
    (SessionState.PAUSED, Transition.STOP): SessionState.STOPPED,
    (SessionState.STOPPED, Transition.BEGIN_OBSERVATION): SessionState.OBSERVATION,
    (SessionState.COMPLETED, Transition.BEGIN_OBSERVATION): SessionState.OBSERVATION,
    (SessionState.OBSERVATION, Transition.DISCHARGE): SessionState.DISCHARGED,
}

REASON_REQUIRED = frozenset({Transition.STOP, Transition.CANCEL})


@dataclass(frozen=True, slots=True)
class Actor:
    """The staff member doing something: internal user id and role (never a name)."""

    user_id: int
    role: Role


# ---------------------------------------------------------------------------------------------
# Pre-infusion checklist


class CheckItem(StrEnum):
    CONSENT_CURRENT = "consent_current"
    ELIGIBILITY_SIGNED = "eligibility_signed"
    WEIGHT_CONFIRMED = "weight_confirmed"  # today's weight
    BASELINE_VITALS_WITHIN_LIMITS = "baseline_vitals_within_limits"
    SAFETY_SCREEN_REVIEWED = "safety_screen_reviewed"  # today's PHQ-9 item 9 / safety screen
    ESCORT_CONFIRMED = "escort_confirmed"
    DOSE_VERIFIED = "dose_verified"  # against the drug library

    @property
    def label(self) -> str:
        return _CHECK_LABELS[self]


_CHECK_LABELS = {
    CheckItem.CONSENT_CURRENT: "Consent is current",
    CheckItem.ELIGIBILITY_SIGNED: "Eligibility decision signed",
    CheckItem.WEIGHT_CONFIRMED: "Today's weight confirmed",
    CheckItem.BASELINE_VITALS_WITHIN_LIMITS: "Baseline vitals within limits",
    CheckItem.SAFETY_SCREEN_REVIEWED: "Today's safety screen (PHQ-9 item 9) reviewed",
    CheckItem.ESCORT_CONFIRMED: "Responsible adult escort confirmed",
    CheckItem.DOSE_VERIFIED: "Dose verified against the drug library",
}


class CheckOutcome(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    OVERRIDDEN = "overridden"  # failed, then released by a prescriber with a reason


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One answer to one checklist item.

    ``hard`` marks a failure nobody may override today (e.g. resting BP above the absolute
    limit: no infusion today [cited: Swiss label, REFERENCE.md §5]). An ``OVERRIDDEN`` result
    needs a prescriber and a reason in ``note``.

    Raises InvalidInput (bad note, overriding a pass), PermissionDenied (override by a
    non-prescriber), LimitExceeded (overriding a hard failure).
    """

    item: CheckItem
    outcome: CheckOutcome
    by: Actor
    at: dt.datetime
    note: str = ""
    hard: bool = False

    def __post_init__(self) -> None:
        require_aware("at", self.at)
        require_text("note", self.note, required=False)
        if self.outcome is CheckOutcome.OVERRIDDEN:
            if self.hard:
                raise LimitExceeded.for_field(
                    self.item.value, "override", "no override: this failure is a hard limit"
                )
            if self.by.role is not Role.PRESCRIBER:
                raise PermissionDenied(
                    f"only a prescriber may override the check {self.item.value!r}"
                )
            require_text("note", self.note, required=True)
        if self.hard and self.outcome is not CheckOutcome.FAILED:
            raise InvalidInput.for_field("hard", self.hard, "True only on a failed check")

    @property
    def clears(self) -> bool:
        return self.outcome in {CheckOutcome.PASSED, CheckOutcome.OVERRIDDEN}


def override_check(failed: CheckResult, by: Actor, at: dt.datetime, reason: str) -> CheckResult:
    """A prescriber releases a failed check (e.g. a BP hold after re-measuring at rest).

    Raises IllegalTransition when the check did not fail, and the errors of
    :class:`CheckResult` otherwise."""
    if failed.outcome is not CheckOutcome.FAILED:
        raise IllegalTransition(
            f"cannot override {failed.item.value!r}: it is {failed.outcome.value}, not failed"
        )
    return replace(failed, outcome=CheckOutcome.OVERRIDDEN, by=by, at=at, note=reason)


@dataclass(frozen=True, slots=True)
class PreInfusionChecklist:
    """Every answer given so far, oldest first; the latest answer per item counts."""

    results: tuple[CheckResult, ...] = ()

    def record(self, result: CheckResult) -> PreInfusionChecklist:
        return PreInfusionChecklist((*self.results, result))

    def latest(self) -> dict[CheckItem, CheckResult]:
        current: dict[CheckItem, CheckResult] = {}
        for result in self.results:
            current[result.item] = result
        return current

    def blocking(self) -> list[str]:
        """Why the infusion may not start yet, one line per item; empty when it may."""
        current = self.latest()
        reasons: list[str] = []
        for item in CheckItem:
            result = current.get(item)
            if result is None:
                reasons.append(f"{item.value}: not checked")
            elif not result.clears:
                hard = " (hard limit: no infusion today)" if result.hard else ""
                note = f": {result.note}" if result.note else ""
                reasons.append(f"{item.value}: failed{hard}{note}")
        return reasons

    @property
    def all_clear(self) -> bool:
        return not self.blocking()


# ---------------------------------------------------------------------------------------------
# Discharge clearance (built by domain.discharge; checked here so the machine cannot be bypassed)


@dataclass(frozen=True, slots=True)
class DischargeClearance:
    """Permission to discharge: either every readiness criterion met (``unmet`` empty) or a
    prescriber's override with a non-empty reason.

    Raises PermissionDenied (override by a non-prescriber) or InvalidInput (override without
    a reason)."""

    by: Actor
    at: dt.datetime
    unmet: tuple[str, ...] = ()
    override_reason: str = ""

    def __post_init__(self) -> None:
        require_aware("at", self.at)
        if self.by.role not in CHAIR_ROLES:
            raise PermissionDenied(f"role {self.by.role.value!r} may not discharge a patient")
        if self.unmet and self.by.role is not Role.PRESCRIBER:
            raise PermissionDenied("discharge while not ready needs a prescriber's override")
        require_text("override_reason", self.override_reason, required=bool(self.unmet))

    @property
    def is_override(self) -> bool:
        return bool(self.unmet)


# ---------------------------------------------------------------------------------------------
# Transitions


@dataclass(frozen=True, slots=True)
class TransitionRecord:
    """What happened, by whom and when; stored and audited by the service layer."""

    transition: Transition
    from_state: SessionState
    to_state: SessionState
    by: Actor
    at: dt.datetime
    reason: str = ""
    override_reason: str = ""  # set when a prescriber discharged a patient not yet ready


@dataclass(frozen=True, slots=True)
class TransitionResult:
    state: SessionState
    record: TransitionRecord


def apply_transition(
    state: SessionState,
    transition: Transition,
    by: Actor,
    at: dt.datetime,
    *,
    reason: str = "",
    checklist: PreInfusionChecklist | None = None,
    clearance: DischargeClearance | None = None,
) -> TransitionResult:
    """Move a session from ``state`` by ``transition``.

    ``reason`` is required for stop and cancel; ``checklist`` for start (every item must
    clear); ``clearance`` for discharge. ``at`` is timezone-aware.

    Raises PermissionDenied (role not nurse/prescriber), IllegalTransition (not allowed from
    this state, or a precondition unmet; the message says which), InvalidInput (bad reason or
    time).
    """
    require_aware("at", at)
    if by.role not in CHAIR_ROLES:
        raise PermissionDenied(
            f"role {by.role.value!r} may not {transition.value} an infusion session; "
            "expected nurse or prescriber"
        )
    target = TRANSITIONS.get((state, transition))
    if target is None:
        raise IllegalTransition(_refusal(state, transition))
    require_text("reason", reason, required=transition in REASON_REQUIRED)
    override_reason = ""
    if transition is Transition.START:
        blocking = (checklist or PreInfusionChecklist()).blocking()
        if blocking:
            raise IllegalTransition("cannot start: " + "; ".join(blocking))
    if transition is Transition.DISCHARGE:
        if clearance is None:
            raise IllegalTransition("cannot discharge: no discharge clearance was given")
        if clearance.at > at:
            raise IllegalTransition("cannot discharge: the clearance is dated after the discharge")
        override_reason = clearance.override_reason
    record = TransitionRecord(
        transition=transition,
        from_state=state,
        to_state=target,
        by=by,
        at=at,
        reason=reason.strip(),
        override_reason=override_reason.strip(),
    )
    return TransitionResult(target, record)


def allowed_transitions(state: SessionState) -> list[Transition]:
    """The transitions the machine offers from ``state`` (preconditions not checked)."""
    return [t for (s, t) in TRANSITIONS if s is state]


def _refusal(state: SessionState, transition: Transition) -> str:
    """Why ``transition`` is not allowed from ``state``, in words a nurse would use."""
    verb = transition.value.replace("_", " ")
    if state.is_terminal:
        return f"cannot {verb}: the session is already {state.value}"
    started = state not in {SessionState.CHECKED_IN, SessionState.PRE_INFUSION_CHECKS}
    ended = phase_of(state) is Phase.POST_INFUSION
    if transition in {Transition.STOP, Transition.COMPLETE, Transition.PAUSE, Transition.RESUME}:
        if not started:
            return f"cannot {verb}: the infusion never started"
        if ended:
            return f"cannot {verb}: the infusion has already ended ({state.value})"
    specific = {
        (SessionState.RUNNING, Transition.START): "cannot start: the infusion is already running",
        (SessionState.PAUSED, Transition.START): (
            "cannot start: the infusion already started and is paused; resume it instead"
        ),
        (SessionState.RUNNING, Transition.RESUME): "cannot resume: the infusion is not paused",
        (SessionState.PAUSED, Transition.PAUSE): "cannot pause: the infusion is already paused",
        (SessionState.PAUSED, Transition.COMPLETE): (
            "cannot complete: the infusion is paused; resume it or stop it with a reason"
        ),
        (SessionState.CHECKED_IN, Transition.START): (
            "cannot start: the pre-infusion checks have not begun"
        ),
        (SessionState.PRE_INFUSION_CHECKS, Transition.BEGIN_CHECKS): (
            "cannot begin checks: the checks are already under way"
        ),
    }
    if (state, transition) in specific:
        return specific[(state, transition)]
    if transition is Transition.START:
        return f"cannot start: this session's infusion has already ended ({state.value})"
    if transition is Transition.CANCEL:
        return "cannot cancel: the infusion has started; stop it with a reason instead"
    if transition is Transition.DISCHARGE:
        return f"cannot discharge: the patient is not in observation (state {state.value})"
    if transition is Transition.BEGIN_OBSERVATION:
        return f"cannot begin observation: the infusion has not ended (state {state.value})"
    # Only begin_checks is left: every other pair not in TRANSITIONS is handled above.
    return f"cannot begin checks: the session is past check-in (state {state.value})"


# ---------------------------------------------------------------------------------------------
# A session's history


@dataclass(frozen=True, slots=True)
class SessionTimeline:
    """The transitions of one session, oldest first, from ``checked_in`` at ``checked_in_at``.

    :meth:`apply` adds a transition and refuses one dated before the previous one."""

    checked_in_at: dt.datetime
    records: tuple[TransitionRecord, ...] = field(default=())

    def __post_init__(self) -> None:
        require_aware("checked_in_at", self.checked_in_at)

    @property
    def state(self) -> SessionState:
        return self.records[-1].to_state if self.records else SessionState.CHECKED_IN

    @property
    def last_at(self) -> dt.datetime:
        return self.records[-1].at if self.records else self.checked_in_at

    def apply(
        self,
        transition: Transition,
        by: Actor,
        at: dt.datetime,
        *,
        reason: str = "",
        checklist: PreInfusionChecklist | None = None,
        clearance: DischargeClearance | None = None,
    ) -> SessionTimeline:
        """A new timeline with the transition added; errors as :func:`apply_transition`."""
        require_aware("at", at)
        if at < self.last_at:
            raise InvalidInput.for_field(
                "at", at.isoformat(), f"a time at or after {self.last_at.isoformat()}"
            )
        result = apply_transition(
            self.state,
            transition,
            by,
            at,
            reason=reason,
            checklist=checklist,
            clearance=clearance,
        )
        return SessionTimeline(self.checked_in_at, (*self.records, result.record))

    def first_at(self, *transitions: Transition) -> dt.datetime | None:
        """When the first of the given transitions happened, or None."""
        for record in self.records:
            if record.transition in transitions:
                return record.at
        return None

    @property
    def infusion_started_at(self) -> dt.datetime | None:
        return self.first_at(Transition.START)

    @property
    def infusion_ended_at(self) -> dt.datetime | None:
        """When the infusion was stopped or completed: the start of observation time."""
        return self.first_at(Transition.STOP, Transition.COMPLETE)


def require_aware(name: str, value: dt.datetime) -> None:
    """InvalidInput unless ``value`` carries a timezone (every chair time does)."""
    if value.tzinfo is None:
        raise InvalidInput.for_field(name, value.isoformat(), "a timezone-aware time")


def require_text(name: str, value: str, *, required: bool, max_len: int = REASON_MAX) -> None:
    """InvalidInput when ``value`` is longer than ``max_len``, or blank while ``required``."""
    if len(value) > max_len:
        raise InvalidInput.for_field(name, value, f"at most {max_len} characters")
    if required and not value.strip():
        raise InvalidInput.for_field(name, value, "a non-empty text")
