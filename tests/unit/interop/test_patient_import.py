"""Importing patients: every bad row reported with line, field and reason; nothing imported
while any row is bad unless asked; a re-run skips what is already there; wrong encodings,
duplicate MRNs and future dates refused. Runs on the in-memory store."""

from __future__ import annotations

import codecs
import datetime as dt
import json

import pytest

from ketaclinic.adapters.fhir.patient_import import read_patient_file
from ketaclinic.adapters.memory import MemoryUnitOfWorkFactory
from ketaclinic.domain.errors import InvalidInput, NotFound, PermissionDenied
from ketaclinic.domain.people import NewPatient, Principal, Role, Sex
from ketaclinic.services.audit import Actor
from ketaclinic.services.interop import Operator
from ketaclinic.services.interop_import import import_patients, read_csv
from ketaclinic.services.ports import FixedClock

NOW = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
HEADER = (
    "mrn,given_name,family_name,birth_date,sex,email,phone,preferred_language,weight_kg,height_cm"
)
OPERATOR = Operator("tester")


@pytest.fixture
def uow_factory() -> MemoryUnitOfWorkFactory:
    factory = MemoryUnitOfWorkFactory()
    with factory() as uow:
        mia = uow.sites.add("MIA", "Miami", "America/New_York")
        fll = uow.sites.add("FLL", "Fort Lauderdale", "America/New_York")
        uow.patients.add(
            NewPatient(mia.id, "OLD-1", "Rosa", "Ocampo", dt.date(1970, 1, 1), Sex.FEMALE), NOW
        )
        uow.patients.add(
            NewPatient(fll.id, "FLL-1", "Ivan", "Iturbe", dt.date(1971, 1, 1), Sex.MALE), NOW
        )
        uow.commit()
    return factory


def csv_bytes(*rows: str) -> bytes:
    return ("\n".join([HEADER, *rows]) + "\n").encode()


def run(factory: MemoryUnitOfWorkFactory, data: bytes, **kw: object):
    with factory() as uow:
        return import_patients(uow, FixedClock(NOW), OPERATOR, "MIA", read_csv(data), **kw)  # type: ignore[arg-type]


def mrns(factory: MemoryUnitOfWorkFactory) -> set[str]:
    with factory() as uow:
        return {p.mrn for p in uow.store.patients.values()}  # type: ignore[attr-defined]


GOOD = "NEW-1,Carmen,Salcedo,1985-02-03,female,c@example.invalid,+1-555-0101,es,70.5,165"


def test_valid_rows_are_imported_with_their_first_measurement(uow_factory) -> None:
    report = run(uow_factory, csv_bytes(GOOD, "NEW-2,Luis,Valdivia,1979-12-30,M,,,,,"))
    assert report.imported
    assert report.created == ["NEW-1", "NEW-2"]
    with uow_factory() as uow:
        carmen = uow.patients.by_mrn("NEW-1")
        assert carmen is not None
        assert carmen.preferred_language == "es"
        (m,) = uow.patients.measurements(carmen.id)
        assert (m.weight_kg, m.height_cm) == (70.5, 165.0)
        luis = uow.patients.by_mrn("NEW-2")
        assert luis is not None
        assert luis.sex is Sex.MALE


def test_every_bad_row_is_reported_and_nothing_is_imported(uow_factory) -> None:
    report = run(
        uow_factory,
        csv_bytes(
            GOOD,
            "NEW-3,,Salcedo,1985-02-03,female,,,,,",
            "NEW-4,Ana,Ruiz,2031-01-01,female,,,,,",
            "NEW-5,Ana,Ruiz,03/02/1985,female,,,,,",
            "NEW-6,Ana,Ruiz,1985-02-03,woman,,,,500,",
            "NEW-1,Ana,Ruiz,1985-02-03,female,,,,,",
        ),
    )
    assert not report.imported
    found = {(e.line, e.field) for e in report.errors}
    assert found == {
        (3, "given_name"),
        (4, "birth_date"),
        (5, "birth_date"),
        (6, "sex"),
        (6, "weight_kg"),
        (7, "mrn"),
    }
    reasons = {e.line: e.reason for e in report.errors}
    assert "in the future" in reasons[4]
    assert "appears again (first at line 2)" in reasons[7]
    assert mrns(uow_factory) == {"OLD-1", "FLL-1"}


def test_skip_invalid_imports_the_valid_rows_and_reports_the_rest(uow_factory) -> None:
    report = run(
        uow_factory, csv_bytes(GOOD, "NEW-4,Ana,Ruiz,2031-01-01,female,,,,,"), skip_invalid=True
    )
    assert report.imported
    assert report.created == ["NEW-1"]
    assert [(e.line, e.field) for e in report.errors] == [(3, "birth_date")]
    assert mrns(uow_factory) == {"OLD-1", "FLL-1", "NEW-1"}


def test_a_rerun_skips_patients_already_registered_and_changes_nothing(uow_factory) -> None:
    run(uow_factory, csv_bytes(GOOD))
    again = run(uow_factory, csv_bytes(GOOD, "OLD-1,Rosa,Ocampo,1970-01-01,female,,,,,"))
    assert again.imported
    assert again.created == []
    assert [(s.line, s.mrn) for s in again.skipped] == [(2, "NEW-1"), (3, "OLD-1")]
    with uow_factory() as uow:
        assert len(uow.patients.measurements(uow.patients.by_mrn("NEW-1").id)) == 1


def test_an_mrn_of_another_site_is_an_error_not_a_skip(uow_factory) -> None:
    report = run(uow_factory, csv_bytes("FLL-1,Ivan,Iturbe,1971-01-01,male,,,,,"))
    assert [(e.field, e.reason) for e in report.errors] == [
        ("mrn", "already registered at another site of the clinic")
    ]


def test_a_dry_run_reports_but_stores_nothing(uow_factory) -> None:
    report = run(uow_factory, csv_bytes(GOOD), dry_run=True)
    assert not report.imported
    assert report.created == ["NEW-1"]
    assert mrns(uow_factory) == {"OLD-1", "FLL-1"}


def test_imports_are_audited_per_patient(uow_factory) -> None:
    run(uow_factory, csv_bytes(GOOD))
    with uow_factory() as uow:
        entries = list(uow.audit.entries())
    created = [e.record for e in entries if e.record.resource == "patient"]
    assert len(created) == 1
    assert created[0].role == "operator"
    assert created[0].client == "cli:tester"
    assert entries[-1].record.resource == "patient_import"


def test_a_file_that_is_not_utf8_is_refused_naming_the_line() -> None:
    data = csv_bytes(GOOD, "NEW-2,José,Ruiz,1985-02-03,male,,,,,").decode().encode("latin-1")
    with pytest.raises(InvalidInput, match=r"line 3 is not UTF-8 text \(byte 0xE9\)"):
        read_csv(data)


def test_utf8_with_bom_and_utf16_are_read(uow_factory) -> None:
    text = "\n".join([HEADER, "NEW-7,José,Núñez,1985-02-03,male,,,,,"]) + "\n"
    for data in (codecs.BOM_UTF8 + text.encode(), text.encode("utf-16")):
        (candidate,) = read_csv(data).candidates
        assert candidate.fields["given_name"] == "José"


def test_semicolon_separated_files_are_read() -> None:
    data = (HEADER.replace(",", ";") + "\n" + GOOD.replace(",", ";") + "\n").encode()
    (candidate,) = read_csv(data).candidates
    assert candidate.fields["mrn"] == "NEW-1"


def test_a_header_with_an_unknown_or_missing_column_is_reported_on_line_1() -> None:
    parsed = read_csv(b"mrn,given_name,family_name,birth_date,sex,ssn\n")
    assert [(e.line, e.field) for e in parsed.errors] == [(1, "ssn")]
    parsed = read_csv(b"mrn,given_name,birth_date,sex\n")
    assert [(e.line, e.field) for e in parsed.errors] == [(1, "family_name")]


def test_staff_other_than_directors_may_not_import(uow_factory) -> None:
    with uow_factory() as uow:
        site_ids = frozenset(s.id for s in uow.sites.all())
    nurse = Actor(Principal(99, "nurse.x", Role.NURSE, site_ids))
    with uow_factory() as uow, pytest.raises(PermissionDenied):
        import_patients(uow, FixedClock(NOW), nurse, "MIA", read_csv(csv_bytes(GOOD)))
    mia_only = Actor(Principal(98, "director.x", Role.DIRECTOR, frozenset({min(site_ids)})))
    with uow_factory() as uow, pytest.raises(NotFound):
        import_patients(uow, FixedClock(NOW), mia_only, "FLL", read_csv(csv_bytes(GOOD)))
    assert mrns(uow_factory) == {"OLD-1", "FLL-1"}


def fhir_patient(mrn: str, **extra: object) -> dict[str, object]:
    body: dict[str, object] = {
        "resourceType": "Patient",
        "identifier": [
            {"system": "urn:other", "value": "X"},
            {"system": "urn:ketaclinic:mrn", "value": mrn},
        ],
        "name": [{"use": "official", "family": "Delmonte", "given": ["Gloria", "Ines"]}],
        "gender": "female",
        "birthDate": "1990-07-04",
        "telecom": [{"system": "email", "value": "g@example.invalid"}],
        "communication": [{"language": {"coding": [{"code": "es-MX"}]}, "preferred": True}],
    }
    body.update(extra)
    return body


def test_fhir_patients_from_a_bundle_become_candidates(uow_factory) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": fhir_patient("FH-1")},
            {"resource": {"resourceType": "Organization", "name": "elsewhere"}},
            {"resource": fhir_patient("FH-2", birthDate="not-a-date")},
        ],
    }
    parsed = read_patient_file(json.dumps(bundle).encode(), "export.json")
    assert parsed.ignored == 1
    (candidate,) = parsed.candidates
    assert candidate.fields["mrn"] == "FH-1"
    assert candidate.fields["given_name"] == "Gloria Ines"
    assert candidate.fields["preferred_language"] == "es"
    assert [(e.where, e.field) for e in parsed.errors] == [("entry 3", "birthDate")]
    with uow_factory() as uow:
        report = import_patients(uow, FixedClock(NOW), OPERATOR, "MIA", parsed, skip_invalid=True)
    assert report.created == ["FH-1"]


def test_fhir_ndjson_reports_bad_lines_by_number() -> None:
    lines = [json.dumps(fhir_patient("FH-3")), "{not json", json.dumps(fhir_patient("FH-4"))]
    parsed = read_patient_file("\n".join(lines).encode(), "patients.ndjson")
    assert [c.fields["mrn"] for c in parsed.candidates] == ["FH-3", "FH-4"]
    assert [(e.line, e.field) for e in parsed.errors] == [(2, "json")]


def test_an_unknown_file_type_is_refused() -> None:
    with pytest.raises(InvalidInput, match="FILE"):
        read_patient_file(b"x", "patients.xlsx")
