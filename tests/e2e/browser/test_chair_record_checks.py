"""In the real browser, at tablet size: the pre-infusion checklist shows what the chair read
from the patient's record — a cleared patient's consent, signature and safety review, and a
patient whose start is blocked (no consent, an unsigned decision, an open safety review) with
what to do. Screenshots go to test-artifacts/screenshots/."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest

from ketaclinic.services import demo_chair, demo_intake

pytestmark = pytest.mark.browser


def open_session_on(page, chair: str) -> None:
    page.goto("/board")
    page.click(f'article[data-chair="{chair}"] a.open')


def test_the_checklist_shows_the_record_and_blocks_the_start(page, sign_in, screenshot) -> None:
    sign_in("nurse.mia")
    open_session_on(page, "MIA-2")  # DEMO-0011, checked in for visit 3 of its series
    # Visit 3, or the nearest number the protocol allows on the weekday of the check-in (20
    # minutes before the demo was loaded: today, or yesterday just after midnight).
    seat = next(s for s in demo_chair.LAYOUT if s.mrn == "DEMO-0011")
    today = dt.datetime.now(ZoneInfo("America/New_York")).date()
    days = (today, today - dt.timedelta(days=1))
    shown = re.search(r"visit (\d+) of 6", page.inner_text("[data-testid=booked-visit]"))
    assert shown is not None
    assert int(shown.group(1)) in {demo_intake.visit_number_today(seat, d) for d in days}
    consent = page.inner_text("[data-testid=record-consent_current]")
    assert consent.startswith("From the record: Consent v1 signed")
    assert "no open safety review" in page.inner_text("[data-testid=record-safety_screen_reviewed]")
    # The prescriber ordered DEMO-0011's dose before check-in: the chair reads that order (a
    # session without one is tests/e2e/chair/test_chair_pages.py's).
    order = page.inner_text("[data-testid=order-now]")
    assert re.match(r"Verified order #\d+: 0\.5 mg/kg on actual weight", order), order
    assert page.locator("[data-testid=no-order]").count() == 0
    screenshot("chair-checklist-from-the-record")

    page.goto("/chairs/MIA-4")
    page.fill("#mrn", "DEMO-0003")
    # DEMO-0003's verified order (0.6 mg/kg, override confirmed) is under the default protocol.
    page.select_option("#protocol", "default")
    page.click("button:has-text('Check in')")
    page.wait_for_url("**/sessions/*")
    page.click("button:has-text('Begin pre-infusion checks')")
    checklist = page.inner_text("#checklist")
    assert "no consent to version 1" in checklist
    assert "is not signed by a prescriber" in checklist
    assert "open safety review: PHQ-9 item 9 positive" in checklist
    assert "Start is blocked" in page.inner_text("#actions")
    # The dose form is filled in from the prescriber's verified order, which the page shows.
    order = page.inner_text("[data-testid=order-now]")
    assert re.match(r"Verified order #\d+: 0\.6 mg/kg on actual weight", order), order
    assert "soft-limit override" in order
    assert page.input_value("#dose-rate_ml_per_h") == "150"
    assert float(page.input_value("#dose-dose_mg")) > 0
    screenshot("chair-checklist-blocked-by-the-record")
    # Leave chair MIA-4 free for the other browser tests.
    page.fill("#cancel-reason", "demo: blocked by the record")
    page.click("#actions button:has-text('Cancel session')")
    assert "Session cancelled." in page.inner_text(".flash")
