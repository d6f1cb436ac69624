"""The public self-screening and inquiry pages and API, on SQLite and PostgreSQL: languages,
errors announced, nothing stored by the screening, spam guards, escaping and floods."""

from __future__ import annotations

import re
import time

import sqlalchemy as sa

from ketaclinic.adapters.db import tables_intake as ti
from ketaclinic.adapters.db.tables import audit_event
from ketaclinic.web.pages.intake_guard import issue_form_token

SECRET = "test-secret-key-" + "x" * 40  # tests/conftest.py's TEST_SECRET
QUESTIONS = ("high_blood_pressure", "heart_disease", "stroke", "pregnancy", "psychosis")
QUESTIONS += ("substance_use",)


def rows(demo, table) -> int:  # type: ignore[no-untyped-def]
    with demo.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def answers(level: str = "3", months: str = "6", yes: tuple[str, ...] = ()) -> dict[str, str]:
    form = {f"s{i:02d}": level for i in range(1, 21)} | {"months": months}
    return form | {f"h_{q}": "yes" if q in yes else "no" for q in QUESTIONS}


def aged_token(seconds: float = 60) -> str:
    return issue_form_token(SECRET, time.time() - seconds)


def inquiry(**changes: str) -> dict[str, str]:
    form = {
        "name": "Marta Quiroga",
        "email": "marta@example.org",
        "phone": "",
        "site": "MIA",
        "message": "Please call after 5 pm.",
        "contact_consent": "yes",
        "form_token": aged_token(),
        "lang": "es",
    }
    form.update(changes)
    return form


def test_the_screening_speaks_spanish_when_asked(client) -> None:
    page = client.get("/screening?lang=es")
    assert page.status_code == 200
    assert '<html lang="es">' in page.text
    assert "Durante el último mes" in page.text
    accepted = client.get("/screening", headers={"Accept-Language": "es-MX,es;q=0.9"})
    assert '<html lang="es">' in accepted.text
    forced = client.get("/screening?lang=en", headers={"Accept-Language": "es"})
    assert '<html lang="en">' in forced.text
    assert 'hreflang="es"' in forced.text  # the visible language switch


def test_public_pages_set_no_cookie(client) -> None:
    for path in ("/screening", "/inquiry"):
        response = client.get(path)
        assert "set-cookie" not in response.headers


def test_a_screening_answer_is_shown_and_nothing_is_stored(client, demo) -> None:
    leads, audit = rows(demo, ti.lead), rows(demo, audit_event)
    response = client.post("/screening", data=answers() | {"lang": "en"})
    assert response.status_code == 200
    assert "An evaluation at the clinic makes sense" in response.text
    assert "This is not a diagnosis" in response.text
    assert (rows(demo, ti.lead), rows(demo, audit_event)) == (leads, audit)


def test_a_yes_to_a_health_question_says_talk_to_your_doctor_first(client) -> None:
    response = client.post("/screening", data=answers(yes=("pregnancy",)) | {"lang": "es"})
    assert "Hable primero con su médico" in response.text
    assert "embarazada" in response.text


def test_missing_answers_are_announced_next_to_each_question(client) -> None:
    form = answers()
    del form["s07"]
    form["months"] = "a while"
    response = client.post("/screening", data=form)
    assert response.status_code == 422
    assert 'role="alert"' in response.text
    assert 'id="err-s07"' in response.text
    assert 'id="err-months"' in response.text
    assert response.text.count('aria-invalid="true"') == 5 + 1  # five radios of item 7, months
    assert 'value="3" checked' in response.text  # the other answers are kept


def test_an_inquiry_is_stored_as_a_lead_with_exactly_what_was_sent(client, demo) -> None:
    response = client.post("/inquiry", data=inquiry())
    assert response.status_code == 200
    assert "Hemos recibido su mensaje" in response.text
    with demo.engine.connect() as conn:
        lead = conn.execute(sa.select(ti.lead).order_by(ti.lead.c.id.desc())).first()
    assert (lead.name, lead.email, lead.phone, lead.language, lead.status) == (
        "Marta Quiroga",
        "marta@example.org",
        "",
        "es",
        "new",
    )
    assert lead.message == "Please call after 5 pm."


def test_a_filled_honeypot_looks_accepted_but_stores_nothing(client, demo) -> None:
    before = rows(demo, ti.lead)
    response = client.post("/inquiry", data=inquiry(website="http://spam.example"))
    assert response.status_code == 200
    assert 'data-testid="inquiry-thanks"' in response.text
    assert rows(demo, ti.lead) == before


def test_a_form_sent_too_fast_is_refused_and_keeps_what_was_typed(client, demo) -> None:
    page = client.get("/inquiry?lang=en")
    token = re.search(r'name="form_token" value="([^"]+)"', page.text)
    assert token is not None
    before = rows(demo, ti.lead)
    response = client.post("/inquiry", data=inquiry(form_token=token.group(1), lang="en"))
    assert response.status_code == 422
    assert "That was very quick" in response.text
    assert 'value="Marta Quiroga"' in response.text
    assert rows(demo, ti.lead) == before


def test_a_tampered_token_is_refused(client, demo) -> None:
    before = rows(demo, ti.lead)
    forged = issue_form_token("not-the-secret-" + "y" * 30, time.time() - 60)
    response = client.post("/inquiry", data=inquiry(form_token=forged, lang="en"))
    assert response.status_code == 422
    assert rows(demo, ti.lead) == before


def test_each_bad_field_is_named_in_the_visitors_language(client, demo) -> None:
    before = rows(demo, ti.lead)
    cases = {
        "name": (inquiry(name="x" * 1500), "Escriba su nombre"),
        "email": (inquiry(email="nope", phone=""), "correo electrónico válido"),
        "contact": (inquiry(email="", phone=""), "Indique un correo electrónico o un teléfono"),
        "consent": (inquiry(contact_consent=""), "Acepte que le contactemos"),
        "message": (inquiry(message="m" * 3000), "demasiado largo"),
        "site": (inquiry(site="XXX"), "Elija una clínica"),
    }
    for data, expected in cases.values():
        response = client.post("/inquiry", data=data)
        assert response.status_code == 422, expected
        assert expected in response.text
        assert 'role="alert"' in response.text
    assert rows(demo, ti.lead) == before


def test_an_oversized_field_is_refused_not_a_server_error(client, demo) -> None:
    before = rows(demo, ti.lead)
    response = client.post("/inquiry", data=inquiry(message="m" * 200_000))
    assert response.status_code == 422
    assert rows(demo, ti.lead) == before


def test_markup_in_an_inquiry_is_shown_as_text_to_the_front_desk(client, demo, login_as) -> None:
    client.post("/inquiry", data=inquiry(name="<script>alert(1)</script>", lang="en"))
    login_as("frontdesk.mia")
    page = client.get("/leads")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "<script>alert(1)</script>" not in page.text


def test_the_answer_never_reveals_whether_someone_is_a_patient(client, demo) -> None:
    with demo.engine.connect() as conn:
        email = conn.execute(
            sa.text("SELECT email FROM patient WHERE mrn = 'DEMO-0001'")
        ).scalar_one()
    known = client.post("/inquiry", data=inquiry(email=email))
    unknown = client.post("/inquiry", data=inquiry(email="nobody@example.org"))
    assert known.status_code == unknown.status_code == 200
    assert known.text == unknown.text


def test_a_flood_from_one_address_is_throttled(client, demo) -> None:
    before = rows(demo, ti.lead)
    statuses = [client.post("/inquiry", data=inquiry()).status_code for _ in range(12)]
    assert statuses[:10] == [200] * 10
    assert statuses[10:] == [429, 429]
    assert rows(demo, ti.lead) == before + 10


def test_the_screening_api_answers_in_the_asked_language(client, demo) -> None:
    body = {
        "symptoms": [1] * 20,
        "months_since_event": 0,
        "health": dict.fromkeys(QUESTIONS, False),
        "lang": "es",
    }
    response = client.post("/api/v1/screening", json=body)
    assert response.status_code == 200
    result = response.json()
    assert result["outcome"] == "too_soon"
    assert result["headline"]["text"].startswith("Todavía es pronto")
    assert [n["key"] for n in result["notices"]] == [
        "screening.notice.not_a_diagnosis",
        "screening.notice.crisis",
    ]
    assert "total" not in str(result)


def test_the_screening_api_names_a_bad_field(client) -> None:
    health = dict.fromkeys(QUESTIONS, False)
    body = {"symptoms": [1] * 19 + [7], "months_since_event": 3, "health": health}
    response = client.post("/api/v1/screening", json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_input"
    assert error["field"] == "symptoms[19]"
    assert "got 7" in error["message"]


def test_the_inquiry_api_takes_a_served_token_after_the_fill_time(client, demo) -> None:
    form = client.get("/api/v1/inquiries/form").json()
    assert [s["code"] for s in form["sites"]] == ["FLL", "MIA"]
    body = {
        "name": "Jo Pike",
        "phone": "+1 305 555 0100",
        "site": "FLL",
        "contact_consent": True,
        "form_token": form["form_token"],
    }
    too_fast = client.post("/api/v1/inquiries", json=body)
    assert too_fast.status_code == 422
    assert too_fast.json()["error"]["field"] == "form_token"
    before = rows(demo, ti.lead)
    accepted = client.post("/api/v1/inquiries", json=body | {"form_token": aged_token()})
    assert accepted.status_code == 202
    assert accepted.json() == {"status": "received"}
    assert rows(demo, ti.lead) == before + 1
