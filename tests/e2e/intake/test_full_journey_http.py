"""The whole intake journey over the API, once per engine (SQLite and PostgreSQL): a visitor's
public inquiry → the front desk registers the lead as a patient → a nurse records the intake →
a prescriber signs eligibility → the patient consents (the nurse witnesses) → a prescriber signs
the plan → the front desk books the series → the day view of the chairs shows it."""

from __future__ import annotations

import datetime as dt
import itertools
import time
from zoneinfo import ZoneInfo

MIAMI = ZoneInfo("America/New_York")


def test_from_a_public_inquiry_to_a_booked_series_on_the_day_view(client, token_for) -> None:
    today = dt.datetime.now(MIAMI).date()
    front_desk = token_for("frontdesk.mia")
    nurse = token_for("nurse.mia")
    prescriber = token_for("prescriber.mia")

    # 1. the visitor inquires (no sign-in): the form token must be at least 3 s old
    form = client.get("/api/v1/inquiries/form")
    assert form.status_code == 200
    assert "MIA" in [site["code"] for site in form.json()["sites"]]
    time.sleep(form.json()["min_fill_seconds"] + 0.2)
    inquiry = client.post(
        "/api/v1/inquiries",
        json={
            "name": "Tobias Wrenfield",
            "email": "tobias.w@example.org",
            "site": "MIA",
            "message": "I would like an evaluation.",
            "contact_consent": True,
            "form_token": form.json()["form_token"],
        },
    )
    assert inquiry.status_code == 202, inquiry.text
    assert inquiry.json() == {"status": "received"}

    # 2. the front desk finds the lead and registers the patient
    queue = client.get("/api/v1/leads", headers=front_desk)
    lead = next(item for item in queue.json() if item["name"] == "Tobias Wrenfield")
    assert lead["status"] == "new"
    registered = client.post(
        f"/api/v1/leads/{lead['id']}/register",
        json={
            "mrn": "JOURNEY-1",
            "given_name": "Tobias",
            "family_name": "Wrenfield",
            "birth_date": "1984-03-12",
            "sex": "male",
            "email": "tobias.w@example.org",
        },
        headers=front_desk,
    )
    assert registered.status_code == 201, registered.text
    pid = registered.json()["id"]
    converted = client.get("/api/v1/leads?status=converted", headers=front_desk).json()
    assert any(item["id"] == lead["id"] and item["patient_id"] == pid for item in converted)
    blocked = client.get(f"/api/v1/patients/{pid}/series", headers=front_desk).json()
    assert len(blocked["problems"]) == 3  # no signed eligibility, no consent, no plan

    # 3. the nurse records the intake: eligible
    intake = client.post(
        f"/api/v1/patients/{pid}/intake",
        json={
            "assessment_date": (today - dt.timedelta(days=1)).isoformat(),
            "weight_kg": 78.0,
            "height_cm": 180.0,
            "trauma_date": "2024-09-01",
            "pregnant": False,
            "bp_systolic": 124,
            "bp_diastolic": 80,
            "heart_rate": 68,
            "spo2": 98,
            "pcl5": [2] * 20,
            "phq9": [1] * 8 + [0],
            "gad7": [1] * 7,
            "conditions": [],
            "medications": ["sertraline"],
            "weight_confirmed": True,
        },
        headers=nurse,
    )
    assert intake.status_code == 201, intake.text
    assert (intake.json()["decision"], intake.json()["reasons"]) == ("eligible", [])

    # 4. the front desk may not sign; the prescriber signs
    not_theirs = client.post(
        f"/api/v1/patients/{pid}/eligibility/signature", json={}, headers=front_desk
    )
    assert not_theirs.status_code == 403
    signed = client.post(
        f"/api/v1/patients/{pid}/eligibility/signature",
        json={"intake_id": intake.json()["intake_id"]},
        headers=prescriber,
    )
    assert signed.status_code == 201, signed.text

    # 5. consent on the version in force, witnessed by the nurse
    version = client.get("/api/v1/consent", headers=nurse).json()
    consent = client.post(
        f"/api/v1/patients/{pid}/consent",
        json={"version_id": version["id"], "signer_name": "Tobias Wrenfield", "language": "en"},
        headers=nurse,
    )
    assert consent.status_code == 201, consent.text

    # 6. the prescriber signs the plan
    start = today + dt.timedelta(days=77)
    plan = client.post(
        f"/api/v1/patients/{pid}/plan",
        json={"protocol_id": "feder-2021", "dose_mg_per_kg": 0.5, "start_date": start.isoformat()},
        headers=prescriber,
    )
    assert plan.status_code == 201, plan.text
    cleared = client.get(f"/api/v1/patients/{pid}/series", headers=front_desk).json()
    assert cleared["problems"] == []
    assert cleared["plan"]["protocol_id"] == "feder-2021"

    # 7. the front desk books the whole series at the earliest slots
    booked = client.post(
        f"/api/v1/patients/{pid}/series",
        json={"start_date": start.isoformat(), "earliest": True},
        headers=front_desk,
    )
    assert booked.status_code == 201, booked.text
    series = booked.json()
    assert len(series["visits"]) == 6
    assert series["confirmation"]["outcome"] == "mail_off"
    days = [dt.date.fromisoformat(v["local_start"][:10]) for v in series["visits"]]
    assert days[0] >= start
    assert (days[-1] - days[0]).days < 14
    assert all((b - a).days >= 2 for a, b in itertools.pairwise(days))

    # 8. the day view of the chairs shows every visit on its day
    for number, visit in enumerate(series["visits"], start=1):
        view = client.get(
            f"/api/v1/schedule?site=MIA&date={visit['local_start'][:10]}", headers=front_desk
        )
        assert view.status_code == 200
        mine = [v for v in view.json()["visits"] if v["patient_id"] == pid]
        assert [(v["chair"], v["number"], v["of"], v["mrn"]) for v in mine] == [
            (visit["chair"], number, 6, "JOURNEY-1")
        ]
