"""The medication administration record (MAR) of one infusion session: append-only.

Entries record what the pump did: start (dose, concentration, volume, rate, lot, pump),
rate change, pause, resume, stop (with a reason), bolus (only where the protocol allows one).
A mistake is fixed by a :class:`Correction`, a new entry naming the entry it corrects and
carrying the corrected values (or voiding it as entered in error); nothing is ever overwritten
(DESIGN.md §2 item 5).

The *effective* record applies the latest correction of each entry and orders the events by
clinical time (entry id breaks ties), so a late-charted event lands where it happened. Every
append is accepted only if the effective record it produces still obeys the order rules::

    not started ──start──▶ running ──pause──▶ paused ──resume──▶ running
                           running ──rate_change / bolus──▶ running
                 running | paused ──stop──▶ stopped (nothing follows)

Derived values are plain numbers for the PK simulator: :class:`DeliveredSegment`
``(start_min, end_min, rate_mg_per_min)`` and :class:`DeliveredBolus` ``(t_min, dose_mg)``,
minutes from the infusion start. The bag holds ``volume_ml``: delivery ends when it is empty
even if no stop was charted, as a pump stops at its volume to be infused.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

from ketaclinic.domain.errors import IllegalTransition, InvalidInput, PermissionDenied
from ketaclinic.domain.session_lifecycle import (
    CHAIR_ROLES,
    Actor,
    require_aware,
    require_text,
)

TEXT_MAX = 200
IDENT_MAX = 40

# dose_mg must equal concentration × volume. Within 2 % because the three numbers are charted
# rounded (a 0.373 mg/mL bag is read as 0.37: 0.8 % off); a larger gap is a charting error.
DOSE_CONSISTENCY_RELATIVE = 0.02


class EventKind(StrEnum):
    START = "start"
    RATE_CHANGE = "rate_change"
    PAUSE = "pause"
    RESUME = "resume"
    STOP = "stop"
    BOLUS = "bolus"
    CORRECTION = "correction"


@dataclass(frozen=True, slots=True)
class StartInfusion:
    """The infusion starts: ``dose_mg`` in ``volume_ml`` at ``concentration_mg_per_ml``, run at
    ``rate_ml_per_h``. Raises InvalidInput on non-positive numbers, a dose that is not
    concentration × volume, or missing lot / pump identifiers."""

    dose_mg: float
    concentration_mg_per_ml: float
    volume_ml: float
    rate_ml_per_h: float
    lot_number: str
    pump_id: str

    @property
    def kind(self) -> EventKind:
        return EventKind.START

    def __post_init__(self) -> None:
        for name in ("dose_mg", "concentration_mg_per_ml", "volume_ml", "rate_ml_per_h"):
            _positive(name, getattr(self, name))
        expected = self.concentration_mg_per_ml * self.volume_ml
        if abs(self.dose_mg - expected) > DOSE_CONSISTENCY_RELATIVE * expected:
            raise InvalidInput.for_field(
                "dose_mg",
                self.dose_mg,
                f"concentration × volume = {expected:g} mg (within "
                f"{DOSE_CONSISTENCY_RELATIVE:.0%})",
            )
        _identifier("lot_number", self.lot_number)
        _identifier("pump_id", self.pump_id)

    @property
    def rate_mg_per_min(self) -> float:
        return self.rate_ml_per_h * self.concentration_mg_per_ml / 60.0


@dataclass(frozen=True, slots=True)
class RateChange:
    """The pump is set to a new rate (a rate of zero is a pause, charted as one)."""

    rate_ml_per_h: float

    @property
    def kind(self) -> EventKind:
        return EventKind.RATE_CHANGE

    def __post_init__(self) -> None:
        _positive("rate_ml_per_h", self.rate_ml_per_h)


@dataclass(frozen=True, slots=True)
class Pause:
    reason: str = ""

    @property
    def kind(self) -> EventKind:
        return EventKind.PAUSE

    def __post_init__(self) -> None:
        require_text("reason", self.reason, required=False, max_len=TEXT_MAX)


@dataclass(frozen=True, slots=True)
class Resume:
    @property
    def kind(self) -> EventKind:
        return EventKind.RESUME


@dataclass(frozen=True, slots=True)
class Stop:
    """The infusion ends; ``reason`` is required ("dose complete", "BP 190/105", ...)."""

    reason: str

    @property
    def kind(self) -> EventKind:
        return EventKind.STOP

    def __post_init__(self) -> None:
        require_text("reason", self.reason, required=True, max_len=TEXT_MAX)


@dataclass(frozen=True, slots=True)
class Bolus:
    dose_mg: float

    @property
    def kind(self) -> EventKind:
        return EventKind.BOLUS

    def __post_init__(self) -> None:
        _positive("dose_mg", self.dose_mg)


Event = StartInfusion | RateChange | Pause | Resume | Stop | Bolus


@dataclass(frozen=True, slots=True)
class Correction:
    """Corrects entry ``corrects_id``: ``replacement`` holds the corrected values (same kind as
    the original) or is None to void the entry as entered in error; ``corrected_at`` moves the
    event's clinical time (None keeps the time as it stood). ``reason`` is required."""

    corrects_id: int
    replacement: Event | None
    reason: str
    corrected_at: dt.datetime | None = None

    @property
    def kind(self) -> EventKind:
        return EventKind.CORRECTION

    def __post_init__(self) -> None:
        require_text("reason", self.reason, required=True, max_len=TEXT_MAX)
        if self.corrected_at is not None:
            require_aware("corrected_at", self.corrected_at)


@dataclass(frozen=True, slots=True)
class MarEntry:
    """One appended line. ``at`` is the clinical time of the event; for a correction, when
    the correction was made. ``id`` is the entry's sequence number in the record, from 1."""

    id: int
    at: dt.datetime
    by: Actor
    event: Event | Correction


@dataclass(frozen=True, slots=True)
class EffectiveEvent:
    """An event as it stands after corrections; ``corrected_by`` lists the correction ids."""

    entry_id: int
    at: dt.datetime
    event: Event
    corrected_by: tuple[int, ...] = ()


class PumpState(StrEnum):
    NOT_STARTED = "not_started"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class DeliveredSegment:
    """Constant-rate delivery from ``start_min`` to ``end_min`` (minutes from the infusion
    start) at ``rate_mg_per_min``."""

    start_min: float
    end_min: float
    rate_mg_per_min: float

    @property
    def dose_mg(self) -> float:
        return (self.end_min - self.start_min) * self.rate_mg_per_min


class DeliveredBolus(NamedTuple):
    """A bolus of ``dose_mg`` at ``t_min`` minutes from the infusion start."""

    t_min: float
    dose_mg: float


@dataclass(frozen=True, slots=True)
class DeliveredSchedule:
    """What reached the patient up to ``until_min``: the input of the PK simulator.

    ``bag_empty_min`` is when the bag ran out, if it did before ``until_min``."""

    started_at: dt.datetime
    concentration_mg_per_ml: float
    until_min: float
    segments: tuple[DeliveredSegment, ...]
    boluses: tuple[DeliveredBolus, ...]
    bag_empty_min: float | None = None

    def mg_until(self, t_min: float) -> float:
        """Milligrams delivered (infusion + boluses) from the start to ``t_min``."""
        return self._infused_mg_until(t_min) + sum(
            b.dose_mg for b in self.boluses if b.t_min <= t_min
        )

    def infused_volume_ml_until(self, t_min: float) -> float:
        """Millilitres run from the bag up to ``t_min`` (boluses are not from the bag)."""
        return self._infused_mg_until(t_min) / self.concentration_mg_per_ml

    def _infused_mg_until(self, t_min: float) -> float:
        """∫ rate dt over the segments, cut at ``t_min``."""
        total = 0.0
        for seg in self.segments:
            end = min(seg.end_min, t_min)
            if end > seg.start_min:
                total += (end - seg.start_min) * seg.rate_mg_per_min
        return total

    @property
    def total_mg(self) -> float:
        return self.mg_until(self.until_min)


@dataclass(frozen=True, slots=True)
class AdministrationRecord:
    """The MAR of one session. Immutable: :meth:`append` returns a new record.

    ``bolus_allowed`` comes from the session's protocol."""

    bolus_allowed: bool = False
    entries: tuple[MarEntry, ...] = ()

    def __post_init__(self) -> None:
        # The invariants live in the type, so a record loaded from storage is checked as well.
        for position, entry in enumerate(self.entries, start=1):
            if entry.id != position:
                raise InvalidInput.for_field("id", entry.id, f"entry number {position}")
            require_aware("at", entry.at)
            if entry.by.role not in CHAIR_ROLES:
                raise PermissionDenied(
                    f"role {entry.by.role.value!r} may not chart administration; "
                    "expected nurse or prescriber"
                )
            if isinstance(entry.event, Bolus) and not self.bolus_allowed:
                raise IllegalTransition("cannot give a bolus: the session's protocol allows none")
            if isinstance(entry.event, Correction):
                _check_correction(self.entries[: position - 1], entry.event)
        replay(self.effective_events())

    def append(self, at: dt.datetime, by: Actor, event: Event | Correction) -> AdministrationRecord:
        """The record with one more entry (id = previous count + 1).

        Raises PermissionDenied (role not nurse/prescriber), InvalidInput (naive time,
        correction of an unknown entry or of another kind) or IllegalTransition (a bolus the
        protocol does not allow, or an effective record that would break the order rules; the
        message names the rule). On error nothing changes: the record is immutable."""
        entry = MarEntry(id=len(self.entries) + 1, at=at, by=by, event=event)
        return AdministrationRecord(self.bolus_allowed, (*self.entries, entry))

    def correct(
        self,
        at: dt.datetime,
        by: Actor,
        corrects_id: int,
        replacement: Event | None,
        reason: str,
        corrected_at: dt.datetime | None = None,
    ) -> AdministrationRecord:
        """Shorthand for appending a :class:`Correction`."""
        return self.append(at, by, Correction(corrects_id, replacement, reason, corrected_at))

    def effective_events(self) -> tuple[EffectiveEvent, ...]:
        """Every non-voided event with its corrections applied in order, in clinical time
        order. Each correction replaces the values; a moved time stays moved until a later
        correction moves it again."""
        current: dict[int, tuple[dt.datetime, Event | None]] = {}
        corrected_by: dict[int, list[int]] = {}
        for entry in self.entries:
            if isinstance(entry.event, Correction):
                target = entry.event.corrects_id
                previous_at, _ = current[target]
                current[target] = (
                    entry.event.corrected_at or previous_at,
                    entry.event.replacement,
                )
                corrected_by.setdefault(target, []).append(entry.id)
            else:
                current[entry.id] = (entry.at, entry.event)
        result = [
            EffectiveEvent(entry_id, at, event, tuple(corrected_by.get(entry_id, ())))
            for entry_id, (at, event) in current.items()
            if event is not None
        ]
        result.sort(key=lambda e: (e.at, e.entry_id))
        return tuple(result)

    @property
    def pump_state(self) -> PumpState:
        return replay(self.effective_events())

    @property
    def start(self) -> EffectiveEvent | None:
        return next(
            (e for e in self.effective_events() if isinstance(e.event, StartInfusion)), None
        )

    def delivered_schedule(self, until: dt.datetime | None = None) -> DeliveredSchedule | None:
        """The delivered schedule up to ``until`` (default: the stop time), or None before any
        start was charted.

        Events after ``until`` are ignored; a running segment is closed at ``until``.
        Raises InvalidInput when ``until`` is omitted and the infusion has not been stopped."""
        events = self.effective_events()
        if not events:
            return None
        start_event = events[0]
        start = start_event.event
        if not isinstance(start, StartInfusion):  # replay() on construction rules this out
            raise IllegalTransition("the first effective event is not a start")
        if until is None:
            stop = next((e for e in events if isinstance(e.event, Stop)), None)
            if stop is None:
                raise InvalidInput.for_field(
                    "until", None, "a time: the infusion has not been stopped"
                )
            until = stop.at
        require_aware("until", until)
        return _schedule(start_event.at, start, events[1:], _minutes(start_event.at, until))

    def delivered_mg(self, at: dt.datetime) -> float:
        """Milligrams delivered (infusion + boluses) by ``at``; 0 before the start."""
        schedule = self.delivered_schedule(at)
        return 0.0 if schedule is None else schedule.total_mg

    def delivered_volume_ml(self, at: dt.datetime) -> float:
        """Millilitres run from the bag by ``at``; 0 before the start."""
        schedule = self.delivered_schedule(at)
        return 0.0 if schedule is None else schedule.infused_volume_ml_until(schedule.until_min)


def _check_correction(earlier: tuple[MarEntry, ...], correction: Correction) -> None:
    """A correction names an earlier original entry and keeps its kind."""
    target = next((e for e in earlier if e.id == correction.corrects_id), None)
    if target is None:
        raise InvalidInput.for_field(
            "corrects_id", correction.corrects_id, "the id of an earlier entry in this record"
        )
    if isinstance(target.event, Correction):
        raise InvalidInput.for_field(
            "corrects_id",
            correction.corrects_id,
            f"the id of an original entry (this one corrects {target.event.corrects_id})",
        )
    replacement = correction.replacement
    if replacement is not None and replacement.kind is not target.event.kind:
        raise InvalidInput.for_field(
            "replacement",
            replacement.kind.value,
            f"a corrected {target.event.kind.value} (a correction keeps the event's kind)",
        )


def replay(events: tuple[EffectiveEvent, ...]) -> PumpState:
    """Check the order rules over effective events and return the pump state they leave.

    Raises IllegalTransition naming the first event that breaks a rule."""
    state = PumpState.NOT_STARTED
    for effective in events:
        event = effective.event
        where = f"(entry {effective.entry_id} at {effective.at.isoformat()})"
        if state is PumpState.STOPPED:
            raise IllegalTransition(
                f"cannot record {event.kind.value} {where}: the infusion was already stopped"
            )
        if state is PumpState.NOT_STARTED:
            if not isinstance(event, StartInfusion):
                raise IllegalTransition(
                    f"cannot record {event.kind.value} {where}: the infusion has not started"
                )
            state = PumpState.RUNNING
            continue
        if isinstance(event, StartInfusion):
            raise IllegalTransition(f"cannot start {where}: the infusion already started")
        if isinstance(event, RateChange | Bolus) and state is PumpState.PAUSED:
            raise IllegalTransition(
                f"cannot record {event.kind.value} {where}: the infusion is paused; resume first"
            )
        if isinstance(event, Pause):
            if state is PumpState.PAUSED:
                raise IllegalTransition(f"cannot pause {where}: the infusion is already paused")
            state = PumpState.PAUSED
        elif isinstance(event, Resume):
            if state is not PumpState.PAUSED:
                raise IllegalTransition(f"cannot resume {where}: the infusion is not paused")
            state = PumpState.RUNNING
        elif isinstance(event, Stop):
            state = PumpState.STOPPED
    return state


def _schedule(
    started_at: dt.datetime,
    start: StartInfusion,
    later: tuple[EffectiveEvent, ...],
    until_min: float,
) -> DeliveredSchedule:
    """Turn validated events into segments and boluses, then cut at the bag's volume."""
    conc = start.concentration_mg_per_ml
    rate_ml_per_h = start.rate_ml_per_h
    running = True
    seg_start = 0.0
    raw: list[tuple[float, float, float]] = []  # (start_min, end_min, rate_ml_per_h)
    boluses: list[DeliveredBolus] = []
    for effective in later:
        t = _minutes(started_at, effective.at)
        if t > until_min:
            break
        event = effective.event
        if isinstance(event, Bolus):
            boluses.append(DeliveredBolus(t, event.dose_mg))
            continue
        if running:
            raw.append((seg_start, t, rate_ml_per_h))
        if isinstance(event, RateChange):
            rate_ml_per_h = event.rate_ml_per_h
            seg_start = t
        elif isinstance(event, Pause):
            running = False
        elif isinstance(event, Resume):
            running = True
            seg_start = t
        elif isinstance(event, Stop):
            running = False
            break
    if running and until_min > seg_start:
        raw.append((seg_start, until_min, rate_ml_per_h))

    # The pump stops when the bag's volume has run, whatever was charted afterwards.
    segments: list[DeliveredSegment] = []
    remaining_ml = start.volume_ml
    bag_empty_min: float | None = None
    for seg_start_min, charted_end_min, rate in raw:
        if charted_end_min <= seg_start_min:
            continue
        ml_per_min = rate / 60.0
        needed_ml = (charted_end_min - seg_start_min) * ml_per_min
        if needed_ml >= remaining_ml:
            empty_min = seg_start_min + remaining_ml / ml_per_min
            segments.append(DeliveredSegment(seg_start_min, empty_min, rate * conc / 60.0))
            bag_empty_min = empty_min
            break
        remaining_ml -= needed_ml
        segments.append(DeliveredSegment(seg_start_min, charted_end_min, rate * conc / 60.0))
    return DeliveredSchedule(
        started_at=started_at,
        concentration_mg_per_ml=conc,
        until_min=until_min,
        segments=tuple(segments),
        boluses=tuple(boluses),
        bag_empty_min=bag_empty_min,
    )


def _minutes(origin: dt.datetime, at: dt.datetime) -> float:
    return (at - origin).total_seconds() / 60.0


def _positive(name: str, value: float) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise InvalidInput.for_field(name, value, "a positive finite number")


def _identifier(name: str, value: str) -> None:
    if not value.strip() or len(value) > IDENT_MAX:
        raise InvalidInput.for_field(name, value, f"1–{IDENT_MAX} characters")
