"""Every route × every role × own site / other site / anonymous (web/policy.py).

For each route the expected answer follows from its declared policy: anonymous callers are
sent to sign in (pages) or get 401 (API); a role outside the policy gets 403; a patient of
another site is 404; everyone else succeeds. Refusals change nothing and are audited. A route
the app serves without a declared policy fails ``test_every_route_declares_a_policy``.
"""

from __future__ import annotations

import itertools
import re

import pytest
import sqlalchemy as sa

from ketaclinic.adapters.db import tables as t
from ketaclinic.domain.people import Role
from ketaclinic.web.app import create_app
from ketaclinic.web.policy import POLICIES, route_keys

PASSWORD = "demo-clinic-2026"
PREFIX = {
    Role.FRONT_DESK: "frontdesk",
    Role.NURSE: "nurse",
    Role.PRESCRIBER: "prescriber",
    Role.DIRECTOR: "director",
}
counter = itertools.count(1)


def test_every_route_declares_a_policy(demo) -> None:
    served = set(route_keys(create_app(demo)))
    assert served - set(POLICIES) == set(), "routes without a declared policy"
    assert set(POLICIES) - served == set(), "policies for routes that no longer exist"


def sample(key: str, csrf: str, site: str) -> dict[str, object]:
    """A valid request for each route at the caller's own site (a fresh MRN each time so
    creations never clash)."""
    n = next(counter)
    payloads: dict[str, dict[str, object]] = {
        "POST /api/v1/auth/token": {"data": {"username": "nurse.mia", "password": PASSWORD}},
        "POST /api/v1/patients": {
            "json": {
                "site": site,
                "mrn": f"MX-{n}",
                "given_name": "Mat",
                "family_name": "Rix",
                "birth_date": "1980-01-01",
                "sex": "male",
            }
        },
        "POST /login": {
            "data": {"username": "nurse.mia", "password": PASSWORD, "csrf_token": csrf}
        },
        "POST /patients/new": {
            "data": {
                "csrf_token": csrf,
                "mrn": f"MP-{n}",
                "given_name": "Mat",
                "family_name": "Rix",
                "birth_date": "1980-01-01",
                "sex": "male",
            }
        },
        "POST /patients/{patient_id}/measurements": {
            "data": {"csrf_token": csrf, "weight_kg": "80"}
        },
        "POST /site": {"data": {"csrf_token": csrf, "site_id": "1"}},
        "POST /logout": {"data": {"csrf_token": csrf}},
    }
    return payloads.get(key, {})


def counts(demo) -> tuple[int, int, int]:
    with demo.engine.connect() as conn:
        return tuple(  # type: ignore[return-value]
            conn.execute(sa.select(sa.func.count()).select_from(table)).scalar()
            for table in (t.patient, t.body_measurement, t.staff_user)
        )


def denied_entries(demo) -> int:
    with demo.engine.connect() as conn:
        return conn.execute(
            sa.select(sa.func.count())
            .select_from(t.audit_event)
            .where(t.audit_event.c.action == "denied")
        ).scalar()


def signed_in(client, username: str | None, api: bool) -> dict[str, str]:
    client.cookies.clear()
    if username is None:
        return {}
    if api:
        token = client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
        return {"Authorization": f"Bearer {token.json()['access_token']}"}
    page = client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    client.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf_token": csrf, "next": "/"}
    )
    return {}


def csrf_of(client) -> str:
    page = client.get("/login")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    return found.group(1) if found else ""


@pytest.mark.parametrize("key", sorted(POLICIES))
def test_route_answers_each_caller_as_its_policy_says(client, demo, key: str) -> None:
    policy = POLICIES[key]
    method, template = key.split(" ", 1)
    api = template.startswith("/api/")
    with demo.engine.connect() as conn:
        mia_patient = conn.execute(
            sa.select(t.patient.c.id).where(t.patient.c.mrn == "DEMO-0001")
        ).scalar()
    path = template.replace("{patient_id}", str(mia_patient))

    callers: list[tuple[str | None, Role | None, bool]] = [(None, None, True)]
    for role in Role:
        callers.append((f"{PREFIX[role]}.mia", role, True))
        callers.append((f"{PREFIX[role]}.fll", role, False))

    for username, role, own_site in callers:
        headers = signed_in(client, username, api)
        before, denied_before = counts(demo), denied_entries(demo)
        site = "FLL" if username and username.endswith(".fll") else "MIA"
        request = sample(key, csrf_of(client) if not api else "", site)
        response = client.request(method, path, headers=headers, follow_redirects=False, **request)
        who = f"{username or 'anonymous'} on {key}"

        if policy.public:
            assert response.status_code < 400, f"{who}: {response.status_code}"
        elif username is None:
            expected = 401 if api else 303
            assert response.status_code == expected, f"{who}: {response.status_code}"
            if not api:
                assert response.headers["location"].startswith("/login")
        elif role not in policy.roles:
            assert response.status_code == 403, f"{who}: {response.status_code}"
        elif policy.patient_scoped and not own_site:
            assert response.status_code == 404, f"{who}: {response.status_code}"
        else:
            assert response.status_code in {200, 201, 204, 303}, (
                f"{who}: {response.status_code} {response.text[:200]}"
            )
            continue

        if response.status_code in {403, 404}:
            assert counts(demo) == before, f"{who}: a refused request changed stored data"
            assert denied_entries(demo) == denied_before + 1, f"{who}: the refusal was not audited"
