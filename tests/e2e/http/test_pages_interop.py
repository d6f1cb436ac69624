"""The director's data page: downloads (FHIR bundle, site NDJSON zip, research zip) and the
two-step CSV import (preview every problem, then confirm). Other roles are refused."""

from __future__ import annotations

import base64
import io
import json
import re
import zipfile

import pyarrow.parquet as pq
import sqlalchemy as sa

from ketaclinic.adapters.db import tables as t

HEADER = "mrn,given_name,family_name,birth_date,sex,weight_kg\n"
KEY = "ab" * 32


def csrf(client, path: str = "/admin/data") -> str:
    page = client.get(path)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found is not None, page.text[:300]
    return found.group(1)


def mrns(demo) -> set[str]:
    with demo.engine.connect() as conn:
        return set(conn.execute(sa.select(t.patient.c.mrn)).scalars())


def test_the_data_page_is_for_directors_only(client, login_as) -> None:
    login_as("director.mia")
    page = client.get("/admin/data")
    assert page.status_code == 200
    assert 'href="/admin/data"' in page.text  # in the menu
    assert "Download MIA NDJSON" in page.text
    client.cookies.clear()
    login_as("nurse.mia")
    assert client.get("/admin/data").status_code == 403
    assert 'href="/admin/data"' not in client.get("/").text


def test_a_patients_bundle_downloads_by_mrn(client, login_as) -> None:
    login_as("director.mia")
    response = client.get("/admin/data/fhir", params={"mrn": "DEMO-0001"})
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    assert "DEMO-0001" not in response.headers["content-disposition"]
    assert response.json()["resourceType"] == "Bundle"
    unknown = client.get("/admin/data/fhir", params={"mrn": "NOPE-1"})
    assert unknown.status_code == 404
    assert "NOPE-1" not in unknown.text


def test_the_site_ndjson_downloads_as_a_zip(client, login_as) -> None:
    login_as("director.fll")
    response = client.get("/admin/data/ndjson")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    names = set(archive.namelist())
    assert {"manifest.json", "Patient.ndjson", "Organization.ndjson"} <= names
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["site"] == "FLL"
    patients = archive.read("Patient.ndjson").decode().splitlines()
    assert len(patients) == 20


def test_the_research_export_needs_the_key_and_downloads_csv_or_parquet(client, login_as) -> None:
    login_as("director.mia")
    token = csrf(client)
    missing = client.post("/admin/data/research", data={"csrf_token": token, "format": "csv"})
    assert missing.status_code == 422
    assert "research key file" in missing.text
    bad = client.post(
        "/admin/data/research",
        data={"csrf_token": token, "format": "csv"},
        files={"key_file": ("k.key", "not hex")},
    )
    assert bad.status_code == 422
    as_csv = client.post(
        "/admin/data/research",
        data={"csrf_token": token, "format": "csv"},
        files={"key_file": ("k.key", KEY)},
    )
    assert as_csv.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(as_csv.content))
    assert set(archive.namelist()) == {"patients.csv", "infusions.csv", "scores.csv"}
    patients = archive.read("patients.csv").decode()
    assert patients.splitlines()[0].startswith("patient,sex,age_years,anchor")
    assert "DEMO-" not in patients
    as_parquet = client.post(
        "/admin/data/research",
        data={"csrf_token": token, "format": "parquet"},
        files={"key_file": ("k.key", KEY)},
    )
    archive = zipfile.ZipFile(io.BytesIO(as_parquet.content))
    table = pq.read_table(io.BytesIO(archive.read("patients.parquet")))
    assert table.num_rows == 20
    assert table.schema.field("age_years").type == "int64"


def test_the_import_previews_every_problem_before_anything_is_stored(
    client, demo, login_as
) -> None:
    login_as("director.mia")
    before = mrns(demo)
    body = HEADER + "WEB-1,Alma,Ocampo,1980-01-02,female,70\nWEB-2,,Ocampo,2090-01-01,female,\n"
    preview = client.post(
        "/admin/data/import",
        data={"csrf_token": csrf(client)},
        files={"file": ("patients.csv", body)},
    )
    assert preview.status_code == 200
    assert "line 3" in preview.text
    assert "in the future" in preview.text
    assert "Import the 1 valid rows only" in preview.text
    assert mrns(demo) == before
    content = re.search(r'name="content" value="([^"]+)"', preview.text).group(1)
    assert base64.b64decode(content).decode() == body

    refused = client.post(
        "/admin/data/import/confirm", data={"csrf_token": csrf(client), "content": content}
    )
    assert refused.status_code == 422
    assert mrns(demo) == before

    done = client.post(
        "/admin/data/import/confirm",
        data={"csrf_token": csrf(client), "content": content, "skip_invalid": "yes"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert mrns(demo) == before | {"WEB-1"}
    assert "Imported 1 patients" in client.get("/admin/data").text


def test_an_import_file_in_the_wrong_encoding_is_refused_next_to_the_field(
    client, login_as
) -> None:
    login_as("director.mia")
    data = (HEADER + "WEB-3,José,Ruiz,1980-01-02,male,\n").encode("latin-1")
    response = client.post(
        "/admin/data/import", data={"csrf_token": csrf(client)}, files={"file": ("p.csv", data)}
    )
    assert response.status_code == 422
    assert "line 2 is not UTF-8 text" in response.text
    assert 'aria-invalid="true"' in response.text
