"""Migrations build the schema the code expects, on SQLite and PostgreSQL, and can be undone."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from ketaclinic.adapters.db import migrate
from ketaclinic.adapters.db.engine import make_engine
from ketaclinic.adapters.db.tables import metadata


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    url: str = request.getfixturevalue("fresh_pg_url")
    return url


def test_upgrade_on_an_empty_database_matches_the_code(empty_url: str) -> None:
    engine = make_engine(empty_url)
    migrate.upgrade(engine)
    assert migrate.is_up_to_date(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    assert diff == []


def test_downgrade_to_nothing_and_back_up_again(empty_url: str) -> None:
    engine = make_engine(empty_url)
    migrate.upgrade(engine)
    migrate.downgrade(engine, "base")
    assert "patient" not in sa.inspect(engine).get_table_names()
    migrate.upgrade(engine)
    assert "patient" in sa.inspect(engine).get_table_names()
    engine.dispose()


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'wal.sqlite3'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def test_the_site_phone_migration_keeps_a_clinic_s_sites_and_what_refers_to_them(
    empty_url: str,
) -> None:
    # A database in use before sites_0001: a site with a chair and a patient (foreign keys on,
    # as the app runs SQLite). Upgrading adds the phone, empty, and loses nothing.
    engine = make_engine(empty_url)
    migrate.upgrade(engine)
    migrate.downgrade(engine, "sites@-1")
    assert "phone" not in {c["name"] for c in sa.inspect(engine).get_columns("site")}
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO site (id, code, name, timezone) VALUES (7, 'MIA', 'Miami', 'UTC')"
        )
        conn.exec_driver_sql("INSERT INTO chair (site_id, code, name) VALUES (7, 'MIA-1', 'One')")
        conn.exec_driver_sql(
            "INSERT INTO patient (site_id, mrn, given_name, family_name, birth_date, sex,"
            " created_at) VALUES (7, 'M-1', 'Ana', 'Redfern', '1980-01-02', 'female',"
            " '2026-11-24 10:00:00')"
        )
    migrate.upgrade(engine)
    assert migrate.is_up_to_date(engine)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT code, phone FROM site").all() == [("MIA", "")]
        assert conn.exec_driver_sql("SELECT count(*) FROM chair").scalar() == 1
        assert conn.exec_driver_sql("SELECT site_id FROM patient").scalar() == 7
    engine.dispose()
