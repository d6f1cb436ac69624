"""POST /api/v1/auth/token and what a bearer token can and cannot do."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from ketaclinic.adapters.db import tables as t


def test_it_issues_a_bearer_token_for_right_credentials(client) -> None:
    response = client.post(
        "/api/v1/auth/token", data={"username": "nurse.mia", "password": "demo-clinic-2026"}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json() == {
        "user_id": me.json()["user_id"],
        "username": "nurse.mia",
        "role": "nurse",
        "sites": ["MIA"],
    }


def test_wrong_password_and_unknown_user_get_the_same_answer(client) -> None:
    wrong = client.post("/api/v1/auth/token", data={"username": "nurse.mia", "password": "nope"})
    unknown = client.post("/api/v1/auth/token", data={"username": "ghost.mia", "password": "nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["error"]["code"] == "not_authenticated"


def test_repeated_failures_lock_the_account_even_for_the_right_password(client) -> None:
    for _ in range(5):
        client.post("/api/v1/auth/token", data={"username": "nurse.fll", "password": "nope"})
    locked = client.post(
        "/api/v1/auth/token", data={"username": "nurse.fll", "password": "demo-clinic-2026"}
    )
    assert locked.status_code == 401


def test_no_health_data_without_a_token(client) -> None:
    response = client.get("/api/v1/patients")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert "DEMO-" not in response.text


def test_a_forged_token_is_refused(client) -> None:
    response = client.get("/api/v1/patients", headers={"Authorization": "Bearer not.a.token"})
    assert response.status_code == 401


def test_a_revoked_token_stops_working(client, token_for) -> None:
    headers = token_for("prescriber.mia")
    assert client.get("/api/v1/patients", headers=headers).status_code == 200
    assert client.post("/api/v1/auth/revoke", headers=headers).status_code == 204
    assert client.get("/api/v1/patients", headers=headers).status_code == 401


def test_an_expired_token_stops_working(client, token_for, demo) -> None:
    headers = token_for("prescriber.mia")
    past = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    with demo.engine.begin() as conn:
        conn.execute(t.api_token.update().values(expires_at=past))
    response = client.get("/api/v1/patients", headers=headers)
    assert response.status_code == 401
    assert "expired" in response.json()["error"]["message"]


def test_login_attempts_are_audited_without_the_password(client, demo) -> None:
    client.post("/api/v1/auth/token", data={"username": "nurse.mia", "password": "secret-guess"})
    with demo.engine.connect() as conn:
        rows = conn.execute(
            sa.select(t.audit_event).where(t.audit_event.c.action == "login_failed")
        ).all()
    assert rows
    assert all("secret-guess" not in str(tuple(r)) for r in rows)
