"""Bulk NDJSON, research export and patient import over the API, on SQLite and PostgreSQL:
directors of the site only, the same services (and the same output) as the CLI and the data
page, every export and import audited."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import pyarrow.parquet as pq
import sqlalchemy as sa

from ketaclinic.adapters.db import tables as t
from ketaclinic.adapters.fhir import ndjson
from ketaclinic.adapters.research_files import export_research
from ketaclinic.services import interop
from ketaclinic.services.interop import Operator
from ketaclinic.services.interop_research import parse_key

KEY = "0f" * 32


def audit_rows(demo, resource: str) -> list[sa.Row]:
    with demo.engine.connect() as conn:
        return list(
            conn.execute(
                sa.select(t.audit_event)
                .where(t.audit_event.c.resource == resource)
                .order_by(t.audit_event.c.seq)
            )
        )


def site_patients(demo, code: str) -> list[str]:
    with demo.engine.connect() as conn:
        return list(
            conn.execute(
                sa.select(t.patient.c.mrn)
                .select_from(t.patient.join(t.site, t.site.c.id == t.patient.c.site_id))
                .where(t.site.c.code == code)
            ).scalars()
        )


def lines(response) -> list[dict]:
    return [json.loads(line) for line in response.text.splitlines()]


# --- bulk NDJSON ----------------------------------------------------------------------------


def test_a_director_streams_one_resource_type_of_their_site(client, demo, token_for) -> None:
    response = client.get(
        "/api/v1/export/ndjson",
        params={"site": "MIA", "type": "Patient"},
        headers=token_for("director.mia"),
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/fhir+ndjson")
    assert response.text.endswith("\n")
    patients = lines(response)
    assert {p["resourceType"] for p in patients} == {"Patient"}
    assert sorted(p["identifier"][0]["value"] for p in patients) == sorted(
        site_patients(demo, "MIA")
    )
    entries = audit_rows(demo, "fhir_bulk")
    assert entries[0].detail.startswith("started")
    assert entries[-1].detail.startswith("finished")
    assert entries[-1].detail.endswith(f"{len(patients)} Patient")
    assert {e.username for e in entries} == {"director.mia"}
    assert len([e for e in entries if e.patient_id is not None]) == len(patients)


def test_the_stream_holds_what_the_file_export_writes(client, demo, token_for, tmp_path) -> None:
    headers = token_for("director.mia")
    ndjson.export_site(demo.uow, demo.clock, Operator("test"), "MIA", tmp_path)
    for kind in ("Observation", "Organization", "Location", "Appointment"):
        response = client.get(
            "/api/v1/export/ndjson", params={"site": "MIA", "type": kind}, headers=headers
        )
        assert response.status_code == 200
        written = (tmp_path / f"{kind}.ndjson").read_text("utf-8")
        assert response.text == written, kind
    organisation = lines(
        client.get(
            "/api/v1/export/ndjson", params={"site": "MIA", "type": "Organization"}, headers=headers
        )
    )
    assert len(organisation) == 1


def test_the_audit_trail_streams_as_audit_events(client, demo, token_for) -> None:
    headers = token_for("director.fll")
    with demo.uow() as uow:
        pid = uow.patients.by_mrn("DEMO-0002").id
    assert client.get(f"/api/v1/patients/{pid}", headers=headers).status_code == 200
    response = client.get(
        "/api/v1/export/ndjson", params={"site": "FLL", "type": "AuditEvent"}, headers=headers
    )
    assert response.status_code == 200
    events = lines(response)
    assert {e["resourceType"] for e in events} == {"AuditEvent"}
    readers = {e["agent"][0]["who"]["identifier"]["value"] for e in events}
    assert "director.fll" in readers
    assert f'"Patient/pat-{pid}"' in response.text


def test_the_stream_reads_the_site_a_batch_at_a_time(demo) -> None:
    caller = Operator("test")
    export = interop.start_site_export(demo.uow, demo.clock, caller, "MIA", ndjson.RESOURCE)
    chunks = list(ndjson.stream_type(demo.uow, demo.clock, caller, export, "Patient", batch=5))
    assert len(chunks) == -(-export.patients // 5)
    assert all(chunk.count("\n") <= 5 for chunk in chunks)


def test_bulk_export_is_for_directors_of_the_site(client, demo, token_for) -> None:
    params = {"site": "MIA", "type": "Patient"}
    denied_before = len(audit_rows(demo, "fhir_bulk"))
    nurse = client.get("/api/v1/export/ndjson", params=params, headers=token_for("nurse.mia"))
    assert nurse.status_code == 403
    other = client.get("/api/v1/export/ndjson", params=params, headers=token_for("director.fll"))
    assert other.status_code == 404
    assert other.json()["error"]["field"] == "site"
    refusals = audit_rows(demo, "fhir_bulk")[denied_before:]
    assert [r.action for r in refusals] == ["denied", "denied"]
    bad = client.get(
        "/api/v1/export/ndjson",
        params={"site": "MIA", "type": "Medication"},
        headers=token_for("director.mia"),
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "type"


# --- research export ------------------------------------------------------------------------


def test_the_research_export_is_the_clis_zip(client, demo, token_for, tmp_path: Path) -> None:
    response = client.post(
        "/api/v1/export/research",
        json={"site": "MIA", "format": "csv", "key": KEY},
        headers=token_for("director.mia"),
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert sorted(archive.namelist()) == ["infusions.csv", "patients.csv", "scores.csv"]
    export_research(
        demo.uow, demo.clock, Operator("test"), "MIA", parse_key(KEY, "k"), tmp_path, "csv"
    )
    for name in archive.namelist():
        assert archive.read(name) == (tmp_path / name).read_bytes(), name
    patients = list(csv.DictReader(io.StringIO(archive.read("patients.csv").decode())))
    assert len(patients) == len(site_patients(demo, "MIA"))
    everything = b"".join(archive.read(n) for n in archive.namelist()).decode()
    assert not any(mrn in everything for mrn in site_patients(demo, "MIA"))
    resources = {r.username for r in audit_rows(demo, "research_export")}
    assert "director.mia" in resources


def test_the_research_export_comes_as_parquet_too(client, token_for) -> None:
    response = client.post(
        "/api/v1/export/research",
        json={"site": "FLL", "format": "parquet", "key": KEY},
        headers=token_for("director.fll"),
    )
    assert response.status_code == 200, response.text
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert sorted(archive.namelist()) == ["infusions.parquet", "patients.parquet", "scores.parquet"]
    table = pq.read_table(io.BytesIO(archive.read("patients.parquet")))
    assert table.column_names[:3] == ["patient", "sex", "age_years"]
    assert table.num_rows > 0


def test_a_bad_key_is_refused_without_repeating_it(client, demo, token_for) -> None:
    headers = token_for("director.mia")
    short = "ab" * 8
    refused = client.post(
        "/api/v1/export/research", json={"site": "MIA", "key": short}, headers=headers
    )
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["field"] == "key"
    assert short not in error["message"]
    assert audit_rows(demo, "research_export") == []
    nurse = client.post(
        "/api/v1/export/research", json={"site": "MIA", "key": KEY}, headers=token_for("nurse.mia")
    )
    assert nurse.status_code == 403
    other = client.post(
        "/api/v1/export/research",
        json={"site": "MIA", "key": KEY},
        headers=token_for("director.fll"),
    )
    assert other.status_code == 404
    bad_format = client.post(
        "/api/v1/export/research",
        json={"site": "MIA", "key": KEY, "format": "xlsx"},
        headers=headers,
    )
    assert bad_format.status_code == 422
    assert bad_format.json()["error"]["field"] == "format"


# --- patient import -------------------------------------------------------------------------

GOOD = "I-100,Carmen,Salcedo,1985-02-03,female\nI-101,Luis,Valdivia,1979-12-30,m\n"
BAD = "I-102,,Nadie,1990-01-01,female\nI-103,Ana,Futura,2999-01-01,female\n"
HEADER = "mrn,given_name,family_name,birth_date,sex\n"


def post_import(client, headers, body: str, **params: str):
    return client.post(
        "/api/v1/import/patients",
        params={"site": "MIA", **params},
        content=body.encode(),
        headers={**headers, "Content-Type": "text/csv"},
    )


def test_a_dry_run_reports_every_bad_row_and_stores_nothing(client, demo, token_for) -> None:
    before = site_patients(demo, "MIA")
    report = post_import(client, token_for("director.mia"), HEADER + GOOD + BAD)
    assert report.status_code == 200, report.text
    body = report.json()
    assert (body["rows"], body["imported"]) == (4, False)
    assert body["created"] == ["I-100", "I-101"]
    assert {(e["line"], e["field"]) for e in body["errors"]} == {
        (4, "given_name"),
        (5, "birth_date"),
    }
    assert all(e["reason"] for e in body["errors"])
    assert site_patients(demo, "MIA") == before


def test_a_commit_with_bad_rows_imports_nothing_and_says_why(client, demo, token_for) -> None:
    before = site_patients(demo, "MIA")
    refused = post_import(client, token_for("director.mia"), HEADER + GOOD + BAD, dry_run="false")
    assert refused.status_code == 422
    body = refused.json()
    assert body["error"]["field"] == "file"
    assert "nothing imported" in body["error"]["message"]
    assert {e["line"] for e in body["report"]["errors"]} == {4, 5}
    assert site_patients(demo, "MIA") == before
    assert "refused" in audit_rows(demo, "patient_import")[-1].detail


def test_skip_invalid_imports_the_valid_rows_once(client, demo, token_for) -> None:
    headers = token_for("director.mia")
    done = post_import(client, headers, HEADER + GOOD + BAD, dry_run="false", skip_invalid="true")
    assert done.status_code == 201, done.text
    body = done.json()
    assert (body["imported"], body["created"]) == (True, ["I-100", "I-101"])
    assert {"I-100", "I-101"} <= set(site_patients(demo, "MIA"))
    imported = [r for r in audit_rows(demo, "patient") if r.detail == "import (csv (api))"]
    assert len(imported) == 2
    again = post_import(client, headers, HEADER + GOOD, dry_run="false")
    assert again.status_code == 201
    assert again.json()["created"] == []
    assert [s["mrn"] for s in again.json()["skipped"]] == ["I-100", "I-101"]


def test_import_is_for_directors_of_the_site_and_reads_only_utf8(client, demo, token_for) -> None:
    before = site_patients(demo, "MIA")
    nurse = post_import(client, token_for("nurse.mia"), HEADER + GOOD, dry_run="false")
    assert nurse.status_code == 403
    other = post_import(client, token_for("director.fll"), HEADER + GOOD, dry_run="false")
    assert other.status_code == 404
    latin1 = client.post(
        "/api/v1/import/patients",
        params={"site": "MIA"},
        content=(HEADER + "I-104,José,Núñez,1980-01-01,male\n").encode("latin-1"),
        headers={**token_for("director.mia"), "Content-Type": "text/csv"},
    )
    assert latin1.status_code == 422
    assert "line 2 is not UTF-8" in latin1.json()["error"]["message"]
    empty = post_import(client, token_for("director.mia"), "")
    assert empty.status_code == 422
    assert site_patients(demo, "MIA") == before
