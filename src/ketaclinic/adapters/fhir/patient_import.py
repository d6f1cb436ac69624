"""Reading patients to import: FHIR Patient resources (a JSON Bundle, one Patient, or NDJSON)
and, by file name, CSV (``services.interop_import.read_csv``).

Each Patient is first validated by the ``fhir.resources`` R4B model (a malformed resource is
reported with the element that is wrong), then mapped to the columns of docs/import.md:

- ``mrn``: the identifier with ketaclinic's MRN system, else the one typed ``MR``, else the
  first identifier;
- ``given_name`` / ``family_name``: the ``official`` name (else the first), given names joined;
- ``birth_date``, ``sex`` (from ``gender``), ``email`` / ``phone`` (first of each ``telecom``),
  ``preferred_language`` (the preferred ``communication`` language).

Resources of other types in a Bundle or NDJSON file are counted as ignored, not imported.
"""

from __future__ import annotations

import json
from typing import Any

from fhir.resources.R4B.patient import Patient
from pydantic import ValidationError

from ketaclinic.adapters.fhir.codes import MRN_SYSTEM
from ketaclinic.domain.errors import InvalidInput
from ketaclinic.services.interop_import import (
    MAX_BYTES,
    MAX_ROWS,
    Candidate,
    ParsedFile,
    RowError,
    decode_text,
    read_csv,
)


def read_patient_file(data: bytes, name: str) -> ParsedFile:
    """Parse an import file by its name: ``.csv``, ``.json`` (Bundle or Patient) or
    ``.ndjson``."""
    lower = name.lower()
    if lower.endswith(".csv"):
        return read_csv(data)
    if lower.endswith((".ndjson", ".jsonl")):
        return read_ndjson(data)
    if lower.endswith(".json"):
        return read_json(data)
    raise InvalidInput.for_field("FILE", name, "a .csv, .json (FHIR Bundle) or .ndjson file")


def _text(data: bytes) -> str:
    if len(data) > MAX_BYTES:
        raise InvalidInput.for_field("FILE", f"{len(data)} bytes", f"at most {MAX_BYTES} bytes")
    return decode_text(data)


def read_json(data: bytes) -> ParsedFile:
    text = _text(data)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidInput(
            f"FILE: not valid JSON at line {error.lineno} ({error.msg})", field="FILE"
        ) from None
    if not isinstance(document, dict):
        raise InvalidInput.for_field("FILE", type(document).__name__, "a FHIR Bundle or Patient")
    if document.get("resourceType") == "Patient":
        return _collect([(1, "resource", document)])
    if document.get("resourceType") != "Bundle":
        raise InvalidInput.for_field(
            "resourceType", document.get("resourceType"), "Bundle or Patient"
        )
    entries = document.get("entry") or []
    if not isinstance(entries, list):
        raise InvalidInput.for_field("entry", type(entries).__name__, "a list of entries")
    items = [
        (n, f"entry {n}", e.get("resource") if isinstance(e, dict) else None)
        for n, e in enumerate(entries, start=1)
    ]
    return _collect(items)


def read_ndjson(data: bytes) -> ParsedFile:
    items: list[tuple[int, str, Any]] = []
    errors: list[RowError] = []
    for n, line in enumerate(_text(data).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append((n, f"line {n}", json.loads(line)))
        except json.JSONDecodeError as error:
            errors.append(RowError(n, f"line {n}", "json", f"not valid JSON ({error.msg})"))
    parsed = _collect(items)
    return ParsedFile(parsed.candidates, errors + parsed.errors, parsed.ignored)


def _collect(items: list[tuple[int, str, Any]]) -> ParsedFile:
    candidates: list[Candidate] = []
    errors: list[RowError] = []
    ignored = 0
    for line, where, resource in items:
        if not isinstance(resource, dict):
            errors.append(RowError(line, where, "resource", "missing or not a JSON object"))
            continue
        if resource.get("resourceType") != "Patient":
            ignored += 1
            continue
        if len(candidates) >= MAX_ROWS:
            raise InvalidInput.for_field(
                "FILE", f"more than {MAX_ROWS} patients", f"at most {MAX_ROWS} per file"
            )
        try:
            patient = Patient.model_validate(resource)
        except ValidationError as error:
            first = error.errors()[0]
            field = ".".join(str(p) for p in first.get("loc", ())) or "resource"
            errors.append(RowError(line, where, field, str(first.get("msg", "is not valid"))))
            continue
        candidates.append(Candidate(line, where, _fields(patient)))
    return ParsedFile(candidates, errors, ignored)


def _fields(p: Patient) -> dict[str, str]:
    fields: dict[str, str] = {"mrn": _mrn(p)}
    names = p.name or []
    name = next((n for n in names if n.use == "official"), names[0] if names else None)
    if name is not None:
        fields["given_name"] = " ".join(str(g) for g in (name.given or []))
        fields["family_name"] = str(name.family or "")
    fields["birth_date"] = p.birthDate.isoformat() if p.birthDate else ""
    fields["sex"] = str(p.gender or "")
    for point in p.telecom or []:
        if point.system in ("email", "phone") and point.value and point.system not in fields:
            fields[str(point.system)] = str(point.value)
    for comm in p.communication or []:
        codes = [c.code for c in (comm.language.coding or []) if c.code]
        if codes and (comm.preferred or "preferred_language" not in fields):
            fields["preferred_language"] = str(codes[0]).split("-")[0].lower()
    return fields


def _mrn(p: Patient) -> str:
    identifiers = p.identifier or []
    chosen = next((i for i in identifiers if i.system == MRN_SYSTEM), None)
    if chosen is None:
        chosen = next(
            (
                i
                for i in identifiers
                if i.type is not None and any(c.code == "MR" for c in (i.type.coding or []))
            ),
            None,
        )
    if chosen is None and identifiers:
        chosen = identifiers[0]
    return str(chosen.value or "") if chosen is not None else ""
