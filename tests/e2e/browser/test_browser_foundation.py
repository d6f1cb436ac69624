"""In the real browser: each role signs in, sees its navigation, opens a patient."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


@pytest.mark.parametrize(
    ("username", "menu"),
    [
        ("frontdesk.mia", ["Today", "Patients", "Schedule", "Leads"]),
        ("nurse.mia", ["Today", "Patients", "Schedule", "Chairs", "PK"]),
        ("prescriber.mia", ["Today", "Patients", "Schedule", "Chairs", "PK"]),
        (
            "director.mia",
            [
                "Today",
                "Patients",
                "Schedule",
                "Chairs",
                "PK",
                "Leads",
                "Audit",
                "Data",
                "Outcomes",
                "Set-up",
                "Drug library",
            ],
        ),
    ],
)
def test_each_role_signs_in_and_sees_its_menu(page, sign_in, screenshot, username, menu) -> None:
    sign_in(username)
    assert page.inner_text("[data-testid=whoami]").startswith(username)
    labels = [a.strip() for a in page.locator(".mainnav a").all_inner_texts()]
    assert labels == menu
    screenshot(f"home-{username}")


def test_a_nurse_finds_and_opens_a_patient(page, sign_in, screenshot) -> None:
    sign_in("nurse.mia")
    page.click("text=Patients")
    page.fill("#q", "DEMO-0001")
    page.click("button:has-text('Search')")
    page.click("table.list a")
    assert "DEMO-0001" in page.inner_text("main")
    assert page.locator("text=Weight and height").is_visible()
    screenshot("patient-nurse")


def test_a_wrong_password_is_announced(page) -> None:
    page.goto("/login")
    page.fill("#username", "nurse.mia")
    page.fill("#password", "wrong-password")
    page.click("button[type=submit]")
    alert = page.locator("[role=alert]")
    assert "not accepted" in alert.inner_text()


def test_the_director_sees_the_audit_chain_verified(page, sign_in, screenshot) -> None:
    sign_in("director.mia")
    page.click("text=Audit")
    assert "Hash chain verified" in page.inner_text("[data-testid=chain-status]")
    screenshot("audit-director")
