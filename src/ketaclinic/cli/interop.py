"""``ketaclinic export fhir|ndjson|research`` and ``ketaclinic import patients``.

The person running these commands on the server acts as the *operator*: they can read the
database anyway, so no staff role is checked, but every export and import is audited with role
``operator`` and their login name. Long work shows a progress bar when stderr is a terminal.
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ketaclinic.adapters.fhir import ndjson
from ketaclinic.adapters.fhir.bundle import patient_bundle, to_json
from ketaclinic.adapters.fhir.patient_import import read_patient_file
from ketaclinic.adapters.fhir.stream import write_clinic_bundle
from ketaclinic.adapters.research_files import FORMATS, export_research
from ketaclinic.cli.common import (
    JSON_OPTION,
    current_container,
    emit,
    err_console,
    fail,
    handles_errors,
)
from ketaclinic.domain.errors import InvalidInput
from ketaclinic.services import interop
from ketaclinic.services import interop_import as importer
from ketaclinic.services import interop_research as research

export_app = typer.Typer(help="Export data: FHIR R4B, bulk NDJSON, de-identified research.")
import_app = typer.Typer(help="Import existing data.")
MAX_IMPORT_BYTES = importer.MAX_BYTES


def register(app: typer.Typer) -> None:
    """Add ``export`` and ``import`` to the ``ketaclinic`` app."""
    export_app.command("fhir")(export_fhir)
    export_app.command("ndjson")(export_ndjson)
    export_app.command("research")(export_research_cmd)
    import_app.command("patients")(import_patients)
    app.add_typer(export_app, name="export", no_args_is_help=True)
    app.add_typer(import_app, name="import", no_args_is_help=True)


def operator() -> interop.Operator:
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = "operator"
    return interop.Operator(name)


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[int, int], None] | None]:
    """A Rich progress bar on stderr when it is a terminal; nothing otherwise."""
    if not sys.stderr.isatty():
        yield None
        return
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


@handles_errors
def export_fhir(
    patient: Annotated[str | None, typer.Option("--patient", help="the patient's MRN")] = None,
    all_patients: Annotated[
        bool, typer.Option("--all", help="every patient of every site")
    ] = False,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="write here instead of stdout")
    ] = None,
    as_json: bool = JSON_OPTION,
) -> None:
    """A FHIR R4B collection Bundle of one patient's record, or of every patient."""
    if (patient is None) == (not all_patients):
        raise InvalidInput.for_field("--patient/--all", patient, "exactly one of the two")
    c = current_container()
    caller = operator()
    if patient is not None:
        with c.uow() as uow:
            record = interop.patient_record_by_mrn(uow, c.clock, caller, patient)
        text = to_json(patient_bundle(record, c.clock.now()))
        entries = text.count('"fullUrl"')
        if output is None:
            sys.stdout.write(text + "\n")
            return
        _write_text(output, text)
    else:
        if output is None:
            raise InvalidInput.for_field("-o", None, "an output file for --all")
        with progress_bar("FHIR bundle") as update:
            entries = write_clinic_bundle(c.uow, c.clock, caller, output, progress=update)
    result = {"file": str(output), "entries": entries}
    emit(
        result,
        as_json=as_json,
        human=lambda out: out.print(f"wrote {entries} resources to {output}"),
    )


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".partial")
    try:
        tmp.write_text(text + "\n", "utf-8")
        tmp.replace(path)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        raise InvalidInput.for_field(
            "-o", str(path), f"a writable file ({error.strerror})"
        ) from None


@handles_errors
def export_ndjson(
    site: Annotated[str, typer.Option("--site", help="site code, e.g. MIA")],
    output: Annotated[Path, typer.Option("-o", "--output", help="folder for the NDJSON files")],
    as_json: bool = JSON_OPTION,
) -> None:
    """Bulk export of a whole site: one NDJSON file per FHIR resource type, and a manifest."""
    c = current_container()
    with progress_bar(f"NDJSON {site.upper()}") as update:
        counts = ndjson.export_site(c.uow, c.clock, operator(), site, output, progress=update)
    result = {"folder": str(output), "site": site.upper(), "resources": counts}

    def human(out: Console) -> None:
        table = Table(title=f"NDJSON export of {site.upper()} in {output}")
        table.add_column("resource type")
        table.add_column("lines", justify="right")
        for kind, count in counts.items():
            table.add_row(kind, str(count))
        out.print(table)

    emit(result, as_json=as_json, human=human)


@handles_errors
def export_research_cmd(
    key_file: Annotated[
        Path, typer.Option("--key-file", help="the clinic's pseudonymisation key (keep it safe)")
    ],
    output: Annotated[Path, typer.Option("-o", "--output", help="folder for the files")],
    fmt: Annotated[str, typer.Option("--format", help="csv or parquet")] = "csv",
    site: Annotated[str, typer.Option("--site", help="site code, e.g. MIA")] = "",
    new_key: Annotated[
        bool, typer.Option("--new-key", help="create the key file first (never overwrites)")
    ] = False,
    as_json: bool = JSON_OPTION,
) -> None:
    """De-identified research export (docs/research-export.md).

    Pseudonymous ids, days instead of dates; no names, MRNs, contact details or free text."""
    if fmt not in FORMATS:
        raise InvalidInput.for_field("--format", fmt, "csv or parquet")
    c = current_container()
    key = research.new_key(key_file) if new_key else research.load_key(key_file)
    with c.uow(readonly=True) as uow:
        codes = [s.code for s in uow.sites.all()]
    chosen = [site.upper()] if site else codes
    counts: dict[str, dict[str, int]] = {}
    for code in chosen:
        target = output / code if len(chosen) > 1 else output
        with progress_bar(f"research {code}") as update:
            counts[code] = export_research(
                c.uow, c.clock, operator(), code, key, target, fmt, progress=update
            )
    result = {"folder": str(output), "format": fmt, "sites": counts, "new_key": new_key}

    def human(out: Console) -> None:
        if new_key:
            out.print(f"[yellow]new key written to {key_file}: keep it; it links future exports[/]")
        for code, tables in counts.items():
            rows = ", ".join(f"{n} {t}" for t, n in tables.items())
            out.print(f"{code}: {rows}")

    emit(result, as_json=as_json, human=human)


@handles_errors
def import_patients(
    file: Annotated[
        Path, typer.Argument(help="CSV (docs/import.md), FHIR Bundle .json or .ndjson")
    ],
    site: Annotated[str, typer.Option("--site", help="site code, e.g. MIA")],
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="import the valid rows even if others are bad")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="check only, import nothing")] = False,
    as_json: bool = JSON_OPTION,
) -> None:
    """Import existing patients; every bad row is reported.

    Nothing is imported while any row is bad, unless --skip-invalid.

    Patients already registered (same MRN) are skipped."""
    try:
        if file.stat().st_size > MAX_IMPORT_BYTES:
            raise InvalidInput.for_field("FILE", str(file), f"at most {MAX_IMPORT_BYTES} bytes")
        data = file.read_bytes()
    except FileNotFoundError:
        raise InvalidInput.for_field("FILE", str(file), "an existing file") from None
    except IsADirectoryError:
        raise InvalidInput.for_field("FILE", str(file), "a file, not a folder") from None
    parsed = read_patient_file(data, file.name)
    c = current_container()
    source = file.suffix.lstrip(".").lower() or "file"
    with c.uow() as uow:
        report = importer.import_patients(
            uow,
            c.clock,
            operator(),
            site,
            parsed,
            skip_invalid=skip_invalid,
            dry_run=dry_run,
            source=source,
        )
    body = report.as_dict()

    def human(out: Console) -> None:
        if report.errors:
            table = Table(title="rows with problems")
            for column in ("where", "field", "reason"):
                table.add_column(column)
            for e in report.errors:
                table.add_row(e.where, e.field, e.reason)
            out.print(table)
        for s in report.skipped:
            out.print(f"line {s.line}: {s.mrn} skipped ({s.reason})")
        verb = "would import" if dry_run else "imported"
        out.print(f"{verb} {len(report.created)} patients; {len(report.skipped)} skipped")

    emit(body, as_json=as_json, human=human)
    if report.errors and not report.imported:
        fail(InvalidInput(report.summary, field="FILE"))
