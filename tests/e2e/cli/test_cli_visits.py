"""``ketaclinic visits send-reminders`` on SQLite and PostgreSQL (the demo clinic loaded), with a
loopback SMTP server: it reminds a visit due within the lead time once, in the patient's
language, reports ids only, and refuses a bad lead time in one line."""

from __future__ import annotations

import datetime as dt
import email
import email.header
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from ketaclinic.adapters.db import tables_visit_notices as vn
from ketaclinic.cli.main import app
from ketaclinic.services.intake_models import NewVisit, Series, TreatmentPlan

runner = CliRunner()


@pytest.fixture
def env(demo, tmp_path: Path) -> dict[str, str | None]:
    return {
        "KETACLINIC_DATABASE_URL": demo.settings.effective_database_url,
        "KETACLINIC_DATA_DIR": str(tmp_path / "data"),
        "KETACLINIC_SECRET_KEY": "cli-secret-" + "v" * 40,
        "KETACLINIC_ENVIRONMENT": "test",
        "KETACLINIC_SMTP_HOST": "",
        "KETACLINIC_VISIT_REMINDER_LEAD_H": None,  # unset: the default, 24 hours
    }


@pytest.fixture
def smtp(env, smtp_inbox):  # type: ignore[no-untyped-def]
    """The loopback mailbox (tests/conftest.py) and the environment that sends mail to it."""
    return smtp_inbox, {
        **env,
        "KETACLINIC_SMTP_HOST": "127.0.0.1",
        "KETACLINIC_SMTP_PORT": str(smtp_inbox.port),
    }


def book_in(demo, mrn: str, hours: float, language: str = "es") -> int:
    """A one-visit series for ``mrn`` starting ``hours`` from now; the patient prefers
    ``language``. Returns the visit's id."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    start = now + dt.timedelta(hours=hours, seconds=17)  # off the booking grid: never a clash
    with demo.uow() as uow:
        patient = uow.patients.by_mrn(mrn)
        uow.patients.set_preferred_language(patient.id, language)
        chair = uow.sites.chairs(patient.site_id)[-1]
        prescriber = uow.users.by_username("prescriber.mia")
        plan = uow.schedule.add_plan(
            TreatmentPlan(0, patient.id, "abdallah-2022", 0.5, now.date(), prescriber.id, now)
        )
        series = uow.schedule.add_series(
            Series(0, patient.id, patient.site_id, plan.id, "abdallah-2022", prescriber.id, now),
            [NewVisit(chair.id, 1, start, start + dt.timedelta(hours=2), start.date())],
        )
        uow.commit()
    return series.visits[0].id


def notices(demo, visit_id: int) -> list[sa.Row]:
    with demo.engine.connect() as conn:
        return list(
            conn.execute(sa.select(vn.visit_notice).where(vn.visit_notice.c.visit_id == visit_id))
        )


def test_send_reminders_mails_a_due_visit_once_in_the_patients_language(smtp, demo) -> None:
    inbox, env = smtp
    visit_id = book_in(demo, "DEMO-0005", hours=20)
    first = runner.invoke(app, ["visits", "send-reminders", "--json"], env=env)
    again = runner.invoke(app, ["visits", "send-reminders", "--json"], env=env)
    assert first.exit_code == 0, first.output
    body = json.loads(first.stdout)
    assert (body["mail"], body["lead_hours"]) == ("on", 24.0)
    mine = [i for i in body["items"] if i["visit_id"] == visit_id]
    assert [i["outcome"] for i in mine] == ["sent"]
    assert body["by_outcome"]["sent"] == len(inbox.messages) >= 1
    assert "DEMO-" not in first.stdout  # ids only
    (row,) = notices(demo, visit_id)
    assert (row.kind, row.outcome) == ("reminder", "sent")
    to_patient = [m for m in inbox.messages if m["To"] == "demo-0005@patients.demo.invalid"]
    (message,) = to_patient
    subject = str(email.header.make_header(email.header.decode_header(message["Subject"])))
    assert subject.startswith("Demo Ketamine Clinic: recordatorio de su cita del ")
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["items"] == []
    assert len(inbox.messages) == body["by_outcome"]["sent"]


def test_the_lead_time_comes_from_the_option_or_the_environment(smtp, demo) -> None:
    _inbox, env = smtp
    visit_id = book_in(demo, "DEMO-0005", hours=30)
    short = runner.invoke(app, ["visits", "send-reminders", "--json"], env=env)
    assert short.exit_code == 0, short.output
    assert visit_id not in [i["visit_id"] for i in json.loads(short.stdout)["items"]]
    longer = runner.invoke(
        app,
        ["visits", "send-reminders", "--json"],
        env={**env, "KETACLINIC_VISIT_REMINDER_LEAD_H": "36"},
    )
    assert longer.exit_code == 0, longer.output
    assert json.loads(longer.stdout)["lead_hours"] == 36.0
    assert visit_id in [i["visit_id"] for i in json.loads(longer.stdout)["items"]]
    widest = runner.invoke(app, ["visits", "send-reminders", "--lead-hours", "48"], env=env)
    assert widest.exit_code == 0, widest.output
    assert "start within 48 hours" in " ".join(widest.stdout.split())
    assert len(notices(demo, visit_id)) == 1


def test_with_mail_off_it_says_so_and_claims_nothing(env, demo) -> None:
    visit_id = book_in(demo, "DEMO-0005", hours=20)
    result = runner.invoke(app, ["visits", "send-reminders"], env=env)
    assert result.exit_code == 0, result.output
    assert "mail is off" in result.stdout
    assert notices(demo, visit_id) == []


@pytest.mark.parametrize("value", ["0.5", "200", "soon", "nan"])
def test_a_bad_lead_time_is_one_line_exit_2_and_sends_nothing(smtp, demo, value: str) -> None:
    inbox, env = smtp
    visit_id = book_in(demo, "DEMO-0005", hours=20)
    result = runner.invoke(app, ["visits", "send-reminders", "--lead-hours", value], env=env)
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: --lead-hours")
    assert "1–168" in line
    assert notices(demo, visit_id) == []
    assert inbox.messages == []
