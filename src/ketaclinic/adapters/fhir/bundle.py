"""A patient's whole record as FHIR R4B resources, and as one collection Bundle.

:func:`resources` yields the resources of one :class:`PatientRecord` in a fixed order (shared
context first: Organization, Locations, Questionnaires, Devices), each validated by its
``fhir.resources`` model. :func:`patient_bundle` wraps them in a ``collection`` Bundle whose
entries have RESTful ``fullUrl``\\ s under :data:`BASE_URL`, so every relative reference
(``Patient/pat-1``) resolves inside the Bundle. :func:`unresolved_references` checks exactly
that and is what the round-trip tests use.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.resource import Resource

from ketaclinic.adapters.fhir import care, core
from ketaclinic.adapters.fhir.audit import audit_event
from ketaclinic.adapters.fhir.build import Json, fhir_id, instant, validated
from ketaclinic.services.interop_records import PatientRecord

# Where the resources would live on a FHIR server. ``.invalid`` (RFC 2606) says plainly that
# nothing answers there: the URLs only give every entry a base for resolving references.
BASE_URL = "https://fhir.ketaclinic.invalid/R4B"
FHIR_JSON = "application/fhir+json"

# Resource types shared by many patients: a bulk export writes each of these once.
SHARED_TYPES = frozenset({"Organization", "Location", "Questionnaire", "Device"})


def resource_dicts(record: PatientRecord, *, include_access: bool = True) -> Iterator[Json]:
    """Every resource of the record as a JSON dict (not yet validated)."""
    yield core.organization(record.organisation)
    yield core.site_location(record.site)
    chairs = {s.chair_code for s in record.sessions if s.chair_code}
    for series in record.series:
        chairs |= {v.chair_code for v in series.visits if v.chair_code}
        chairs |= {c.visit.chair_code for c in series.cancelled if c.visit.chair_code}
    for code in sorted(chairs):
        yield core.chair_location(record.site, code)
    for instrument_id in sorted({r.instrument_id for r in record.responses}):
        yield care.questionnaire(instrument_id)
    yield core.patient(record.patient)
    yield from care.condition(record)
    yield from core.measurements(record)
    vital_observations = list(core.vitals(record))
    yield from core.monitor_provenance(record, vital_observations)
    yield from vital_observations
    yield from care.responses(record)
    yield from care.encounters(record)
    yield from care.dissociation(record)
    yield from care.administrations(record)
    yield from care.appointments(record)
    yield from care.consents(record)
    yield from care.flags(record)
    if include_access:
        patient_ref = core.patient_id(record.patient)
        for entry in record.access:
            yield audit_event(entry, patient_ref)


def resources(record: PatientRecord, *, include_access: bool = True) -> Iterator[Resource]:
    """The record's resources, each validated by its ``fhir.resources`` R4B model."""
    for body in resource_dicts(record, include_access=include_access):
        yield validated(body)


def new_resources(record: PatientRecord, seen: set[tuple[str, str]]) -> Iterator[Resource]:
    """The record's resources for a multi-patient export (access log left out): shared ones
    already in ``seen`` are skipped before validation, new shared ones are added to it."""
    for body in resource_dicts(record, include_access=False):
        kind = body["resourceType"]
        if kind in SHARED_TYPES:
            key = (kind, body["id"])
            if key in seen:
                continue
            seen.add(key)
        yield validated(body)


def patient_bundle(record: PatientRecord, now: dt.datetime) -> Bundle:
    """The record as a ``collection`` Bundle stamped ``now`` (validated as a whole)."""
    entries = [
        {
            "fullUrl": f"{BASE_URL}/{body['resourceType']}/{body['id']}",
            "resource": body,
        }
        for body in resource_dicts(record)
    ]
    bundle: Bundle = Bundle.model_validate(
        {
            "resourceType": "Bundle",
            "id": fhir_id("record", record.patient.id, now.strftime("%Y%m%dT%H%M%S")),
            "meta": {"lastUpdated": instant(now)},
            "type": "collection",
            "timestamp": instant(now),
            "entry": entries,
        }
    )
    return bundle


def to_json(resource: Resource) -> str:
    """Compact FHIR JSON, as served and written (the same text a re-parse produces)."""
    text: str = resource.model_dump_json(by_alias=True, exclude_none=True)
    return text


def unresolved_references(bundle: dict[str, Any]) -> list[str]:
    """Every ``reference`` in a Bundle (as parsed JSON) that no entry or contained resource
    answers; empty when the Bundle is closed under its references."""
    present = {
        f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle.get("entry", [])
    }
    missing: list[str] = []
    for entry in bundle.get("entry", []):
        resource = entry["resource"]
        contained = {f"#{c['id']}" for c in resource.get("contained", [])}
        for reference in _references(resource):
            if reference.startswith("#"):
                if reference not in contained:
                    missing.append(f"{resource['resourceType']}/{resource['id']} → {reference}")
            elif reference not in present:
                missing.append(f"{resource['resourceType']}/{resource['id']} → {reference}")
    return missing


def _references(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                yield value
            elif key != "contained":
                yield from _references(value)
    elif isinstance(node, list):
        for item in node:
            yield from _references(item)
