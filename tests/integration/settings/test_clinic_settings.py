"""Clinic values of alert rules and outcome definitions, on SQLite and PostgreSQL: the director
sets the SpO2 alarm level and readings (at the chair and from the bedside monitor) alarm per
the clinic value with the clinic's provenance; a reset returns to the default; out-of-range and
unsafe values are refused with nothing stored; a nurse may read but not set (audited 403); an
outcome definition changes a patient's classification. The demo has DEMO-0001 infusing."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from ketaclinic.adapters.db import tables as t
from ketaclinic.adapters.db import tables_chair as c
from ketaclinic.adapters.db.monitor_sink import DatabaseSink
from ketaclinic.adapters.db.tables_settings import clinic_setting
from ketaclinic.adapters.hl7.parser import parse_oru

ALERTS = "/api/v1/settings/alert-rules"
OUTCOMES = "/api/v1/settings/outcome-definitions"


def session_id(demo, mrn: str = "DEMO-0001") -> int:
    with demo.engine.connect() as conn:
        return conn.execute(
            sa.select(c.infusion_session.c.id)
            .join(t.patient, t.patient.c.id == c.infusion_session.c.patient_id)
            .where(t.patient.c.mrn == mrn, c.infusion_session.c.active_patient_id.is_not(None))
        ).scalar_one()


def spo2_alerts(demo, sid: int) -> list:
    with demo.uow() as uow:
        stored = uow.chair.session_alerts([sid], open_only=True)
    return [s.alert for s in stored if s.alert.rule_key == "spo2_low"]


def resolve_open_spo2(client, demo, sid: int, headers) -> None:
    """The demo's session already had an SpO2 dip (acknowledged); close it so a new one shows."""
    for alert in spo2_alerts(demo, sid):
        answer = client.post(
            f"/api/v1/alerts/{alert.id}/resolve", json={"note": "recovered"}, headers=headers
        )
        assert answer.status_code == 200, answer.text
    assert not spo2_alerts(demo, sid)


def stored_settings(demo) -> int:
    with demo.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(clinic_setting)).scalar_one()


def put(client, headers, url: str, key: str, value, reason: str = "Clinic protocol v2"):
    return client.put(url, json={"key": key, "value": value, "reason": reason}, headers=headers)


def spo2_row(client, headers) -> dict:
    body = client.get(ALERTS, headers=headers).json()
    return next(s for s in body["settings"] if s["key"] == "spo2_min")


def test_manual_reading_alarms_per_the_clinic_value_and_reset_restores(
    client, demo, token_for
) -> None:
    director, nurse = token_for("director.mia"), token_for("nurse.mia")
    sid = session_id(demo)
    resolve_open_spo2(client, demo, sid, nurse)
    row = spo2_row(client, nurse)
    assert (row["value"], row["default"], row["clinic_value"]) == (92, 92, False)
    assert "modified Aldrete" in row["source"]

    assert put(client, director, ALERTS, "spo2_min", 95).status_code == 200
    row = spo2_row(client, nurse)
    assert row["value"] == 95
    assert row["clinic_value"]
    assert row["approved_by"] == "director.mia"

    now = dt.datetime.now(dt.UTC).isoformat()
    reading = {"code": "59408-5", "value": 94, "unit": "%", "observed_at": now}
    answer = client.post(
        f"/api/v1/sessions/{sid}/vitals", json={"readings": [reading]}, headers=nurse
    )
    assert answer.status_code == 201, answer.text
    (alert,) = spo2_alerts(demo, sid)
    assert alert.first.threshold.value == 95
    label = alert.first.source.label()
    assert "clinic value (approved by director.mia on" in label
    assert "default 92 %" in label
    assert "modified Aldrete" in label

    assert put(client, director, ALERTS, "spo2_min", None).status_code == 200
    row = spo2_row(client, nurse)
    assert (row["value"], row["clinic_value"]) == (92, False)
    assert "modified Aldrete" in row["source"]
    assert "clinic value" not in row["source"]


def oru(control_id: str, spo2: int) -> bytes:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S+0000")
    return "\r".join(
        [
            f"MSH|^~\\&|BEDSIDE|DEMO-MIA|KETACLINIC|DEMO|{stamp}||ORU^R01^ORU_R01|{control_id}|P|2.6",
            "PID|1||DEMO-0001^^^DEMO^MR",
            "PV1|1|O|MIA-1",
            f"OBR|1|||85353-1^Vital signs^LN|||{stamp}",
            f"OBX|1|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC||{spo2}|%|||||F|||{stamp}",
        ]
    ).encode()


def test_monitor_readings_use_the_clinic_value(client, demo, token_for) -> None:
    director = token_for("director.mia")
    sid = session_id(demo)
    resolve_open_spo2(client, demo, sid, token_for("nurse.mia"))
    sink = DatabaseSink(demo.engine)
    sink.store([parse_oru(oru("SET-1", 94))])
    assert not spo2_alerts(demo, sid)  # default 92 %: no alarm

    assert put(client, director, ALERTS, "spo2_min", 95).status_code == 200
    sink.store([parse_oru(oru("SET-2", 94))])
    (alert,) = spo2_alerts(demo, sid)
    assert alert.first.threshold.value == 95
    assert "clinic value (approved by director.mia" in alert.first.source.label()


def test_out_of_range_and_unsafe_values_are_refused_unstored(client, demo, token_for) -> None:
    director = token_for("director.mia")
    before = stored_settings(demo)
    cases = [
        ("spo2_min", 79, "80"),  # unsafe: silent in severe desaturation
        ("spo2_min", 120, "50–99"),  # not a plausible SpO2 limit
        ("bp_infusion_systolic", 230, "220"),  # unsafe stop limit
        ("hr_max", -5, "60–220"),
        ("no_such_rule", 90, "one of"),
    ]
    for key, value, expected in cases:
        answer = put(client, director, ALERTS, key, value)
        assert answer.status_code == 422, (key, answer.text)
        assert expected in answer.text
        assert "key" in answer.text or key in answer.text
    short = put(client, director, ALERTS, "spo2_min", 94, reason="no")
    assert short.status_code == 422
    assert "reason" in short.text
    assert stored_settings(demo) == before


def test_limits_out_of_order_are_refused_until_the_other_limit_makes_room(
    client, demo, token_for
) -> None:
    director = token_for("director.mia")
    before = stored_settings(demo)
    # The hold limit above the no-infusion-today limit (180): refused, naming that limit.
    refused = put(client, director, ALERTS, "pre_bp_hold_systolic", 190)
    assert refused.status_code == 422, refused.text
    assert "pre_bp_absolute_systolic" in refused.text
    assert "at most 180" in refused.text
    assert stored_settings(demo) == before
    # Raising the upper limit first makes room; then the hold limit may follow.
    assert put(client, director, ALERTS, "pre_bp_absolute_systolic", 200).status_code == 200
    assert put(client, director, ALERTS, "pre_bp_hold_systolic", 190).status_code == 200
    # Resetting the upper limit alone would put it (180) under the hold limit (190).
    reset = put(client, director, ALERTS, "pre_bp_absolute_systolic", None)
    assert reset.status_code == 422, reset.text
    assert "at least 190" in reset.text
    assert stored_settings(demo) == before + 2


def test_nurse_may_read_but_not_set_and_the_refusal_is_audited(client, demo, token_for) -> None:
    nurse = token_for("nurse.mia")
    assert client.get(OUTCOMES, headers=nurse).status_code == 200
    before = stored_settings(demo)
    assert put(client, nurse, ALERTS, "spo2_min", 94).status_code == 403
    assert stored_settings(demo) == before
    with demo.uow() as uow:
        last = list(uow.audit.entries())[-1].record
    assert (last.resource, last.outcome.value, last.username) == (
        "clinic_setting",
        "denied",
        "nurse.mia",
    )


def test_outcome_definition_changes_the_response_classification(
    client, demo, token_for, login_as
) -> None:
    director = token_for("director.mia")
    with demo.engine.connect() as conn:
        ids = conn.execute(sa.select(t.patient.c.id).order_by(t.patient.c.id)).scalars().all()
    # A demo patient whose latest PCL-5 meets the default response (≥ 30 % reduction).
    url, latest = next(
        (u, o["points"][-1])
        for u, o in (
            (u, client.get(u, headers=director).json().get("outcome"))
            for u in (f"/api/v1/patients/{i}/outcomes" for i in ids)
        )
        if o and o["points"] and o["points"][-1]["response"]
    )
    pct = latest["percent_change"]
    assert pct is not None
    assert pct > 0
    # A required reduction just above this patient's reduction makes them a non-responder.
    target = min(100, int(pct) + 1)
    assert (
        put(client, director, OUTCOMES, "pcl5.response_min_reduction_pct", target).status_code
        == 200
    )
    after = client.get(url, headers=director).json()["outcome"]
    assert after["points"][-1]["response"] is False
    assert "clinic value (approved by director.mia" in after["definitions"]["response"]
    login_as("director.mia")
    page = client.get(url.removeprefix("/api/v1"))
    assert page.status_code == 200
    assert f"reduction ≥ {target} %" in page.text
    assert "clinic value (approved by director.mia" in page.text


def test_director_page_lists_rules_and_refuses_an_unsafe_value(client, demo, login_as) -> None:
    import re

    login_as("director.mia")
    page = client.get("/admin/alert-rules")
    assert page.status_code == 200
    assert "SpO2 alarm level" in page.text
    assert "modified Aldrete" in page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    before = stored_settings(demo)
    form = {"csrf_token": token, "key": "spo2_min", "value": "75", "reason": "Too many alarms"}
    refused = client.post("/admin/alert-rules", data=form)
    assert refused.status_code == 422
    assert "Nothing was changed" in refused.text
    assert "at least 80 %" in refused.text
    assert stored_settings(demo) == before
    form["value"] = "90"
    done = client.post("/admin/alert-rules", data=form, follow_redirects=True)
    assert done.status_code == 200
    assert "approved by director.mia" in done.text


def test_the_session_chart_draws_the_clinic_value_not_the_default(
    client, demo, token_for, login_as
) -> None:
    director = token_for("director.mia")
    sid = session_id(demo)
    login_as("nurse.mia")
    before = client.get(f"/sessions/{sid}/vitals.svg").text
    assert "spo2 &lt; 92 [" in before or "spo2 < 92 [" in before

    assert put(client, director, ALERTS, "spo2_min", 95).status_code == 200
    after = client.get(f"/sessions/{sid}/vitals.svg").text
    assert "spo2 &lt; 95 [" in after or "spo2 < 95 [" in after
    assert "spo2 &lt; 92 [" not in after
    assert "spo2 < 92 [" not in after
