"""In the real browser, at tablet size (1024×768): the live chair board updates without a reload
when a bedside monitor sends a reading over MLLP to a real ``ketaclinic serve --hl7-port``, and
when the server's background sweep escalates an unacknowledged alert and e-mails it (to a real
SMTP server on loopback); the chair's session page and the printable record render.
Screenshots go to test-artifacts/screenshots/ for people to look at."""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from ketaclinic.adapters.hl7.framing import Frame, FrameDecoder, encode_frame

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "screenshots"
KETACLINIC = str(Path(sys.executable).with_name("ketaclinic"))
START_TIMEOUT_S = 90.0  # cold start: migrations, demo, imports on a loaded machine
TABLET = {"width": 1024, "height": 768}


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, smtp_inbox_for_module, pick_port
) -> Iterator[tuple[str, int]]:
    """``ketaclinic demo --no-serve`` then ``ketaclinic serve --hl7-port`` on loopback, sweeping
    every second, escalating after 3 s (a test cannot wait minutes) and mailing to the module's
    loopback SMTP server (tests/conftest.py); yields (base URL, MLLP port). Only this process
    is ever signalled."""
    work = tmp_path_factory.mktemp("chair-browser")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KETACLINIC_")}
    env.update(
        KETACLINIC_DATABASE_URL=f"sqlite:///{work / 'clinic.sqlite3'}",
        KETACLINIC_DATA_DIR=str(work / "data"),
        KETACLINIC_SECRET_KEY="chair-browser-secret-" + "b" * 40,
        KETACLINIC_LOG_LEVEL="WARNING",
        KETACLINIC_CHAIR_SWEEP_S="1",
        KETACLINIC_ALERT_ESCALATE_AFTER_MIN="0.05",
        KETACLINIC_SMTP_HOST="127.0.0.1",
        KETACLINIC_SMTP_PORT=str(smtp_inbox_for_module.port),
    )
    subprocess.run(
        [KETACLINIC, "demo", "--no-serve", "--json"],
        env=env,
        cwd=work,
        check=True,
        capture_output=True,
        timeout=START_TIMEOUT_S,
    )
    port, hl7_port = pick_port(), pick_port()
    with (work / "serve.log").open("wb") as log:
        process = subprocess.Popen(
            [KETACLINIC, "serve", "--port", str(port), "--hl7-port", str(hl7_port)],
            env=env,
            cwd=work,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"serve did not start: see {work / 'serve.log'}") from None
            time.sleep(0.2)
    yield base, hl7_port
    os.kill(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@pytest.fixture
def tablet(browser, served) -> Iterator[object]:
    base, _ = served
    context = browser.new_context(base_url=base, viewport=TABLET)
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    tab.goto("/login")
    tab.fill("#username", "nurse.mia")
    tab.fill("#password", "demo-clinic-2026")
    tab.click("button[type=submit]")
    tab.wait_for_url("**/")
    yield tab
    context.close()


def shot(tab: object, name: str, *, full_page: bool = False) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    tab.screenshot(path=str(path), full_page=full_page)  # type: ignore[attr-defined]
    return path


def send_monitor_reading(hl7_port: int, control_id: str, hr: int) -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S+0000")
    message = (
        "\r".join(
            [
                f"MSH|^~\\&|BEDSIDE|DEMO-MIA|KETACLINIC|DEMO|{stamp}||ORU^R01^ORU_R01|{control_id}|P|2.6",
                "PID|1||DEMO-0001^^^DEMO^MR",
                "PV1|1|O|MIA-1",
                f"OBX|1|NM|147842^MDC_ECG_HEART_RATE^MDC||{hr}|/min|||||F|||{stamp}",
                f"OBX|2|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC||97|%|||||F|||{stamp}",
            ]
        ).encode()
        + b"\r"
    )

    # Plain blocking sockets: Playwright's sync API already runs an event loop in this thread.
    with socket.create_connection(("127.0.0.1", hl7_port), timeout=15) as conn:
        conn.sendall(encode_frame(message))
        decoder = FrameDecoder()
        while True:
            data = conn.recv(65536)
            assert data, "the listener closed the connection"
            frames = [e for e in decoder.feed(data) if isinstance(e, Frame)]
            if frames:
                return frames[0].payload.decode()


def test_a_monitor_reading_appears_on_the_board_without_a_reload(tablet, served) -> None:
    _, hl7_port = served
    tablet.goto("/board")
    tablet.wait_for_selector("#board-status[data-state=live]")
    card = tablet.locator('article[data-chair="MIA-1"]')
    assert "DEMO-0001" in card.inner_text()
    assert tablet.locator('[data-rule="hr_during_infusion"]').count() == 0
    shot(tablet, "chair-board-tablet")
    tablet.evaluate("window.__stillHere = true")  # gone if the page reloads

    ack = send_monitor_reading(hl7_port, "BROWSER-1", hr=126)
    assert "MSA|AA|BROWSER-1" in ack

    alert = card.locator('li[data-rule="hr_during_infusion"]')
    alert.wait_for()
    assert "126" in alert.inner_text()
    assert card.locator("dl.vitals").inner_text().count("126") == 1
    assert tablet.evaluate("window.__stillHere") is True
    shot(tablet, "chair-board-tablet-alert")


def test_an_unacknowledged_alert_escalates_and_is_e_mailed_with_the_board_untouched(
    tablet, served, smtp_inbox_for_module
) -> None:
    _, hl7_port = served
    tablet.goto("/board")
    tablet.wait_for_selector("#board-status[data-state=live]")
    tablet.evaluate("window.__stillHere = true")
    ack = send_monitor_reading(hl7_port, "BROWSER-ESC", hr=128)
    assert "MSA|AA|BROWSER-ESC" in ack
    alert = tablet.locator('article[data-chair="MIA-1"] li[data-rule="hr_during_infusion"]')
    # Nobody clicks anything: the server's sweep escalates the alert, e-mails it and the
    # board's stream brings both.
    alert.locator('.notice[data-notice-state="sent"]').wait_for(timeout=30_000)
    text = alert.inner_text()
    assert "escalated" in text
    assert "e-mailed to" in text
    assert tablet.evaluate("window.__stillHere") is True
    assert any("chair MIA-1" in m["Subject"] for m in smtp_inbox_for_module.messages)
    shot(tablet, "chair-board-tablet-escalated")


def test_the_chair_page_and_the_record_render_at_tablet_size(tablet) -> None:
    tablet.goto("/board")
    tablet.click('article[data-chair="MIA-1"] a.open')
    tablet.wait_for_selector("#actions")
    assert tablet.locator("text=Complete (dose given)").is_visible()
    tablet.wait_for_function(
        "() => [...document.querySelectorAll('img.chart')]"
        ".every(i => i.complete && i.naturalWidth > 0)"
    )
    # Touch targets: the main actions are at least 44 px high (WCAG 2.5.5 target size).
    height = tablet.locator("text=Complete (dose given)").evaluate("b => b.offsetHeight")
    assert height >= 44
    shot(tablet, "chair-session-tablet")
    shot(tablet, "chair-session-full", full_page=True)
    tablet.click("text=Record")
    tablet.wait_for_selector("text=Infusion session record")
    tablet.wait_for_function(
        "() => [...document.querySelectorAll('img.chart')]"
        ".every(i => i.complete && i.naturalWidth > 0)"
    )
    shot(tablet, "chair-record", full_page=True)
