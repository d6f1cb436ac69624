"""The intake API on SQLite and PostgreSQL: leads, intake with eligibility, series booking and
the schedule (DESIGN.md §4.3: errors are ``{"error": {"code", "message", "field"}}``)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from ketaclinic.adapters.db import tables_intake as ti
from ketaclinic.adapters.db.tables import patient

MIAMI = ZoneInfo("America/New_York")


def patient_id(demo, mrn: str) -> int:  # type: ignore[no-untyped-def]
    with demo.engine.connect() as conn:
        return conn.execute(sa.select(patient.c.id).where(patient.c.mrn == mrn)).scalar_one()


def intake(**changes: object) -> dict[str, object]:
    today = dt.datetime.now(MIAMI).date()
    body: dict[str, object] = {
        "assessment_date": (today - dt.timedelta(days=1)).isoformat(),
        "weight_kg": 80.0,
        "height_cm": 170.0,
        "trauma_date": "2025-03-01",
        "pregnant": False,
        "bp_systolic": 128,
        "bp_diastolic": 82,
        "heart_rate": 72,
        "spo2": 98,
        "pcl5": [2] * 20,
        "phq9": [1] * 8 + [0],
        "conditions": ["psychosis_history"],
        "medications": ["sertraline"],
        "weight_confirmed": True,
        "allergies": "penicillin",
    }
    body.update(changes)
    return body


def test_the_lead_queue_is_for_the_front_desk_of_its_sites(client, token_for) -> None:
    mia = client.get("/api/v1/leads", headers=token_for("frontdesk.mia"))
    assert mia.status_code == 200
    assert {lead["site"] for lead in mia.json()} == {"MIA"}
    assert "Marta Quiroga" in [lead["name"] for lead in mia.json()]
    every = client.get("/api/v1/leads?status=all", headers=token_for("frontdesk.fll")).json()
    assert {lead["status"] for lead in every} == {"new", "dismissed"}
    refused = client.get("/api/v1/leads", headers=token_for("nurse.mia"))
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"


def test_an_intake_returns_the_eligibility_result_with_every_reason(
    client, demo, token_for
) -> None:
    pid = patient_id(demo, "DEMO-0021")
    headers = token_for("nurse.mia")
    response = client.post(f"/api/v1/patients/{pid}/intake", json=intake(), headers=headers)
    assert response.status_code == 201, response.text
    result = response.json()
    assert result["decision"] == "needs_review"
    assert [r["code"] for r in result["reasons"]] == ["psychosis_history"]
    assert result["reasons"][0]["source"].startswith("[unverified:")
    read = client.get(f"/api/v1/patients/{pid}/eligibility", headers=headers).json()
    assert read["intake_id"] == result["intake_id"]
    assert read["signed"] is None


def test_a_bad_intake_field_is_named_and_nothing_is_stored(client, demo, token_for) -> None:
    pid = patient_id(demo, "DEMO-0021")
    with demo.engine.connect() as conn:
        before = conn.execute(sa.select(sa.func.count()).select_from(ti.intake_assessment)).scalar()
    response = client.post(
        f"/api/v1/patients/{pid}/intake",
        json=intake(conditions=["broken_leg"]),
        headers=token_for("nurse.mia"),
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["field"] == "conditions[0]"
    assert "broken_leg" in error["message"]
    with demo.engine.connect() as conn:
        after = conn.execute(sa.select(sa.func.count()).select_from(ti.intake_assessment)).scalar()
    assert after == before


def test_the_front_desk_reads_no_eligibility(client, demo, token_for) -> None:
    pid = patient_id(demo, "DEMO-0001")
    response = client.get(f"/api/v1/patients/{pid}/eligibility", headers=token_for("frontdesk.mia"))
    assert response.status_code == 403


def test_a_series_is_booked_whole_and_appears_on_the_schedule(client, demo, token_for) -> None:
    pid = patient_id(demo, "DEMO-0005")
    headers = token_for("frontdesk.mia")
    start = dt.datetime.now(MIAMI).date() + dt.timedelta(days=35)
    booked = client.post(
        f"/api/v1/patients/{pid}/series", json={"start_date": start.isoformat()}, headers=headers
    )
    assert booked.status_code == 201, booked.text
    series = booked.json()
    assert series["protocol"] == "feder-2021"
    assert len(series["visits"]) == 6
    first = series["visits"][0]
    assert dt.datetime.fromisoformat(first["local_start"]).weekday() in {0, 2, 4}
    day = first["local_start"][:10]
    schedule = client.get(f"/api/v1/schedule?site=MIA&date={day}", headers=headers)
    assert schedule.status_code == 200
    listed = schedule.json()
    assert (listed["opens"], listed["closes"]) == ("08:00", "18:00")
    assert listed["chairs"] == ["MIA-1", "MIA-2", "MIA-3", "MIA-4"]
    mine = [v for v in listed["visits"] if v["patient_id"] == pid]
    assert [(v["chair"], v["number"], v["of"]) for v in mine] == [(first["chair"], 1, 6)]


def test_booking_the_same_dates_twice_is_a_conflict(client, demo, token_for) -> None:
    pid = patient_id(demo, "DEMO-0005")
    headers = token_for("frontdesk.mia")
    start = (dt.datetime.now(MIAMI).date() + dt.timedelta(days=35)).isoformat()
    first = client.post(
        f"/api/v1/patients/{pid}/series", json={"start_date": start}, headers=headers
    )
    assert first.status_code == 201
    again = client.post(
        f"/api/v1/patients/{pid}/series", json={"start_date": start}, headers=headers
    )
    assert again.status_code == 409
    assert again.json()["error"]["field"] == "start_date"


def test_another_sites_patient_and_schedule_are_not_found(client, demo, token_for) -> None:
    pid = patient_id(demo, "DEMO-0005")
    headers = token_for("frontdesk.fll")
    start = (dt.datetime.now(MIAMI).date() + dt.timedelta(days=35)).isoformat()
    booking = client.post(
        f"/api/v1/patients/{pid}/series", json={"start_date": start}, headers=headers
    )
    assert booking.status_code == 404
    assert client.get("/api/v1/schedule?site=MIA", headers=headers).status_code == 404
    assert client.get("/api/v1/schedule", headers=headers).json()["site"] == "FLL"


def test_a_series_request_with_unknown_fields_is_refused(client, demo, token_for) -> None:
    pid = patient_id(demo, "DEMO-0005")
    response = client.post(
        f"/api/v1/patients/{pid}/series",
        json={"start_date": "2030-01-07", "chair": "MIA-1"},
        headers=token_for("frontdesk.mia"),
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "chair"
