"""AuditEvent resources for the access log, in the shape of IHE's Basic Audit Log Patterns.

One AuditEvent per audit-trail entry: the RESTful interaction (read/create/update/delete, type
``rest``) or the DICOM event type for export (110106) and sign-in/out (110114 with 110122 /
110123); the acting staff member as the requesting agent with their network address; ketaclinic
as the observing source; the patient (when there is one) and the touched resource as entities.
The entry's chain hash rides along as an entity detail, so a recipient can check the exported
entries against ``ketaclinic audit verify``.

Codes come from FHIR R4B's own value sets and DICOM PS3.16 (structural, *design*); none is a
clinical code.
"""

from __future__ import annotations

from ketaclinic.adapters.fhir.build import Json, fhir_id, instant, prune, ref
from ketaclinic.adapters.fhir.codes import (
    AUDIT_ENTITY_TYPE,
    AUDIT_EVENT_TYPE,
    DEVICE_SYSTEM,
    DICOM,
    OBJECT_ROLE,
    RESTFUL_INTERACTION,
    SECURITY_SOURCE_TYPE,
    STAFF_SYSTEM,
    coding,
)
from ketaclinic.adapters.fhir.core import network_type
from ketaclinic.domain.audit import AuditAction, AuditEntry, AuditOutcome

RESOURCE_SYSTEM = "urn:ketaclinic:resource"

_REST = coding(AUDIT_EVENT_TYPE, "rest", "RESTful Operation")
_TYPE: dict[AuditAction, tuple[Json, Json | None, str]] = {
    AuditAction.READ: (_REST, coding(RESTFUL_INTERACTION, "read", "read"), "R"),
    AuditAction.CREATE: (_REST, coding(RESTFUL_INTERACTION, "create", "create"), "C"),
    AuditAction.UPDATE: (_REST, coding(RESTFUL_INTERACTION, "update", "update"), "U"),
    AuditAction.DELETE: (_REST, coding(RESTFUL_INTERACTION, "delete", "delete"), "D"),
    AuditAction.DENIED: (_REST, coding(RESTFUL_INTERACTION, "read", "read"), "R"),
    AuditAction.EXPORT: (coding(DICOM, "110106", "Export"), None, "R"),
    AuditAction.LOGIN: (
        coding(DICOM, "110114", "User Authentication"),
        coding(DICOM, "110122", "Login"),
        "E",
    ),
    AuditAction.LOGIN_FAILED: (
        coding(DICOM, "110114", "User Authentication"),
        coding(DICOM, "110122", "Login"),
        "E",
    ),
    AuditAction.LOGOUT: (
        coding(DICOM, "110114", "User Authentication"),
        coding(DICOM, "110123", "Logout"),
        "E",
    ),
}
_OUTCOME = {
    AuditOutcome.OK: "0",
    AuditOutcome.DENIED: "4",
    AuditOutcome.NOT_FOUND: "4",
    AuditOutcome.ERROR: "8",
}


def audit_event_id(entry: AuditEntry) -> str:
    return fhir_id("audit", entry.seq)


def audit_event(entry: AuditEntry, patient_ref: str | None) -> Json:
    """The AuditEvent of one entry. ``patient_ref`` is the Patient resource id of the entry's
    patient when that patient is exported alongside, else the patient entity is left out (an
    internal id is not a reference a recipient could resolve)."""
    rec = entry.record
    event_type, subtype, action = _TYPE[rec.action]
    failed = rec.outcome is not AuditOutcome.OK or rec.action is AuditAction.LOGIN_FAILED
    outcome = _OUTCOME[rec.outcome] if rec.action is not AuditAction.LOGIN_FAILED else "4"
    entities: list[Json] = []
    if patient_ref is not None:
        entities.append(
            {
                "what": ref("Patient", patient_ref),
                "type": coding(AUDIT_ENTITY_TYPE, "1", "Person"),
                "role": coding(OBJECT_ROLE, "1", "Patient"),
            }
        )
    entities.append(
        prune(
            {
                "what": prune(
                    {
                        "identifier": prune(
                            {
                                "system": f"{RESOURCE_SYSTEM}:{rec.resource}",
                                "value": rec.resource_id or None,
                            }
                        ),
                        "display": rec.resource,
                    }
                ),
                "type": coding(AUDIT_ENTITY_TYPE, "2", "System Object"),
                "description": rec.detail or None,
                "detail": [
                    {"type": "chain-hash", "valueString": entry.hash},
                    {"type": "chain-seq", "valueString": str(entry.seq)},
                ],
            }
        )
    )
    return prune(
        {
            "resourceType": "AuditEvent",
            "id": audit_event_id(entry),
            "type": event_type,
            "subtype": [subtype] if subtype else None,
            "action": action,
            "recorded": instant(entry.at),
            "outcome": outcome,
            "outcomeDesc": (rec.detail or rec.outcome.value) if failed else None,
            "agent": [_agent(entry)],
            "source": {
                "observer": {"display": "ketaclinic"},
                "type": [coding(SECURITY_SOURCE_TYPE, "4", "Application Server")],
            },
            "entity": entities,
        }
    )


def _agent(entry: AuditEntry) -> Json:
    rec = entry.record
    if rec.username:
        who: Json = {
            "identifier": {"system": STAFF_SYSTEM, "value": rec.username},
            "display": f"{rec.username} ({rec.role})" if rec.role else rec.username,
        }
    elif rec.role == "device":
        who = {"identifier": {"system": DEVICE_SYSTEM, "value": rec.client}, "display": "monitor"}
    else:
        who = {"display": rec.client or "ketaclinic"}
    agent: Json = {"who": who, "requestor": bool(rec.username)}
    if rec.client and rec.role != "device":
        agent["network"] = {"address": rec.client, "type": network_type(rec.client)}
    return agent
