"""Measurement-based-care pages on SQLite and PostgreSQL: the start page's safety tasks, score
entry, the patient's score section and plot, outcomes, the director's report, and the patient's
one-time link (languages, bad links, partial answers, reuse, throttling)."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
import sqlalchemy as sa

from ketaclinic.adapters.db import tables as t
from ketaclinic.adapters.db import tables_mbc as m
from ketaclinic.services import mbc_content
from ketaclinic.services.audit import SYSTEM, Actor
from ketaclinic.services.mbc_self_report import request_self_report
from ketaclinic.web.pages.mbc_public import self_report_throttle


@pytest.fixture(autouse=True)
def fresh_throttle():
    self_report_throttle.reset()
    yield
    self_report_throttle.reset()


def patient_id(demo, mrn: str) -> int:
    with demo.engine.connect() as conn:
        return conn.execute(sa.select(t.patient.c.id).where(t.patient.c.mrn == mrn)).scalar_one()


def rows(demo, table, *where) -> list:
    with demo.engine.connect() as conn:
        return conn.execute(sa.select(table).where(*where)).all()


def csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def link_for(demo, mrn: str, instruments=("phq9",), **kwargs) -> str:
    with demo.uow() as uow:
        issued = request_self_report(
            uow, demo.clock, SYSTEM, patient_id(demo, mrn), list(instruments), **kwargs
        )
    return issued.path


PHQ9_ZERO = {f"phq9_{n:02d}": "0" for n in range(1, 10)}


# --- the start page and safety tasks --------------------------------------------------------


def test_the_demo_safety_task_is_on_the_mia_clinicians_start_page(client, login_as):
    for username in ("prescriber.mia", "nurse.mia", "director.mia"):
        client.cookies.clear()
        login_as(username)
        page = client.get("/")
        assert "Safety reviews due today" in page.text
        assert "DEMO-0003" in page.text
        assert "PHQ-9 item 9 positive" in page.text
    for username in ("frontdesk.mia", "prescriber.fll"):
        client.cookies.clear()
        login_as(username)
        assert "DEMO-0003" not in client.get("/").text


def test_a_task_closes_only_with_a_recorded_action(client, demo, login_as):
    login_as("prescriber.mia")
    task_id = int(re.search(r"/safety-tasks/(\d+)", client.get("/").text).group(1))
    page = client.get(f"/safety-tasks/{task_id}")
    empty = client.post(
        f"/safety-tasks/{task_id}/close", data={"csrf_token": csrf(page.text), "action": "  "}
    )
    assert empty.status_code == 422
    assert "without a recorded action" in empty.text
    (still,) = rows(demo, m.safety_task, m.safety_task.c.id == task_id)
    assert still.status == "open"
    done = client.post(
        f"/safety-tasks/{task_id}/close",
        data={"csrf_token": csrf(page.text), "action": "Phoned; safety plan reviewed"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    (closed,) = rows(demo, m.safety_task, m.safety_task.c.id == task_id)
    assert closed.status == "closed"
    assert closed.action == "Phoned; safety plan reviewed"
    assert closed.closed_by is not None
    assert closed.closed_at is not None
    assert "DEMO-0003" not in client.get("/").text


def test_a_nurse_sees_the_task_but_may_not_close_it(client, demo, login_as):
    login_as("nurse.mia")
    task_id = int(re.search(r"/safety-tasks/(\d+)", client.get("/").text).group(1))
    page = client.get(f"/safety-tasks/{task_id}")
    assert "A prescriber or the clinic director closes this task" in page.text
    refused = client.post(
        f"/safety-tasks/{task_id}/close", data={"csrf_token": csrf(page.text), "action": "x"}
    )
    assert refused.status_code == 403
    (task,) = rows(demo, m.safety_task, m.safety_task.c.id == task_id)
    assert task.status == "open"


# --- score entry ----------------------------------------------------------------------------


def test_partial_staff_entry_shows_each_missing_item_and_stores_nothing(client, demo, login_as):
    login_as("nurse.mia")
    pid = patient_id(demo, "DEMO-0005")
    form = client.get(f"/patients/{pid}/scores/new?instrument=phq9")
    assert form.status_code == 200
    assert "/static/mbc.js" in form.text
    before = len(rows(demo, m.questionnaire_response))
    partial = {k: v for k, v in PHQ9_ZERO.items() if k not in {"phq9_04", "phq9_09"}}
    response = client.post(
        f"/patients/{pid}/scores/new",
        data={"csrf_token": csrf(form.text), "instrument": "phq9", "source": "staff_entry"}
        | partial,
    )
    assert response.status_code == 422
    assert "2 items not answered" in response.text
    for item in ("phq9_04", "phq9_09"):
        assert f'id="problem-{item}"' in response.text
    assert 'id="problem-phq9_01"' not in response.text
    assert 'value="0" checked' in response.text  # the answers given are kept
    assert len(rows(demo, m.questionnaire_response)) == before


def test_a_complete_staff_entry_is_saved_and_shown_on_the_patient_page(client, demo, login_as):
    login_as("nurse.mia")
    pid = patient_id(demo, "DEMO-0021")
    form = client.get(f"/patients/{pid}/scores/new?instrument=pcl5")
    answers = {f"pcl5_{n:02d}": "1" for n in range(1, 21)}
    saved = client.post(
        f"/patients/{pid}/scores/new",
        data={
            "csrf_token": csrf(form.text),
            "instrument": "pcl5",
            "language": "en",
            "source": "staff_entry",
            "completed_at": "",
        }
        | answers,
        follow_redirects=False,
    )
    assert saved.status_code == 303
    page = client.get(f"/patients/{pid}")
    assert "PCL-5 recorded: total 20" in page.text
    assert re.search(r'data-testid="latest-pcl5">20<', page.text)
    assert f'src="/patients/{pid}/plots/scores.svg"' in page.text


def test_a_future_completion_time_re_renders_with_the_error(client, demo, login_as):
    login_as("nurse.mia")
    pid = patient_id(demo, "DEMO-0005")
    form = client.get(f"/patients/{pid}/scores/new?instrument=phq9")
    before = len(rows(demo, m.questionnaire_response))
    response = client.post(
        f"/patients/{pid}/scores/new",
        data={
            "csrf_token": csrf(form.text),
            "instrument": "phq9",
            "source": "staff_entry",
            "completed_at": "2099-01-01T10:00",
        }
        | PHQ9_ZERO,
    )
    assert response.status_code == 422
    assert "not in the future" in response.text
    assert len(rows(demo, m.questionnaire_response)) == before


def test_the_staff_form_shows_labels_or_official_wording_never_both(client, demo, login_as):
    login_as("nurse.mia")
    pid = patient_id(demo, "DEMO-0005")
    labels = client.get(f"/patients/{pid}/scores/new?instrument=gad7&lang=es").text
    assert "Our own short labels" in labels
    assert 'lang="es"' in labels
    pack = {
        "format": "ketaclinic.content-pack/1",
        "instrument": "gad7",
        "language": "es",
        "title": "Título oficial",
        "items": {f"gad7_{n:02d}": f"Texto oficial {n}" for n in range(1, 8)},
        "anchors": ["nunca", "varios días", "más de la mitad", "casi todos"],
    }
    with demo.uow() as uow:
        mbc_content.load_content_pack(uow, demo.clock, SYSTEM, json.dumps(pack))
    spanish = client.get(f"/patients/{pid}/scores/new?instrument=gad7&lang=es").text
    assert "Texto oficial 7" in spanish
    assert "casi todos" in spanish
    english = client.get(f"/patients/{pid}/scores/new?instrument=gad7&lang=en").text
    assert "Texto oficial" not in english
    assert "Título oficial" not in english


def test_the_cssrs_page_records_the_clinicians_result(client, demo, login_as):
    login_as("prescriber.mia")
    pid = patient_id(demo, "DEMO-0015")
    form = client.get(f"/patients/{pid}/cssrs/new")
    assert "computes no triage" in form.text
    missing_level = client.post(
        f"/patients/{pid}/cssrs/new",
        data={"csrf_token": csrf(form.text), "form": "since_last_contact", "q1": "yes"},
    )
    assert missing_level.status_code == 422
    assert "risk_level" in missing_level.text
    saved = client.post(
        f"/patients/{pid}/cssrs/new",
        data={
            "csrf_token": csrf(form.text),
            "form": "since_last_contact",
            "q1": "yes",
            "risk_level": "low",
            "action": "Discussed",
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303
    (result,) = rows(demo, m.cssrs_result)
    assert (result.risk_level, result.action) == ("low", "Discussed")
    assert rows(demo, m.safety_task, m.safety_task.c.patient_id == pid)  # a Yes → review


# --- patient page, plot, outcomes, report ---------------------------------------------------


def test_front_desk_sees_no_scores_on_the_patient_page_and_no_plot(client, demo, login_as):
    pid = patient_id(demo, "DEMO-0011")
    login_as("frontdesk.mia")
    page = client.get(f"/patients/{pid}")
    assert page.status_code == 200
    assert 'data-testid="patient-scores"' not in page.text
    assert client.get(f"/patients/{pid}/plots/scores.svg").status_code == 403


def test_the_plot_is_an_svg_with_the_scores_and_reference_lines(client, demo, login_as):
    login_as("nurse.mia")
    pid = patient_id(demo, "DEMO-0011")
    plot = client.get(f"/patients/{pid}/plots/scores.svg")
    assert plot.status_code == 200
    assert plot.headers["content-type"].startswith("image/svg+xml")
    assert plot.text.lstrip().startswith("<?xml")
    for text in ("PCL-5 total", "PHQ-9", "GAD-7", "remission", "response"):
        assert text in plot.text


def test_the_outcome_card_shows_no_percentage_for_a_baseline_of_zero(client, demo, login_as):
    from ketaclinic.adapters.notify.smtp import NullNotifier
    from ketaclinic.domain.people import NewPatient, Sex
    from ketaclinic.services import mbc
    from ketaclinic.services.auth import principal_of

    # A new patient with no plan, visit or session: the first PCL-5 (0) is the baseline.
    now = demo.clock.now()
    with demo.uow() as uow:
        site = uow.sites.by_code("MIA")
        pid = uow.patients.add(
            NewPatient(site.id, "ZERO-1", "Synthetic", "Zero", dt.date(1990, 3, 4), Sex.OTHER), now
        ).id
        nurse = principal_of(uow.users.by_username("nurse.mia"))
        uow.commit()
    for days, value in ((10, 0), (3, 1)):
        with demo.uow() as uow:
            mbc.record_response(
                uow,
                demo.clock,
                Actor(nurse, "test"),
                pid,
                "pcl5",
                [value] * 12 + [0] * 8,
                notifier=NullNotifier(),
                completed_at=now - dt.timedelta(days=days),
            )
    login_as("nurse.mia")
    page = client.get(f"/patients/{pid}").text
    card = re.search(r'data-testid="pcl5-percent-change"[^>]*>([^<]*)<', page)
    assert card is not None
    assert card.group(1) == "—"
    assert "0 %" not in page
    assert "No percentage change: the baseline is 0" in page
    assert "12 points above baseline" in page
    outcomes = client.get(f"/patients/{pid}/outcomes").text
    assert 'title="the baseline is 0: a change cannot be a percentage of 0">—</abbr>' in outcomes


def test_the_outcomes_page_shows_baseline_points_and_sources(client, demo, login_as):
    from ketaclinic.adapters.db import tables_chair as ch
    from ketaclinic.adapters.db import tables_intake as ti

    login_as("nurse.mia")
    # A scored MIA patient with no plan, visit or session: the intake's scores after the
    # screening's (services/demo_mbc.py).
    anchored = sa.union(
        sa.select(ch.infusion_session.c.patient_id),
        sa.select(ti.series_visit.c.patient_id),
        sa.select(ti.treatment_plan.c.patient_id),
    )
    with demo.engine.connect() as conn:
        pid = conn.execute(
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
    page = client.get(f"/patients/{pid}/outcomes")
    assert page.status_code == 200
    for text in ("Baseline", "Follow-up scores", "Durability", "Feder 2021", "Albott 2018"):
        assert text in page.text


def test_the_director_gets_the_report_and_its_csv(client, login_as):
    login_as("director.mia")
    page = client.get("/reports/outcomes?from=2000-01-01")
    assert page.status_code == 200
    assert "All sites" in page.text
    assert "95 % CI" in page.text
    download = client.get("/reports/outcomes.csv?from=2000-01-01")
    assert download.headers["content-type"].startswith("text/csv")
    assert "attachment" in download.headers["content-disposition"]
    header, overall, site, *protocols = download.text.strip().split("\n")
    assert header.startswith("grouping,group,start,end,patients,responders,response_rate")
    assert overall.startswith("all,All sites,2000-01-01,,")
    assert site.startswith("site,MIA,")
    assert protocols
    assert all(row.startswith("protocol,") for row in protocols)
    assert "By protocol" in page.text
    bad = client.get("/reports/outcomes?from=yesterday")
    assert bad.status_code == 422
    assert "from: got &#39;yesterday&#39;, expected a date" in bad.text


def test_a_prescriber_may_not_open_the_report(client, login_as):
    login_as("prescriber.mia")
    assert client.get("/reports/outcomes").status_code == 403
    assert client.get("/reports/outcomes.csv").status_code == 403


def test_staff_create_a_link_and_see_it_once(client, demo, login_as):
    login_as("nurse.mia")
    pid = patient_id(demo, "DEMO-0005")
    form = client.get(f"/patients/{pid}/self-report")
    created = client.post(
        f"/patients/{pid}/self-report",
        data={
            "csrf_token": csrf(form.text),
            "instruments": ["pcl5", "gad7"],
            "expires_in_days": "3",
            "send_email": "yes",
        },
    )
    assert created.status_code == 200
    url = re.search(r'id="self-report-url" readonly value="([^"]+)"', created.text).group(1)
    assert re.fullmatch(r"http://testserver/r/[A-Za-z0-9_-]{43}", url)
    assert "mail is off" in created.text
    (link,) = rows(demo, m.self_report_link, m.self_report_link.c.patient_id == pid)
    assert url.rsplit("/", 1)[1] not in json.dumps([str(v) for v in link])
    bad = client.post(
        f"/patients/{pid}/self-report",
        data={"csrf_token": csrf(form.text), "instruments": ["cssrs"], "expires_in_days": "3"},
    )
    assert bad.status_code == 422
    assert len(rows(demo, m.self_report_link, m.self_report_link.c.patient_id == pid)) == 1


# --- the patient's one-time link ------------------------------------------------------------


def test_the_link_page_opens_in_the_patients_language_unless_the_visitor_switches(client, demo):
    # docs/i18n.md: ?lang=, then the cookie a switch left, then the patient's preferred language;
    # the browser's Accept-Language does not override what the patient told the clinic.
    path = link_for(demo, "DEMO-0005", ("phq9", "gad7"))
    with demo.engine.connect() as conn:
        preferred = conn.execute(
            sa.select(t.patient.c.preferred_language).where(t.patient.c.mrn == "DEMO-0005")
        ).scalar_one()
    other = "en" if preferred == "es" else "es"
    first = client.get(path, headers={"Accept-Language": f"{other};q=1.0"})
    assert f'<html lang="{preferred}">' in first.text
    spanish = client.get(path + "?lang=es")
    assert '<html lang="es">' in spanish.text
    assert "Enviar mis respuestas" in spanish.text
    assert "Send my answers" not in spanish.text
    english = client.get(path + "?lang=en")
    assert '<html lang="en">' in english.text
    assert "Send my answers" in english.text
    remembered = client.get(path)  # the switch's cookie
    assert '<html lang="en">' in remembered.text


def test_the_link_page_shows_no_patient_identity(client, demo):
    path = link_for(demo, "DEMO-0005")
    page = client.get(path).text
    with demo.engine.connect() as conn:
        patient = conn.execute(sa.select(t.patient).where(t.patient.c.mrn == "DEMO-0005")).one()
    for secret in (patient.mrn, patient.family_name, patient.given_name):
        assert secret not in page
    assert "Demo Ketamine Clinic" in page


@pytest.mark.parametrize("path", ["/r/not-a-token", "/r/" + "A" * 43, "/r/" + "A" * 300])
def test_a_wrong_link_gets_a_clear_page(client, demo, path):
    response = client.get(path)
    assert response.status_code == 404
    assert "This link is not valid" in response.text


def test_a_link_with_a_nul_character_is_refused_plainly(client, demo):
    # Refused before any route runs (web/app.py), with a page, not a traceback.
    response = client.get("/r/%00abc")
    assert response.status_code == 422
    # A visitor gets the plain page in their language; the technical detail is for staff.
    assert "Part of what was sent could not be read" in response.text
    assert "Traceback" not in response.text


def test_a_tampered_link_stores_nothing(client, demo):
    path = link_for(demo, "DEMO-0005")
    page = client.get(path)
    tampered = path[:-1] + ("A" if path[-1] != "A" else "B")
    before = len(rows(demo, m.questionnaire_response))
    response = client.post(tampered, data={"csrf_token": csrf(page.text), **PHQ9_ZERO})
    assert response.status_code == 404
    assert len(rows(demo, m.questionnaire_response)) == before


def test_an_expired_link_gets_a_clear_page_and_stores_nothing(client, demo):
    path = link_for(demo, "DEMO-0005", ttl=dt.timedelta(hours=1))
    page = client.get(path)
    token = path.rsplit("/", 1)[1]
    from ketaclinic.services.mbc_self_report import token_hash

    with demo.engine.begin() as conn:
        conn.execute(
            m.self_report_link.update()
            .where(m.self_report_link.c.token_hash == token_hash(token))
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
        )
    before = len(rows(demo, m.questionnaire_response))
    response = client.post(
        path + "?lang=es", data={"csrf_token": csrf(page.text), "language": "es", **PHQ9_ZERO}
    )
    assert response.status_code == 410
    assert "Este enlace ha caducado" in response.text
    assert len(rows(demo, m.questionnaire_response)) == before


def test_partial_answers_are_shown_again_and_the_link_still_works(client, demo):
    path = link_for(demo, "DEMO-0005")
    page = client.get(path + "?lang=en")
    partial = {k: v for k, v in PHQ9_ZERO.items() if k != "phq9_06"} | {"phq9_02": "7"}
    before = len(rows(demo, m.questionnaire_response))
    response = client.post(path, data={"csrf_token": csrf(page.text), "language": "en", **partial})
    assert response.status_code == 422
    assert "2 questions still need an answer" in response.text
    assert 'id="problem-phq9_06"' in response.text
    assert 'id="problem-phq9_02"' in response.text
    assert len(rows(demo, m.questionnaire_response)) == before
    done = client.post(path, data={"csrf_token": csrf(page.text), "language": "en", **PHQ9_ZERO})
    assert done.status_code == 200
    assert "Thank you" in done.text


def test_both_pcl5_forms_on_one_link_keep_their_answers_apart(client, demo):
    # Both forms have items pcl5_01…pcl5_20: each gets its own field names on the page.
    pid = patient_id(demo, "DEMO-0005")
    path = link_for(demo, "DEMO-0005", ("pcl5", "pcl5-week", "phq9"))
    page = client.get(path + "?lang=en")
    assert page.text.count('name="pcl5--pcl5_01"') == 5
    assert page.text.count('name="pcl5-week--pcl5_01"') == 5
    assert 'name="pcl5_01"' not in page.text
    assert 'name="phq9_01"' in page.text  # no shared id: the plain name stays
    month = {f"pcl5--pcl5_{n:02d}": "1" for n in range(1, 21)}
    week = {f"pcl5-week--pcl5_{n:02d}": "3" for n in range(1, 21)}
    token = csrf(page.text)
    partial = {k: v for k, v in week.items() if k != "pcl5-week--pcl5_04"}
    before = len(rows(demo, m.questionnaire_response))
    missing = client.post(
        path, data={"csrf_token": token, "language": "en", **month, **partial, **PHQ9_ZERO}
    )
    assert missing.status_code == 422
    assert "1 question still needs an answer" in missing.text
    assert 'id="problem-pcl5-week--pcl5_04"' in missing.text
    assert 'id="problem-pcl5--pcl5_04"' not in missing.text
    assert 'name="pcl5--pcl5_04" value="1" checked' in missing.text  # kept, in its own form
    assert len(rows(demo, m.questionnaire_response)) == before
    done = client.post(
        path, data={"csrf_token": token, "language": "en", **month, **week, **PHQ9_ZERO}
    )
    assert done.status_code == 200
    by_link = m.questionnaire_response.c.self_report_id.is_not(None)
    stored = rows(
        demo, m.questionnaire_response, by_link, m.questionnaire_response.c.patient_id == pid
    )
    assert sorted((r.instrument_id, r.total) for r in stored) == [
        ("pcl5", 20),
        ("pcl5-week", 60),
        ("phq9", 0),
    ]


def test_a_submitted_link_is_stored_once_and_reuse_gets_a_clear_page(client, demo):
    pid = patient_id(demo, "DEMO-0005")
    path = link_for(demo, "DEMO-0005")
    page = client.get(path)
    answers = dict(PHQ9_ZERO) | {"phq9_09": "1"}
    done = client.post(path, data={"csrf_token": csrf(page.text), "language": "es", **answers})
    assert done.status_code == 200
    assert "Gracias" in done.text
    assert "emergencias" in done.text  # item 9 positive: the crisis advice is shown
    by_link = m.questionnaire_response.c.self_report_id.is_not(None)
    stored = rows(demo, m.questionnaire_response, by_link)
    assert [(r.patient_id, r.instrument_id, r.language) for r in stored] == [(pid, "phq9", "es")]
    assert rows(demo, m.safety_task, m.safety_task.c.response_id == stored[0].id)
    again = client.post(path, data={"csrf_token": csrf(page.text), "language": "es", **answers})
    assert again.status_code == 410
    assert "ya se utilizó" in again.text
    assert client.get(path).status_code == 410
    assert len(rows(demo, m.questionnaire_response, by_link)) == 1


def site_phone_of(demo, mrn: str) -> tuple[int, str]:
    with demo.engine.connect() as conn:
        row = conn.execute(
            sa.select(t.site.c.id, t.site.c.phone)
            .join(t.patient, t.patient.c.site_id == t.site.c.id)
            .where(t.patient.c.mrn == mrn)
        ).one()
    return row.id, row.phone


def phone_line(html: str) -> str:
    found = re.search(r'<p class="clinic-phone" data-testid="clinic-phone">(.*?)</p>', html)
    return found.group(1) if found else ""


def test_every_link_page_gives_the_sending_sites_phone_number(client, demo):
    _, phone = site_phone_of(demo, "DEMO-0005")
    assert phone  # the demo sites have numbers
    dial = "+" + "".join(ch for ch in phone if ch.isdigit())
    path = link_for(demo, "DEMO-0005")
    page = client.get(path + "?lang=es")
    assert f"Teléfono de la clínica: {phone}" in phone_line(page.text)
    assert f'href="tel:{dial}"' in phone_line(page.text)
    done = client.post(path, data={"csrf_token": csrf(page.text), "language": "en", **PHQ9_ZERO})
    assert done.status_code == 200
    assert f"Clinic phone: {phone}" in phone_line(done.text)
    used = client.get(path + "?lang=en")  # a used link: "contact the clinic", with the number
    assert used.status_code == 410
    assert f"Clinic phone: {phone}" in phone_line(used.text)
    # A token that matches no link belongs to no site: no number is given.
    assert phone_line(client.get("/r/" + "A" * 43).text) == ""


def test_a_site_without_a_phone_number_shows_no_phone_line(client, demo):
    site_id, _ = site_phone_of(demo, "DEMO-0005")
    with demo.uow() as uow:
        uow.sites.set_phone(site_id, "")
        uow.commit()
    path = link_for(demo, "DEMO-0005")
    page = client.get(path)
    assert page.status_code == 200
    assert 'data-testid="clinic-phone"' not in page.text
    done = client.post(path, data={"csrf_token": csrf(page.text), "language": "en", **PHQ9_ZERO})
    assert done.status_code == 200
    assert 'data-testid="clinic-phone"' not in done.text


def test_the_link_page_is_throttled_per_client(client, demo):
    path = link_for(demo, "DEMO-0005")
    statuses = [client.get(path).status_code for _ in range(self_report_throttle.limit + 1)]
    assert statuses[:-1] == [200] * self_report_throttle.limit
    assert statuses[-1] == 429


def test_a_submission_without_the_form_token_is_refused(client, demo):
    path = link_for(demo, "DEMO-0005")
    client.get(path)
    before = len(rows(demo, m.questionnaire_response))
    assert client.post(path, data={"language": "en", **PHQ9_ZERO}).status_code == 403
    assert len(rows(demo, m.questionnaire_response)) == before


def test_the_link_flow_logs_neither_the_token_nor_the_patient(client, demo):
    import io
    import logging

    from ketaclinic import logs

    stream = io.StringIO()
    logs.configure("DEBUG")
    logging.getLogger("ketaclinic").handlers[-1].setStream(stream)  # type: ignore[attr-defined]
    path = link_for(demo, "DEMO-0005")
    page = client.get(path)
    answers = dict(PHQ9_ZERO) | {"phq9_09": "2"}  # raises a task: the notifier path logs too
    client.post(path, data={"csrf_token": csrf(page.text), "language": "en", **answers})
    output = stream.getvalue()
    assert '"route": "/r/{token}"' in output
    assert path.rsplit("/", 1)[1] not in output
    assert "DEMO-0005" not in output
