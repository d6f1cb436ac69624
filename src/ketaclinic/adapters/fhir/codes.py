"""Code systems and codes of the FHIR export, each with where it comes from.

The rule (REFERENCE.md §9, issue 7): a standard code goes out only when REFERENCE.md marks it
*cited*; an *unverified* one goes out as a ketaclinic local code, with a note naming the standard
candidate, until the clinic's terminology review confirms it. :class:`Concept` carries both, and
:func:`coding` / :func:`concept` pick by provenance, so confirming a code is a one-line change of
its tag here.

Structural codes from FHIR's own value sets (observation category, encounter class, audit event
type, consent scope) are part of the FHIR R4B specification rather than clinical terminology;
they are tagged *design* with that source.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ketaclinic.domain.provenance import Provenance, Tag, cited, design, unverified
from ketaclinic.domain.vitals import VitalKind

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
MDC = "urn:iso:std:iso:11073:10101"
SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
AUDIT_EVENT_TYPE = "http://terminology.hl7.org/CodeSystem/audit-event-type"
RESTFUL_INTERACTION = "http://hl7.org/fhir/restful-interaction"
DICOM = "http://dicom.nema.org/resources/ontology/DCM"
SECURITY_SOURCE_TYPE = "http://terminology.hl7.org/CodeSystem/security-source-type"
PARTICIPATION_TYPE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
PROVENANCE_AGENT = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
DATA_ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
FLAG_CATEGORY = "http://terminology.hl7.org/CodeSystem/flag-category"
OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
AUDIT_ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"

VITALS_PROFILE = "http://hl7.org/fhir/StructureDefinition/vitalsigns"
MIN_VALUE_EXT = "http://hl7.org/fhir/StructureDefinition/minValue"
MAX_VALUE_EXT = "http://hl7.org/fhir/StructureDefinition/maxValue"
# R4B's Appointment has no element for when it was cancelled; R5 added
# Appointment.cancellationDate, carried here by FHIR's cross-version extension for that element.
CANCELLATION_DATE_EXT = (
    "http://hl7.org/fhir/5.0/StructureDefinition/extension-Appointment.cancellationDate"
)

# ketaclinic's own code systems and identifier namespaces (URNs: they name, they do not resolve).
LOCAL = "urn:ketaclinic:code"
LOCAL_VITAL = "urn:ketaclinic:vital"
LOCAL_ALERT = "urn:ketaclinic:alert-rule"
LOCAL_ALERT_TIER = "urn:ketaclinic:alert-tier"
MRN_SYSTEM = "urn:ketaclinic:mrn"
STAFF_SYSTEM = "urn:ketaclinic:staff"
SITE_SYSTEM = "urn:ketaclinic:site"
CHAIR_SYSTEM = "urn:ketaclinic:chair"
DEVICE_SYSTEM = "urn:ketaclinic:monitor"
HL7_CONTROL_ID_SYSTEM = "urn:ketaclinic:hl7-control-id"
QUESTIONNAIRE_BASE = "urn:ketaclinic:questionnaire"
CONSENT_POLICY_BASE = "urn:ketaclinic:consent-text"

FHIR_SPEC = design("FHIR R4B core value set")


@dataclass(frozen=True, slots=True)
class Concept:
    """A clinical concept: its local code, and the standard code once REFERENCE.md cites it.

    ``standard`` is used only when ``provenance`` is *cited*; otherwise the local code goes out
    with ``note`` naming the candidate (REFERENCE.md §9)."""

    local_code: str
    display: str
    provenance: Provenance
    standard: tuple[tuple[str, str], ...] = ()  # (system, code) in order of preference
    note: str = ""
    local_system: str = LOCAL

    @property
    def verified(self) -> bool:
        return self.provenance.tag is Tag.CITED and bool(self.standard)


def coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"system": system, "code": code}
    if display:
        body["display"] = display
    return body


def concept(c: Concept, extra: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A CodeableConcept: the cited standard codings, or the local coding when unverified."""
    if c.verified:
        codings = [coding(system, code, c.display) for system, code in c.standard]
    else:
        codings = [coding(c.local_system, c.local_code, c.display)]
    return {"coding": codings + (extra or []), "text": c.display}


def unverified_note(c: Concept) -> list[dict[str, str]]:
    """An Annotation list saying why a local code stands where a standard one is expected."""
    return [] if c.verified or not c.note else [{"text": c.note}]


PTSD = Concept(
    "ptsd",
    "Posttraumatic stress disorder",
    unverified("several implementations agree; confirm against CMS", "§9"),
    standard=((SNOMED, "47505003"), (ICD10CM, "F43.10")),
    note=(
        "Local code. Candidate standard codes SNOMED CT 47505003 and ICD-10-CM F43.10/F43.11/"
        "F43.12 are unverified (REFERENCE.md §9) and are sent once the clinic confirms them."
    ),
)

KETAMINE = Concept(
    "ketamine",
    "Ketamine hydrochloride injection (IV infusion)",
    unverified("RxNorm ingredient 6130", "§9"),
    standard=((RXNORM, "6130"),),
    note=(
        "Local code. RxNorm ingredient RxCUI 6130 is unverified (REFERENCE.md §9); the product "
        "RxCUIs 238082-238084 are cited but their strength mapping is not established."
    ),
)

INFUSION_ENCOUNTER = Concept(
    "ketamine-infusion-visit", "Ketamine infusion visit", design("ketaclinic local code")
)
CONSENT_CATEGORY = Concept(
    "infusion-treatment-consent",
    "Consent to ketamine infusion treatment",
    design("ketaclinic local code"),
)


@dataclass(frozen=True, slots=True)
class VitalCode:
    """How one vital kind is coded on export (FHIR R4 vital-signs profile codes where cited)."""

    concept: Concept
    ucum: str
    extra_loinc: tuple[str, ...] = ()  # SpO2 carries 2708-6 and 59408-5 (US Core)


_VITALS = cited("FHIR R4 vitals", "§9")
_SPO2 = cited("FHIR R4 vitals; US Core", "§9")

VITAL_CODES: dict[VitalKind, VitalCode] = {
    VitalKind.HEART_RATE: VitalCode(
        Concept(
            "heart_rate", "Heart rate", _VITALS, ((LOINC, "8867-4"),), local_system=LOCAL_VITAL
        ),
        "/min",
    ),
    VitalKind.SPO2: VitalCode(
        Concept(
            "spo2",
            "Oxygen saturation in arterial blood by pulse oximetry",
            _SPO2,
            ((LOINC, "2708-6"), (LOINC, "59408-5")),
            local_system=LOCAL_VITAL,
        ),
        "%",
    ),
    VitalKind.RESPIRATORY_RATE: VitalCode(
        Concept(
            "respiratory_rate",
            "Respiratory rate",
            _VITALS,
            ((LOINC, "9279-1"),),
            local_system=LOCAL_VITAL,
        ),
        "/min",
    ),
    # Not in REFERENCE.md §9: local codes until the clinic confirms a standard one.
    VitalKind.BP_MEAN: VitalCode(
        Concept(
            "bp_mean",
            "Mean blood pressure",
            design("ketaclinic local code"),
            note="Local code: REFERENCE.md §9 lists no code for mean blood pressure.",
            local_system=LOCAL_VITAL,
        ),
        "mm[Hg]",
    ),
    VitalKind.TEMPERATURE: VitalCode(
        Concept(
            "temperature",
            "Body temperature",
            design("ketaclinic local code"),
            note="Local code: REFERENCE.md §9 lists no code for body temperature.",
            local_system=LOCAL_VITAL,
        ),
        "Cel",
    ),
}

BP_PANEL = Concept(
    "bp_panel", "Blood pressure panel", _VITALS, ((LOINC, "85354-9"),), local_system=LOCAL_VITAL
)
BP_SYSTOLIC = Concept(
    "bp_systolic",
    "Systolic blood pressure",
    _VITALS,
    ((LOINC, "8480-6"),),
    local_system=LOCAL_VITAL,
)
BP_DIASTOLIC = Concept(
    "bp_diastolic",
    "Diastolic blood pressure",
    _VITALS,
    ((LOINC, "8462-4"),),
    local_system=LOCAL_VITAL,
)
BODY_WEIGHT = Concept(
    "body_weight", "Body weight", _VITALS, ((LOINC, "29463-7"),), local_system=LOCAL_VITAL
)
BODY_HEIGHT = Concept(
    "body_height", "Body height", _VITALS, ((LOINC, "8302-2"),), local_system=LOCAL_VITAL
)
BMI = Concept("bmi", "Body mass index", _VITALS, ((LOINC, "39156-5"),), local_system=LOCAL_VITAL)

# IEEE 11073 MDC reference ids of the codes DESIGN.md §4.4 accepts from monitors.
MDC_NAMES: dict[str, str] = {
    "150021": "MDC_PRESS_BLD_NONINV_SYS",
    "150022": "MDC_PRESS_BLD_NONINV_DIA",
    "150023": "MDC_PRESS_BLD_NONINV_MEAN",
    "147842": "MDC_ECG_HEART_RATE",
    "149530": "MDC_PULS_OXIM_PULS_RATE",
    "150456": "MDC_PULS_OXIM_SAT_O2",
    "151562": "MDC_RESP_RATE",
    "151578": "MDC_TTHOR_RESP_RATE",
    "150344": "MDC_TEMP",
}


def mdc_coding(code: str) -> list[dict[str, Any]]:
    """The monitor's own MDC coding, kept beside the LOINC code when the reading had one."""
    name = MDC_NAMES.get(code)
    return [coding(MDC, code, name)] if name else []


def category(code: str, display: str) -> list[dict[str, Any]]:
    return [{"coding": [coding(OBSERVATION_CATEGORY, code, display)], "text": display}]


VITAL_SIGNS_CATEGORY = category("vital-signs", "Vital Signs")
SURVEY_CATEGORY = category("survey", "Survey")
