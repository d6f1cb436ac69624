"""The director's chairs page on SQLite and PostgreSQL with the demo clinic: a chair put into
service is booked like the others; one with visits ahead cannot be retired; a retired chair
takes no new visit or session while its past visits keep naming it."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from ketaclinic.adapters.db import tables as t
from ketaclinic.adapters.db import tables_intake as ti

MIAMI = ZoneInfo("America/New_York")


def csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def chairs(demo) -> dict[str, object]:  # type: ignore[no-untyped-def]
    with demo.engine.connect() as conn:
        rows = conn.execute(sa.select(t.chair.c.code, t.chair.c.retired_at)).all()
    return dict(rows)


def chair_id(demo, code: str) -> int:  # type: ignore[no-untyped-def]
    with demo.engine.connect() as conn:
        return conn.execute(sa.select(t.chair.c.id).where(t.chair.c.code == code)).scalar_one()


def chair_audit(demo) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    with demo.engine.connect() as conn:
        rows = conn.execute(
            sa.select(t.audit_event.c.action, t.audit_event.c.detail)
            .where(t.audit_event.c.resource == "chair")
            .order_by(t.audit_event.c.seq)
        ).all()
    return [(str(action), detail) for action, detail in rows]


def test_the_director_adds_a_chair_and_retires_it(client, demo, login_as) -> None:
    login_as("director.mia")
    page = client.get("/admin/chairs")
    assert page.status_code == 200
    assert all(f"MIA-{n}" in page.text for n in range(1, 5))
    added = client.post(
        "/admin/chairs",
        data={"csrf_token": csrf(page.text), "code": "mia-9", "name": "Window chair"},
        follow_redirects=False,
    )
    assert added.status_code == 303
    listed = client.get("/admin/chairs")
    assert "Chair MIA-9 is in service." in listed.text
    assert "Window chair" in listed.text
    assert chairs(demo)["MIA-9"] is None

    # A new chair is offered like the others: the day view has a column for it.
    tomorrow = dt.datetime.now(MIAMI).date() + dt.timedelta(days=1)
    assert "MIA-9" in client.get(f"/schedule?date={tomorrow.isoformat()}").text

    retired = client.post(
        f"/admin/chairs/{chair_id(demo, 'MIA-9')}/retire",
        data={"csrf_token": csrf(listed.text)},
        follow_redirects=False,
    )
    assert retired.status_code == 303
    after = client.get("/admin/chairs")
    assert "Chair MIA-9 is retired" in after.text
    assert re.search(r"MIA-9.*?retired \d{4}-\d\d-\d\d", after.text, re.S)
    assert chairs(demo)["MIA-9"] is not None
    assert "MIA-9" not in client.get(f"/schedule?date={tomorrow.isoformat()}").text
    again = client.post(
        f"/admin/chairs/{chair_id(demo, 'MIA-9')}/retire", data={"csrf_token": csrf(after.text)}
    )
    assert again.status_code == 409
    assert "MIA-9 is already retired" in again.text
    assert chair_audit(demo)[-2:] == [
        ("create", "chair MIA-9 put into service"),
        ("update", "chair MIA-9 retired"),
    ]

    # Nobody checks a patient in on it any more.
    login_as("nurse.mia")
    assert client.get("/chairs/MIA-9").status_code == 404


def test_bad_chairs_are_refused_next_to_the_form_and_change_nothing(client, demo, login_as) -> None:
    login_as("director.mia")
    page = client.get("/admin/chairs")
    before = chairs(demo)
    for code, status, message in [
        ("", 422, "expected 1–20 characters, e.g. MIA-1"),
        ("X" * 21, 422, "expected 1–20 characters, e.g. MIA-1"),
        ("MIA-1", 409, "chair code &#39;MIA-1&#39; already exists"),
    ]:
        refused = client.post("/admin/chairs", data={"csrf_token": csrf(page.text), "code": code})
        assert refused.status_code == status, code
        assert message in refused.text, refused.text[:2000]
        assert 'role="alert"' in refused.text
    assert chairs(demo) == before


def test_a_chair_with_visits_ahead_is_not_retired(client, demo, login_as) -> None:
    now = dt.datetime.now(dt.UTC)
    with demo.engine.connect() as conn:
        booked = conn.execute(
            sa.select(t.chair.c.id, t.chair.c.code)
            .join(ti.series_visit, ti.series_visit.c.chair_id == t.chair.c.id)
            .where(ti.series_visit.c.starts_at > now, t.chair.c.code.like("MIA-%"))
            .distinct()
            .order_by(t.chair.c.code)
        ).all()
    with demo.uow() as uow:  # a chair with a patient on it is refused for that reason first
        busy, code = next(c for c in booked if uow.chair.open_session_for_chair(c.id) is None)
    login_as("director.mia")
    page = client.get("/admin/chairs")
    refused = client.post(f"/admin/chairs/{busy}/retire", data={"csrf_token": csrf(page.text)})
    assert refused.status_code == 409
    assert f"chair: {code} has" in refused.text
    assert "move them to another chair first" in refused.text
    assert chairs(demo)[code] is None


def test_a_retired_chair_keeps_its_past_visits_on_the_day_view(client, demo, login_as) -> None:
    from ketaclinic.services.intake_models import NewVisit, Series

    login_as("director.mia")
    page = client.get("/admin/chairs")
    client.post("/admin/chairs", data={"csrf_token": csrf(page.text), "code": "MIA-8"})
    day = dt.datetime.now(MIAMI).date() - dt.timedelta(days=400)
    day -= dt.timedelta(days=(day.weekday() - 1) % 7)  # a Tuesday: the clinic is open
    start = dt.datetime.combine(day, dt.time(9), tzinfo=MIAMI).astimezone(dt.UTC)
    new_chair = chair_id(demo, "MIA-8")
    with demo.uow() as uow:
        patient = uow.patients.by_mrn("DEMO-0001")
        plan = uow.schedule.plans(patient.id)[0]
        uow.schedule.add_series(
            Series(0, patient.id, patient.site_id, plan.id, plan.protocol_id, 1, start),
            [NewVisit(new_chair, 1, start, start + dt.timedelta(hours=3), day)],
        )
        uow.commit()
    retired = client.post(
        f"/admin/chairs/{new_chair}/retire",
        data={"csrf_token": csrf(page.text)},
        follow_redirects=False,
    )
    assert retired.status_code == 303
    past = client.get(f"/schedule?date={day.isoformat()}")
    assert past.status_code == 200
    assert "MIA-8" in past.text
    assert "DEMO-0001" in past.text, re.sub(r"\s+", " ", past.text.split("<main", 1)[1])[:3000]


def test_chairs_are_the_directors_of_their_own_sites(client, demo, login_as) -> None:
    login_as("frontdesk.mia")
    assert client.get("/admin/chairs").status_code == 403
    login_as("director.fll")
    page = client.get("/admin/chairs")
    assert "FLL-1" in page.text
    assert "MIA-1" not in page.text
    other = client.post(
        f"/admin/chairs/{chair_id(demo, 'MIA-1')}/retire", data={"csrf_token": csrf(page.text)}
    )
    assert other.status_code == 404
    assert chairs(demo)["MIA-1"] is None


def site_phone(demo, code: str = "MIA") -> str:  # type: ignore[no-untyped-def]
    with demo.engine.connect() as conn:
        return conn.execute(sa.select(t.site.c.phone).where(t.site.c.code == code)).scalar_one()


def test_the_director_sets_the_phone_patients_call_and_it_reaches_the_instructions(
    client, demo, login_as
) -> None:
    from ketaclinic.adapters.db import tables_chair as tc

    assert site_phone(demo) == "+1 305 555 0142"  # the demo clinic's (fictional) number
    login_as("director.mia")
    page = client.get("/admin/chairs")
    assert 'value="+1 305 555 0142"' in page.text

    # Not a phone number: refused beside the form, nothing stored.
    refused = client.post(
        "/admin/site-phone", data={"csrf_token": csrf(page.text), "phone": "ring reception"}
    )
    assert refused.status_code == 422
    assert "phone: got &#39;ring reception&#39;, expected a phone number" in refused.text
    assert 'id="phone-error"' in refused.text
    assert site_phone(demo) == "+1 305 555 0142"

    saved = client.post(
        "/admin/site-phone",
        data={"csrf_token": csrf(page.text), "phone": " +1 (305) 555-0199  ext. 4 "},
        follow_redirects=True,
    )
    assert "The phone number of Miami is +1 (305) 555-0199 ext. 4." in saved.text
    assert site_phone(demo) == "+1 (305) 555-0199 ext. 4"
    with demo.engine.connect() as conn:
        detail = conn.execute(
            sa.select(t.audit_event.c.detail)
            .where(t.audit_event.c.resource == "site")
            .order_by(t.audit_event.c.seq.desc())
            .limit(1)
        ).scalar_one()
    assert detail == "site MIA phone set"  # the number itself is not health data, but stays out

    # The patient's discharge instructions give it, with a link to dial it.
    with demo.engine.connect() as conn:
        sid = conn.execute(
            sa.select(tc.infusion_session.c.id)
            .join(t.patient, t.patient.c.id == tc.infusion_session.c.patient_id)
            .where(t.patient.c.mrn == "DEMO-0001")
            .order_by(tc.infusion_session.c.id.desc())
            .limit(1)
        ).scalar_one()
    login_as("nurse.mia")
    english = client.get(f"/sessions/{sid}/instructions")
    assert "Clinic phone: +1 (305) 555-0199 ext. 4" in english.text
    assert 'href="tel:+13055550199"' in english.text
    spanish = client.get(f"/sessions/{sid}/instructions?lang=es")
    assert "Teléfono de la clínica: +1 (305) 555-0199 ext. 4" in spanish.text

    # Cleared: the instructions simply have no phone line.
    login_as("director.mia")
    page = client.get("/admin/chairs")
    client.post("/admin/site-phone", data={"csrf_token": csrf(page.text), "phone": ""})
    assert site_phone(demo) == ""
    login_as("nurse.mia")
    assert 'data-testid="clinic-phone"' not in client.get(f"/sessions/{sid}/instructions").text
