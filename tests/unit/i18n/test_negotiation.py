"""Which language a page speaks (web/i18n.py): ``?lang=``, the switch's cookie, the page's own
fallback, ``Accept-Language``, English; and dates and numbers written per language."""

from __future__ import annotations

import datetime as dt

import pytest
from starlette.requests import Request
from starlette.responses import Response

from ketaclinic import locale
from ketaclinic.domain.people import Patient, Sex
from ketaclinic.web import i18n


def request(
    query: str = "", accept: str = "", cookie: str = "", path: str = "/screening"
) -> Request:
    headers = []
    if accept:
        headers.append((b"accept-language", accept.encode()))
    if cookie:
        headers.append((b"cookie", f"{i18n.COOKIE}={cookie}".encode()))
    scope = {
        "type": "http",
        "method": "GET",
        "scheme": "http",
        "server": ("testserver", 80),
        "path": path,
        "query_string": query.encode(),
        "headers": headers,
    }
    return Request(scope)


def patient(language: str) -> Patient:
    return Patient(
        id=7,
        site_id=1,
        mrn="P-7",
        given_name="Ana",
        family_name="Ocampo",
        birth_date=dt.date(1980, 1, 2),
        sex=Sex.FEMALE,
        preferred_language=language,
    )


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("", "en"),
        ("es-MX,es;q=0.9,en;q=0.8", "es"),
        ("en-US,en;q=0.9,es;q=0.8", "en"),
        ("fr-FR,fr;q=0.9,es;q=0.5,en;q=0.4", "es"),
        ("de, en;q=0", "en"),
        ("es;q=0.2, en;q=0.9", "en"),
        ("es;q=abc, en;q=0.5", "en"),
        ("ES", "es"),
        ("es;q=0.5, en;q=0.5", "es"),  # a tie goes to the earlier entry
        ("x" * 600 + ",es", "en"),  # only the first 500 characters count
    ],
)
def test_the_visitors_language_comes_from_accept_language(header: str, expected: str) -> None:
    assert i18n.accept_language(header) == expected


def test_the_switch_beats_the_cookie_which_beats_the_fallback_and_the_browser() -> None:
    assert i18n.negotiate(request("lang=es", accept="en", cookie="en")).lang == "es"
    assert i18n.negotiate(request(accept="en", cookie="es")).lang == "es"
    assert i18n.negotiate(request(accept="en"), fallback="es").lang == "es"
    assert i18n.negotiate(request(accept="es")).lang == "es"
    assert i18n.negotiate(request()).lang == "en"


def test_only_a_switch_is_remembered() -> None:
    switched = i18n.negotiate(request("lang=es"))
    assert switched.switched
    response = i18n.remember(request("lang=es"), Response(), switched)
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{i18n.COOKIE}=es;")
    assert "httponly" in cookie.lower()
    assert "samesite=lax" in cookie.lower()
    browser = i18n.negotiate(request(accept="es"))
    assert "set-cookie" not in i18n.remember(request(), Response(), browser).headers


@pytest.mark.parametrize("asked", ["fr", "", "xx-YY", "<script>"])
def test_an_unsupported_language_gives_english_and_a_note(asked: str) -> None:
    choice = i18n.negotiate(request(f"lang={asked}", accept="es", cookie="es"))
    assert choice.lang == "en"
    assert choice.unsupported
    assert not choice.switched


def test_a_bad_cookie_is_ignored() -> None:
    assert i18n.negotiate(request(cookie="fr", accept="es")).lang == "es"


def test_the_switch_links_keep_the_other_query_parameters() -> None:
    links = i18n.language_links(request("site=MIA&lang=es", path="/inquiry"), "es")
    assert [(link.code, link.href, link.current) for link in links] == [
        ("en", "/inquiry?site=MIA&lang=en", False),
        ("es", "/inquiry?site=MIA&lang=es", True),
    ]
    assert [link.name for link in links] == ["English", "Español"]


def test_a_patient_document_opens_in_the_patients_language_whatever_the_staff_browser() -> None:
    staff = request(accept="en", cookie="en", path="/sessions/1/instructions")
    assert i18n.for_patient(staff, patient("es")).lang == "es"
    assert i18n.for_patient(request("lang=en"), patient("es")).lang == "en"
    assert i18n.for_patient(request("lang=fr"), patient("es")).lang == "es"


def test_a_posted_form_keeps_the_language_it_was_filled_in() -> None:
    assert i18n.form_language("es", request(accept="en")) == "es"
    assert i18n.form_language("fr", request(accept="es")) == "es"
    assert i18n.form_language(None, request(), fallback="es") == "es"
    assert i18n.form_language("e" * 50, request()) == "en"


def test_visitor_error_pages_are_translated() -> None:
    assert i18n.visitor_error("es", 404)[0] == "Página no encontrada"
    assert i18n.visitor_error("en", 404)[0] == "Page not found"
    assert i18n.visitor_error("es", 418) == i18n.visitor_error("es", 400)


def test_dates_and_numbers_are_written_per_language() -> None:
    day = dt.date(2026, 5, 15)
    assert locale.format_date(day, "es") == "15 de mayo de 2026"
    assert locale.format_date(day, "en") == "May 15, 2026"
    moment = dt.datetime(2026, 5, 15, 18, 30, tzinfo=dt.UTC)
    assert locale.format_datetime(moment, "es", "America/New_York") == "15 de mayo de 2026, 14:30"
    english = locale.format_datetime(moment, "en", "America/New_York")
    assert english.startswith("May 15, 2026, 2:30")
    assert english.endswith("PM")
    assert locale.format_number(1234.5, "es") == "1.234,5"
    assert locale.format_number(1234.5, "en") == "1,234.5"
