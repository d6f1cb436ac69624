"""Browser test harness: Playwright driving Debian's chromium (found on PATH, never downloaded)
against a live server on loopback with the demo clinic loaded."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "screenshots"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("browser tests need Debian's chromium on PATH (apt-get install chromium)")
    return path


@pytest.fixture(scope="session")
def live_server(
    tmp_path_factory: pytest.TempPathFactory,
    app_on_loopback: Callable[[object], AbstractContextManager[str]],
) -> Iterator[str]:
    from ketaclinic.adapters.db import migrate
    from ketaclinic.bootstrap import build
    from ketaclinic.config import Settings
    from ketaclinic.services import demo as demo_svc
    from ketaclinic.web.app import create_app

    data = tmp_path_factory.mktemp("browser-data")
    settings = Settings(
        database_url=f"sqlite:///{data / 'browser.sqlite3'}",
        data_dir=data,
        secret_key="browser-secret-" + "z" * 40,
        environment="test",
        _env_file=None,  # type: ignore[call-arg]
    )
    container = build(settings, fast_password_hashing=True)
    migrate.upgrade(container.engine)
    with container.uow() as uow:
        demo_svc.load(uow, container.clock, container.passwords)
        uow.commit()
    with app_on_loopback(create_app(container)) as base:
        yield base
    container.dispose()


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[object]:
    """Module-scoped: Playwright's sync API keeps an event loop running in the main thread
    while it is open, and tests elsewhere use ``asyncio.run``; browser tests also run last."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(
            executable_path=chromium_path, headless=True, args=CHROMIUM_FLAGS
        )
        yield instance
        instance.close()


@pytest.fixture
def page(browser: object, live_server: str) -> Iterator[object]:
    context = browser.new_context(base_url=live_server, viewport={"width": 1024, "height": 768})  # type: ignore[attr-defined]
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    yield tab
    context.close()


@pytest.fixture
def screenshot(page: object) -> Callable[[str], Path]:
    """Save a full-page screenshot under test-artifacts/screenshots/ for people to look at."""

    def take(name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
        return path

    return take


@pytest.fixture
def sign_in(page: object) -> Callable[[str], None]:
    def do(username: str) -> None:
        from ketaclinic.web.throttle import login_throttle

        # The live server lives for the whole session and every sign-in comes from 127.0.0.1:
        # the per-address throttle (20 a minute) would otherwise stop the later tests.
        login_throttle.reset()
        page.goto("/login")  # type: ignore[attr-defined]
        page.fill("#username", username)  # type: ignore[attr-defined]
        page.fill("#password", "demo-clinic-2026")  # type: ignore[attr-defined]
        page.click("button[type=submit]")  # type: ignore[attr-defined]
        page.wait_for_url("**/")  # type: ignore[attr-defined]

    return do
