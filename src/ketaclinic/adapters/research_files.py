"""Writing the de-identified research export as CSV or Parquet files.

Rows come from ``services.interop_research`` batch by batch and are written as they come (CSV
line by line; Parquet one row group per few thousand rows), so memory stays flat. Files are
written in a hidden working folder inside the target and moved into place only when the export
succeeded. Parquet needs ``pyarrow`` (a declared dependency), imported only when asked for.
"""

from __future__ import annotations

import csv
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from ketaclinic.domain.errors import InvalidInput
from ketaclinic.services import interop
from ketaclinic.services import interop_research as research
from ketaclinic.services.ports import Clock, UnitOfWorkFactory

FORMATS = ("csv", "parquet")
ROW_GROUP = 5000
Progress = Callable[[int, int], None]


class _CsvTables:
    def __init__(self, folder: Path) -> None:
        self.handles: dict[str, IO[str]] = {}
        self.writers: dict[str, Any] = {}
        for name, schema in research.TABLES.items():
            handle = open(folder / f"{name}.csv", "w", encoding="utf-8", newline="")  # noqa: SIM115
            writer = csv.DictWriter(handle, fieldnames=[c for c, _ in schema])
            writer.writeheader()
            self.handles[name] = handle
            self.writers[name] = writer

    def add(self, table: str, row: research.Row) -> None:
        self.writers[table].writerow({k: ("" if v is None else v) for k, v in row.items()})

    def close(self) -> None:
        for handle in self.handles.values():
            handle.close()


_ARROW_TYPES = {"string": "string", "int": "int64", "float": "float64"}


class _ParquetTables:
    def __init__(self, folder: Path) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.pa = pa
        self.schemas = {
            name: pa.schema([(c, getattr(pa, _ARROW_TYPES[t])()) for c, t in schema])
            for name, schema in research.TABLES.items()
        }
        self.writers = {
            name: pq.ParquetWriter(str(folder / f"{name}.parquet"), schema)
            for name, schema in self.schemas.items()
        }
        self.buffers: dict[str, list[research.Row]] = {name: [] for name in research.TABLES}

    def add(self, table: str, row: research.Row) -> None:
        buffer = self.buffers[table]
        buffer.append(row)
        if len(buffer) >= ROW_GROUP:
            self._flush(table)

    def _flush(self, table: str) -> None:
        buffer = self.buffers[table]
        if buffer:
            batch = self.pa.Table.from_pylist(buffer, schema=self.schemas[table])
            self.writers[table].write_table(batch)
            buffer.clear()

    def close(self) -> None:
        for table in list(self.writers):
            self._flush(table)
            self.writers[table].close()
        self.writers.clear()


def export_research(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    caller: interop.Caller,
    site_code: str,
    key: research.ResearchKey,
    out_dir: Path,
    fmt: str,
    *,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Write ``patients``, ``infusions`` and ``scores`` files for the site into ``out_dir``;
    returns the row count per table."""
    if fmt not in FORMATS:
        raise InvalidInput.for_field("format", fmt, "csv or parquet")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InvalidInput.for_field("-o", str(out_dir), "a folder, not a file")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".research-partial-", dir=out_dir))
    except OSError as error:
        raise InvalidInput.for_field(
            "-o", str(out_dir), f"a writable folder ({error.strerror})"
        ) from None
    counts = dict.fromkeys(research.TABLES, 0)
    done = 0
    try:
        export = interop.start_site_export(uow_factory, clock, caller, site_code, research.RESOURCE)
        tables: _CsvTables | _ParquetTables = (
            _CsvTables(work) if fmt == "csv" else _ParquetTables(work)
        )
        try:
            for batch in interop.site_records(
                uow_factory, clock, caller, export, research.RESOURCE
            ):
                for record in batch:
                    for table, row in research.rows(record, key):
                        tables.add(table, row)
                        counts[table] += 1
                done += len(batch)
                if progress is not None:
                    progress(done, export.patients)
        finally:
            tables.close()
        for item in work.iterdir():
            item.replace(out_dir / item.name)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    interop.finish_site_export(
        uow_factory, clock, caller, export, research.RESOURCE, f"{done} patients, {fmt}"
    )
    return counts
