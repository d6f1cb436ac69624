"""Suite-wide test set-up.

- Hypothesis: no per-example deadline (a loaded CI machine is not a failing property).
- With ``CI=true`` a skipped test fails the run: PostgreSQL and browser tests must really run
  in CI (DESIGN.md §4.1).
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ketaclinic",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("ketaclinic")

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Browser tests run last (see tests/e2e/browser/conftest.py)."""
    del config
    items.sort(key=lambda item: "/e2e/browser/" in str(item.path))


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not IN_CI:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter is not None else 0
    if skipped:
        if reporter is not None:
            reporter.write_line(
                f"CI=true: {skipped} test(s) were skipped; in CI every PostgreSQL and browser "
                "test must run. Failing the run.",
                red=True,
            )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# --- databases -----------------------------------------------------------------------------
# Every storage test runs on SQLite and on PostgreSQL. Each test gets a fresh database copied
# from a template migrated once per session: a file copy on SQLite, CREATE DATABASE … TEMPLATE
# on PostgreSQL.

import shutil  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import sqlalchemy as sa  # noqa: E402

PG_ENV = "KETACLINIC_TEST_POSTGRES_URL"


def _pg_admin_url() -> str | None:
    url = os.environ.get(PG_ENV, "")
    if not url:
        return None
    from ketaclinic.adapters.db.engine import normalise_url

    return normalise_url(url)


def _with_database(url: str, name: str) -> str:
    return sa.engine.make_url(url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ketaclinic.adapters.db import migrate
    from ketaclinic.adapters.db.engine import make_engine

    path = tmp_path_factory.mktemp("sqlite-template") / "template.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()  # closing the last connection checkpoints the WAL into the file
    return path


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    admin = _pg_admin_url()
    if admin is None:
        pytest.skip(f"PostgreSQL tests need {PG_ENV}")
    from ketaclinic.adapters.db import migrate
    from ketaclinic.adapters.db.engine import make_engine

    name = f"ketaclinic_tpl_{uuid.uuid4().hex[:10]}"
    admin_engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with admin_engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine = make_engine(_with_database(admin, name))
    migrate.upgrade(engine)
    engine.dispose()
    yield name
    with admin_engine.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin_engine.dispose()


def _load_demo(url: str, data_dir: Path) -> None:
    from ketaclinic.bootstrap import build
    from ketaclinic.services import demo as demo_svc

    c = build(make_settings(url, data_dir), fast_password_hashing=True)
    with c.uow() as uow:
        demo_svc.load(uow, c.clock, c.passwords)
        uow.commit()
    c.dispose()


# The demo clinic takes seconds to load; the many tests that start from it copy a database that
# holds it, loaded once per session on each engine (its times are relative to the session's
# start, minutes ago at most).
@pytest.fixture(scope="session")
def sqlite_demo_template(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sqlite-demo-template")
    path = folder / "demo.sqlite3"
    shutil.copyfile(sqlite_template, path)
    _load_demo(f"sqlite:///{path}", folder / "data")
    return path


@pytest.fixture(scope="session")
def pg_demo_template(pg_template: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    admin = _pg_admin_url()
    assert admin is not None
    name = f"ketaclinic_demo_{uuid.uuid4().hex[:10]}"
    admin_engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with admin_engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    _load_demo(_with_database(admin, name), tmp_path_factory.mktemp("pg-demo-template"))
    yield name
    with admin_engine.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin_engine.dispose()


@pytest.fixture
def fresh_pg_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """An empty, un-migrated PostgreSQL database for this test."""
    admin = _pg_admin_url()
    if admin is None:
        pytest.skip(f"PostgreSQL tests need {PG_ENV}")
    name = f"ketaclinic_t_{uuid.uuid4().hex[:12]}"
    admin_engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with admin_engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    yield _with_database(admin, name)
    with admin_engine.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin_engine.dispose()


@pytest.fixture
def provision_db(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[str], str]:
    """A function that makes a migrated, empty database of a kind ("sqlite" or "postgres") for
    this test and drops it afterwards."""

    def make(kind: str, *, with_demo: bool = False) -> str:
        if kind == "sqlite":
            template: Path = request.getfixturevalue(
                "sqlite_demo_template" if with_demo else "sqlite_template"
            )
            target = tmp_path / f"test-{uuid.uuid4().hex[:6]}.sqlite3"
            shutil.copyfile(template, target)
            return f"sqlite:///{target}"
        template_name: str = request.getfixturevalue(
            "pg_demo_template" if with_demo else "pg_template"
        )
        admin = _pg_admin_url()
        assert admin is not None
        name = f"ketaclinic_t_{uuid.uuid4().hex[:12]}"
        admin_engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
        with admin_engine.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"')

        def drop() -> None:
            with admin_engine.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin_engine.dispose()

        request.addfinalizer(drop)
        return _with_database(admin, name)

    return make


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, provision_db: Callable[..., str]) -> str:
    """A migrated database on each engine: empty, or holding the demo clinic when the test
    asks for ``demo`` (or ``client``, which builds on it)."""
    return provision_db(request.param, with_demo="demo" in request.fixturenames)


TEST_SECRET = "test-secret-key-" + "x" * 40


def make_settings(url: str, data_dir: Path) -> object:
    from ketaclinic.config import Settings

    return Settings(
        database_url=url,
        data_dir=data_dir,
        secret_key=TEST_SECRET,
        environment="test",
        _env_file=None,
    )


@pytest.fixture
def container(db_url: str, tmp_path: Path) -> Iterator[object]:
    from ketaclinic.bootstrap import build

    c = build(make_settings(db_url, tmp_path / "data"), fast_password_hashing=True)
    yield c
    c.dispose()


@pytest.fixture
def demo(container: object) -> object:
    """The container on this test's database, which holds the demo clinic (``db_url`` copies
    it from a template loaded once per session)."""
    return container


@pytest.fixture
def client(demo: object) -> Iterator[object]:
    from fastapi.testclient import TestClient

    from ketaclinic.web.app import create_app
    from ketaclinic.web.throttle import login_throttle

    login_throttle.reset()
    with TestClient(create_app(demo)) as test_client:
        yield test_client


DEMO_PASSWORD = "demo-clinic-2026"


@pytest.fixture
def token_for(client: object) -> Callable[[str], dict[str, str]]:
    """Bearer headers for a demo user, e.g. ``token_for("nurse.mia")``."""

    def get(username: str) -> dict[str, str]:
        response = client.post(
            "/api/v1/auth/token", data={"username": username, "password": DEMO_PASSWORD}
        )
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    return get


@pytest.fixture
def login_as(client: object) -> Callable[[str], None]:
    """Sign a demo user in on the test client's cookie session."""
    import re

    def sign_in(username: str) -> None:
        page = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token is not None
        response = client.post(
            "/login",
            data={
                "username": username,
                "password": DEMO_PASSWORD,
                "csrf_token": token.group(1),
                "next": "/",
            },
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text

    return sign_in


# --- no health data in logs, over the whole run --------------------------------------------
# Every record any ketaclinic logger emits during the test session is formatted as in
# production and kept; at the end none may contain a demo patient's name, an MRN, a birth date
# or a raw HL7 segment (STYLE.md §14). Subprocesses are checked by their own tests.

import logging  # noqa: E402
import re  # noqa: E402


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        from ketaclinic.logs import JsonFormatter

        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def _forbidden_in_logs() -> list[re.Pattern[str]]:
    from ketaclinic.services import demo as demo_svc

    names = {*demo_svc.GIVEN_FEMALE, *demo_svc.GIVEN_MALE, *demo_svc.FAMILY}
    return [
        re.compile(r"DEMO-\d{4}"),
        re.compile(r"\b(19[3-9]\d|200\d)-\d{2}-\d{2}\b(?!T)"),  # birth-date-like ISO dates
        re.compile(r"\b(MSH|PID|OBX)\|"),
        re.compile(r"\b(" + "|".join(sorted(map(re.escape, names))) + r")\b"),
    ]


@pytest.fixture(scope="session", autouse=True)
def logs_carry_no_health_data() -> Iterator[None]:
    capture = _Capture()
    logger = logging.getLogger("ketaclinic")
    logger.addHandler(capture)
    previous = logger.level
    logger.setLevel(logging.DEBUG)
    yield
    logger.removeHandler(capture)
    logger.setLevel(previous)
    leaks = [line for line in capture.lines if any(p.search(line) for p in _forbidden_in_logs())]
    assert not leaks, f"health data reached the logs ({len(leaks)} lines), e.g.: {leaks[:3]}"


# --- a loopback SMTP server -------------------------------------------------------------------

import email  # noqa: E402
import socket  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from contextlib import AbstractContextManager, contextmanager  # noqa: E402
from email.message import Message  # noqa: E402

from aiosmtpd.controller import Controller  # noqa: E402


class SmtpInbox:
    """The mailbox of an SMTP server on loopback (an aiosmtpd handler): every message received
    with its envelope, safe to read from the test while the server's thread appends."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._received: list[tuple[str, list[str], Message]] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope) -> str:  # type: ignore[no-untyped-def]  # the name aiosmtpd calls
        parsed = email.message_from_bytes(envelope.original_content)
        with self._lock:
            self._received.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 OK"

    @property
    def received(self) -> list[tuple[str, list[str], Message]]:
        """(envelope sender, envelope recipients, message), in the order received."""
        with self._lock:
            return list(self._received)

    @property
    def messages(self) -> list[Message]:
        return [message for _, _, message in self.received]

    def to(self, address: str) -> list[Message]:
        """The messages whose envelope names ``address`` as a recipient."""
        return [message for _, recipients, message in self.received if address in recipients]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_smtp_inbox() -> Iterator[SmtpInbox]:
    inbox = SmtpInbox(free_port())
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


@pytest.fixture
def smtp_inbox() -> Iterator[SmtpInbox]:
    """An SMTP server on loopback for this test; its port is ``smtp_inbox.port``."""
    with running_smtp_inbox() as inbox:
        yield inbox


@pytest.fixture(scope="module")
def smtp_inbox_for_module() -> Iterator[SmtpInbox]:
    """The same, shared by the tests of a module (for servers started once per module)."""
    with running_smtp_inbox() as inbox:
        yield inbox


@pytest.fixture
def unused_port() -> int:
    """A loopback TCP port nothing listens on (at the moment it is chosen)."""
    return free_port()


@pytest.fixture(scope="session")
def pick_port() -> Callable[[], int]:
    """``pick_port()`` chooses a free loopback port on each call: for tests (and fixtures of
    any scope) that start servers on several ports."""
    return free_port


@contextmanager
def _app_on_loopback(app: object) -> Iterator[str]:
    import uvicorn

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")  # type: ignore[arg-type]
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the live server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def app_on_loopback() -> Callable[[object], AbstractContextManager[str]]:
    """``with app_on_loopback(app) as base:`` serves the ASGI app with uvicorn in a thread on a
    free loopback port, for tests that need a real server (open streams, a browser)."""
    return _app_on_loopback


# --- a visit tomorrow -------------------------------------------------------------------------


def _book_tomorrow(demo, mrn: str) -> int:  # type: ignore[no-untyped-def]
    """A signed plan and a one-visit series for ``mrn`` starting in 24 hours (so its
    before-infusion questionnaire slot is open); the patient's id."""
    import datetime as dt

    from ketaclinic.services.intake_models import NewVisit, Series, TreatmentPlan

    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    start = now + dt.timedelta(hours=24, seconds=17)  # off the booking grid: never a clash
    with demo.uow() as uow:
        patient = uow.patients.by_mrn(mrn)
        chair = uow.sites.chairs(patient.site_id)[-1]
        prescriber = uow.users.by_username("prescriber.mia")
        plan = uow.schedule.add_plan(
            TreatmentPlan(0, patient.id, "abdallah-2022", 0.5, now.date(), prescriber.id, now)
        )
        uow.schedule.add_series(
            Series(0, patient.id, patient.site_id, plan.id, "abdallah-2022", prescriber.id, now),
            [NewVisit(chair.id, 1, start, start + dt.timedelta(hours=2), start.date())],
        )
        uow.commit()
    return int(patient.id)


@pytest.fixture
def book_tomorrow() -> Callable[..., int]:
    """``book_tomorrow(demo, mrn)``: see :func:`_book_tomorrow`."""
    return _book_tomorrow
