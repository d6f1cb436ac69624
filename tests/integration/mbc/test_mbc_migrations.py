"""Migration ``mbc_0002`` (self-report schedules and claimed slots) upgrades a database holding
the previous release's measurement-based-care data, on SQLite and PostgreSQL, and comes off
again leaving that data alone."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa

from ketaclinic.adapters.db import migrate
from ketaclinic.adapters.db.engine import make_engine

T0 = dt.datetime(2026, 11, 20, 14, 0, tzinfo=dt.UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    url: str = request.getfixturevalue("fresh_pg_url")
    return url


def test_mbc_0002_upgrades_a_database_with_links_and_downgrades_cleanly(empty_url: str) -> None:
    engine = make_engine(empty_url)
    migrate.upgrade(engine, "mbc_0001")
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO organisation (id, name) VALUES (1, 'Clinic')"))
        conn.execute(
            sa.text("INSERT INTO site (id, code, name, timezone) VALUES (1, 'MIA', 'M', 'UTC')")
        )
        conn.execute(
            sa.text(
                "INSERT INTO patient (id, site_id, mrn, given_name, family_name, birth_date, sex,"
                " email, phone, preferred_language, created_at) VALUES (1, 1, 'P-1', 'A', 'B',"
                " :born, 'female', '', '', 'en', :at)"
            ),
            {"born": dt.date(1980, 1, 1), "at": T0},
        )
        conn.execute(
            sa.text(
                "INSERT INTO self_report_link (id, patient_id, site_id, token_hash,"
                " instrument_ids, created_at, expires_at, language) VALUES (1, 1, 1, :h, 'pcl5',"
                " :at, :at, 'en')"
            ),
            {"h": "d" * 64, "at": T0},
        )
    tables = set(sa.inspect(engine).get_table_names())
    assert "self_report_request" not in tables
    migrate.upgrade(engine)
    assert migrate.is_up_to_date(engine)
    tables = set(sa.inspect(engine).get_table_names())
    assert {"self_report_schedule", "self_report_request"} <= tables
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO self_report_request (patient_id, site_id, slot_key, kind, due_at,"
                " instrument_ids, created_at, outcome, link_id) VALUES (1, 1, 'visit-1',"
                " 'before_infusion', :at, 'pcl5', :at, 'mailed', 1)"
            ),
            {"at": T0},
        )
        with pytest.raises(sa.exc.IntegrityError):
            conn.execute(
                sa.text(
                    "INSERT INTO self_report_request (patient_id, site_id, slot_key, kind,"
                    " due_at, instrument_ids, created_at, outcome) VALUES (1, 1, 'visit-1',"
                    " 'before_infusion', :at, 'pcl5', :at, 'no_email')"
                ),
                {"at": T0},
            )
    migrate.downgrade(engine, "mbc_0001")
    tables = set(sa.inspect(engine).get_table_names())
    assert "self_report_request" not in tables
    assert "self_report_schedule" not in tables
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM self_report_link")).scalar_one() == 1
    engine.dispose()
