"""Every patient-facing page in a real browser, in English and Spanish: axe-core (vendored,
tests/e2e/browser/assets) finds no serious or critical WCAG 2.1 A/AA violation; a 360-px phone
never scrolls sideways; screenshots at phone (360) and tablet (768) width; and the screening and
self-report flows done with the keyboard alone (Tab, Space, Enter, and typing into a field)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

ASSETS = Path(__file__).parent / "assets"
AXE = ASSETS / "axe.min.js"  # axe-core 4.14.1 from the npm registry (assets/VENDORED.md)
PHONE = {"width": 360, "height": 740}
TABLET = {"width": 768, "height": 1024}
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = {"serious", "critical"}
QUESTIONS = ("high_blood_pressure", "heart_disease", "stroke", "pregnancy", "psychosis")
QUESTIONS += ("substance_use",)
AXE_RUN = """async (tags) => {
  const result = await axe.run(document, {runOnly: {type: "tag", values: tags}});
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ")),
  }));
}"""


@pytest.fixture
def patient_page(page):  # type: ignore[no-untyped-def]
    """The test's tab at phone size, with axe-core loaded into every document it opens (an init
    script: the pages' Content-Security-Policy allows no injected script tag)."""
    page.context.add_init_script(path=str(AXE))
    page.set_viewport_size(PHONE)
    return page


def axe_violations(page) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    found: list[dict[str, Any]] = page.evaluate(AXE_RUN, WCAG)
    return found


def check_page(page, name: str, screenshot) -> None:  # type: ignore[no-untyped-def]
    """At phone width: no sideways scrolling and no serious/critical axe finding; then
    screenshots at phone and tablet width (the page is left at phone width)."""
    page.set_viewport_size(PHONE)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{name}: the page is {width} px wide on a 360-px phone"
    violations = axe_violations(page)
    blocking = [v for v in violations if v["impact"] in BLOCKING]
    assert not blocking, f"{name}: {json.dumps(blocking, indent=1)}"
    screenshot(f"patient-{name}-phone")
    page.set_viewport_size(TABLET)
    screenshot(f"patient-{name}-tablet")
    page.set_viewport_size(PHONE)


def api_link(page, live_server: str, mrn: str) -> str:  # type: ignore[no-untyped-def]
    """A new one-time PHQ-9 link for ``mrn``, made through the API as the MIA nurse."""
    from ketaclinic.web.throttle import login_throttle

    login_throttle.reset()
    token = page.request.post(
        f"{live_server}/api/v1/auth/token",
        form={"username": "nurse.mia", "password": "demo-clinic-2026"},
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    (patient,) = page.request.get(
        f"{live_server}/api/v1/patients?mrn={mrn}", headers=headers
    ).json()["items"]
    created = page.request.post(
        f"{live_server}/api/v1/patients/{patient['id']}/self-report-links",
        headers=headers,
        data={"instruments": ["phq9"], "send_email": False},
    )
    assert created.ok, created.text()
    url: str = created.json()["url"]
    return url


def fill_screening(page) -> None:  # type: ignore[no-untyped-def]
    for n in range(1, 21):
        page.check(f"input[name='s{n:02d}'][value='3']")
    page.fill("#months", "8")
    for question in QUESTIONS:
        page.check(f"input[name='h_{question}'][value='no']")


@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_public_pages_pass_axe_on_a_phone(patient_page, screenshot, lang: str) -> None:
    from ketaclinic.web.pages.mbc_public import self_report_throttle

    self_report_throttle.reset()
    page = patient_page
    page.goto(f"/screening?lang={lang}")
    assert page.get_attribute("html", "lang") == lang
    check_page(page, f"screening-{lang}", screenshot)

    page.click("button[type=submit]")
    assert page.evaluate("document.activeElement.id") == "error-summary"
    check_page(page, f"screening-errors-{lang}", screenshot)

    page.goto(f"/screening?lang={lang}")
    fill_screening(page)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=screening-result]")
    check_page(page, f"screening-result-{lang}", screenshot)

    page.goto(f"/inquiry?lang={lang}")
    check_page(page, f"inquiry-{lang}", screenshot)
    page.click("button[type=submit]")
    page.wait_for_selector("#error-summary")
    check_page(page, f"inquiry-errors-{lang}", screenshot)
    page.fill("#name", "Lucía Teclado")
    page.fill("#phone", "+1 305 555 0100")
    page.check("input[name=contact_consent]")
    page.wait_for_timeout(3200)  # a person takes longer than the form's 3-second minimum
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=inquiry-thanks]")
    check_page(page, f"inquiry-thanks-{lang}", screenshot)

    page.goto(f"/no-such-page?lang={lang}")
    assert page.get_attribute("html", "lang") == lang
    check_page(page, f"error-404-{lang}", screenshot)

    page.goto(f"/r/{'A' * 43}?lang={lang}")
    check_page(page, f"link-invalid-{lang}", screenshot)


@pytest.mark.parametrize(("lang", "mrn"), [("en", "DEMO-0011"), ("es", "DEMO-0013")])
def test_the_questionnaire_link_passes_axe_on_a_phone(
    patient_page, live_server, screenshot, lang: str, mrn: str
) -> None:
    from ketaclinic.web.pages.mbc_public import self_report_throttle

    self_report_throttle.reset()
    page = patient_page
    url = api_link(page, live_server, mrn)  # DEMO-0011 prefers English, DEMO-0013 Spanish
    page.goto(url)
    assert page.get_attribute("html", "lang") == lang  # the patient's own language
    check_page(page, f"link-form-{lang}", screenshot)
    page.click("button[type=submit]")
    assert page.evaluate("document.activeElement.id") == "form-error"
    check_page(page, f"link-errors-{lang}", screenshot)
    for n in range(1, 10):
        # Item 9 stays at 0: a positive answer would open a safety review on a demo patient that
        # other browser tests on this server expect to be clear.
        page.check(f"#item-phq9_{n:02d} input[value='{0 if n == 9 else 1}']")
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=respond-message]")
    check_page(page, f"link-thanks-{lang}", screenshot)
    page.goto(url)
    check_page(page, f"link-used-{lang}", screenshot)


@pytest.mark.parametrize("lang", ["en", "es"])
def test_discharge_instructions_pass_axe_on_a_phone(
    patient_page, sign_in, screenshot, lang: str
) -> None:
    page = patient_page
    page.set_viewport_size({"width": 1024, "height": 768})
    sign_in("nurse.mia")
    page.goto("/chairs/MIA-1")  # DEMO-0001's infusion is running there: the session opens
    page.wait_for_url(re.compile(r".*/sessions/\d+$"))
    session = page.url.rsplit("/", 1)[1]
    page.goto(f"/sessions/{session}/instructions?lang={lang}")
    assert page.get_attribute("html", "lang") == lang
    phone = page.locator("[data-testid=clinic-phone]")
    assert "+1 305 555 0142" in phone.inner_text()  # the demo site's (fictional) number
    assert phone.locator("a").get_attribute("href") == "tel:+13055550142"
    check_page(page, f"instructions-{lang}", screenshot)


# --- keyboard only ----------------------------------------------------------------------------


def active(page) -> dict[str, str]:  # type: ignore[no-untyped-def]
    state: dict[str, str] = page.evaluate(
        """() => {
          const e = document.activeElement;
          const style = getComputedStyle(e);
          const ring = getComputedStyle(e.closest("label") || e);
          return {tag: e.tagName.toLowerCase(), type: e.type || "", name: e.name || "",
                  value: e.value || "", id: e.id || "", text: (e.innerText || "").trim(),
                  outline: style.outlineStyle !== "none" || ring.outlineStyle !== "none"
                           ? "visible" : "none"};
        }"""
    )
    return state


def tab_until(page, wanted, limit: int = 80) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Press Tab until the focused element satisfies ``wanted``; every stop is recorded."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        state = active(page)
        page.tab_stops.append(state)  # type: ignore[attr-defined]
        if wanted(state):
            return state
    raise AssertionError(f"never reached the element: {page.tab_stops[-5:]}")  # type: ignore[attr-defined]


def test_the_screening_and_inquiry_work_with_the_keyboard_alone(patient_page, screenshot) -> None:
    page = patient_page
    page.tab_stops = []
    page.goto("/screening?lang=es")
    first = tab_until(page, lambda s: True)
    assert first["text"] in {"Saltar al contenido"}  # the skip link comes first
    names = [f"s{n:02d}" for n in range(1, 21)]
    for name in names:
        state = tab_until(page, lambda s: s["type"] == "radio")
        assert state["name"] == name  # one stop per question, in reading order
        assert state["outline"] == "visible"  # focus can be seen
        page.keyboard.press("Space")
    state = tab_until(page, lambda s: s["id"] == "months")
    page.keyboard.type("8")
    for question in QUESTIONS:
        state = tab_until(page, lambda s: s["type"] == "radio")
        assert state["name"] == f"h_{question}"
        page.keyboard.press("Space")  # the first answer of each: "Sí"
    assert page.is_checked("input[name=h_substance_use][value=yes]")
    assert page.is_checked("input[name=s20][value='0']")
    state = tab_until(page, lambda s: s["tag"] == "button")
    assert state["text"] == "Ver mi resultado"
    assert state["outline"] == "visible"
    screenshot("patient-keyboard-screening-focus-es-phone")
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-testid=screening-result]")
    assert page.evaluate("document.activeElement.id") == "result-title"
    assert "Hable primero con su médico" in page.inner_text("[data-testid=screening-result]")
    tab_until(page, lambda s: s["text"] == "Contactar con la clínica")
    page.keyboard.press("Enter")
    page.wait_for_url("**/inquiry?lang=es")
    tab_until(page, lambda s: s["id"] == "name")
    page.keyboard.type("Rosa Teclado")
    tab_until(page, lambda s: s["id"] == "email")
    page.keyboard.type("rosa@example.org")
    tab_until(page, lambda s: s["name"] == "contact_consent")
    page.keyboard.press("Space")
    page.wait_for_timeout(3200)  # the form's 3-second minimum
    tab_until(page, lambda s: s["tag"] == "button")
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-testid=inquiry-thanks]")
    assert "Hemos recibido su mensaje" in page.inner_text("main")
    # The honeypot was never a tab stop.
    assert not [s for s in page.tab_stops if s["name"] == "website"]


def test_the_questionnaire_link_works_with_the_keyboard_alone(
    patient_page, live_server, screenshot
) -> None:
    from ketaclinic.web.pages.mbc_public import self_report_throttle

    self_report_throttle.reset()
    page = patient_page
    page.tab_stops = []
    page.goto(api_link(page, live_server, "DEMO-0021"))  # prefers Spanish
    assert page.get_attribute("html", "lang") == "es"
    for n in range(1, 10):
        state = tab_until(page, lambda s: s["type"] == "radio")
        assert state["name"] == f"phq9_{n:02d}"
        assert state["outline"] == "visible"
        page.keyboard.press("Space")  # "Ningún día"
    expect(page.locator("[data-answered-all]")).to_have_text("9")
    state = tab_until(page, lambda s: s["tag"] == "button")
    assert state["text"] == "Enviar mis respuestas"
    screenshot("patient-keyboard-link-focus-es-phone")
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-testid=respond-message]")
    assert page.inner_text("h1") == "Gracias"
