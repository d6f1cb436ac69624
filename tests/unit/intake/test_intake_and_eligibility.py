"""Intake by staff, weight plausibility, and the prescriber's eligibility decision
(services/intake_assessment)."""

from __future__ import annotations

import pytest

from ketaclinic.domain.eligibility import Decision
from ketaclinic.domain.errors import Conflict, InvalidInput, LimitExceeded, PermissionDenied
from ketaclinic.services import intake_assessment
from ketaclinic.services.intake_models import IntakeNotes


def stored_intakes(clinic, mrn: str = "P-1") -> int:  # type: ignore[no-untyped-def]
    with clinic.uow() as uow:
        return len(uow.intake.intakes(clinic.patients[mrn]))


def weights(clinic, mrn: str = "P-1") -> list[float]:  # type: ignore[no-untyped-def]
    with clinic.uow() as uow:
        return [m.weight_kg for m in uow.patients.measurements(clinic.patients[mrn])]


def test_an_eligible_intake_is_stored_with_its_decision_and_weight(clinic) -> None:
    stored = clinic.record()
    assert stored.decision is Decision.ELIGIBLE
    assert stored.reasons == ()
    assert stored.record.age_years == 46  # born 1980-05-17, assessed 2026-11-20
    assert weights(clinic) == [70.0]
    assert stored.measurement_id is not None


def test_every_reason_is_stored_with_its_source(clinic) -> None:
    stored = clinic.record(
        conditions=["psychosis_history", "liver_disease"], bp_systolic=150, phq9=[1] * 9
    )
    assert stored.decision is Decision.NEEDS_REVIEW
    codes = [r.code for r in stored.reasons]
    # In the engine's rule order, not the order the conditions were ticked.
    assert codes == [
        "liver_disease",
        "psychosis_history",
        "bp_above_hold_limit",
        "phq9_item9_positive",
    ]
    assert stored.reasons[1].source.startswith("[unverified: Sanacora 2017")
    assert "150/78" in stored.reasons[2].message


def test_a_trauma_date_in_the_future_is_refused_and_nothing_is_stored(clinic) -> None:
    with pytest.raises(InvalidInput, match="trauma_date"):
        clinic.record(trauma_date="2026-12-01")
    assert stored_intakes(clinic) == 0
    assert weights(clinic) == []


def test_an_assessment_date_after_today_at_the_site_is_refused(clinic) -> None:
    # 12:00 UTC on 23 November is 07:00 in Miami: the 24th is still tomorrow there.
    with pytest.raises(InvalidInput, match="assessment_date"):
        clinic.record(assessment_date="2026-11-24")


def test_an_age_that_contradicts_the_date_of_birth_is_refused(clinic) -> None:
    with pytest.raises(InvalidInput, match=r"age_years: got 30, expected 46"):
        clinic.record(age_years=30)


def test_a_sex_that_contradicts_the_record_is_refused(clinic) -> None:
    with pytest.raises(InvalidInput, match="sex"):
        clinic.record(sex="male")


def intake_without_confirmation(clinic, weight: float):  # type: ignore[no-untyped-def]
    with clinic.uow() as uow:
        return intake_assessment.record_intake(
            uow,
            clinic.clock,
            clinic.actor("nurse.mia"),
            clinic.patients["P-1"],
            clinic.intake_json(weight_kg=weight),
            IntakeNotes(),
        )


def test_a_weight_that_looks_like_pounds_needs_the_nurses_confirmation(clinic) -> None:
    intake_without_confirmation(clinic, 70.0)
    with pytest.raises(InvalidInput, match="likely pounds") as refused:
        intake_without_confirmation(clinic, 154.3)  # 70 kg × 2.2046
    assert refused.value.field == "weight_confirmed"
    assert weights(clinic) == [70.0]
    assert stored_intakes(clinic) == 1


def test_a_change_above_ten_percent_is_stored_once_confirmed_with_the_finding(clinic) -> None:
    intake_without_confirmation(clinic, 70.0)
    with pytest.raises(InvalidInput, match=r"changed \+14\.3 %"):
        intake_without_confirmation(clinic, 80.0)
    confirmed = clinic.record(weight_kg=80.0)
    assert confirmed.weight_confirmed
    assert "changed +14.3 %" in confirmed.weight_findings[0]
    assert weights(clinic) == [70.0, 80.0]


def test_a_plausible_weight_needs_no_confirmation(clinic) -> None:
    intake_without_confirmation(clinic, 70.0)
    stored = intake_without_confirmation(clinic, 73.0)
    assert stored.weight_findings == ()
    assert not stored.weight_confirmed


def test_the_front_desk_cannot_record_an_intake(clinic) -> None:
    before = clinic.denied()
    with pytest.raises(PermissionDenied):
        clinic.record(who="front_desk.mia")
    assert clinic.denied() == before + 1
    assert stored_intakes(clinic) == 0


def sign(clinic, intake_id, who="prescriber.mia", reason=None):  # type: ignore[no-untyped-def]
    with clinic.uow() as uow:
        return intake_assessment.sign_eligibility(
            uow,
            clinic.clock,
            clinic.actor(who),
            clinic.patients["P-1"],
            intake_id,
            override_reason=reason,
        )


def test_a_prescriber_signs_an_eligible_decision(clinic) -> None:
    stored = clinic.record()
    signoff = sign(clinic, stored.id)
    assert signoff.decision is Decision.ELIGIBLE
    assert signoff.signed_by == clinic.actor("prescriber.mia").user_id
    assert signoff.signed_at == clinic.clock.now()
    assert not signoff.overridden


@pytest.mark.parametrize("who", ["front_desk.mia", "nurse.mia", "director.mia"])
def test_only_a_prescriber_may_sign_and_a_refusal_is_audited(clinic, who: str) -> None:
    stored = clinic.record()
    before = clinic.denied()
    with pytest.raises(PermissionDenied):
        sign(clinic, stored.id, who)
    assert clinic.denied() == before + 1
    with clinic.uow() as uow:
        assert uow.intake.signoff(stored.id) is None


def test_needs_review_is_overridden_to_eligible_with_a_written_reason(clinic) -> None:
    stored = clinic.record(conditions=["psychosis_history"])
    signoff = sign(
        clinic, stored.id, reason="Single episode 2009, stable since; psychiatrist agrees."
    )
    assert signoff.decision is Decision.ELIGIBLE
    assert signoff.original_decision is Decision.NEEDS_REVIEW
    assert signoff.overridden_codes == ("psychosis_history",)
    assert signoff.override_reason.startswith("Single episode")


def test_an_override_without_a_reason_is_refused(clinic) -> None:
    stored = clinic.record(conditions=["psychosis_history"])
    with pytest.raises(InvalidInput, match="reason"):
        sign(clinic, stored.id, reason="   ")
    with clinic.uow() as uow:
        assert uow.intake.signoff(stored.id) is None


def test_an_exclusion_cannot_be_overridden(clinic) -> None:
    stored = clinic.record(conditions=["ketamine_hypersensitivity"])
    with pytest.raises(LimitExceeded, match="ketamine_hypersensitivity"):
        sign(clinic, stored.id, reason="The patient insists.")
    signoff = sign(clinic, stored.id)
    assert signoff.decision is Decision.EXCLUDED


def test_signing_needs_review_without_override_does_not_clear_the_patient(clinic) -> None:
    stored = clinic.record(conditions=["current_mania"])
    assert sign(clinic, stored.id).decision is Decision.NEEDS_REVIEW


def test_an_intake_is_signed_once(clinic) -> None:
    stored = clinic.record()
    sign(clinic, stored.id)
    with pytest.raises(Conflict, match="already signed"):
        sign(clinic, stored.id)


def test_an_older_intake_cannot_be_signed_once_a_newer_one_exists(clinic) -> None:
    older = clinic.record()
    clinic.clock.advance(minutes=5)
    newer = clinic.record(bp_systolic=125)
    with pytest.raises(Conflict, match=f"expected the latest intake \\({newer.id}\\)"):
        sign(clinic, older.id)
    assert sign(clinic, None).intake_id == newer.id


def test_the_eligibility_view_lists_the_latest_intake_first(clinic) -> None:
    clinic.record()
    clinic.clock.advance(minutes=5)
    newer = clinic.record(conditions=["liver_disease"])
    with clinic.uow() as uow:
        view = intake_assessment.eligibility_view(
            uow, clinic.clock, clinic.actor("nurse.mia"), clinic.patients["P-1"]
        )
    assert view.intake == newer
    assert view.signoff is None
    assert len(view.earlier) == 1


def test_the_front_desk_does_not_see_eligibility(clinic) -> None:
    clinic.record()
    with clinic.uow() as uow, pytest.raises(PermissionDenied):
        intake_assessment.eligibility_view(
            uow, clinic.clock, clinic.actor("front_desk.mia"), clinic.patients["P-1"]
        )
