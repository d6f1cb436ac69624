"""Remembering a patient's language (services/patient_language.py) on the in-memory fake,
SQLite and PostgreSQL alike: the change is stored, audited, and a second call changes nothing."""

from __future__ import annotations

import datetime as dt

import pytest

from ketaclinic.domain.audit import AuditAction
from ketaclinic.domain.errors import InvalidInput
from ketaclinic.domain.people import NewPatient, Sex
from ketaclinic.services.audit import Actor
from ketaclinic.services.patient_language import remember_language
from ketaclinic.services.ports import FixedClock

T0 = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)
LINK_HOLDER = Actor(None, "203.0.113.5")


def registered(uow_factory: object, language: str = "en") -> int:
    with uow_factory() as uow:  # type: ignore[operator]
        site = uow.sites.add("MIA", "Miami", "America/New_York")
        patient = uow.patients.add(
            NewPatient(
                site.id, "P-1", "Ana", "Ocampo", dt.date(1980, 1, 2), Sex.FEMALE,
                preferred_language=language,
            ),
            T0,
        )  # fmt: skip
        uow.commit()
    return int(patient.id)


def test_it_stores_the_language_the_patient_chose_and_audits_it(uow_factory: object) -> None:
    patient_id = registered(uow_factory)
    clock = FixedClock(T0)
    with uow_factory() as uow:  # type: ignore[operator]
        changed = remember_language(
            uow, clock, LINK_HOLDER, patient_id, "es", why="answered a self-report link"
        )
    assert changed
    with uow_factory() as uow:  # type: ignore[operator]
        assert uow.patients.get(patient_id).preferred_language == "es"
        entries = [e for e in uow.audit.entries() if e.record.resource == "patient_language"]
    (entry,) = entries
    assert entry.record.action is AuditAction.UPDATE
    assert entry.record.patient_id == patient_id
    assert entry.record.client == "203.0.113.5"
    assert entry.record.detail == "en -> es (answered a self-report link)"


def test_the_same_language_again_changes_and_audits_nothing(uow_factory: object) -> None:
    patient_id = registered(uow_factory, "es")
    with uow_factory() as uow:  # type: ignore[operator]
        assert not remember_language(uow, FixedClock(T0), LINK_HOLDER, patient_id, "es", why="test")
    with uow_factory() as uow:  # type: ignore[operator]
        assert not [e for e in uow.audit.entries() if e.record.resource == "patient_language"]


def test_an_unknown_patient_or_language_changes_nothing(uow_factory: object) -> None:
    patient_id = registered(uow_factory)
    with uow_factory() as uow:  # type: ignore[operator]
        assert not remember_language(uow, FixedClock(T0), LINK_HOLDER, 999_999, "es", why="t")
        assert not uow.patients.set_preferred_language(999_999, "es")
        with pytest.raises(InvalidInput) as caught:
            remember_language(uow, FixedClock(T0), LINK_HOLDER, patient_id, "fr", why="t")
    assert caught.value.field == "language"
    with uow_factory() as uow:  # type: ignore[operator]
        assert uow.patients.get(patient_id).preferred_language == "en"
