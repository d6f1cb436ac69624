"""What a public inquiry accepts, the signed form token, and language negotiation
(services/intake_models.Inquiry, web/pages/intake_guard)."""

from __future__ import annotations

import pytest

from ketaclinic.domain.errors import InvalidInput
from ketaclinic.services.intake_models import MESSAGE_MAX, Inquiry
from ketaclinic.web.pages.intake_guard import (
    MAX_AGE_S,
    MIN_FILL_S,
    FormExpired,
    FormTooFast,
    issue_form_token,
    verify_form_token,
)

SECRET = "s" * 40


def inquiry(**changes: object) -> Inquiry:
    values: dict[str, object] = {
        "site_id": 1,
        "name": "Ana Redfern",
        "email": "ana@example.org",
        "phone": "",
        "contact_consent": True,
        "message": "",
        "language": "en",
    }
    values.update(changes)
    return Inquiry.from_form(**values)  # type: ignore[arg-type]


def test_typed_text_is_trimmed_and_control_characters_are_dropped() -> None:
    kept = inquiry(name="  Ana \x00 Redfern\x1b ", message=" line one\nline two\x07 ")
    assert kept.name == "Ana Redfern"
    assert kept.message == "line one\nline two"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": "   "}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"email": "not-an-address"}, "email"),
        ({"email": "", "phone": ""}, "email"),
        ({"email": "", "phone": "call me maybe"}, "phone"),
        ({"contact_consent": False}, "contact_consent"),
        ({"message": "x" * (MESSAGE_MAX + 1)}, "message"),
        ({"language": "fr"}, "language"),
    ],
)
def test_an_inquiry_that_breaks_a_bound_names_the_field(changes: dict, field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        inquiry(**changes)
    assert refused.value.field == field


def test_a_phone_number_alone_is_enough_to_reply() -> None:
    assert inquiry(email="", phone="+1 (305) 555-0142").phone == "+1 (305) 555-0142"


def test_a_fresh_token_is_too_fast_and_an_old_one_has_expired() -> None:
    token = issue_form_token(SECRET, 1000.0)
    with pytest.raises(FormTooFast):
        verify_form_token(SECRET, token, 1000.0 + MIN_FILL_S - 0.1)
    verify_form_token(SECRET, token, 1000.0 + MIN_FILL_S)
    verify_form_token(SECRET, token, 1000.0 + MAX_AGE_S)
    with pytest.raises(FormExpired):
        verify_form_token(SECRET, token, 1000.0 + MAX_AGE_S + 1)


@pytest.mark.parametrize(
    "token",
    ["", "garbage", issue_form_token("another-secret-" + "y" * 30, 1000.0)],
)
def test_a_token_that_does_not_verify_is_refused(token: str) -> None:
    with pytest.raises(InvalidInput, match="form_token"):
        verify_form_token(SECRET, token, 1010.0)


def test_a_token_cannot_be_edited_to_look_older() -> None:
    token = issue_form_token(SECRET, 1000.0)
    older = issue_form_token(SECRET, 1.0)
    forged = older.split(".")[0] + "." + token.split(".")[1]
    with pytest.raises(InvalidInput):
        verify_form_token(SECRET, forged, 1001.0)
