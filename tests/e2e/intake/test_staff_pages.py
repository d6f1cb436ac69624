"""The staff pages of intake on SQLite and PostgreSQL with the demo clinic: leads to patients,
the intake form, signing eligibility, consent, booking and the day view, the decision."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from ketaclinic.adapters.db import tables_intake as ti
from ketaclinic.adapters.db.tables import audit_event, patient

MIAMI = ZoneInfo("America/New_York")


def csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def patient_id(demo, mrn: str) -> int:  # type: ignore[no-untyped-def]
    with demo.engine.connect() as conn:
        return conn.execute(sa.select(patient.c.id).where(patient.c.mrn == mrn)).scalar_one()


def count(demo, table, *where) -> int:  # type: ignore[no-untyped-def]
    with demo.engine.connect() as conn:
        stmt = sa.select(sa.func.count()).select_from(table)
        for condition in where:
            stmt = stmt.where(condition)
        return conn.execute(stmt).scalar_one()


def today() -> dt.date:
    return dt.datetime.now(MIAMI).date()


def test_the_front_desk_registers_a_lead_as_a_patient(client, demo, login_as) -> None:
    login_as("frontdesk.mia")
    queue = client.get("/leads")
    assert queue.status_code == 200
    assert "Marta Quiroga" in queue.text
    with demo.engine.connect() as conn:
        lead_id = conn.execute(
            sa.select(ti.lead.c.id).where(ti.lead.c.name == "Marta Quiroga")
        ).scalar_one()
    form = client.get(f"/leads/{lead_id}/register")
    assert 'value="Marta"' in form.text
    assert 'value="Quiroga"' in form.text
    response = client.post(
        f"/leads/{lead_id}/register",
        data={
            "csrf_token": csrf(form.text),
            "mrn": "LEAD-1",
            "given_name": "Marta",
            "family_name": "Quiroga",
            "birth_date": "1979-04-02",
            "sex": "female",
            "email": "marta.q@example.org",
            "preferred_language": "es",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    new_id = patient_id(demo, "LEAD-1")
    assert response.headers["location"] == f"/patients/{new_id}"
    with demo.engine.connect() as conn:
        lead = conn.execute(sa.select(ti.lead).where(ti.lead.c.id == lead_id)).one()
    assert (lead.status, lead.patient_id) == ("converted", new_id)
    assert lead.handled_by is not None
    assert "Marta Quiroga" not in client.get("/leads").text


def test_a_bad_registration_re_renders_and_stores_nothing(client, demo, login_as) -> None:
    login_as("frontdesk.mia")
    with demo.engine.connect() as conn:
        lead_id = conn.execute(
            sa.select(ti.lead.c.id).where(ti.lead.c.name == "Jordan Pike")
        ).scalar_one()
    page = client.get(f"/leads/{lead_id}/register")
    patients = count(demo, patient)
    response = client.post(
        f"/leads/{lead_id}/register",
        data={"csrf_token": csrf(page.text), "mrn": "DEMO-0001", "given_name": "Jordan",
              "family_name": "Pike", "birth_date": "1990-01-01", "sex": "male"},
    )  # fmt: skip
    assert response.status_code == 422
    assert "already registered" in response.text
    assert count(demo, patient) == patients
    assert count(demo, ti.lead, ti.lead.c.id == lead_id, ti.lead.c.status == "new") == 1


def intake_form(**changes: str) -> dict[str, str]:
    form = {
        "assessment_date": today().isoformat(),
        "trauma_date": "2022-05-01",
        "bp_systolic": "124",
        "bp_diastolic": "78",
        "heart_rate": "72",
        "spo2": "98",
        "height_cm": "170",
        "conditions": "psychosis_history",
        "medications": "sertraline\nprazosin",
        "allergies": "none",
    }
    form |= {f"p{i:02d}": "3" for i in range(1, 21)} | {f"q{i}": "1" for i in range(1, 10)}
    form["q9"] = "0"
    form.update(changes)
    return form


def last_weight(demo, mrn: str) -> float:  # type: ignore[no-untyped-def]
    with demo.engine.connect() as conn:
        return conn.execute(
            sa.text(
                "SELECT weight_kg FROM body_measurement m JOIN patient p ON p.id = m.patient_id "
                "WHERE p.mrn = :mrn ORDER BY m.measured_at DESC, m.id DESC LIMIT 1"
            ),
            {"mrn": mrn},
        ).scalar_one()


def test_an_intake_with_a_future_trauma_date_is_refused_next_to_the_field(
    client, demo, login_as
) -> None:
    login_as("nurse.mia")
    pid = patient_id(demo, "DEMO-0021")
    page = client.get(f"/patients/{pid}/intake")
    assert page.status_code == 200
    weight = str(last_weight(demo, "DEMO-0021"))
    before = count(demo, ti.intake_assessment)
    tomorrow = (today() + dt.timedelta(days=1)).isoformat()
    response = client.post(
        f"/patients/{pid}/intake",
        data=intake_form(trauma_date=tomorrow, weight_kg=weight) | {"csrf_token": csrf(page.text)},
    )
    assert response.status_code == 422
    assert "trauma_date: got" in response.text
    assert 'id="trauma_date"' in response.text
    assert re.search(r'id="trauma_date"[^>]*aria-invalid="true"', response.text)
    assert 'value="sertraline\nprazosin"' not in response.text  # a textarea keeps its text inside
    assert "sertraline\nprazosin</textarea>" in response.text
    assert count(demo, ti.intake_assessment) == before


def test_a_doubtful_weight_asks_for_the_nurses_confirmation(client, demo, login_as) -> None:
    login_as("nurse.mia")
    pid = patient_id(demo, "DEMO-0021")
    token = csrf(client.get(f"/patients/{pid}/intake").text)
    pounds = f"{last_weight(demo, 'DEMO-0021') * 2.2046:.1f}"
    first = client.post(
        f"/patients/{pid}/intake", data=intake_form(weight_kg=pounds) | {"csrf_token": token}
    )
    assert first.status_code == 422
    assert "likely pounds entered as kilograms" in first.text
    assert 'name="weight_confirmed"' in first.text
    confirmed = client.post(
        f"/patients/{pid}/intake",
        data=intake_form(weight_kg=pounds, weight_confirmed="yes") | {"csrf_token": token},
        follow_redirects=False,
    )
    assert confirmed.status_code == 303
    assert confirmed.headers["location"] == f"/patients/{pid}/eligibility"
    page = client.get(f"/patients/{pid}/eligibility")
    assert "confirmed after check" in page.text
    assert "psychosis_history" in page.text


def test_the_front_desk_cannot_sign_eligibility_and_the_attempt_is_audited(
    client, demo, login_as
) -> None:
    login_as("frontdesk.mia")
    pid = patient_id(demo, "DEMO-0003")
    token = csrf(client.get("/leads").text)
    denied = count(demo, audit_event, audit_event.c.action == "denied")
    response = client.post(
        f"/patients/{pid}/eligibility", data={"csrf_token": token, "action": "sign"}
    )
    assert response.status_code == 403
    assert count(demo, audit_event, audit_event.c.action == "denied") == denied + 1
    assert count(demo, ti.eligibility_signoff, ti.eligibility_signoff.c.patient_id == pid) == 0


def test_the_prescriber_overrides_needs_review_with_a_reason(client, demo, login_as) -> None:
    login_as("prescriber.mia")
    pid = patient_id(demo, "DEMO-0003")
    page = client.get(f"/patients/{pid}/eligibility")
    assert "needs review" in page.text
    assert "Override and sign: eligible" in page.text
    blank = client.post(
        f"/patients/{pid}/eligibility",
        data={"csrf_token": csrf(page.text), "action": "override", "reason": "  "},
    )
    assert blank.status_code == 422
    assert "reason: got" in blank.text
    signed = client.post(
        f"/patients/{pid}/eligibility",
        data={"csrf_token": csrf(page.text), "action": "override",
              "reason": "Brief episode in 2011, none since; psychiatry agrees."},
    )  # fmt: skip
    assert signed.status_code == 200
    assert "Override of needs review" in signed.text
    assert "Brief episode in 2011" in signed.text


def test_a_new_consent_version_asks_patients_to_consent_again(client, demo, login_as) -> None:
    login_as("director.mia")
    admin = client.get("/admin/consent")
    assert "signed by patients: immutable" in admin.text
    created = client.post(
        "/admin/consent",
        data={"csrf_token": csrf(admin.text), "body_en": "Version two text", "body_es": "Dos"},
        follow_redirects=False,
    )
    assert created.status_code == 303
    login_as("nurse.mia")
    pid = patient_id(demo, "DEMO-0001")
    page = client.get(f"/patients/{pid}/consent")
    assert 'data-testid="consent-missing"' in page.text
    assert "Version two text" in page.text
    recorded = client.post(
        f"/patients/{pid}/consent",
        data={"csrf_token": csrf(page.text), "signer_name": "Typed Name", "language": "en"},
    )
    assert recorded.status_code == 200
    assert 'data-testid="consent-current"' in recorded.text
    assert "Typed Name" in recorded.text


def test_the_front_desk_books_a_series_and_sees_it_on_the_day_view(client, demo, login_as) -> None:
    login_as("frontdesk.mia")
    pid = patient_id(demo, "DEMO-0005")
    page = client.get(f"/patients/{pid}/series")
    assert "Book whole series" in page.text
    start = today() + dt.timedelta(days=21)
    booked = client.post(
        f"/patients/{pid}/series",
        data={"csrf_token": csrf(page.text), "start_date": start.isoformat()},
    )
    assert booked.status_code == 200
    assert "Series booked: 6 visits" in booked.text
    with demo.engine.connect() as conn:
        first = conn.execute(
            sa.select(ti.series_visit.c.local_day)
            .where(ti.series_visit.c.patient_id == pid)
            .order_by(ti.series_visit.c.starts_at)
        ).first()
    day = client.get(f"/schedule?date={first.local_day.isoformat()}")
    assert day.status_code == 200
    assert "DEMO-0005" in day.text
    assert "visit 1/6" in day.text


def test_a_patient_who_is_not_cleared_is_not_booked(client, demo, login_as) -> None:
    login_as("frontdesk.mia")
    pid = patient_id(demo, "DEMO-0003")
    page = client.get(f"/patients/{pid}/series")
    assert "cannot be booked yet" in page.text
    response = client.post(
        f"/patients/{pid}/series",
        data={"csrf_token": csrf(page.text), "start_date": today().isoformat()},
    )
    assert response.status_code == 409
    assert "not signed by a prescriber" in response.text
    assert count(demo, ti.treatment_series, ti.treatment_series.c.patient_id == pid) == 0


def test_a_series_starting_in_the_past_is_refused(client, demo, login_as) -> None:
    login_as("frontdesk.mia")
    pid = patient_id(demo, "DEMO-0005")
    page = client.get(f"/patients/{pid}/series")
    response = client.post(
        f"/patients/{pid}/series",
        data={"csrf_token": csrf(page.text), "start_date": "2020-01-06"},
    )
    assert response.status_code == 422
    assert "start_date: got &#39;2020-01-06&#39;" in response.text


def test_the_prescriber_decides_after_the_last_infusion(client, demo, login_as) -> None:
    login_as("prescriber.mia")
    pid = patient_id(demo, "DEMO-0017")
    with demo.engine.connect() as conn:
        series_id = conn.execute(
            sa.select(ti.treatment_series.c.id).where(ti.treatment_series.c.patient_id == pid)
        ).scalar_one()
    page = client.get(f"/patients/{pid}/series/{series_id}/review")
    assert page.status_code == 200
    assert "Baseline:" in page.text
    decided = client.post(
        f"/patients/{pid}/series/{series_id}/decision",
        data={"csrf_token": csrf(page.text), "decision": "stop", "note": "No response."},
    )
    assert decided.status_code == 200
    assert 'data-testid="decision"' in decided.text
    assert "Stop" in decided.text
    again = client.post(
        f"/patients/{pid}/series/{series_id}/decision",
        data={"csrf_token": csrf(page.text), "decision": "continue"},
    )
    assert again.status_code == 409
    assert "already recorded" in again.text
