"""The clinic's eligibility thresholds, on SQLite and PostgreSQL (docs/eligibility.md, *Clinic
settings*): the director approves a PCL-5 cut-point above the default and the next intake is
evaluated against it, with the clinic's provenance; a reset returns to the default; values that
contradict another threshold or are unsafe are refused with nothing stored; a nurse reads but
may not set (audited 403); the settings page shows every threshold and flags the unverified
defaults."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from ketaclinic.adapters.db import tables as t
from ketaclinic.adapters.db.tables_settings import clinic_setting

URL = "/api/v1/settings/eligibility-rules"
MIAMI = ZoneInfo("America/New_York")


def patient_id(demo, mrn: str) -> int:  # type: ignore[no-untyped-def]
    with demo.engine.connect() as conn:
        return conn.execute(sa.select(t.patient.c.id).where(t.patient.c.mrn == mrn)).scalar_one()


def stored(demo) -> int:  # type: ignore[no-untyped-def]
    with demo.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(clinic_setting)).scalar_one()


def intake() -> dict[str, object]:
    """An intake without any reason at the defaults: PCL-5 total 40 (cut-point 33)."""
    today = dt.datetime.now(MIAMI).date()
    return {
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
        "conditions": [],
        "medications": [],
        "weight_confirmed": True,
    }


def put(client, headers, key: str, value, reason: str = "Clinic protocol v2"):  # type: ignore[no-untyped-def]
    return client.put(URL, json={"key": key, "value": value, "reason": reason}, headers=headers)


def row(client, headers, key: str) -> dict:  # type: ignore[no-untyped-def]
    return next(s for s in client.get(URL, headers=headers).json()["settings"] if s["key"] == key)


def test_a_clinic_cut_point_decides_the_next_intake_and_a_reset_restores_it(
    client, demo, token_for
) -> None:
    director, nurse = token_for("director.mia"), token_for("nurse.mia")
    pid = patient_id(demo, "DEMO-0021")
    before = client.post(f"/api/v1/patients/{pid}/intake", json=intake(), headers=nurse)
    assert before.status_code == 201, before.text
    assert before.json()["decision"] == "eligible"

    cut = row(client, nurse, "pcl5_cut_point")
    assert (cut["value"], cut["default"], cut["clinic_value"], cut["unverified"]) == (
        33,
        33,
        False,
        False,
    )
    assert cut["source"] == "[cited: VA PCL-5 guide, REFERENCE.md §8.1]"
    assert put(client, director, "pcl5_cut_point", 45).status_code == 200
    cut = row(client, nurse, "pcl5_cut_point")
    assert (cut["value"], cut["clinic_value"], cut["approved_by"]) == (45, True, "director.mia")
    assert cut["source"].startswith("[design: clinic value (approved by director.mia on ")

    after = client.post(f"/api/v1/patients/{pid}/intake", json=intake(), headers=nurse)
    assert after.status_code == 201, after.text
    result = after.json()
    assert result["decision"] == "needs_review"
    reason = result["reasons"][0]
    assert reason["code"] == "pcl5_below_cut_point"
    assert "cut-point 45" in reason["message"]
    assert "clinic value" in reason["source"]
    assert "default 33" in reason["source"]

    assert put(client, director, "pcl5_cut_point", None).status_code == 200
    again = client.post(f"/api/v1/patients/{pid}/intake", json=intake(), headers=nurse)
    assert again.json()["decision"] == "eligible"


def test_contradicting_or_unsafe_values_are_refused_and_nothing_is_stored(
    client, demo, token_for
) -> None:
    director = token_for("director.mia")
    count = stored(demo)
    above_absolute = put(client, director, "bp_hold_systolic", 190)
    assert above_absolute.status_code == 422
    error = above_absolute.json()["error"]
    assert error["field"] == "bp_hold_systolic"
    assert "at most bp_absolute_systolic (180)" in error["message"]
    unsafe = put(client, director, "phq9_item9_review_at", 2)
    assert unsafe.status_code == 422
    assert "suicide-risk" in unsafe.json()["error"]["message"]
    half_month = put(client, director, "min_symptom_months", 1.5)
    assert half_month.status_code == 422
    assert half_month.json()["error"]["field"] == "min_symptom_months"
    unknown = put(client, director, "pcl5_total", 40)
    assert unknown.status_code == 422
    assert unknown.json()["error"]["field"] == "key"
    assert stored(demo) == count
    # lowering the exclusion limit below the hold limit is refused the same way
    assert put(client, director, "bp_absolute_diastolic", 85).status_code == 422
    # …but both limits can be moved in the right order
    assert put(client, director, "bp_absolute_diastolic", 110).status_code == 200
    assert put(client, director, "bp_hold_diastolic", 95).status_code == 200
    assert stored(demo) == count + 2


def test_a_nurse_reads_the_thresholds_but_cannot_set_them(client, demo, token_for) -> None:
    nurse = token_for("nurse.mia")
    body = client.get(URL, headers=nurse).json()
    assert body["kind"] == "eligibility"
    keys = [s["key"] for s in body["settings"]]
    assert keys == [
        "bp_hold_systolic",
        "bp_hold_diastolic",
        "bp_absolute_systolic",
        "bp_absolute_diastolic",
        "heart_rate_max",
        "spo2_min",
        "min_symptom_months",
        "phq9_item9_review_at",
        "pcl5_cut_point",
        "age_min",
        "age_max",
    ]
    flagged = {s["key"] for s in body["settings"] if s["unverified"]}
    assert flagged == {
        "bp_hold_systolic",
        "bp_hold_diastolic",
        "heart_rate_max",
        "spo2_min",
        "phq9_item9_review_at",
    }
    count = stored(demo)
    refused = put(client, nurse, "pcl5_cut_point", 40)
    assert refused.status_code == 403
    assert stored(demo) == count
    front_desk = client.get(URL, headers=token_for("frontdesk.mia"))
    assert front_desk.status_code == 403


def test_the_directors_page_shows_the_thresholds_and_sets_one(client, login_as) -> None:
    login_as("director.mia")
    page = client.get("/admin/eligibility-rules")
    assert page.status_code == 200
    html = page.text
    assert "Eligibility rules" in html
    assert 'data-key="pcl5_cut_point"' in html
    assert "[cited: VA PCL-5 guide, REFERENCE.md §8.1]" in html
    assert html.count('data-testid="unverified"') == 5
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert token is not None
    bad = client.post(
        "/admin/eligibility-rules",
        data={"csrf_token": token.group(1), "key": "age_min", "value": "70", "reason": "x" * 12},
    )
    assert bad.status_code == 422
    assert "Nothing was changed: age_min: got 70" in bad.text
    done = client.post(
        "/admin/eligibility-rules",
        data={"csrf_token": token.group(1), "key": "age_max", "value": "75", "reason": "x" * 12},
        follow_redirects=False,
    )
    assert done.status_code == 303
    shown = client.get("/admin/eligibility-rules").text
    assert "approved by director.mia" in shown


def test_both_settings_pages_say_when_the_two_pcl5_cut_points_differ(
    client, demo, token_for, login_as
) -> None:
    director = token_for("director.mia")
    outcome_url = "/api/v1/settings/outcome-definitions"
    assert client.get(URL, headers=director).json()["notes"] == []
    assert put(client, director, "pcl5_cut_point", 40).status_code == 200
    for url in (URL, outcome_url):
        (note,) = client.get(url, headers=director).json()["notes"]
        assert "below 40 (Eligibility rules, pcl5_cut_point)" in note
        assert "from 33 (Outcome definitions, pcl5.cut_point)" in note
    login_as("director.mia")
    page = client.get("/admin/outcome-definitions")
    assert 'data-testid="settings-note"' in page.text
    # Both at 40: nothing to point out any more.
    moved = client.put(
        outcome_url,
        json={"key": "pcl5.cut_point", "value": 40, "reason": "Same cut-point as intake"},
        headers=director,
    )
    assert moved.status_code == 200, moved.text
    assert client.get(URL, headers=director).json()["notes"] == []
    assert 'data-testid="settings-note"' not in client.get("/admin/eligibility-rules").text
    # The alert rules never carry this note.
    assert client.get("/api/v1/settings/alert-rules", headers=director).json()["notes"] == []
