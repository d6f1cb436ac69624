"""In the real browser: a nurse sends a questionnaire link, the patient answers it on a phone in
Spanish, and the staff plot shows the new point; live totals while entering scores; the start
page's safety task; the director's outcome report."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

PATIENT = "DEMO-0025"  # a MIA patient with a ten-week history


def open_patient(page, mrn: str) -> None:
    page.click("text=Patients")
    page.fill("#q", mrn)
    page.click("button:has-text('Search')")
    page.click("table.list a")
    page.wait_for_selector("[data-testid=patient-scores]")


def plotted_markers(page) -> int:
    """Data markers in the patient's score plot (matplotlib draws each as one <use>)."""
    src = page.get_attribute("[data-testid=score-plot]", "src")
    svg = page.request.get(src).text()
    return len(re.findall(r"<use ", svg))


def test_a_patient_answers_a_link_on_a_phone_and_the_plot_shows_it(
    page, browser, live_server, sign_in, screenshot
) -> None:
    sign_in("nurse.mia")
    open_patient(page, PATIENT)
    before = plotted_markers(page)

    page.click("text=Send questionnaire link")
    page.check("input[name=instruments][value=pcl5]")
    page.click("button:has-text('Create link')")
    url = page.input_value("#self-report-url")
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/r/[A-Za-z0-9_-]{43}", url)
    screenshot("mbc-link-created")

    phone = browser.new_context(
        viewport={"width": 390, "height": 844}, locale="es-ES", is_mobile=True, has_touch=True
    )
    patient = phone.new_page()
    patient.set_default_timeout(10_000)
    try:
        patient.goto(url)
        # The link opens in the language on the patient's record (English here), whatever the
        # phone's own language; the patient switches to Spanish with the link at the top.
        assert patient.get_attribute("html", "lang") == "en"
        patient.click(".mbc-lang >> text=Español")
        assert patient.get_attribute("html", "lang") == "es"
        assert patient.locator("text=Enviar mis respuestas").is_visible()
        assert patient.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        screenshot_of(patient, "mbc-patient-form-phone-es")
        # Leave one question out first: the page says which, and nothing is sent.
        for n in range(1, 20):
            patient.locator(f"#item-pcl5_{n:02d} input[value='2']").check()
        expect(patient.locator("[data-answered-all]")).to_have_text("19")
        patient.click("text=Enviar mis respuestas")
        assert patient.locator("#problem-pcl5_20").is_visible()
        assert "Falta responder 1 pregunta" in patient.inner_text("[role=alert]")
        screenshot_of(patient, "mbc-patient-form-missing-es")
        patient.locator("#item-pcl5_20 input[value='2']").check()
        patient.click("text=Enviar mis respuestas")
        patient.wait_for_selector("h1:has-text('Gracias')")
        screenshot_of(patient, "mbc-patient-thanks-es")
        patient.goto(url)
        assert "ya se utilizó" in patient.inner_text("main")
    finally:
        phone.close()

    open_patient(page, PATIENT)
    assert page.inner_text("[data-testid=latest-pcl5]") == "40"
    assert plotted_markers(page) == before + 1
    page.locator("[data-testid=score-plot]").scroll_into_view_if_needed()
    screenshot("mbc-patient-page-after-self-report")


def screenshot_of(tab, name: str) -> None:
    from pathlib import Path

    folder = Path(__file__).resolve().parents[3] / "test-artifacts" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def test_live_totals_follow_the_clicks_while_entering_scores(page, sign_in, screenshot) -> None:
    sign_in("nurse.mia")
    open_patient(page, "DEMO-0027")
    page.click("text=Enter scores")
    page.click(".mbc-tabs a:has-text('phq9')")
    page.locator("#item-phq9_01 input[value='3']").check()
    page.locator("#item-phq9_02 input[value='2']").check()
    expect(page.locator("[data-answered-for=phq9]")).to_have_text("2")
    expect(page.locator("[data-total-for=phq9]")).to_have_text("5 so far")
    for n in range(3, 10):
        page.locator(f"#item-phq9_{n:02d} input[value='1']").check()
    expect(page.locator("[data-total-for=phq9]")).to_have_text("12")
    screenshot("mbc-score-entry-phq9")
    page.click("button:has-text('Save')")
    page.wait_for_selector("text=PHQ-9 recorded: total 12")
    assert "same-day safety task" in page.inner_text(".flash")  # item 9 was answered 1


def test_the_pcl5_entry_shows_cluster_totals(page, sign_in, screenshot) -> None:
    sign_in("nurse.mia")
    open_patient(page, "DEMO-0029")
    page.click("text=Enter scores")
    for n in range(1, 21):
        page.locator(f"#item-pcl5_{n:02d} input[value='{1 if n <= 5 else 0}']").check()
    expect(page.locator("[data-subscale-total=B]")).to_have_text("5")
    expect(page.locator("[data-subscale-total=E]")).to_have_text("0")
    expect(page.locator("[data-total-for=pcl5]")).to_have_text("5")
    screenshot("mbc-score-entry-pcl5")


def test_the_safety_task_is_on_the_prescribers_start_page(page, sign_in, screenshot) -> None:
    sign_in("prescriber.mia")
    tasks = page.locator("[data-testid=safety-tasks]")
    assert "DEMO-0003" in tasks.inner_text()
    screenshot("mbc-home-safety-task")
    tasks.locator("a.button").first.click()
    page.wait_for_selector("text=Close with the action taken")
    page.click("button:has-text('Close task')")  # empty: the browser's own check stops it
    assert page.locator("textarea#action").evaluate("el => !el.validity.valid")
    screenshot("mbc-safety-task")


def test_the_director_reads_the_outcome_report(page, sign_in, screenshot) -> None:
    sign_in("director.mia")
    page.click(".mainnav a:has-text('Outcomes')")
    table = page.locator("table.mbc-report")
    assert "All sites" in table.inner_text()
    assert "MIA" in table.inner_text()
    screenshot("mbc-outcome-report")


def test_the_baseline_and_the_questionnaire_schedule_are_explained(
    page, sign_in, screenshot
) -> None:
    # DEMO-0001: an infusion running now (DESIGN.md §4.5) under a booked series.
    sign_in("nurse.mia")
    open_patient(page, "DEMO-0001")
    schedule = page.locator("[data-testid=self-report-schedule]")
    assert "before infusion" in schedule.inner_text()
    plot = page.locator("[data-testid=score-plot]")
    plot.scroll_into_view_if_needed()
    page.wait_for_function(
        "() => { const i = document.querySelector('[data-testid=score-plot]');"
        " return i.complete && i.naturalWidth > 0; }"
    )
    plot.screenshot(path=str(screenshot("mbc-patient-plot-with-infusion")))
    schedule.scroll_into_view_if_needed()
    screenshot("mbc-patient-self-report-schedule")
    page.click(".mbc-actions a:has-text('Outcomes')")
    reason = page.inner_text("[data-testid=baseline-reason]")
    assert "the last one on or before the first infusion" in reason
    assert "infusion session started" in reason
    assert page.locator("[data-testid=baseline-row]").is_visible()
    screenshot("mbc-outcomes-baseline")


def test_the_director_edits_a_protocols_questionnaire_schedule(page, sign_in, screenshot) -> None:
    sign_in("director.mia")
    page.goto("/self-report/schedules")
    row = page.locator("tr.mbc-schedule-form").first
    row.locator("summary").click()
    row.locator("input[name=before_hours]").fill("24")
    row.locator("button[type=submit]").click()
    page.wait_for_selector("text=Self-report schedule of")
    assert "24 h ahead" in page.inner_text("[data-testid=schedules]")
    screenshot("mbc-self-report-schedules")


def test_the_chairs_cadss6_form_adds_up_as_the_nurse_clicks(page, sign_in, screenshot) -> None:
    """MIA-2 holds DEMO-0011, checked in (pre-dose): nothing is saved, so the chair stays as
    the other browser tests expect it."""
    sign_in("nurse.mia")
    page.goto("/board")
    page.click('article[data-chair="MIA-2"] a.open')
    form = page.locator("#dissociation form[data-score-form]")
    assert form.locator("input[type=radio][name=item_22]").count() == 5
    form.locator("#item-item_1 input[value='2']").check()
    form.locator("#item-item_22 input[value='1']").check()
    expect(page.locator("[data-answered-for=cadss6]")).to_have_text("2")
    expect(page.locator("[data-total-for=cadss6]")).to_have_text("3 so far")
    for n in (2, 6, 7, 15):
        form.locator(f"#item-item_{n} input[value='1']").check()
    expect(page.locator("[data-total-for=cadss6]")).to_have_text("7")
    screenshot("chair-cadss6-live-total")
