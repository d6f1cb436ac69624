"""The CLI's reads of the clinic's own values give up on an unreachable PostgreSQL server after
a few seconds instead of waiting as long as the network lets libpq (cli/clinic_values.py)."""

from __future__ import annotations

from ketaclinic.cli.clinic_values import DB_CONNECT_TIMEOUT_S, bounded_url


def test_a_postgresql_url_gains_a_connect_timeout() -> None:
    assert bounded_url("postgresql+psycopg://k@dbhost/clinic") == (
        f"postgresql+psycopg://k@dbhost/clinic?connect_timeout={DB_CONNECT_TIMEOUT_S}"
    )
    assert bounded_url("postgresql+psycopg://k@dbhost/clinic?sslmode=require") == (
        f"postgresql+psycopg://k@dbhost/clinic?sslmode=require&connect_timeout={DB_CONNECT_TIMEOUT_S}"
    )


def test_a_url_with_its_own_timeout_and_a_sqlite_url_are_left_alone() -> None:
    own = "postgresql+psycopg://k@dbhost/clinic?connect_timeout=30"
    assert bounded_url(own) == own
    assert bounded_url("sqlite:////var/lib/ketaclinic/ketaclinic.sqlite3") == (
        "sqlite:////var/lib/ketaclinic/ketaclinic.sqlite3"
    )
