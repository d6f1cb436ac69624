"""FHIR resources for the core record: Organization, Location (site and chair), Patient, body
measurements, vital signs, the monitors that sent readings (Device) and where those readings
came from (Provenance).

Vital signs follow the FHIR R4 vital-signs profile [cited: FHIR R4 vitals, REFERENCE.md §9]:
systolic and diastolic readings taken together become one blood-pressure panel (85354-9) with
components 8480-6 and 8462-4; SpO2 carries 2708-6 and 59408-5 (US Core); weight, height and BMI
come from the body measurements, BMI derived from the other two. A reading that came from a
bedside monitor keeps the monitor's IEEE 11073 MDC code as an extra coding, names the Device, and
is the target of a Provenance for its HL7 message.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections import defaultdict
from collections.abc import Iterator

from ketaclinic.adapters.fhir.build import (
    Json,
    fhir_id,
    instant,
    prune,
    quantity,
    ref,
    staff_ref,
)
from ketaclinic.adapters.fhir.codes import (
    BMI,
    BODY_HEIGHT,
    BODY_WEIGHT,
    BP_DIASTOLIC,
    BP_PANEL,
    BP_SYSTOLIC,
    CHAIR_SYSTEM,
    DATA_ABSENT,
    DEVICE_SYSTEM,
    HL7_CONTROL_ID_SYSTEM,
    MRN_SYSTEM,
    PROVENANCE_AGENT,
    SITE_SYSTEM,
    VITAL_CODES,
    VITAL_SIGNS_CATEGORY,
    Concept,
    coding,
    concept,
    mdc_coding,
    unverified_note,
)
from ketaclinic.domain.people import BodyMeasurement, Patient, Site
from ketaclinic.domain.vitals import VitalKind, VitalSource
from ketaclinic.services.interop_records import MonitorOrigin, PatientRecord, VitalRow

ORGANISATION_ID = "org"
PROFILES = "http://hl7.org/fhir/StructureDefinition/"
_PROFILE_OF = {
    "bp_panel": "bp",
    "heart_rate": "heartrate",
    "spo2": "oxygensat",
    "respiratory_rate": "resprate",
    "body_weight": "bodyweight",
    "body_height": "bodyheight",
    "bmi": "bmi",
}
_MR_TYPE = {"coding": [coding("http://terminology.hl7.org/CodeSystem/v2-0203", "MR")]}


def patient_id(patient: Patient) -> str:
    return fhir_id("pat", patient.id)


def site_id(site: Site) -> str:
    return fhir_id("site", site.code)


def chair_id(chair_code: str) -> str:
    return fhir_id("chair", chair_code)


def encounter_id(session_id: int) -> str:
    return fhir_id("enc", session_id)


def organization(name: str) -> Json:
    return {"resourceType": "Organization", "id": ORGANISATION_ID, "name": name or "ketaclinic"}


def site_location(site: Site) -> Json:
    location: Json = {
        "resourceType": "Location",
        "id": site_id(site),
        "identifier": [{"system": SITE_SYSTEM, "value": site.code}],
        "status": "active",
        "name": site.name,
    }
    if site.phone:  # the number the site's patients call (Location.telecom, a ContactPoint)
        location["telecom"] = [{"system": "phone", "value": site.phone, "use": "work"}]
    location["managingOrganization"] = ref("Organization", ORGANISATION_ID)
    return location


def chair_location(site: Site, chair_code: str) -> Json:
    return {
        "resourceType": "Location",
        "id": chair_id(chair_code),
        "identifier": [{"system": CHAIR_SYSTEM, "value": chair_code}],
        "status": "active",
        "name": f"Infusion chair {chair_code}",
        "partOf": ref("Location", site_id(site)),
        "managingOrganization": ref("Organization", ORGANISATION_ID),
    }


def patient(p: Patient) -> Json:
    telecom = []
    if p.phone:
        telecom.append({"system": "phone", "value": p.phone})
    if p.email:
        telecom.append({"system": "email", "value": p.email})
    return prune(
        {
            "resourceType": "Patient",
            "id": patient_id(p),
            "identifier": [
                {"use": "usual", "type": _MR_TYPE, "system": MRN_SYSTEM, "value": p.mrn}
            ],
            "active": True,
            "name": [{"use": "official", "family": p.family_name, "given": [p.given_name]}],
            "telecom": telecom,
            "gender": p.sex.value,
            "birthDate": p.birth_date.isoformat(),
            "communication": [
                {
                    "language": {
                        "coding": [coding("urn:ietf:bcp:47", p.preferred_language)],
                        "text": p.preferred_language,
                    },
                    "preferred": True,
                }
            ],
            "managingOrganization": ref("Organization", ORGANISATION_ID),
        }
    )


def _meta(c: Concept) -> Json | None:
    key = _PROFILE_OF.get(c.local_code)
    if key is None or not c.verified:
        return None
    return {"profile": [PROFILES + key]}


def _observation(
    obs_id: str, c: Concept, subject: str, at: str, extra_codings: list[Json] | None = None
) -> Json:
    return prune(
        {
            "resourceType": "Observation",
            "id": obs_id,
            "meta": _meta(c),
            "status": "final",
            "category": VITAL_SIGNS_CATEGORY,
            "code": concept(c, extra_codings),
            "subject": ref("Patient", subject),
            "effectiveDateTime": at,
            "note": unverified_note(c),
        }
    )


def measurements(record: PatientRecord) -> Iterator[Json]:
    """Weight, height and BMI Observations for each body measurement."""
    subject = patient_id(record.patient)
    for m in record.measurements:
        yield from _measurement(m, subject, record.username(m.recorded_by))


def _measurement(m: BodyMeasurement, subject: str, recorded_by: str | None) -> Iterator[Json]:
    at = instant(m.measured_at)
    performer = staff_ref(recorded_by)
    weight = _observation(fhir_id("weight", m.id), BODY_WEIGHT, subject, at)
    weight["valueQuantity"] = quantity(m.weight_kg, "kg")
    if performer:
        weight["performer"] = [performer]
    yield weight
    if m.height_cm is None:
        return
    height = _observation(fhir_id("height", m.id), BODY_HEIGHT, subject, at)
    height["valueQuantity"] = quantity(m.height_cm, "cm")
    if performer:
        height["performer"] = [performer]
    yield height
    bmi_value = m.bmi
    if bmi_value is not None:
        bmi = _observation(fhir_id("bmi", m.id), BMI, subject, at)
        # Derived from the two measurements above, to one decimal as charts show it.
        bmi["valueQuantity"] = quantity(bmi_value, "kg/m2", digits=1)
        bmi["derivedFrom"] = [ref("Observation", weight["id"]), ref("Observation", height["id"])]
        yield bmi


def device_id(origin: MonitorOrigin) -> str:
    key = f"{origin.sending_application}^{origin.sending_facility}"
    return fhir_id("monitor", hashlib.sha256(key.encode()).hexdigest()[:16])


def device(origin: MonitorOrigin) -> Json:
    return {
        "resourceType": "Device",
        "id": device_id(origin),
        "identifier": [
            {
                "system": DEVICE_SYSTEM,
                "value": f"{origin.sending_application}^{origin.sending_facility}",
            }
        ],
        "deviceName": [
            {"name": origin.sending_application or "bedside monitor", "type": "user-friendly-name"}
        ],
        "owner": ref("Organization", ORGANISATION_ID),
    }


def _vital_base(row: VitalRow, obs_id: str, c: Concept, subject: str, sessions: set[int]) -> Json:
    extra = mdc_coding(row.code) if row.source is VitalSource.MONITOR else []
    body = _observation(obs_id, c, subject, instant(row.observed_at), extra)
    body["issued"] = instant(row.recorded_at)
    if row.session_id is not None and row.session_id in sessions:
        body["encounter"] = ref("Encounter", encounter_id(row.session_id))
    if row.monitor is not None:
        body["device"] = ref("Device", device_id(row.monitor))
    notes = list(body.get("note", []))
    if row.flag:
        notes.append({"text": f"Stored with flag '{row.flag}'."})
    if notes:
        body["note"] = notes
    return body


def _pair_key(row: VitalRow) -> tuple[object, ...]:
    message = row.monitor.message_id if row.monitor else None
    return (row.observed_at, row.source, message, row.session_id)


def vitals(record: PatientRecord) -> Iterator[Json]:
    """Vital-sign Observations: one BP panel per systolic/diastolic pair, one per other reading."""
    subject = patient_id(record.patient)
    sessions = {s.id for s in record.sessions}
    pairs: dict[tuple[object, ...], dict[VitalKind, VitalRow]] = defaultdict(dict)
    for row in record.vitals:
        if row.kind in (VitalKind.BP_SYSTOLIC, VitalKind.BP_DIASTOLIC):
            slot = pairs[_pair_key(row)]
            if row.kind in slot:  # a second reading at the same instant gets its own panel
                pairs[(*_pair_key(row), row.id)][row.kind] = row
            else:
                slot[row.kind] = row
            continue
        code = VITAL_CODES[row.kind]
        body = _vital_base(row, fhir_id("vital", row.id), code.concept, subject, sessions)
        body["valueQuantity"] = quantity(row.value, code.ucum)
        yield body
    for slot in pairs.values():
        yield _bp_panel(slot, subject, sessions)


def _bp_panel(slot: dict[VitalKind, VitalRow], subject: str, sessions: set[int]) -> Json:
    first = slot.get(VitalKind.BP_SYSTOLIC) or slot[VitalKind.BP_DIASTOLIC]
    extra: list[Json] = []
    components = []
    for kind, c in ((VitalKind.BP_SYSTOLIC, BP_SYSTOLIC), (VitalKind.BP_DIASTOLIC, BP_DIASTOLIC)):
        row = slot.get(kind)
        component: Json = {"code": concept(c)}
        if row is None:
            # The profile needs both components; a missing one says why it is absent.
            component["dataAbsentReason"] = {"coding": [coding(DATA_ABSENT, "not-performed")]}
        else:
            component["valueQuantity"] = quantity(row.value, "mm[Hg]")
            if row.source is VitalSource.MONITOR:
                component["code"] = concept(c, mdc_coding(row.code))
        components.append(component)
    body = _vital_base(first, fhir_id("bp", first.id), BP_PANEL, subject, sessions)
    body["code"] = concept(BP_PANEL, extra)
    body["component"] = components
    return body


def monitor_provenance(record: PatientRecord, vital_observations: list[Json]) -> Iterator[Json]:
    """One Device per monitor and one Provenance per HL7 message, naming the Observations the
    message produced (``vital_observations`` as :func:`vitals` made them; a BP panel carries the
    id of its first reading)."""
    devices: dict[str, Json] = {}
    targets: dict[int, list[Json]] = defaultdict(list)
    origins: dict[int, MonitorOrigin] = {}
    emitted = {obs["id"] for obs in vital_observations if "device" in obs}
    for row in record.vitals:
        if row.monitor is None:
            continue
        origins[row.monitor.message_id] = row.monitor
        devices.setdefault(device_id(row.monitor), device(row.monitor))
        for candidate in (fhir_id("vital", row.id), fhir_id("bp", row.id)):
            if candidate in emitted:
                targets[row.monitor.message_id].append(ref("Observation", candidate))
    yield from devices.values()
    for message_id, origin in origins.items():
        if not targets[message_id]:
            continue
        yield provenance(message_id, origin, targets[message_id])


def provenance(message_id: int, origin: MonitorOrigin, targets: list[Json]) -> Json:
    return {
        "resourceType": "Provenance",
        "id": fhir_id("prov-msg", message_id),
        "target": targets,
        "occurredDateTime": instant(origin.message_time),
        "recorded": instant(origin.received_at),
        "agent": [
            {
                "type": {
                    "coding": [coding(PROVENANCE_AGENT, "performer", "Performer")],
                    "text": "bedside monitor",
                },
                "who": ref("Device", device_id(origin)),
            }
        ],
        "entity": [
            {
                "role": "source",
                "what": {
                    "identifier": {"system": HL7_CONTROL_ID_SYSTEM, "value": origin.control_id},
                    "display": "HL7 v2 ORU^R01 message (MSH-10 control id)",
                },
            }
        ],
    }


def network_type(client: str) -> str:
    """AuditEvent network type: ``2`` for an IP address, ``1`` for a machine name."""
    try:
        ipaddress.ip_address(client)
    except ValueError:
        return "1"
    return "2"
