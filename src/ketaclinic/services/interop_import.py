"""Importing existing patients: validate every row, report every problem, import all or nothing.

Input is a list of :class:`Candidate` rows (from a CSV file, :func:`read_csv`, or from FHIR
Patient resources, ``adapters/fhir/patient_import.py``), each a mapping of the columns of
docs/import.md to text. :func:`import_patients`:

1. checks every row (required columns, formats, dates not in the future, duplicate MRNs within
   the file) and collects a :class:`RowError` (where, field, reason) for each problem;
2. compares MRNs with the clinic: a patient already registered **at this site** is *skipped*,
   never changed, so a re-run imports nothing twice; an MRN registered at another site is an
   error (MRNs are unique across the organisation);
3. with any error and no ``skip_invalid``, imports nothing; otherwise imports the valid rows in
   one transaction, audited one entry per patient.

``dry_run`` does steps 1–2 only (the director's preview).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ketaclinic.domain.audit import AuditAction
from ketaclinic.domain.errors import InvalidInput
from ketaclinic.domain.people import (
    HEIGHT_CM_RANGE,
    WEIGHT_KG_RANGE,
    BodyMeasurement,
    NewPatient,
    Role,
    Sex,
)
from ketaclinic.services import interop
from ketaclinic.services.ports import Clock, UnitOfWork

RESOURCE = "patient_import"
COLUMNS = (
    "mrn",
    "given_name",
    "family_name",
    "birth_date",
    "sex",
    "email",
    "phone",
    "preferred_language",
    "weight_kg",
    "height_cm",
)
REQUIRED = ("mrn", "given_name", "family_name", "birth_date", "sex")
MAX_ROWS = 50_000
MAX_BYTES = 20_000_000
EARLIEST_BIRTH = dt.date(1900, 1, 1)
IMPORT_ROLES = frozenset({Role.DIRECTOR})
_SEX_ALIASES = {"f": "female", "m": "male", "o": "other", "u": "unknown"}


@dataclass(frozen=True, slots=True)
class Candidate:
    """One input row: ``line`` is its line in the file (or entry number in a Bundle),
    ``where`` says which (``"line 4"``, ``"entry 3"``)."""

    line: int
    where: str
    fields: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    where: str
    field: str
    reason: str

    def as_dict(self) -> dict[str, object]:
        return {"line": self.line, "where": self.where, "field": self.field, "reason": self.reason}

    def __str__(self) -> str:
        return f"{self.where}, {self.field}: {self.reason}"


@dataclass(frozen=True, slots=True)
class ParsedFile:
    candidates: list[Candidate]
    errors: list[RowError] = field(default_factory=list)
    ignored: int = 0  # resources that are not patients (FHIR input)


@dataclass(frozen=True, slots=True)
class Skipped:
    line: int
    mrn: str
    reason: str


@dataclass(frozen=True, slots=True)
class ImportReport:
    rows: int
    created: list[str]
    skipped: list[Skipped]
    errors: list[RowError]
    imported: bool
    ignored: int = 0

    @property
    def summary(self) -> str:
        if not self.imported and self.errors:
            return (
                f"{len(self.errors)} problems in {self.rows} rows; nothing imported "
                f"(first: {self.errors[0]})"
            )
        return (
            f"{len(self.created)} imported, {len(self.skipped)} skipped (already registered), "
            f"{len(self.errors)} invalid rows left out"
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "rows": self.rows,
            "imported": self.imported,
            "created": self.created,
            "skipped": [{"line": s.line, "mrn": s.mrn, "reason": s.reason} for s in self.skipped],
            "errors": [e.as_dict() for e in self.errors],
            "ignored": self.ignored,
            "summary": self.summary,
        }


def decode_text(data: bytes, name: str = "FILE") -> str:
    """Text from UTF-8 (with or without BOM) or BOM-marked UTF-16; anything else is refused
    with the line and byte that are not UTF-8 (guessing an encoding would garble names)."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise InvalidInput.for_field(name, "UTF-16", "valid UTF-16 text") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        byte = data[error.start]
        raise InvalidInput(
            f"{name}: line {line} is not UTF-8 text (byte 0x{byte:02X}); save the file as "
            "UTF-8 (e.g. 'CSV UTF-8' in a spreadsheet) and import again",
            field=name,
            value=f"0x{byte:02X}",
            expected="UTF-8 text",
        ) from None


def read_csv(data: bytes) -> ParsedFile:
    """Parse a CSV file with the header of docs/import.md (comma or semicolon separated)."""
    if len(data) > MAX_BYTES:
        raise InvalidInput.for_field("FILE", f"{len(data)} bytes", f"at most {MAX_BYTES} bytes")
    text = decode_text(data)
    if not text.strip():
        raise InvalidInput.for_field("FILE", "an empty file", "a header line and patient rows")
    first = text.splitlines()[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = [h.strip().lower() for h in next(reader)]
    errors: list[RowError] = []
    unknown = [h for h in header if h not in COLUMNS]
    missing = [c for c in REQUIRED if c not in header]
    if unknown:
        errors.append(
            RowError(1, "line 1", unknown[0], f"unknown column (allowed: {', '.join(COLUMNS)})")
        )
    if missing:
        errors.append(RowError(1, "line 1", missing[0], "required column missing from the header"))
    if errors:
        return ParsedFile([], errors)
    candidates: list[Candidate] = []
    for values in reader:
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue
        if len(candidates) >= MAX_ROWS:
            raise InvalidInput.for_field(
                "FILE", f"more than {MAX_ROWS} rows", f"at most {MAX_ROWS} rows per file"
            )
        if len(values) != len(header):
            errors.append(
                RowError(
                    line, f"line {line}", "row", f"{len(values)} values for {len(header)} columns"
                )
            )
            continue
        candidates.append(Candidate(line, f"line {line}", dict(zip(header, values, strict=True))))
    return ParsedFile(candidates, errors)


@dataclass(frozen=True, slots=True)
class _Valid:
    candidate: Candidate
    patient: NewPatient
    weight_kg: float | None
    height_cm: float | None


def _number(
    c: Candidate, name: str, bounds: tuple[float, float], errors: list[RowError]
) -> float | None:
    text = c.fields.get(name, "").strip().replace(",", ".")
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        errors.append(RowError(c.line, c.where, name, f"{text!r} is not a number"))
        return None
    low, high = bounds
    if not low <= value <= high:
        errors.append(RowError(c.line, c.where, name, f"{value:g} is outside {low:g}–{high:g}"))
        return None
    return value


def _validate(c: Candidate, site_id: int, today: dt.date) -> tuple[_Valid | None, list[RowError]]:
    errors: list[RowError] = []
    f = {k: (v or "").strip() for k, v in c.fields.items()}
    for name in REQUIRED:
        if not f.get(name):
            errors.append(RowError(c.line, c.where, name, "required, but empty"))
    birth: dt.date | None = None
    if f.get("birth_date"):
        try:
            birth = dt.date.fromisoformat(f["birth_date"])
        except ValueError:
            errors.append(
                RowError(
                    c.line,
                    c.where,
                    "birth_date",
                    f"{f['birth_date']!r} is not a date as YYYY-MM-DD",
                )
            )
        else:
            if birth > today:
                errors.append(RowError(c.line, c.where, "birth_date", f"{birth} is in the future"))
                birth = None
            elif birth < EARLIEST_BIRTH:
                errors.append(RowError(c.line, c.where, "birth_date", f"{birth} is before 1900"))
                birth = None
    sex_text = _SEX_ALIASES.get(f.get("sex", "").lower(), f.get("sex", "").lower())
    sex: Sex | None = None
    if f.get("sex"):
        try:
            sex = Sex(sex_text)
        except ValueError:
            errors.append(
                RowError(
                    c.line, c.where, "sex", f"{f['sex']!r} is not female, male, other or unknown"
                )
            )
    weight = _number(c, "weight_kg", WEIGHT_KG_RANGE, errors)
    height = _number(c, "height_cm", HEIGHT_CM_RANGE, errors)
    if height is not None and weight is None and not errors:
        errors.append(RowError(c.line, c.where, "weight_kg", "needed when height_cm is given"))
    patient: NewPatient | None = None
    if birth is not None and sex is not None:
        try:
            patient = NewPatient(
                site_id=site_id,
                mrn=f["mrn"],
                given_name=f["given_name"],
                family_name=f["family_name"],
                birth_date=birth,
                sex=sex,
                email=f.get("email", ""),
                phone=f.get("phone", ""),
                preferred_language=f.get("preferred_language", "").lower() or "en",
            )
        except InvalidInput as error:
            errors.append(RowError(c.line, c.where, error.field or "row", _reason(error)))
    if errors or patient is None:
        return None, errors
    return _Valid(c, patient, weight, height), []


def _reason(error: InvalidInput) -> str:
    prefix = f"{error.field}: " if error.field else ""
    return error.message.removeprefix(prefix)


def import_patients(
    uow: UnitOfWork,
    clock: Clock,
    caller: interop.Caller,
    site_code: str,
    parsed: ParsedFile,
    *,
    skip_invalid: bool = False,
    dry_run: bool = False,
    source: str = "csv",
) -> ImportReport:
    """Validate and (unless ``dry_run``) import ``parsed`` into the site. See the module doc."""
    site = interop.require_site(uow, clock, caller, site_code, RESOURCE, IMPORT_ROLES)
    today = clock.now().date()
    errors = list(parsed.errors)
    valid: list[_Valid] = []
    first_line: dict[str, int] = {}
    skipped: list[Skipped] = []
    for c in parsed.candidates:
        checked, problems = _validate(c, site.id, today)
        mrn = (c.fields.get("mrn") or "").strip()
        if mrn:
            if mrn in first_line:
                problems.append(
                    RowError(
                        c.line,
                        c.where,
                        "mrn",
                        f"{mrn!r} appears again (first at line {first_line[mrn]})",
                    )
                )
                checked = None
            else:
                first_line[mrn] = c.line
        if problems or checked is None:
            errors.extend(problems)
            continue
        existing = uow.patients.by_mrn(checked.patient.mrn)
        if existing is None:
            valid.append(checked)
        elif existing.site_id == site.id:
            skipped.append(Skipped(c.line, checked.patient.mrn, "already registered at this site"))
        else:
            errors.append(
                RowError(c.line, c.where, "mrn", "already registered at another site of the clinic")
            )
    rows = len(parsed.candidates)
    if dry_run or (errors and not skip_invalid):
        if not dry_run:
            interop.audit(
                uow,
                clock,
                caller,
                AuditAction.CREATE,
                RESOURCE,
                site_id=site.id,
                detail=f"refused: {len(errors)} problems in {rows} rows ({source})",
            )
            uow.commit()
        return ImportReport(
            rows, [v.patient.mrn for v in valid], skipped, errors, False, parsed.ignored
        )
    now = clock.now()
    created: list[str] = []
    for item in valid:
        patient = uow.patients.add(item.patient, now)
        if item.weight_kg is not None:
            uow.patients.add_measurement(
                BodyMeasurement(patient.id, now, item.weight_kg, item.height_cm, note="imported")
            )
        interop.audit(
            uow,
            clock,
            caller,
            AuditAction.CREATE,
            "patient",
            site_id=site.id,
            patient_id=patient.id,
            resource_id=patient.id,
            detail=f"import ({source})",
        )
        created.append(patient.mrn)
    interop.audit(
        uow,
        clock,
        caller,
        AuditAction.CREATE,
        RESOURCE,
        site_id=site.id,
        detail=f"{len(created)} imported, {len(skipped)} skipped, {len(errors)} invalid ({source})",
    )
    uow.commit()
    return ImportReport(rows, created, skipped, errors, True, parsed.ignored)


def errors_text(errors: Sequence[RowError], limit: int = 20) -> list[str]:
    shown = [str(e) for e in errors[:limit]]
    if len(errors) > limit:
        shown.append(f"… and {len(errors) - limit} more")
    return shown
