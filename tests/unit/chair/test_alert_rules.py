"""Alert rules: every clinical boundary (at the threshold vs just past it), the plausibility
tier, and what a finding says. Thresholds are REFERENCE.md §5's defaults."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from ketaclinic.domain.alerts import (
    DEFAULT_RULES,
    AlertAction,
    AlertFinding,
    AlertTier,
    Comparison,
    ReadingContext,
    evaluate,
    nibp_overdue,
)
from ketaclinic.domain.errors import InvalidInput
from ketaclinic.domain.provenance import Tag
from ketaclinic.domain.session_lifecycle import Phase
from ketaclinic.domain.vitals import VitalKind, VitalReading, VitalSource

T0 = dt.datetime(2026, 3, 2, 14, 0, tzinfo=dt.UTC)
PRE = ReadingContext(Phase.PRE_INFUSION)
DURING = ReadingContext(Phase.INFUSION)
AFTER = ReadingContext(Phase.POST_INFUSION)


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def reading(kind: VitalKind, value: float, minutes: float = 0) -> VitalReading:
    return VitalReading(kind, value, at(minutes), VitalSource.MONITOR)


def bp(systolic: float, diastolic: float, minutes: float = 0) -> list[VitalReading]:
    return [
        reading(VitalKind.BP_SYSTOLIC, systolic, minutes),
        reading(VitalKind.BP_DIASTOLIC, diastolic, minutes),
    ]


def rules_fired(findings: list[AlertFinding]) -> set[str]:
    return {f.rule_key for f in findings}


# --- clinical boundaries -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("systolic", "diastolic", "fired"),
    [
        (180, 100, {"bp_urgency"}),  # at the limit: not above it, but urgency is ≥ 180
        (179, 100, set()),
        (181, 100, {"bp_during_infusion", "bp_urgency"}),  # 181 ≥ 180 is also urgency
        (179, 101, {"bp_during_infusion"}),
        (179, 119, {"bp_during_infusion"}),
        (179, 120, {"bp_during_infusion", "bp_urgency"}),  # urgency is ≥, inclusive
        (170, 95, set()),
    ],
)
def test_bp_during_infusion_fires_above_180_over_100(
    systolic: float, diastolic: float, fired: set[str]
) -> None:
    assert rules_fired(evaluate(bp(systolic, diastolic), DURING)) == fired


def test_bp_urgency_fires_at_exactly_180_systolic() -> None:
    assert rules_fired(evaluate(bp(180, 80), DURING)) == {"bp_urgency"}
    assert rules_fired(evaluate(bp(179, 80), DURING)) == set()


def test_after_the_infusion_only_urgency_applies_to_high_bp() -> None:
    assert rules_fired(evaluate(bp(185, 105), AFTER)) == {"bp_urgency"}
    assert rules_fired(evaluate(bp(179, 110), AFTER)) == set()


@pytest.mark.parametrize(
    ("systolic", "diastolic", "fired"),
    [
        (140, 90, set()),
        (141, 90, {"pre_infusion_bp_hold"}),
        (140, 91, {"pre_infusion_bp_hold"}),
        (180, 100, {"pre_infusion_bp_hold"}),
        (181, 100, {"pre_infusion_bp_hold", "pre_infusion_bp_no_infusion"}),
        (150, 101, {"pre_infusion_bp_hold", "pre_infusion_bp_no_infusion"}),
    ],
)
def test_resting_bp_before_start_holds_above_140_90_and_stops_above_180_100(
    systolic: float, diastolic: float, fired: set[str]
) -> None:
    assert rules_fired(evaluate(bp(systolic, diastolic), PRE)) == fired


@pytest.mark.parametrize(("hr", "fires"), [(110, False), (111, True)])
def test_heart_rate_during_infusion_fires_above_110(hr: float, fires: bool) -> None:
    findings = evaluate([reading(VitalKind.HEART_RATE, hr)], DURING)
    assert rules_fired(findings) == ({"hr_during_infusion"} if fires else set())


def test_heart_rate_limit_applies_only_during_the_infusion() -> None:
    assert evaluate([reading(VitalKind.HEART_RATE, 125)], AFTER) == []
    assert evaluate([reading(VitalKind.HEART_RATE, 125)], PRE) == []


@pytest.mark.parametrize(("spo2", "fires"), [(92, False), (91, True)])
@pytest.mark.parametrize("context", [PRE, DURING, AFTER], ids=lambda c: c.phase.value)
def test_spo2_alarms_below_92_in_every_open_phase(
    spo2: float, fires: bool, context: ReadingContext
) -> None:
    findings = evaluate([reading(VitalKind.SPO2, spo2)], context)
    assert rules_fired(findings) == ({"spo2_low"} if fires else set())


@pytest.mark.parametrize(
    ("systolic", "diastolic", "fires"),
    [(170, 100, False), (171, 100, True), (150, 110, False), (150, 111, True)],
)
def test_rise_over_baseline_fires_above_40_over_30_mmhg(
    systolic: float, diastolic: float, fires: bool
) -> None:
    context = ReadingContext(
        Phase.INFUSION, baseline={VitalKind.BP_SYSTOLIC: 130, VitalKind.BP_DIASTOLIC: 80}
    )
    fired = rules_fired(evaluate(bp(systolic, diastolic), context))
    assert ("bp_rise_from_baseline" in fired) is fires


def test_rise_over_baseline_reports_the_rise_and_is_a_design_default() -> None:
    context = ReadingContext(Phase.INFUSION, baseline={VitalKind.BP_SYSTOLIC: 120})
    [finding] = evaluate(bp(165, 80), context)

    assert finding.rule_key == "bp_rise_from_baseline"
    assert finding.value == 45
    assert finding.threshold.value == 40
    assert finding.source.tag is Tag.DESIGN
    assert finding.action is AlertAction.REASSESS


def test_without_a_baseline_the_rise_rule_stays_silent() -> None:
    assert evaluate(bp(175, 95), DURING) == []


def test_nothing_is_evaluated_once_the_session_is_closed() -> None:
    assert evaluate(bp(220, 130), ReadingContext(Phase.CLOSED)) == []


# --- what a finding says -------------------------------------------------------------------------


def test_a_finding_names_rule_value_threshold_tier_action_and_source() -> None:
    [finding] = evaluate(bp(178, 104, minutes=12), DURING)

    assert finding.rule_key == "bp_during_infusion"
    assert finding.tier is AlertTier.CLINICAL
    assert finding.vital is VitalKind.BP_DIASTOLIC
    assert finding.value == 104
    assert finding.comparison is Comparison.GT
    assert finding.threshold.value == 100
    assert finding.threshold.unit == "mm[Hg]"
    assert finding.action is AlertAction.PAUSE_OR_STOP
    assert finding.source.tag is Tag.UNVERIFIED
    assert finding.source.reference == "Sanacora 2017"
    assert finding.observed_at == at(12)
    assert finding.message.startswith("BP above the infusion limit: 104 mm[Hg] > 100 mm[Hg]")
    assert "[unverified: Sanacora 2017" in finding.message


def test_the_absolute_pre_infusion_limit_is_cited() -> None:
    findings = evaluate(bp(190, 95), PRE)
    absolute = next(f for f in findings if f.rule_key == "pre_infusion_bp_no_infusion")
    assert absolute.source.tag is Tag.CITED
    assert absolute.action is AlertAction.NO_INFUSION_TODAY


def test_every_default_clinical_threshold_carries_provenance() -> None:
    for rule in DEFAULT_RULES.clinical:
        for limit in rule.limits:
            assert limit.threshold.provenance.reference, rule.key
            assert limit.threshold.provenance.section == "§5", rule.key


def test_a_clinic_setting_replaces_a_default_threshold() -> None:
    rule = DEFAULT_RULES.rule("hr_during_infusion")
    [limit] = rule.limits
    stricter = dataclasses.replace(
        limit, threshold=limit.threshold.with_value(100, "dr.lee", dt.date(2026, 1, 1))
    )
    rules = dataclasses.replace(
        DEFAULT_RULES,
        clinical=tuple(
            dataclasses.replace(r, limits=(stricter,)) if r.key == rule.key else r
            for r in DEFAULT_RULES.clinical
        ),
    )
    [finding] = evaluate([reading(VitalKind.HEART_RATE, 105)], DURING, rules)
    assert finding.threshold.value == 100
    assert finding.threshold.approved_by == "dr.lee"


def test_an_unknown_rule_key_is_bad_input() -> None:
    with pytest.raises(InvalidInput, match="rule: got 'nope'"):
        DEFAULT_RULES.rule("nope")


# --- plausibility tier ---------------------------------------------------------------------------


def test_spo2_above_100_is_flagged_not_alarmed() -> None:
    [finding] = evaluate([reading(VitalKind.SPO2, 101)], DURING)
    assert finding.tier is AlertTier.PLAUSIBILITY
    assert finding.rule_key == "spo2_implausible"
    assert finding.action is AlertAction.CHECK_SENSOR
    assert evaluate([reading(VitalKind.SPO2, 100)], DURING) == []


def test_heart_rate_zero_is_flagged_not_alarmed() -> None:
    [finding] = evaluate([reading(VitalKind.HEART_RATE, 0)], DURING)
    assert finding.tier is AlertTier.PLAUSIBILITY
    assert finding.rule_key == "heart_rate_zero"
    assert evaluate([reading(VitalKind.HEART_RATE, 1)], DURING) == []


@pytest.mark.parametrize(("systolic", "diastolic"), [(120, 125), (120, 120)])
def test_systolic_not_above_diastolic_is_an_artefact_and_skips_the_bp_rules(
    systolic: float, diastolic: float
) -> None:
    # Diastolic 120/125 would breach the infusion and urgency limits if believed.
    findings = evaluate(bp(systolic, diastolic), DURING)
    assert [f.tier for f in findings] == [AlertTier.PLAUSIBILITY]
    assert findings[0].rule_key == "bp_systolic_not_above_diastolic"
    assert findings[0].value == systolic - diastolic


def test_one_mmhg_of_pulse_pressure_is_not_flagged() -> None:
    assert evaluate(bp(101, 100), DURING) == []


def test_an_impossible_jump_is_flagged_and_its_confirmation_alarms() -> None:
    earlier = [reading(VitalKind.SPO2, 98, minutes=0)]
    dropped = reading(VitalKind.SPO2, 60, minutes=1)

    first = evaluate([dropped], ReadingContext(Phase.INFUSION, recent=earlier))
    assert [(f.rule_key, f.tier) for f in first] == [("spo2_jump", AlertTier.PLAUSIBILITY)]
    assert first[0].value == 38

    confirmed = evaluate(
        [reading(VitalKind.SPO2, 61, minutes=2)],
        ReadingContext(Phase.INFUSION, recent=[*earlier, dropped]),
    )
    assert rules_fired(confirmed) == {"spo2_low"}


@pytest.mark.parametrize(
    ("previous", "gap_min", "flagged"),
    [
        (98, 1, False),  # 73 → 98: change of exactly 25 is believable
        (99, 1, True),  # change of 26 within the window
        (99, 2, True),  # at the window's edge
        (99, 3, False),  # readings too far apart to judge
    ],
)
def test_the_jump_screen_boundaries(previous: float, gap_min: float, flagged: bool) -> None:
    context = ReadingContext(
        Phase.INFUSION, recent=[reading(VitalKind.SPO2, previous, minutes=-gap_min)]
    )
    findings = evaluate([reading(VitalKind.SPO2, 73)], context)
    kinds = {(f.rule_key, f.tier) for f in findings}
    assert (("spo2_jump", AlertTier.PLAUSIBILITY) in kinds) is flagged
    assert (("spo2_low", AlertTier.CLINICAL) in kinds) is not flagged


def test_a_jump_in_one_pressure_flags_the_whole_cuff_measurement() -> None:
    recent = bp(120, 80, minutes=0)
    findings = evaluate(bp(190, 85, minutes=1), ReadingContext(Phase.INFUSION, recent=recent))
    assert [(f.rule_key, f.tier) for f in findings] == [
        ("bp_systolic_jump", AlertTier.PLAUSIBILITY)
    ]


def test_later_readings_are_not_used_as_the_previous_one() -> None:
    later = [reading(VitalKind.HEART_RATE, 150, minutes=5)]
    findings = evaluate(
        [reading(VitalKind.HEART_RATE, 70, minutes=4)],
        ReadingContext(Phase.INFUSION, recent=later),
    )
    assert findings == []


# --- NIBP overdue --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("phase", "waited_min", "overdue"),
    [
        (Phase.INFUSION, 10, False),
        (Phase.INFUSION, 10.5, True),
        (Phase.POST_INFUSION, 15, False),
        (Phase.POST_INFUSION, 15.5, True),
        (Phase.PRE_INFUSION, 60, False),
        (Phase.CLOSED, 60, False),
    ],
)
def test_nibp_is_overdue_after_10_min_during_and_15_min_after(
    phase: Phase, waited_min: float, overdue: bool
) -> None:
    finding = nibp_overdue(phase, at(-30), last_nibp_at=at(0), now=at(waited_min))
    assert (finding is not None) is overdue
    if finding is not None:
        assert finding.rule_key == "nibp_overdue"
        assert finding.tier is AlertTier.CLINICAL
        assert finding.value == waited_min
        assert finding.action is AlertAction.MEASURE_NOW
        assert finding.source.tag is Tag.DESIGN


def test_nibp_overdue_counts_from_the_phase_start_when_the_last_reading_is_older() -> None:
    infusion_start = at(0)
    baseline = at(-25)
    assert nibp_overdue(Phase.INFUSION, infusion_start, baseline, now=at(10)) is None
    assert nibp_overdue(Phase.INFUSION, infusion_start, baseline, now=at(11)) is not None
    assert nibp_overdue(Phase.INFUSION, infusion_start, None, now=at(11)) is not None
