"""Clinic values of the alert limits keep their order: hold at or below no-infusion-today before
the start, pause-or-stop at or below hypertensive urgency during the infusion."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ketaclinic.domain.alerts import DEFAULT_RULES
from ketaclinic.domain.clinic_settings import (
    ALERT_ORDER,
    ALERT_SETTINGS,
    ApprovedValue,
    check_alert_order,
)
from ketaclinic.domain.errors import InvalidInput

DAY = dt.date(2026, 11, 24)


def approved(**values: float | None) -> dict[str, ApprovedValue]:
    return {key: ApprovedValue(key, value, "director.mia", DAY) for key, value in values.items()}


def default(key: str) -> float:
    for rule in DEFAULT_RULES.clinical:
        for limit in rule.limits:
            if limit.threshold.key == key:
                return limit.threshold.value
    raise KeyError(key)


def test_every_ordered_key_is_an_adjustable_alert_limit_and_the_defaults_keep_the_order() -> None:
    keys = {item.key for item in ALERT_SETTINGS}
    for lower, upper in ALERT_ORDER:
        assert {lower, upper} <= keys
        assert default(lower) <= default(upper)
        check_alert_order({}, lower)
        check_alert_order({}, upper)


def test_a_hold_limit_above_the_no_infusion_limit_is_refused_naming_both() -> None:
    with pytest.raises(InvalidInput) as refused:
        check_alert_order(approved(pre_bp_hold_systolic=185), "pre_bp_hold_systolic")
    error = refused.value
    assert error.field == "pre_bp_hold_systolic"
    assert "at most 180 mm[Hg]" in str(error)
    assert "pre_bp_absolute_systolic" in str(error)


def test_lowering_the_urgency_limit_below_the_stop_limit_is_refused() -> None:
    with pytest.raises(InvalidInput) as refused:
        check_alert_order(approved(bp_urgency_diastolic=95), "bp_urgency_diastolic")
    assert refused.value.field == "bp_urgency_diastolic"
    assert "at least 100 mm[Hg]" in str(refused.value)


def test_a_reset_that_would_break_the_order_is_refused() -> None:
    # The clinic raised both pre-start limits; resetting the upper one alone (to 180) would put
    # it below the hold limit of 190.
    values = approved(pre_bp_absolute_systolic=None, pre_bp_hold_systolic=190)
    with pytest.raises(InvalidInput) as refused:
        check_alert_order(values, "pre_bp_absolute_systolic")
    assert "at least 190 mm[Hg]" in str(refused.value)


def test_equal_limits_and_unrelated_keys_pass() -> None:
    check_alert_order(
        approved(bp_infusion_systolic=180, bp_urgency_systolic=180), "bp_infusion_systolic"
    )
    check_alert_order(approved(pre_bp_hold_systolic=200), "spo2_min")  # not the changed key


@given(
    pair=st.sampled_from(ALERT_ORDER),
    low=st.integers(50, 260),
    high=st.integers(50, 260),
    change_lower=st.booleans(),
)
def test_a_value_passes_exactly_when_its_pair_keeps_the_order(
    pair: tuple[str, str], low: int, high: int, change_lower: bool
) -> None:
    lower, upper = pair
    values = approved(**{lower: low, upper: high})
    changed = lower if change_lower else upper
    if low <= high:
        check_alert_order(values, changed)
    else:
        with pytest.raises(InvalidInput) as refused:
            check_alert_order(values, changed)
        assert refused.value.field == changed
