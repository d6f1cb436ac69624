"""In the real browser: a nurse records an intake on the form, the prescriber reviews the
reasons and signs with an override."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def open_patient(page, mrn: str) -> None:  # type: ignore[no-untyped-def]
    page.click(".mainnav >> text=Patients")
    page.fill("#q", mrn)
    page.click("button:has-text('Search')")
    page.click("table.list a")


def test_intake_then_the_prescribers_signature(page, sign_in, screenshot) -> None:
    sign_in("nurse.mia")
    open_patient(page, "DEMO-0013")
    page.click("text=Record intake")
    today = dt.datetime.now(ZoneInfo("America/New_York")).date()
    page.fill("#trauma_date", (today - dt.timedelta(days=900)).isoformat())
    for field, value in (("bp_systolic", "146"), ("bp_diastolic", "88"), ("heart_rate", "76"),
                         ("spo2", "97")):  # fmt: skip
        page.fill(f"#{field}", value)
    page.check("input[name=conditions][value=seizure_disorder]")
    page.fill("#medications", "sertraline")
    # The questionnaires are the score-entry forms (radio groups named p01…, q1…).
    for n in range(1, 21):
        page.check(f"#item-p{n:02d} input[value='3']")
    for n in range(1, 10):
        page.check(f"#item-q{n} input[value='{1 if n < 9 else 0}']")
    # Live totals as on score entry (static/mbc.js).
    expect(page.locator("[data-total-for=pcl5]")).to_have_text("60")
    expect(page.locator("[data-subscale-total=B][data-subscale-for=pcl5]")).to_have_text("15")
    expect(page.locator("[data-total-for=phq9]")).to_have_text("8")
    expect(page.locator("[data-total-for=gad7]")).to_have_text("–")
    screenshot("intake-form-nurse")
    page.click("button:has-text('Save intake and evaluate')")
    page.wait_for_url("**/eligibility")
    reasons = page.locator("[data-testid=reasons]").inner_text()
    assert "seizure_disorder" in reasons
    assert "bp_above_hold_limit" in reasons
    assert "Waiting for a prescriber's signature" in page.inner_text("main")

    page.click("button.link:has-text('Sign out')")
    sign_in("prescriber.mia")
    open_patient(page, "DEMO-0013")
    page.click("text=Eligibility")
    page.fill("#reason", "Seizures controlled for ten years; BP re-measured 132/84 after rest.")
    screenshot("intake-eligibility-prescriber")
    page.click("button:has-text('Override and sign: eligible')")
    signed = page.locator("[data-testid=signed]").inner_text()
    assert "Override of needs review" in signed
    assert "seizure_disorder" in signed
