"""In the real browser: the director's set-up pages (protocols, consent texts, clinic hours)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_the_director_adds_a_protocol_and_reads_the_consent_texts(
    page, sign_in, screenshot
) -> None:
    sign_in("director.mia")
    page.click(".mainnav >> text=Set-up")
    page.fill("#protocol_id", "weekly-browser")
    page.fill("#name", "Four weekly infusions")
    page.fill("#infusion_count", "4")
    page.fill("#duration_weeks", "4")
    page.fill("#dose_mg_per_kg", "0.5")
    page.fill("#infusion_min", "40")
    page.check("input[name=rhythm][value=spacing]")
    page.fill("#spacing_days", "7")
    page.click("button:has-text('Add protocol')")
    table = page.locator("[data-testid=protocols]").inner_text()
    assert "weekly-browser" in table
    assert "design: clinic-defined protocol" in table
    screenshot("intake-setup-protocols")
    page.click(".subnav >> text=Consent texts")
    assert "signed by patients: immutable" in page.inner_text("main")
    page.click(".subnav >> text=Clinic hours")
    assert page.is_checked("input[name=open_0]")
    assert not page.is_checked("input[name=open_5]")
    screenshot("intake-setup-hours")
