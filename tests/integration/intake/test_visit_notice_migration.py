"""Migration ``intake_0003_visit_notices`` upgrades a database holding the previous release's
booked and cancelled visits, on SQLite and PostgreSQL: the new table refuses a second notice of
one kind for a visit, names a cancelled visit as well as a booked one, and comes off again
leaving the visits alone."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa

from ketaclinic.adapters.db import migrate
from ketaclinic.adapters.db.engine import make_engine

T0 = dt.datetime(2026, 11, 23, 13, 0, tzinfo=dt.UTC)
PREVIOUS = "intake_0002_cancelled_visit"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    url: str = request.getfixturevalue("fresh_pg_url")
    return url


def seed_previous_release(engine: sa.Engine) -> None:
    """A patient with a one-visit series (visit 1) and a cancelled visit (visit 2)."""
    statements = [
        "INSERT INTO organisation (id, name) VALUES (1, 'Clinic')",
        "INSERT INTO site (id, code, name, timezone) VALUES (1, 'MIA', 'M', 'America/New_York')",
        "INSERT INTO chair (id, site_id, code, name) VALUES (1, 1, 'MIA-1', 'Chair 1')",
        "INSERT INTO staff_user (id, username, display_name, role, password_hash)"
        " VALUES (1, 'desk', 'Desk', 'front_desk', 'x')",
        "INSERT INTO patient (id, site_id, mrn, given_name, family_name, birth_date, sex, email,"
        " phone, preferred_language, created_at) VALUES (1, 1, 'P-1', 'A', 'B', :born, 'female',"
        " 'a@example.invalid', '', 'es', :at)",
        "INSERT INTO treatment_plan (id, patient_id, protocol_id, dose_mg_per_kg, start_date,"
        " signed_by, signed_at, note) VALUES (1, 1, 'feder-2021', 0.5, :day, 1, :at, '')",
        "INSERT INTO treatment_series (id, patient_id, site_id, plan_id, protocol_id, booked_by,"
        " booked_at, decision_note) VALUES (1, 1, 1, 1, 'feder-2021', 1, :at, '')",
        "INSERT INTO series_visit (id, series_id, patient_id, site_id, chair_id, number,"
        " starts_at, ends_at, local_day) VALUES (1, 1, 1, 1, 1, 1, :at, :at, :day)",
        "INSERT INTO cancelled_visit (id, series_id, patient_id, site_id, chair_id, number,"
        " starts_at, ends_at, local_day, cancelled_by, cancelled_at, reason)"
        " VALUES (2, 1, 1, 1, 1, 2, :at, :at, :day, 1, :at, 'travelling')",
    ]
    values = {"born": dt.date(1980, 1, 1), "at": T0, "day": T0.date()}
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(sa.text(statement), values)


def notice(visit_id: int, outcome: str) -> tuple[sa.TextClause, dict[str, object]]:
    return (
        sa.text(
            "INSERT INTO visit_notice (visit_id, kind, patient_id, site_id, starts_at, outcome,"
            " claimed_at) VALUES (:visit, 'reminder', 1, 1, :at, :outcome, :at)"
        ),
        {"visit": visit_id, "at": T0, "outcome": outcome},
    )


def test_intake_0003_upgrades_a_database_with_visits_and_downgrades_cleanly(
    empty_url: str,
) -> None:
    engine = make_engine(empty_url)
    migrate.upgrade(engine, PREVIOUS)
    seed_previous_release(engine)
    assert "visit_notice" not in sa.inspect(engine).get_table_names()
    migrate.upgrade(engine)
    assert migrate.is_up_to_date(engine)
    with engine.begin() as conn:
        conn.execute(*notice(1, "sent"))
        conn.execute(*notice(2, "no_email"))  # a cancelled visit's id is a visit id too
    with engine.begin() as conn, pytest.raises(sa.exc.IntegrityError):
        conn.execute(*notice(1, "failed"))
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT visit_id, outcome FROM visit_notice ORDER BY visit_id")
        ).all()
    assert [tuple(r) for r in rows] == [(1, "sent"), (2, "no_email")]
    migrate.downgrade(engine, PREVIOUS)
    assert "visit_notice" not in sa.inspect(engine).get_table_names()
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM series_visit")).scalar_one() == 1
        assert conn.execute(sa.text("SELECT count(*) FROM cancelled_visit")).scalar_one() == 1
    engine.dispose()
