"""Issue 3 over the API on SQLite and PostgreSQL (the demo clinic): the baseline found from the
chair and the schedule, a patient's responses as a paginated FHIR searchset, safety tasks
listed and closed with the action taken, and the director's cohort report by site and
protocol."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from fhir.resources.R4B.bundle import Bundle

from ketaclinic.adapters.db import tables as t
from ketaclinic.adapters.db import tables_mbc as m


def patient_id(demo, mrn: str) -> int:
    with demo.engine.connect() as conn:
        return conn.execute(sa.select(t.patient.c.id).where(t.patient.c.mrn == mrn)).scalar_one()


def count(demo, table, *where) -> int:
    with demo.engine.connect() as conn:
        return conn.execute(
            sa.select(sa.func.count()).select_from(table).where(*where)
        ).scalar_one()


def pcl5_items(total: int) -> list[dict[str, object]]:
    return [
        {"linkId": f"pcl5_{n:02d}", "answer": min(4, max(0, total - 4 * (n - 1)))}
        for n in range(1, 21)
    ]


def patient_with_history(client, headers, mrn: str, history: list[tuple[int, int]]) -> int:
    """A new MIA patient with PCL-5 totals ``(days ago, total)`` entered through the API."""
    made = client.post(
        "/api/v1/patients",
        json={
            "site": "MIA",
            "mrn": mrn,
            "given_name": "Test",
            "family_name": "Baseline",
            "birth_date": "1980-05-05",
            "sex": "female",
        },
        headers=headers,
    )
    assert made.status_code == 201, made.text
    pid = made.json()["id"]
    now = dt.datetime.now(dt.UTC)
    for days_ago, total in history:
        authored = (now - dt.timedelta(days=days_ago, hours=1)).isoformat()
        sent = client.post(
            f"/api/v1/patients/{pid}/questionnaire-responses",
            json={"questionnaire": "pcl5", "item": pcl5_items(total), "authored": authored},
            headers=headers,
        )
        assert sent.status_code == 201, sent.text
    return pid


def book_visit(demo, pid: int, starts_at: dt.datetime) -> None:
    from ketaclinic.services.intake_models import NewVisit, Series, TreatmentPlan

    with demo.uow() as uow:
        patient = uow.patients.get(pid)
        chair = uow.sites.chairs(patient.site_id)[-1]
        by = uow.users.by_username("prescriber.mia").id
        plan = uow.schedule.add_plan(
            TreatmentPlan(0, pid, "abdallah-2022", 0.5, starts_at.date(), by, starts_at)
        )
        uow.schedule.add_series(
            Series(0, pid, patient.site_id, plan.id, "abdallah-2022", by, starts_at),
            [NewVisit(chair.id, 1, starts_at, starts_at + dt.timedelta(hours=2), local(starts_at))],
        )
        uow.commit()


def start_infusion(demo, pid: int, minutes_ago: float) -> None:
    import random

    from ketaclinic.services.demo_chair import Target, build_session

    with demo.uow() as uow:
        patient = uow.patients.get(pid)
        chair = uow.sites.add_chair(patient.site_id, f"T-{pid}", "Test chair")
        build_session(
            uow,
            patient=patient,
            chair=chair,
            nurse=uow.users.by_username("nurse.mia"),
            prescriber=uow.users.by_username("prescriber.mia"),
            now=dt.datetime.now(dt.UTC),
            target=Target.RUNNING,
            rng=random.Random(pid),
            started_min_ago=minutes_ago,
        )
        uow.commit()


def local(at: dt.datetime) -> dt.date:
    return at.astimezone(ZoneInfo("America/New_York")).date()


def test_the_baseline_follows_the_first_visit_then_the_first_session(client, demo, token_for):
    headers = token_for("nurse.mia")
    pid = patient_with_history(client, headers, "BASE-1", [(30, 60), (20, 55), (12, 50), (2, 30)])
    path = f"/api/v1/patients/{pid}/outcomes"
    now = dt.datetime.now(dt.UTC)
    # Nothing recorded: the first PCL-5 on record.
    body = client.get(path, headers=headers).json()
    assert body["first_infusion"] is None
    assert "first PCL-5 on record" in body["baseline_rule"]
    assert body["outcome"]["baseline"]["total"] == 60
    # A visit booked 15 days ago (no session): the baseline is the PCL-5 of 20 days ago.
    visit = now - dt.timedelta(days=15)
    book_visit(demo, pid, visit)
    body = client.get(path, headers=headers).json()
    assert body["first_infusion"]["source"] == "visit"
    assert body["first_infusion"]["protocol_id"] == "abdallah-2022"
    assert body["first_infusion"]["on"] == local(visit).isoformat()
    assert body["outcome"]["baseline"]["total"] == 55
    assert [p["total"] for p in body["outcome"]["points"]] == [50, 30]
    assert "first booked visit of the abdallah-2022 series" in body["baseline_reason"]
    # An infusion that really started 5 days ago wins over the booked visit.
    start_infusion(demo, pid, 5 * 24 * 60)
    body = client.get(path, headers=headers).json()
    assert body["first_infusion"]["source"] == "session"
    assert body["outcome"]["baseline"]["total"] == 50
    assert [p["total"] for p in body["outcome"]["points"]] == [30]
    assert "infusion session started" in body["baseline_reason"]


def test_responses_come_as_a_paginated_fhir_searchset(client, demo, token_for):
    pid = patient_id(demo, "DEMO-0025")  # a completed series and weeks of scores after it
    headers = token_for("nurse.mia")
    total = count(demo, m.questionnaire_response, m.questionnaire_response.c.patient_id == pid)
    first = client.get(f"/api/v1/patients/{pid}/questionnaire-responses?_count=5", headers=headers)
    assert first.status_code == 200, first.text
    body = first.json()
    Bundle.model_validate(body)  # a valid FHIR R4B Bundle
    assert (body["resourceType"], body["type"], body["total"]) == ("Bundle", "searchset", total)
    resources = [e["resource"] for e in body["entry"]]
    assert len(resources) == 5
    authored = [r["authored"] for r in resources]
    assert authored == sorted(authored, reverse=True)
    one = resources[0]
    assert one["resourceType"] == "QuestionnaireResponse"
    assert one["questionnaire"].startswith("urn:ketaclinic:questionnaire:")
    assert one["subject"]["reference"] == f"Patient/pat-{pid}"
    assert one["item"][0]["answer"][0]["valueInteger"] >= 0
    links = {link["relation"]: link["url"] for link in body["link"]}
    assert "_offset=5" in links["next"]
    after = client.get(links["next"].split("testserver", 1)[1], headers=headers).json()
    assert after["entry"][0]["resource"]["id"] != one["id"]
    assert "previous" in {link["relation"] for link in after["link"]}
    last = client.get(
        f"/api/v1/patients/{pid}/questionnaire-responses?_count=100&_offset={total - 1}",
        headers=headers,
    ).json()
    assert len(last["entry"]) == 1
    assert "next" not in {link["relation"] for link in last["link"]}


def test_listing_responses_is_for_clinicians_of_the_patients_site(client, demo, token_for):
    pid = patient_id(demo, "DEMO-0011")
    path = f"/api/v1/patients/{pid}/questionnaire-responses"
    assert client.get(path, headers=token_for("frontdesk.mia")).status_code == 403
    assert client.get(path, headers=token_for("nurse.fll")).status_code == 404
    bad = client.get(f"{path}?_count=0", headers=token_for("nurse.mia"))
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "invalid_input"


def test_prescribers_list_their_sites_safety_tasks(client, demo, token_for):
    body = client.get("/api/v1/safety-tasks", headers=token_for("prescriber.mia")).json()
    demo_task = [i for i in body["items"] if i["patient_id"] == patient_id(demo, "DEMO-0003")]
    assert len(demo_task) == 1
    assert demo_task[0]["site"] == "MIA"
    assert demo_task[0]["reason_label"] == "PHQ-9 item 9 positive"
    assert demo_task[0]["status"] == "open"
    fll = client.get("/api/v1/safety-tasks", headers=token_for("prescriber.fll")).json()
    assert all(i["site"] == "FLL" for i in fll["items"])
    assert client.get("/api/v1/safety-tasks", headers=token_for("nurse.mia")).status_code == 403
    one_site = client.get("/api/v1/safety-tasks?site=FLL", headers=token_for("director.mia"))
    assert one_site.json()["items"] == []  # not a site of theirs


def test_a_task_closes_over_the_api_only_with_an_action(client, demo, token_for):
    headers = token_for("prescriber.mia")
    task = client.get("/api/v1/safety-tasks", headers=headers).json()["items"][0]
    path = f"/api/v1/safety-tasks/{task['id']}/close"
    missing = client.post(path, json={}, headers=headers)
    assert missing.status_code == 422
    assert missing.json()["error"]["field"] == "action"
    blank = client.post(path, json={"action": "   "}, headers=headers)
    assert blank.status_code == 422
    assert blank.json()["error"]["field"] == "action"
    assert (
        client.post(path, json={"action": "Called"}, headers=token_for("nurse.mia")).status_code
        == 403
    )
    assert (
        client.post(
            path, json={"action": "Called"}, headers=token_for("prescriber.fll")
        ).status_code
        == 404
    )
    assert (
        count(
            demo, m.safety_task, m.safety_task.c.id == task["id"], m.safety_task.c.status == "open"
        )
        == 1
    )
    closed = client.post(path, json={"action": "Phoned; safety plan reviewed."}, headers=headers)
    assert closed.status_code == 200, closed.text
    assert (closed.json()["status"], closed.json()["action"]) == (
        "closed",
        "Phoned; safety plan reviewed.",
    )
    assert client.post(path, json={"action": "again"}, headers=headers).status_code == 409
    everything = client.get("/api/v1/safety-tasks?status=all", headers=headers).json()
    assert task["id"] in [i["id"] for i in everything["items"] if i["status"] == "closed"]


def test_the_director_gets_the_cohort_report_as_json(client, token_for):
    response = client.get("/api/v1/reports/outcomes", headers=token_for("director.mia"))
    assert response.status_code == 200, response.text
    body = response.json()
    groupings = [(g["grouping"], g["group"]) for g in body["groups"]]
    assert groupings[:2] == [("all", "All sites"), ("site", "MIA")]
    protocols = [g for g, _ in groupings].count("protocol")
    assert protocols >= 2
    assert {"feder-2021", "none"} <= {name for kind, name in groupings if kind == "protocol"}
    overall = body["groups"][0]["summary"]
    assert overall["n"] > 0
    assert "Feder 2021" in body["definitions"]["response"]
    assert "protocol" in body["grouping"]
    assert (
        client.get("/api/v1/reports/outcomes", headers=token_for("prescriber.mia")).status_code
        == 403
    )
    bad = client.get(
        "/api/v1/reports/outcomes?from=2026-12-01&to=2026-11-01", headers=token_for("director.mia")
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "to"
