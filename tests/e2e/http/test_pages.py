"""The staff pages: sign-in, navigation per role, patient pages, CSRF, the director's audit."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from ketaclinic.adapters.db import tables as t


def csrf(page_html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page_html)
    assert found is not None
    return found.group(1)


def test_pages_need_a_signed_in_user(client) -> None:
    response = client.get("/patients", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/patients"


@pytest.mark.parametrize(
    ("username", "sees_audit"),
    [
        ("frontdesk.mia", False),
        ("nurse.mia", False),
        ("prescriber.mia", False),
        ("director.mia", True),
    ],
)
def test_each_role_gets_its_navigation(client, login_as, username: str, sees_audit: bool) -> None:
    login_as(username)
    page = client.get("/").text
    assert 'href="/patients"' in page
    assert ('href="/admin/audit"' in page) is sees_audit


def test_a_wrong_password_shows_one_generic_message(client) -> None:
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"username": "nurse.mia", "password": "wrong", "csrf_token": csrf(page.text)},
    )
    assert response.status_code == 401
    assert "username or password not accepted" in response.text


def test_a_form_without_the_csrf_token_is_refused(client, login_as) -> None:
    login_as("nurse.mia")
    response = client.post("/patients/new", data={"mrn": "X-1"})
    assert response.status_code == 403
    assert "csrf_token" in response.text


def test_the_patient_page_shows_weight_history_to_clinicians_only(
    client, login_as, token_for
) -> None:
    pid = client.get("/api/v1/patients?mrn=DEMO-0001", headers=token_for("nurse.mia")).json()[
        "items"
    ][0]["id"]
    login_as("nurse.mia")
    assert "Weight and height" in client.get(f"/patients/{pid}").text
    client.cookies.clear()
    login_as("frontdesk.mia")
    page = client.get(f"/patients/{pid}").text
    assert "DEMO-0001" in page
    assert "Weight and height" not in page


def test_registering_through_the_form(client, login_as) -> None:
    login_as("frontdesk.mia")
    form = client.get("/patients/new")
    response = client.post(
        "/patients/new",
        data={
            "csrf_token": csrf(form.text),
            "mrn": "WALK-0001",
            "given_name": "Nora",
            "family_name": "Valdivia",
            "birth_date": "1979-12-01",
            "sex": "female",
            "preferred_language": "es",
            "weight_kg": "66.2",
        },
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "Registered WALK-0001" in response.text


def test_a_bad_form_value_is_shown_next_to_the_form_and_nothing_is_stored(
    client, login_as, token_for
) -> None:
    login_as("nurse.mia")
    form = client.get("/patients/new")
    response = client.post(
        "/patients/new",
        data={
            "csrf_token": csrf(form.text),
            "mrn": "BAD-0001",
            "given_name": "Nora",
            "family_name": "Valdivia",
            "birth_date": "31/12/1979",
            "sex": "female",
        },
    )
    assert response.status_code == 422
    assert "birth_date: got &#39;31/12/1979&#39;, expected a date as YYYY-MM-DD" in response.text
    found = client.get("/api/v1/patients?mrn=BAD-0001", headers=token_for("nurse.mia")).json()
    assert found["items"] == []


def test_another_sites_patient_page_is_not_found(client, login_as, token_for) -> None:
    pid = client.get("/api/v1/patients?mrn=DEMO-0001", headers=token_for("nurse.mia")).json()[
        "items"
    ][0]["id"]
    login_as("nurse.fll")
    response = client.get(f"/patients/{pid}")
    assert response.status_code == 404
    assert "DEMO-0001" not in response.text


def test_the_director_sees_a_verified_chain_and_a_patients_access_log(
    client, login_as, token_for
) -> None:
    nurse = token_for("nurse.mia")
    pid = client.get("/api/v1/patients?mrn=DEMO-0001", headers=nurse).json()["items"][0]["id"]
    client.get(f"/api/v1/patients/{pid}", headers=nurse)
    login_as("director.mia")
    audit_page = client.get("/admin/audit").text
    assert "Hash chain verified" in audit_page
    log_page = client.get(f"/patients/{pid}/access-log")
    assert log_page.status_code == 200
    assert "nurse.mia" in log_page.text


def test_a_nurse_may_not_open_the_access_log(client, login_as, token_for, demo) -> None:
    pid = client.get("/api/v1/patients?mrn=DEMO-0001", headers=token_for("nurse.mia")).json()[
        "items"
    ][0]["id"]
    login_as("nurse.mia")
    assert client.get(f"/patients/{pid}/access-log").status_code == 403
    with demo.engine.connect() as conn:
        denied = conn.execute(
            sa.select(t.audit_event).where(t.audit_event.c.resource == "access_log")
        ).all()
    assert [r.outcome for r in denied] == ["denied"]


def test_pages_send_security_headers(client) -> None:
    response = client.get("/login")
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert "'unsafe-inline'" not in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    cookie = response.headers.get("set-cookie", "")
    assert "httponly" in cookie.lower()
    assert "samesite=lax" in cookie.lower()


def test_staff_of_two_sites_switch_between_them(client, demo, login_as) -> None:
    from ketaclinic.domain.people import Role
    from ketaclinic.services import staff
    from ketaclinic.services.audit import SYSTEM

    with demo.uow() as uow:
        staff.add_user(
            uow,
            demo.clock,
            SYSTEM,
            demo.passwords,
            username="float.nurse",
            role=Role.NURSE,
            site_codes=["MIA", "FLL"],
            password="demo-clinic-2026",
            enforce_policy=False,
        )
        uow.commit()
        mia, fll = uow.sites.by_code("MIA"), uow.sites.by_code("FLL")
    login_as("float.nurse")
    page = client.get("/patients")
    assert 'id="site-switch"' in page.text

    def switch(site_id: int) -> str:
        client.post(
            "/site", data={"csrf_token": csrf(page.text), "site_id": str(site_id), "back": "/"}
        )
        return client.get("/patients").text

    mia_list, fll_list = switch(mia.id), switch(fll.id)
    assert "DEMO-0001" in mia_list
    assert "DEMO-0001" not in fll_list
    assert "DEMO-0002" in fll_list
