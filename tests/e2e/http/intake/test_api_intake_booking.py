"""The front desk's side of intake over the API, on SQLite and PostgreSQL: registering and
dismissing leads, a patient's series, moving and cancelling one visit, and clinic hours."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from ketaclinic.adapters.db import tables as t
from ketaclinic.adapters.db import tables_intake as ti
from ketaclinic.services.intake_models import Inquiry, NewVisit, Series, TreatmentPlan

MIAMI = ZoneInfo("America/New_York")


def patient_id(demo, mrn: str) -> int:
    with demo.engine.connect() as conn:
        return conn.execute(sa.select(t.patient.c.id).where(t.patient.c.mrn == mrn)).scalar_one()


def count(demo, table: sa.Table) -> int:
    with demo.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def cancelled_of(demo, pid: int) -> int:
    """The patient's cancelled visits (the demo clinic has one of another patient's)."""
    with demo.engine.connect() as conn:
        return conn.execute(
            sa.select(sa.func.count())
            .select_from(ti.cancelled_visit)
            .where(ti.cancelled_visit.c.patient_id == pid)
        ).scalar_one()


def audit(demo, resource: str, action: str) -> list[sa.Row]:
    with demo.engine.connect() as conn:
        return list(
            conn.execute(
                sa.select(t.audit_event).where(
                    t.audit_event.c.resource == resource, t.audit_event.c.action == action
                )
            )
        )


def today() -> dt.date:
    return dt.datetime.now(MIAMI).date()


def new_lead(demo, site: str = "MIA", name: str = "Ines Marlow") -> int:
    with demo.uow() as uow:
        where = uow.sites.by_code(site)
        lead = uow.leads.add(
            Inquiry(where.id, name, "ines@example.org", "", True), dt.datetime.now(dt.UTC)
        )
        uow.commit()
    return lead.id


# --- leads ----------------------------------------------------------------------------------


def test_the_front_desk_registers_a_lead_as_a_patient(client, demo, token_for) -> None:
    lead = new_lead(demo)
    headers = token_for("frontdesk.mia")
    registered = client.post(
        f"/api/v1/leads/{lead}/register",
        json={
            "mrn": "LEAD-1",
            "given_name": "Ines",
            "family_name": "Marlow",
            "birth_date": "1988-04-09",
            "sex": "female",
            "preferred_language": "es",
            "weight_kg": 64.5,
            "height_cm": 168,
        },
        headers=headers,
    )
    assert registered.status_code == 201, registered.text
    patient = registered.json()
    assert (patient["mrn"], patient["site"], patient["preferred_language"]) == (
        "LEAD-1",
        "MIA",
        "es",
    )
    queue = client.get("/api/v1/leads?status=all", headers=headers).json()
    (converted,) = [x for x in queue if x["id"] == lead]
    assert (converted["status"], converted["patient_id"]) == ("converted", patient["id"])
    with demo.engine.connect() as conn:
        weights = conn.execute(
            sa.select(t.body_measurement.c.weight_kg).where(
                t.body_measurement.c.patient_id == patient["id"]
            )
        ).all()
    assert [w.weight_kg for w in weights] == [64.5]
    again = client.post(
        f"/api/v1/leads/{lead}/register",
        json={
            "mrn": "LEAD-2",
            "given_name": "Ines",
            "family_name": "Marlow",
            "birth_date": "1988-04-09",
            "sex": "female",
        },
        headers=headers,
    )
    assert again.status_code == 409
    assert again.json()["error"]["field"] == "lead"


def test_a_registration_with_bad_details_names_the_field_and_stores_nothing(
    client, demo, token_for
) -> None:
    lead = new_lead(demo)
    headers = token_for("frontdesk.mia")
    body = {
        "mrn": "LEAD-3",
        "given_name": "Ines",
        "family_name": "Marlow",
        "birth_date": (today() + dt.timedelta(days=3)).isoformat(),
        "sex": "female",
    }
    before = count(demo, t.patient)
    future = client.post(f"/api/v1/leads/{lead}/register", json=body, headers=headers)
    assert future.status_code == 422
    assert future.json()["error"]["field"] == "birth_date"
    taken = client.post(
        f"/api/v1/leads/{lead}/register",
        json={**body, "birth_date": "1988-04-09", "mrn": "DEMO-0001"},
        headers=headers,
    )
    assert taken.status_code == 409
    assert taken.json()["error"]["field"] == "mrn"
    bad_sex = client.post(
        f"/api/v1/leads/{lead}/register",
        json={**body, "birth_date": "1988-04-09", "sex": "x"},
        headers=headers,
    )
    assert bad_sex.status_code == 422
    assert bad_sex.json()["error"]["field"] == "sex"
    assert count(demo, t.patient) == before
    queue = client.get("/api/v1/leads", headers=headers).json()
    assert lead in [x["id"] for x in queue]


def test_a_lead_is_dismissed_once_and_only_at_its_own_site(client, demo, token_for) -> None:
    lead = new_lead(demo)
    elsewhere = client.post(f"/api/v1/leads/{lead}/dismiss", headers=token_for("frontdesk.fll"))
    assert elsewhere.status_code == 404
    assert (
        client.post(f"/api/v1/leads/{lead}/dismiss", headers=token_for("nurse.mia")).status_code
        == 403
    )
    dismissed = client.post(f"/api/v1/leads/{lead}/dismiss", headers=token_for("frontdesk.mia"))
    assert dismissed.status_code == 200
    assert dismissed.json()["status"] == "dismissed"
    twice = client.post(f"/api/v1/leads/{lead}/dismiss", headers=token_for("director.mia"))
    assert twice.status_code == 409
    assert [r.resource_id for r in audit(demo, "lead", "update")] == [str(lead)]


# --- series and visits ----------------------------------------------------------------------


def book(client, demo, headers: dict[str, str], mrn: str = "DEMO-0005") -> tuple[int, dict]:
    pid = patient_id(demo, mrn)
    start = today() + dt.timedelta(days=35)
    booked = client.post(
        f"/api/v1/patients/{pid}/series", json={"start_date": start.isoformat()}, headers=headers
    )
    assert booked.status_code == 201, booked.text
    return pid, booked.json()


def test_the_series_list_shows_visits_plan_and_what_blocks_booking(client, demo, token_for) -> None:
    headers = token_for("frontdesk.mia")
    pid, series = book(client, demo, headers)
    listed = client.get(f"/api/v1/patients/{pid}/series", headers=headers)
    assert listed.status_code == 200
    body = listed.json()
    assert body["problems"] == []
    assert body["plan"]["protocol_id"] == "feder-2021"
    # The booking's answer also says whether the patient was e-mailed (mail is off here).
    assert series.pop("confirmation")["outcome"] == "mail_off"
    assert body["series"][-1] == series
    blocked = client.get(
        f"/api/v1/patients/{patient_id(demo, 'DEMO-0021')}/series", headers=headers
    ).json()
    assert "no treatment plan is signed" in blocked["problems"]
    other = client.get(f"/api/v1/patients/{pid}/series", headers=token_for("frontdesk.fll"))
    assert other.status_code == 404


def test_a_visit_moves_within_the_protocols_spacing(client, demo, token_for) -> None:
    headers = token_for("frontdesk.mia")
    pid, series = book(client, demo, headers)
    url = f"/api/v1/patients/{pid}/series/{series['id']}/visits"
    second = series["visits"][1]
    moved = client.post(f"{url}/2/move", json={"at": "15:00", "chair": "mia-3"}, headers=headers)
    assert moved.status_code == 200, moved.text
    after = moved.json()["visits"][1]
    assert after["local_start"][:19] == second["local_start"][:10] + "T15:00:00"
    assert after["local_start"][19:] in {"-05:00", "-04:00"}  # New York, winter or summer
    assert after["chair"] == "MIA-3"
    first_day = dt.date.fromisoformat(series["visits"][0]["local_start"][:10])
    too_close = client.post(
        f"{url}/2/move", json={"new_day": first_day.isoformat()}, headers=headers
    )
    assert too_close.status_code == 422
    error = too_close.json()["error"]
    assert error["field"] == "new_day"
    assert "visit 2" in error["message"]
    assert "visit 1" in error["message"]
    late = client.post(f"{url}/2/move", json={"at": "17:30"}, headers=headers)
    assert late.status_code == 422
    assert late.json()["error"]["field"] == "at"  # the request's name for the time
    assert late.json()["error"]["message"].startswith("at: got '17:30', expected a start time")
    unknown = client.post(f"{url}/7/move", json={"at": "09:00"}, headers=headers)
    assert unknown.status_code == 422
    assert unknown.json()["error"]["field"] == "visit_number"
    bad_time = client.post(f"{url}/2/move", json={"at": "9am"}, headers=headers)
    assert bad_time.status_code == 422
    assert bad_time.json()["error"]["field"] == "at"
    kept = client.get(f"/api/v1/patients/{pid}/series", headers=headers).json()["series"][-1]
    assert kept["visits"][1] == after


def fill_day(demo, day: dt.date) -> None:
    """Every MIA chair taken 08:00–18:00 on ``day`` by another patient's series (DEMO-0021)."""
    other = patient_id(demo, "DEMO-0021")
    with demo.uow() as uow:
        site = uow.sites.by_code("MIA")
        signer = uow.users.by_username("prescriber.mia")
        plan = uow.schedule.add_plan(
            TreatmentPlan(0, other, "feder-2021", 0.5, day, signer.id, dt.datetime.now(dt.UTC))
        )
        start = dt.datetime.combine(day, dt.time(8), tzinfo=MIAMI).astimezone(dt.UTC)
        visits = [
            NewVisit(chair.id, number, start, start + dt.timedelta(hours=10), day)
            for number, chair in enumerate(uow.sites.chairs(site.id), start=1)
        ]
        series = Series(0, other, site.id, plan.id, "feder-2021", signer.id, plan.signed_at)
        uow.schedule.add_series(series, visits)
        uow.commit()


def test_a_full_date_names_the_earliest_series_and_earliest_books_it(
    client, demo, token_for, login_as
) -> None:
    pid = patient_id(demo, "DEMO-0005")
    headers = token_for("frontdesk.mia")
    monday = today() + dt.timedelta(days=63 - today().weekday())
    wednesday, friday = monday + dt.timedelta(days=2), monday + dt.timedelta(days=4)
    fill_day(demo, wednesday)
    before = count(demo, ti.treatment_series)
    refused = client.post(
        f"/api/v1/patients/{pid}/series",
        json={"start_date": monday.isoformat()},
        headers=headers,
    )
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["field"] == "start_date"
    assert f"{wednesday.isoformat()}: every chair (4) is booked" in error["message"]
    assert f"earliest possible: {friday.isoformat()} 08:00 MIA-1" in error["message"]
    assert count(demo, ti.treatment_series) == before

    # the series page shows the same, and books the earliest series on request
    login_as("frontdesk.mia")
    page = client.get(f"/patients/{pid}/series")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    shown = client.post(
        f"/patients/{pid}/series",
        data={"csrf_token": token.group(1), "start_date": monday.isoformat()},
    )
    assert shown.status_code == 409
    assert 'data-testid="earliest-hint"' in shown.text
    assert f"{friday.isoformat()} 08:00 MIA-1" in shown.text
    assert count(demo, ti.treatment_series) == before

    booked = client.post(
        f"/api/v1/patients/{pid}/series",
        json={"start_date": monday.isoformat(), "earliest": True},
        headers=headers,
    )
    assert booked.status_code == 201, booked.text
    days = [dt.date.fromisoformat(v["local_start"][:10]) for v in booked.json()["visits"]]
    assert days[0] == friday
    assert [d.weekday() for d in days] == [4, 0, 2, 4, 0, 2]
    assert wednesday not in days
    assert audit(demo, "series", "create")[-1].detail.endswith(", earliest")

    # the page's "Book earliest possible" does the same (a day later, so the dates are free)
    by_page = client.post(
        f"/patients/{pid}/series",
        data={
            "csrf_token": token.group(1),
            "start_date": (days[-1] + dt.timedelta(days=1)).isoformat(),
            "earliest": "1",
        },
        follow_redirects=False,
    )
    assert by_page.status_code == 303, by_page.text
    assert count(demo, ti.treatment_series) == before + 2


def test_a_cancelled_visit_frees_its_chair_and_is_kept_with_its_reason(
    client, demo, token_for
) -> None:
    headers = token_for("frontdesk.mia")
    pid, series = book(client, demo, headers)
    url = f"/api/v1/patients/{pid}/series/{series['id']}/visits"
    third = series["visits"][2]
    blank = client.post(f"{url}/3/cancel", json={"reason": "  "}, headers=headers)
    assert blank.status_code == 422
    assert blank.json()["error"]["field"] == "reason"
    cancelled = client.post(
        f"{url}/3/cancel", json={"reason": "Patient travelling that week"}, headers=headers
    )
    assert cancelled.status_code == 200, cancelled.text
    body = cancelled.json()
    assert [v["number"] for v in body["visits"]] == [1, 2, 4, 5, 6]
    (gone,) = body["cancelled"]
    assert (gone["number"], gone["chair"], gone["local_start"]) == (
        3,
        third["chair"],
        third["local_start"],
    )
    assert gone["reason"] == "Patient travelling that week"
    day = third["local_start"][:10]
    schedule = client.get(f"/api/v1/schedule?site=MIA&date={day}", headers=headers).json()
    assert pid not in [v["patient_id"] for v in schedule["visits"]]
    again = client.post(f"{url}/3/cancel", json={"reason": "again"}, headers=headers)
    assert again.status_code == 422
    assert "cancelled" in again.json()["error"]["message"]
    assert client.post(f"{url}/3/move", json={"at": "09:00"}, headers=headers).status_code == 422
    # The rest of the series still moves by its numbers.
    assert client.post(f"{url}/4/move", json={"at": "14:00"}, headers=headers).status_code == 200
    (entry,) = audit(demo, "series_visit", "delete")
    assert (entry.patient_id, entry.username) == (pid, "frontdesk.mia")
    assert "cancelled" in entry.detail
    assert cancelled_of(demo, pid) == 1


def test_a_visit_that_has_begun_cannot_be_cancelled(client, demo, token_for) -> None:
    pid = patient_id(demo, "DEMO-0005")
    began = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=30)
    with demo.uow() as uow:
        chair = uow.sites.chairs(uow.patients.get(pid).site_id)[1]
        plan = uow.schedule.plans(pid)[0]
        series = uow.schedule.add_series(
            Series(0, pid, chair.site_id, plan.id, plan.protocol_id, 1, began),
            [NewVisit(chair.id, 1, began, began + dt.timedelta(hours=3), today())],
        )
        uow.commit()
    url = f"/api/v1/patients/{pid}/series/{series.id}/visits/1/cancel"
    refused = client.post(url, json={"reason": "no show"}, headers=token_for("frontdesk.mia"))
    assert refused.status_code == 409
    assert refused.json()["error"]["field"] == "visit_number"
    assert cancelled_of(demo, pid) == 0


def test_a_visit_the_patient_is_checked_in_for_cannot_be_cancelled_or_moved(
    client, demo, token_for
) -> None:
    # The patient arrives early: checked in at a free chair before the booked time, the chair
    # session is linked to the visit, which must then stay as it is.
    pid = patient_id(demo, "DEMO-0005")
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=20)
    with demo.uow() as uow:
        site = uow.sites.by_code("MIA")
        chair = next(ch for ch in uow.sites.chairs(site.id) if ch.code == "MIA-4")
        plan = uow.schedule.plans(pid)[0]
        series = uow.schedule.add_series(
            Series(0, pid, chair.site_id, plan.id, plan.protocol_id, 1, soon),
            [NewVisit(chair.id, 1, soon, soon + dt.timedelta(hours=3), today())],
        )
        uow.commit()
    nurse, desk = token_for("nurse.mia"), token_for("frontdesk.mia")
    checked_in = client.post(
        "/api/v1/sessions", json={"chair": "MIA-4", "mrn": "DEMO-0005"}, headers=nurse
    )
    assert checked_in.status_code == 201, checked_in.text
    url = f"/api/v1/patients/{pid}/series/{series.id}/visits/1"
    refused = client.post(f"{url}/cancel", json={"reason": "no show"}, headers=desk)
    assert refused.status_code == 409
    assert refused.json()["error"]["field"] == "visit_number"
    assert "checked in at the chair" in refused.json()["error"]["message"]
    moved = client.post(f"{url}/move", json={"at": "17:00"}, headers=desk)
    assert moved.status_code == 409
    assert "checked in at the chair" in moved.json()["error"]["message"]
    assert cancelled_of(demo, pid) == 0
    with demo.uow() as uow:
        (visit,) = uow.schedule.get_series(series.id).visits
        assert visit.starts_at == soon
        assert uow.visit_links.for_visits([visit.id])


def test_another_sites_series_cannot_be_changed(client, demo, token_for) -> None:
    pid, series = book(client, demo, token_for("frontdesk.mia"))
    url = f"/api/v1/patients/{pid}/series/{series['id']}/visits/1"
    headers = token_for("frontdesk.fll")
    assert client.post(f"{url}/cancel", json={"reason": "x"}, headers=headers).status_code == 404
    assert client.post(f"{url}/move", json={"at": "09:00"}, headers=headers).status_code == 404
    assert cancelled_of(demo, pid) == 0


# --- clinic hours ---------------------------------------------------------------------------


def test_any_staff_member_of_the_site_reads_its_hours(client, token_for) -> None:
    shown = client.get("/api/v1/sites/mia/hours", headers=token_for("frontdesk.mia"))
    assert shown.status_code == 200
    hours = shown.json()
    assert (hours["site"], hours["slot_min"]) == ("MIA", 15)
    assert [(d["weekday"], d["opens"], d["closes"]) for d in hours["days"]] == [
        (day, "08:00", "18:00") for day in range(5)
    ]
    assert hours["days"][0]["day"] == "Mon"
    other = client.get("/api/v1/sites/MIA/hours", headers=token_for("nurse.fll"))
    assert other.status_code == 404
    assert client.get("/api/v1/sites/XYZ/hours", headers=token_for("nurse.fll")).status_code == 404


def test_the_director_replaces_the_hours_of_their_site(client, demo, token_for) -> None:
    headers = token_for("director.mia")
    days = [{"weekday": 1, "opens": "09:30", "closes": "17:00"}]
    saved = client.put(
        "/api/v1/sites/MIA/hours", json={"slot_min": 30, "days": days}, headers=headers
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["slot_min"] == 30
    shown = client.get("/api/v1/sites/MIA/hours", headers=token_for("nurse.mia")).json()
    assert [(d["day"], d["opens"], d["closes"]) for d in shown["days"]] == [
        ("Tue", "09:30", "17:00")
    ]
    (entry,) = audit(demo, "clinic_hours", "update")
    assert entry.username == "director.mia"


def test_bad_hours_name_the_field_and_change_nothing(client, demo, token_for) -> None:
    headers = token_for("director.mia")
    backwards = [{"weekday": 0, "opens": "18:00", "closes": "08:00"}]
    refused = client.put("/api/v1/sites/MIA/hours", json={"days": backwards}, headers=headers)
    assert refused.status_code == 422
    assert refused.json()["error"]["field"] == "days[0].closes"
    twice = [{"weekday": 2, "opens": "08:00", "closes": "12:00"}] * 2
    repeated = client.put("/api/v1/sites/MIA/hours", json={"days": twice}, headers=headers)
    assert repeated.status_code == 422
    odd = client.put("/api/v1/sites/MIA/hours", json={"slot_min": 1, "days": []}, headers=headers)
    assert odd.status_code == 422
    assert odd.json()["error"]["field"] == "slot_min"
    nurse = client.put("/api/v1/sites/MIA/hours", json={"days": []}, headers=token_for("nurse.mia"))
    assert nurse.status_code == 403
    other = client.put(
        "/api/v1/sites/MIA/hours", json={"days": []}, headers=token_for("director.fll")
    )
    assert other.status_code == 404
    assert audit(demo, "clinic_hours", "update") == []
    shown = client.get("/api/v1/sites/MIA/hours", headers=headers).json()
    assert len(shown["days"]) == 5
