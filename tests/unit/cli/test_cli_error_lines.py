"""The one place where a command's failure becomes one line and an exit code
(``cli/common.handles_errors``): a database failure nobody foresaw is a line naming its kind,
never a traceback, and never the driver's text (it may quote stored values)."""

from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy as sa
import typer

from ketaclinic.cli.common import EXIT_BAD_INPUT, EXIT_ERROR, handles_errors
from ketaclinic.domain.errors import InvalidInput


def test_a_database_failure_is_one_line_naming_its_kind_without_the_drivers_text(
    capsys: pytest.CaptureFixture[str],
) -> None:
    @handles_errors
    def command() -> None:
        raise sa.exc.IntegrityError(
            "INSERT INTO patient …", {"mrn": "MRN-SECRET"}, sqlite3.IntegrityError("MRN-SECRET")
        )

    with pytest.raises(typer.Exit) as stopped:
        command()
    assert stopped.value.exit_code == EXIT_ERROR
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("error: database: the command failed (IntegrityError);")
    assert "ketaclinic db upgrade" in err
    assert "MRN-SECRET" not in err


def test_bad_input_still_exits_2_with_its_own_line(capsys: pytest.CaptureFixture[str]) -> None:
    @handles_errors
    def command() -> None:
        raise InvalidInput.for_field("weight", "-3", "a weight in kg above 0")

    with pytest.raises(typer.Exit) as stopped:
        command()
    assert stopped.value.exit_code == EXIT_BAD_INPUT
    assert capsys.readouterr().err.startswith("error: weight: got '-3'")
