"""Who may call which route: the declared access policy of every route in the app.

The services enforce these rules (and audit refusals); this table states them in one place so
that ``tests/e2e/http/test_authorisation_matrix.py`` can drive every route × every role × own
site / other site / anonymous and check the answer. A route missing from this table fails that
test, so no route ships without a decision about who may use it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ketaclinic.domain.people import Role

ALL_STAFF = frozenset(Role)
CLINICAL = frozenset({Role.NURSE, Role.PRESCRIBER, Role.DIRECTOR})
PRESCRIBING = frozenset({Role.PRESCRIBER, Role.DIRECTOR})
DIRECTOR = frozenset({Role.DIRECTOR})
PUBLIC: frozenset[Role] = frozenset()
CHAIR_STAFF = frozenset({Role.NURSE, Role.PRESCRIBER})  # who acts at the infusion chair


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
    "GET /api/v1/patients/{patient_id}/fhir": Policy(CLINICAL, patient_scoped=True),
    "GET /admin/data": Policy(DIRECTOR),
    "GET /admin/data/fhir": Policy(DIRECTOR),
    "GET /admin/data/ndjson": Policy(DIRECTOR),
    "POST /admin/data/research": Policy(DIRECTOR),
    "POST /admin/data/import": Policy(DIRECTOR),
    "POST /admin/data/import/confirm": Policy(DIRECTOR),
    # measurement-based care
    "GET /api/v1/instruments": Policy(ALL_STAFF),
    "GET /api/v1/instruments/{instrument_id}": Policy(ALL_STAFF),
    "GET /api/v1/patients/{patient_id}/scores": Policy(CLINICAL, patient_scoped=True),
    "POST /api/v1/patients/{patient_id}/questionnaire-responses": Policy(
        CLINICAL, patient_scoped=True
    ),
    "POST /api/v1/patients/{patient_id}/cssrs-results": Policy(CLINICAL, patient_scoped=True),
    "GET /api/v1/patients/{patient_id}/outcomes": Policy(CLINICAL, patient_scoped=True),
    "POST /api/v1/patients/{patient_id}/self-report-links": Policy(CLINICAL, patient_scoped=True),
    "GET /patients/{patient_id}/scores/new": Policy(CLINICAL, patient_scoped=True),
    "POST /patients/{patient_id}/scores/new": Policy(CLINICAL, patient_scoped=True),
    "GET /patients/{patient_id}/cssrs/new": Policy(CLINICAL, patient_scoped=True),
    "POST /patients/{patient_id}/cssrs/new": Policy(CLINICAL, patient_scoped=True),
    "GET /patients/{patient_id}/outcomes": Policy(CLINICAL, patient_scoped=True),
    "GET /patients/{patient_id}/plots/scores.svg": Policy(CLINICAL, patient_scoped=True),
    "GET /patients/{patient_id}/self-report": Policy(CLINICAL, patient_scoped=True),
    "POST /patients/{patient_id}/self-report": Policy(CLINICAL, patient_scoped=True),
    "GET /safety-tasks/{task_id}": Policy(CLINICAL, patient_scoped=True),
    "POST /safety-tasks/{task_id}/close": Policy(PRESCRIBING, patient_scoped=True),
    "GET /reports/outcomes": Policy(DIRECTOR),
    "GET /reports/outcomes.csv": Policy(DIRECTOR),
    "GET /r/{token}": Policy(PUBLIC),
    "POST /r/{token}": Policy(PUBLIC),
    # measurement-based care, issue 3: responses as FHIR, safety tasks and the cohort report
    # over the API; self-report schedules (clinical read, director edits) and the front desk's
    # notices (any staff of the notice's site)
    "GET /api/v1/patients/{patient_id}/questionnaire-responses": Policy(
        CLINICAL, patient_scoped=True
    ),
    "GET /api/v1/safety-tasks": Policy(PRESCRIBING),
    "POST /api/v1/safety-tasks/{task_id}/close": Policy(PRESCRIBING, patient_scoped=True),
    "GET /api/v1/reports/outcomes": Policy(DIRECTOR),
    "GET /self-report/schedules": Policy(CLINICAL),
    "POST /self-report/schedules": Policy(DIRECTOR),
    "GET /self-report/notices": Policy(ALL_STAFF),
    "POST /self-report/notices/{notice_id}/done": Policy(ALL_STAFF, patient_scoped=True),
    # intake, eligibility, consent, series and scheduling (area intake)
    "GET /screening": Policy(PUBLIC),
    "POST /screening": Policy(PUBLIC),
    "GET /inquiry": Policy(PUBLIC),
    "POST /inquiry": Policy(PUBLIC),
    "POST /api/v1/screening": Policy(PUBLIC),
    "GET /api/v1/inquiries/form": Policy(PUBLIC),
    "POST /api/v1/inquiries": Policy(PUBLIC),
    "GET /api/v1/leads": Policy(frozenset({Role.FRONT_DESK, Role.DIRECTOR})),
    "POST /api/v1/patients/{patient_id}/intake": Policy(CLINICAL, patient_scoped=True),
    "GET /api/v1/patients/{patient_id}/eligibility": Policy(CLINICAL, patient_scoped=True),
    "POST /api/v1/patients/{patient_id}/series": Policy(ALL_STAFF, patient_scoped=True),
    "GET /api/v1/schedule": Policy(ALL_STAFF),
    "GET /leads": Policy(frozenset({Role.FRONT_DESK, Role.DIRECTOR})),
    # A lead belongs to a site like a patient: another site's lead is "not found".
    "POST /leads/{lead_id}/dismiss": Policy(
        frozenset({Role.FRONT_DESK, Role.DIRECTOR}), patient_scoped=True
    ),
    "GET /leads/{lead_id}/register": Policy(
        frozenset({Role.FRONT_DESK, Role.DIRECTOR}), patient_scoped=True
    ),
    "POST /leads/{lead_id}/register": Policy(
        frozenset({Role.FRONT_DESK, Role.DIRECTOR}), patient_scoped=True
    ),
    "GET /patients/{patient_id}/intake": Policy(CLINICAL, patient_scoped=True),
    "POST /patients/{patient_id}/intake": Policy(CLINICAL, patient_scoped=True),
    "GET /patients/{patient_id}/eligibility": Policy(CLINICAL, patient_scoped=True),
    "POST /patients/{patient_id}/eligibility": Policy(
        frozenset({Role.PRESCRIBER}), patient_scoped=True
    ),
    "GET /patients/{patient_id}/consent": Policy(CLINICAL, patient_scoped=True),
    "POST /patients/{patient_id}/consent": Policy(CLINICAL, patient_scoped=True),
    "GET /admin/consent": Policy(DIRECTOR),
    "POST /admin/consent": Policy(DIRECTOR),
    "GET /patients/{patient_id}/plan": Policy(CLINICAL, patient_scoped=True),
    "POST /patients/{patient_id}/plan": Policy(frozenset({Role.PRESCRIBER}), patient_scoped=True),
    "GET /patients/{patient_id}/series": Policy(ALL_STAFF, patient_scoped=True),
    "POST /patients/{patient_id}/series": Policy(ALL_STAFF, patient_scoped=True),
    "POST /patients/{patient_id}/series/{series_id}/move": Policy(ALL_STAFF, patient_scoped=True),
    "GET /patients/{patient_id}/series/{series_id}/review": Policy(CLINICAL, patient_scoped=True),
    "POST /patients/{patient_id}/series/{series_id}/decision": Policy(
        frozenset({Role.PRESCRIBER}), patient_scoped=True
    ),
    "GET /schedule": Policy(ALL_STAFF),
    "GET /admin/protocols": Policy(DIRECTOR),
    "POST /admin/protocols": Policy(DIRECTOR),
    "GET /admin/hours": Policy(DIRECTOR),
    "POST /admin/hours": Policy(DIRECTOR),
    "GET /admin/chairs": Policy(DIRECTOR),
    "POST /admin/chairs": Policy(DIRECTOR),
    # the active site's phone number for patients (discharge instructions, e-mails)
    "POST /admin/site-phone": Policy(DIRECTOR),
    # A chair of another site is "not found", as a patient of another site is.
    "POST /admin/chairs/{chair_id}/retire": Policy(DIRECTOR, patient_scoped=True),
    # intake over the API (issue 4): the same services and roles as the pages. A lead, a site's
    # hours and a patient belong to a site: another site's is "not found".
    "POST /api/v1/patients/{patient_id}/eligibility/signature": Policy(
        frozenset({Role.PRESCRIBER}), patient_scoped=True
    ),
    "GET /api/v1/consent": Policy(CLINICAL),
    "GET /api/v1/patients/{patient_id}/consent": Policy(CLINICAL, patient_scoped=True),
    "POST /api/v1/patients/{patient_id}/consent": Policy(CLINICAL, patient_scoped=True),
    "GET /api/v1/protocols": Policy(ALL_STAFF),
    "POST /api/v1/protocols": Policy(DIRECTOR),
    "POST /api/v1/consent/versions": Policy(DIRECTOR),
    "GET /api/v1/patients/{patient_id}/plan": Policy(CLINICAL, patient_scoped=True),
    "POST /api/v1/patients/{patient_id}/plan": Policy(
        frozenset({Role.PRESCRIBER}), patient_scoped=True
    ),
    "POST /api/v1/leads/{lead_id}/register": Policy(
        frozenset({Role.FRONT_DESK, Role.DIRECTOR}), patient_scoped=True
    ),
    "POST /api/v1/leads/{lead_id}/dismiss": Policy(
        frozenset({Role.FRONT_DESK, Role.DIRECTOR}), patient_scoped=True
    ),
    "GET /api/v1/patients/{patient_id}/series": Policy(ALL_STAFF, patient_scoped=True),
    "POST /api/v1/patients/{patient_id}/series/{series_id}/visits/{visit_number}/move": Policy(
        ALL_STAFF, patient_scoped=True
    ),
    "POST /api/v1/patients/{patient_id}/series/{series_id}/visits/{visit_number}/cancel": Policy(
        ALL_STAFF, patient_scoped=True
    ),
    "GET /api/v1/patients/{patient_id}/series/{series_id}/review": Policy(
        CLINICAL, patient_scoped=True
    ),
    "POST /api/v1/patients/{patient_id}/series/{series_id}/decision": Policy(
        frozenset({Role.PRESCRIBER}), patient_scoped=True
    ),
    "GET /api/v1/sites/{site_code}/hours": Policy(ALL_STAFF, patient_scoped=True),
    "PUT /api/v1/sites/{site_code}/hours": Policy(DIRECTOR, patient_scoped=True),
    # bulk export, research export and import over the API (issue 7): directors, any of their
    # sites (the site is a parameter they choose, like the CLI's --site)
    "GET /api/v1/export/ndjson": Policy(DIRECTOR),
    "POST /api/v1/export/research": Policy(DIRECTOR),
    "POST /api/v1/import/patients": Policy(DIRECTOR),
    # dosing and pharmacokinetics (area dosing): nurses prepare orders, prescribers sign, a
    # second nurse or prescriber confirms a soft-limit override; an order is its patient's.
    "POST /api/v1/dose": Policy(CLINICAL),
    "POST /api/v1/simulate": Policy(CLINICAL),
    "GET /api/v1/models": Policy(CLINICAL),
    "POST /api/v1/patients/{patient_id}/dose-orders": Policy(
        frozenset({Role.NURSE, Role.PRESCRIBER}), patient_scoped=True
    ),
    "GET /api/v1/patients/{patient_id}/dose-orders": Policy(CLINICAL, patient_scoped=True),
    "GET /api/v1/dose-orders/{order_id}": Policy(CLINICAL, patient_scoped=True),
    "POST /api/v1/dose-orders/{order_id}/signature": Policy(
        frozenset({Role.PRESCRIBER}), patient_scoped=True
    ),
    "POST /api/v1/dose-orders/{order_id}/override-confirmation": Policy(
        frozenset({Role.NURSE, Role.PRESCRIBER}), patient_scoped=True
    ),
    "GET /patients/{patient_id}/dose": Policy(CLINICAL, patient_scoped=True),
    "GET /patients/{patient_id}/dose/preview": Policy(CLINICAL, patient_scoped=True),
    "GET /patients/{patient_id}/dose/plot.svg": Policy(CLINICAL, patient_scoped=True),
    "POST /patients/{patient_id}/dose": Policy(
        frozenset({Role.NURSE, Role.PRESCRIBER}), patient_scoped=True
    ),
    "GET /patients/{patient_id}/dose-orders/{order_id}": Policy(CLINICAL, patient_scoped=True),
    "POST /patients/{patient_id}/dose-orders/{order_id}/sign": Policy(
        frozenset({Role.PRESCRIBER}), patient_scoped=True
    ),
    # The signed-in user opens the form; the second person signs in on it with their password.
    "POST /patients/{patient_id}/dose-orders/{order_id}/override-confirmation": Policy(
        CLINICAL, patient_scoped=True
    ),
    "GET /patients/{patient_id}/dose-orders/{order_id}/plot.svg": Policy(
        CLINICAL, patient_scoped=True
    ),
    "GET /pk": Policy(CLINICAL),
    "GET /pk/plot.svg": Policy(CLINICAL),
    "GET /admin/drug-library": Policy(DIRECTOR),
    "POST /admin/drug-library": Policy(DIRECTOR),
    "POST /admin/drug-library/model": Policy(DIRECTOR),
    # clinic values of alert rules and outcome definitions: clinical staff read, director sets
    "GET /admin/alert-rules": Policy(CLINICAL),
    "POST /admin/alert-rules": Policy(DIRECTOR),
    "GET /admin/outcome-definitions": Policy(CLINICAL),
    "POST /admin/outcome-definitions": Policy(DIRECTOR),
    "GET /api/v1/settings/alert-rules": Policy(CLINICAL),
    "PUT /api/v1/settings/alert-rules": Policy(DIRECTOR),
    "GET /api/v1/settings/outcome-definitions": Policy(CLINICAL),
    "PUT /api/v1/settings/outcome-definitions": Policy(DIRECTOR),
    "GET /admin/eligibility-rules": Policy(CLINICAL),
    "POST /admin/eligibility-rules": Policy(DIRECTOR),
    "GET /api/v1/settings/eligibility-rules": Policy(CLINICAL),
    "PUT /api/v1/settings/eligibility-rules": Policy(DIRECTOR),
    # the infusion chair (area chair): sessions belong to a patient, so another site's is 404
    "GET /api/v1/sessions": Policy(CLINICAL),
    "POST /api/v1/sessions": Policy(CHAIR_STAFF),
    "GET /api/v1/sessions/{session_id}": Policy(CLINICAL, patient_scoped=True),
    "POST /api/v1/sessions/{session_id}/transitions": Policy(CHAIR_STAFF, patient_scoped=True),
    "POST /api/v1/sessions/{session_id}/checks": Policy(CHAIR_STAFF, patient_scoped=True),
    "POST /api/v1/sessions/{session_id}/start": Policy(CHAIR_STAFF, patient_scoped=True),
    "POST /api/v1/sessions/{session_id}/administration": Policy(CHAIR_STAFF, patient_scoped=True),
    "GET /api/v1/sessions/{session_id}/vitals": Policy(CLINICAL, patient_scoped=True),
    "GET /api/v1/sessions/{session_id}/prediction": Policy(CLINICAL, patient_scoped=True),
    "POST /api/v1/sessions/{session_id}/vitals": Policy(CHAIR_STAFF, patient_scoped=True),
    "POST /api/v1/sessions/{session_id}/side-effects": Policy(CHAIR_STAFF, patient_scoped=True),
    "POST /api/v1/sessions/{session_id}/dissociation": Policy(CHAIR_STAFF, patient_scoped=True),
    "POST /api/v1/sessions/{session_id}/discharge-assessment": Policy(
        CHAIR_STAFF, patient_scoped=True
    ),
    "POST /api/v1/sessions/{session_id}/discharge": Policy(CHAIR_STAFF, patient_scoped=True),
    "GET /api/v1/alerts": Policy(CLINICAL),
    "POST /api/v1/alerts/{alert_id}/acknowledge": Policy(CHAIR_STAFF, patient_scoped=True),
    "POST /api/v1/alerts/{alert_id}/resolve": Policy(CHAIR_STAFF, patient_scoped=True),
    "GET /board": Policy(CLINICAL),
    "GET /board/stream": Policy(CLINICAL),
    "GET /chairs/{chair_code}": Policy(CLINICAL, patient_scoped=True),
    "POST /chairs/{chair_code}/check-in": Policy(CHAIR_STAFF, patient_scoped=True),
    "GET /sessions/{session_id}": Policy(CLINICAL, patient_scoped=True),
    "GET /sessions/{session_id}/record": Policy(CLINICAL, patient_scoped=True),
    "GET /sessions/{session_id}/record.pdf": Policy(CLINICAL, patient_scoped=True),
    "GET /sessions/{session_id}/instructions": Policy(CLINICAL, patient_scoped=True),
    "GET /sessions/{session_id}/vitals.svg": Policy(CLINICAL, patient_scoped=True),
    "GET /sessions/{session_id}/concentration.svg": Policy(CLINICAL, patient_scoped=True),
    "POST /sessions/{session_id}/transition": Policy(CHAIR_STAFF, patient_scoped=True),
    "POST /sessions/{session_id}/weight": Policy(CHAIR_STAFF, patient_scoped=True),
    "POST /sessions/{session_id}/baseline": Policy(CHAIR_STAFF, patient_scoped=True),
    "POST /sessions/{session_id}/escort": Policy(CHAIR_STAFF, patient_scoped=True),
    "POST /sessions/{session_id}/override": Policy(
        frozenset({Role.PRESCRIBER}), patient_scoped=True
    ),
    "POST /sessions/{session_id}/dose": Policy(CHAIR_STAFF, patient_scoped=True),
    "POST /sessions/{session_id}/start": Policy(CHAIR_STAFF, patient_scoped=True),
    "POST /sessions/{session_id}/pump": Policy(CHAIR_STAFF, patient_scoped=True),
    "POST /sessions/{session_id}/rate": Policy(CHAIR_STAFF, patient_scoped=True),
    "POST /sessions/{session_id}/bolus": Policy(CHAIR_STAFF, patient_scoped=True),
    "POST /sessions/{session_id}/correction": Policy(CHAIR_STAFF, patient_scoped=True),
    "POST /sessions/{session_id}/vitals": Policy(CHAIR_STAFF, patient_scoped=True),
    "POST /sessions/{session_id}/alerts/{alert_id}": Policy(CHAIR_STAFF, patient_scoped=True),
    "POST /sessions/{session_id}/side-effects": Policy(CHAIR_STAFF, patient_scoped=True),
    "POST /sessions/{session_id}/side-effects/{effect_id}/review": Policy(
        frozenset({Role.PRESCRIBER}), patient_scoped=True
    ),
    "POST /sessions/{session_id}/dissociation": Policy(CHAIR_STAFF, patient_scoped=True),
    "POST /sessions/{session_id}/assessment": Policy(CHAIR_STAFF, patient_scoped=True),
    "POST /sessions/{session_id}/discharge": Policy(CHAIR_STAFF, patient_scoped=True),
}


def walk_routes(routes: Iterable[object], base: str = "") -> Iterator[tuple[str, object]]:
    """(prefix, route) for every route under ``routes``, through included routers (FastAPI
    keeps an included router's routes behind it, with the prefix it was included under)."""
    for route in routes:
        original = getattr(route, "original_router", None)
        if original is not None:
            yield from walk_routes(original.routes, base + route.include_context.prefix)  # type: ignore[attr-defined]
        else:
            yield base, route


def route_keys(app: object) -> list[str]:
    """``"METHOD /path"`` for every application route (docs, OpenAPI and static files aside)."""
    keys: list[str] = []
    for base, route in walk_routes(list(getattr(app, "routes", []))):
        path = getattr(route, "path", None)
        methods = getattr(route, "methods", None)
        if path is None or not methods or path.startswith(("/static", "/docs")):
            continue
        if path in {"/api/v1/openapi.json", "/api/v1/docs"}:
            continue
        keys.extend(f"{m} {base}{path}" for m in sorted(methods) if m != "HEAD")
    return sorted(set(keys))
