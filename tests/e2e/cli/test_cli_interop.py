"""``ketaclinic export fhir|ndjson|research`` and ``ketaclinic import patients`` as an operator
runs them: a real process against SQLite and PostgreSQL with the demo clinic loaded."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from fhir.resources.R4B.bundle import Bundle

from ketaclinic.adapters.fhir.bundle import to_json, unresolved_references

BIN = str(Path(sys.executable).with_name("ketaclinic"))
SECRET = "cli-test-secret-" + "y" * 40


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def env(request: pytest.FixtureRequest, tmp_path: Path, provision_db) -> dict[str, str]:
    """The demo clinic on each engine, a copy of the session's template (what `ketaclinic demo
    --no-serve` loads; tests/e2e/cli/test_cli_foundation.py runs that command itself)."""
    return {
        **os.environ,
        "KETACLINIC_DATA_DIR": str(tmp_path / "data"),
        "KETACLINIC_SECRET_KEY": SECRET,
        "KETACLINIC_ENVIRONMENT": "test",
        "KETACLINIC_DATABASE_URL": provision_db(request.param, with_demo=True),
    }


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BIN, *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def test_export_fhir_for_one_patient_and_for_all(env: dict[str, str], tmp_path: Path) -> None:
    printed = run(env, "export", "fhir", "--patient", "DEMO-0001")
    assert printed.returncode == 0, printed.stderr
    bundle = json.loads(printed.stdout)
    assert unresolved_references(bundle) == []

    target = tmp_path / "all.json"
    result = run(env, "export", "fhir", "--all", "-o", str(target), "--json")
    assert result.returncode == 0, result.stderr
    entries = json.loads(result.stdout)["entries"]
    text = target.read_text()
    assert to_json(Bundle.model_validate_json(text)) == text
    assert len(json.loads(text)["entry"]) == entries

    line = one_error_line(run(env, "export", "fhir", "--patient", "NOPE-9"))
    assert "mrn" in line
    assert "NOPE-9" not in line
    assert "exactly one" in one_error_line(run(env, "export", "fhir", "--all", "--patient", "X"))


def test_export_ndjson_writes_a_file_per_type_and_a_manifest(
    env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "bulk"
    result = run(env, "export", "ndjson", "--site", "mia", "-o", str(out), "--json")
    assert result.returncode == 0, result.stderr
    counts = json.loads(result.stdout)["resources"]
    assert counts["Patient"] == 20
    for kind, count in counts.items():
        assert len((out / f"{kind}.ndjson").read_text().splitlines()) == count
    assert "site" in one_error_line(run(env, "export", "ndjson", "--site", "XYZ", "-o", str(out)))


def test_the_research_export_refuses_to_run_without_a_key(
    env: dict[str, str], tmp_path: Path
) -> None:
    key = tmp_path / "research.key"
    out = tmp_path / "research"
    line = one_error_line(run(env, "export", "research", "--key-file", str(key), "-o", str(out)))
    assert "key-file" in line
    assert "--new-key" in line
    assert not out.exists()

    made = run(
        env,
        "export",
        "research",
        "--key-file",
        str(key),
        "--new-key",
        "-o",
        str(out),
        "--site",
        "MIA",
        "--json",
    )
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["sites"]["MIA"]["patients"] == 20
    header = (out / "patients.csv").read_text().splitlines()[0]
    assert header == "patient,sex,age_years,anchor,protocol,series_count,infusion_count"
    assert "never overwrites" in one_error_line(
        run(env, "export", "research", "--key-file", str(key), "--new-key", "-o", str(out))
    )

    parquet = run(
        env,
        "export",
        "research",
        "--key-file",
        str(key),
        "-o",
        str(tmp_path / "pq"),
        "--site",
        "MIA",
        "--format",
        "parquet",
    )
    assert parquet.returncode == 0, parquet.stderr
    table = pq.read_table(tmp_path / "pq" / "patients.parquet")
    csv_ids = sorted(r.split(",")[0] for r in (out / "patients.csv").read_text().splitlines()[1:])
    assert sorted(table.column("patient").to_pylist()) == csv_ids  # same key, same pseudonyms


def test_import_reports_every_bad_row_and_imports_nothing_until_fixed(
    env: dict[str, str], tmp_path: Path
) -> None:
    file = tmp_path / "patients.csv"
    file.write_text(
        "mrn,given_name,family_name,birth_date,sex\n"
        "IMP-1,Alma,Ocampo,1980-01-02,female\n"
        "IMP-2,Bruno,Ocampo,2099-01-02,male\n"
        "IMP-1,Alma,Ocampo,1980-01-02,female\n"
        "DEMO-0002,Someone,Else,1980-01-02,male\n",
        encoding="utf-8",
    )
    refused = run(env, "import", "patients", str(file), "--site", "MIA", "--json")
    assert "nothing imported" in one_error_line(refused)
    report = json.loads(refused.stdout)
    assert [(e["line"], e["field"]) for e in report["errors"]] == [
        (3, "birth_date"),
        (4, "mrn"),
        (5, "mrn"),
    ]
    assert report["imported"] is False

    partial = run(env, "import", "patients", str(file), "--site", "MIA", "--skip-invalid", "--json")
    assert partial.returncode == 0, partial.stderr
    assert json.loads(partial.stdout)["created"] == ["IMP-1"]

    again = run(env, "import", "patients", str(file), "--site", "MIA", "--skip-invalid", "--json")
    body = json.loads(again.stdout)
    assert body["created"] == []
    assert [s["mrn"] for s in body["skipped"]] == ["IMP-1"]

    latin = tmp_path / "latin.csv"
    latin.write_bytes(
        "mrn,given_name,family_name,birth_date,sex\nIMP-3,José,R,1980-01-02,male\n".encode(
            "latin-1"
        )
    )
    assert "not UTF-8" in one_error_line(
        run(env, "import", "patients", str(latin), "--site", "MIA")
    )


def test_a_backup_altered_inside_is_refused_and_a_restore_loses_nothing(
    env: dict[str, str], tmp_path: Path
) -> None:
    backup = tmp_path / "clinic.gz"
    assert run(env, "backup", str(backup)).returncode == 0
    before = json.loads(run(env, "export", "fhir", "--patient", "DEMO-0001").stdout)

    lines = gzip.decompress(backup.read_bytes()).decode().splitlines()
    altered = [lines[0], "{not json", *lines[2:]]
    broken = tmp_path / "altered.gz"
    broken.write_bytes(gzip.compress(("\n".join(altered) + "\n").encode()))
    target = {**env, "KETACLINIC_DATA_DIR": str(tmp_path / "restored")}
    target.pop("KETACLINIC_DATABASE_URL", None)
    assert "altered" in one_error_line(run(target, "restore", str(broken)))

    assert run(target, "restore", str(backup)).returncode == 0
    assert json.loads(run(target, "audit", "verify", "--json").stdout)["ok"] is True
    after = json.loads(run(target, "export", "fhir", "--patient", "DEMO-0001").stdout)

    def clinical(bundle: dict) -> list[dict]:
        # the access log grows with every export; everything else must be identical
        return [
            e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] != "AuditEvent"
        ]

    assert clinical(after) == clinical(before)
