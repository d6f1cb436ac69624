"""The chair's pages on SQLite and PostgreSQL: the board and its event stream, checking a
patient in and running the infusion through the forms, errors shown beside the form with
nothing stored, refusals with their reason, the printable record and instructions."""

from __future__ import annotations

import re

import sqlalchemy as sa

from ketaclinic.adapters.db import tables as t
from ketaclinic.adapters.db import tables_chair as c
from ketaclinic.domain.dosing import BagPreparation
from ketaclinic.services import dosing
from ketaclinic.services.audit import Actor
from ketaclinic.services.auth import principal_of
from ketaclinic.services.dosing_calc import DoseRequest


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


def running_session(demo) -> int:
    with demo.engine.connect() as conn:
        return conn.execute(
            sa.select(c.infusion_session.c.id)
            .join(t.patient, t.patient.c.id == c.infusion_session.c.patient_id)
            .where(t.patient.c.mrn == "DEMO-0001", c.infusion_session.c.state == "running")
        ).scalar_one()


def readings(demo, session_id: int) -> int:
    with demo.engine.connect() as conn:
        return conn.execute(
            sa.select(sa.func.count())
            .select_from(c.session_vital)
            .where(c.session_vital.c.session_id == session_id)
        ).scalar_one()


def test_the_board_shows_every_chair_of_the_site_and_says_monitors_are_secondary(
    client, login_as
) -> None:
    login_as("nurse.mia")
    page = client.get("/board")
    assert page.status_code == 200
    for chair in ("MIA-1", "MIA-2", "MIA-3", "MIA-4"):
        assert f'data-chair="{chair}"' in page.text
    assert "DEMO-0001" in page.text
    assert "FLL-1" not in page.text
    assert "Monitor feeds are a secondary aid" in page.text
    assert 'data-rule="spo2_low"' in page.text  # the demo's acknowledged alert
    assert "style=" not in page.text  # the CSP forbids inline styles: none are sent


def test_the_board_stream_sends_the_board_as_server_sent_events(client, login_as) -> None:
    login_as("nurse.mia")
    response = client.get("/board/stream?once=1")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.text.startswith("retry: 3000\n\nevent: board\ndata: ")
    assert 'data-chair="MIA-1"' in response.text
    assert response.text.endswith("\n\n")


def test_a_nurse_checks_a_patient_in_and_starts_through_the_forms(client, login_as, demo) -> None:
    login_as("nurse.mia")
    chair = client.get("/chairs/MIA-4")
    assert "Check in a patient" in chair.text
    moved = client.post(
        "/chairs/MIA-4/check-in",
        data={"csrf_token": csrf(chair.text), "mrn": "DEMO-0009", "protocol": "feder-2021"},
        follow_redirects=False,
    )
    assert moved.status_code == 303
    path = moved.headers["location"]
    page = client.get(path)
    token = csrf(page.text)
    with demo.uow() as uow:
        patient = uow.patients.by_mrn("DEMO-0009")
        weight = uow.patients.measurements(patient.id)[-1].weight_kg
    concentration = int(0.5 * weight / 100 * 1e4) / 1e4  # rounded down: rate stays ≤ 0.75 mg/kg/h
    assert 'data-testid="no-order"' in page.text  # nothing to verify until the prescriber orders
    assert f'action="{path}/dose"' not in page.text
    order_id = order_dose(demo, "DEMO-0009")
    page = client.get(path)
    assert (
        f'Verified order <a href="/patients/{patient.id}/dose-orders/{order_id}">#{order_id}</a>'
        in page.text
    )
    assert 'name="rate_ml_per_h" type="number" value="150"' in page.text  # filled in from it
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
        ("start", {"lot_number": "LOT-77", "pump_id": "PUMP-4"}),
    ]
    for action, data in forms:
        done = client.post(
            f"{path}/{action}", data={"csrf_token": token, **data}, follow_redirects=False
        )
        assert done.status_code == 303, f"{action}: {done.text[-600:]}"
    page = client.get(path)
    assert "Infusing" in page.text
    assert "LOT-77" in page.text
    link = f'<a href="/patients/{patient.id}/dose-orders/{order_id}">#{order_id}</a>'
    assert f'data-testid="session-order">dose order {link}, actual weight' in page.text
    assert f'src="{path}/concentration.svg' in page.text


def test_bad_vitals_re_render_with_the_error_beside_the_form_and_store_nothing(
    client, login_as, demo
) -> None:
    login_as("nurse.mia")
    sid = running_session(demo)
    page = client.get(f"/sessions/{sid}")
    before = readings(demo, sid)
    response = client.post(
        f"/sessions/{sid}/vitals",
        data={"csrf_token": csrf(page.text), "systolic": "130", "heart_rate": "abc"},
    )
    assert response.status_code == 422
    assert 'id="vitals-error"' in response.text
    assert "heart_rate" in response.text
    assert 'aria-invalid="true"' in response.text
    assert readings(demo, sid) == before


def test_a_refused_step_re_renders_with_its_reason(client, login_as, demo) -> None:
    login_as("nurse.mia")
    sid = running_session(demo)
    page = client.get(f"/sessions/{sid}")
    response = client.post(
        f"/sessions/{sid}/pump", data={"csrf_token": csrf(page.text), "step": "resume"}
    )
    assert response.status_code == 409
    assert "cannot resume: the infusion is not paused" in response.text


def test_a_director_reads_the_chair_but_gets_no_forms(client, login_as, demo) -> None:
    login_as("director.mia")
    page = client.get(f"/sessions/{running_session(demo)}")
    assert page.status_code == 200
    assert "Read only" in page.text
    assert '/vitals" class="vitals-form"' not in page.text


def test_the_record_and_the_instructions_print(client, login_as, demo) -> None:
    login_as("nurse.mia")
    sid = running_session(demo)
    record = client.get(f"/sessions/{sid}/record")
    assert record.status_code == 200
    for heading in ("Timeline", "Administration record", "Vital signs", "Alerts", "CADSS-6"):
        assert heading in record.text
    assert "/static/chair.css" in record.text
    chart = client.get(f"/sessions/{sid}/vitals.svg")
    assert chart.headers["content-type"] == "image/svg+xml"
    assert chart.content.lstrip().startswith(b"<?xml")
    instructions = client.get(f"/sessions/{sid}/instructions")
    assert "24 hours" in instructions.text
    assert "Nervana Medical" in instructions.text
