"""The de-identified research export: one row per patient, per infusion and per score.

What leaves the clinic (data dictionary: docs/research-export.md):

- **Pseudonymous ids**: ``HMAC-SHA256(key, "patient|" + MRN)``, first 20 hex digits. The key is
  a file the clinic keeps; the same key gives the same ids in every export (so exports can be
  linked over time), a different key gives unlinkable ids, and without the key an id cannot be
  traced back to an MRN. No export runs without a key.
- **Dates become days**: every event is a whole number of days since the patient's series start
  (the first booked visit of their first series), or since first contact when they have no
  series; the anchor itself is not exported. Age is in whole years at the anchor, capped at 90
  (older ages are identifying).
- **Nothing else identifying**: no names, MRNs, birth dates, contact details, site, chair, staff,
  lot numbers or free text; only coded values and numbers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import secrets
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from ketaclinic.domain.errors import InvalidInput
from ketaclinic.domain.vitals import VitalKind
from ketaclinic.services.interop_records import PatientRecord

RESOURCE = "research_export"
KEY_BYTES = 32
PSEUDONYM_HEX = 20  # 80 bits: collisions are negligible for any clinic's patient count
AGE_CAP_YEARS = 90  # ages above 89 are identifying (HIPAA Safe Harbor, design)

# Column name → type ("string", "int", "float"); every column may be empty (null).
Schema = tuple[tuple[str, str], ...]

PATIENTS: Schema = (
    ("patient", "string"),
    ("sex", "string"),
    ("age_years", "int"),
    ("anchor", "string"),
    ("protocol", "string"),
    ("series_count", "int"),
    ("infusion_count", "int"),
)
INFUSIONS: Schema = (
    ("patient", "string"),
    ("infusion_number", "int"),
    ("day", "int"),
    ("protocol", "string"),
    ("state", "string"),
    ("weight_kg", "float"),
    ("planned_dose_mg", "float"),
    ("delivered_dose_mg", "float"),
    ("delivered_mg_per_kg", "float"),
    ("infusion_min", "float"),
    ("rate_periods", "int"),
    ("boluses", "int"),
    ("clinical_alerts", "int"),
    ("plausibility_alerts", "int"),
    ("max_systolic_mmhg", "float"),
    ("max_diastolic_mmhg", "float"),
    ("max_heart_rate_per_min", "float"),
    ("min_spo2_percent", "float"),
    ("max_cadss6", "int"),
)
SCORES: Schema = (
    ("patient", "string"),
    ("instrument", "string"),
    ("day", "int"),
    ("total", "int"),
    ("subscale_b", "int"),
    ("subscale_c", "int"),
    ("subscale_d", "int"),
    ("subscale_e", "int"),
    ("severity", "string"),
    ("source", "string"),
)
TABLES: Mapping[str, Schema] = {"patients": PATIENTS, "infusions": INFUSIONS, "scores": SCORES}

Row = dict[str, object]


@dataclass(frozen=True, slots=True)
class ResearchKey:
    secret: bytes

    def pseudonym(self, kind: str, value: str) -> str:
        digest = hmac.new(self.secret, f"{kind}|{value}".encode(), hashlib.sha256)
        return digest.hexdigest()[:PSEUDONYM_HEX]


def new_key(path: Path) -> ResearchKey:
    """Create a key file (hex, owner-readable only); refuses to overwrite an existing one,
    since losing a key breaks the link between past and future exports."""
    path = Path(path)
    if path.exists():
        raise InvalidInput.for_field(
            "key-file", str(path), "a path where no key exists yet (--new-key never overwrites)"
        )
    secret = secrets.token_bytes(KEY_BYTES)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secret.hex() + "\n")
    except OSError as error:
        raise InvalidInput.for_field(
            "key-file", str(path), f"a writable path ({error.strerror})"
        ) from None
    return ResearchKey(secret)


def parse_key(text: str, source: str) -> ResearchKey:
    """A key from a key file's text: at least 32 bytes written as hex."""
    cleaned = text.strip()
    try:
        secret = bytes.fromhex(cleaned)
    except ValueError:
        secret = b""
    if len(secret) < KEY_BYTES:
        raise InvalidInput.for_field(
            "key-file", source, f"a key file of at least {KEY_BYTES} bytes written as hex"
        )
    return ResearchKey(secret)


def load_key(path: Path) -> ResearchKey:
    path = Path(path)
    try:
        text = path.read_text("ascii")
    except FileNotFoundError:
        raise InvalidInput.for_field(
            "key-file", str(path), "an existing key file (create one with --new-key)"
        ) from None
    except (OSError, UnicodeDecodeError):
        raise InvalidInput.for_field("key-file", str(path), "a readable key file") from None
    return parse_key(text, str(path))


def _anchor(record: PatientRecord) -> tuple[dt.date, str]:
    starts = [s.first_visit_at or s.booked_at for s in record.series]
    if starts:
        return min(starts).date(), "series_start"
    return record.first_contact.date(), "first_contact"


def _days(at: dt.datetime, anchor: dt.date) -> int:
    return (at.astimezone(dt.UTC).date() - anchor).days


def _age(record: PatientRecord, anchor: dt.date) -> int:
    return min(record.patient.age_on(anchor), AGE_CAP_YEARS)


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def rows(record: PatientRecord, key: ResearchKey) -> Iterator[tuple[str, Row]]:
    """The research rows of one patient as (table, row) pairs."""
    pid = key.pseudonym("patient", record.patient.mrn)
    anchor, anchor_kind = _anchor(record)
    protocol = record.series[0].protocol_id if record.series else None
    yield (
        "patients",
        {
            "patient": pid,
            "sex": record.patient.sex.value,
            "age_years": _age(record, anchor),
            "anchor": anchor_kind,
            "protocol": protocol,
            "series_count": len(record.series),
            "infusion_count": len(record.sessions),
        },
    )
    for number, session in enumerate(record.sessions, start=1):
        yield "infusions", _infusion(record, session.id, number, pid, anchor)
    for response in record.responses:
        subs = {k.lower(): v for k, v in response.subscales.items()}
        yield (
            "scores",
            {
                "patient": pid,
                "instrument": response.instrument_id,
                "day": _days(response.completed_at, anchor),
                "total": response.total,
                "subscale_b": subs.get("b"),
                "subscale_c": subs.get("c"),
                "subscale_d": subs.get("d"),
                "subscale_e": subs.get("e"),
                "severity": response.severity,
                "source": response.source,
            },
        )


def _infusion(
    record: PatientRecord, session_id: int, number: int, pid: str, anchor: dt.date
) -> Row:
    session = next(s for s in record.sessions if s.id == session_id)
    periods = [p for p in record.administrations if p.session_id == session_id]
    boluses = [b for b in record.boluses if b.session_id == session_id]
    finished = [p for p in periods if p.end is not None]
    delivered: float | None = None
    if periods and len(finished) == len(periods):
        delivered = sum(p.dose_mg or 0.0 for p in periods) + sum(b.dose_mg for b in boluses)
    minutes = sum(((p.end - p.start).total_seconds() / 60 for p in finished if p.end), 0.0)
    alerts = [a for a in record.alerts if a.session_id == session_id]
    readings = [v for v in record.vitals if v.session_id == session_id]

    def values(kind: VitalKind) -> list[float]:
        return [v.value for v in readings if v.kind is kind]

    weight = session.weight_kg
    return {
        "patient": pid,
        "infusion_number": number,
        "day": _days(session.checked_in_at, anchor),
        "protocol": session.protocol_id,
        "state": session.state,
        "weight_kg": _round(weight, 1),
        "planned_dose_mg": _round(session.planned_dose_mg),
        "delivered_dose_mg": _round(delivered),
        "delivered_mg_per_kg": _round(delivered / weight, 3)
        if delivered is not None and weight
        else None,
        "infusion_min": _round(minutes, 1) if periods else None,
        "rate_periods": len(periods),
        "boluses": len(boluses),
        "clinical_alerts": sum(1 for a in alerts if a.tier == "clinical"),
        "plausibility_alerts": sum(1 for a in alerts if a.tier == "plausibility"),
        "max_systolic_mmhg": max(values(VitalKind.BP_SYSTOLIC), default=None),
        "max_diastolic_mmhg": max(values(VitalKind.BP_DIASTOLIC), default=None),
        "max_heart_rate_per_min": max(values(VitalKind.HEART_RATE), default=None),
        "min_spo2_percent": min(values(VitalKind.SPO2), default=None),
        "max_cadss6": max(
            (d.total for d in record.dissociation if d.session_id == session_id), default=None
        ),
    }


def research_rows(
    batches: Iterable[list[PatientRecord]], key: ResearchKey
) -> Iterator[tuple[str, Row]]:
    for batch in batches:
        for record in batch:
            yield from rows(record, key)
