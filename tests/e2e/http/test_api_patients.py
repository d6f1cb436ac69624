"""GET/POST /api/v1/patients: site scoping, roles, bad input and the audit trail."""

from __future__ import annotations

import sqlalchemy as sa

from ketaclinic.adapters.db import tables as t

NEW = {
    "site": "MIA",
    "mrn": "NEW-0001",
    "given_name": "Iris",
    "family_name": "Quintanar",
    "birth_date": "1984-03-09",
    "sex": "female",
    "weight_kg": 71.5,
    "height_cm": 166,
}


def audit_rows(demo, **where: object) -> list:
    stmt = sa.select(t.audit_event)
    for key, value in where.items():
        stmt = stmt.where(t.audit_event.c[key] == value)
    with demo.engine.connect() as conn:
        return conn.execute(stmt).all()


def test_it_lists_only_the_callers_sites(client, token_for) -> None:
    body = client.get("/api/v1/patients?limit=500", headers=token_for("nurse.mia")).json()
    assert body["items"]
    assert {p["site"] for p in body["items"]} == {"MIA"}


def test_it_finds_a_patient_by_mrn(client, token_for) -> None:
    body = client.get("/api/v1/patients?mrn=DEMO-0001", headers=token_for("nurse.mia")).json()
    assert [p["mrn"] for p in body["items"]] == ["DEMO-0001"]


def test_a_patient_of_another_site_is_not_found_and_the_attempt_is_audited(
    client, token_for, demo
) -> None:
    mia_patient = client.get(
        "/api/v1/patients?mrn=DEMO-0001", headers=token_for("nurse.mia")
    ).json()["items"][0]
    response = client.get(f"/api/v1/patients/{mia_patient['id']}", headers=token_for("nurse.fll"))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert "DEMO-0001" not in response.text
    denied = audit_rows(demo, action="denied", patient_id=mia_patient["id"])
    assert [r.username for r in denied] == ["nurse.fll"]


def test_reading_a_chart_is_audited_with_who_what_and_where(client, token_for, demo) -> None:
    headers = token_for("prescriber.mia")
    patient = client.get("/api/v1/patients?mrn=DEMO-0001", headers=headers).json()["items"][0]
    response = client.get(f"/api/v1/patients/{patient['id']}", headers=headers)
    assert response.status_code == 200
    assert response.json()["measurements"]
    reads = audit_rows(demo, action="read", resource="patient", patient_id=patient["id"])
    assert reads[-1].username == "prescriber.mia"
    assert reads[-1].role == "prescriber"
    assert reads[-1].client


def test_front_desk_sees_demographics_but_no_clinical_detail(client, token_for) -> None:
    headers = token_for("frontdesk.mia")
    patient = client.get("/api/v1/patients?mrn=DEMO-0001", headers=headers).json()["items"][0]
    body = client.get(f"/api/v1/patients/{patient['id']}", headers=headers).json()
    assert body["mrn"] == "DEMO-0001"
    assert body["measurements"] is None


def test_it_registers_a_patient_with_a_first_weight(client, token_for) -> None:
    response = client.post("/api/v1/patients", json=NEW, headers=token_for("nurse.mia"))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["mrn"] == "NEW-0001"
    assert body["measurements"][0]["weight_kg"] == 71.5


def test_a_duplicate_mrn_is_a_conflict_and_changes_nothing(client, token_for) -> None:
    headers = token_for("nurse.mia")
    duplicate = {**NEW, "mrn": "DEMO-0002", "site": "FLL"}
    response = client.post("/api/v1/patients", json={**duplicate, "site": "MIA"}, headers=headers)
    assert response.status_code == 409
    assert response.json()["error"]["field"] == "mrn"
    found = client.get("/api/v1/patients?q=Quintanar", headers=headers).json()["items"]
    assert all(p["given_name"] != "Iris" for p in found)


def test_registering_at_another_site_is_forbidden(client, token_for, demo) -> None:
    response = client.post(
        "/api/v1/patients", json={**NEW, "site": "FLL"}, headers=token_for("nurse.mia")
    )
    assert response.status_code == 403
    assert audit_rows(demo, action="denied", resource="patient")


def test_malformed_json_gets_a_clear_422(client, token_for) -> None:
    response = client.post(
        "/api/v1/patients",
        content=b'{"mrn": ',
        headers={**token_for("nurse.mia"), "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["error"]["message"] == "the request body is not valid JSON"


def test_an_over_long_field_names_the_field(client, token_for) -> None:
    response = client.post(
        "/api/v1/patients", json={**NEW, "family_name": "x" * 500}, headers=token_for("nurse.mia")
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["field"] == "family_name"
    assert "100" in error["message"]


def test_an_impossible_weight_is_rejected_and_nothing_is_stored(client, token_for) -> None:
    headers = token_for("nurse.mia")
    response = client.post("/api/v1/patients", json={**NEW, "weight_kg": 700}, headers=headers)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "weight_kg"
    assert client.get("/api/v1/patients?mrn=NEW-0001", headers=headers).json()["items"] == []


def test_the_openapi_document_is_served(client) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/patients" in spec["paths"]
    assert "/api/v1/auth/token" in spec["paths"]


def test_a_nul_character_anywhere_is_bad_input_not_a_server_error(client, token_for) -> None:
    headers = token_for("nurse.mia")
    assert client.get("/api/v1/patients?q=%00", headers=headers).status_code == 422
    body = {**NEW, "given_name": "Iris\u0000"}
    response = client.post("/api/v1/patients", json=body, headers=headers)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "given_name"
    assert (
        client.post(
            "/api/v1/patients", json={**NEW, "site": "M\u0000A"}, headers=headers
        ).status_code
        == 422
    )
    token = client.post("/api/v1/auth/token", data={"username": "nurse\u0000", "password": "x"})
    assert token.status_code == 401
