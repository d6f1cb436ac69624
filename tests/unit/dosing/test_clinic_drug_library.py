"""The clinic's drug library (services/dosing_library.py): the director's values replace the
shipped ones with who approved them, every protocol invariant still holds, and orders are
checked against the clinic's values."""

from __future__ import annotations

import dataclasses

import pytest

from ketaclinic.domain.dosing import BagPreparation
from ketaclinic.domain.drug_library import DEFAULT_LIBRARY
from ketaclinic.domain.errors import InvalidInput, PermissionDenied
from ketaclinic.services import dosing, dosing_library
from ketaclinic.services.dosing_calc import DoseRequest
from ketaclinic.services.dosing_ports import OrderStatus

STANDARD = DoseRequest(mg_per_kg=0.5, duration_min=40.0, preparation=BagPreparation(100.0))


def set_limit(clinic, who: str = "director", **given: object):
    values: dict[str, object] = {
        "protocol_id": "default",
        "quantity": "dose_mg",
        "level": "soft",
        "value": 45.0,
        "reason": "Clinic review point for total dose",
    }
    values.update(given)
    with clinic.uow() as uow:
        return dosing_library.set_limit(uow, clinic.clock, clinic.actor(who), **values)


def library(clinic):
    with clinic.uow() as uow:
        return dosing_library.clinic_library(uow)


def test_without_clinic_values_the_shipped_library_applies(clinic) -> None:
    assert library(clinic) == dict(DEFAULT_LIBRARY)


def test_a_clinic_value_replaces_the_default_and_names_who_approved_it(clinic) -> None:
    stored = set_limit(clinic)
    assert stored.approved_by_username == "dir.mia"
    bound = library(clinic)["default"].dose_mg.soft
    assert bound is not None
    assert bound.value == 45.0
    assert bound.approved_by == "dir.mia"
    assert bound.effective_from == clinic.clock.now().date()
    assert bound.provenance.reference == "clinic setting (default from total dose review point)"
    # Other protocols keep their shipped values.
    assert library(clinic)["feder-2021"] == DEFAULT_LIBRARY["feder-2021"]


def test_the_newest_clinic_value_wins(clinic) -> None:
    set_limit(clinic, value=45.0)
    clinic.clock.advance(days=1)
    set_limit(clinic, value=60.0)
    bound = library(clinic)["default"].dose_mg.soft
    assert bound is not None
    assert bound.value == 60.0


def test_orders_are_checked_against_the_clinic_values(clinic) -> None:
    set_limit(clinic, protocol_id="default", value=45.0)
    request = dataclasses.replace(STANDARD, protocol_id="default")  # 50 mg for 100 kg
    with clinic.uow() as uow:
        prepared = dosing.order_dose(
            uow, clinic.clock, clinic.actor("nurse"), clinic.patients["adam"], request
        )
    assert prepared.limit_level.value == "soft"
    (hit,) = prepared.limit_hits
    assert (hit.quantity.value, hit.limit_value, hit.approved_by) == ("dose_mg", 45.0, "dir.mia")
    assert prepared.status is OrderStatus.AWAITING_SIGNATURE


def test_the_concentration_maximum_cannot_be_raised_above_50_mg_per_ml(clinic) -> None:
    with pytest.raises(InvalidInput) as refused:
        set_limit(clinic, quantity="concentration_mg_per_ml", level="hard", value=60.0)
    assert refused.value.field == "value"
    assert "50 mg/mL" in refused.value.message
    with clinic.uow() as uow:
        assert uow.dosing.limit_settings() == []
    # Lowering it is allowed.
    set_limit(clinic, quantity="concentration_mg_per_ml", level="hard", value=20.0)
    bound = library(clinic)["default"].concentration_mg_per_ml.hard
    assert bound is not None
    assert bound.value == 20.0


def test_a_soft_bound_beyond_its_hard_bound_is_refused(clinic) -> None:
    with pytest.raises(InvalidInput, match="at most the hard limit 150 mg") as refused:
        set_limit(clinic, value=200.0)
    assert refused.value.field == "default.dose_mg.soft"


def test_a_hard_minimum_duration_above_its_soft_one_is_refused(clinic) -> None:
    with pytest.raises(InvalidInput, match="at least the hard limit 45 min"):
        set_limit(clinic, quantity="duration_min", level="hard", value=45.0)


@pytest.mark.parametrize(
    ("given", "field"),
    [
        ({"protocol_id": "nope"}, "protocol"),
        ({"quantity": "weight"}, "quantity"),
        ({"level": "medium"}, "level"),
        ({"value": float("nan")}, "value"),
        ({"value": 0.0}, "value"),
        ({"reason": "ok"}, "reason"),
    ],
)
def test_bad_settings_name_their_field_and_store_nothing(clinic, given, field) -> None:
    with pytest.raises(InvalidInput) as refused:
        set_limit(clinic, **given)
    assert refused.value.field == field
    with clinic.uow() as uow:
        assert uow.dosing.limit_settings() == []


def test_only_the_director_sets_clinic_values(clinic) -> None:
    with pytest.raises(PermissionDenied):
        set_limit(clinic, who="prescriber")
    assert ("denied", "drug_library", "denied", "forbidden") in clinic.audit()


def test_the_clinic_chooses_its_pk_model(clinic) -> None:
    with clinic.uow() as uow:
        assert dosing_library.clinic_pk_model(uow) == "kamp"
        dosing_library.set_pk_model(uow, clinic.clock, clinic.actor("director"), "clements")
    with clinic.uow() as uow:
        assert dosing_library.clinic_pk_model(uow) == "clements"
    with pytest.raises(InvalidInput) as refused, clinic.uow() as uow:
        dosing_library.set_pk_model(uow, clinic.clock, clinic.actor("director"), "propofol")
    assert refused.value.field == "model"


def test_the_library_view_lists_history_newest_first(clinic) -> None:
    set_limit(clinic, value=45.0)
    clinic.clock.advance(hours=1)
    set_limit(clinic, value=60.0)
    with clinic.uow() as uow:
        view = dosing_library.library_view(uow, clinic.clock, clinic.actor("director"))
    assert [s.value for s in view.history] == [60.0, 45.0]
    assert [p.protocol_id for p in view.protocols] == list(DEFAULT_LIBRARY)
    assert view.pk_model == "kamp"
