"""Dose orders (services/dosing.py) on the in-memory store: who may order, sign and confirm;
soft limits need a reason and a *different* second person; hard limits and doubtful weights
store nothing; every step is audited."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from ketaclinic.domain.dosing import BagPreparation, StockPreparation
from ketaclinic.domain.errors import (
    Conflict,
    InvalidInput,
    LimitExceeded,
    NotFound,
    OverrideRequired,
    PermissionDenied,
)
from ketaclinic.services import dosing
from ketaclinic.services.dosing_calc import DoseRequest
from ketaclinic.services.dosing_ports import ConfirmationMethod, OrderStatus

STANDARD = DoseRequest(mg_per_kg=0.5, duration_min=40.0, preparation=BagPreparation(100.0))
STEPPED = DoseRequest(mg_per_kg=0.6, duration_min=40.0, preparation=BagPreparation(100.0))
REASON = "Partial response at 0.5 mg/kg after two infusions"
# Stored numbers are computed, not typed: 1e-9 only absorbs binary floating point.
EXACT = 1e-9


def order(clinic, who: str, patient: str = "adam", request: DoseRequest = STANDARD):
    with clinic.uow() as uow:
        return dosing.order_dose(
            uow, clinic.clock, clinic.actor(who), clinic.patients[patient], request
        )


def confirm(clinic, who: str, order_id: int):
    with clinic.uow() as uow:
        return dosing.confirm_override(
            uow, clinic.clock, clinic.actor(who), order_id, via=ConfirmationMethod.TOKEN
        )


def sign(clinic, who: str, order_id: int, reason: str = ""):
    with clinic.uow() as uow:
        return dosing.sign_order(uow, clinic.clock, clinic.actor(who), order_id, reason)


def stored_orders(clinic, patient: str = "adam") -> list:
    with clinic.uow() as uow:
        return uow.dosing.patient_orders(clinic.patients[patient])


def test_a_prescribers_order_is_signed_and_verified_at_once(clinic) -> None:
    placed = order(clinic, "prescriber")
    assert placed.status is OrderStatus.VERIFIED
    assert placed.signed_by == placed.prepared_by == clinic.user_id("prescriber")
    # 0.5 mg/kg × 100 kg in 100 mL over 40 min → 0.5 mg/mL at 150 mL/h (REFERENCE.md §3.4).
    assert placed.dose_mg == pytest.approx(50.0, abs=EXACT)
    assert placed.concentration_mg_per_ml == pytest.approx(0.5, abs=EXACT)
    assert placed.pump_rate_ml_per_h == 150.0
    assert placed.limit_level.value == "ok"
    assert placed.limit_hits == ()
    assert stored_orders(clinic) == [placed]
    assert ("create", "dose_order", "ok", "verified; limit ok; basis actual") in clinic.audit()


def test_the_weight_basis_is_stored_with_each_weight(clinic) -> None:
    # REFERENCE.md §3.2 worked example: male, 175 cm, 100 kg → IBW 70.5, AdjBW 82.3 kg, and
    # 0.5 mg/kg gives 50.0 / 35.2 / 41.1 mg (ABW / IBW / AdjBW), printed to 0.1 mg.
    doses = {}
    for basis in ("actual", "ideal", "adjusted"):
        placed = order(clinic, "prescriber", request=dataclasses.replace(STANDARD, basis=basis))
        assert placed.weight_basis.value == basis
        assert placed.actual_weight_kg == 100.0
        assert placed.ideal_weight_kg == pytest.approx(70.5, abs=0.05)
        assert placed.adjusted_weight_kg == pytest.approx(82.3, abs=0.05)
        doses[basis] = placed.dose_mg
    assert doses == pytest.approx({"actual": 50.0, "ideal": 35.2, "adjusted": 41.1}, abs=0.05)


def test_an_ideal_weight_above_the_actual_one_is_stored_as_a_warning(clinic) -> None:
    placed = order(clinic, "prescriber", "beth", dataclasses.replace(STANDARD, basis="ideal"))
    assert placed.dosing_weight_kg > placed.actual_weight_kg
    assert any("exceeds actual weight" in w for w in placed.weight_warnings)


def test_ideal_weight_needs_male_or_female_and_names_the_field(clinic) -> None:
    with pytest.raises(InvalidInput) as refused:
        order(clinic, "prescriber", "cas", dataclasses.replace(STANDARD, basis="ideal"))
    assert refused.value.field == "sex"
    assert stored_orders(clinic, "cas") == []
    assert order(clinic, "prescriber", "cas").dosing_weight_kg == 70.0  # actual still works


def test_a_patient_without_a_weight_cannot_be_dosed(clinic) -> None:
    with pytest.raises(InvalidInput, match="record the patient's weight first") as refused:
        order(clinic, "prescriber", "dora")
    assert refused.value.field == "weight_kg"


def test_a_nurses_order_awaits_a_prescribers_signature(clinic) -> None:
    prepared = order(clinic, "nurse")
    assert prepared.status is OrderStatus.AWAITING_SIGNATURE
    with pytest.raises(PermissionDenied):
        sign(clinic, "nurse", prepared.id)
    signed = sign(clinic, "prescriber", prepared.id)
    assert signed.status is OrderStatus.VERIFIED
    assert signed.signed_by == clinic.user_id("prescriber")
    assert signed.prepared_by == clinic.user_id("nurse")
    with pytest.raises(Conflict, match="signed already"):
        sign(clinic, "prescriber2", prepared.id)


def test_a_soft_limit_without_a_reason_is_refused_and_nothing_is_stored(clinic) -> None:
    with pytest.raises(OverrideRequired, match=r"dose_mg_per_kg 0\.6 mg/kg") as refused:
        order(clinic, "prescriber", request=STEPPED)
    assert refused.value.field == "override_reason"
    assert stored_orders(clinic) == []


def test_a_soft_limit_override_needs_a_different_second_person(clinic) -> None:
    requested = order(
        clinic, "prescriber", request=dataclasses.replace(STEPPED, override_reason=REASON)
    )
    assert requested.status is OrderStatus.AWAITING_CONFIRMATION
    assert requested.override_reason == REASON
    assert requested.override_requested_by == clinic.user_id("prescriber")
    assert {h.quantity.value for h in requested.limit_hits} == {
        "dose_mg_per_kg",
        "rate_mg_per_kg_per_h",
    }
    assert all("REFERENCE.md §3.1" in h.provenance for h in requested.limit_hits)

    with pytest.raises(PermissionDenied, match="different from the requester"):
        confirm(clinic, "prescriber", requested.id)
    assert stored_orders(clinic)[0].status is OrderStatus.AWAITING_CONFIRMATION
    assert ("denied", "dose_override", "denied", "forbidden") in clinic.audit("dose_override")

    clinic.clock.advance(minutes=3)
    confirmed = confirm(clinic, "nurse", requested.id)
    assert confirmed.status is OrderStatus.VERIFIED
    assert confirmed.override_confirmed_by == clinic.user_id("nurse")
    assert confirmed.override_confirmed_at == clinic.clock.now()
    assert confirmed.override_confirmed_via == "token"
    assert ("update", "dose_override", "ok", "second person confirmed via token") in clinic.audit()
    with pytest.raises(Conflict, match="no override awaits confirmation"):
        confirm(clinic, "prescriber2", requested.id)


def test_the_director_is_not_a_second_person(clinic) -> None:
    requested = order(
        clinic, "prescriber", request=dataclasses.replace(STEPPED, override_reason=REASON)
    )
    with pytest.raises(PermissionDenied):
        confirm(clinic, "director", requested.id)


def test_a_nurses_soft_limit_order_gets_its_reason_from_the_signing_prescriber(clinic) -> None:
    with pytest.raises(InvalidInput) as refused:
        order(clinic, "nurse", request=dataclasses.replace(STEPPED, override_reason=REASON))
    assert refused.value.field == "override_reason"
    prepared = order(clinic, "nurse", request=STEPPED)
    assert prepared.status is OrderStatus.AWAITING_SIGNATURE
    with pytest.raises(OverrideRequired):
        sign(clinic, "prescriber", prepared.id)
    signed = sign(clinic, "prescriber", prepared.id, REASON)
    assert signed.status is OrderStatus.AWAITING_CONFIRMATION
    # The nurse who prepared it is a different person from the prescriber who requested it.
    assert confirm(clinic, "nurse", prepared.id).status is OrderStatus.VERIFIED


def test_a_reason_too_short_to_judge_is_refused(clinic) -> None:
    with pytest.raises(InvalidInput, match="a reason of 5–500 characters") as refused:
        order(clinic, "prescriber", request=dataclasses.replace(STEPPED, override_reason="ok"))
    assert refused.value.field == "override_reason"


def test_a_hard_limit_is_refused_audited_and_nothing_is_stored(clinic) -> None:
    with pytest.raises(LimitExceeded, match="no override exists") as refused:
        order(
            clinic,
            "prescriber",
            request=dataclasses.replace(STEPPED, mg_per_kg=1.2, override_reason=REASON),
        )
    assert refused.value.field == "dose_mg_per_kg"
    assert stored_orders(clinic) == []
    assert ("create", "dose_order", "denied", "hard limit: dose_mg_per_kg") in clinic.audit()


def test_undiluted_stock_is_a_hard_limit(clinic) -> None:
    with pytest.raises(LimitExceeded) as refused:
        order(
            clinic,
            "prescriber",
            request=dataclasses.replace(STANDARD, preparation=StockPreparation(100.0)),
        )
    assert refused.value.field == "concentration_mg_per_ml"  # above 50 mg/mL (§3.3)


def test_a_weight_that_looks_like_pounds_blocks_the_order(clinic) -> None:
    clinic.weigh("adam", 220.5)  # 100 kg typed in pounds
    with pytest.raises(InvalidInput, match="likely pounds entered as kilograms") as refused:
        order(clinic, "prescriber")
    assert refused.value.field == "confirm_weight"
    assert stored_orders(clinic) == []


def test_a_doubtful_weight_is_ordered_once_confirmed_and_who_confirmed_it_is_stored(
    clinic,
) -> None:
    clinic.weigh("adam", 88.0)  # 12 % below the 100 kg of the previous visit
    with pytest.raises(InvalidInput, match=r"changed -12\.0 %"):
        order(clinic, "nurse")
    clinic.clock.advance(minutes=1)
    placed = order(clinic, "nurse", request=dataclasses.replace(STANDARD, confirm_weight=True))
    assert placed.actual_weight_kg == 88.0
    assert any("changed" in finding for finding in placed.weight_findings)
    assert placed.weight_confirmed_by == clinic.user_id("nurse")
    assert placed.weight_confirmed_at == clinic.clock.now()
    assert "doubtful weight confirmed by the orderer" in clinic.audit("dose_order")[-1][3]


def test_another_sites_patient_is_not_found_and_the_attempt_audited(clinic) -> None:
    with pytest.raises(NotFound):
        order(clinic, "prescriber", "fll")
    elsewhere = order(clinic, "nurse_fll", "fll")
    with pytest.raises(NotFound), clinic.uow() as uow:
        dosing.get_order(uow, clinic.clock, clinic.actor("nurse"), elsewhere.id)
    denied = [entry for entry in clinic.audit() if entry[0] == "denied"]
    assert [entry[2] for entry in denied] == ["not_found", "not_found"]


def test_the_front_desk_may_not_order_or_read_orders(clinic) -> None:
    with pytest.raises(PermissionDenied):
        order(clinic, "frontdesk")
    with pytest.raises(PermissionDenied), clinic.uow() as uow:
        dosing.list_orders(uow, clinic.clock, clinic.actor("frontdesk"), clinic.patients["adam"])


def test_a_note_longer_than_500_characters_is_refused(clinic) -> None:
    with pytest.raises(InvalidInput) as refused:
        order(clinic, "prescriber", request=dataclasses.replace(STANDARD, note="x" * 501))
    assert refused.value.field == "note"


def test_the_chair_gets_the_newest_verified_order_of_the_last_24_hours(clinic) -> None:
    first = order(clinic, "prescriber")
    clinic.clock.advance(minutes=5)
    second = order(clinic, "prescriber")
    clinic.clock.advance(minutes=5)
    order(clinic, "nurse")  # newest, but not signed
    with clinic.uow() as uow:
        found = dosing.verified_order_for_session(
            uow, clinic.clock, clinic.actor("nurse"), patient_id=clinic.patients["adam"]
        )
    assert found is not None
    assert found.id == second.id != first.id
    with clinic.uow() as uow:
        other = dosing.verified_order_for_session(
            uow,
            clinic.clock,
            clinic.actor("nurse"),
            patient_id=clinic.patients["adam"],
            protocol_id="abdallah-2022",
        )
        later = dosing.verified_order_for_session(
            uow,
            clinic.clock,
            clinic.actor("nurse"),
            patient_id=clinic.patients["adam"],
            at=clinic.clock.now() + dt.timedelta(hours=25),
        )
    assert other is None
    assert later is None


def test_the_chairs_lookup_is_recorded_but_left_for_the_caller_to_commit(clinic) -> None:
    order(clinic, "prescriber")
    before = len(clinic.audit())
    with clinic.uow() as uow:
        dosing.verified_order_for_session(
            uow, clinic.clock, clinic.actor("nurse"), patient_id=clinic.patients["adam"]
        )
        uow.commit()
    with clinic.uow() as uow:
        dosing.verified_order_for_session(
            uow, clinic.clock, clinic.actor("nurse"), patient_id=clinic.patients["adam"]
        )
    assert len(clinic.audit()) == before + 1  # the uncommitted read rolled back with its caller
