"""Who may call which route: the declared access policy of every route in the app.

The services enforce these rules (and audit refusals); this table states them in one place so
that ``tests/e2e/http/test_authorisation_matrix.py`` can drive every route × every role × own
site / other site / anonymous and check the answer. A route missing from this table fails that
test, so no route ships without a decision about who may use it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ketaclinic.domain.people import Role

ALL_STAFF = frozenset(Role)
CLINICAL = frozenset({Role.NURSE, Role.PRESCRIBER, Role.DIRECTOR})
PRESCRIBING = frozenset({Role.PRESCRIBER, Role.DIRECTOR})
DIRECTOR = frozenset({Role.DIRECTOR})
PUBLIC: frozenset[Role] = frozenset()


@dataclass(frozen=True, slots=True)
class Policy:
    """``roles``: who may call it (empty = public, no sign-in). ``patient_scoped``: the route
    names a patient, who must belong to one of the caller's sites (else 404)."""

    roles: frozenset[Role]
    patient_scoped: bool = False

    @property
    def public(self) -> bool:
        return not self.roles


POLICIES: dict[str, Policy] = {
    # API
    "POST /api/v1/auth/token": Policy(PUBLIC),
    "POST /api/v1/auth/revoke": Policy(ALL_STAFF),
    "GET /api/v1/auth/me": Policy(ALL_STAFF),
    "GET /api/v1/patients": Policy(ALL_STAFF),
    "POST /api/v1/patients": Policy(ALL_STAFF),
    "GET /api/v1/patients/{patient_id}": Policy(ALL_STAFF, patient_scoped=True),
    # Pages
    "GET /login": Policy(PUBLIC),
    "POST /login": Policy(PUBLIC),
    "POST /logout": Policy(ALL_STAFF),
    "POST /site": Policy(ALL_STAFF),
    "GET /": Policy(ALL_STAFF),
    "GET /healthz": Policy(PUBLIC),
    "GET /patients": Policy(ALL_STAFF),
    "GET /patients/new": Policy(ALL_STAFF),
    "POST /patients/new": Policy(ALL_STAFF),
    "GET /patients/{patient_id}": Policy(ALL_STAFF, patient_scoped=True),
    "POST /patients/{patient_id}/measurements": Policy(CLINICAL, patient_scoped=True),
    "GET /patients/{patient_id}/access-log": Policy(DIRECTOR, patient_scoped=True),
    "GET /admin/audit": Policy(DIRECTOR),
}


def route_keys(app: object) -> list[str]:
    """``"METHOD /path"`` for every application route (docs, OpenAPI and static files aside)."""
    keys: list[str] = []

    def walk(routes: list[object], base: str) -> None:
        for route in routes:
            original = getattr(route, "original_router", None)
            if original is not None:
                walk(original.routes, base + route.include_context.prefix)  # type: ignore[attr-defined]
                continue
            path = getattr(route, "path", None)
            methods = getattr(route, "methods", None)
            if path is None or not methods or path.startswith(("/static", "/docs")):
                continue
            if path in {"/api/v1/openapi.json", "/api/v1/docs"}:
                continue
            keys.extend(f"{m} {base}{path}" for m in sorted(methods) if m != "HEAD")

    walk(list(getattr(app, "routes", [])), "")
    return sorted(set(keys))
