"""The server's background sweep sends the scheduled questionnaire links once the clinic's public
address is set, on SQLite and PostgreSQL with the demo clinic and an SMTP server on loopback:
the due link is e-mailed once with that address in it, a second sweep sends nothing more."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ketaclinic.adapters.chair_sweeper import ChairSweeper
from ketaclinic.bootstrap import build
from ketaclinic.config import Settings
from ketaclinic.services.intake_models import NewVisit, Series, TreatmentPlan

ADDRESS = "demo-0005@patients.demo.invalid"


def book_tomorrow(demo, mrn: str) -> int:  # type: ignore[no-untyped-def]
    """A one-visit series for ``mrn`` starting in 24 hours: its before-infusion slot is open."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    start = now + dt.timedelta(hours=24, seconds=17)  # off the booking grid: never a clash
    with demo.uow() as uow:
        patient = uow.patients.by_mrn(mrn)
        chair = uow.sites.chairs(patient.site_id)[-1]
        prescriber = uow.users.by_username("prescriber.mia")
        plan = uow.schedule.add_plan(
            TreatmentPlan(0, patient.id, "abdallah-2022", 0.5, now.date(), prescriber.id, now)
        )
        uow.schedule.add_series(
            Series(0, patient.id, patient.site_id, plan.id, "abdallah-2022", prescriber.id, now),
            [NewVisit(chair.id, 1, start, start + dt.timedelta(hours=2), start.date())],
        )
        uow.commit()
    return int(patient.id)


def test_the_sweeper_sends_due_links_with_the_public_address(  # type: ignore[no-untyped-def]
    demo, smtp_inbox, tmp_path: Path
) -> None:
    patient_id = book_tomorrow(demo, "DEMO-0005")
    container = build(
        Settings(
            database_url=demo.settings.effective_database_url,
            data_dir=tmp_path,
            secret_key="sweep-secret-" + "q" * 40,
            environment="test",
            smtp_host="127.0.0.1",
            smtp_port=smtp_inbox.port,
            public_url="https://clinic.example.org",
            _env_file=None,  # type: ignore[call-arg]
        ),
        fast_password_hashing=True,
    )
    try:
        sweeper = ChairSweeper(container, 15, reminder_interval_s=0)
        first = sweeper.send_self_reports()
        assert first is not None
        mine = [item for item in first.items if item.patient_id == patient_id]
        assert [item.outcome.value for item in mine] == ["mailed"]
        (mail,) = smtp_inbox.to(ADDRESS)
        assert "https://clinic.example.org/r/" in mail.get_payload(decode=True).decode()
        again = sweeper.send_self_reports()
        assert again is not None
        assert [item for item in again.items if item.patient_id == patient_id] == []
        assert len(smtp_inbox.to(ADDRESS)) == 1
    finally:
        container.dispose()
