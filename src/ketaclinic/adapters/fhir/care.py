"""FHIR resources for the care record: Condition (PTSD), Questionnaire, QuestionnaireResponse
and the scored Observation of each instrument, Encounter per infusion session,
MedicationAdministration per administration period, Appointment per booked or cancelled visit,
Consent and Flag per chair alert.

Codes follow REFERENCE.md §9 through ``codes.py`` and each instrument's own definition: a code
marked verified there goes out as is; a local one carries its note (e.g. the PHQ-9 total goes
out as ``phq9.total`` with a note naming LOINC 44261-6). Questionnaires carry our own short
labels, never an instrument's official wording (REFERENCE.md §10).
"""

from __future__ import annotations

from collections.abc import Iterator

from ketaclinic.adapters.fhir.build import Json, fhir_id, instant, prune, quantity, ref, staff_ref
from ketaclinic.adapters.fhir.codes import (
    ACT_CODE,
    CANCELLATION_DATE_EXT,
    CONDITION_CATEGORY,
    CONDITION_CLINICAL,
    CONDITION_VERIFICATION,
    CONSENT_CATEGORY,
    CONSENT_POLICY_BASE,
    CONSENT_SCOPE,
    FLAG_CATEGORY,
    INFUSION_ENCOUNTER,
    KETAMINE,
    LOCAL,
    LOCAL_ALERT,
    LOCAL_ALERT_TIER,
    MAX_VALUE_EXT,
    MIN_VALUE_EXT,
    PTSD,
    QUESTIONNAIRE_BASE,
    SURVEY_CATEGORY,
    coding,
    concept,
    unverified_note,
)
from ketaclinic.adapters.fhir.core import ORGANISATION_ID, chair_id, encounter_id, patient_id
from ketaclinic.domain.errors import NotFound
from ketaclinic.domain.instruments import Instrument, get_instrument
from ketaclinic.domain.instruments.model import Code
from ketaclinic.services.interop_records import (
    AdministrationPeriod,
    PatientRecord,
    ResponseRow,
    SeriesRow,
    SessionRow,
    VisitRow,
)

SEVERITY_SYSTEM = f"{LOCAL}:severity"
FLAG_SYSTEM = f"{LOCAL}:score-flag"
# PCL-5 flags that support a provisional PTSD diagnosis (instrument definitions, §8.1).
PTSD_EVIDENCE_FLAGS = frozenset({"dsm5_cluster_rule_met", "probable_ptsd_cut_point"})

_ENCOUNTER_STATUS = {
    "checked_in": "arrived",
    "pre_infusion_checks": "arrived",
    "running": "in-progress",
    "paused": "in-progress",
    "stopped": "in-progress",
    "completed": "in-progress",
    "observation": "in-progress",
    "discharged": "finished",
    "cancelled": "cancelled",
}


def _instrument(instrument_id: str) -> Instrument | None:
    try:
        return get_instrument(instrument_id)
    except NotFound:
        return None


def _code_coding(code: Code) -> Json:
    return coding(code.system, code.code, code.display)


def _code_concept(code: Code | None, fallback: str) -> Json:
    if code is None:
        return {"coding": [coding(f"{LOCAL}:instrument", fallback)], "text": fallback}
    return {"coding": [_code_coding(code)], "text": code.display}


def questionnaire_url(instrument_id: str) -> str:
    return f"{QUESTIONNAIRE_BASE}:{instrument_id}"


def questionnaire_id(instrument_id: str) -> str:
    return fhir_id("q", instrument_id)


def questionnaire(instrument_id: str) -> Json:
    """The instrument's structure: items by neutral id with our own labels and ranges."""
    ins = _instrument(instrument_id)
    if ins is None:
        return {
            "resourceType": "Questionnaire",
            "id": questionnaire_id(instrument_id),
            "url": questionnaire_url(instrument_id),
            "status": "unknown",
            "title": instrument_id,
        }
    panel = ins.code("panel")
    description = ins.labels_note
    if panel is not None and panel.note:
        description += " " + panel.note
    items = []
    for item in ins.items:
        entry: Json = {
            "linkId": item.id,
            "text": item.label.en,
            "type": "integer",
            "required": item.asked_if is None,
            "extension": [
                {"url": MIN_VALUE_EXT, "valueInteger": item.min_value},
                {"url": MAX_VALUE_EXT, "valueInteger": item.max_value},
            ],
        }
        if item.code is not None:
            entry["code"] = [_code_coding(item.code)]
        if item.asked_if is not None:
            entry["enableWhen"] = [
                {
                    "question": item.asked_if.item_id,
                    "operator": "=",
                    "answerInteger": item.asked_if.equals,
                }
            ]
        items.append(entry)
    return prune(
        {
            "resourceType": "Questionnaire",
            "id": questionnaire_id(ins.id),
            "url": questionnaire_url(ins.id),
            "version": ins.version,
            "title": ins.name,
            "status": "active",
            "subjectType": ["Patient"],
            "description": description,
            "code": [_code_coding(panel)] if panel is not None else None,
            "item": items,
        }
    )


def response_id(row: ResponseRow) -> str:
    return fhir_id("qr", row.id)


def score_id(row: ResponseRow) -> str:
    return fhir_id("score", row.id)


def responses(record: PatientRecord) -> Iterator[Json]:
    """A QuestionnaireResponse and its scored Observation for each completed instrument."""
    subject = patient_id(record.patient)
    for row in record.responses:
        ins = _instrument(row.instrument_id)
        order = ins.item_ids if ins is not None else tuple(sorted(row.answers))
        author = staff_ref(record.username(row.entered_by))
        yield prune(
            {
                "resourceType": "QuestionnaireResponse",
                "id": response_id(row),
                "language": row.language,
                "questionnaire": questionnaire_url(row.instrument_id),
                "status": "completed",
                "subject": ref("Patient", subject),
                "authored": instant(row.completed_at),
                "author": author,
                "source": ref("Patient", subject) if author is None else None,
                "item": [
                    {"linkId": item_id, "answer": [{"valueInteger": row.answers[item_id]}]}
                    for item_id in order
                    if item_id in row.answers
                ],
            }
        )
        yield _score(row, ins, subject)


def _score(row: ResponseRow, ins: Instrument | None, subject: str) -> Json:
    total_code = ins.code("total") if ins is not None else None
    notes = [{"text": total_code.note}] if total_code is not None and total_code.note else []
    interpretation: list[Json] = []
    if row.severity:
        interpretation.append(
            {"coding": [coding(SEVERITY_SYSTEM, row.severity)], "text": row.severity}
        )
    interpretation += [{"coding": [coding(FLAG_SYSTEM, f)], "text": f} for f in row.flags]
    components = []
    for key, value in sorted(row.subscales.items()):
        sub_code = ins.code(key) if ins is not None else None
        components.append(
            {
                "code": _code_concept(sub_code, f"{row.instrument_id}.{key}"),
                "valueInteger": value,
            }
        )
    body: Json = {
        "resourceType": "Observation",
        "id": score_id(row),
        "status": "final",
        "category": SURVEY_CATEGORY,
        "code": _code_concept(total_code, f"{row.instrument_id}.total"),
        "subject": ref("Patient", subject),
        "effectiveDateTime": instant(row.completed_at),
        "issued": instant(row.recorded_at),
        "derivedFrom": [ref("QuestionnaireResponse", response_id(row))],
        "interpretation": interpretation,
        "component": components,
        "note": notes,
    }
    if row.total is not None:
        body["valueInteger"] = row.total
    else:
        # C-SSRS has no total: the clinician's risk level stands as the result.
        body["valueString"] = row.severity or "not scored"
    return prune(body)


def condition(record: PatientRecord) -> Iterator[Json]:
    """PTSD as the reason for treatment, once an intake was recorded. Provisional: ketaclinic
    records the referral diagnosis and PCL-5 screening, it does not diagnose (DESIGN.md §2)."""
    if not record.intakes:
        return
    first = record.intakes[0]
    evidence = [
        ref("Observation", score_id(r))
        for r in record.responses
        if r.instrument_id.startswith("pcl5") and PTSD_EVIDENCE_FLAGS & set(r.flags)
    ]
    yield prune(
        {
            "resourceType": "Condition",
            "id": fhir_id("ptsd", record.patient.id),
            "clinicalStatus": {"coding": [coding(CONDITION_CLINICAL, "active", "Active")]},
            "verificationStatus": {
                "coding": [coding(CONDITION_VERIFICATION, "provisional", "Provisional")]
            },
            "category": [
                {"coding": [coding(CONDITION_CATEGORY, "problem-list-item", "Problem List Item")]}
            ],
            "code": concept(PTSD),
            "subject": ref("Patient", patient_id(record.patient)),
            "recordedDate": instant(first.recorded_at),
            "recorder": staff_ref(record.username(first.recorded_by)),
            "evidence": [{"detail": evidence}] if evidence else None,
            "note": unverified_note(PTSD),
        }
    )


def encounters(record: PatientRecord) -> Iterator[Json]:
    visits = {v.id: v for s in record.series for v in s.visits}
    by_day = {(v.starts_at.date(), v.chair_code): v.id for v in visits.values()}
    for s in record.sessions:
        visit = by_day.get((s.checked_in_at.date(), s.chair_code))
        yield prune(
            {
                "resourceType": "Encounter",
                "id": encounter_id(s.id),
                "status": _ENCOUNTER_STATUS.get(s.state, "unknown"),
                "class": coding(ACT_CODE, "AMB", "ambulatory"),
                "type": [concept(INFUSION_ENCOUNTER)],
                "subject": ref("Patient", patient_id(record.patient)),
                "appointment": [ref("Appointment", fhir_id("appt", visit))] if visit else None,
                "period": prune(
                    {
                        "start": instant(s.checked_in_at),
                        "end": instant(s.closed_at) if s.closed_at else None,
                    }
                ),
                "location": [{"location": ref("Location", chair_id(s.chair_code))}]
                if s.chair_code
                else None,
                "serviceProvider": ref("Organization", ORGANISATION_ID),
            }
        )


def _medication(concentration_mg_per_ml: float | None, lot: str) -> Json:
    """The bag as a contained Medication: ketamine, its concentration and lot number."""
    ingredient = None
    if concentration_mg_per_ml is not None:
        ingredient = [
            {
                "itemCodeableConcept": concept(KETAMINE),
                "strength": {
                    "numerator": quantity(concentration_mg_per_ml, "mg"),
                    "denominator": quantity(1, "mL"),
                },
            }
        ]
    return prune(
        {
            "resourceType": "Medication",
            "id": "med",
            "code": concept(KETAMINE),
            "ingredient": ingredient,
            "batch": {"lotNumber": lot} if lot else None,
        }
    )


def administrations(record: PatientRecord) -> Iterator[Json]:
    """One MedicationAdministration per constant-rate period, and one per bolus."""
    subject = patient_id(record.patient)
    sessions: dict[int, SessionRow] = {s.id: s for s in record.sessions}
    for period in record.administrations:
        yield _period(period, subject, period.session_id in sessions)
    for n, bolus in enumerate(record.boluses, start=1):
        yield prune(
            {
                "resourceType": "MedicationAdministration",
                "id": fhir_id("ma", bolus.session_id, f"b{n}"),
                "contained": [_medication(None, bolus.lot)],
                "status": "completed",
                "medicationReference": {"reference": "#med"},
                "subject": ref("Patient", subject),
                "context": ref("Encounter", encounter_id(bolus.session_id))
                if bolus.session_id in sessions
                else None,
                "effectiveDateTime": instant(bolus.at),
                "dosage": {"text": "bolus", "dose": quantity(bolus.dose_mg, "mg", digits=3)},
                "note": unverified_note(KETAMINE),
            }
        )


def _period(period: AdministrationPeriod, subject: str, has_session: bool) -> Json:
    dosage: Json = {
        "text": f"IV infusion at {period.rate_ml_per_h:.4g} mL/h",
        "route": {"text": "intravenous"},
        "rateQuantity": quantity(period.rate_ml_per_h, "mL/h", digits=3),
    }
    if period.dose_mg is not None:
        dosage["dose"] = quantity(period.dose_mg, "mg", digits=3)
    return prune(
        {
            "resourceType": "MedicationAdministration",
            "id": fhir_id("ma", period.session_id, period.index),
            "contained": [_medication(period.concentration_mg_per_ml, period.lot)],
            "status": period.status,
            "medicationReference": {"reference": "#med"},
            "subject": ref("Patient", subject),
            "context": ref("Encounter", encounter_id(period.session_id)) if has_session else None,
            "effectivePeriod": prune(
                {
                    "start": instant(period.start),
                    "end": instant(period.end) if period.end else None,
                }
            ),
            "dosage": dosage,
            "note": unverified_note(KETAMINE),
        }
    )


def appointments(record: PatientRecord) -> Iterator[Json]:
    """Each series' booked visits, then its cancelled ones.

    A booked visit is ``fulfilled`` once an infusion session on its day and chair exists;
    otherwise ``booked`` (a missed visit is not recorded as such, so it is not claimed). A
    cancelled visit is ``cancelled`` with the front desk's reason as ``cancelationReason``, the
    start and end it was booked for, and when it was cancelled. It keeps the id it had while
    booked, ``appt-{id}``, so a receiving system that had the booking sees it change to
    cancelled (the schedule never gives a cancelled visit's id to another visit).
    """
    attended = {(s.checked_in_at.date(), s.chair_code) for s in record.sessions}
    subject = patient_id(record.patient)

    def appointment(visit: VisitRow, series: SeriesRow, resource_id: str, status: str) -> Json:
        return {
            "resourceType": "Appointment",
            "id": resource_id,
            "status": status,
            "serviceType": [concept(INFUSION_ENCOUNTER)],
            "description": (
                f"Infusion {visit.number} of series {series.id} ({series.protocol_id})"
            ),
            "start": instant(visit.starts_at),
            "end": instant(visit.ends_at),
            "participant": [
                {"actor": ref("Patient", subject), "status": "accepted"},
                {"actor": ref("Location", chair_id(visit.chair_code)), "status": "accepted"},
            ],
        }

    for series in record.series:
        for v in series.visits:
            status = "fulfilled" if (v.starts_at.date(), v.chair_code) in attended else "booked"
            yield appointment(v, series, fhir_id("appt", v.id), status)
        for c in series.cancelled:
            body = appointment(c.visit, series, fhir_id("appt", c.visit.id), "cancelled")
            body["extension"] = [
                {"url": CANCELLATION_DATE_EXT, "valueDateTime": instant(c.cancelled_at)}
            ]
            body["cancelationReason"] = {"text": c.reason}
            yield body


def consents(record: PatientRecord) -> Iterator[Json]:
    subject = patient_id(record.patient)
    for c in record.consents:
        yield {
            "resourceType": "Consent",
            "id": fhir_id("consent", c.id),
            "language": c.language,
            "status": "active",
            "scope": {"coding": [coding(CONSENT_SCOPE, "treatment", "Treatment")]},
            "category": [concept(CONSENT_CATEGORY)],
            "patient": ref("Patient", subject),
            "dateTime": instant(c.signed_at),
            "performer": [ref("Patient", subject)],
            "organization": [ref("Organization", ORGANISATION_ID)],
            "policy": [{"uri": f"{CONSENT_POLICY_BASE}:{c.version}"}],
        }


def flags(record: PatientRecord) -> Iterator[Json]:
    """A Flag per chair alert; resolved alerts are inactive with the period closed."""
    subject = patient_id(record.patient)
    sessions = {s.id for s in record.sessions}
    for a in record.alerts:
        yield prune(
            {
                "resourceType": "Flag",
                "id": fhir_id("alert", a.id),
                "status": "inactive" if a.state == "resolved" else "active",
                "category": [{"coding": [coding(FLAG_CATEGORY, "clinical", "Clinical")]}],
                "code": {
                    "coding": [
                        coding(LOCAL_ALERT, a.rule, a.label),
                        coding(LOCAL_ALERT_TIER, a.tier),
                    ],
                    "text": f"{a.label}: {a.value:g} {a.unit} ({a.tier}, {a.state})",
                },
                "subject": ref("Patient", subject),
                "period": prune(
                    {
                        "start": instant(a.raised_at),
                        "end": instant(a.resolved_at) if a.resolved_at else None,
                    }
                ),
                "encounter": ref("Encounter", encounter_id(a.session_id))
                if a.session_id in sessions
                else None,
            }
        )


def dissociation(record: PatientRecord) -> Iterator[Json]:
    """A scored Observation per CADSS-6 charted at the chair: the total, each item's value by
    its neutral id (restricted instrument: numbers only, REFERENCE.md §10), the time point."""
    ins = _instrument("cadss6")
    total_code = ins.code("total") if ins is not None else None
    sessions = {s.id for s in record.sessions}
    for row in record.dissociation:
        yield prune(
            {
                "resourceType": "Observation",
                "id": fhir_id("cadss", row.id),
                "status": "final",
                "category": SURVEY_CATEGORY,
                "code": _code_concept(total_code, "cadss6.total"),
                "subject": ref("Patient", patient_id(record.patient)),
                "encounter": ref("Encounter", encounter_id(row.session_id))
                if row.session_id in sessions
                else None,
                "effectiveDateTime": instant(row.scored_at),
                "performer": [p] if (p := staff_ref(record.username(row.scored_by))) else None,
                "valueInteger": row.total,
                "component": [
                    {
                        "code": {"coding": [coding(f"{LOCAL}:instrument", item)], "text": item},
                        "valueInteger": value,
                    }
                    for item, value in sorted(row.items.items())
                ],
                "note": [{"text": f"Time point: {row.timepoint}"}],
            }
        )
