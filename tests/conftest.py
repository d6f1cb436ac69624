"""Suite-wide test set-up.

- Hypothesis: no per-example deadline (a loaded CI machine is not a failing property).
- With ``CI=true`` a skipped test fails the run: PostgreSQL and browser tests must really run
  in CI (DESIGN.md §4.1).
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ketaclinic",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("ketaclinic")

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not IN_CI:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter is not None else 0
    if skipped:
        if reporter is not None:
            reporter.write_line(
                f"CI=true: {skipped} test(s) were skipped; in CI every PostgreSQL and browser "
                "test must run. Failing the run.",
                red=True,
            )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
