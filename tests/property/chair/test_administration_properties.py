"""Properties of the administration record under random charting.

- Any sequence of appends (events and corrections, late-charted or not) leaves either the
  record unchanged (refused) or a record whose effective events obey the order rules, checked
  here by an independent oracle: a regular expression over the event kinds.
- Delivered mg equals the integral of the delivered segments plus the boluses, equals an
  independent replay of the pump, and never exceeds the bag's content plus the boluses.
- Total delivered is monotone in time.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from dataclasses import dataclass

from hypothesis import given
from hypothesis import strategies as st

from ketaclinic.domain.administration import (
    AdministrationRecord,
    Bolus,
    Correction,
    EffectiveEvent,
    Event,
    Pause,
    RateChange,
    Resume,
    StartInfusion,
    Stop,
)
from ketaclinic.domain.errors import KetaclinicError
from ketaclinic.domain.people import Role
from ketaclinic.domain.session_lifecycle import Actor

NURSE = Actor(11, Role.NURSE)
T0 = dt.datetime(2026, 3, 2, 14, 0, tzinfo=dt.UTC)
# Relative tolerance for comparing two float summations of at most a few dozen terms of
# ≤ 1,000 mg; differences come only from summation order (~1e-13), far below 1e-9.
REL = 1e-9

LETTER = {
    StartInfusion: "S",
    RateChange: "R",
    Pause: "P",
    Resume: "U",
    Stop: "X",
    Bolus: "B",
}
# start, then any run of rate changes, boluses and pause–resume pairs, then optionally a
# pause left open, then optionally a stop; or nothing at all.
VALID_ORDER = re.compile(r"^(S(?:[RB]|PU)*P?X?)?$")


def minutes(m: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=m)


times = st.integers(min_value=0, max_value=240).map(lambda half: minutes(half / 2))


@st.composite
def starts(draw: st.DrawFn) -> StartInfusion:
    conc = draw(st.sampled_from([0.2, 0.4, 0.5, 1.0, 2.0]))
    volume = draw(st.sampled_from([20.0, 50.0, 100.0, 250.0]))
    rate = draw(st.integers(min_value=10, max_value=400))
    return StartInfusion(conc * volume, conc, volume, float(rate), "LOT-1", "PUMP-1")


def events() -> st.SearchStrategy[Event]:
    return st.one_of(
        starts(),
        st.integers(min_value=5, max_value=400).map(lambda r: RateChange(float(r))),
        st.just(Pause()),
        st.just(Resume()),
        st.just(Stop("done")),
        st.integers(min_value=1, max_value=20).map(lambda d: Bolus(float(d))),
    )


@dataclass(frozen=True)
class FixOf:
    """A correction aimed at an existing original entry (picked by ``pick`` modulo their
    count), with a replacement of the same kind, or a void; resolved against the record."""

    pick: int
    void: bool
    replacement: Event
    corrected_at: dt.datetime | None


def same_kind(original: Event, fresh: Event) -> Event:
    """A replacement of ``original``'s kind, taking values from ``fresh`` where it matches."""
    return fresh if type(fresh) is type(original) else original


Step = Event | Correction | FixOf

# Random corrections (mostly refused: unknown ids, other kinds) and aimed ones (mostly
# accepted unless they break the order), so both paths are exercised.
wild_corrections = st.builds(
    Correction,
    corrects_id=st.integers(min_value=1, max_value=25),
    replacement=st.one_of(st.none(), events()),
    reason=st.just("charting error"),
    corrected_at=st.one_of(st.none(), times),
)
aimed_corrections = st.builds(
    FixOf,
    pick=st.integers(min_value=0, max_value=50),
    void=st.booleans(),
    replacement=events(),
    corrected_at=st.one_of(st.none(), times),
)


@st.composite
def plans(draw: st.DrawFn) -> list[tuple[dt.datetime, Step]]:
    """A start in the first ten minutes, then up to 25 random steps at random times (so
    late-charted events land before earlier-charted ones and before the start too)."""
    first = (minutes(draw(st.integers(min_value=0, max_value=20)) / 2), draw(starts()))
    step = st.one_of(events(), events(), wild_corrections, aimed_corrections)
    rest = draw(st.lists(st.tuples(times, step), max_size=25))
    return [first, *rest]


steps = plans()


def resolve(record: AdministrationRecord, step: Step) -> Event | Correction:
    if not isinstance(step, FixOf):
        return step
    originals = [e for e in record.entries if not isinstance(e.event, Correction)]
    if not originals:
        return Correction(1, None, "charting error")
    target = originals[step.pick % len(originals)]
    assert not isinstance(target.event, Correction)
    replacement = None if step.void else same_kind(target.event, step.replacement)
    return Correction(target.id, replacement, "charting error", step.corrected_at)


def build(bolus_allowed: bool, plan: list[tuple[dt.datetime, Step]]) -> AdministrationRecord:
    record = AdministrationRecord(bolus_allowed=bolus_allowed)
    for when, step in plan:
        try:
            record = record.append(when, NURSE, resolve(record, step))
        except KetaclinicError:
            continue
    return record


def oracle_effective(record: AdministrationRecord) -> list[tuple[int, dt.datetime, Event]]:
    """Corrections apply in order (a moved time stays moved), None voids, then order by
    (time, id): written independently of the record's own code."""
    current: dict[int, tuple[dt.datetime, Event | None]] = {}
    for entry in record.entries:
        if isinstance(entry.event, Correction):
            previous_at, _ = current[entry.event.corrects_id]
            current[entry.event.corrects_id] = (
                entry.event.corrected_at or previous_at,
                entry.event.replacement,
            )
        else:
            current[entry.id] = (entry.at, entry.event)
    kept = [(i, at, ev) for i, (at, ev) in current.items() if ev is not None]
    return sorted(kept, key=lambda item: (item[1], item[0]))


def oracle_mg(effective: tuple[EffectiveEvent, ...], until_min: float) -> float:
    """An independent replay of the pump: integrate the running rate up to ``until_min``,
    cap the volume at the bag's, add the boluses given by then."""
    start = effective[0].event
    assert isinstance(start, StartInfusion)
    origin = effective[0].at
    rate_ml_per_min = start.rate_ml_per_h / 60
    running, last, ml, bolus_mg = True, 0.0, 0.0, 0.0
    for item in effective[1:]:
        t = (item.at - origin).total_seconds() / 60
        if t > until_min:
            break
        if running:
            ml += rate_ml_per_min * (t - last)
        last = t
        event = item.event
        if isinstance(event, RateChange):
            rate_ml_per_min = event.rate_ml_per_h / 60
        elif isinstance(event, Pause):
            running = False
        elif isinstance(event, Resume):
            running = True
        elif isinstance(event, Bolus):
            bolus_mg += event.dose_mg
        elif isinstance(event, Stop):
            running = False
            break
    if running and until_min > last:
        ml += rate_ml_per_min * (until_min - last)
    return min(ml, start.volume_ml) * start.concentration_mg_per_ml + bolus_mg


@given(bolus_allowed=st.booleans(), plan=steps)
def test_random_charting_is_refused_or_leaves_a_valid_record(
    bolus_allowed: bool, plan: list[tuple[dt.datetime, Step]]
) -> None:
    record = AdministrationRecord(bolus_allowed=bolus_allowed)
    for when, step in plan:
        before = record
        try:
            record = record.append(when, NURSE, resolve(record, step))
        except KetaclinicError:
            assert record is before
            assert len(record.entries) == len(before.entries)
            continue
        assert record.entries[:-1] == before.entries  # append-only: nothing rewritten

        effective = record.effective_events()
        assert [(e.entry_id, e.at, e.event) for e in effective] == oracle_effective(record)
        kinds = "".join(LETTER[type(e.event)] for e in effective)
        assert VALID_ORDER.match(kinds), kinds
        assert bolus_allowed or "B" not in kinds


@given(bolus_allowed=st.booleans(), plan=steps, probe=st.integers(min_value=-10, max_value=300))
def test_delivered_mg_is_the_integral_of_the_segments_and_matches_a_pump_replay(
    bolus_allowed: bool, plan: list[tuple[dt.datetime, Step]], probe: int
) -> None:
    record = build(bolus_allowed, plan)
    schedule = record.delivered_schedule(minutes(probe))
    if schedule is None:
        assert record.delivered_mg(minutes(probe)) == 0.0
        return
    start = record.effective_events()[0].event
    assert isinstance(start, StartInfusion)
    until = (minutes(probe) - schedule.started_at).total_seconds() / 60

    integral = sum(s.rate_mg_per_min * (s.end_min - s.start_min) for s in schedule.segments)
    boluses = sum(b.dose_mg for b in schedule.boluses)
    delivered = record.delivered_mg(minutes(probe))

    assert abs(delivered - (integral + boluses)) <= REL * max(delivered, 1.0)
    expected = oracle_mg(record.effective_events(), until)
    assert abs(delivered - expected) <= REL * max(expected, 1.0)
    assert integral <= start.dose_mg * (1 + REL)
    for earlier, later in zip(schedule.segments, schedule.segments[1:], strict=False):
        assert earlier.end_min <= later.start_min
    assert all(0 <= s.start_min < s.end_min <= max(until, 0) for s in schedule.segments)


@given(
    bolus_allowed=st.booleans(),
    plan=steps,
    probes=st.lists(st.integers(min_value=-10, max_value=300), min_size=2, max_size=8),
)
def test_total_delivered_never_decreases_with_time(
    bolus_allowed: bool, plan: list[tuple[dt.datetime, Step]], probes: list[int]
) -> None:
    record = build(bolus_allowed, plan)
    totals = [record.delivered_mg(minutes(p)) for p in sorted(probes)]
    volumes = [record.delivered_volume_ml(minutes(p)) for p in sorted(probes)]
    for earlier, later in itertools.pairwise(totals):
        assert later >= earlier - REL * max(earlier, 1.0)
    for earlier, later in itertools.pairwise(volumes):
        assert later >= earlier - REL * max(earlier, 1.0)
