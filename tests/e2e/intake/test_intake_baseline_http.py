"""The intake's baseline answers reach measurement-based care, over HTTP on SQLite and
PostgreSQL: through the API (with the optional ``gad7``) and the staff form (its GAD-7 part is
optional but all-or-nothing), a positive PHQ-9 item 9 raises the same-day safety task, and the
scores are listed with source ``intake``. DEMO-0021 (MIA) has an intake only."""

from __future__ import annotations

import re

import sqlalchemy as sa

from ketaclinic.adapters.db import tables_intake as ti
from ketaclinic.adapters.db import tables_mbc as m

from .test_intake_api import intake, patient_id
from .test_staff_pages import intake_form, last_weight


def csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def rows(demo, table, *where) -> list:  # type: ignore[no-untyped-def]
    with demo.engine.connect() as conn:
        return list(conn.execute(sa.select(table).where(*where)))


def test_item_9_at_intake_raises_a_safety_task_and_the_scores_are_intake_responses(
    client, demo, token_for
) -> None:
    pid = patient_id(demo, "DEMO-0021")
    nurse = token_for("nurse.mia")
    body = intake(phq9=[1] * 8 + [1], gad7=[2, 2, 1, 1, 0, 0, 1])
    response = client.post(f"/api/v1/patients/{pid}/intake", json=body, headers=nurse)
    assert response.status_code == 201, response.text
    scores = client.get(f"/api/v1/patients/{pid}/scores", headers=nurse).json()
    baseline = {r["instrument"]: r for r in scores["items"] if r["source"] == "intake"}
    assert set(baseline) >= {"pcl5", "phq9", "gad7"}
    assert (baseline["pcl5"]["total"], baseline["phq9"]["total"]) == (40, 9)
    assert baseline["gad7"]["total"] == 7
    assert "phq9_item9_positive" in baseline["phq9"]["flags"]
    (task,) = [t for t in scores["safety_tasks"] if t["status"] == "open"]
    assert task["reason"] == "phq9_item9_positive"


def test_a_bad_gad7_in_the_api_is_named_and_nothing_is_stored(client, demo, token_for) -> None:
    pid = patient_id(demo, "DEMO-0021")
    before = (len(rows(demo, ti.intake_assessment)), len(rows(demo, m.questionnaire_response)))
    response = client.post(
        f"/api/v1/patients/{pid}/intake",
        json=intake(gad7=[1, 1, 1, 1, 1, 1, 9]),
        headers=token_for("nurse.mia"),
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "gad7[6]"
    after = (len(rows(demo, ti.intake_assessment)), len(rows(demo, m.questionnaire_response)))
    assert after == before


def test_the_intake_form_takes_an_optional_gad7(client, demo, login_as) -> None:
    login_as("nurse.mia")
    pid = patient_id(demo, "DEMO-0021")
    page = client.get(f"/patients/{pid}/intake")
    assert "GAD-7 baseline (past two weeks, optional)" in page.text
    assert 'name="g7"' in page.text
    weight = str(last_weight(demo, "DEMO-0021"))
    token = csrf(page.text)
    partial = client.post(
        f"/patients/{pid}/intake",
        data=intake_form(weight_kg=weight, g1="2") | {"csrf_token": token},
    )
    assert partial.status_code == 422
    # The answers are the score-entry radio groups (templates/mbc/_instrument.html).
    assert re.search(r'name="g2" value="\d"[^>]*aria-invalid="true"', partial.text)
    assert 'id="problem-g2"' in partial.text
    assert 'name="g1" value="2" checked' in partial.text
    of_patient = (
        m.questionnaire_response.c.patient_id == pid,
        m.questionnaire_response.c.instrument_id == "gad7",
    )
    before = {r.id for r in rows(demo, m.questionnaire_response, *of_patient)}
    whole = intake_form(weight_kg=weight) | {f"g{n}": "1" for n in range(1, 8)}
    saved = client.post(
        f"/patients/{pid}/intake", data=whole | {"csrf_token": token}, follow_redirects=False
    )
    assert saved.status_code == 303, saved.text[-500:]
    added = [r for r in rows(demo, m.questionnaire_response, *of_patient) if r.id not in before]
    assert [(r.total, r.source) for r in added] == [(7, "intake")]
