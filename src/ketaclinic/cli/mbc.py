"""``ketaclinic instruments load``, ``self-report send`` and ``report outcomes``: the
command-line face of measurement-based care.

- ``instruments load FILE [--json]`` validates a clinic's content pack (official wording of one
  instrument in one language) and stores it with its licence attestation; forms then show that
  wording. Audited as the system operator.
- ``self-report send --mrn M --instrument pcl5 [--instrument phq9] [--expires-in-days N]
  [--due YYYY-MM-DD] [--base-url URL] [--json]`` makes a one-time questionnaire link, prints it,
  and e-mails it when the patient has an address and SMTP is configured. ``--base-url`` (or
  ``KETACLINIC_PUBLIC_URL``) is the address patients reach ketaclinic at.
- ``self-report send-due [--base-url URL] [--json]`` sends every scheduled self-report link that
  is due now (services/mbc_sweep.py): run it every 15 minutes or so from cron or a systemd
  timer. Running it again sends nothing twice.
- ``report outcomes --as DIRECTOR [--from DATE] [--to DATE] [--csv FILE] [--json]`` prints the
  cohort outcome report of that director's sites (the same as their page), audited as them.

Bad input is one line on stderr naming field, value and expectation, exit code 2.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table

from ketaclinic.adapters.notify.smtp import notifier_in
from ketaclinic.cli.common import JSON_OPTION, emit, handles_errors, upgraded_container
from ketaclinic.domain.errors import InvalidInput, NotFound
from ketaclinic.domain.instruments import decode_content_pack, validate_content_pack
from ketaclinic.services import mbc_cohort, mbc_content, mbc_safety, mbc_self_report, mbc_sweep
from ketaclinic.services.audit import SYSTEM, Actor
from ketaclinic.services.auth import principal_of
from ketaclinic.services.mbc_model import RequestOutcome

PACK_MAX_BYTES = 1_000_000  # official wording of one instrument is a few kB
DEFAULT_BASE_URL = "http://127.0.0.1:8000"


def register(app: typer.Typer) -> None:
    """Add ``instruments load`` (to the existing ``instruments`` group, or a new one) and the
    ``self-report`` group to ``app``."""
    _group(app, "instruments", "Instrument definitions and content packs.").command(
        "load", help="Store a content pack of official wording for this clinic."
    )(load_command)
    self_report = typer.Typer(help="One-time questionnaire links for patients.")
    self_report.command("send", help="Make (and e-mail) a one-time questionnaire link.")(
        send_command
    )
    self_report.command(
        "send-due", help="Send every scheduled questionnaire link that is due now."
    )(send_due_command)
    app.add_typer(self_report, name="self-report")
    report = typer.Typer(help="Reports for the clinic's director.", no_args_is_help=True)
    report.command(
        "outcomes", help="PCL-5 response, remission and durability by site and protocol."
    )(outcomes_command)
    app.add_typer(report, name="report")


def _group(app: typer.Typer, name: str, help_text: str) -> typer.Typer:
    for info in app.registered_groups:
        if info.name == name and info.typer_instance is not None:
            return info.typer_instance
    group = typer.Typer(help=help_text)
    app.add_typer(group, name=name)
    return group


def _read(file: Path) -> str:
    try:
        if file.stat().st_size > PACK_MAX_BYTES:
            raise InvalidInput.for_field(
                "FILE", str(file), f"a content pack of at most {PACK_MAX_BYTES} bytes"
            )
        return file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        raise InvalidInput.for_field("FILE", str(file), "a readable UTF-8 JSON file") from None


@handles_errors
def load_command(
    file: Annotated[Path, typer.Argument(help="Content pack JSON file")],
    as_json: bool = JSON_OPTION,
) -> None:
    text = _read(file)
    # Validate before touching the database, so a bad file needs no configured database.
    validate_content_pack(decode_content_pack(text))
    c = upgraded_container()
    try:
        with c.uow() as uow:
            stored = mbc_content.load_content_pack(uow, c.clock, SYSTEM, text)
    finally:
        c.dispose()
    pack = stored.pack
    licence = pack.licence
    result: dict[str, Any] = {
        "id": stored.id,
        "instrument": pack.instrument_id,
        "instrument_version": pack.instrument_version,
        "language": pack.language,
        "items": len(pack.item_text),
        "loaded_at": stored.loaded_at.isoformat(),
        "licence": (
            {
                "attested_by": licence.attested_by,
                "attested_on": licence.attested_on.isoformat(),
                "statement": licence.statement,
            }
            if licence is not None
            else None
        ),
    }

    def human(console: Console) -> None:
        attested = (
            f"licence attested by {licence.attested_by} on {licence.attested_on}"
            if licence is not None
            else "no licence attestation (public-domain wording)"
        )
        console.print(
            f"loaded {pack.instrument_id} ({pack.language}): {len(pack.item_text)} items, "
            f"{attested}. Forms in {pack.language} now show this wording."
        )

    emit(result, as_json=as_json, human=human)


def _base_url(base_url: str) -> str:
    if not base_url.startswith(("https://", "http://")) or len(base_url) > 200:
        raise InvalidInput.for_field("--base-url", base_url, "an http(s):// address")
    return base_url


BASE_URL_OPTION = typer.Option(
    "--base-url",
    envvar="KETACLINIC_PUBLIC_URL",
    help="the address patients reach ketaclinic at",
)


@handles_errors
def send_due_command(
    base_url: Annotated[str, BASE_URL_OPTION] = DEFAULT_BASE_URL,
    as_json: bool = JSON_OPTION,
) -> None:
    _base_url(base_url)
    c = upgraded_container()
    try:
        result = mbc_sweep.send_due(c.uow, c.clock, notifier_in(c.extras), base_url)
    finally:
        c.dispose()
    labels = {
        RequestOutcome.MAILED: "e-mailed",
        RequestOutcome.NO_EMAIL: "no e-mail address (front desk notified)",
        RequestOutcome.MAIL_OFF: "mail is off (front desk notified)",
        RequestOutcome.MAIL_FAILED: "e-mail failed (front desk notified)",
        RequestOutcome.PENDING: "link made, e-mail not finished",
    }

    def human(console: Console) -> None:
        console.print(
            f"checked {result.patients_checked} patients with visits around now; "
            f"{len(result.items)} scheduled requests acted on."
        )
        for outcome, label in labels.items():
            if result.count(outcome):
                console.print(f"  {result.count(outcome)} {label}")

    emit(result.as_dict(), as_json=as_json, human=human)


@handles_errors
def send_command(
    mrn: Annotated[str, typer.Option("--mrn", help="the patient's MRN")],
    instrument: Annotated[
        list[str], typer.Option("--instrument", help="pcl5, pcl5-week, phq9, gad7, who5; repeat")
    ],
    expires_in_days: Annotated[
        int, typer.Option("--expires-in-days", help="1–60 days", min=1, max=60)
    ] = 7,
    due: Annotated[str, typer.Option("--due", help="answer by this date, YYYY-MM-DD")] = "",
    base_url: Annotated[str, BASE_URL_OPTION] = DEFAULT_BASE_URL,
    as_json: bool = JSON_OPTION,
) -> None:
    _base_url(base_url)
    due_on = _due(due)
    c = upgraded_container()
    try:
        with c.uow() as uow:
            patient = uow.patients.by_mrn(mrn)
            if patient is None:
                raise NotFound(f"--mrn: no patient with MRN {mrn!r}", field="mrn")
            site = uow.sites.get(patient.site_id)
            # The end of the chosen day where the patient is treated.
            zone = ZoneInfo(site.timezone if site is not None else "UTC")
            due_at = dt.datetime.combine(due_on, dt.time(23, 59), zone) if due_on else None
            issued = mbc_self_report.request_self_report(
                uow,
                c.clock,
                SYSTEM,
                patient.id,
                instrument,
                due_at,
                ttl=dt.timedelta(days=expires_in_days),
            )
            url = base_url.rstrip("/") + issued.path
            notifier = notifier_in(c.extras)
            if not mbc_safety.delivers(notifier):
                mail = "off"
            elif not patient.email:
                mail = "no_address"
            elif mbc_self_report.mail_link(uow, c.clock, notifier, issued, url):
                mail = "sent"
            else:
                mail = "failed"
    finally:
        c.dispose()
    result = {
        "mrn": mrn,
        "patient_id": issued.link.patient_id,
        "url": url,
        "instruments": list(issued.link.instrument_ids),
        "expires_at": issued.link.expires_at.isoformat(),
        "due_at": issued.link.due_at.isoformat() if issued.link.due_at else None,
        "mail": mail,
    }
    notes = {
        "sent": "e-mailed to the patient",
        "off": "not e-mailed: SMTP is not configured",
        "no_address": "not e-mailed: the patient has no e-mail address",
        "failed": "not e-mailed: the mail server refused (see the log); the link still works",
    }

    def human(console: Console) -> None:
        console.print(url, soft_wrap=True)
        console.print(
            f"one-time link for {mrn}, expires {issued.link.expires_at:%Y-%m-%d %H:%M} UTC; "
            f"{notes[mail]}."
        )

    emit(result, as_json=as_json, human=human)


def _due(text: str, field: str = "--due") -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidInput.for_field(field, text, "a date YYYY-MM-DD") from None


@handles_errors
def outcomes_command(
    director: Annotated[
        str, typer.Option("--as", help="the director whose sites are reported (audited as them)")
    ],
    start: Annotated[str, typer.Option("--from", help="first follow-up day, YYYY-MM-DD")] = "",
    end: Annotated[str, typer.Option("--to", help="last follow-up day, YYYY-MM-DD")] = "",
    csv_file: Annotated[
        Path | None, typer.Option("--csv", help="also write the report as CSV to this file")
    ] = None,
    as_json: bool = JSON_OPTION,
) -> None:
    """The cohort outcome report of the director's page (services/mbc_cohort.py), on the
    director's sites, as that director: the read is audited under their name."""
    first, last = _due(start, "--from"), _due(end, "--to")
    c = upgraded_container()
    try:
        with c.uow(readonly=True) as uow:
            user = uow.users.by_username(director.strip().lower())
            if user is None or not user.active:
                raise NotFound(f"--as: no active staff account named {director!r}", field="--as")
            actor = Actor(principal_of(user), "cli")
            report = mbc_cohort.outcome_report(uow, c.clock, actor, start=first, end=last)
    finally:
        c.dispose()
    if csv_file is not None:
        try:
            csv_file.write_text(mbc_cohort.report_csv(report), encoding="utf-8")
        except OSError as error:
            raise InvalidInput.for_field(
                "--csv", str(csv_file), f"a writable file ({error.strerror})"
            ) from None
    result = report.as_dict()

    def human(console: Console) -> None:
        table = Table("group", "patients", "response", "remission", "mean drop (95 % CI)")
        for group in report.groups:
            summary = group.summary
            label = group.label
            if group.grouping is not mbc_cohort.Grouping.ALL:
                label = f"{group.grouping.value}: {group.label}"
            if summary is None:
                table.add_row(label, "0", "—", "—", "—")
                continue
            change = summary.mean_change
            table.add_row(
                label,
                str(summary.n),
                f"{summary.response.count} ({_percent(summary.response.proportion)})",
                f"{summary.remission.count} ({_percent(summary.remission.proportion)})",
                f"{_signed(change.mean)} ({_signed(change.ci_low)} to {_signed(change.ci_high)})",
            )
        console.print(table)
        console.print("Drop = baseline − latest PCL-5 in points (positive = better).")
        console.print(report.grouping_note)

    emit(result, as_json=as_json, human=human)


def _percent(value: float | None) -> str:
    return "—" if value is None or math.isnan(value) else f"{100 * value:.0f} %"


def _signed(value: float | None) -> str:
    return "—" if value is None or math.isnan(value) else f"{value:+.1f}"
