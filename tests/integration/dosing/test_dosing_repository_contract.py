"""One contract for the dosing storage port: the in-memory fake, SQLite and PostgreSQL behave
the same (STYLE.md §3). Orders keep every number and limit hit; the signature and the override
confirmation are written once; the requester can never be the second person."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ketaclinic.adapters.db import tables_dosing
from ketaclinic.adapters.db.engine import make_engine
from ketaclinic.adapters.db.uow import SqlUnitOfWorkFactory
from ketaclinic.domain.drug_library import LimitLevel, Quantity
from ketaclinic.domain.people import BodyMeasurement, NewPatient, Role, Sex
from ketaclinic.domain.weight import WeightBasis
from ketaclinic.services.chair_ports import NewSession
from ketaclinic.services.dosing_ports import (
    ClinicSetting,
    ConfirmationMethod,
    DoseOrder,
    LimitSetting,
    OrderStatus,
    OverrideRequest,
    PreparationKind,
    SessionOrder,
    StoredLimitHit,
)

T0 = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)
HIT = StoredLimitHit(
    quantity=Quantity.DOSE_MG_PER_KG,
    value=0.6,
    level=LimitLevel.SOFT,
    limit_value=0.5,
    unit="mg/kg",
    upper=True,
    threshold_key="default.dose_mg_per_kg.soft",
    provenance="[design: above the trial dose, REFERENCE.md §3.1]",
)


@pytest.fixture
def factory(uow_factory: object) -> object:
    """The shared contract fixture (in-memory fake, SQLite, PostgreSQL) under this file's name."""
    return uow_factory


@dataclasses.dataclass
class Seeded:
    patient_id: int
    site_id: int
    measurement_id: int
    prescriber: int
    nurse: int


def seed(factory: object) -> Seeded:
    with factory() as uow:  # type: ignore[operator]
        site = uow.sites.add("MIA", "Miami", "America/New_York")
        prescriber = uow.users.add("dr.pia", "Pia", Role.PRESCRIBER, frozenset({site.id}), "h")
        nurse = uow.users.add("nora", "Nora", Role.NURSE, frozenset({site.id}), "h")
        patient = uow.patients.add(
            NewPatient(site.id, "P-1", "Ana", "Redfern", dt.date(1980, 1, 2), Sex.FEMALE), T0
        )
        measurement = uow.patients.add_measurement(
            BodyMeasurement(patient.id, T0, 70.0, 165.0, nurse.id)
        )
        uow.commit()
    assert measurement.id is not None
    return Seeded(patient.id, site.id, measurement.id, prescriber.id, nurse.id)


def new_order(s: Seeded, at: dt.datetime = T0, **changes: object) -> DoseOrder:
    order = DoseOrder(
        id=0,
        patient_id=s.patient_id,
        site_id=s.site_id,
        protocol_id="default",
        measurement_id=s.measurement_id,
        actual_weight_kg=70.0,
        height_cm=165.0,
        weight_basis=WeightBasis.ADJUSTED,
        dosing_weight_kg=63.8,
        ideal_weight_kg=57.3,
        adjusted_weight_kg=63.8,
        weight_provenance="[unverified: adjusted body weight, REFERENCE.md §3.2]",
        weight_warnings=("first warning", "second warning"),
        weight_findings=("weight 70 kg changed +12.0 %",),
        weight_confirmed_by=s.nurse,
        weight_confirmed_at=at,
        mg_per_kg=0.6,
        duration_min=40.0,
        preparation=PreparationKind.DILUTION,
        preparation_volume_ml=100.0,
        preparation_mg_per_ml=10.0,
        pump_resolution_ml_per_h=0.1,
        dose_mg=38.28,
        concentration_mg_per_ml=0.3687,
        volume_ml=103.828,
        rate_ml_per_h=155.742,
        rate_mg_per_kg_per_h=0.9,
        pump_rate_ml_per_h=155.7,
        pump_duration_min=40.01,
        dose_error_mg=-0.01,
        limit_level=LimitLevel.SOFT,
        limit_hits=(HIT, dataclasses.replace(HIT, quantity=Quantity.RATE_MG_PER_KG_PER_H)),
        prepared_by=s.nurse,
        prepared_at=at,
        note="first of the series",
    )
    return dataclasses.replace(order, **changes)  # type: ignore[arg-type]


def test_an_order_comes_back_exactly_as_stored(factory: object) -> None:
    s = seed(factory)
    with factory() as uow:  # type: ignore[operator]
        stored = uow.dosing.add_order(new_order(s))
        uow.commit()
    assert stored.id > 0
    with factory() as uow:  # type: ignore[operator]
        again = uow.dosing.get_order(stored.id)
    assert again == stored == dataclasses.replace(new_order(s), id=stored.id)
    assert again is not None
    assert again.status is OrderStatus.AWAITING_SIGNATURE


def test_a_patients_orders_are_newest_first(factory: object) -> None:
    s = seed(factory)
    with factory() as uow:  # type: ignore[operator]
        early = uow.dosing.add_order(new_order(s, T0, limit_hits=()))
        late = uow.dosing.add_order(new_order(s, T0 + dt.timedelta(hours=1)))
        same_time = uow.dosing.add_order(new_order(s, T0 + dt.timedelta(hours=1)))
        uow.commit()
    with factory() as uow:  # type: ignore[operator]
        orders = uow.dosing.patient_orders(s.patient_id)
        assert [o.id for o in orders] == [same_time.id, late.id, early.id]
        assert orders[2].limit_hits == ()
        assert len(orders[0].limit_hits) == 2
        assert [o.id for o in uow.dosing.patient_orders(s.patient_id, limit=1)] == [same_time.id]
        assert uow.dosing.get_order(early.id + late.id + same_time.id) is None


def test_an_order_is_signed_once(factory: object) -> None:
    s = seed(factory)
    request = OverrideRequest("Stepping up after partial response", s.prescriber, T0)
    with factory() as uow:  # type: ignore[operator]
        order = uow.dosing.add_order(new_order(s))
        assert uow.dosing.record_signature(order.id, s.prescriber, T0, request)
        assert not uow.dosing.record_signature(order.id, s.nurse, T0, None)
        assert not uow.dosing.record_signature(order.id + 1000, s.prescriber, T0, None)
        uow.commit()
    with factory() as uow:  # type: ignore[operator]
        signed = uow.dosing.get_order(order.id)
    assert signed is not None
    assert (signed.signed_by, signed.signed_at) == (s.prescriber, T0)
    assert signed.override_reason == request.reason
    assert signed.override_requested_by == s.prescriber
    assert signed.status is OrderStatus.AWAITING_CONFIRMATION


def test_the_requester_is_never_the_second_person(factory: object) -> None:
    s = seed(factory)
    request = OverrideRequest("Stepping up after partial response", s.prescriber, T0)
    later = T0 + dt.timedelta(minutes=3)
    with factory() as uow:  # type: ignore[operator]
        order = uow.dosing.add_order(new_order(s))
        assert not uow.dosing.record_override_confirmation(
            order.id, s.nurse, later, ConfirmationMethod.PASSWORD
        )  # nothing requested yet
        uow.dosing.record_signature(order.id, s.prescriber, T0, request)
        assert not uow.dosing.record_override_confirmation(
            order.id, s.prescriber, later, ConfirmationMethod.PASSWORD
        )
        assert uow.dosing.record_override_confirmation(
            order.id, s.nurse, later, ConfirmationMethod.PASSWORD
        )
        assert not uow.dosing.record_override_confirmation(
            order.id, s.nurse, later, ConfirmationMethod.TOKEN
        )
        uow.commit()
    with factory() as uow:  # type: ignore[operator]
        confirmed = uow.dosing.get_order(order.id)
    assert confirmed is not None
    assert confirmed.override_confirmed_by == s.nurse
    assert confirmed.override_confirmed_at == later
    assert confirmed.override_confirmed_via == "password"
    assert confirmed.status is OrderStatus.VERIFIED


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_the_database_itself_refuses_a_self_confirmed_override(
    kind: str, provision_db: Callable[[str], str]
) -> None:
    engine = make_engine(provision_db(kind))
    factory = SqlUnitOfWorkFactory(engine)
    s = seed(factory)
    with factory() as uow:
        order = uow.dosing.add_order(
            new_order(s, override_requested_by=s.prescriber, signed_by=s.prescriber)
        )
        uow.commit()
    table = tables_dosing.dose_order
    with engine.connect() as conn, pytest.raises(IntegrityError):
        conn.execute(
            sa.update(table)
            .where(table.c.id == order.id)
            .values(override_confirmed_by=s.prescriber)
        )
    engine.dispose()


def test_uncommitted_orders_are_rolled_back(factory: object) -> None:
    s = seed(factory)
    with factory() as uow:  # type: ignore[operator]
        uow.dosing.add_order(new_order(s))
    with factory() as uow:  # type: ignore[operator]
        assert uow.dosing.patient_orders(s.patient_id) == []


def test_limit_settings_are_an_ordered_history(factory: object) -> None:
    s = seed(factory)
    first = LimitSetting(
        protocol_id="default",
        quantity=Quantity.DOSE_MG,
        level=LimitLevel.SOFT,
        value=45.0,
        unit="mg",
        reason="Clinic review point",
        approved_by=s.prescriber,
        approved_by_username="dr.pia",
        approved_at=T0,
        effective_from=T0.date(),
    )
    with factory() as uow:  # type: ignore[operator]
        a = uow.dosing.add_limit_setting(first)
        b = uow.dosing.add_limit_setting(dataclasses.replace(first, value=60.0))
        uow.commit()
    with factory() as uow:  # type: ignore[operator]
        assert uow.dosing.limit_settings() == [a, b]
    assert a.id < b.id
    assert dataclasses.replace(a, id=0) == first


def test_a_clinic_setting_is_replaced_not_duplicated(factory: object) -> None:
    s = seed(factory)
    with factory() as uow:  # type: ignore[operator]
        assert uow.dosing.setting("pk_model") is None
        uow.dosing.set_setting(ClinicSetting("pk_model", "kamp", s.prescriber, T0))
        uow.dosing.set_setting(ClinicSetting("pk_model", "domino", s.nurse, T0))
        uow.commit()
    with factory() as uow:  # type: ignore[operator]
        assert uow.dosing.setting("pk_model") == ClinicSetting("pk_model", "domino", s.nurse, T0)


def test_a_sessions_order_is_stored_and_replaced_not_duplicated(factory: object) -> None:
    s = seed(factory)
    with factory() as uow:  # type: ignore[operator]
        chair = uow.sites.add_chair(s.site_id, "MIA-1", "Chair 1")
        session = uow.chair.add_session(
            NewSession(s.patient_id, s.site_id, chair.id, "default", False, T0, s.nurse)
        )
        first = uow.dosing.add_order(new_order(s))
        second = uow.dosing.add_order(new_order(s, T0 + dt.timedelta(minutes=5)))
        assert uow.dosing.session_order(session.id) is None
        link = SessionOrder(session.id, first.id, WeightBasis.ADJUSTED, 63.8, s.nurse, T0)
        uow.dosing.link_session_order(link)
        uow.commit()
    with factory() as uow:  # type: ignore[operator]
        assert uow.dosing.session_order(session.id) == link
        later = dataclasses.replace(
            link, order_id=second.id, weight_basis=WeightBasis.ACTUAL, dosing_weight_kg=70.0
        )
        uow.dosing.link_session_order(later)
        uow.rollback()
    with factory() as uow:  # type: ignore[operator]
        assert uow.dosing.session_order(session.id) == link  # the rollback kept the first
        uow.dosing.link_session_order(dataclasses.replace(later, verified_at=T0 + HOUR))
        uow.commit()
    with factory() as uow:  # type: ignore[operator]
        stored = uow.dosing.session_order(session.id)
        assert stored == dataclasses.replace(later, verified_at=T0 + HOUR)
        assert stored.verified_at.tzinfo is not None
        assert uow.dosing.session_order(session.id + 1000) is None
