"""The synthetic monitor feed: its course, its bounds and the messages it builds."""

from __future__ import annotations

import datetime as dt

import pytest

from ketaclinic.adapters.hl7.parser import parse_oru
from ketaclinic.adapters.hl7.simulator import (
    BACK_TO_BASELINE_AFTER_PEAK_MIN,
    PEAK_AT_MIN,
    PEAK_RISE_SYSTOLIC_MMHG,
    FeedConfig,
    MonitorStyle,
    bp_rise_fraction,
    feed_messages,
)
from ketaclinic.domain.errors import InvalidInput
from ketaclinic.domain.vitals import VitalKind

START = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)


def config(**overrides: object) -> FeedConfig:
    values: dict[str, object] = {"mrn": "DEMO-0001", "chair": "MIA-1", "count": 10}
    values.update(overrides)
    return FeedConfig(**values)  # type: ignore[arg-type]


def test_bp_rise_is_zero_at_start_full_at_the_peak_and_gone_after_the_return() -> None:
    assert bp_rise_fraction(0.0) == 0.0
    assert bp_rise_fraction(PEAK_AT_MIN) == 1.0
    assert bp_rise_fraction(PEAK_AT_MIN + BACK_TO_BASELINE_AFTER_PEAK_MIN) == 0.0
    assert bp_rise_fraction(-5.0) == 0.0
    assert bp_rise_fraction(500.0) == 0.0


def test_bp_rise_grows_until_the_peak_and_falls_after_it() -> None:
    up = [bp_rise_fraction(t) for t in range(0, 41, 5)]
    down = [bp_rise_fraction(t) for t in range(40, 131, 10)]
    assert up == sorted(up)
    assert down == sorted(down, reverse=True)


def test_same_seed_and_start_give_the_same_feed() -> None:
    one = [m.payload for m in feed_messages(config(), START)]
    two = [m.payload for m in feed_messages(config(), START)]
    other = [m.payload for m in feed_messages(config(seed=2), START)]
    assert one == two
    assert one != other


def test_count_bounds_the_number_of_messages() -> None:
    assert len(list(feed_messages(config(count=7), START))) == 7


def test_minutes_bound_the_simulated_duration() -> None:
    messages = list(feed_messages(config(count=None, minutes=2, interval_s=5), START))
    assert len(messages) == 24
    assert messages[-1].t_s == 115


def test_nibp_comes_every_n_minutes_and_continuous_vitals_every_message() -> None:
    messages = list(
        feed_messages(config(count=None, minutes=30, interval_s=5, nibp_every_min=10), START)
    )
    with_bp = [m.t_s for m in messages if "sys" in m.vitals]
    assert with_bp == [0, 600, 1200]
    assert all({"hr", "spo2", "rr"} <= m.vitals.keys() for m in messages)


def test_blood_pressure_peaks_near_forty_minutes() -> None:
    messages = list(
        feed_messages(config(count=None, minutes=130, interval_s=60, nibp_every_min=5), START)
    )
    systolic = {int(m.t_s // 60): m.vitals["sys"] for m in messages if "sys" in m.vitals}
    peak_minute = max(systolic, key=lambda minute: systolic[minute])
    # Noise (SD 3 mmHg) can move the highest reading one 5-minute cuff either side of the peak.
    assert abs(peak_minute - PEAK_AT_MIN) <= 10
    # The mean rise is 16 mmHg; allow four noise SDs either way.
    rise = systolic[40] - systolic[0]
    assert PEAK_RISE_SYSTOLIC_MMHG - 12 <= rise <= PEAK_RISE_SYSTOLIC_MMHG + 12


@pytest.mark.parametrize("style", list(MonitorStyle))
def test_every_message_parses_back_to_the_values_sent(style: MonitorStyle) -> None:
    for sent in feed_messages(config(count=None, minutes=15, style=style), START):
        message = parse_oru(sent.payload)
        assert message.control_id == sent.control_id
        assert message.mrn == "DEMO-0001"
        assert message.chair == "MIA-1"
        read = {o.kind: o.value for o in message.observations}
        assert read[VitalKind.HEART_RATE] == sent.vitals["hr"]
        assert read[VitalKind.SPO2] == sent.vitals["spo2"]
        if "sys" in sent.vitals:
            assert read[VitalKind.BP_SYSTOLIC] == sent.vitals["sys"]
            assert read[VitalKind.BP_MEAN] == sent.vitals["mean"]
        assert message.message_time == START + dt.timedelta(seconds=int(sent.t_s))


def test_control_ids_are_unique_within_a_run_and_differ_between_runs() -> None:
    first = [m.control_id for m in feed_messages(config(count=50), START)]
    later = [m.control_id for m in feed_messages(config(count=50), START + dt.timedelta(minutes=1))]
    assert len(set(first)) == 50
    assert not set(first) & set(later)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"mrn": "DEMO 0001"}, "mrn"),
        ({"mrn": ""}, "mrn"),
        ({"chair": "MIA|1"}, "chair"),
        ({"count": 0}, "count"),
        ({"count": 5, "minutes": 5}, "count/minutes"),
        ({"count": None}, "count/minutes"),
        ({"count": None, "minutes": 0}, "minutes"),
        ({"interval_s": 0.1}, "interval_s"),
        ({"speed": 0}, "speed"),
        ({"speed": float("nan")}, "speed"),
        ({"start": dt.datetime(2026, 1, 1)}, "start"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(
    overrides: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        config(**overrides)
    assert caught.value.field == field
