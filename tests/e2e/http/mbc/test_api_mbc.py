"""The measurement-based-care API on SQLite and PostgreSQL: instruments, scores, recording
responses and C-SSRS results, outcomes, self-report links; bad input changes nothing."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from ketaclinic.adapters.db import tables as t
from ketaclinic.adapters.db import tables_mbc as m
from ketaclinic.services import mbc_content
from ketaclinic.services.audit import SYSTEM
from ketaclinic.web.pages.mbc_public import self_report_throttle


@pytest.fixture(autouse=True)
def fresh_throttle():
    self_report_throttle.reset()
    yield
    self_report_throttle.reset()


def patient_id(demo, mrn: str) -> int:
    with demo.engine.connect() as conn:
        return conn.execute(sa.select(t.patient.c.id).where(t.patient.c.mrn == mrn)).scalar_one()


def count(demo, table) -> int:
    with demo.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def denied(demo) -> int:
    with demo.engine.connect() as conn:
        return conn.execute(
            sa.select(sa.func.count())
            .select_from(t.audit_event)
            .where(t.audit_event.c.action == "denied")
        ).scalar_one()


def phq9(*values: int) -> list[dict[str, object]]:
    return [{"linkId": f"phq9_{n:02d}", "answer": v} for n, v in enumerate(values, start=1)]


def test_instruments_have_labels_and_official_wording_only_once_loaded(client, demo, token_for):
    headers = token_for("frontdesk.mia")  # definitions hold no health data
    items = {i["id"]: i for i in client.get("/api/v1/instruments", headers=headers).json()["items"]}
    assert {"pcl5", "phq9", "gad7", "cssrs"} <= set(items)
    assert items["pcl5"]["items"][0]["linkId"] == "pcl5_01"
    assert items["pcl5"]["items"][0]["label"]["es"]
    assert items["gad7"]["content_packs"] == []
    pack = {
        "format": "ketaclinic.content-pack/1",
        "instrument": "gad7",
        "language": "en",
        "items": {f"gad7_{n:02d}": f"Clinic wording {n}" for n in range(1, 8)},
        "anchors": ["a", "b", "c", "d"],
    }
    import json

    with demo.uow() as uow:
        mbc_content.load_content_pack(uow, demo.clock, SYSTEM, json.dumps(pack))
    items = {i["id"]: i for i in client.get("/api/v1/instruments", headers=headers).json()["items"]}
    (loaded,) = items["gad7"]["content_packs"]
    assert loaded["items"]["gad7_03"] == "Clinic wording 3"


def test_a_nurse_records_a_phq9_and_reads_it_back(client, demo, token_for):
    headers = token_for("nurse.mia")
    pid = patient_id(demo, "DEMO-0005")
    response = client.post(
        f"/api/v1/patients/{pid}/questionnaire-responses",
        json={"questionnaire": "phq9", "item": phq9(2, 2, 1, 1, 1, 0, 0, 1, 0), "language": "es"},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["response"]["total"] == 8
    assert body["response"]["severity"] == "mild"
    assert body["response"]["source"] == "staff_entry"
    assert body["response"]["language"] == "es"
    assert body["safety_task"] is None
    scores = client.get(f"/api/v1/patients/{pid}/scores?instrument=phq9", headers=headers).json()
    assert scores["items"][-1]["id"] == body["response"]["id"]
    assert {r["instrument"] for r in scores["items"]} == {"phq9"}


def test_item_9_raises_a_safety_task_in_the_answer(client, demo, token_for):
    pid = patient_id(demo, "DEMO-0007")
    response = client.post(
        f"/api/v1/patients/{pid}/questionnaire-responses",
        json={"questionnaire": "phq9", "item": phq9(0, 0, 0, 0, 0, 0, 0, 0, 2)},
        headers=token_for("prescriber.mia"),
    )
    assert response.status_code == 201
    task = response.json()["safety_task"]
    assert task["reason"] == "phq9_item9_positive"
    assert task["status"] == "open"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"questionnaire": "phq9", "item": phq9(1, 1, 1, 1, 1, 1, 1, 1)}, "phq9_09"),
        ({"questionnaire": "phq9", "item": phq9(1, 1, 1, 1, 1, 1, 1, 1, None)}, "phq9_09"),
        ({"questionnaire": "phq9", "item": phq9(1, 1, 1, 1, 1, 1, 1, 1, 4)}, "phq9_09"),
        ({"questionnaire": "phq9", "item": phq9(*[1] * 9, 1)}, "phq9_10"),
        ({"questionnaire": "phq9", "item": [*phq9(*[1] * 9), *phq9(1)]}, "item[9].linkId"),
        ({"questionnaire": "nope", "item": phq9(*[1] * 9)}, "questionnaire"),
        ({"questionnaire": "cssrs", "item": []}, "questionnaire"),
        ({"questionnaire": "phq9", "item": phq9(*[1] * 9), "extra": 1}, "extra"),
        (
            {"questionnaire": "phq9", "item": phq9(*[1] * 9), "authored": "2099-01-01T00:00:00Z"},
            "completed_at",
        ),
    ],
)
def test_bad_responses_are_422_naming_the_field_and_store_nothing(
    client, demo, token_for, body, field
):
    pid = patient_id(demo, "DEMO-0005")
    before = count(demo, m.questionnaire_response)
    response = client.post(
        f"/api/v1/patients/{pid}/questionnaire-responses", json=body, headers=token_for("nurse.mia")
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_input"
    assert error.get("field") == field
    assert count(demo, m.questionnaire_response) == before


def test_a_repeated_submission_is_409_and_stores_one(client, demo, token_for):
    pid = patient_id(demo, "DEMO-0005")
    body = {
        "questionnaire": "gad7",
        "item": [{"linkId": f"gad7_{n:02d}", "answer": 1} for n in range(1, 8)],
        "authored": "2026-01-05T15:00:00+00:00",
    }
    headers = token_for("nurse.mia")
    url = f"/api/v1/patients/{pid}/questionnaire-responses"
    assert client.post(url, json=body, headers=headers).status_code == 201
    before = count(demo, m.questionnaire_response)
    again = client.post(url, json=body, headers=headers)
    assert again.status_code == 409
    assert again.json()["error"]["field"] == "completed_at"
    assert count(demo, m.questionnaire_response) == before


def test_front_desk_reading_or_writing_scores_is_403_and_audited(client, demo, token_for):
    pid = patient_id(demo, "DEMO-0003")
    headers = token_for("frontdesk.mia")
    before = denied(demo)
    assert client.get(f"/api/v1/patients/{pid}/scores", headers=headers).status_code == 403
    assert client.get(f"/api/v1/patients/{pid}/outcomes", headers=headers).status_code == 403
    stored = count(demo, m.questionnaire_response)
    response = client.post(
        f"/api/v1/patients/{pid}/questionnaire-responses",
        json={"questionnaire": "phq9", "item": phq9(*[0] * 9)},
        headers=headers,
    )
    assert response.status_code == 403
    assert count(demo, m.questionnaire_response) == stored
    assert denied(demo) == before + 3


def test_another_sites_patient_is_not_found(client, demo, token_for):
    pid = patient_id(demo, "DEMO-0003")  # MIA
    response = client.get(f"/api/v1/patients/{pid}/scores", headers=token_for("nurse.fll"))
    assert response.status_code == 404


def test_a_positive_cssrs_entry_raises_a_task(client, demo, token_for):
    pid = patient_id(demo, "DEMO-0009")
    response = client.post(
        f"/api/v1/patients/{pid}/cssrs-results",
        json={
            "form": "lifetime_recent",
            "risk_level": "high",
            "positive_questions": [1, 2, 6],
            "q6_within_3_months": True,
            "action": "Escorted to emergency assessment",
        },
        headers=token_for("prescriber.mia"),
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["response"]["total"] is None
    assert body["response"]["cssrs"]["risk_level"] == "high"
    assert body["response"]["cssrs"]["risk_level_source"] == "clinician"
    assert body["safety_task"]["reason"] == "suicide_risk_review"


def test_a_cssrs_entry_against_the_skip_logic_is_422(client, demo, token_for):
    pid = patient_id(demo, "DEMO-0009")
    before = count(demo, m.cssrs_result)
    response = client.post(
        f"/api/v1/patients/{pid}/cssrs-results",
        json={"form": "since_last_contact", "risk_level": "low", "positive_questions": [5]},
        headers=token_for("prescriber.mia"),
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "positive_questions"
    assert count(demo, m.cssrs_result) == before


def test_outcomes_state_baseline_change_and_their_sources(client, demo, token_for):
    # A scored demo patient with no plan, series or session (one waiting for the prescriber,
    # screened weeks before the intake) is anchored on the first PCL-5.
    pid = unanchored_patient(demo)
    body = client.get(f"/api/v1/patients/{pid}/outcomes", headers=token_for("nurse.mia")).json()
    outcome = body["outcome"]
    assert body["instrument"] == "pcl5"
    assert "first PCL-5 on record" in body["baseline_rule"]
    assert body["first_infusion"] is None
    assert outcome["baseline"]["total"] > 0
    assert len(outcome["points"]) >= 1  # the intake's scores after the screening's
    point = outcome["points"][-1]
    assert point["change"] == outcome["baseline"]["total"] - point["total"]
    assert "Feder 2021" in outcome["definitions"]["response"]
    assert "unverified" in outcome["definitions"]["remission"]


def unanchored_patient(demo) -> int:
    """A MIA demo patient with PCL-5 scores and no plan, booked visit or infusion session."""
    from ketaclinic.adapters.db import tables_chair as ch
    from ketaclinic.adapters.db import tables_intake as ti

    anchored = sa.union(
        sa.select(ch.infusion_session.c.patient_id),
        sa.select(ti.series_visit.c.patient_id),
        sa.select(ti.treatment_plan.c.patient_id),
    )
    with demo.engine.connect() as conn:
        return conn.execute(
            sa.select(t.patient.c.id)
            .join(t.site, t.site.c.id == t.patient.c.site_id)
            .where(
                t.site.c.code == "MIA",
                t.patient.c.id.in_(sa.select(m.questionnaire_response.c.patient_id)),
                t.patient.c.id.not_in(anchored),
            )
            .order_by(t.patient.c.id)
            .limit(1)
        ).scalar_one()


def test_a_self_report_link_from_the_api_is_answered_once(client, demo, token_for):
    pid = patient_id(demo, "DEMO-0013")
    headers = token_for("nurse.mia")
    created = client.post(
        f"/api/v1/patients/{pid}/self-report-links",
        json={"instruments": ["phq9"], "send_email": True},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    link = created.json()
    assert link["mailed"] is False  # mail is off in tests
    path = link["url"].split("testserver", 1)[1]
    page = client.get(path)
    assert page.status_code == 200
    csrf = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    answers = {f"phq9_{n:02d}": "1" for n in range(1, 9)} | {"phq9_09": "0"}
    done = client.post(path, data={"csrf_token": csrf, "language": "en", **answers})
    assert done.status_code == 200
    scores = client.get(f"/api/v1/patients/{pid}/scores?instrument=phq9", headers=headers).json()
    latest = scores["items"][-1]
    assert (latest["source"], latest["total"], latest["entered_by"]) == ("self_report", 8, None)
    assert (
        client.post(path, data={"csrf_token": csrf, "language": "en", **answers}).status_code == 410
    )


def test_the_clinic_pcl5_cut_point_is_shown_with_its_source_and_scores_entries(
    client, demo, token_for, login_as
):
    url = "/api/v1/settings/outcome-definitions"
    nurse = token_for("nurse.mia")
    row = next(
        s for s in client.get(url, headers=nurse).json()["settings"] if s["key"] == "pcl5.cut_point"
    )
    assert (row["default"], row["value"], row["clinic_value"]) == (33, 33, False)
    assert row["default_source"] == "[cited: VA PCL-5 guide, REFERENCE.md §8.1]"
    assert (row["accepted_min"], row["accepted_max"]) == (0, 80)
    director = token_for("director.mia")
    refused = client.put(
        url, json={"key": "pcl5.cut_point", "value": 90, "reason": "typo"}, headers=director
    )
    assert refused.status_code == 422
    changed = client.put(
        url,
        json={"key": "pcl5.cut_point", "value": 31, "reason": "Screening: lower end"},
        headers=director,
    )
    assert changed.status_code == 200, changed.text
    row = next(
        s for s in client.get(url, headers=nurse).json()["settings"] if s["key"] == "pcl5.cut_point"
    )
    assert (row["value"], row["clinic_value"], row["approved_by"]) == (31, True, "director.mia")
    assert "default 33 {score}, source cited: VA PCL-5 guide" in row["source"]
    pid = patient_id(demo, "DEMO-0005")
    # 12 × 2 + 8 × 1 = 32: below the shipped 33, at or above the clinic's 31.
    values = [2] * 12 + [1] * 8
    items = [{"linkId": f"pcl5_{n:02d}", "answer": v} for n, v in enumerate(values, start=1)]
    recorded = client.post(
        f"/api/v1/patients/{pid}/questionnaire-responses",
        json={"questionnaire": "pcl5", "item": items},
        headers=nurse,
    )
    assert recorded.status_code == 201, recorded.text
    assert recorded.json()["response"]["total"] == 32
    assert "probable_ptsd_cut_point" in recorded.json()["response"]["flags"]
    login_as("nurse.mia")
    page = client.get("/admin/outcome-definitions")
    assert "PCL-5 probable PTSD cut-point" in page.text
    assert "[cited: VA PCL-5 guide, REFERENCE.md §8.1]" in page.text


def test_a_positive_item_9_over_the_api_e_mails_the_responsible_prescriber_without_identity(
    client, demo, token_for, smtp_inbox
):
    """End to end: the API, the safety routing and the SMTP notifier against a real SMTP
    server on loopback. The e-mail names only the internal patient id (docs/mbc.md: no name,
    MRN or score is e-mailed)."""
    from ketaclinic.adapters.db import tables_intake as ti
    from ketaclinic.adapters.notify.smtp import EXTRAS_KEY, SmtpNotifier, build_notifier

    notifier = build_notifier(
        demo.settings.model_copy(
            update={
                "smtp_host": "127.0.0.1",
                "smtp_port": smtp_inbox.port,
                "smtp_sender": "ketaclinic@clinic.example",
            }
        )
    )
    assert isinstance(notifier, SmtpNotifier)
    demo.extras[EXTRAS_KEY] = notifier
    pid = patient_id(demo, "DEMO-0005")
    with demo.engine.connect() as conn:
        patient = conn.execute(sa.select(t.patient).where(t.patient.c.id == pid)).one()
        signer = conn.execute(
            sa.select(ti.treatment_plan.c.signed_by)
            .where(ti.treatment_plan.c.patient_id == pid)
            .order_by(ti.treatment_plan.c.signed_at.desc(), ti.treatment_plan.c.id.desc())
            .limit(1)
        ).scalar_one()
        address = conn.execute(
            sa.select(t.staff_user.c.email).where(t.staff_user.c.id == signer)
        ).scalar_one()
    assert address  # the demo's responsible prescriber can be reached
    response = client.post(
        f"/api/v1/patients/{pid}/questionnaire-responses",
        json={"questionnaire": "phq9", "item": phq9(1, 1, 0, 0, 0, 0, 0, 0, 1)},
        headers=token_for("nurse.mia"),
    )
    assert response.status_code == 201, response.text
    task = response.json()["safety_task"]
    assert task["reason"] == "phq9_item9_positive"
    ((mail_from, recipients, message),) = smtp_inbox.received
    assert mail_from == "ketaclinic@clinic.example"
    assert recipients == [address]
    assert message["Subject"] == "ketaclinic: a safety review is due today"
    body = message.get_payload(decode=True).decode()
    assert f"patient {pid} (internal id)" in body
    text = f"{message['Subject']}\n{body}"
    for secret in (
        patient.mrn,
        patient.given_name,
        patient.family_name,
        patient.birth_date.isoformat(),
        "PHQ",
        "item 9",
    ):
        assert secret not in text, secret
    with demo.engine.connect() as conn:
        notified = conn.execute(
            sa.select(m.safety_task.c.notified_at).where(m.safety_task.c.id == task["id"])
        ).scalar_one()
    assert notified is not None


def test_answers_in_fhirs_shape_score_the_same_as_plain_values(client, demo, token_for):
    headers = token_for("nurse.mia")
    pid = patient_id(demo, "DEMO-0005")
    url = f"/api/v1/patients/{pid}/questionnaire-responses"
    values = (2, 2, 1, 1, 1, 0, 0, 1, 0)
    fhir = [
        {"linkId": f"phq9_{n:02d}", "answer": [{"valueInteger": v}]}
        for n, v in enumerate(values, start=1)
    ]
    fhir[4] = {"linkId": "phq9_05", "answer": 1}  # the two shapes may be mixed
    recorded = client.post(
        url,
        json={"questionnaire": "phq9", "item": fhir, "authored": "2026-11-01T10:00:00Z"},
        headers=headers,
    )
    assert recorded.status_code == 201, recorded.text
    plain = client.post(
        url,
        json={"questionnaire": "phq9", "item": phq9(*values), "authored": "2026-11-01T11:00:00Z"},
        headers=headers,
    )
    assert plain.status_code == 201, plain.text
    first, second = recorded.json()["response"], plain.json()["response"]
    for key in ("answers", "total", "severity", "flags"):
        assert first[key] == second[key], key
    assert first["total"] == 8


@pytest.mark.parametrize(
    ("answer", "field", "expected"),
    [
        ([{"valueInteger": 1}, {"valueInteger": 2}], "item[3].answer", "one answer"),
        ([], "phq9_04", "missing"),  # FHIR's "not answered": the item is named as missing
        ([{"valueInteger": 9}], "phq9_04", "0–3"),
    ],
)
def test_a_bad_fhir_answer_is_refused_naming_the_item_and_nothing_is_stored(
    client, demo, token_for, answer, field, expected
):
    pid = patient_id(demo, "DEMO-0005")
    items = [{"linkId": f"phq9_{n:02d}", "answer": [{"valueInteger": 0}]} for n in range(1, 10)]
    items[3]["answer"] = answer
    before = count(demo, m.questionnaire_response)
    refused = client.post(
        f"/api/v1/patients/{pid}/questionnaire-responses",
        json={"questionnaire": "phq9", "item": items},
        headers=token_for("nurse.mia"),
    )
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["field"] == field
    assert expected in error["message"]
    assert count(demo, m.questionnaire_response) == before


def test_one_instrument_definition_by_id(client, demo, token_for):
    headers = token_for("frontdesk.mia")  # definitions hold no health data
    found = client.get("/api/v1/instruments/pcl5-week", headers=headers)
    assert found.status_code == 200, found.text
    body = found.json()
    listed = {
        i["id"]: i for i in client.get("/api/v1/instruments", headers=headers).json()["items"]
    }
    assert body == listed["pcl5-week"]
    assert len(body["items"]) == 20
    assert body["total_range"] == [0, 80]
    missing = client.get("/api/v1/instruments/pcl6", headers=headers)
    assert missing.status_code == 404
    assert "pcl6" in missing.json()["error"]["message"]
    assert "pcl5" in missing.json()["error"]["message"]  # names the known ids
    assert client.get("/api/v1/instruments/pcl5").status_code == 401
