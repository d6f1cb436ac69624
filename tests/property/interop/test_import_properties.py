"""Properties of the import side: any bytes give a report or one clear InvalidInput, never a
crash; a Patient exported as FHIR imports back to the same registration fields."""

from __future__ import annotations

import datetime as dt
import json

from hypothesis import given
from hypothesis import strategies as st

from ketaclinic.adapters.fhir.core import patient as patient_resource
from ketaclinic.adapters.fhir.patient_import import read_patient_file
from ketaclinic.domain.errors import InvalidInput
from ketaclinic.domain.people import Patient, Sex
from ketaclinic.services.interop_import import ParsedFile, read_csv

names = st.text(
    alphabet=st.characters(categories=("L",), include_characters=" '-"), min_size=1, max_size=40
).filter(lambda s: s.strip() == s and s.strip())
mrns = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9\-_.]{0,31}", fullmatch=True)


@given(st.binary(max_size=2000))
def test_any_bytes_give_a_report_or_one_clear_error(data: bytes) -> None:
    for name in ("x.csv", "x.json", "x.ndjson"):
        outcome: ParsedFile | InvalidInput
        try:
            outcome = read_patient_file(data, name)
        except InvalidInput as error:
            outcome = error
        if isinstance(outcome, InvalidInput):
            assert outcome.field is not None  # one clear error naming what was wrong
        else:
            assert all(e.line >= 1 for e in outcome.errors)


@given(st.lists(st.lists(st.text(max_size=12), min_size=1, max_size=12), max_size=20))
def test_any_csv_shape_is_reported_row_by_row(rows: list[list[str]]) -> None:
    header = "mrn,given_name,family_name,birth_date,sex"
    body = "\n".join([header, *(",".join(r).replace("\n", " ") for r in rows)])
    try:
        parsed = read_csv(body.encode())
    except InvalidInput:
        return
    for error in parsed.errors:
        assert error.line >= 2


@given(
    mrn=mrns,
    given=names,
    family=names,
    birth=st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2026, 1, 1)),
    sex=st.sampled_from(list(Sex)),
    language=st.sampled_from(["en", "es"]),
)
def test_an_exported_patient_imports_back_to_the_same_fields(
    mrn: str, given: str, family: str, birth: dt.date, sex: Sex, language: str
) -> None:
    exported = patient_resource(
        Patient(1, 1, mrn, given, family, birth, sex, preferred_language=language)
    )
    parsed = read_patient_file(json.dumps(exported).encode(), "p.json")
    (candidate,) = parsed.candidates
    assert dict(candidate.fields) == {
        "mrn": mrn,
        "given_name": given,
        "family_name": family,
        "birth_date": birth.isoformat(),
        "sex": sex.value,
        "preferred_language": language,
    }
