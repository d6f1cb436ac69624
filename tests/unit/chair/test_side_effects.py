"""Structured side-effect entries and the flag that routes them to the prescriber."""

from __future__ import annotations

import datetime as dt

import pytest

from ketaclinic.domain.errors import InvalidInput, PermissionDenied
from ketaclinic.domain.people import Role
from ketaclinic.domain.session_lifecycle import Actor
from ketaclinic.domain.side_effects import (
    Intervention,
    SeriousCriterion,
    Severity,
    SideEffectEntry,
    SideEffectKind,
)

NURSE = Actor(11, Role.NURSE)
T0 = dt.datetime(2026, 3, 2, 14, 20, tzinfo=dt.UTC)


def entry(**changes: object) -> SideEffectEntry:
    fields: dict[str, object] = {
        "kind": SideEffectKind.NAUSEA_VOMITING,
        "severity": Severity.MILD,
        "onset_at": T0,
        "recorded_by": NURSE,
    }
    fields.update(changes)
    return SideEffectEntry(**fields)  # type: ignore[arg-type]


def test_a_mild_effect_with_no_intervention_is_not_flagged() -> None:
    mild = entry()
    assert mild.interventions == frozenset({Intervention.NONE})
    assert not mild.flagged_for_prescriber
    assert not mild.is_serious
    assert mild.flag_reasons() == []


def test_a_severe_effect_is_flagged_but_not_serious() -> None:
    severe = entry(severity=Severity.SEVERE, interventions=frozenset({Intervention.ANTIEMETIC}))
    assert severe.flagged_for_prescriber
    assert not severe.is_serious
    assert severe.flag_reasons() == ["severe"]


def test_a_serious_criterion_flags_even_a_mild_looking_effect() -> None:
    sae = entry(
        kind=SideEffectKind.BP_RISE,
        severity=Severity.MODERATE,
        interventions=frozenset({Intervention.INFUSION_STOPPED, Intervention.EMERGENCY_SERVICES}),
        serious_criteria=frozenset({SeriousCriterion.HOSPITALISATION}),
    )
    assert sae.is_serious
    assert sae.flagged_for_prescriber
    assert sae.flag_reasons() == ["serious: hospitalisation"]


def test_other_needs_a_short_description() -> None:
    with pytest.raises(InvalidInput, match="other_text"):
        entry(kind=SideEffectKind.OTHER)
    assert entry(kind=SideEffectKind.OTHER, other_text="tingling lips").other_text


def test_free_text_is_refused_for_a_listed_kind() -> None:
    with pytest.raises(InvalidInput, match="free text is only for 'other'"):
        entry(kind=SideEffectKind.HEADACHE, other_text="mild frontal")


def test_the_other_intervention_needs_its_own_description() -> None:
    with pytest.raises(InvalidInput, match="intervention_text"):
        entry(interventions=frozenset({Intervention.OTHER}))
    with pytest.raises(InvalidInput, match="intervention_text"):
        entry(intervention_text="ginger tea")


def test_none_cannot_be_combined_with_an_intervention() -> None:
    with pytest.raises(InvalidInput, match="interventions"):
        entry(interventions=frozenset({Intervention.NONE, Intervention.ANTIEMETIC}))
    with pytest.raises(InvalidInput, match="interventions"):
        entry(interventions=frozenset())


def test_resolution_cannot_precede_onset() -> None:
    with pytest.raises(InvalidInput, match="resolved_at"):
        entry(resolved_at=T0 - dt.timedelta(minutes=1))
    assert entry(resolved_at=T0).resolved_at == T0


def test_only_chair_staff_chart_side_effects() -> None:
    with pytest.raises(PermissionDenied):
        entry(recorded_by=Actor(31, Role.FRONT_DESK))
