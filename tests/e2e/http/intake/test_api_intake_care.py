"""The clinical steps of intake over the API, on SQLite and PostgreSQL: the prescriber's
eligibility signature and override, consent, protocols and plans, and the end-of-series
decision. Errors are ``{"error": {"code", "message", "field"}}``; refusals are audited."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from ketaclinic.adapters.db import tables as t
from ketaclinic.adapters.db import tables_intake as ti

MIAMI = ZoneInfo("America/New_York")


def patient_id(demo, mrn: str) -> int:
    with demo.engine.connect() as conn:
        return conn.execute(sa.select(t.patient.c.id).where(t.patient.c.mrn == mrn)).scalar_one()


def user_id(demo, username: str) -> int:
    with demo.engine.connect() as conn:
        return conn.execute(
            sa.select(t.staff_user.c.id).where(t.staff_user.c.username == username)
        ).scalar_one()


def count(demo, table: sa.Table) -> int:
    with demo.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def denied(demo, resource: str) -> int:
    with demo.engine.connect() as conn:
        return conn.execute(
            sa.select(sa.func.count())
            .select_from(t.audit_event)
            .where(t.audit_event.c.action == "denied", t.audit_event.c.resource == resource)
        ).scalar_one()


def today() -> dt.date:
    return dt.datetime.now(MIAMI).date()


# --- eligibility ----------------------------------------------------------------------------


def test_a_prescriber_overrides_needs_review_with_a_written_reason(client, demo, token_for) -> None:
    pid = patient_id(demo, "DEMO-0003")
    headers = token_for("prescriber.mia")
    reason = "Psychosis was a single drug-induced episode in 2009; reviewed with psychiatry."
    signed = client.post(
        f"/api/v1/patients/{pid}/eligibility/signature",
        json={"override": True, "reason": reason},
        headers=headers,
    )
    assert signed.status_code == 201, signed.text
    body = signed.json()
    assert (body["decision"], body["original_decision"]) == ("eligible", "needs_review")
    assert body["override_reason"] == reason
    assert body["overridden_codes"] == ["psychosis_history"]
    assert body["signed_by"] == user_id(demo, "prescriber.mia")
    shown = client.get(f"/api/v1/patients/{pid}/eligibility", headers=headers).json()
    assert shown["signed"]["decision"] == "eligible"
    again = client.post(f"/api/v1/patients/{pid}/eligibility/signature", json={}, headers=headers)
    assert again.status_code == 409
    assert again.json()["error"]["field"] == "intake_id"


def test_signing_needs_review_as_it_stands_does_not_clear_the_patient(
    client, demo, token_for
) -> None:
    pid = patient_id(demo, "DEMO-0003")
    headers = token_for("prescriber.mia")
    signed = client.post(f"/api/v1/patients/{pid}/eligibility/signature", json={}, headers=headers)
    assert signed.status_code == 201
    assert signed.json()["decision"] == "needs_review"
    series = client.get(f"/api/v1/patients/{pid}/series", headers=headers).json()
    assert "the signed eligibility decision does not clear the patient" in series["problems"]


def test_only_a_prescriber_signs_and_every_refusal_is_audited(client, demo, token_for) -> None:
    pid = patient_id(demo, "DEMO-0003")
    before = count(demo, ti.eligibility_signoff)
    for username in ("frontdesk.mia", "nurse.mia", "director.mia"):
        denied_before = denied(demo, "eligibility_signoff")
        refused = client.post(
            f"/api/v1/patients/{pid}/eligibility/signature",
            json={"override": True, "reason": "looks fine"},
            headers=token_for(username),
        )
        assert refused.status_code == 403, username
        assert refused.json()["error"]["code"] == "forbidden"
        assert denied(demo, "eligibility_signoff") == denied_before + 1
    elsewhere = client.post(
        f"/api/v1/patients/{pid}/eligibility/signature",
        json={},
        headers=token_for("prescriber.fll"),
    )
    assert elsewhere.status_code == 404
    assert count(demo, ti.eligibility_signoff) == before


def test_an_exclusion_cannot_be_overridden_and_the_answer_names_why(
    client, demo, token_for
) -> None:
    pid = patient_id(demo, "DEMO-0007")
    headers = token_for("prescriber.mia")
    reasons = client.get(f"/api/v1/patients/{pid}/eligibility", headers=headers).json()
    assert reasons["decision"] == "excluded"
    blocking = [r["code"] for r in reasons["reasons"]]
    before = count(demo, ti.eligibility_signoff)
    refused = client.post(
        f"/api/v1/patients/{pid}/eligibility/signature",
        json={"override": True, "reason": "I accept the risk"},
        headers=headers,
    )
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["field"] == "decision"
    assert "cannot be overridden" in error["message"]
    assert any(code in error["message"] for code in blocking)
    assert count(demo, ti.eligibility_signoff) == before


def test_an_override_needs_a_reason_and_a_reason_needs_an_override(client, demo, token_for) -> None:
    pid = patient_id(demo, "DEMO-0003")
    headers = token_for("prescriber.mia")
    url = f"/api/v1/patients/{pid}/eligibility/signature"
    before = count(demo, ti.eligibility_signoff)
    blank = client.post(url, json={"override": True, "reason": "   "}, headers=headers)
    assert blank.status_code == 422
    assert blank.json()["error"]["field"] == "reason"
    stray = client.post(url, json={"reason": "fine by me"}, headers=headers)
    assert stray.status_code == 422
    assert stray.json()["error"]["field"] == "reason"
    unknown = client.post(url, json={"intake_id": 2_000_000}, headers=headers)
    assert unknown.status_code == 422
    assert unknown.json()["error"]["field"] == "intake_id"
    assert count(demo, ti.eligibility_signoff) == before


# --- consent --------------------------------------------------------------------------------


def test_the_consent_text_in_force_is_served_to_clinical_staff(client, token_for) -> None:
    shown = client.get("/api/v1/consent", headers=token_for("nurse.mia"))
    assert shown.status_code == 200
    version = shown.json()
    assert version["version"] == 1
    assert version["body_en"].startswith("Consent to treatment")
    assert version["body_es"].startswith("Consentimiento")
    assert client.get("/api/v1/consent", headers=token_for("frontdesk.mia")).status_code == 403


def test_a_nurse_records_consent_as_witness_with_version_and_time(client, demo, token_for) -> None:
    pid = patient_id(demo, "DEMO-0021")
    headers = token_for("nurse.mia")
    version = client.get("/api/v1/consent", headers=headers).json()
    before = client.get(f"/api/v1/patients/{pid}/consent", headers=headers).json()
    assert before["current"] is False
    recorded = client.post(
        f"/api/v1/patients/{pid}/consent",
        json={"version_id": version["id"], "signer_name": "  Rosa   Lind ", "language": "es"},
        headers=headers,
    )
    assert recorded.status_code == 201, recorded.text
    consent = recorded.json()
    assert consent["version"] == version["version"]
    assert consent["signer_name"] == "Rosa Lind"
    assert consent["language"] == "es"
    assert consent["witness_id"] == user_id(demo, "nurse.mia")
    signed_at = dt.datetime.fromisoformat(consent["signed_at"])
    assert abs(signed_at - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)
    after = client.get(f"/api/v1/patients/{pid}/consent", headers=headers).json()
    assert after["current"] is True
    assert [c["id"] for c in after["consents"]] == [consent["id"]]
    twice = client.post(
        f"/api/v1/patients/{pid}/consent", json={"signer_name": "Rosa Lind"}, headers=headers
    )
    assert twice.status_code == 409


def test_consent_to_an_older_version_is_a_conflict(client, demo, token_for) -> None:
    pid = patient_id(demo, "DEMO-0021")
    headers = token_for("nurse.mia")
    old = client.get("/api/v1/consent", headers=headers).json()["id"]
    from ketaclinic.services.intake_models import ConsentText

    with demo.uow() as uow:
        uow.intake.add_consent_version(
            ConsentText("Version two, English only."), None, dt.datetime.now(dt.UTC)
        )
        uow.commit()
    before = count(demo, ti.patient_consent)
    stale = client.post(
        f"/api/v1/patients/{pid}/consent",
        json={"version_id": old, "signer_name": "Rosa Lind"},
        headers=headers,
    )
    assert stale.status_code == 409
    assert stale.json()["error"]["field"] == "version_id"
    spanish = client.post(
        f"/api/v1/patients/{pid}/consent",
        json={"signer_name": "Rosa Lind", "language": "es"},
        headers=headers,
    )
    assert spanish.status_code == 422
    assert spanish.json()["error"]["field"] == "language"
    blank = client.post(
        f"/api/v1/patients/{pid}/consent", json={"signer_name": ""}, headers=headers
    )
    assert blank.status_code == 422
    assert blank.json()["error"]["field"] == "signer_name"
    assert count(demo, ti.patient_consent) == before


def created(demo, resource: str) -> list[str]:
    """The resource ids of the audit's create entries for ``resource``, oldest first."""
    with demo.engine.connect() as conn:
        return list(
            conn.execute(
                sa.select(t.audit_event.c.resource_id)
                .where(t.audit_event.c.action == "create", t.audit_event.c.resource == resource)
                .order_by(t.audit_event.c.seq)
            ).scalars()
        )


def test_the_director_writes_a_consent_version_that_is_in_force_at_once(
    client, demo, token_for
) -> None:
    director, nurse = token_for("director.mia"), token_for("nurse.mia")
    before = client.get("/api/v1/consent", headers=nurse).json()
    written = client.post(
        "/api/v1/consent/versions",
        json={"body_en": "Our new consent wording.", "body_es": "Nuestro texto nuevo."},
        headers=director,
    )
    assert written.status_code == 201, written.text
    version = written.json()
    assert version["version"] == before["version"] + 1
    assert (version["body_en"], version["body_es"]) == (
        "Our new consent wording.",
        "Nuestro texto nuevo.",
    )
    assert client.get("/api/v1/consent", headers=nurse).json()["id"] == version["id"]
    assert created(demo, "consent_version")[-1] == str(version["id"])
    # a patient who consented to the old version has to consent again
    pid = patient_id(demo, "DEMO-0005")
    mine = client.get(f"/api/v1/patients/{pid}/consent", headers=nurse).json()
    assert mine["current"] is False


def test_only_the_director_writes_consent_versions_and_bad_text_is_refused(
    client, demo, token_for
) -> None:
    versions = count(demo, ti.consent_version)
    refusals = denied(demo, "consent_version")
    for who in ("nurse.mia", "prescriber.mia", "frontdesk.mia"):
        answer = client.post(
            "/api/v1/consent/versions", json={"body_en": "Mine."}, headers=token_for(who)
        )
        assert answer.status_code == 403, who
    assert denied(demo, "consent_version") == refusals + 3
    director = token_for("director.mia")
    blank = client.post("/api/v1/consent/versions", json={"body_en": "  "}, headers=director)
    assert blank.status_code == 422
    assert blank.json()["error"]["field"] == "body_en"
    huge = client.post("/api/v1/consent/versions", json={"body_en": "x" * 20_001}, headers=director)
    assert huge.status_code == 422
    extra = client.post(
        "/api/v1/consent/versions", json={"body_en": "Text.", "version": 9}, headers=director
    )
    assert extra.status_code == 422
    assert count(demo, ti.consent_version) == versions


WEEKLY = {
    "id": "weekly-4",
    "name": "Four weekly infusions",
    "infusion_count": 4,
    "duration_weeks": 4,
    "dose_mg_per_kg": 0.5,
    "infusion_min": 40,
    "weekdays": [1],
}


def test_the_director_adds_a_clinic_protocol_that_plans_can_use(client, demo, token_for) -> None:
    director = token_for("director.mia")
    added = client.post("/api/v1/protocols", json=WEEKLY, headers=director)
    assert added.status_code == 201, added.text
    body = added.json()
    assert (body["id"], body["chair_min"], body["weekdays"], body["min_gap_days"]) == (
        "weekly-4",
        180,
        [1],
        7,
    )
    assert body["source"].startswith("[design: clinic-defined protocol")
    assert created(demo, "protocol")[-1] == "weekly-4"
    listed = client.get("/api/v1/protocols", headers=token_for("frontdesk.mia")).json()
    assert listed[-1]["id"] == "weekly-4"
    pid = patient_id(demo, "DEMO-0021")
    plan = client.post(
        f"/api/v1/patients/{pid}/plan",
        json={
            "protocol_id": "weekly-4",
            "dose_mg_per_kg": 0.5,
            "start_date": (today() + dt.timedelta(days=7)).isoformat(),
        },
        headers=token_for("prescriber.mia"),
    )
    assert plan.status_code == 201, plan.text
    again = client.post("/api/v1/protocols", json=WEEKLY, headers=director)
    assert again.status_code == 409
    assert again.json()["error"]["field"] == "id"
    builtin = client.post(
        "/api/v1/protocols", json={**WEEKLY, "id": "feder-2021"}, headers=director
    )
    assert builtin.status_code == 409


def test_a_bad_protocol_is_refused_naming_the_field_and_nothing_is_stored(
    client, demo, token_for
) -> None:
    director = token_for("director.mia")
    protocols = count(demo, ti.clinic_protocol)
    cases = [
        ({"id": "Weekly 4"}, "id"),
        ({"dose_mg_per_kg": 2.0}, "dose_mg_per_kg"),
        ({"infusion_min": 20}, "infusion_min"),
        ({"infusion_count": 9}, "duration_weeks"),  # nine Tuesdays do not fit four weeks
        ({"weekdays": []}, "weekdays"),  # neither weekdays nor spacing_days
        ({"spacing_days": 7}, "weekdays"),  # both
        ({"weekdays": [3, 1]}, "weekdays"),
        ({"min_gap_days": 9}, "min_gap_days"),
        ({"observation_min": 10}, "observation_min"),
    ]
    for change, field in cases:
        answer = client.post("/api/v1/protocols", json={**WEEKLY, **change}, headers=director)
        assert answer.status_code == 422, (change, answer.text)
        assert answer.json()["error"]["field"] == field, (change, answer.json())
    refusals = denied(demo, "protocol")
    for who in ("nurse.mia", "prescriber.mia", "frontdesk.mia"):
        answer = client.post("/api/v1/protocols", json=WEEKLY, headers=token_for(who))
        assert answer.status_code == 403, who
    assert denied(demo, "protocol") == refusals + 3
    assert count(demo, ti.clinic_protocol) == protocols


# --- protocols and plans --------------------------------------------------------------------


def test_any_staff_member_reads_the_protocol_catalog(client, token_for) -> None:
    listed = client.get("/api/v1/protocols", headers=token_for("frontdesk.fll"))
    assert listed.status_code == 200
    by_id = {p["id"]: p for p in listed.json()}
    feder = by_id["feder-2021"]
    assert (feder["infusion_count"], feder["weekdays"], feder["duration_weeks"]) == (
        6,
        [0, 2, 4],
        2,
    )
    assert feder["source"].startswith("[cited: Feder 2021")
    assert by_id["abdallah-2022"]["infusion_count"] == 8


def test_a_prescriber_signs_a_plan_from_a_protocol(client, demo, token_for) -> None:
    pid = patient_id(demo, "DEMO-0021")
    headers = token_for("prescriber.mia")
    start = (today() + dt.timedelta(days=10)).isoformat()
    signed = client.post(
        f"/api/v1/patients/{pid}/plan",
        json={"protocol_id": "abdallah-2022", "dose_mg_per_kg": 0.5, "start_date": start},
        headers=headers,
    )
    assert signed.status_code == 201, signed.text
    plan = signed.json()
    assert (plan["protocol_id"], plan["start_date"]) == ("abdallah-2022", start)
    assert plan["signed_by"] == user_id(demo, "prescriber.mia")
    shown = client.get(f"/api/v1/patients/{pid}/plan", headers=token_for("nurse.mia")).json()
    assert shown["current"]["id"] == plan["id"]


def test_a_bad_plan_is_refused_naming_the_field_and_nothing_is_stored(
    client, demo, token_for
) -> None:
    pid = patient_id(demo, "DEMO-0021")
    headers = token_for("prescriber.mia")
    start = (today() + dt.timedelta(days=10)).isoformat()
    before = count(demo, ti.treatment_plan)
    plan = {"protocol_id": "feder-2021", "dose_mg_per_kg": 0.5, "start_date": start}
    cases = [
        ({**plan, "protocol_id": "weekly-ish"}, "protocol_id"),
        ({**plan, "dose_mg_per_kg": 3.0}, "dose_mg_per_kg"),
        ({**plan, "start_date": "2020-01-01"}, "start_date"),
    ]
    for body, field in cases:
        refused = client.post(f"/api/v1/patients/{pid}/plan", json=body, headers=headers)
        assert refused.status_code == 422, body
        error = refused.json()["error"]
        assert error["field"] == field
        assert "expected" in error["message"]
    nurse = client.post(
        f"/api/v1/patients/{pid}/plan", json=cases[0][0], headers=token_for("nurse.mia")
    )
    assert nurse.status_code == 403
    assert count(demo, ti.treatment_plan) == before


# --- end of series --------------------------------------------------------------------------


def ended_series(client, demo, headers: dict[str, str], mrn: str) -> tuple[int, dict]:
    pid = patient_id(demo, mrn)
    listed = client.get(f"/api/v1/patients/{pid}/series", headers=headers).json()
    return pid, listed["series"][0]


def test_the_review_shows_the_pcl5_baseline_and_response(client, demo, token_for) -> None:
    headers = token_for("nurse.mia")
    pid, series = ended_series(client, demo, headers, "DEMO-0017")
    review = client.get(f"/api/v1/patients/{pid}/series/{series['id']}/review", headers=headers)
    assert review.status_code == 200, review.text
    body = review.json()
    assert body["finished"] is True
    first_day = dt.date.fromisoformat(body["series"]["visits"][0]["local_start"][:10])
    assert body["baseline"] in body["scores"]
    assert dt.date.fromisoformat(body["baseline"]["on"]) <= first_day
    later = [s for s in body["scores"] if dt.date.fromisoformat(s["on"]) > first_day]
    assert (body["outcome"] is not None) == bool(later)
    if later:
        assert body["outcome"]["baseline"] == body["baseline"]
        assert len(body["outcome"]["points"]) == len(later)
    assert body["series"]["decision"] is None
    denied_before = denied(demo, "series_review")
    front = client.get(
        f"/api/v1/patients/{pid}/series/{series['id']}/review",
        headers=token_for("frontdesk.mia"),
    )
    assert front.status_code == 403
    assert denied(demo, "series_review") == denied_before + 1


def test_the_prescriber_records_the_end_of_induction_decision_once(client, demo, token_for) -> None:
    headers = token_for("prescriber.mia")
    pid, series = ended_series(client, demo, headers, "DEMO-0017")
    url = f"/api/v1/patients/{pid}/series/{series['id']}/decision"
    bad = client.post(url, json={"decision": "pause"}, headers=headers)
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "decision"
    assert (
        client.post(url, json={"decision": "stop"}, headers=token_for("nurse.mia")).status_code
        == 403
    )
    decided = client.post(
        url, json={"decision": "stop", "note": "No response by week 2."}, headers=headers
    )
    assert decided.status_code == 201, decided.text
    assert decided.json()["decision"] == "stop"
    review = client.get(f"/api/v1/patients/{pid}/series/{series['id']}/review", headers=headers)
    assert review.json()["decision_note"] == "No response by week 2."
    assert review.json()["decided_by"] == user_id(demo, "prescriber.mia")
    again = client.post(url, json={"decision": "continue"}, headers=headers)
    assert again.status_code == 409


def test_a_decision_before_the_last_infusion_is_a_conflict(client, demo, token_for) -> None:
    headers = token_for("prescriber.mia")
    pid = patient_id(demo, "DEMO-0005")
    start = (today() + dt.timedelta(days=35)).isoformat()
    booked = client.post(
        f"/api/v1/patients/{pid}/series", json={"start_date": start}, headers=headers
    )
    assert booked.status_code == 201, booked.text
    url = f"/api/v1/patients/{pid}/series/{booked.json()['id']}/decision"
    early = client.post(url, json={"decision": "continue"}, headers=headers)
    assert early.status_code == 409
    assert "decide after it" in early.json()["error"]["message"]
