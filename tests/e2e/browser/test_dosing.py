"""In the real browser, at tablet size: a prescriber doses DEMO-0001 — the weights on each basis,
the live result, a soft limit with an override reason — and the override is confirmed by a
*different* person on the same tablet (the requester's own password is refused); the order page
draws the predicted concentration. A clinician opens the PK explorer."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

TABLET = {"width": 820, "height": 1180}  # a 10.9-inch tablet held upright, in CSS pixels


def open_dose_page(page, sign_in, username: str) -> None:
    sign_in(username)
    page.set_viewport_size(TABLET)
    page.goto("/patients?q=DEMO-0001")
    page.click("table.list a")
    page.click("[data-testid=dose-link]")
    page.wait_for_url("**/dose")


def image_loaded(page, selector: str) -> bool:
    return bool(page.eval_on_selector(selector, "img => img.complete && img.naturalWidth > 0"))


def test_a_soft_limit_override_is_confirmed_by_a_second_person(page, sign_in, screenshot) -> None:
    open_dose_page(page, sign_in, "prescriber.mia")
    assert "kg" in page.inner_text("[data-testid=basis-actual]")
    assert "Within the drug library" in page.inner_text("[data-testid=limit-level]")
    page.wait_for_load_state("networkidle")
    assert image_loaded(page, "[data-testid=dose-plot] img")  # the curve before ordering
    screenshot("dosing-dose-page-tablet")

    page.fill("#mg_per_kg", "0.6")
    # The live result arrives by htmx once typing pauses; its plot follows the form.
    expect(page.locator("[data-testid=limit-level]")).to_contain_text("Soft limit")
    expect(page.locator("[data-testid=dose-plot] img")).to_have_attribute(
        "src", re.compile(r"mg_per_kg=0\.6")
    )
    page.locator("[data-testid=dose-plot] img").scroll_into_view_if_needed()
    page.wait_for_function(
        "() => { const i = document.querySelector('[data-testid=dose-plot] img');"
        " return i && i.complete && i.naturalWidth > 0; }"
    )
    assert "dose mg per kg" in page.inner_text("[data-testid=limit-hits]")
    page.locator("[data-testid=dose-result]").scroll_into_view_if_needed()
    screenshot("dosing-soft-limit-tablet")
    page.fill("#override_reason", "Partial response at 0.5 mg/kg; stepping up")
    page.click("[data-testid=order-button]")
    page.wait_for_url("**/dose-orders/*")
    assert page.inner_text("[data-testid=order-status]") == "Override awaiting second person"

    page.fill("#second-username", "prescriber.mia")
    page.fill("#second-password", "demo-clinic-2026")
    page.click("[data-testid=confirm-button]")
    assert "different from the requester" in page.inner_text("[data-testid=confirm-error]")
    assert page.inner_text("[data-testid=order-status]") == "Override awaiting second person"

    page.fill("#second-username", "nurse.mia")
    page.fill("#second-password", "demo-clinic-2026")
    page.click("[data-testid=confirm-button]")
    page.wait_for_url("**/dose-orders/*")
    assert page.inner_text("[data-testid=order-status]") == "Verified"
    assert "nurse.mia" in page.inner_text("[data-testid=second-person]")
    assert "never drives dosing" in page.inner_text("[data-testid=disclaimer]")
    page.wait_for_load_state("networkidle")
    assert image_loaded(page, "[data-testid=order-plot]")
    screenshot("dosing-order-verified-tablet")


def test_a_clinician_explores_a_model_with_its_bands(page, sign_in, screenshot) -> None:
    sign_in("nurse.mia")
    page.set_viewport_size(TABLET)
    page.click(".mainnav a:has-text('PK')")
    page.wait_for_url("**/pk")
    page.select_option("#model", "domino")
    page.fill("#weight_kg", "70")
    page.click("button:has-text('Show')")
    page.wait_for_url("**/pk?*")
    # Domino's Cmax for 35 mg over 40 min at 70 kg is 240 ng/mL (REFERENCE.md §4.4).
    assert page.inner_text("[data-testid=cmax]") == "240 ng/mL"
    page.wait_for_load_state("networkidle")
    assert image_loaded(page, "[data-testid=pk-plot]")
    screenshot("dosing-pk-explorer-tablet")


def test_the_director_reviews_the_drug_library(page, sign_in, screenshot) -> None:
    sign_in("director.mia")
    page.set_viewport_size(TABLET)
    page.click(".mainnav a:has-text('Drug library')")
    page.wait_for_url("**/admin/drug-library")
    assert "50 mg/mL" in page.inner_text("[data-testid=library-default]")
    page.select_option("#quantity", "concentration_mg_per_ml")
    page.select_option("#level", "hard")
    page.fill("#value", "60")
    page.fill("#reason", "Stronger bags")
    page.click("button:has-text('Approve value')")
    assert "expected 0.01–50 mg/mL" in page.inner_text("[data-testid=form-error]")
    screenshot("dosing-drug-library-tablet")
