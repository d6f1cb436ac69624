"""The medication administration record: order rules, corrections, delivered amounts.

The worked example used throughout: 40 mg in a 100 mL bag (0.4 mg/mL) at 150 mL/h, which is
2.5 mL/min = 1.0 mg/min. At 75 mL/h it is 1.25 mL/min = 0.5 mg/min. Every expected number
below is worked by hand from those two rates. Tolerances of 1e-9 absorb float rounding in
sums of a few terms; the quantities are tens of mg, so that is far below any clinical meaning.
"""

from __future__ import annotations

import datetime as dt

import pytest

from ketaclinic.domain.administration import (
    AdministrationRecord,
    Bolus,
    DeliveredBolus,
    DeliveredSegment,
    Event,
    Pause,
    PumpState,
    RateChange,
    Resume,
    StartInfusion,
    Stop,
)
from ketaclinic.domain.errors import IllegalTransition, InvalidInput, PermissionDenied
from ketaclinic.domain.people import Role
from ketaclinic.domain.session_lifecycle import Actor

NURSE = Actor(11, Role.NURSE)
PRESCRIBER = Actor(21, Role.PRESCRIBER)
T0 = dt.datetime(2026, 3, 2, 14, 0, tzinfo=dt.UTC)
START = StartInfusion(
    dose_mg=40,
    concentration_mg_per_ml=0.4,
    volume_ml=100,
    rate_ml_per_h=150,
    lot_number="KX-2291",
    pump_id="PUMP-7",
)
FLOAT_SUMS = 1e-9  # a few float additions of tens of mg


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def started(bolus_allowed: bool = False) -> AdministrationRecord:
    return AdministrationRecord(bolus_allowed=bolus_allowed).append(at(0), NURSE, START)


def worked_example() -> AdministrationRecord:
    """Start 0; pause 10; resume 15; 75 mL/h at 25; stop 45."""
    return (
        started()
        .append(at(10), NURSE, Pause("nausea"))
        .append(at(15), NURSE, Resume())
        .append(at(25), NURSE, RateChange(75))
        .append(at(45), NURSE, Stop("dose plan reached"))
    )


# --- delivered amounts ---------------------------------------------------------------------------


def test_the_delivered_schedule_has_one_segment_per_running_stretch() -> None:
    schedule = worked_example().delivered_schedule()

    assert schedule is not None
    assert schedule.segments == (
        DeliveredSegment(0.0, 10.0, 1.0),
        DeliveredSegment(15.0, 25.0, 1.0),
        DeliveredSegment(25.0, 45.0, 0.5),
    )
    assert schedule.boluses == ()
    assert schedule.bag_empty_min is None


@pytest.mark.parametrize(
    ("minutes", "mg", "ml"),
    [
        (-5, 0.0, 0.0),  # before the start
        (0, 0.0, 0.0),
        (6, 6.0, 15.0),  # running at 1 mg/min
        (12, 10.0, 25.0),  # paused since 10
        (20, 15.0, 37.5),  # resumed at 15
        (35, 25.0, 62.5),  # 20 + 10 min at 0.5 mg/min
        (45, 30.0, 75.0),  # stopped
        (90, 30.0, 75.0),  # nothing after the stop
    ],
)
def test_totals_delivered_account_for_pauses_and_rate_changes(
    minutes: float, mg: float, ml: float
) -> None:
    record = worked_example()
    assert record.delivered_mg(at(minutes)) == pytest.approx(mg, abs=FLOAT_SUMS)
    assert record.delivered_volume_ml(at(minutes)) == pytest.approx(ml, abs=FLOAT_SUMS)


def test_a_running_infusion_needs_an_end_time_for_its_schedule() -> None:
    record = started()
    with pytest.raises(InvalidInput, match="until"):
        record.delivered_schedule()
    schedule = record.delivered_schedule(at(8))
    assert schedule is not None
    assert schedule.segments == (DeliveredSegment(0.0, 8.0, 1.0),)


def test_nothing_charted_means_no_schedule_and_nothing_delivered() -> None:
    record = AdministrationRecord()
    assert record.delivered_schedule(at(10)) is None
    assert record.delivered_mg(at(10)) == 0.0
    assert record.pump_state is PumpState.NOT_STARTED


def test_delivery_ends_when_the_bag_is_empty_even_without_a_charted_stop() -> None:
    # 100 mL at 2.5 mL/min runs out at 40 min: 40 mg, however late the stop is charted.
    record = started().append(at(55), NURSE, Stop("bag empty"))
    schedule = record.delivered_schedule()

    assert schedule is not None
    assert schedule.bag_empty_min == pytest.approx(40.0, abs=FLOAT_SUMS)
    assert schedule.total_mg == pytest.approx(40.0, abs=FLOAT_SUMS)
    assert record.delivered_volume_ml(at(55)) == pytest.approx(100.0, abs=FLOAT_SUMS)


def test_boluses_count_at_their_time_and_are_listed_for_the_simulator() -> None:
    record = (
        started(bolus_allowed=True)
        .append(at(20), PRESCRIBER, Bolus(5))
        .append(at(30), NURSE, Stop("done"))
    )
    schedule = record.delivered_schedule()

    assert schedule is not None
    assert schedule.boluses == (DeliveredBolus(20.0, 5.0),)
    assert tuple(schedule.boluses[0]) == (20.0, 5.0)  # plain (t_min, dose_mg)
    assert record.delivered_mg(at(19)) == pytest.approx(19.0, abs=FLOAT_SUMS)
    assert record.delivered_mg(at(20)) == pytest.approx(25.0, abs=FLOAT_SUMS)
    assert record.delivered_mg(at(30)) == pytest.approx(35.0, abs=FLOAT_SUMS)
    # The bolus is not drawn from the bag: 30 min at 2.5 mL/min.
    assert record.delivered_volume_ml(at(30)) == pytest.approx(75.0, abs=FLOAT_SUMS)


# --- order rules ---------------------------------------------------------------------------------


def test_a_bolus_is_refused_when_the_protocol_allows_none() -> None:
    with pytest.raises(IllegalTransition, match="allows none"):
        started().append(at(5), NURSE, Bolus(5))


def test_no_rate_change_while_paused() -> None:
    record = started().append(at(10), NURSE, Pause())
    with pytest.raises(IllegalTransition, match="paused; resume first"):
        record.append(at(12), NURSE, RateChange(100))


def test_no_bolus_while_paused() -> None:
    record = started(bolus_allowed=True).append(at(10), NURSE, Pause())
    with pytest.raises(IllegalTransition, match="paused; resume first"):
        record.append(at(12), NURSE, Bolus(5))


def test_no_resume_unless_paused() -> None:
    with pytest.raises(IllegalTransition, match="not paused"):
        started().append(at(5), NURSE, Resume())


def test_no_second_pause() -> None:
    record = started().append(at(10), NURSE, Pause())
    with pytest.raises(IllegalTransition, match="already paused"):
        record.append(at(11), NURSE, Pause())


def test_no_second_start() -> None:
    with pytest.raises(IllegalTransition, match="already started"):
        started().append(at(5), NURSE, START)


@pytest.mark.parametrize(
    "event", [RateChange(100), Pause(), Resume(), Stop("again"), START], ids=str
)
def test_nothing_is_recorded_after_the_stop(event: Event) -> None:
    record = worked_example()
    with pytest.raises(IllegalTransition, match="already st"):
        record.append(at(50), NURSE, event)


def test_nothing_is_recorded_before_the_start() -> None:
    with pytest.raises(IllegalTransition, match="has not started"):
        AdministrationRecord().append(at(0), NURSE, RateChange(100))
    with pytest.raises(IllegalTransition, match="has not started"):
        started().append(at(-1), NURSE, Pause())  # dated before the start


def test_a_late_charted_event_takes_its_place_in_clinical_time() -> None:
    record = started().append(at(20), NURSE, RateChange(75)).append(at(10), NURSE, RateChange(100))

    assert [e.entry_id for e in record.effective_events()] == [1, 3, 2]
    # 10 min at 1 mg/min, 10 min at 100 mL/h × 0.4 / 60 = 2/3 mg/min, 10 min at 0.5 mg/min.
    assert record.delivered_mg(at(30)) == pytest.approx(10 + 20 / 3 + 5, abs=FLOAT_SUMS)


def test_a_late_charted_pause_before_a_rate_change_is_refused() -> None:
    record = started().append(at(30), NURSE, RateChange(75))
    with pytest.raises(IllegalTransition, match=r"entry 2 .* paused; resume first"):
        record.append(at(10), NURSE, Pause())


def test_a_refused_append_leaves_the_record_unchanged() -> None:
    record = started()
    with pytest.raises(IllegalTransition):
        record.append(at(5), NURSE, Resume())
    assert len(record.entries) == 1


def test_only_chair_staff_chart_administration() -> None:
    with pytest.raises(PermissionDenied, match="nurse or prescriber"):
        AdministrationRecord().append(at(0), Actor(31, Role.FRONT_DESK), START)


def test_a_stop_needs_a_reason() -> None:
    with pytest.raises(InvalidInput, match="reason"):
        Stop(" ")


# --- start values --------------------------------------------------------------------------------


def test_a_start_whose_dose_is_not_concentration_times_volume_is_refused() -> None:
    with pytest.raises(InvalidInput, match=r"dose_mg: got 50, expected concentration × volume"):
        StartInfusion(50, 0.4, 100, 150, "KX-2291", "PUMP-7")


def test_a_start_within_charting_rounding_is_accepted() -> None:
    # 37.3 mg in 100 mL charted as 0.37 mg/mL: 37.0 mg, 0.8 % off.
    assert StartInfusion(37.3, 0.37, 100, 150, "KX-2291", "PUMP-7").dose_mg == 37.3


@pytest.mark.parametrize("rate", [0, -10, float("nan"), float("inf")])
def test_a_rate_must_be_positive_and_finite(rate: float) -> None:
    with pytest.raises(InvalidInput, match="rate_ml_per_h"):
        RateChange(rate)


@pytest.mark.parametrize(("lot", "pump"), [("", "PUMP-7"), ("KX-2291", " "), ("x" * 41, "P")])
def test_a_start_needs_lot_and_pump_identifiers(lot: str, pump: str) -> None:
    with pytest.raises(InvalidInput):
        StartInfusion(40, 0.4, 100, 150, lot, pump)


# --- corrections ---------------------------------------------------------------------------------


def test_a_correction_changes_the_effective_value_and_never_the_original_entry() -> None:
    record = worked_example()
    original = record.entries[3]
    corrected = record.correct(at(60), NURSE, 4, RateChange(60), "pump read 60, charted 75")

    assert corrected.entries[3] is original
    assert original.event == RateChange(75)
    assert len(corrected.entries) == 6
    effective = next(e for e in corrected.effective_events() if e.entry_id == 4)
    assert effective.event == RateChange(60)
    assert effective.corrected_by == (6,)
    # 60 mL/h × 0.4 mg/mL = 0.4 mg/min for 20 min: 8 mg instead of 10.
    assert corrected.delivered_mg(at(45)) == pytest.approx(28.0, abs=FLOAT_SUMS)


def test_the_latest_correction_wins_and_all_are_listed() -> None:
    record = (
        worked_example()
        .correct(at(60), NURSE, 4, RateChange(60), "first fix")
        .correct(at(61), NURSE, 4, RateChange(90), "second fix")
    )
    effective = next(e for e in record.effective_events() if e.entry_id == 4)
    assert effective.event == RateChange(90)
    assert effective.corrected_by == (6, 7)


def test_a_correction_can_move_an_event_in_time() -> None:
    record = worked_example().correct(
        at(60), NURSE, 2, Pause("nausea"), "paused earlier", corrected_at=at(8)
    )
    # Paused at 8 instead of 10: 2 mg less.
    assert record.delivered_mg(at(45)) == pytest.approx(28.0, abs=FLOAT_SUMS)


def test_a_correction_can_void_an_entry_entered_in_error() -> None:
    record = (
        started()
        .append(at(20), NURSE, RateChange(75))
        .correct(at(21), NURSE, 2, None, "wrong patient's pump")
    )
    assert [e.entry_id for e in record.effective_events()] == [1]
    assert record.delivered_mg(at(30)) == pytest.approx(30.0, abs=FLOAT_SUMS)


def test_a_correction_that_would_break_the_order_rules_is_refused() -> None:
    record = worked_example()
    with pytest.raises(IllegalTransition, match=r"rate_change .* paused"):
        record.correct(at(60), NURSE, 3, None, "resume never happened")


def test_a_correction_must_name_an_existing_original_entry() -> None:
    record = worked_example().correct(at(60), NURSE, 4, RateChange(60), "fix")
    with pytest.raises(InvalidInput, match="corrects_id: got 99"):
        record.correct(at(61), NURSE, 99, RateChange(60), "fix")
    with pytest.raises(InvalidInput, match="original entry"):
        record.correct(at(61), NURSE, 6, RateChange(60), "fix of a fix")


def test_a_correction_keeps_the_kind_of_event() -> None:
    with pytest.raises(InvalidInput, match="replacement: got 'pause'"):
        worked_example().correct(at(60), NURSE, 4, Pause(), "was a pause")


def test_a_correction_needs_a_reason() -> None:
    with pytest.raises(InvalidInput, match="reason"):
        worked_example().correct(at(60), NURSE, 4, RateChange(60), "")


def test_a_stored_record_is_checked_when_loaded() -> None:
    record = worked_example()
    reordered = (record.entries[1], record.entries[0], *record.entries[2:])
    with pytest.raises(InvalidInput, match="entry number 1"):
        AdministrationRecord(entries=reordered)
