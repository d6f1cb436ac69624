"""The whole intake journey through the staff and public pages (form posts, as a browser sends
them), once per engine: a visitor screens and inquires → the front desk registers the lead →
the nurse records the intake → the prescriber signs eligibility → the patient consents → the
prescriber signs the plan → the front desk books the series → the day view shows every visit.
Its twin over the API is test_full_journey_http.py."""

from __future__ import annotations

import datetime as dt
import re
import time
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from ketaclinic.adapters.db import tables as t
from ketaclinic.adapters.db import tables_intake as ti
from ketaclinic.web.pages.intake_guard import MIN_FILL_S

MIAMI = ZoneInfo("America/New_York")


def csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found is not None, name
    return found.group(1)


def test_from_the_public_screening_to_a_booked_series_through_the_pages(
    client, demo, login_as
) -> None:
    today = dt.datetime.now(MIAMI).date()

    # 1. the visitor screens (nothing stored) and inquires
    answers = {f"s{i:02d}": "2" for i in range(1, 21)} | {"months": "14"}
    questions = ("high_blood_pressure", "heart_disease", "stroke", "pregnancy", "psychosis")
    answers |= {f"h_{q}": "no" for q in (*questions, "substance_use")}
    screened = client.post("/screening", data=answers)
    assert screened.status_code == 200
    assert 'href="/inquiry' in screened.text
    form = client.get("/inquiry")
    time.sleep(MIN_FILL_S + 0.2)  # the form refuses a submission faster than a person types
    sent = client.post(
        "/inquiry",
        data={
            "name": "Marisol Quenby",
            "email": "marisol.q@example.org",
            "site": "MIA",
            "message": "I read about the infusions and would like an evaluation.",
            "contact_consent": "yes",
            "website": "",
            "form_token": hidden(form.text, "form_token"),
            "lang": "en",
        },
    )
    assert sent.status_code == 200, sent.text[:500]

    # 2. the front desk registers the lead as a patient
    login_as("frontdesk.mia")
    queue = client.get("/leads").text
    after_name = queue[queue.index("Marisol Quenby") :]
    lead_id = re.search(r'href="/leads/(\d+)/register"', after_name).group(1)
    page = client.get(f"/leads/{lead_id}/register")
    registered = client.post(
        f"/leads/{lead_id}/register",
        data={
            "csrf_token": csrf(page.text),
            "mrn": "PAGES-1",
            "given_name": "Marisol",
            "family_name": "Quenby",
            "birth_date": "1987-06-30",
            "sex": "female",
        },
        follow_redirects=False,
    )
    assert registered.status_code == 303, registered.text[:500]
    with demo.engine.connect() as conn:
        pid = conn.execute(
            sa.select(t.patient.c.id).where(t.patient.c.mrn == "PAGES-1")
        ).scalar_one()
    blocked = client.get(f"/patients/{pid}/series")
    assert "Book whole series" not in blocked.text

    # 3. the nurse records the intake
    login_as("nurse.mia")
    page = client.get(f"/patients/{pid}/intake")
    intake = {
        "csrf_token": csrf(page.text),
        "assessment_date": (today - dt.timedelta(days=1)).isoformat(),
        "trauma_date": "2023-02-11",
        "bp_systolic": "122",
        "bp_diastolic": "78",
        "heart_rate": "71",
        "spo2": "98",
        "weight_kg": "64",
        "height_cm": "165",
        "weight_confirmed": "yes",
    }
    intake |= {f"p{i:02d}": "3" for i in range(1, 21)} | {f"q{i}": "1" for i in range(1, 10)}
    intake["q9"] = "0"
    recorded = client.post(f"/patients/{pid}/intake", data=intake)
    assert recorded.status_code == 200, recorded.text[:500]

    # 4. the prescriber reads the result and signs it
    login_as("prescriber.mia")
    review = client.get(f"/patients/{pid}/eligibility")
    assert '<span class="badge ok">eligible</span>' in review.text
    signed = client.post(f"/patients/{pid}/eligibility", data={"csrf_token": csrf(review.text)})
    assert signed.status_code == 200, signed.text[:500]

    # 5. the patient consents, the nurse witnessing
    login_as("nurse.mia")
    page = client.get(f"/patients/{pid}/consent")
    consented = client.post(
        f"/patients/{pid}/consent",
        data={"csrf_token": csrf(page.text), "signer_name": "Marisol Quenby", "language": "en"},
    )
    assert consented.status_code == 200, consented.text[:500]

    # 6. the prescriber signs the plan
    login_as("prescriber.mia")
    start = today + dt.timedelta(days=84)
    page = client.get(f"/patients/{pid}/plan")
    planned = client.post(
        f"/patients/{pid}/plan",
        data={
            "csrf_token": csrf(page.text),
            "protocol_id": "abdallah-2022",
            "dose_mg_per_kg": "0.5",
            "start_date": start.isoformat(),
        },
    )
    assert planned.status_code == 200, planned.text[:500]

    # 7. the front desk books the whole series
    login_as("frontdesk.mia")
    page = client.get(f"/patients/{pid}/series")
    assert "Book whole series" in page.text
    booked = client.post(
        f"/patients/{pid}/series",
        data={"csrf_token": csrf(page.text), "start_date": start.isoformat()},
    )
    assert booked.status_code == 200, booked.text[:500]
    assert "Series booked: 8 visits" in booked.text

    # 8. the day view shows each visit on its day
    with demo.engine.connect() as conn:
        days = conn.execute(
            sa.select(ti.series_visit.c.local_day, ti.series_visit.c.number)
            .where(ti.series_visit.c.patient_id == pid)
            .order_by(ti.series_visit.c.starts_at)
        ).all()
    assert [n for _, n in days] == list(range(1, 9))
    assert days[0].local_day >= start
    for day, number in days:
        view = client.get(f"/schedule?date={day.isoformat()}")
        assert "PAGES-1" in view.text
        assert f"visit {number}/8" in view.text
