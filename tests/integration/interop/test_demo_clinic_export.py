"""The round-trip guarantee on the whole demo clinic, on SQLite and PostgreSQL: every
patient's Bundle parses back into ``fhir.resources`` and re-serialises identically, every
reference resolves inside it; the bulk NDJSON and the clinic-wide Bundle do the same; every
export is audited and the audit chain stays intact. The demo's visits cover every Appointment
status the export sends: booked, fulfilled and cancelled (with its reason)."""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle

from ketaclinic.adapters.db import tables as t
from ketaclinic.adapters.fhir import ndjson
from ketaclinic.adapters.fhir.bundle import patient_bundle, to_json, unresolved_references
from ketaclinic.adapters.fhir.stream import write_clinic_bundle
from ketaclinic.services import audit as audit_svc
from ketaclinic.services import demo_intake, interop

OPERATOR = interop.Operator("tester")


def patient_ids(demo) -> list[int]:
    with demo.engine.connect() as conn:
        return list(conn.execute(sa.select(t.patient.c.id).order_by(t.patient.c.id)).scalars())


def test_every_demo_patient_bundle_round_trips_and_is_closed(demo) -> None:
    kinds: set[str] = set()
    appointments: list[dict] = []
    for patient_id in patient_ids(demo):
        with demo.uow() as uow:
            record = interop.patient_record(uow, demo.clock, OPERATOR, patient_id)
        text = to_json(patient_bundle(record, demo.clock.now()))
        assert to_json(Bundle.model_validate_json(text)) == text
        data = json.loads(text)
        assert unresolved_references(data) == []
        for entry in data["entry"]:
            resource = entry["resource"]
            model = get_fhir_model_class(resource["resourceType"])
            assert json.loads(to_json(model.model_validate(resource))) == resource
            assert entry["fullUrl"].endswith(f"/{resource['resourceType']}/{resource['id']}")
            kinds.add(resource["resourceType"])
            if resource["resourceType"] == "Appointment":
                appointments.append(resource)
    # the core record is always there; the other areas add theirs when their demo data exists
    assert {"Organization", "Location", "Patient", "Observation", "AuditEvent"} <= kinds
    # the demo's booked, attended and cancelled visits (services/demo_intake.py)
    assert {a["status"] for a in appointments} == {"booked", "fulfilled", "cancelled"}
    (cancelled,) = [a for a in appointments if a["status"] == "cancelled"]
    assert cancelled["cancelationReason"]["text"] == demo_intake.CANCELLED[2]
    assert cancelled["start"] < cancelled["end"]
    assert not [a for a in appointments if a["status"] != "cancelled" and "cancelationReason" in a]
    with demo.uow() as uow:
        assert audit_svc.verify(uow).ok


def test_the_site_ndjson_export_is_valid_line_by_line(demo, tmp_path: Path) -> None:
    counts = ndjson.export_site(demo.uow, demo.clock, OPERATOR, "MIA", tmp_path, batch=7)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert {o["type"]: o["count"] for o in manifest["output"]} == counts
    seen: set[str] = set()
    for item in manifest["output"]:
        lines = (tmp_path / item["url"]).read_text().splitlines()
        assert len(lines) == item["count"]
        model = get_fhir_model_class(item["type"])
        for line in lines:
            resource = model.model_validate_json(line)
            assert to_json(resource) == line
            key = f"{item['type']}/{resource.id}"
            assert key not in seen, f"{key} written twice"
            seen.add(key)
    with demo.engine.connect() as conn:
        at_mia = conn.execute(
            sa.select(sa.func.count())
            .select_from(t.patient.join(t.site))
            .where(t.site.c.code == "MIA")
        ).scalar()
    assert counts["Patient"] == at_mia
    # The cancelled visit of a MIA patient (services/demo_intake.py) is among the Appointments.
    lines = (tmp_path / "Appointment.ndjson").read_text().splitlines()
    appointments = [json.loads(line) for line in lines]
    cancelled = [a for a in appointments if a["status"] == "cancelled"]
    assert [a["cancelationReason"]["text"] for a in cancelled] == [demo_intake.CANCELLED[2]]
    assert counts["Organization"] == 1
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    with demo.engine.connect() as conn:
        exported = conn.execute(
            sa.select(sa.func.count())
            .select_from(t.audit_event)
            .where(t.audit_event.c.resource == "fhir_bulk", t.audit_event.c.patient_id.is_not(None))
        ).scalar()
    assert exported == at_mia


def test_the_clinic_bundle_is_one_valid_bundle_of_every_patient(demo, tmp_path: Path) -> None:
    target = tmp_path / "clinic.json"
    entries = write_clinic_bundle(demo.uow, demo.clock, OPERATOR, target)
    text = target.read_text()
    bundle = Bundle.model_validate_json(text)
    assert to_json(bundle) == text
    data = json.loads(text)
    assert len(data["entry"]) == entries
    assert unresolved_references(data) == []
    patients = [e for e in data["entry"] if e["resource"]["resourceType"] == "Patient"]
    assert len(patients) == len(patient_ids(demo))
    organisations = [e for e in data["entry"] if e["resource"]["resourceType"] == "Organization"]
    assert len(organisations) == 1
    statuses = [
        e["resource"]["status"]
        for e in data["entry"]
        if e["resource"]["resourceType"] == "Appointment"
    ]
    assert statuses.count("cancelled") == 1
