"""The FHIR mapping of one full patient record: every resource validates, the Bundle
round-trips, every reference resolves, and codes follow REFERENCE.md §9 (cited codes as
standard codes, unverified ones only as local codes with a note)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle

from ketaclinic.adapters.fhir.bundle import patient_bundle, to_json, unresolved_references
from ketaclinic.adapters.fhir.codes import ICD10CM, LOINC, MDC, RXNORM, SNOMED
from ketaclinic.services.interop_records import PatientRecord

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)


def bundle_of(record: PatientRecord) -> dict[str, Any]:
    return json.loads(to_json(patient_bundle(record, NOW)))


def of_type(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def by_id(bundle: dict[str, Any], resource_id: str) -> dict[str, Any]:
    return next(e["resource"] for e in bundle["entry"] if e["resource"]["id"] == resource_id)


def codes(node: Any) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    if isinstance(node, dict):
        if "system" in node and "code" in node:
            found.add((node["system"], node["code"]))
        for value in node.values():
            found |= codes(value)
    elif isinstance(node, list):
        for item in node:
            found |= codes(item)
    return found


def test_the_bundle_parses_back_and_reserialises_identically(record: PatientRecord) -> None:
    text = to_json(patient_bundle(record, NOW))
    again = Bundle.model_validate_json(text)
    assert to_json(again) == text


def test_every_reference_resolves_inside_the_bundle(record: PatientRecord) -> None:
    assert unresolved_references(bundle_of(record)) == []


def test_every_section_becomes_its_resource_type(record: PatientRecord) -> None:
    kinds = {e["resource"]["resourceType"] for e in bundle_of(record)["entry"]}
    assert kinds == {
        "Organization",
        "Location",
        "Patient",
        "Condition",
        "Observation",
        "Device",
        "Provenance",
        "Questionnaire",
        "QuestionnaireResponse",
        "Encounter",
        "MedicationAdministration",
        "Appointment",
        "Consent",
        "Flag",
        "AuditEvent",
    }


def test_a_missing_reference_is_reported(record: PatientRecord) -> None:
    bundle = bundle_of(record)
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"]["resourceType"] != "Encounter"]
    missing = unresolved_references(bundle)
    assert any(m.endswith("Encounter/enc-90") for m in missing)


def test_patient_carries_mrn_demographics_and_language(record: PatientRecord) -> None:
    (patient,) = of_type(bundle_of(record), "Patient")
    assert patient["identifier"][0] == {
        "use": "usual",
        "type": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]
        },
        "system": "urn:ketaclinic:mrn",
        "value": "TEST-0012",
    }
    assert patient["gender"] == "female"
    assert patient["birthDate"] == "1984-05-17"
    assert patient["communication"][0]["language"]["coding"][0]["code"] == "es"
    assert patient["managingOrganization"] == {"reference": "Organization/org"}


def test_blood_pressure_taken_together_is_one_panel_with_two_components(
    record: PatientRecord,
) -> None:
    panel = by_id(bundle_of(record), "bp-1")
    assert codes(panel["code"]) == {(LOINC, "85354-9")}
    assert panel["meta"]["profile"] == ["http://hl7.org/fhir/StructureDefinition/bp"]
    systolic, diastolic = panel["component"]
    assert codes(systolic["code"]) == {(LOINC, "8480-6")}
    assert systolic["valueQuantity"]["value"] == 128
    assert codes(diastolic["code"]) == {(LOINC, "8462-4")}
    assert diastolic["valueQuantity"] == {
        "value": 82.0,
        "unit": "mm[Hg]",
        "system": "http://unitsofmeasure.org",
        "code": "mm[Hg]",
    }
    assert "device" not in panel


def test_monitor_readings_keep_their_mdc_code_and_name_the_device(record: PatientRecord) -> None:
    bundle = bundle_of(record)
    panel = by_id(bundle, "bp-3")
    assert (MDC, "150021") in codes(panel["component"][0]["code"])
    assert (MDC, "150022") in codes(panel["component"][1]["code"])
    heart = by_id(bundle, "vital-5")
    assert codes(heart["code"]) == {(LOINC, "8867-4"), (MDC, "147842")}
    device = by_id(bundle, heart["device"]["reference"].split("/")[1])
    assert device["resourceType"] == "Device"
    assert heart["encounter"] == {"reference": "Encounter/enc-90"}


def test_spo2_carries_both_loinc_codes(record: PatientRecord) -> None:
    spo2 = by_id(bundle_of(record), "vital-6")
    assert {(LOINC, "2708-6"), (LOINC, "59408-5")} <= codes(spo2["code"])
    assert spo2["valueQuantity"]["code"] == "%"
    assert spo2["meta"]["profile"] == ["http://hl7.org/fhir/StructureDefinition/oxygensat"]


@pytest.mark.parametrize(("obs_id", "local"), [("vital-8", "temperature"), ("vital-9", "bp_mean")])
def test_vitals_without_a_cited_code_go_out_as_local_codes_with_a_note(
    record: PatientRecord, obs_id: str, local: str
) -> None:
    obs = by_id(bundle_of(record), obs_id)
    assert ("urn:ketaclinic:vital", local) in codes(obs["code"])
    assert not any(system == LOINC for system, _ in codes(obs["code"]))
    assert "REFERENCE.md" in obs["note"][0]["text"]
    assert "meta" not in obs  # no vital-signs profile is claimed for a local code


def test_device_readings_have_a_provenance_for_their_message(record: PatientRecord) -> None:
    bundle = bundle_of(record)
    (prov,) = of_type(bundle, "Provenance")
    targets = {t["reference"] for t in prov["target"]}
    assert targets == {
        "Observation/bp-3",
        "Observation/vital-5",
        "Observation/vital-6",
        "Observation/vital-7",
        "Observation/vital-8",
        "Observation/vital-9",
    }
    assert prov["agent"][0]["who"]["reference"].startswith("Device/")
    assert prov["entity"][0]["what"]["identifier"]["value"] == "MSG-0001"


def test_weight_height_and_a_derived_bmi(record: PatientRecord) -> None:
    bundle = bundle_of(record)
    weight, height, bmi = (
        by_id(bundle, "weight-41"),
        by_id(bundle, "height-41"),
        by_id(bundle, "bmi-41"),
    )
    assert codes(weight["code"]) == {(LOINC, "29463-7")}
    assert codes(height["code"]) == {(LOINC, "8302-2")}
    assert codes(bmi["code"]) == {(LOINC, "39156-5")}
    # 70 kg / 1.65² = 25.71 → one decimal as charts show it
    assert bmi["valueQuantity"]["value"] == 25.7
    assert bmi["derivedFrom"] == [
        {"reference": "Observation/weight-41"},
        {"reference": "Observation/height-41"},
    ]
    assert weight["performer"][0]["identifier"]["value"] == "nurse.mia"
    # a measurement without a height has no height and no BMI
    ids = {o["id"] for o in of_type(bundle, "Observation")}
    assert "weight-42" in ids
    assert "height-42" not in ids
    assert "bmi-42" not in ids


def test_phq9_uses_the_cited_panel_and_item_codes_and_a_local_total(
    record: PatientRecord,
) -> None:
    bundle = bundle_of(record)
    questionnaire = by_id(bundle, "q-phq9")
    assert codes(questionnaire["code"]) == {(LOINC, "44249-1")}
    assert questionnaire["item"][0]["code"][0]["code"] == "44250-9"
    assert [i["linkId"] for i in questionnaire["item"]][-1] == "phq9_09"
    response = by_id(bundle, "qr-31")
    assert response["questionnaire"] == "urn:ketaclinic:questionnaire:phq9"
    assert response["item"][8] == {"linkId": "phq9_09", "answer": [{"valueInteger": 2}]}
    assert response["source"] == {"reference": "Patient/pat-12"}
    score = by_id(bundle, "score-31")
    assert score["valueInteger"] == 18
    assert codes(score["code"]) == {("urn:ketaclinic:instrument", "phq9.total")}
    assert "44261-6" in score["note"][0]["text"]
    assert score["derivedFrom"] == [{"reference": "QuestionnaireResponse/qr-31"}]
    assert {i["text"] for i in score["interpretation"]} == {
        "moderately_severe",
        "phq9_item9_positive",
    }


def test_pcl5_clusters_are_components_and_support_the_ptsd_condition(
    record: PatientRecord,
) -> None:
    bundle = bundle_of(record)
    score = by_id(bundle, "score-32")
    assert [c["valueInteger"] for c in score["component"]] == [15, 6, 21, 18]
    assert by_id(bundle, "qr-32")["author"]["identifier"]["value"] == "nurse.mia"
    (condition,) = of_type(bundle, "Condition")
    assert condition["evidence"] == [{"detail": [{"reference": "Observation/score-32"}]}]
    assert condition["verificationStatus"]["coding"][0]["code"] == "provisional"


def test_unverified_codes_never_go_out_as_standard_codes(record: PatientRecord) -> None:
    """REFERENCE.md §9: SNOMED 47505003, ICD-10-CM F43.1x, RxNorm 6130 and LOINC 44261-6 are
    unverified; they appear only in notes."""
    bundle = bundle_of(record)
    sent = codes(bundle)
    assert not {system for system, _ in sent} & {SNOMED, ICD10CM, RXNORM}
    assert (LOINC, "44261-6") not in sent
    (condition,) = of_type(bundle, "Condition")
    assert codes(condition["code"]) == {("urn:ketaclinic:code", "ptsd")}
    assert "47505003" in condition["note"][0]["text"]
    assert "F43.1" in condition["note"][0]["text"]


def test_each_rate_period_is_its_own_medication_administration(record: PatientRecord) -> None:
    """150 mL/h for 10 min, 160 mL/h for 10 min, paused 5 min, 160 mL/h for 15 min at
    0.4 mg/mL: 25 mL = 10 mg, 26.667 mL = 10.667 mg, 40 mL = 16 mg."""
    administrations = of_type(bundle_of(record), "MedicationAdministration")
    assert [a["dosage"]["rateQuantity"]["value"] for a in administrations] == [150, 160, 160]
    assert all(a["dosage"]["rateQuantity"]["code"] == "mL/h" for a in administrations)
    # rounded to 3 decimals on export (a pump cannot deliver finer than that)
    assert [a["dosage"]["dose"]["value"] for a in administrations] == [10.0, 10.667, 16.0]
    starts = [a["effectivePeriod"]["start"] for a in administrations]
    assert starts == ["2026-11-02T14:00:00Z", "2026-11-02T14:10:00Z", "2026-11-02T14:25:00Z"]
    first = administrations[0]
    medication = first["contained"][0]
    assert medication["batch"] == {"lotNumber": "LOT-7781"}
    assert medication["ingredient"][0]["strength"]["numerator"]["value"] == 0.4
    assert codes(medication["code"]) == {("urn:ketaclinic:code", "ketamine")}
    assert first["medicationReference"] == {"reference": "#med"}
    assert first["context"] == {"reference": "Encounter/enc-90"}
    assert "6130" in first["note"][0]["text"]


def test_session_visit_consent_and_alert(record: PatientRecord) -> None:
    bundle = bundle_of(record)
    (encounter,) = of_type(bundle, "Encounter")
    assert encounter["status"] == "finished"
    assert encounter["appointment"] == [{"reference": "Appointment/appt-71"}]
    assert encounter["location"] == [{"location": {"reference": "Location/chair-MIA-1"}}]
    appointment = by_id(bundle, "appt-71")
    assert appointment["status"] == "fulfilled"
    (consent,) = of_type(bundle, "Consent")
    assert consent["policy"] == [{"uri": "urn:ketaclinic:consent-text:3"}]
    assert consent["language"] == "es"
    (flag,) = of_type(bundle, "Flag")
    assert flag["status"] == "inactive"
    assert flag["period"]["end"] == "2026-11-02T14:35:00Z"
    assert ("urn:ketaclinic:alert-rule", "bp_systolic_hold") in codes(flag["code"])


def test_a_cancelled_visit_is_a_cancelled_appointment_with_its_reason_and_times(
    record: PatientRecord,
) -> None:
    bundle = bundle_of(record)
    assert [a["id"] for a in of_type(bundle, "Appointment")] == ["appt-71", "appt-72"]
    cancelled = by_id(bundle, "appt-72")
    assert cancelled["status"] == "cancelled"
    assert cancelled["cancelationReason"] == {"text": "Patient travelling; rebook next week"}
    # The start and end it was booked for, and when it was cancelled.
    assert (cancelled["start"], cancelled["end"]) == (
        "2026-11-04T14:00:00Z",
        "2026-11-04T17:00:00Z",
    )
    assert cancelled["extension"] == [
        {
            "url": "http://hl7.org/fhir/5.0/StructureDefinition/extension-Appointment.cancellationDate",
            "valueDateTime": "2026-11-02T19:00:00Z",
        }
    ]
    assert cancelled["description"] == "Infusion 2 of series 70 (feder-2021)"
    actors = [p["actor"]["reference"] for p in cancelled["participant"]]
    assert actors == ["Patient/pat-12", "Location/chair-MIA-2"]
    # The chair it was booked on is in the Bundle although no session used it.
    assert by_id(bundle, "chair-MIA-2")["partOf"] == {"reference": "Location/site-MIA"}
    # A booked visit has neither a reason nor a cancellation date.
    assert "cancelationReason" not in by_id(bundle, "appt-71")
    assert "extension" not in by_id(bundle, "appt-71")


def test_the_access_log_becomes_balp_audit_events(record: PatientRecord) -> None:
    events = of_type(bundle_of(record), "AuditEvent")
    assert [e["action"] for e in events] == ["R", "R", "R"]
    assert [e["outcome"] for e in events] == ["0", "4", "0"]
    read, denied, export = events
    assert read["subtype"][0]["code"] == "read"
    assert export["type"]["code"] == "110106"
    assert denied["outcomeDesc"] == "not_found"
    assert read["agent"][0]["network"] == {"address": "127.0.0.1", "type": "2"}
    assert read["entity"][0]["what"] == {"reference": "Patient/pat-12"}
    details = {d["type"]: d["valueString"] for d in read["entity"][1]["detail"]}
    assert details["chain-seq"] == "1"
    assert len(details["chain-hash"]) == 64


def test_chair_dissociation_scores_are_numbers_by_neutral_item_id(record: PatientRecord) -> None:
    """CADSS is restricted (REFERENCE.md §10): only item ids, values and the total leave."""
    cadss = by_id(bundle_of(record), "cadss-121")
    assert cadss["valueInteger"] == 5
    assert codes(cadss["code"]) == {("urn:ketaclinic:instrument", "cadss6.total")}
    assert [c["code"]["text"] for c in cadss["component"]][:2] == ["cadss_01", "cadss_02"]
    assert cadss["encounter"] == {"reference": "Encounter/enc-90"}
    # no wording anywhere: each component is a neutral id and a number
    assert all(set(c) == {"code", "valueInteger"} for c in cadss["component"])
    assert all(c["code"]["text"].startswith("cadss_") for c in cadss["component"])


def test_the_sites_location_carries_its_phone_number(record: PatientRecord) -> None:
    site = by_id(bundle_of(record), "site-MIA")
    assert site["telecom"] == [{"system": "phone", "value": "+1 305 555 0142", "use": "work"}]
    assert "telecom" not in by_id(bundle_of(record), "chair-MIA-1")
