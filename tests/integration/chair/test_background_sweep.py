"""The chair's background sweep against real databases and a real SMTP server on loopback
(aiosmtpd), on SQLite and PostgreSQL: two sweepers at once e-mail each escalation level once;
the web app's own sweeper escalates and e-mails with no board open; ``ketaclinic hl7 listen``
runs it too; the board itself only reads."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from ketaclinic.adapters.db import tables_chair as c
from ketaclinic.adapters.notify.smtp import SmtpNotifier
from ketaclinic.bootstrap import Container, build
from ketaclinic.config import Settings
from ketaclinic.domain.alerts import AlertState
from ketaclinic.domain.vitals import VitalKind, VitalReading, VitalSource
from ketaclinic.services.chair_escalation import sweep_all
from ketaclinic.services.chair_ports import NoticeState
from ketaclinic.services.chair_vitals import SessionFeed
from ketaclinic.services.ports import FixedClock

KETACLINIC = str(Path(sys.executable).with_name("ketaclinic"))
PASSWORD = "demo-clinic-2026"
WAIT_S = 60.0  # bounds a hang only; a healthy sweeper e-mails within a few seconds


def escalation_mails(inbox) -> list[tuple[int, int, str]]:  # type: ignore[no-untyped-def]
    """(alert id, level, recipient) of every escalation e-mail ``inbox`` received."""
    found = []
    for _, recipients, message in inbox.received:
        text = message.get_payload(decode=True).decode()
        alert = int(re.search(r"Alert reference (\d+)", text).group(1))
        level = int(re.search(r"escalation level (\d+)", message["Subject"]).group(1))
        found += [(alert, level, to) for to in recipients]
    return found


@pytest.fixture
def smtp(smtp_inbox):  # type: ignore[no-untyped-def]
    return smtp_inbox, smtp_inbox.port


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def clinic_url(request: pytest.FixtureRequest, provision_db: Callable[..., str]) -> str:
    """A database holding the demo clinic on each engine."""
    return provision_db(request.param, with_demo=True)


def settings(url: str, data_dir: Path, **more: object) -> Settings:
    return Settings(
        database_url=url,
        data_dir=data_dir,
        secret_key="test-secret-key-" + "x" * 40,
        environment="test",
        _env_file=None,  # type: ignore[call-arg]
        **more,
    )


@dataclass
class Running:
    session_id: int
    site_id: int
    alert_id: int


def raise_bp_alert(container: Container, at: dt.datetime) -> Running:
    """A blood pressure above the in-infusion limit for DEMO-0001's running session, timed
    ``at`` (the alert is raised then and escalates from then on)."""
    with container.uow() as uow:
        patient = uow.patients.by_mrn("DEMO-0001")
        row = uow.chair.open_sessions_for_patients([patient.id])[patient.id]
        readings = [
            VitalReading(VitalKind.BP_SYSTOLIC, 185, at, VitalSource.MANUAL, "8480-6"),
            VitalReading(VitalKind.BP_DIASTOLIC, 105, at, VitalSource.MANUAL, "8462-4"),
        ]
        # Screened without the session's recent readings: the demo's course ends at a time of
        # its own, and a jump from it would set this reading aside as an artefact.
        open_alerts = uow.chair.session_alerts([row.id], open_only=True)
        result = SessionFeed(uow, row, at, preloaded=([], open_alerts)).ingest(readings, at)
        raised = result.raised
        uow.commit()
    (alert,) = [a for a in raised if a.alert.rule_key == "bp_during_infusion"]
    return Running(row.id, row.site_id, alert.id)


def test_two_sweepers_at_once_e_mail_each_escalation_level_once(
    clinic_url: str, tmp_path: Path, smtp
) -> None:
    inbox, port = smtp
    start = dt.datetime.now(dt.UTC)
    clock = FixedClock(start)
    # Two processes' worth of adapters: separate engines (connection pools) on one database.
    one = build(settings(clinic_url, tmp_path / "a"), clock=clock, fast_password_hashing=True)
    two = build(settings(clinic_url, tmp_path / "b"), clock=clock, fast_password_hashing=True)
    try:
        running = raise_bp_alert(one, start)
        notifier = SmtpNotifier("127.0.0.1", port, "ketaclinic@clinic.invalid")
        for minutes in (2.5, 4.5, 6.5):  # levels 1, 2 and 3 (2-min interval, design)
            clock.at = start + dt.timedelta(minutes=minutes)
            barrier = threading.Barrier(2)
            failures: list[BaseException] = []

            def tick(container: Container, barrier=barrier, failures=failures) -> None:
                try:
                    barrier.wait(timeout=30)
                    sweep_all(container.uow, clock, notifier)
                except BaseException as error:  # reported below, with the thread's name
                    failures.append(error)

            threads = [threading.Thread(target=tick, args=(x,)) for x in (one, two)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=120)
            assert failures == []
        keys = escalation_mails(inbox)
        assert len(keys) == len(set(keys)), "an escalation was e-mailed twice"
        mine = sorted({(level, to) for alert, level, to in keys if alert == running.alert_id})
        told = ["nurse.mia@demo.invalid", "prescriber.mia@demo.invalid"]
        assert mine == [(level, to) for level in (1, 2, 3) for to in told]
        with one.uow() as uow:
            alert = uow.chair.get_alert(running.alert_id)
            notices = [
                n for n in uow.chair.escalations([running.session_id])
                if n.alert_id == running.alert_id
            ]  # fmt: skip
        assert alert.alert.escalation_level == 3
        assert [(n.level, n.state, n.sent) for n in notices] == [
            (1, NoticeState.SENT, 2),
            (2, NoticeState.SENT, 2),
            (3, NoticeState.SENT, 2),
        ]
    finally:
        one.dispose()
        two.dispose()


def login(client, username: str) -> None:
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    response = client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token, "next": "/"},
        follow_redirects=False,
    )
    assert response.status_code == 303


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_the_web_app_escalates_and_e_mails_with_no_board_open(
    clinic_url: str, tmp_path: Path, smtp
) -> None:
    from fastapi.testclient import TestClient

    from ketaclinic.web.app import create_app
    from ketaclinic.web.throttle import login_throttle

    inbox, port = smtp
    container = build(
        settings(
            clinic_url,
            tmp_path / "data",
            chair_sweep_s=0.2,
            alert_escalate_after_min=0.02,  # 1.2 s: a test cannot wait two minutes
            smtp_host="127.0.0.1",
            smtp_port=port,
        ),
        fast_password_hashing=True,
    )
    try:
        running = raise_bp_alert(container, dt.datetime.now(dt.UTC))
        login_throttle.reset()
        with TestClient(create_app(container)):
            wait_for(
                lambda: any(alert == running.alert_id for alert, _, _ in escalation_mails(inbox)),
                "the escalation e-mail",
            )
        # The app has stopped (its sweeper finished the tick in flight). Only now does anyone
        # look, in an app without a sweeper: the board shows the escalation and the e-mail.
        viewer = build(settings(clinic_url, tmp_path / "viewer"), fast_password_hashing=True)
        try:
            with TestClient(create_app(viewer)) as client:
                login(client, "nurse.mia")
                board = client.get("/board")
                session = client.get(f"/sessions/{running.session_id}")
                record = client.get(f"/sessions/{running.session_id}/record")
        finally:
            viewer.dispose()
        assert board.status_code == 200
        card = board.text.split('data-chair="MIA-1"')[1].split("</article>")[0]
        assert "escalated" in card
        assert 'data-notice-state="sent"' in card
        assert "e-mailed to 2 people" in card
        box = session.text.split(f'data-alert-id="{running.alert_id}"')[1].split("</article>")[0]
        assert 'data-notice-state="sent"' in box
        assert "e-mailed to 2 of 2" in box
        escalations = record.text.split("Escalations of unacknowledged alerts")[1]
        assert "BP above the infusion limit (alert" in escalations
        assert "e-mailed to 2 of 2" in escalations
        with container.uow() as uow:
            audited = [
                e.record
                for e in uow.audit.entries()
                if e.record.resource == "chair_alert_notice"
                and e.record.resource_id == str(running.alert_id)
            ]
        assert audited
        assert all(r.client == "system" for r in audited)
        assert audited[0].detail.startswith("escalation level ")
    finally:
        container.dispose()


def test_the_board_only_reads_it_never_escalates_or_raises(client, login_as, demo) -> None:
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=30)
    running = raise_bp_alert(demo, long_ago)
    with demo.engine.connect() as conn:
        alerts_before = conn.execute(sa.select(sa.func.count()).select_from(c.chair_alert)).scalar()
    login_as("nurse.mia")
    board = client.get("/board")
    stream = client.get("/board/stream?once=1")
    session = client.get(f"/sessions/{running.session_id}")
    assert board.status_code == stream.status_code == session.status_code == 200
    # The page computes the escalation as of now (30 min unacknowledged: level 15)...
    card = board.text.split('data-chair="MIA-1"')[1].split("</article>")[0]
    assert "escalated 15" in card
    # ...but nothing was written: no level stored, no notice, no new alert.
    with demo.uow() as uow:
        alert = uow.chair.get_alert(running.alert_id)
        assert uow.chair.escalations([running.session_id]) == []
    assert alert.alert.state is AlertState.RAISED
    assert alert.alert.escalation_level == 0
    with demo.engine.connect() as conn:
        alerts_after = conn.execute(sa.select(sa.func.count()).select_from(c.chair_alert)).scalar()
    assert alerts_after == alerts_before


@pytest.mark.slow
def test_hl7_listen_runs_the_sweep_and_e_mails_escalations(
    clinic_url: str, tmp_path: Path, smtp, unused_port: int
) -> None:
    inbox, smtp_port = smtp
    container = build(settings(clinic_url, tmp_path / "data"), fast_password_hashing=True)
    try:
        running = raise_bp_alert(container, dt.datetime.now(dt.UTC))
    finally:
        container.dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KETACLINIC_")}
    env.update(
        KETACLINIC_DATABASE_URL=clinic_url,
        KETACLINIC_DATA_DIR=str(tmp_path / "listen-data"),
        KETACLINIC_SECRET_KEY="listen-secret-" + "k" * 40,
        KETACLINIC_LOG_LEVEL="WARNING",
        KETACLINIC_CHAIR_SWEEP_S="0.3",
        KETACLINIC_ALERT_ESCALATE_AFTER_MIN="0.02",
        KETACLINIC_SMTP_HOST="127.0.0.1",
        KETACLINIC_SMTP_PORT=str(smtp_port),
    )
    log_path = tmp_path / "listen.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [KETACLINIC, "hl7", "listen", "--port", str(unused_port)],
            env=env,
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(
            lambda: (
                process.poll() is not None
                or any(alert == running.alert_id for alert, _, _ in escalation_mails(inbox))
            ),
            "the escalation e-mail from hl7 listen",
        )
        assert process.poll() is None, log_path.read_text()
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    assert process.returncode == 0, log_path.read_text()
