"""Every patient-facing page in the visitor's language, on SQLite and PostgreSQL: the switch and
its cookie, English for an unsupported language, no English sentence and no raw key on a Spanish
page, the error pages a visitor reaches, the patient's language remembered for the next link,
discharge instructions and the consent text in the patient's language."""

from __future__ import annotations

import datetime as dt
import html
import re
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from ketaclinic import locale
from ketaclinic.adapters.db import tables as t
from ketaclinic.adapters.db import tables_chair as tc
from ketaclinic.adapters.db import tables_mbc as m
from ketaclinic.services.audit import SYSTEM
from ketaclinic.services.mbc_self_report import request_self_report
from ketaclinic.web.i18n import COOKIE
from ketaclinic.web.pages.mbc_public import self_report_throttle

RAW_KEY = re.compile(r"\b(?:screening|errors|inquiry)\.[a-z_0-9]+(?:\.[a-z_0-9]+)*\b")
QUESTIONS = ("high_blood_pressure", "heart_disease", "stroke", "pregnancy", "psychosis")
QUESTIONS += ("substance_use",)
PHQ9_ZERO = {f"phq9_{n:02d}": "0" for n in range(1, 10)}


@pytest.fixture(autouse=True)
def _fresh_throttle() -> None:
    self_report_throttle.reset()


def english_sentences() -> set[str]:
    """Our English source strings whose Spanish differs: none may be left on a Spanish page."""
    found = set()
    for message in locale.read_catalogue("es"):
        ids = message.id if isinstance(message.id, tuple | list) else (message.id,)
        for text in ids:
            source = re.split(r"%\(\w+\)s", text)[0].strip()
            if len(source) >= 12 and locale.gettext("es", text) != text:
                found.add(source)
    return found


ENGLISH = english_sentences()


def visible_text(page: str) -> str:
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


def assert_entirely_spanish(page: str) -> None:
    assert '<html lang="es">' in page
    text = visible_text(page)
    assert not RAW_KEY.findall(text)
    left = sorted(sentence for sentence in ENGLISH if sentence in text)
    assert not left, left


def patient_id(demo, mrn: str) -> int:  # type: ignore[no-untyped-def]
    with demo.engine.connect() as conn:
        return int(
            conn.execute(sa.select(t.patient.c.id).where(t.patient.c.mrn == mrn)).scalar_one()
        )


def preferred_language(demo, mrn: str) -> str:  # type: ignore[no-untyped-def]
    with demo.engine.connect() as conn:
        return str(
            conn.execute(
                sa.select(t.patient.c.preferred_language).where(t.patient.c.mrn == mrn)
            ).scalar_one()
        )


def set_preferred_language(demo, mrn: str, language: str) -> None:  # type: ignore[no-untyped-def]
    with demo.engine.begin() as conn:
        conn.execute(
            t.patient.update().where(t.patient.c.mrn == mrn).values(preferred_language=language)
        )


def link_for(demo, mrn: str) -> str:  # type: ignore[no-untyped-def]
    with demo.uow() as uow:
        issued = request_self_report(uow, demo.clock, SYSTEM, patient_id(demo, mrn), ["phq9"])
    return issued.path


def csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def screening_answers(yes: tuple[str, ...] = ()) -> dict[str, str]:
    form = {f"s{i:02d}": "3" for i in range(1, 21)} | {"months": "6", "lang": "es"}
    return form | {f"h_{q}": "yes" if q in yes else "no" for q in QUESTIONS}


# --- choosing the language --------------------------------------------------------------------


def test_a_switch_is_remembered_for_the_next_public_page(client) -> None:
    switched = client.get("/screening?lang=es")
    assert f"{COOKIE}=es" in switched.headers["set-cookie"]
    assert '<html lang="es">' in client.get("/inquiry").text
    assert '<html lang="es">' in client.get("/screening", headers={"Accept-Language": "en"}).text
    client.get("/inquiry?lang=en")
    assert '<html lang="en">' in client.get("/screening").text


def test_an_unsupported_language_gives_english_with_the_switch_and_a_note(client) -> None:
    page = client.get("/screening?lang=fr", headers={"Accept-Language": "es"})
    assert page.status_code == 200
    assert '<html lang="en">' in page.text
    assert 'data-testid="lang-note"' in page.text
    assert 'hreflang="es"' in page.text
    assert "set-cookie" not in page.headers


def test_the_language_switch_is_on_every_patient_page(client, demo) -> None:
    path = link_for(demo, "DEMO-0005")
    for url in ("/screening", "/inquiry", path, "/r/" + "A" * 43, "/no-such-page"):
        page = client.get(url)
        assert 'hreflang="en"' in page.text, url
        assert 'hreflang="es"' in page.text, url


# --- Spanish throughout -------------------------------------------------------------------------


def test_the_public_pages_are_entirely_spanish(client, demo) -> None:
    assert_entirely_spanish(client.get("/screening?lang=es").text)
    missing = client.post("/screening", data={"lang": "es"})
    assert missing.status_code == 422
    assert_entirely_spanish(missing.text)
    for yes in ((), ("stroke",)):
        result = client.post("/screening", data=screening_answers(yes))
        assert 'data-testid="screening-result"' in result.text
        assert_entirely_spanish(result.text)
    inquiry = client.get("/inquiry?lang=es")
    assert_entirely_spanish(inquiry.text)
    refused = client.post("/inquiry", data={"lang": "es", "name": "Ana"})
    assert refused.status_code == 422
    assert_entirely_spanish(refused.text)


def test_the_questionnaire_link_is_entirely_spanish(client, demo) -> None:
    path = link_for(demo, "DEMO-0005")
    form = client.get(path + "?lang=es")
    assert_entirely_spanish(form.text)
    assert "Piense en las últimas dos semanas" in form.text  # our instructions, PHQ-9
    partial = {k: v for k, v in PHQ9_ZERO.items() if k != "phq9_04"}
    again = client.post(path, data={"csrf_token": csrf(form.text), "language": "es", **partial})
    assert again.status_code == 422
    assert_entirely_spanish(again.text)
    assert "Falta responder 1 pregunta" in again.text
    done = client.post(path, data={"csrf_token": csrf(form.text), "language": "es", **PHQ9_ZERO})
    assert done.status_code == 200
    assert_entirely_spanish(done.text)
    used = client.get(path)
    assert used.status_code == 410
    assert_entirely_spanish(used.text)


def test_the_due_date_is_written_as_the_language_writes_it(client, demo) -> None:
    with demo.uow() as uow:
        issued = request_self_report(
            uow,
            demo.clock,
            SYSTEM,
            patient_id(demo, "DEMO-0005"),
            ["phq9"],
            due_at=demo.clock.now() + dt.timedelta(days=3),
        )
    assert issued.link.due_at is not None
    local = issued.link.due_at.astimezone(ZoneInfo("America/New_York")).date()  # MIA's zone
    spanish = client.get(issued.path + "?lang=es").text
    assert f"antes del {locale.format_date(local, 'es')}" in spanish
    assert re.search(r"antes del \d{1,2} de [a-z]+ de \d{4}", spanish)
    english = client.get(issued.path + "?lang=en").text
    assert f"answer by {locale.format_date(local, 'en')}" in english


def test_the_spanish_check_catches_english(client) -> None:
    # The check above is only worth something if an English page fails it.
    english = client.get("/screening?lang=en").text.replace('lang="en"', 'lang="es"')
    with pytest.raises(AssertionError):
        assert_entirely_spanish(english)
    assert len(ENGLISH) > 100


# --- error pages a visitor can reach ------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected_lang", "title"),
    [
        ({"Accept-Language": "es-US,es;q=0.9"}, "es", "Página no encontrada"),
        ({"Accept-Language": "en-US"}, "en", "Page not found"),
        ({}, "en", "Page not found"),
    ],
)
def test_a_visitor_gets_the_error_page_in_their_language(
    client, headers: dict[str, str], expected_lang: str, title: str
) -> None:
    page = client.get("/no-such-page", headers=headers)
    assert page.status_code == 404
    assert f'<html lang="{expected_lang}">' in page.text
    assert title in page.text
    assert 'role="alert"' in page.text
    if expected_lang == "es":
        assert_entirely_spanish(page.text)


def test_a_throttled_visitor_is_told_in_their_language(client, demo) -> None:
    path = link_for(demo, "DEMO-0005")
    client.get(path + "?lang=es")
    for _ in range(self_report_throttle.limit + 1):
        last = client.get(path)
    assert last.status_code == 429
    assert "Demasiados intentos" in last.text
    assert_entirely_spanish(last.text)


def test_a_signed_in_staff_member_keeps_the_staff_error_page(client, login_as) -> None:
    login_as("nurse.mia")
    page = client.get("/no-such-page", headers={"Accept-Language": "es"})
    assert page.status_code == 404
    assert '<html lang="en">' in page.text
    assert "Página no encontrada" not in page.text


# --- the patient's language, remembered ---------------------------------------------------------


def test_answering_in_spanish_makes_the_next_link_spanish(client, demo) -> None:
    assert preferred_language(demo, "DEMO-0005") == "en"
    path = link_for(demo, "DEMO-0005")
    assert '<html lang="en">' in client.get(path).text
    form = client.get(path + "?lang=es")
    done = client.post(path, data={"csrf_token": csrf(form.text), "language": "es", **PHQ9_ZERO})
    assert done.status_code == 200
    assert preferred_language(demo, "DEMO-0005") == "es"
    with demo.engine.connect() as conn:
        audited = conn.execute(
            sa.select(t.audit_event.c.detail).where(t.audit_event.c.resource == "patient_language")
        ).scalars().all()  # fmt: skip
    assert audited == ["en -> es (answered a self-report link)"]
    nxt = link_for(demo, "DEMO-0005")
    with demo.engine.connect() as conn:
        languages = (
            conn.execute(
                sa.select(m.self_report_link.c.language).order_by(m.self_report_link.c.id.desc())
            )
            .scalars()
            .first()
        )
    assert languages == "es"  # the link, and so its e-mail
    client.cookies.clear()  # another browser: the patient's language, not the browser's
    fresh = client.get(nxt, headers={"Accept-Language": "en"})
    assert '<html lang="es">' in fresh.text


# --- documents staff open for the patient -------------------------------------------------------


def running_session(demo) -> int:  # type: ignore[no-untyped-def]
    with demo.engine.connect() as conn:
        return int(
            conn.execute(
                sa.select(tc.infusion_session.c.id)
                .join(t.patient, t.patient.c.id == tc.infusion_session.c.patient_id)
                .where(t.patient.c.mrn == "DEMO-0001", tc.infusion_session.c.state == "running")
            ).scalar_one()
        )


def test_discharge_instructions_are_in_the_patients_language(client, demo, login_as) -> None:
    login_as("nurse.mia")
    sid = running_session(demo)
    english = client.get(f"/sessions/{sid}/instructions", headers={"Accept-Language": "es"})
    assert '<html lang="en">' in english.text  # DEMO-0001 prefers English
    assert "Make no important decisions for 24 hours." in english.text
    spanish = client.get(f"/sessions/{sid}/instructions?lang=es")
    assert_entirely_spanish(spanish.text)
    assert "No tome decisiones importantes durante 24 horas." in spanish.text
    assert "No conduzca" in spanish.text
    assert "Nervana Medical" in spanish.text  # the provenance stays
    assert re.search(r"\d{1,2} de [a-z]+ de \d{4}, \d{1,2}:\d{2}", spanish.text)
    set_preferred_language(demo, "DEMO-0001", "es")
    default = client.get(f"/sessions/{sid}/instructions")
    assert '<html lang="es">' in default.text
    assert "set-cookie" not in default.headers or COOKIE not in default.headers["set-cookie"]


def test_the_consent_text_is_shown_in_the_patients_language(client, demo, login_as) -> None:
    login_as("prescriber.mia")
    set_preferred_language(demo, "DEMO-0005", "es")
    page = client.get(f"/patients/{patient_id(demo, 'DEMO-0005')}/consent")
    assert page.status_code == 200
    assert '<html lang="en">' in page.text  # the staff page stays English
    assert '<section class="card consent-text" aria-labelledby="text-title" lang="es">' in page.text
    assert "Consentimiento para el tratamiento" in page.text
    english = client.get(f"/patients/{patient_id(demo, 'DEMO-0005')}/consent?lang=en")
    assert 'aria-labelledby="text-title" lang="en"' in english.text
    assert "Consentimiento para el tratamiento" not in english.text
