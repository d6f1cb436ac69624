"""Drug-library limits (domain/drug_library.py): ok / soft / hard, overrides, shipped defaults."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from ketaclinic.domain.dosing import BagPreparation, Preparation, StockPreparation, compute_dose
from ketaclinic.domain.drug_library import (
    DEFAULT_LIBRARY,
    Limit,
    LimitEvaluation,
    LimitLevel,
    Override,
    Quantity,
    evaluate,
    evaluate_values,
    limits_for,
)
from ketaclinic.domain.errors import InvalidInput, LimitExceeded, OverrideRequired
from ketaclinic.domain.provenance import Tag, Threshold, derived, design
from ketaclinic.domain.weight import dosing_weight

NOW = dt.datetime(2026, 11, 24, 9, 30, tzinfo=dt.UTC)
FEDER = limits_for("feder-2021")


def check(
    mg_per_kg: float = 0.5, minutes: float = 40.0, preparation: Preparation | None = None
) -> LimitEvaluation:
    prep = preparation if preparation is not None else BagPreparation(100.0)
    return evaluate(FEDER, compute_dose(dosing_weight(70.0), mg_per_kg, minutes, prep))


def override(requested_by: str = "dr.smith", confirmed_by: str = "dr.jones") -> Override:
    return Override("titration after partial response", requested_by, confirmed_by, NOW)


def test_the_shipped_library_has_the_trial_protocols_and_a_default() -> None:
    assert set(DEFAULT_LIBRARY) == {"feder-2021", "abdallah-2022", "default"}
    assert limits_for("feder-2021").studied_doses_mg_per_kg == (0.5,)
    assert limits_for("abdallah-2022").studied_doses_mg_per_kg == (0.2, 0.5)


def test_the_standard_trial_dose_is_within_every_limit() -> None:
    evaluation = check()
    assert evaluation.level is LimitLevel.OK
    assert evaluation.hits == ()
    assert evaluation.require_permitted() is None


def test_a_dose_above_half_a_mg_per_kg_is_a_soft_limit() -> None:
    evaluation = check(mg_per_kg=0.6)
    assert evaluation.level is LimitLevel.SOFT
    quantities = {hit.quantity for hit in evaluation.hits}
    assert Quantity.DOSE_MG_PER_KG in quantities


def test_a_duration_under_40_min_is_a_soft_limit() -> None:
    evaluation = check(minutes=30.0)
    assert evaluation.level is LimitLevel.SOFT
    hit = next(h for h in evaluation.hits if h.quantity is Quantity.DURATION_MIN)
    assert "below the minimum 40 min" in hit.message


def test_a_dose_above_the_clinic_ceiling_is_a_hard_limit() -> None:
    evaluation = check(mg_per_kg=1.5)
    assert evaluation.level is LimitLevel.HARD
    with pytest.raises(LimitExceeded) as caught:
        evaluation.require_permitted()
    assert caught.value.field == "dose_mg_per_kg"
    assert "1.5" in caught.value.message
    assert "no override exists" in caught.value.message


def test_an_override_does_not_lift_a_hard_limit() -> None:
    evaluation = check(mg_per_kg=1.5)
    with pytest.raises(LimitExceeded):
        evaluation.require_permitted(override())


def test_no_push_mode_a_very_short_infusion_is_a_hard_limit() -> None:
    evaluation = check(minutes=5.0)
    assert evaluation.level is LimitLevel.HARD
    hard = {h.quantity for h in evaluation.hard_hits}
    assert Quantity.DURATION_MIN in hard


def test_undiluted_100_mg_per_ml_is_a_hard_limit_from_the_dilution_rule() -> None:
    evaluation = check(preparation=StockPreparation(100.0))
    hit = next(h for h in evaluation.hard_hits if h.quantity is Quantity.CONCENTRATION_MG_PER_ML)
    assert hit.bound.value == 50.0
    assert hit.bound.provenance.tag is Tag.DERIVED


def test_a_soft_limit_without_an_override_is_refused() -> None:
    evaluation = check(mg_per_kg=0.6)
    with pytest.raises(OverrideRequired) as caught:
        evaluation.require_permitted()
    assert caught.value.field == "dose_mg_per_kg"
    assert "second person" in caught.value.message


def test_a_soft_limit_with_a_two_person_override_proceeds() -> None:
    evaluation = check(mg_per_kg=0.6)
    given = override()
    assert evaluation.require_permitted(given) is given


@pytest.mark.parametrize("confirmer", ["dr.smith", "DR.SMITH", " dr.smith "])
def test_the_requester_cannot_confirm_their_own_override(confirmer: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        override("dr.smith", confirmer)
    assert caught.value.field == "confirmed_by"


def test_an_override_needs_a_reason() -> None:
    with pytest.raises(InvalidInput) as caught:
        Override("ok", "dr.smith", "dr.jones", NOW)
    assert caught.value.field == "reason"


def test_an_override_needs_a_timezone_aware_time() -> None:
    with pytest.raises(InvalidInput) as caught:
        Override("titration after partial response", "a.b", "c.d", dt.datetime(2026, 11, 24))
    assert caught.value.field == "at"


def test_every_limit_hit_is_reported_not_only_the_first() -> None:
    # 0.8 mg/kg over 30 min: dose, rate and duration are all past their soft limits.
    evaluation = check(mg_per_kg=0.8, minutes=30.0)
    quantities = {hit.quantity for hit in evaluation.hits}
    assert {Quantity.DOSE_MG_PER_KG, Quantity.RATE_MG_PER_KG_PER_H, Quantity.DURATION_MIN} <= (
        quantities
    )


def test_values_can_be_checked_alone_for_a_rate_change() -> None:
    evaluation = evaluate_values(FEDER, {Quantity.RATE_ML_PER_H: 1200.0})
    assert evaluation.level is LimitLevel.HARD
    assert [hit.quantity for hit in evaluation.hits] == [Quantity.RATE_ML_PER_H]


def test_shipped_limits_name_their_source() -> None:
    for protocol in DEFAULT_LIBRARY.values():
        for limit in protocol.limits:
            for bound in (limit.soft, limit.hard):
                assert bound is not None
                assert bound.provenance.reference
                assert bound.value > 0


def test_an_unknown_protocol_lists_the_known_ones() -> None:
    with pytest.raises(InvalidInput) as caught:
        limits_for("ketamine-forever")
    assert caught.value.field == "protocol"
    assert "abdallah-2022, default, feder-2021" in caught.value.message


def test_a_clinic_cannot_raise_the_concentration_ceiling_above_50_mg_per_ml() -> None:
    loose = Limit(
        Quantity.CONCENTRATION_MG_PER_ML,
        "mg/mL",
        True,
        soft=None,
        hard=Threshold("c.hard", 60.0, "mg/mL", design("clinic")),
    )
    with pytest.raises(InvalidInput) as caught:
        dataclasses.replace(FEDER, concentration_mg_per_ml=loose)
    assert caught.value.field == "concentration_mg_per_ml.hard"


def test_a_clinic_cannot_remove_the_minimum_duration() -> None:
    no_minimum = Limit(Quantity.DURATION_MIN, "min", False, soft=None, hard=None)
    with pytest.raises(InvalidInput) as caught:
        dataclasses.replace(FEDER, duration_min=no_minimum)
    assert caught.value.field == "duration_min.hard"


def test_a_soft_bound_outside_the_hard_one_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        Limit(
            Quantity.DOSE_MG_PER_KG,
            "mg/kg",
            True,
            soft=Threshold("s", 2.0, "mg/kg", design("x")),
            hard=Threshold("h", 1.0, "mg/kg", derived("x")),
        )
    assert caught.value.field == "s"


def test_a_limit_in_the_wrong_slot_is_refused() -> None:
    with pytest.raises(InvalidInput):
        dataclasses.replace(FEDER, dose_mg=FEDER.dose_mg_per_kg)
