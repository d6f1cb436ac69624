"""The chair's JSON API on SQLite and PostgreSQL: a session from check-in to discharge, refusals
with their reasons (409), the drug library, vitals and alerts, and site scoping. The demo clinic
has MIA-4 free and DEMO-0009 (MIA) without a session."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from ketaclinic.services import dosing_library
from ketaclinic.services.audit import Actor
from ketaclinic.services.auth import principal_of

NOW = lambda: dt.datetime.now(dt.UTC).isoformat()  # noqa: E731 - readings are timed "now"


def weight_of(client, headers, mrn: str) -> tuple[int, float]:
    found = client.get(f"/api/v1/patients?mrn={mrn}", headers=headers).json()["items"][0]
    detail = client.get(f"/api/v1/patients/{found['id']}", headers=headers).json()
    return found["id"], detail["measurements"][-1]["weight_kg"]


def dose_for(weight_kg: float) -> dict[str, float]:
    """0.5 mg/kg in 100 mL over 40 min; the concentration rounded down so the rate never
    exceeds the 0.75 mg/kg/h soft limit by a rounding error."""
    concentration = math.floor(0.5 * weight_kg / 100 * 1e4) / 1e4
    return {
        "dose_mg": round(concentration * 100, 2),
        "concentration_mg_per_ml": concentration,
        "volume_ml": 100,
        "rate_ml_per_h": 150,
    }


def post(client, path: str, headers, body, expected: int = 200) -> dict:
    response = client.post(path, json=body, headers=headers)
    assert response.status_code == expected, response.text
    return response.json()


def order_for(client, patient_id: int, mg_per_kg: float = 0.5, **extra: object) -> dict:
    """``prescriber.mia`` orders ``mg_per_kg`` over 40 min in a 100 mL bag under feder-2021 on
    the patient's latest weight (signed at once): the verified order the chair takes."""
    body = {"mg_per_kg": mg_per_kg, "minutes": 40, "bag_ml": 100, "protocol": "feder-2021"}
    headers = client.post(
        "/api/v1/auth/token", data={"username": "prescriber.mia", "password": "demo-clinic-2026"}
    ).json()
    bearer = {"Authorization": f"Bearer {headers['access_token']}"}
    return post(
        client, f"/api/v1/patients/{patient_id}/dose-orders", bearer, {**body, **extra}, 201
    )


def ready_session(client, headers) -> int:
    """DEMO-0009 checked in at MIA-4 with every check cleared."""
    patient_id, weight = weight_of(client, headers, "DEMO-0009")
    body = post(client, "/api/v1/sessions", headers, {"chair": "MIA-4", "mrn": "DEMO-0009"}, 201)
    sid = body["id"]
    assert (body["state"], body["chair"], body["mrn"]) == ("checked_in", "MIA-4", "DEMO-0009")
    checks = f"/api/v1/sessions/{sid}/checks"
    # Consent, eligibility and the safety review come from DEMO-0009's record (booked, cleared).
    post(client, checks, headers, {"item": "weight_confirmed", "weight_kg": weight})
    baseline = {
        "systolic_mmhg": 122,
        "diastolic_mmhg": 78,
        "heart_rate_per_min": 70,
        "spo2_percent": 98,
    }
    post(client, checks, headers, {"item": "baseline_vitals_within_limits", "baseline": baseline})
    post(
        client,
        checks,
        headers,
        {"item": "escort_confirmed", "escort_name": "Sam", "escort_phone": "555-0101"},
    )
    refused = client.post(
        checks, json={"item": "dose_verified", "dose": dose_for(weight)}, headers=headers
    )
    assert refused.status_code == 409, refused.text  # no order yet: the prescriber orders first
    assert "no verified dose order" in refused.json()["error"]["message"]
    order = order_for(client, patient_id)
    body = post(client, checks, headers, {"item": "dose_verified", "dose": dose_for(weight)})
    assert {c["outcome"] for c in body["checklist"]} == {"passed"}
    planned = body["planned_dose"]
    assert (planned["order_id"], planned["weight_basis"]) == (order["id"], "actual")
    assert planned["dosing_weight_kg"] == pytest.approx(weight)
    assert len(body["checklist"]) == 7
    assert body["blocking"] == []
    return sid


def test_a_session_runs_through_the_api_from_check_in_to_discharge(client, token_for) -> None:
    nurse, prescriber = token_for("nurse.mia"), token_for("prescriber.mia")
    sid = ready_session(client, nurse)
    base = f"/api/v1/sessions/{sid}"
    body = post(client, f"{base}/start", nurse, {"lot_number": "LOT-9", "pump_id": "PUMP-4"})
    assert body["state"] == "running"
    assert body["administration"][0]["kind"] == "start"
    refused = client.post(f"{base}/transitions", json={"transition": "resume"}, headers=nurse)
    assert refused.status_code == 409
    assert refused.json()["error"] == {
        "code": "illegal_transition",
        "message": "cannot resume: the infusion is not paused",
    }
    for step in ("pause", "resume", "complete"):
        post(client, f"{base}/transitions", nurse, {"transition": step})
    post(client, f"{base}/transitions", nurse, {"transition": "begin_observation"})
    post(client, f"{base}/dissociation", nurse, {"timepoint": "pre_discharge", "items": [0] * 6})
    aldrete = {"activity": 2, "respiration": 2, "circulation": 2, "consciousness": 2, "spo2": 2}
    body = post(
        client,
        f"{base}/discharge-assessment",
        nurse,
        {
            "aldrete": aldrete,
            "escort_confirmed": True,
            "mental_status_attested": True,
            "dissociation_attested": True,
        },
    )
    assert body["readiness"]["ready"] is False
    assert [u.split(":")[0] for u in body["readiness"]["unmet"]] == ["observation_time"]
    not_ready = client.post(f"{base}/discharge", json={}, headers=nurse)
    assert (not_ready.status_code, not_ready.json()["error"]["code"]) == (409, "override_required")
    nurse_override = client.post(
        f"{base}/discharge", json={"override_reason": "ride waiting"}, headers=nurse
    )
    assert nurse_override.status_code == 403
    body = post(client, f"{base}/discharge", prescriber, {"override_reason": "ride waiting"})
    assert body["state"] == "discharged"
    assert body["transitions"][-1]["override_reason"] == "ride waiting"
    assert [t["transition"] for t in body["transitions"]] == [
        "begin_checks",
        "start",
        "pause",
        "resume",
        "complete",
        "begin_observation",
        "discharge",
    ]
    active = client.get("/api/v1/sessions?state=active", headers=nurse).json()["items"]
    assert sid not in [s["id"] for s in active]


def test_a_chair_in_use_is_a_conflict(client, token_for) -> None:
    response = client.post(
        "/api/v1/sessions",
        json={"chair": "MIA-1", "mrn": "DEMO-0009"},
        headers=token_for("nurse.mia"),
    )
    assert response.status_code == 409
    assert "MIA-1 is occupied" in response.json()["error"]["message"]


def test_a_dose_must_match_the_order_and_the_orders_override_covers_its_soft_limit(
    client, token_for
) -> None:
    nurse = token_for("nurse.mia")
    sid = client.post(
        "/api/v1/sessions", json={"chair": "MIA-4", "mrn": "DEMO-0009"}, headers=nurse
    ).json()["id"]
    checks = f"/api/v1/sessions/{sid}/checks"
    patient_id, weight = weight_of(client, nurse, "DEMO-0009")
    # 0.6 mg/kg (0.9 mg/kg/h over 40 min): above the soft limits, below the hard ones; the
    # prescriber gives a reason and nurse.mia confirms as the second person.
    order = order_for(client, patient_id, 0.6, override_reason="partial response at 0.5 mg/kg")
    confirmed = client.post(
        f"/api/v1/dose-orders/{order['id']}/override-confirmation", headers=nurse
    )
    assert confirmed.status_code == 200, confirmed.text
    hard = {"dose_mg": 200, "concentration_mg_per_ml": 2, "volume_ml": 100, "rate_ml_per_h": 150}
    response = client.post(checks, json={"item": "dose_verified", "dose": hard}, headers=nurse)
    assert response.status_code == 422
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("invalid_input", "dose_mg")
    assert f"order #{order['id']}" in error["message"]
    concentration = round(0.6 * weight / 100, 4)
    soft = {
        "dose_mg": round(concentration * 100, 2),
        "concentration_mg_per_ml": concentration,
        "volume_ml": 100,
        "rate_ml_per_h": 150,
    }
    body = post(client, checks, nurse, {"item": "dose_verified", "dose": soft})
    (line,) = [c for c in body["checklist"] if c["item"] == "dose_verified"]
    assert line["outcome"] == "passed"
    assert "soft limit overridden: partial response at 0.5 mg/kg" in line["note"]
    assert body["planned_dose"]["limit"] == "soft"
    assert body["planned_dose"]["order_id"] == order["id"]


def lower_clinic_limit(demo, quantity: str, soft: float, hard: float) -> None:
    """The director approves lower clinic values for a feder-2021 limit (soft first: it must
    stay inside the hard one)."""
    with demo.uow() as uow:
        director = Actor(principal_of(uow.users.by_username("director.mia")), "test")
    for level, value in (("soft", soft), ("hard", hard)):
        with demo.uow() as uow:
            dosing_library.set_limit(
                uow,
                demo.clock,
                director,
                protocol_id="feder-2021",
                quantity=quantity,
                level=level,
                value=value,
                reason="clinic ceiling for new patients",
            )


def test_a_hard_limit_the_clinic_lowered_after_the_order_is_refused_at_the_chair(
    client, token_for, demo
) -> None:
    nurse = token_for("nurse.mia")
    sid = client.post(
        "/api/v1/sessions", json={"chair": "MIA-4", "mrn": "DEMO-0009"}, headers=nurse
    ).json()["id"]
    patient_id, _ = weight_of(client, nurse, "DEMO-0009")
    order_for(client, patient_id, 0.5)
    lower_clinic_limit(demo, "dose_mg_per_kg", 0.4, 0.45)
    response = client.post(
        f"/api/v1/sessions/{sid}/checks", json={"item": "dose_verified"}, headers=nurse
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("hard_limit", "dose_mg_per_kg")
    assert "0.45" in error["message"]


def test_vitals_and_alerts_through_the_api(client, token_for) -> None:
    nurse = token_for("nurse.mia")
    active = client.get("/api/v1/sessions?state=active&site=MIA", headers=nurse).json()["items"]
    running = next(s for s in active if s["mrn"] == "DEMO-0001")
    path = f"/api/v1/sessions/{running['id']}/vitals"
    reading = {
        "code": "8867-4",
        "value": 118,
        "unit": "bpm",
        "observed_at": NOW(),
        "source": "manual",
    }
    body = post(client, path, nurse, {"readings": [reading]}, 201)
    assert [(r["kind"], r["value"], r["unit"], r["flag"]) for r in body["items"]] == [
        ("heart_rate", 118.0, "/min", "")
    ]
    alerts = client.get("/api/v1/alerts?state=open&site=MIA", headers=nurse).json()["items"]
    (hr,) = [a for a in alerts if a["rule"] == "hr_during_infusion"]
    assert (hr["tier"], hr["state"], hr["value"], hr["threshold"]) == (
        "clinical",
        "raised",
        118.0,
        110.0,
    )
    assert "Sanacora 2017" in hr["source"]
    acked = post(
        client,
        f"/api/v1/alerts/{hr['id']}/acknowledge",
        nurse,
        {"action_taken": "paused, reassessed"},
    )
    assert acked["state"] == "acknowledged"
    again = client.post(
        f"/api/v1/alerts/{hr['id']}/acknowledge", json={"action_taken": "x"}, headers=nurse
    )
    assert again.status_code == 409
    assert (
        post(client, f"/api/v1/alerts/{hr['id']}/resolve", nurse, {"note": "HR 92"})["state"]
        == "resolved"
    )
    listed = client.get(path, headers=nurse).json()["items"]
    assert any(r["value"] == 118.0 for r in listed)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"unit": "kPa"}, "unit"),
        ({"code": "1234-5"}, "code"),
        ({"observed_at": "2026-11-24T10:00:00"}, "observed_at"),
        ({"value": 999}, "value"),
    ],
)
def test_bad_vitals_name_the_field_and_store_nothing(client, token_for, change, field) -> None:
    nurse = token_for("nurse.mia")
    active = client.get("/api/v1/sessions?state=active&site=MIA", headers=nurse).json()["items"]
    sid = next(s for s in active if s["mrn"] == "DEMO-0001")["id"]
    before = len(client.get(f"/api/v1/sessions/{sid}/vitals", headers=nurse).json()["items"])
    reading = {"code": "8867-4", "value": 80, "unit": "/min", "observed_at": NOW()} | change
    response = client.post(
        f"/api/v1/sessions/{sid}/vitals", json={"readings": [reading]}, headers=nurse
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"].endswith(field)
    after = len(client.get(f"/api/v1/sessions/{sid}/vitals", headers=nurse).json()["items"])
    assert after == before


def test_staff_see_only_their_sites_sessions(client, token_for) -> None:
    fll = token_for("nurse.fll")
    sessions = client.get("/api/v1/sessions?state=all", headers=fll).json()["items"]
    assert sessions
    assert {s["site"] for s in sessions} == {"FLL"}
    assert client.get("/api/v1/sessions?site=MIA", headers=fll).json()["items"] == []
    mia = client.get("/api/v1/sessions", headers=token_for("nurse.mia")).json()["items"]
    response = client.get(f"/api/v1/sessions/{mia[0]['id']}", headers=fll)
    assert response.status_code == 404
    assert "DEMO-" not in response.text
