"""``ketaclinic --help`` reads well at any terminal width: the command list shows each command's
first paragraph as it is written (line breaks included), and a command's own help keeps the line
breaks of its later paragraphs. So every command's help is paragraphs of one line each."""

from __future__ import annotations

import inspect

import typer

from ketaclinic.cli.main import app


def _commands(command: object, path: tuple[str, ...]) -> list[tuple[str, str]]:
    found = [(" ".join(path), inspect.cleandoc(getattr(command, "help", None) or ""))]
    for name, sub in getattr(command, "commands", {}).items():
        found += _commands(sub, (*path, name))
    return found


def test_every_command_has_help_in_one_line_paragraphs() -> None:
    commands = _commands(typer.main.get_command(app), ("ketaclinic",))
    assert len(commands) > 30  # the walk reached the subcommands
    broken = [path for path, text in commands if any("\n" in p for p in text.split("\n\n"))]
    assert broken == []
    missing = [path for path, text in commands if not text.strip()]
    assert missing == []
