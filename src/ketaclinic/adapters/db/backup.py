"""Consistent backup and restore, the same format for SQLite and PostgreSQL.

A backup is a gzip'd stream of JSON lines: a header (format, schema revision), then every row of
every table in foreign-key order, then a trailer with row counts and a SHA-256 over all the row
lines. It is written to a temporary file and renamed into place, so a crash never leaves a
half-written backup under the final name. Restore checks the trailer before touching the
database and loads everything in one transaction: a corrupt or truncated file changes nothing.

Every table is read inside one read-only snapshot transaction, so a backup taken while the
server writes holds the database as it was at one moment — each transaction committed before
the snapshot began is in it whole, each later one not at all — and the server's writes go on
meanwhile:

- SQLite: a *deferred* ``BEGIN`` (not the ``BEGIN IMMEDIATE`` that units of work use, which
  would hold the write lock and make every writer time out behind a long backup). In WAL mode
  the first ``SELECT`` fixes the read snapshot for the rest of the transaction while writers
  keep appending to the WAL. The page-copying online backup API is not used: it would give a
  file only SQLite can read, where this format restores into either engine.
- PostgreSQL: ``REPEATABLE READ, READ ONLY`` (what ``pg_dump`` uses): one MVCC snapshot, taken
  at the first query, for every table. The application's transactions run at READ COMMITTED
  and keep their invariants with row locks, so every committed state is a consistent one and
  the stricter ``SERIALIZABLE … DEFERRABLE`` snapshot would add nothing.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
import json
import os
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ketaclinic.adapters.db import migrate, tables_intake
from ketaclinic.adapters.db.engine import READONLY_KEY
from ketaclinic.adapters.db.tables import metadata
from ketaclinic.domain.errors import Conflict, InvalidInput

FORMAT = "ketaclinic-backup/1"
Progress = Callable[[str, int], None]


def _encode(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return {"$dt": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$d": value.isoformat()}
    if isinstance(value, bytes):
        return {"$b": base64.b64encode(value).decode()}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if "$dt" in value:
            parsed = dt.datetime.fromisoformat(value["$dt"])
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
        if "$d" in value:
            return dt.date.fromisoformat(value["$d"])
        if "$b" in value:
            return base64.b64decode(value["$b"])
    return value


def _begin_snapshot(conn: Connection) -> None:
    """Begin the read-only snapshot transaction every table of a backup is read in."""
    if conn.dialect.name == "sqlite":
        # A read-only unit's transaction: deferred BEGIN (engine.py), so no write lock is held.
        conn.info[READONLY_KEY] = True
        conn.begin()
        return
    conn.begin()
    # The transaction's first statement (PostgreSQL refuses it after a query): the snapshot is
    # taken by the first query after it.
    conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")


def _rows(conn: Connection, table: sa.Table, batch: int = 5000) -> Iterator[dict[str, Any]]:
    order = list(table.primary_key.columns) or list(table.columns)
    result = conn.execution_options(yield_per=batch).execute(sa.select(table).order_by(*order))
    for row in result.mappings():
        yield dict(row)


def _dump(conn: Connection, out: IO[str], progress: Progress | None) -> dict[str, int]:
    """Write header, every table's rows and trailer, reading on ``conn``'s snapshot; returns
    the row count per table."""
    counts: dict[str, int] = {}
    digest = hashlib.sha256()
    revisions = sorted(conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalars())
    header = {"format": FORMAT, "revisions": revisions, "dialect": conn.dialect.name}
    out.write(json.dumps({"header": header}) + "\n")
    for table in metadata.sorted_tables:
        n = 0
        for row in _rows(conn, table):
            line = json.dumps(
                {"t": table.name, "r": {k: _encode(v) for k, v in row.items()}},
                sort_keys=True,
            )
            digest.update(line.encode())
            out.write(line + "\n")
            n += 1
        counts[table.name] = n
        if progress:
            progress(table.name, n)
    out.write(json.dumps({"trailer": {"counts": counts, "sha256": digest.hexdigest()}}))
    out.write("\n")
    return counts


def backup(engine: Engine, path: Path, progress: Progress | None = None) -> dict[str, int]:
    """Write a consistent backup of every table to ``path``; returns the row count per table."""
    path = Path(path)
    if path.is_dir():
        raise InvalidInput.for_field("FILE", str(path), "a file path, not a directory")
    tmp = path.with_name(path.name + ".partial")
    try:
        with engine.connect() as conn, gzip.open(tmp, "wt", encoding="utf-8") as out:
            readonly = conn.info.get(READONLY_KEY, False)
            try:
                _begin_snapshot(conn)
                counts = _dump(conn, out, progress)
                conn.rollback()
            finally:
                conn.info[READONLY_KEY] = readonly  # the pooled connection as it was
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        tmp.replace(path)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        raise InvalidInput.for_field(
            "FILE", str(path), f"a writable path ({error.strerror})"
        ) from None
    return counts


def _read(path: Path) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]:
    """Parse and check a whole backup file before anything is restored."""
    try:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except FileNotFoundError:
        raise InvalidInput.for_field("FILE", str(path), "an existing backup file") from None
    except (OSError, EOFError, zlib.error, UnicodeDecodeError):
        raise InvalidInput.for_field(
            "FILE", str(path), "a complete ketaclinic backup (the file is corrupt or truncated)"
        ) from None
    try:
        header = json.loads(lines[0])["header"]
        trailer = json.loads(lines[-1])["trailer"]
    except (IndexError, KeyError, TypeError, json.JSONDecodeError):
        raise InvalidInput.for_field(
            "FILE", str(path), "a complete ketaclinic backup (header or trailer missing)"
        ) from None
    if header.get("format") != FORMAT:
        raise InvalidInput.for_field("FILE", header.get("format"), f"backup format {FORMAT}")
    digest = hashlib.sha256()
    for line in lines[1:-1]:
        digest.update(line.encode())
    if digest.hexdigest() != trailer.get("sha256"):
        raise InvalidInput.for_field(
            "FILE", str(path), "a backup whose checksum matches its rows (the file was altered)"
        )
    rows: list[tuple[str, dict[str, Any]]] = []
    try:
        for line in lines[1:-1]:
            item = json.loads(line)
            rows.append((item["t"], {k: _decode(v) for k, v in item["r"].items()}))
    except (KeyError, TypeError, AttributeError, ValueError):
        # The checksum matched, so the file was written this way: not a backup we can read.
        raise InvalidInput.for_field(
            "FILE", str(path), "a ketaclinic backup whose rows can be read"
        ) from None
    unknown = sorted({name for name, _ in rows} - set(metadata.tables))
    if unknown:
        raise InvalidInput.for_field(
            "FILE", unknown[0], "tables of this release (the backup is from a newer release)"
        )
    return header, rows


def database_is_empty(engine: Engine) -> bool:
    inspector = sa.inspect(engine)
    names = set(inspector.get_table_names())
    if "patient" not in names:
        return True
    with engine.connect() as conn:
        for table in ("patient", "staff_user", "site", "audit_event"):
            if (
                table in names
                and conn.execute(
                    sa.select(sa.func.count()).select_from(metadata.tables[table])
                ).scalar()
            ):
                return False
    return True


def restore(
    engine: Engine, path: Path, *, force: bool = False, progress: Progress | None = None
) -> dict[str, int]:
    """Load a backup into ``engine``'s database in one transaction.

    Refuses a database that already holds data unless ``force`` (then every table is emptied
    first, inside the same transaction).
    """
    _header, rows = _read(Path(path))
    if not force and not database_is_empty(engine):
        raise Conflict(
            "the database already holds data; restore refuses to overwrite it without --force"
        )
    # The schema is brought to the current release first; a backup from an older release loads
    # into it because migrations only add tables and columns with defaults.
    migrate.upgrade(engine)
    counts: dict[str, int] = {}
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())
        by_table: dict[str, list[dict[str, Any]]] = {}
        for name, row in rows:
            by_table.setdefault(name, []).append(row)
        for table in metadata.sorted_tables:
            batch = by_table.get(table.name, [])
            for start in range(0, len(batch), 1000):
                conn.execute(table.insert(), batch[start : start + 1000])
            counts[table.name] = len(batch)
            if progress:
                progress(table.name, len(batch))
        if conn.dialect.name == "postgresql":
            _reset_sequences(conn)
    return counts


# Ids that live on in another table after their row is gone: a cancelled visit moves from
# series_visit to cancelled_visit with its id, so series_visit's counter must pass both.
_SHARING_IDS: dict[str, tuple[sa.Column[int], ...]] = {
    "series_visit": (tables_intake.cancelled_visit.c.id,),
}


def _reset_sequences(conn: Connection) -> None:
    for table in metadata.sorted_tables:
        for column in table.primary_key.columns:
            if column.autoincrement is True or (
                column.autoincrement == "auto"
                and isinstance(column.type, sa.Integer)
                and len(table.primary_key.columns) == 1
                and column.name == "id"
            ):
                highest = max(
                    conn.execute(sa.select(sa.func.max(c))).scalar() or 0
                    for c in (column, *_SHARING_IDS.get(column.table.name, ()))
                )
                conn.execute(
                    sa.text("SELECT setval(pg_get_serial_sequence(:t, :c), :v, false)"),
                    {"t": table.name, "c": column.name, "v": int(highest) + 1},
                )
