"""The chair reads consent, eligibility and the safety review from the patient's record, over
HTTP on SQLite and PostgreSQL: the checklist shows what it found, a start the record does not
allow is refused with the reason on the page (409) and in the API, record items take no answer
at the chair, and a checked-in patient's session is linked to the booked visit of the day.

Demo patients (services/demo_intake.py): DEMO-0021 has an intake but no consent; DEMO-0003 is
waiting for the prescriber's signature, has not consented yet and has an open safety review from
this morning;
DEMO-0009 is booked and cleared; chair MIA-4 is free."""

from __future__ import annotations

import re

import sqlalchemy as sa

from ketaclinic.adapters.db import tables_chair as c
from ketaclinic.domain.dosing import BagPreparation
from ketaclinic.services import demo_chair, demo_intake, dosing
from ketaclinic.services.audit import Actor
from ketaclinic.services.auth import principal_of
from ketaclinic.services.dosing_calc import DoseRequest
from ketaclinic.services.intake_common import to_local


def csrf(page_html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page_html)
    assert found is not None
    return found.group(1)


def order_dose(demo, mrn: str, mg_per_kg: float = 0.5) -> int:
    """``prescriber.mia`` orders ``mg_per_kg`` over 40 min in a 100 mL bag under feder-2021 on
    the patient's latest weight: the verified order the chair's dose check takes."""
    request = DoseRequest(mg_per_kg, 40.0, BagPreparation(100.0), protocol_id="feder-2021")
    with demo.uow() as uow:
        patient = uow.patients.by_mrn(mrn)
        prescriber = Actor(principal_of(uow.users.by_username("prescriber.mia")), "test")
    with demo.uow() as uow:
        return dosing.order_dose(uow, demo.clock, prescriber, patient.id, request).id


def weight_of(demo, mrn: str) -> float:
    with demo.uow() as uow:
        patient = uow.patients.by_mrn(mrn)
        return uow.patients.measurements(patient.id)[-1].weight_kg


def check_in_and_answer(client, demo, mrn: str) -> str:
    """Check ``mrn`` in at MIA-4 and answer every item asked at the chair; the session's path."""
    chair = client.get("/chairs/MIA-4")
    moved = client.post(
        "/chairs/MIA-4/check-in",
        data={"csrf_token": csrf(chair.text), "mrn": mrn, "protocol": "feder-2021"},
        follow_redirects=False,
    )
    assert moved.status_code == 303, moved.text[-400:]
    path = moved.headers["location"]
    token = csrf(client.get(path).text)
    weight = weight_of(demo, mrn)
    concentration = int(0.5 * weight / 100 * 1e4) / 1e4  # rounded down: rate ≤ 0.75 mg/kg/h
    order_dose(demo, mrn)
    forms = [
        ("weight", {"weight_kg": str(weight)}),
        ("baseline", {"systolic": "118", "diastolic": "76", "heart_rate": "68", "spo2": "98"}),
        ("escort", {"escort_name": "Sam Doe", "escort_phone": "+1 555 0101"}),
        (
            "dose",
            {
                "dose_mg": str(round(concentration * 100, 2)),
                "concentration_mg_per_ml": str(concentration),
                "volume_ml": "100",
                "rate_ml_per_h": "150",
            },
        ),
    ]
    for action, data in forms:
        done = client.post(f"{path}/{action}", data={"csrf_token": token, **data})
        assert done.status_code == 200, f"{action}: {done.text[-600:]}"
    return path


def state_of(demo, path: str) -> str:
    session_id = int(path.rsplit("/", 1)[-1])
    with demo.engine.connect() as conn:
        return conn.execute(
            sa.select(c.infusion_session.c.state).where(c.infusion_session.c.id == session_id)
        ).scalar_one()


def test_a_start_without_current_consent_is_refused_and_the_page_says_why(
    client, login_as, demo
) -> None:
    login_as("nurse.mia")
    path = check_in_and_answer(client, demo, "DEMO-0021")
    page = client.get(path)
    assert 'data-testid="record-consent_current"' in page.text
    assert "From the record: no consent to version 1, the version in force" in page.text
    assert "failed — no override" in page.text
    assert "Start is blocked" in page.text
    started = client.post(
        f"{path}/start",
        data={"csrf_token": csrf(page.text), "lot_number": "LOT-1", "pump_id": "PUMP-4"},
    )
    assert started.status_code == 409
    assert "cannot start: consent_current: failed (no override)" in started.text
    assert "record the patient&#39;s consent" in started.text
    assert state_of(demo, path) == "pre_infusion_checks"


def test_consent_an_unsigned_decision_and_an_open_safety_review_block_the_start(
    client, login_as, token_for, demo
) -> None:
    login_as("nurse.mia")
    path = check_in_and_answer(client, demo, "DEMO-0003")
    page = client.get(path)
    assert "From the record: open safety review: PHQ-9 item 9 positive, raised" in page.text
    assert "is not signed by a prescriber" in page.text
    session_id = path.rsplit("/", 1)[-1]
    api = f"/api/v1/sessions/{session_id}"
    body = client.get(api, headers=token_for("prescriber.mia")).json()
    record = {line["item"]: line for line in body["checklist"] if line["source"] == "record"}
    assert set(record) == {"consent_current", "eligibility_signed", "safety_screen_reviewed"}
    assert (record["consent_current"]["outcome"], record["consent_current"]["hard"]) == (
        "failed",
        True,
    )
    assert record["safety_screen_reviewed"]["hard"] is True
    assert [line.split(":")[0] for line in body["blocking"]] == [
        "consent_current",
        "eligibility_signed",
        "safety_screen_reviewed",
    ]
    # The nurse records the patient's consent at the clinic: that item clears by itself.
    patient_id = body["patient_id"]
    consent_page = client.get(f"/patients/{patient_id}/consent")
    signed = client.post(
        f"/patients/{patient_id}/consent",
        data={"csrf_token": csrf(consent_page.text), "signer_name": "Typed Name", "language": "en"},
    )
    assert signed.status_code == 200
    # A prescriber may release the unsigned decision, not the open safety review.
    prescriber = token_for("prescriber.mia")
    released = client.post(
        f"{api}/checks",
        json={"item": "eligibility_signed", "override_reason": "reviewed the chart today"},
        headers=prescriber,
    )
    assert released.status_code == 200, released.text
    refused = client.post(
        f"{api}/checks",
        json={"item": "safety_screen_reviewed", "override_reason": "she says she is fine"},
        headers=prescriber,
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "hard_limit"
    start = client.post(
        f"{api}/start", json={"lot_number": "L", "pump_id": "P"}, headers=prescriber
    )
    assert start.status_code == 409
    assert (
        "safety_screen_reviewed: failed (no override): open safety review"
        in (start.json()["error"]["message"])
    )
    # The prescriber closes the review with what was done; then the infusion may start.
    scores = client.get(f"/api/v1/patients/{patient_id}/scores", headers=prescriber)
    tasks = scores.json()["safety_tasks"]
    (task,) = [t for t in tasks if t["status"] == "open"]
    login_as("prescriber.mia")
    task_page = client.get(f"/safety-tasks/{task['id']}")
    closed = client.post(
        f"/safety-tasks/{task['id']}/close",
        data={"csrf_token": csrf(task_page.text), "action": "C-SSRS done: low; plan reviewed"},
        follow_redirects=False,
    )
    assert closed.status_code == 303
    start = client.post(
        f"{api}/start", json={"lot_number": "L", "pump_id": "P"}, headers=prescriber
    )
    assert start.status_code == 200, start.text
    assert start.json()["state"] == "running"
    notes = {line["item"]: line["note"] for line in start.json()["checklist"]}
    assert "closed" in notes["safety_screen_reviewed"]
    assert "C-SSRS done: low; plan reviewed" in notes["safety_screen_reviewed"]


def test_record_items_take_no_answer_at_the_chair(client, token_for, demo) -> None:
    nurse = token_for("nurse.mia")
    created = client.post(
        "/api/v1/sessions", json={"chair": "MIA-4", "mrn": "DEMO-0009"}, headers=nurse
    )
    assert created.status_code == 201
    answer = client.post(
        f"/api/v1/sessions/{created.json()['id']}/checks",
        json={"item": "consent_current"},
        headers=nurse,
    )
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["field"] == "item"
    assert "read from the patient's record" in error["message"]


def test_the_session_of_a_booked_patient_shows_its_visit(client, token_for, demo) -> None:
    """DEMO-0001's infusion on MIA-1 is visit 2 of its series (services/demo_chair.py), or the
    nearest visit number its protocol allows on today's weekday (services/demo_intake.py)."""
    nurse = token_for("nurse.mia")
    sessions = client.get("/api/v1/sessions?state=active", headers=nurse).json()["items"]
    (running,) = [s for s in sessions if s["mrn"] == "DEMO-0001"]
    body = client.get(f"/api/v1/sessions/{running['id']}", headers=nurse).json()
    with demo.uow() as uow:
        site = uow.sites.by_code("MIA")
        row = uow.chair.get_session(running["id"])
        day = to_local(row.checked_in_at, site).date()
    seat = next(s for s in demo_chair.LAYOUT if s.mrn == "DEMO-0001")
    number = demo_intake.visit_number_today(seat, day)
    assert (body["visit"]["number"], body["visit"]["of"], body["visit"]["done_at"]) == (
        number,
        6,
        None,
    )
