"""``ketaclinic visits send-reminders``: the appointment reminders from the command line.

- ``visits send-reminders [--lead-hours H] [--json]`` e-mails the reminder of every booked visit
  that starts within the lead time (``--lead-hours``, else ``KETACLINIC_VISIT_REMINDER_LEAD_H``,
  else 24 hours) and has had none (services/visit_reminders.py). Every ``serve`` and ``hl7
  listen`` process already runs this sweep in the background (adapters/chair_sweeper.py); the
  command is for a clinic that turned that off, or wants to run it by hand or from cron. Running
  it again sends nothing twice.

Bad input is one line on stderr naming field, value and expectation, exit code 2.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated

import typer
from rich.console import Console

from ketaclinic.adapters.notify.smtp import notifier_in
from ketaclinic.cli.common import JSON_OPTION, emit, handles_errors, upgraded_container
from ketaclinic.domain.errors import InvalidInput
from ketaclinic.services import visit_reminders
from ketaclinic.services.visit_notice_ports import NoticeOutcome


def register(app: typer.Typer) -> None:
    """Add the ``visits`` group to ``app``."""
    visits = typer.Typer(help="Booked visits: the patients' appointment e-mails.")
    visits.command(
        "send-reminders",
        help="E-mail the reminder of every visit starting within the lead time (once each).",
    )(send_reminders_command)
    app.add_typer(visits, name="visits")


def _lead(text: str, default_h: float) -> dt.timedelta:
    if not text:
        return visit_reminders.check_lead(dt.timedelta(hours=default_h), "--lead-hours")
    try:
        hours = float(text)
    except ValueError:
        hours = math.nan
    if not math.isfinite(hours):
        raise InvalidInput.for_field("--lead-hours", text, "a number of hours, 1–168")
    return visit_reminders.check_lead(dt.timedelta(hours=hours), "--lead-hours")


LABELS = {
    NoticeOutcome.SENT: "e-mailed",
    NoticeOutcome.NO_EMAIL: "no e-mail address on file (nothing sent)",
    NoticeOutcome.FAILED: "e-mail failed (see the log; not retried)",
}


@handles_errors
def send_reminders_command(
    lead_hours: Annotated[
        str,
        typer.Option(
            "--lead-hours",
            help="remind visits starting within this many hours (1–168; default: "
            "KETACLINIC_VISIT_REMINDER_LEAD_H, else 24)",
        ),
    ] = "",
    as_json: bool = JSON_OPTION,
) -> None:
    if lead_hours:
        _lead(lead_hours, 24.0)  # bad input before any database work
    c = upgraded_container()
    try:
        lead = _lead(lead_hours, c.settings.visit_reminder_lead_h)
        result = visit_reminders.send_reminders(c.uow, c.clock, notifier_in(c.extras), lead=lead)
    finally:
        c.dispose()

    def human(console: Console) -> None:
        if not result.mail_on:
            console.print("mail is off (KETACLINIC_SMTP_HOST is not set): no reminder was sent.")
            return
        hours = f"{result.lead.total_seconds() / 3600:g}"
        console.print(
            f"{result.visits_due} visits start within {hours} hours; "
            f"{len(result.items)} reminded now."
        )
        for outcome, label in LABELS.items():
            if result.count(outcome):
                console.print(f"  {result.count(outcome)} {label}")

    emit(result.as_dict(), as_json=as_json, human=human)
