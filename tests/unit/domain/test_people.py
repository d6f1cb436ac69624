"""Registration data is checked on construction; messages name field, value and expectation."""

from __future__ import annotations

import datetime as dt

import pytest

from ketaclinic.domain.errors import InvalidInput
from ketaclinic.domain.people import (
    BodyMeasurement,
    NewPatient,
    Patient,
    Sex,
    Site,
    check_site_phone,
    parse_role,
)


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


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("+1 305 555 0142", "+1 305 555 0142"),
        ("  (305)  555-0142 ", "(305) 555-0142"),
        ("305.555.0142 ext. 12", "305.555.0142 ext. 12"),
        ("305 555 0142 x12", "305 555 0142 x12"),
        ("", ""),
        ("   ", ""),
    ],
)
def test_a_site_phone_is_kept_as_written_with_spaces_tidied(typed: str, stored: str) -> None:
    assert check_site_phone(typed) == stored


@pytest.mark.parametrize(
    "typed", ["call us", "12", "+1 305 555 0142; drop", "1" * 33, "305-555-0142 ext. 1234567"]
)
def test_anything_but_a_phone_number_is_refused_naming_the_field(typed: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_site_phone(typed)
    assert refused.value.field == "phone"
    assert "phone number of at most 32 characters" in str(refused.value)


def test_the_dial_string_keeps_the_plus_and_digits_and_drops_the_extension() -> None:
    site = Site(1, "MIA", "Miami", phone="+1 (305) 555-0142 ext. 12")
    assert site.phone_dial == "+13055550142"
    assert Site(2, "FLL", "Fort Lauderdale", phone="954 555 0178").phone_dial == "9545550178"
