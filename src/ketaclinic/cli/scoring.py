"""``ketaclinic score`` and ``ketaclinic instruments validate``: the command-line face of the
instrument core (DESIGN.md §4.2).

- ``score INSTRUMENT --answers a,b,c… [--json]`` scores one questionnaire (``pcl5``, ``phq9``,
  ``gad7``, ``who5``, ``cadss6``, ``bprs4``, and ``pcl5-week``).
- ``instruments validate FILE [--json]`` checks a clinic's content pack against the
  instrument's structure and lists every problem.

Bad input is one line on stderr naming field, value and expectation, exit code 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ketaclinic.cli.common import JSON_OPTION, emit, handles_errors, parse_number_list
from ketaclinic.domain.errors import InvalidInput
from ketaclinic.domain.instruments import (
    ContentPack,
    PackProblem,
    content_pack_problems,
    decode_content_pack,
    get_instrument,
    score,
    validate_content_pack,
)
from ketaclinic.domain.instruments.model import ScoringMethod

PACK_MAX_BYTES = 1_000_000  # official wording of one instrument is a few kB


def register(app: typer.Typer) -> None:
    """Add ``score`` and the ``instruments`` group to ``app``."""
    app.command("score", help="Score a questionnaire from its answers.")(score_command)
    instruments = typer.Typer(help="Instrument definitions and content packs.")
    instruments.command("validate", help="Check a content pack of official wording.")(
        validate_command
    )
    app.add_typer(instruments, name="instruments")


@handles_errors
def score_command(
    instrument: str = typer.Argument(..., help="pcl5, pcl5-week, phq9, gad7, who5, cadss6, bprs4"),
    answers: str = typer.Option(
        ..., "--answers", help="Comma-separated answers in item order, e.g. 0,1,2"
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    definition = get_instrument(instrument)
    if definition.scoring.method is not ScoringMethod.SUM:
        raise InvalidInput.for_field(
            "instrument", instrument, "an item-scored instrument (C-SSRS is clinician-entered)"
        )
    # parse_number_list(integers=True) yields ints; the conversion only narrows the type.
    values = [int(v) for v in parse_number_list("answers", answers)]
    result = score(instrument, values)
    body = result.as_dict()

    def human(console: Console) -> None:
        table = Table(title=f"{definition.short_name} ({definition.version})", show_header=False)
        table.add_column("what")
        table.add_column("value")
        low, high = definition.total_range
        table.add_row("Total", f"{result.total} (range {low}–{high})")
        for sub_id, value in result.subscales.items():
            table.add_row(f"Subscale {sub_id}", str(value))
        if result.severity is not None:
            shown = f"{result.severity} %" if isinstance(result.severity, int) else result.severity
            table.add_row("Severity", shown)
        table.add_row("Flags", ", ".join(result.flags) or "none")
        diagnosis = result.provisional_diagnosis
        if diagnosis is not None and diagnosis.cluster_rule is not None:
            table.add_row("DSM-5 cluster rule", "met" if diagnosis.cluster_rule.met else "not met")
        if diagnosis is not None and diagnosis.cut_point is not None:
            cut = diagnosis.cut_point
            table.add_row(
                f"Total ≥ cut-point {cut.as_dict()['cut_point']}", "yes" if cut.met else "no"
            )
        console.print(table)
        if diagnosis is not None:
            console.print("Provisional screening result, not a diagnosis.")

    emit(body, as_json=as_json, human=human)


@handles_errors
def validate_command(
    file: Annotated[Path, typer.Argument(help="Content pack JSON file")],
    as_json: bool = JSON_OPTION,
) -> None:
    text = _read(file)
    data = decode_content_pack(text)
    problems = content_pack_problems(data)
    if problems:
        _report_problems(file, problems, as_json=as_json)
    # With problems this raises InvalidInput listing them all: one stderr line, exit 2.
    pack = validate_content_pack(data)
    emit(_summary(file, pack), as_json=as_json, human=lambda c: _print_summary(c, file, pack))


def _read(file: Path) -> str:
    try:
        if file.stat().st_size > PACK_MAX_BYTES:
            raise InvalidInput.for_field(
                "FILE", str(file), f"a content pack of at most {PACK_MAX_BYTES} bytes"
            )
        return file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        raise InvalidInput.for_field("FILE", str(file), "a readable UTF-8 JSON file") from None


def _report_problems(file: Path, problems: tuple[PackProblem, ...], *, as_json: bool) -> None:
    body = {"file": str(file), "valid": False, "problems": [p.as_dict() for p in problems]}

    def human(console: Console) -> None:
        table = Table(title=f"{len(problems)} problem(s) in {file.name}")
        table.add_column("field")
        table.add_column("problem")
        for problem in problems:
            table.add_row(problem.field, problem.message)
        console.print(table)

    emit(body, as_json=as_json, human=human)


def _summary(file: Path, pack: ContentPack) -> dict[str, Any]:
    return {
        "file": str(file),
        "valid": True,
        "instrument": pack.instrument_id,
        "instrument_version": pack.instrument_version,
        "language": pack.language,
        "items": len(pack.item_text),
        "anchors": len(pack.anchors),
        "licence_attested": pack.licence is not None,
    }


def _print_summary(console: Console, file: Path, pack: ContentPack) -> None:
    attested = "licence attested" if pack.licence is not None else "no licence attestation"
    console.print(
        f"{file}: valid content pack for {pack.instrument_id} ({pack.language}), "
        f"{len(pack.item_text)} items, {len(pack.anchors)} anchors, {attested}."
    )
