"""The ``ketaclinic`` command (DESIGN.md §4.2).

Every subcommand takes ``--json``, reports bad input as one line on stderr naming the field, the
value and what was expected, and exits 2 for bad input (cli/common.py).
"""

from __future__ import annotations

import getpass
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from ketaclinic.bootstrap import Container
from ketaclinic.cli import hl7 as hl7_cli
from ketaclinic.cli import intake as intake_cli
from ketaclinic.cli import interop as interop_cli
from ketaclinic.cli import mbc as mbc_cli
from ketaclinic.cli import pk as pk_cli
from ketaclinic.cli import scoring as scoring_cli
from ketaclinic.cli import visits as visits_cli
from ketaclinic.cli.common import (
    JSON_OPTION,
    console,
    current_container,
    emit,
    handles_errors,
    open_container,
    upgraded_container,
    usage_error_line,
)
from ketaclinic.domain.errors import InvalidInput, NotFound
from ketaclinic.domain.people import Chair, Site, parse_role
from ketaclinic.services import audit as audit_svc
from ketaclinic.services import demo as demo_svc
from ketaclinic.services import staff
from ketaclinic.services.audit import SYSTEM

if TYPE_CHECKING:
    from ketaclinic.adapters.hl7.server import ListenerConfig
    from ketaclinic.services.ports import UnitOfWork

app = typer.Typer(
    name="ketaclinic",
    help="Run a ketamine infusion clinic: web app, API, monitors, data tools.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
user_app = typer.Typer(help="Staff accounts.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit trail.", no_args_is_help=True)
hl7_app = typer.Typer(help="Bedside monitors over HL7 v2 / MLLP.", no_args_is_help=True)
chair_app = typer.Typer(help="Infusion chairs of a site.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(chair_app, name="chair")
app.add_typer(user_app, name="user")
app.add_typer(audit_app, name="audit")
app.add_typer(hl7_app, name="hl7")
scoring_cli.register(app)
intake_cli.register(app)
hl7_cli.register(app)
pk_cli.register(app)
interop_cli.register(app)
mbc_cli.register(app)  # after scoring_cli: adds "load" to its "instruments" group
visits_cli.register(app)

log = logging.getLogger("ketaclinic.cli")


@db_app.command("upgrade")
@handles_errors
def db_upgrade(as_json: bool = JSON_OPTION) -> None:
    """Apply every pending migration."""
    from ketaclinic.adapters.db import migrate

    c = upgraded_container()
    result = {"revision": migrate.current_revision(c.engine)}
    emit(
        result,
        as_json=as_json,
        human=lambda out: out.print(f"database at revision {result['revision']}"),
    )


@user_app.command("add")
@handles_errors
def user_add(
    username: str,
    role: Annotated[str, typer.Option(help="front_desk, nurse, prescriber or director")],
    site: Annotated[list[str], typer.Option(help="site code; repeat for several sites")],
    display_name: Annotated[str, typer.Option(help="name shown in the app")] = "",
    email: Annotated[str, typer.Option(help="for safety notifications")] = "",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password as one line from stdin")
    ] = False,
    as_json: bool = JSON_OPTION,
) -> None:
    """Create a staff account (the password is prompted for, or read from stdin)."""
    parsed_role = parse_role(role)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat password: ") != password:
            raise InvalidInput.for_field("password", "<hidden>", "the same password twice")
    c = upgraded_container()
    with c.uow() as uow:
        user = staff.add_user(
            uow,
            c.clock,
            SYSTEM,
            c.passwords,
            username=username,
            role=parsed_role,
            site_codes=site,
            password=password,
            display_name=display_name,
            email=email,
        )
        uow.commit()
    result = {
        "id": user.id,
        "username": user.username,
        "role": user.role.value,
        "sites": sorted(site),
    }
    emit(
        result,
        as_json=as_json,
        human=lambda out: out.print(f"created {user.username} ({user.role.label})"),
    )


@user_app.command("unlock")
@handles_errors
def user_unlock(username: str, as_json: bool = JSON_OPTION) -> None:
    """Lift a sign-in lockout now (check with the person first that the failures were theirs)."""
    c = upgraded_container()
    with c.uow() as uow:
        user = staff.unlock_user(uow, c.clock, SYSTEM, username)
        uow.commit()
    emit(
        {"id": user.id, "username": user.username, "unlocked": True},
        as_json=as_json,
        human=lambda out: out.print(f"unlocked {user.username}"),
    )


@app.command("site-add")
@handles_errors
def site_add(
    code: str,
    name: Annotated[str, typer.Option(help="the site's name")],
    chairs: Annotated[int, typer.Option(min=0, max=50, help="number of infusion chairs")] = 0,
    timezone: Annotated[str, typer.Option(help="IANA time zone")] = "America/New_York",
    organisation: Annotated[str, typer.Option(help="set the organisation's name")] = "",
    phone: Annotated[
        str, typer.Option(help="the number patients call (discharge instructions, e-mails)")
    ] = "",
    as_json: bool = JSON_OPTION,
) -> None:
    """Add a site (clinic) with its chairs."""
    c = upgraded_container()
    with c.uow() as uow:
        if organisation:
            uow.sites.set_organisation_name(organisation)
        site = staff.add_site(uow, code.upper(), name, timezone, phone)
        for n in range(1, chairs + 1):
            staff.add_chair(uow, site, f"{site.code}-{n}", f"Chair {n}")
        uow.commit()
    result = {"id": site.id, "code": site.code, "chairs": chairs}
    emit(
        result,
        as_json=as_json,
        human=lambda out: out.print(f"site {site.code} added with {chairs} chairs"),
    )


@app.command("site-phone")
@handles_errors
def site_phone(
    code: str,
    phone: Annotated[str, typer.Argument(help='the number patients call; "" clears it')],
    as_json: bool = JSON_OPTION,
) -> None:
    """Set the phone number the patients of a site call ("" removes it).

    Discharge instructions, appointment e-mails and questionnaire links show it."""
    c = upgraded_container()
    with c.uow() as uow:
        site = staff.set_site_phone(uow, c.clock, SYSTEM, _site(uow, code).id, phone)
        uow.commit()
    emit(
        {"code": site.code, "phone": site.phone},
        as_json=as_json,
        human=lambda out: out.print(
            f"site {site.code} phone: {site.phone}" if site.phone else f"site {site.code}: no phone"
        ),
    )


def _site(uow: UnitOfWork, code: str) -> Site:
    site = uow.sites.by_code(code.strip().upper())
    if site is None:
        known = ", ".join(s.code for s in uow.sites.all()) or "none yet"
        raise NotFound(f"site: {code!r} does not exist (known: {known})", field="site")
    return site


def _chair_json(chair: Chair, site: Site) -> dict[str, object]:
    retired = chair.retired_at.isoformat() if chair.retired_at else None
    return {"code": chair.code, "name": chair.name, "site": site.code, "retired_at": retired}


def _emit_chair(chair: Chair, site: Site, as_json: bool, text: str) -> None:
    emit(_chair_json(chair, site), as_json=as_json, human=lambda out: out.print(text))


@chair_app.command("add")
@handles_errors
def chair_add(
    site: Annotated[str, typer.Argument(help="the site's code, e.g. MIA")],
    code: Annotated[str, typer.Argument(help="the chair's code, unique, e.g. MIA-5")],
    name: Annotated[str, typer.Option(help="a name staff know it by")] = "",
    as_json: bool = JSON_OPTION,
) -> None:
    """Put a new infusion chair into service at a site (audited)."""
    c = upgraded_container()
    with c.uow() as uow:
        where = _site(uow, site)
        chair = staff.add_site_chair(uow, c.clock, SYSTEM, where.id, code, name)
        uow.commit()
    _emit_chair(chair, where, as_json, f"chair {chair.code} in service at {where.code}")


@chair_app.command("retire")
@handles_errors
def chair_retire(
    code: Annotated[str, typer.Argument(help="the chair's code, e.g. MIA-5")],
    as_json: bool = JSON_OPTION,
) -> None:
    """Take a chair out of service (refused while it has a session or visits booked ahead)."""
    c = upgraded_container()
    with c.uow() as uow:
        chair = staff.find_site_chair(uow, code)
        if chair is None:
            raise NotFound(f"chair: no chair with code {code!r}", field="chair")
        retired = staff.retire_chair(uow, c.clock, SYSTEM, chair)
        uow.commit()
        where = uow.sites.get(retired.site_id)
    assert where is not None  # a chair's site always exists (foreign key)
    _emit_chair(retired, where, as_json, f"chair {retired.code} retired")


@chair_app.command("list")
@handles_errors
def chair_list(
    site: Annotated[str, typer.Argument(help="the site's code, e.g. MIA")],
    as_json: bool = JSON_OPTION,
) -> None:
    """The site's chairs, in service and retired."""
    c = upgraded_container()
    with c.uow(readonly=True) as uow:
        where = _site(uow, site)
        chairs = uow.sites.chairs(where.id, retired=True)
    rows = [_chair_json(chair, where) for chair in chairs]

    def human(out: Console) -> None:
        table = Table("chair", "name", "status")
        for row in rows:
            status = f"retired {row['retired_at']}" if row["retired_at"] else "in service"
            table.add_row(str(row["code"]), str(row["name"]), status)
        out.print(table)

    emit({"site": where.code, "chairs": rows}, as_json=as_json, human=human)


@audit_app.command("verify")
@handles_errors
def audit_verify(as_json: bool = JSON_OPTION) -> None:
    """Check the audit trail's hash chain; exits 1 when an entry was altered or removed."""
    c = current_container()
    # Read-only: one moment of the chain, without holding up the clinic's writers meanwhile.
    with c.uow(readonly=True) as uow:
        report = audit_svc.verify(uow)
    result = {
        "ok": report.ok,
        "entries_checked": report.entries_checked,
        "problem": report.problem,
        "first_bad_seq": report.first_bad_seq,
    }

    def human(out: Console) -> None:
        if report.ok:
            out.print(
                f"[green]audit chain intact[/green]: {report.entries_checked} entries verified"
            )
        else:
            out.print(f"[red]audit chain broken[/red]: {report.problem}")

    emit(result, as_json=as_json, human=human)
    if not report.ok:
        raise typer.Exit(1)


@app.command("backup")
@handles_errors
def backup_cmd(file: Path, as_json: bool = JSON_OPTION) -> None:
    """Write a consistent backup of the whole database (safe while the server runs)."""
    from ketaclinic.adapters.db import backup as backup_mod

    c = current_container()
    counts = backup_mod.backup(c.engine, file, progress=_progress("backup"))
    emit(
        {"file": str(file), "rows": counts},
        as_json=as_json,
        human=lambda out: out.print(f"backup written to {file} ({sum(counts.values())} rows)"),
    )


@app.command("restore")
@handles_errors
def restore_cmd(
    file: Path,
    force: Annotated[bool, typer.Option(help="replace a database that already holds data")] = False,
    as_json: bool = JSON_OPTION,
) -> None:
    """Restore a backup into an empty database (or replace everything with --force)."""
    from ketaclinic.adapters.db import backup as backup_mod

    c = open_container()
    counts = backup_mod.restore(c.engine, file, force=force, progress=_progress("restore"))
    emit(
        {"file": str(file), "rows": counts},
        as_json=as_json,
        human=lambda out: out.print(f"restored {sum(counts.values())} rows from {file}"),
    )


def _progress(verb: str) -> Callable[[str, int], None]:
    def report(table: str, rows: int) -> None:
        if sys.stderr.isatty():
            console.print(f"[dim]{verb}: {table} ({rows} rows)[/dim]")

    return report


@app.command("demo")
@handles_errors
def demo_cmd(
    no_serve: Annotated[
        bool, typer.Option("--no-serve", help="load the demo clinic and stop")
    ] = False,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    hl7_port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="also listen for monitors")
    ] = None,
    as_json: bool = JSON_OPTION,
) -> None:
    """Migrate, load the demo clinic (synthetic data), then serve it."""
    c = upgraded_container()
    with c.uow() as uow:
        logins = demo_svc.load(uow, c.clock, c.passwords)
        uow.commit()
    result = {
        "organisation": demo_svc.ORGANISATION,
        "logins": [
            {"username": x.username, "role": x.role.value, "site": x.site, "password": x.password}
            for x in logins
        ],
        "url": f"http://{host}:{port}",
    }

    def human(out: Console) -> None:
        table = Table(title=f"{demo_svc.ORGANISATION}: demo logins (synthetic data only)")
        for column in ("username", "role", "site", "password"):
            table.add_column(column)
        for x in logins:
            table.add_row(x.username, x.role.label, x.site, x.password)
        out.print(table)
        if not no_serve:
            out.print(f"Serving on [bold]http://{host}:{port}[/bold]  (Ctrl-C to stop)")

    emit(result, as_json=as_json, human=human)
    if not no_serve:
        _serve(c, host, port, hl7_port)


@app.command("serve")
@handles_errors
def serve_cmd(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    hl7_port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="also listen for monitors")
    ] = None,
) -> None:
    """Serve the web app and API (and the HL7 MLLP listener with --hl7-port)."""
    c = current_container()
    _serve(c, host, port, hl7_port)


def _listener_config(c: Container) -> ListenerConfig:
    from zoneinfo import ZoneInfo

    from ketaclinic.adapters.hl7.server import ListenerConfig

    return ListenerConfig(local_tz=ZoneInfo(c.settings.timezone))


def _serve(c: Container, host: str, port: int, hl7_port: int | None) -> None:
    """Run the web app, and the HL7 MLLP listener when asked, in one event loop."""
    import asyncio

    import uvicorn

    from ketaclinic.adapters.db.events_chair import chair_events
    from ketaclinic.adapters.db.monitor_sink import DatabaseSink
    from ketaclinic.adapters.hl7.server import serve_mllp
    from ketaclinic.web.app import create_app

    async def run() -> None:
        listener = None
        if hl7_port is not None:
            listener = await serve_mllp(
                host,
                hl7_port,
                DatabaseSink(c.engine, on_change=chair_events(c).publish),
                config=_listener_config(c),
            )
            console.print(f"HL7 MLLP listener on [bold]{host}:{hl7_port}[/bold]")
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(c),
                host=host,
                port=port,
                log_level="warning",
                access_log=False,
                timeout_graceful_shutdown=5,  # open chair-board streams must not block a stop
            )
        )
        try:
            await server.serve()
        finally:
            if listener is not None:
                await listener.close()

    asyncio.run(run())


@hl7_app.command("listen")
@handles_errors
def hl7_listen(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="MLLP port")] = 2575,
) -> None:
    """Run only the HL7 MLLP listener for bedside monitors (no web app).

    With the chair's background sweep: NIBP overdue, alert escalation and its e-mails."""
    from ketaclinic.adapters import chair_sweeper
    from ketaclinic.adapters.db.monitor_sink import DatabaseSink
    from ketaclinic.adapters.hl7.server import MllpListener, run_listener

    c = current_container()
    # Kept here so the task is not garbage-collected; the listener's event loop cancels it
    # when it ends.
    sweeping: list[object] = []

    def ready(_listener: MllpListener) -> None:
        console.print(f"HL7 MLLP listener on [bold]{host}:{port}[/bold]")
        sweeping.append(chair_sweeper.start(c))

    run_listener(host, port, DatabaseSink(c.engine), config=_listener_config(c), on_ready=ready)


def main(args: Sequence[str] | None = None) -> None:
    """The ``ketaclinic`` entry point (``args``: the command line after the program's name,
    default ``sys.argv[1:]``); always ends in ``SystemExit``. Mistakes the parser catches (a
    number option given a word, a missing argument, an unknown option) are one ``error:`` line
    and exit 2, like the commands' own errors (DESIGN.md §4.2); ``--help`` prints help, and so
    does a command group named without its command (exit 2)."""
    command = typer.main.get_command(app)
    try:
        outcome = command.main(
            args=list(args) if args is not None else None,
            prog_name="ketaclinic",
            standalone_mode=False,
        )
    except typer.Abort:
        sys.stderr.write("aborted\n")
        sys.exit(1)
    except typer.TyperException as error:  # the parser's usage errors
        if type(error).__name__ == "NoArgsIsHelpError":  # a group without its command
            sys.stdout.write(error.format_message() + "\n")
            sys.exit(error.exit_code)
        sys.stderr.write(f"error: {usage_error_line(error)}\n")
        sys.exit(error.exit_code)
    sys.exit(outcome if isinstance(outcome, int) else 0)
