"""What every ``ketaclinic`` subcommand shares: output as text or ``--json``, and the one place
where the exception tree becomes an exit code and a single line on stderr (DESIGN.md §4.2)."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NoReturn, ParamSpec, TypeVar

import typer
from rich.console import Console
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from ketaclinic import logs
from ketaclinic.config import UnsafeConfiguration, load_settings
from ketaclinic.domain.errors import (
    InvalidInput,
    KetaclinicError,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
)

if TYPE_CHECKING:
    from ketaclinic.bootstrap import Container

P = ParamSpec("P")
R = TypeVar("R")

EXIT_ERROR = 1
EXIT_BAD_INPUT = 2

JSON_OPTION = typer.Option(False, "--json", help="Print a machine-readable JSON result.")

console = Console()
err_console = Console(stderr=True)


def exit_code_for(error: KetaclinicError) -> int:
    """Bad input, unknown things and refusals exit 2; anything else deliberate exits 1."""
    if isinstance(error, InvalidInput | NotFound | PermissionDenied | NotAuthenticated):
        return EXIT_BAD_INPUT
    return EXIT_ERROR if type(error) is KetaclinicError else EXIT_BAD_INPUT


def fail(error: KetaclinicError) -> NoReturn:
    """Print one clear line on stderr and exit with the error's code."""
    line = " ".join(error.message.split())  # one line, whatever the message held
    sys.stderr.write(f"error: {line}\n")
    sys.stderr.flush()
    raise typer.Exit(exit_code_for(error))


NOT_MIGRATED = "the database schema is not up to date: run 'ketaclinic db upgrade' first"


def require_current_schema(engine: Engine) -> None:
    """Refuse (one line, exit 1) to work on a database that is empty or behind the code's
    migrations: a command that only reads or copies must not fail halfway on a missing table."""
    from ketaclinic.adapters.db import migrate

    if not migrate.is_up_to_date(engine):
        raise KetaclinicError(NOT_MIGRATED)


def open_container() -> Container:
    """The clinic's container from the environment's settings; a bad setting is one line naming
    the variable, the value and what was expected (exit 2), never a traceback."""
    from ketaclinic.bootstrap import build

    try:
        settings = load_settings()
        logs.configure(settings.log_level)
        return build(settings)
    except UnsafeConfiguration as error:
        fail(InvalidInput(str(error)))


def upgraded_container() -> Container:
    """:func:`open_container` with the database brought up to the code's migrations (the
    commands that set a clinic up: sites, chairs, staff, questionnaires, reminders, demo)."""
    from ketaclinic.adapters.db import migrate

    container = open_container()
    migrate.upgrade(container.engine)
    return container


def current_container() -> Container:
    """:func:`open_container`, refusing a database that is empty or behind the migrations (the
    commands that only read or copy: serve, listen, audit, backup, exports)."""
    container = open_container()
    require_current_schema(container.engine)
    return container


def handles_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Decorate a command so a :class:`KetaclinicError` or a bad setting becomes :func:`fail`,
    and a database failure nobody foresaw one line naming its kind (never a traceback; the
    driver's text is left out, as it may quote stored values)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except KetaclinicError as error:
            fail(error)
        except UnsafeConfiguration as error:  # a command that read the settings itself
            fail(InvalidInput(str(error)))
        except SQLAlchemyError as error:
            kind = type(getattr(error, "orig", None) or error).__name__
            fail(
                KetaclinicError(
                    f"database: the command failed ({kind}); check that the database is "
                    "reachable and migrated ('ketaclinic db upgrade'), then run it again"
                )
            )

    return wrapper


def usage_error_line(error: typer.TyperException) -> str:
    """The one ``error:`` line for a mistake the command-line parser caught before a command
    ran (an option that is not a number, a missing argument, an unknown option), in the form
    of the commands' own errors: what, the value given, what was expected."""
    if isinstance(error, typer.BadParameter) and error.param is not None:
        param = error.param
        opts = [o for o in getattr(param, "opts", []) if o.startswith("-")]
        name = "/".join(opts) if opts else (param.name or "value").upper()
        if type(error).__name__ == "MissingParameter":
            return f"{name}: missing, expected {_expectation(param)}"
        given = _given_value(error)
        # Pydantic's "Input should be a valid number, unable to parse …": the first clause.
        expected = error.message.removeprefix("Input should be ").split(",")[0].rstrip(".")
        shown = f"got {given!r}, " if given is not None else ""
        return f"{name}: {shown}expected {expected}"
    ctx = getattr(error, "ctx", None)
    where = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
    option = getattr(error, "option_name", None)
    if option and type(error).__name__ == "BadOptionUsage":  # an option without its value
        return f"{option}: missing its value{where}"
    message = " ".join(error.format_message().split())
    return f"{message.rstrip('.')}{where}"


def _given_value(error: typer.BadParameter) -> object:
    """The value the parser refused, from the validation error it wraps (None if unknown)."""
    cause = error.__cause__
    errors = getattr(cause, "errors", None)
    if callable(errors):
        found = errors()
        if found and "input" in found[0]:
            value: object = found[0]["input"]
            return value
    return None


def _expectation(param: Any) -> str:
    """What a missing option or argument takes: its help text (a capital that starts a
    sentence lowered), else its kind."""
    text = (getattr(param, "help", None) or "").strip().rstrip(".")
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        text = text[0].lower() + text[1:]
    return text or f"an {getattr(param, 'param_type_name', 'value')}"


def emit(result: Mapping[str, Any], *, as_json: bool, human: Callable[[Console], None]) -> None:
    """Print ``result`` as JSON on stdout, or call ``human`` to render it for a person."""
    if as_json:
        sys.stdout.write(json.dumps(result, indent=2, default=str) + "\n")
    else:
        human(console)


def parse_number_list(field: str, text: str, *, integers: bool = True) -> list[float]:
    """Parse ``"1,2,3"`` (spaces allowed) for options such as ``--answers``.

    Raises :class:`InvalidInput` naming ``field``, the position and the offending text.
    """
    items = [part.strip() for part in text.split(",")]
    values: list[float] = []
    for position, item in enumerate(items, start=1):
        try:
            values.append(int(item) if integers else float(item))
        except ValueError:
            kind = "a whole number" if integers else "a number"
            raise InvalidInput.for_field(f"{field}[{position}]", item, kind) from None
    return values
