"""In the real browser: the director's set-up pages (protocols, consent texts, clinic hours)."""

from __future__ import annotations

import re

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


def test_the_director_puts_a_chair_into_service_and_retires_it(page, sign_in, screenshot) -> None:
    sign_in("director.mia")
    page.click(".mainnav >> text=Set-up")
    page.click(".subnav >> text=Chairs")
    assert page.input_value("#code") == "MIA-5"  # the next free number is offered
    page.fill("#name", "Window chair")
    page.click("button:has-text('Add chair')")
    table = page.locator("[data-testid=chairs]")
    row = table.locator("tr", has_text="MIA-5")
    assert "in service" in row.inner_text()
    screenshot("intake-setup-chairs")
    row.locator("button:has-text('Retire')").click()
    assert "Chair MIA-5 is retired" in page.inner_text("[role=status]")
    assert "retired" in table.locator("tr", has_text="MIA-5").inner_text()
    # A chair with a patient on it stays in service and the page says why.
    table.locator("tr", has_text="MIA-3").locator("button:has-text('Retire')").click()
    assert re.fullmatch(
        r"chair: MIA-3 has session \d+ in progress; finish it first",
        page.inner_text("[role=alert]"),
    )
    screenshot("intake-setup-chairs-refused")
