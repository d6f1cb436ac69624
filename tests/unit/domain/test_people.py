"""Registration data is checked on construction; messages name field, value and expectation."""

from __future__ import annotations

import datetime as dt

import pytest

from ketaclinic.domain.errors import InvalidInput
from ketaclinic.domain.people import BodyMeasurement, NewPatient, Patient, Sex, parse_role


def new(**overrides: object) -> NewPatient:
    values: dict[str, object] = {
        "site_id": 1,
        "mrn": "DEMO-0100",
        "given_name": "Ana",
        "family_name": "Brightwater",
        "birth_date": dt.date(1980, 5, 17),
        "sex": Sex.FEMALE,
    }
    values.update(overrides)
    return NewPatient(**values)  # type: ignore[arg-type]


def test_a_valid_registration_is_accepted() -> None:
    assert new().mrn == "DEMO-0100"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("mrn", ""),
        ("mrn", "has space"),
        ("mrn", "X" * 33),
        ("given_name", "   "),
        ("family_name", "y" * 101),
        ("preferred_language", "fr"),
        ("email", "not-an-address"),
    ],
)
def test_bad_registration_fields_are_rejected_by_name(field: str, value: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        new(**{field: value})
    assert caught.value.field == field
    assert field in caught.value.message


def test_an_implausible_weight_is_rejected_with_the_accepted_range() -> None:
    with pytest.raises(InvalidInput, match=r"weight_kg: got 700.*20–350 kg"):
        BodyMeasurement(1, dt.datetime(2026, 1, 1, tzinfo=dt.UTC), 700.0, 170.0)


def test_bmi_is_weight_over_height_squared() -> None:
    m = BodyMeasurement(1, dt.datetime(2026, 1, 1, tzinfo=dt.UTC), 80.0, 170.0)
    assert m.bmi == pytest.approx(80 / 1.7**2)


def test_age_counts_only_completed_birthdays() -> None:
    p = Patient(1, 1, "M", "A", "B", dt.date(1990, 6, 15), Sex.MALE)
    assert p.age_on(dt.date(2026, 6, 14)) == 35
    assert p.age_on(dt.date(2026, 6, 15)) == 36


def test_an_unknown_role_names_the_allowed_ones() -> None:
    with pytest.raises(InvalidInput, match="front_desk, nurse, prescriber, director"):
        parse_role("janitor")
