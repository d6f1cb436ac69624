"""In the real browser at phone width (360 px): the self-screening, then the inquiry form, then
the lead in the front desk's queue."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 740}


def no_sideways_scroll(page) -> bool:  # type: ignore[no-untyped-def]
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_screening_then_inquiry_becomes_a_lead(page, sign_in, screenshot) -> None:
    page.set_viewport_size(PHONE)
    page.goto("/screening?lang=es")
    assert page.get_attribute("html", "lang") == "es"
    assert no_sideways_scroll(page)
    for n in range(1, 21):
        page.check(f"input[name='s{n:02d}'][value='3']", force=True)
    page.fill("#months", "8")
    for question in ("high_blood_pressure", "heart_disease", "stroke", "pregnancy", "psychosis",
                     "substance_use"):  # fmt: skip
        page.check(f"input[name='h_{question}'][value='no']", force=True)
    screenshot("intake-screening-phone-form")
    page.click("button[type=submit]")
    result = page.locator("[data-testid=screening-result]")
    assert "Tiene sentido hacer una evaluación" in result.inner_text()
    assert "no es un diagnóstico" in result.inner_text()
    # The result heading takes the focus, so a screen reader reads the outcome first.
    assert page.evaluate("document.activeElement.id") == "result-title"
    assert no_sideways_scroll(page)
    screenshot("intake-screening-phone-result")

    page.click("text=Contactar con la clínica")
    page.wait_for_url("**/inquiry?lang=es")
    page.fill("#name", "Valentina Browserova")
    page.fill("#email", "valentina@example.org")
    page.select_option("#site", "MIA")
    page.fill("#message", "Prefiero que me llamen por la tarde.")
    page.check("input[name=contact_consent]")
    assert no_sideways_scroll(page)
    page.wait_for_timeout(3200)  # a person takes longer than the form's 3-second minimum
    screenshot("intake-inquiry-phone")
    page.click("button[type=submit]")
    assert "Hemos recibido su mensaje" in page.inner_text("[data-testid=inquiry-thanks]")

    page.set_viewport_size({"width": 1024, "height": 768})
    sign_in("frontdesk.mia")
    page.click(".mainnav >> text=Leads")
    leads = page.locator("[data-testid=leads]")
    assert "Valentina Browserova" in leads.inner_text()
    assert "Prefiero que me llamen por la tarde." in leads.inner_text()
    screenshot("intake-leads-frontdesk")


def test_unanswered_questions_are_announced(page, screenshot) -> None:
    page.set_viewport_size(PHONE)
    page.goto("/screening?lang=en")
    page.click("button[type=submit]")
    alert = page.locator("[role=alert]")
    assert "Please check the answers marked below" in alert.inner_text()
    assert page.evaluate("document.activeElement.id") == "error-summary"
    assert page.locator("#err-s01").is_visible()
    assert no_sideways_scroll(page)
    screenshot("intake-screening-phone-errors")
