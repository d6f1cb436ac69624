"""Schemathesis against our own OpenAPI document, on SQLite and PostgreSQL: every operation,
generated inputs — no 5xx, and every response matches the documented schema.

Calls carry a valid bearer token (a nurse of site MIA), so generated input reaches the handlers
rather than stopping at authentication. Schemathesis's ``positive_data_acceptance`` check
is left out on purpose: schema-valid input that breaks a clinical or uniqueness rule (a
hard limit, a duplicate MRN) is correctly answered 4xx. Operations are driven one by one
from the loaded schema (``get_all_operations``), each as its own Hypothesis run.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance

from ketaclinic.web.app import create_app

pytestmark = pytest.mark.slow
EXAMPLES_PER_OPERATION = 25


def test_api_never_errors_and_matches_its_schema(demo, token_for) -> None:
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", create_app(demo))
    headers = token_for("nurse.mia")
    checked = []
    for result in schema.get_all_operations():
        operation = result.ok()
        # Revoking would invalidate the shared token for the other operations.
        used = (
            {"Authorization": "Bearer not-a-real-token"}
            if operation.path == "/api/v1/auth/revoke"
            else headers
        )

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def run(case) -> None:
            case.call_and_validate(
                headers=used,  # noqa: B023 - run() is called at once, inside this iteration
                excluded_checks=[positive_data_acceptance],
            )

        run()
        checked.append(f"{operation.method.upper()} {operation.path}")
    assert "GET /api/v1/patients/{patient_id}" in checked
