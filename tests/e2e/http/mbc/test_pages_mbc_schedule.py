"""Issue 3 pages on SQLite and PostgreSQL (the demo clinic): infusions on the score plot, the
baseline explained on the outcomes page, the patient's self-report schedule, the director's
schedule settings and the front desk's notices."""

from __future__ import annotations

import datetime as dt
import re

import sqlalchemy as sa

from ketaclinic.adapters.db import tables as t
from ketaclinic.adapters.db import tables_chair as ch
from ketaclinic.adapters.db import tables_intake as ti
from ketaclinic.adapters.db import tables_mbc as m
from ketaclinic.services import mbc_sweep
from ketaclinic.services.intake_models import NewVisit, Series, TreatmentPlan


def csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def mia_patient(demo, *where) -> int:
    with demo.engine.connect() as conn:
        return conn.execute(
            sa.select(t.patient.c.id)
            .join(t.site, t.site.c.id == t.patient.c.site_id)
            .where(t.site.c.code == "MIA", *where)
            .order_by(t.patient.c.id)
            .limit(1)
        ).scalar_one()


def started_patient(demo) -> int:
    started = sa.select(ch.infusion_session.c.patient_id).where(
        ch.infusion_session.c.infusion_started_at.is_not(None)
    )
    return mia_patient(demo, t.patient.c.id.in_(started))


def scored_patient_without_sessions(demo) -> int:
    return mia_patient(
        demo,
        t.patient.c.id.in_(sa.select(m.questionnaire_response.c.patient_id)),
        t.patient.c.id.not_in(sa.select(ch.infusion_session.c.patient_id)),
    )


def test_the_plot_marks_the_infusions_on_the_score_axis(client, demo, login_as):
    login_as("nurse.mia")
    with_infusion = client.get(f"/patients/{started_patient(demo)}/plots/scores.svg")
    assert with_infusion.status_code == 200
    assert "infusion" in with_infusion.text
    without = client.get(f"/patients/{scored_patient_without_sessions(demo)}/plots/scores.svg")
    assert "PCL-5 total" in without.text
    assert "infusion" not in without.text


def test_the_outcomes_page_says_which_score_is_the_baseline_and_why(client, demo, login_as):
    login_as("nurse.mia")
    pid = started_patient(demo)
    page = client.get(f"/patients/{pid}/outcomes")
    assert page.status_code == 200
    assert 'data-testid="baseline-reason"' in page.text
    assert "the last one on or before the first infusion" in page.text
    assert "infusion session started" in page.text
    assert 'data-testid="baseline-row"' in page.text
    assert "PCL-5 before the first infusion" in page.text


def book_tomorrow(demo, pid: int) -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    start = now + dt.timedelta(hours=20, seconds=23)
    with demo.uow() as uow:
        patient = uow.patients.get(pid)
        chair = uow.sites.chairs(patient.site_id)[-1]
        by = uow.users.by_username("prescriber.mia").id
        plan = uow.schedule.add_plan(TreatmentPlan(0, pid, "feder-2021", 0.5, now.date(), by, now))
        uow.schedule.add_series(
            Series(0, pid, patient.site_id, plan.id, "feder-2021", by, now),
            [NewVisit(chair.id, 1, start, start + dt.timedelta(hours=2), start.date())],
        )
        uow.commit()


def test_the_patient_page_shows_the_self_report_schedule(client, demo, login_as):
    booked = mia_patient(demo, t.patient.c.id.in_(sa.select(ti.series_visit.c.patient_id)))
    login_as("nurse.mia")
    page = client.get(f"/patients/{booked}")
    assert page.status_code == 200
    assert 'data-testid="self-report-schedule"' in page.text
    assert "before infusion" in page.text
    unbooked = mia_patient(demo, t.patient.c.id.not_in(sa.select(ti.series_visit.c.patient_id)))
    assert "No questionnaires scheduled" in client.get(f"/patients/{unbooked}").text


def test_the_director_changes_a_protocols_schedule(client, demo, login_as):
    login_as("nurse.mia")
    page = client.get("/self-report/schedules")
    assert page.status_code == 200
    assert 'data-protocol="feder-2021"' in page.text
    assert "built-in default" in page.text
    assert 'action="/self-report/schedules"' not in page.text  # nurses read only
    login_as("director.mia")
    form = client.get("/self-report/schedules")
    token = csrf(form.text)
    bad = client.post(
        "/self-report/schedules",
        data={
            "csrf_token": token,
            "protocol_id": "feder-2021",
            "before_infusion": "pcl5",
            "before_hours": "500",
            "after_weeks": "4",
        },
    )
    assert bad.status_code == 422
    assert "before_hours" in bad.text
    saved = client.post(
        "/self-report/schedules",
        data={
            "csrf_token": token,
            "protocol_id": "feder-2021",
            "before_infusion": ["phq9", "gad7"],
            "before_hours": "24",
            "after_series": "pcl5-week",
            "after_weeks": "6",
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303
    with demo.engine.connect() as conn:
        row = conn.execute(
            sa.select(m.self_report_schedule).where(
                m.self_report_schedule.c.protocol_id == "feder-2021"
            )
        ).one()
    assert (row.before_infusion, row.before_hours, row.after_series, row.after_weeks) == (
        "phq9,gad7",
        24,
        "pcl5-week",
        6,
    )
    assert "phq9, gad7, 24 h ahead" in client.get("/self-report/schedules").text
    login_as("frontdesk.mia")
    assert client.get("/self-report/schedules").status_code == 403


def test_the_front_desk_follows_up_a_patient_without_e_mail(client, demo, login_as):
    made = client.post  # registered through the page as the front desk would
    login_as("frontdesk.mia")
    form = client.get("/patients/new")
    made(
        "/patients/new",
        data={
            "csrf_token": csrf(form.text),
            "mrn": "NOMAIL-1",
            "given_name": "Noe",
            "family_name": "Mailless",
            "birth_date": "1979-04-04",
            "sex": "male",
            "phone": "+1 305 555 0199",
        },
    )
    with demo.engine.connect() as conn:
        pid = conn.execute(
            sa.select(t.patient.c.id).where(t.patient.c.mrn == "NOMAIL-1")
        ).scalar_one()
    book_tomorrow(demo, pid)
    result = mbc_sweep.send_due(demo.uow, demo.clock, demo.extras["notifier"], "https://x.test")
    assert [i.outcome.value for i in result.items if i.patient_id == pid] == ["no_email"]
    home = client.get("/")
    assert "Questionnaires to follow up" in home.text
    assert "NOMAIL-1" in home.text
    assert "PCL" not in home.text.split("Questionnaires to follow up", 1)[1]  # no clinical detail
    notices = client.get("/self-report/notices")
    assert "no e-mail address on file" in notices.text
    # The demo clinic's own patients due tomorrow are listed too: take this patient's card.
    card = next(li for li in notices.text.split("<li ") if "NOMAIL-1" in li)
    request_id = re.search(r"/self-report/notices/(\d+)/done", card).group(1)
    done = client.post(
        f"/self-report/notices/{request_id}/done",
        data={"csrf_token": csrf(notices.text)},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert "NOMAIL-1" not in client.get("/self-report/notices").text
    login_as("frontdesk.fll")
    other = client.get("/self-report/notices")
    token = csrf(other.text)
    assert (
        client.post(
            f"/self-report/notices/{request_id}/done", data={"csrf_token": token}
        ).status_code
        == 404
    )
