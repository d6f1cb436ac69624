"""``GET /api/v1/patients/{id}/fhir``: the Bundle for clinical roles of the patient's site,
403 for front desk, 404 for another site or an unknown id; every answer audited."""

from __future__ import annotations

import json

import sqlalchemy as sa

from ketaclinic.adapters.db import tables as t
from ketaclinic.adapters.fhir.bundle import unresolved_references


def patient_id(demo, mrn: str) -> int:
    with demo.engine.connect() as conn:
        return conn.execute(sa.select(t.patient.c.id).where(t.patient.c.mrn == mrn)).scalar_one()


def audit_rows(demo, resource: str) -> list[sa.Row]:
    with demo.engine.connect() as conn:
        return list(
            conn.execute(
                sa.select(t.audit_event)
                .where(t.audit_event.c.resource == resource)
                .order_by(t.audit_event.c.seq)
            )
        )


def test_it_returns_the_patients_record_as_a_fhir_bundle(client, demo, token_for) -> None:
    pid = patient_id(demo, "DEMO-0001")
    response = client.get(f"/api/v1/patients/{pid}/fhir", headers=token_for("nurse.mia"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+json")
    bundle = response.json()
    assert bundle["resourceType"] == "Bundle"
    assert bundle["type"] == "collection"
    assert unresolved_references(bundle) == []
    patients = [
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"
    ]
    assert [p["identifier"][0]["value"] for p in patients] == ["DEMO-0001"]
    (entry,) = [r for r in audit_rows(demo, "fhir_export") if r.action == "export"]
    assert (entry.patient_id, entry.username, entry.outcome) == (pid, "nurse.mia", "ok")
    events = [
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "AuditEvent"
    ]
    assert events[-1]["type"]["code"] == "110106"  # this export is in the exported access log


def test_front_desk_is_refused_and_the_refusal_is_audited(client, demo, token_for) -> None:
    pid = patient_id(demo, "DEMO-0001")
    response = client.get(f"/api/v1/patients/{pid}/fhir", headers=token_for("frontdesk.mia"))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    (denied,) = audit_rows(demo, "fhir_export")
    assert (denied.action, denied.outcome, denied.username) == ("denied", "denied", "frontdesk.mia")


def test_another_sites_patient_is_not_found(client, demo, token_for) -> None:
    pid = patient_id(demo, "DEMO-0001")  # a MIA patient
    response = client.get(f"/api/v1/patients/{pid}/fhir", headers=token_for("nurse.fll"))
    assert response.status_code == 404
    assert "DEMO-0001" not in response.text
    (denied,) = audit_rows(demo, "fhir_export")
    assert (denied.outcome, denied.patient_id) == ("not_found", pid)


def test_an_unknown_or_absurd_id_is_a_clean_error(client, token_for) -> None:
    headers = token_for("prescriber.mia")
    assert client.get("/api/v1/patients/999999/fhir", headers=headers).status_code == 404
    assert client.get("/api/v1/patients/99999999999/fhir", headers=headers).status_code == 422
    assert client.get("/api/v1/patients/1/fhir").status_code == 401


def test_the_openapi_document_describes_the_bundle(client) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    operation = spec["paths"]["/api/v1/patients/{patient_id}/fhir"]["get"]
    schema = operation["responses"]["200"]["content"]["application/fhir+json"]["schema"]
    assert schema["properties"]["resourceType"]["enum"] == ["Bundle"]
    assert json.dumps(operation["responses"]["403"]).count("ErrorResponse") == 1
