"""``ketaclinic eligibility FILE.json`` and ``ketaclinic plan PROTOCOL --start DATE``.

Thin adapters: read the input, hand it to :mod:`ketaclinic.domain.intake`,
:mod:`ketaclinic.domain.eligibility` and :mod:`ketaclinic.domain.protocols`, and print the result
(DESIGN.md §4.2). Bad input ends as one ``error:`` line on stderr and exit code 2 via
:func:`~ketaclinic.cli.common.handles_errors`.

``eligibility`` applies the clinic's thresholds when a database is configured and can be read,
else the shipped ones, and says which (cli/clinic_values.py). ``plan`` knows the built-in
protocols without a database. For any other id it also reads the
clinic's own protocols when a database is configured (``KETACLINIC_DATABASE_URL``, or the SQLite
file in ``KETACLINIC_DATA_DIR`` once it exists); it only reads, and never creates or migrates a
database.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text
from sqlalchemy.exc import SQLAlchemyError

from ketaclinic.adapters.db.engine import make_engine
from ketaclinic.adapters.db.uow import SqlUnitOfWorkFactory
from ketaclinic.cli.clinic_values import CLINIC, bounded_url, read_clinic_values
from ketaclinic.cli.common import JSON_OPTION, emit, handles_errors
from ketaclinic.config import load_settings
from ketaclinic.domain.eligibility import DEFAULT_SETTINGS, evaluate
from ketaclinic.domain.errors import InvalidInput
from ketaclinic.domain.intake import parse_intake
from ketaclinic.domain.protocols import (
    BUILTIN_PROTOCOLS,
    WEEKDAY_NAMES,
    Protocol,
    find_protocol,
    plan,
)
from ketaclinic.services.clinic_settings import clinic_eligibility_settings
from ketaclinic.services.intake_common import catalog

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# An intake record is a few kilobytes; refusing huge files keeps a typo (a log file, an image)
# from being read into memory whole (design).
MAX_FILE_BYTES = 1_000_000


def register(app: typer.Typer) -> None:
    """Add ``eligibility`` and ``plan`` to the ``ketaclinic`` app."""
    app.command("eligibility")(eligibility_command)
    app.command("plan")(plan_command)


@handles_errors
def eligibility_command(
    file: Annotated[Path, typer.Argument(help="Intake record as JSON (DESIGN.md §4.2).")],
    as_json: bool = JSON_OPTION,
) -> None:
    """Run the eligibility engine on an intake record.

    The clinic's thresholds when a database is configured, else the shipped ones."""
    data = _read_json(file)
    record = parse_intake(data, today=dt.date.today())
    thresholds = read_clinic_values(clinic_eligibility_settings, DEFAULT_SETTINGS)
    result = evaluate(record, thresholds.values).as_dict()
    # The JSON answer is DESIGN.md §4.2's; a reason given by a clinic value says so in its
    # source. The table also names the thresholds used.
    note = (
        f"the clinic's values ({thresholds.database})"
        if thresholds.source == CLINIC
        else f"shipped defaults: {thresholds.reason}"
    )
    emit(result, as_json=as_json, human=lambda console: _show_eligibility(console, result, note))


@handles_errors
def plan_command(
    protocol: Annotated[str, typer.Argument(help="Protocol id, e.g. feder-2021.")],
    start: Annotated[str, typer.Option("--start", help="First possible day, YYYY-MM-DD.")],
    as_json: bool = JSON_OPTION,
) -> None:
    """Print the dates of a protocol's infusion series.

    The built-in protocols, and the clinic's own when a database is configured."""
    start_date = _parse_date("--start", start)
    template = find_protocol(protocol, _catalog_for(protocol))
    dates = plan(template, start_date)
    result = {"protocol": template.id, "dates": [day.isoformat() for day in dates]}
    emit(result, as_json=as_json, human=lambda console: _show_plan(console, template.name, dates))


def _catalog_for(protocol_id: str) -> Mapping[str, Protocol]:
    """The built-in protocols, plus the clinic's own when the id is not built in and a database
    is configured. A configured database that cannot be read is bad input (exit code 2)."""
    if protocol_id in BUILTIN_PROTOCOLS:
        return BUILTIN_PROTOCOLS
    settings = load_settings()
    if not settings.database_url and not (settings.data_dir / "ketaclinic.sqlite3").exists():
        return BUILTIN_PROTOCOLS  # no database: the built-in protocols are all there is
    engine = make_engine(bounded_url(settings.effective_database_url))
    try:
        with SqlUnitOfWorkFactory(engine)(readonly=True) as uow:
            return catalog(uow)
    except SQLAlchemyError as error:
        raise InvalidInput.for_field(
            "database",
            type(error).__name__,
            "a reachable database, migrated with `ketaclinic db upgrade`, to read the clinic's "
            "own protocols",
        ) from None
    finally:
        engine.dispose()


def _read_json(path: Path) -> Any:
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise _file_error(path, f"a readable file ({reason})") from None
    if len(raw) > MAX_FILE_BYTES:
        raise _file_error(path, f"a file of at most {MAX_FILE_BYTES} bytes")
    try:
        return json.loads(raw)
    except UnicodeDecodeError:
        raise _file_error(path, "UTF-8 encoded JSON") from None
    except RecursionError:  # pathologically deep nesting; an intake record is flat
        raise _file_error(path, "JSON nested at most a few levels deep") from None
    except json.JSONDecodeError as error:
        raise _file_error(
            path,
            f"valid JSON ({error.msg} at line {error.lineno}, column {error.colno})",
        ) from None


def _file_error(path: Path, expected: str) -> InvalidInput:
    # Built by hand rather than with for_field, which shortens long values: the whole path is
    # what the user needs to see to find the file.
    return InvalidInput(
        f"FILE: got {str(path)!r}, expected {expected}",
        field="FILE",
        value=str(path),
        expected=expected,
    )


def _parse_date(field: str, text: str) -> dt.date:
    if _ISO_DATE.match(text):
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            pass
    raise InvalidInput.for_field(field, text, "a date YYYY-MM-DD")


def _show_eligibility(console: Console, result: dict[str, Any], thresholds: str) -> None:
    console.print(f"Decision: [bold]{result['decision']}[/bold]")
    console.print(Text(f"Thresholds: {thresholds}"))
    if not result["reasons"]:
        console.print("No rule applied.")
        return
    table = Table("code", "message", "source", show_lines=False)
    for reason in result["reasons"]:
        # Text, not markup: sources look like "[cited: ...]", which Rich would swallow as a tag.
        table.add_row(Text(reason["code"]), Text(reason["message"]), Text(reason["source"]))
    console.print(table)


def _show_plan(console: Console, name: str, dates: list[dt.date]) -> None:
    table = Table("#", "date", "day", title=Text(name))
    for number, day in enumerate(dates, start=1):
        table.add_row(str(number), day.isoformat(), WEEKDAY_NAMES[day.weekday()])
    console.print(table)
