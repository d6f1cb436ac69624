"""The appointment reminders run in the background sweeper of the web app (adapters/
chair_sweeper.py), against real databases (SQLite and PostgreSQL, the demo clinic loaded) and a
real SMTP server on loopback: with no cron job and no one signed in, two app processes at once
e-mail a visit due tomorrow once, in Spanish for a Spanish speaker."""

from __future__ import annotations

import datetime as dt
import email
import email.header
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import pytest
import sqlalchemy as sa

from ketaclinic.adapters.db import tables_visit_notices as vn
from ketaclinic.bootstrap import Container, build
from ketaclinic.config import Settings
from ketaclinic.services.intake_models import NewVisit, Series, TreatmentPlan

WAIT_S = 60.0  # bounds a hang only; a healthy sweeper e-mails within a second or two
ADDRESS = "demo-0005@patients.demo.invalid"


@pytest.fixture
def smtp(smtp_inbox):  # type: ignore[no-untyped-def]
    return smtp_inbox, smtp_inbox.port


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def book_tomorrow(container: Container, mrn: str) -> int:
    """A one-visit series for ``mrn`` 20 hours from now; the patient prefers Spanish."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    start = now + dt.timedelta(hours=20, seconds=17)  # off the booking grid: never a clash
    with container.uow() as uow:
        patient = uow.patients.by_mrn(mrn)
        uow.patients.set_preferred_language(patient.id, "es")
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


def test_two_app_processes_remind_a_visit_once_with_no_cron(demo, smtp, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from ketaclinic.web.app import create_app

    inbox, port = smtp
    visit_id = book_tomorrow(demo, "DEMO-0005")

    def app_process(name: str) -> Container:
        return build(
            Settings(
                database_url=demo.settings.effective_database_url,
                data_dir=tmp_path / name,
                secret_key="sweep-secret-" + "s" * 40,
                environment="test",
                chair_sweep_s=0.2,
                visit_reminder_sweep_s=0.2,
                smtp_host="127.0.0.1",
                smtp_port=port,
                _env_file=None,  # type: ignore[call-arg]
            ),
            fast_password_hashing=True,
        )

    containers = [app_process("a"), app_process("b")]
    try:
        with ExitStack() as running:
            for container in containers:
                running.enter_context(TestClient(create_app(container)))
            wait_for(lambda: bool(inbox.to(ADDRESS)), "the reminder e-mail")

            def settled() -> bool:
                with demo.engine.connect() as conn:
                    return (
                        conn.execute(
                            sa.select(vn.visit_notice.c.outcome).where(
                                vn.visit_notice.c.visit_id == visit_id
                            )
                        ).scalar()
                        == "sent"
                    )

            wait_for(settled, "the reminder's outcome")
    finally:
        for container in containers:
            container.dispose()
    with demo.uow() as uow:
        patient_id = uow.patients.by_mrn("DEMO-0005").id
    with demo.engine.connect() as conn:
        rows = conn.execute(
            sa.select(vn.visit_notice).where(vn.visit_notice.c.patient_id == patient_id)
        ).all()
    sent_to_patient = [r for r in rows if r.outcome == "sent"]
    mails = inbox.to(ADDRESS)
    assert len(mails) == len(sent_to_patient) >= 1
    ours = [r for r in rows if r.visit_id == visit_id]
    assert [(r.kind, r.outcome) for r in ours] == [("reminder", "sent")]
    subjects = {
        str(email.header.make_header(email.header.decode_header(m["Subject"]))) for m in mails
    }
    assert all(s.startswith("Demo Ketamine Clinic: recordatorio de su cita del ") for s in subjects)
