"""In the real browser, at tablet size: the pre-infusion checklist shows what the chair read
from the patient's record — a cleared patient's consent, signature and safety review, and a
patient whose start is blocked (no consent, an unsigned decision, an open safety review) with
what to do. Screenshots go to test-artifacts/screenshots/."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def open_session_on(page, chair: str) -> None:
    page.goto("/board")
    page.click(f'article[data-chair="{chair}"] a.open')


def test_the_checklist_shows_the_record_and_blocks_the_start(page, sign_in, screenshot) -> None:
    sign_in("nurse.mia")
    open_session_on(page, "MIA-2")  # DEMO-0011, checked in for visit 3 of its series
    assert "visit 3 of 6" in page.inner_text("[data-testid=booked-visit]")
    consent = page.inner_text("[data-testid=record-consent_current]")
    assert consent.startswith("From the record: Consent v1 signed")
    assert "no open safety review" in page.inner_text("[data-testid=record-safety_screen_reviewed]")
    screenshot("chair-checklist-from-the-record")

    page.goto("/chairs/MIA-4")
    page.fill("#mrn", "DEMO-0003")
    page.click("button:has-text('Check in')")
    page.wait_for_url("**/sessions/*")
    page.click("button:has-text('Begin pre-infusion checks')")
    checklist = page.inner_text("#checklist")
    assert "no consent to version 1" in checklist
    assert "is not signed by a prescriber" in checklist
    assert "open safety review: PHQ-9 item 9 positive" in checklist
    assert "Start is blocked" in page.inner_text("#actions")
    screenshot("chair-checklist-blocked-by-the-record")
    # Leave chair MIA-4 free for the other browser tests.
    page.fill("#cancel-reason", "demo: blocked by the record")
    page.click("#actions button:has-text('Cancel session')")
    assert "Session cancelled." in page.inner_text(".flash")
