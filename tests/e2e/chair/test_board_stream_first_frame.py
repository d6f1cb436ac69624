"""A change committed while a board stream renders its first frame reaches that stream at once,
on SQLite and PostgreSQL — not only at the board's own periodic refresh, which this test sets
far beyond its wait. (The stream used to subscribe after its first render, so such a change
rang nobody.) A real server on loopback, because the stream must stay open."""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

import httpx
import pytest
import sqlalchemy as sa

from ketaclinic.adapters.db import tables as t
from ketaclinic.adapters.db import tables_chair as c
from ketaclinic.adapters.db.events_chair import chair_events
from ketaclinic.domain.vitals import VitalKind, VitalReading, VitalSource
from ketaclinic.services import chair_vitals
from ketaclinic.services.audit import Actor
from ketaclinic.services.auth import principal_of
from ketaclinic.web.pages import chair_board

REFRESH_S = 60  # the board's own refresh: far beyond SHOWN_S
SHOWN_S = 15.0  # bounds the wait for the second frame (it comes in well under a second)
SHOWN = "<dt>SpO2</dt><dd>85%</dd>"  # MIA-1's latest SpO2, as its card shows it


@pytest.fixture
def server(demo, app_on_loopback: Callable[[object], AbstractContextManager[str]]) -> Iterator[str]:
    from ketaclinic.web.app import create_app
    from ketaclinic.web.throttle import login_throttle

    login_throttle.reset()
    demo.settings = demo.settings.model_copy(update={"board_refresh_s": REFRESH_S})
    with app_on_loopback(create_app(demo)) as base:
        yield base
    chair_events(demo).close()  # the relay of other processes' changes, before the database goes


def chart_low_spo2(demo) -> None:  # type: ignore[no-untyped-def]
    """nurse.mia charts SpO2 85 % for DEMO-0001 (infusing on MIA-1) and the page publishes it,
    as the chair's vitals form does."""
    with demo.engine.connect() as conn:
        session_id, site_id = conn.execute(
            sa.select(c.infusion_session.c.id, c.infusion_session.c.site_id)
            .join(t.patient, t.patient.c.id == c.infusion_session.c.patient_id)
            .where(t.patient.c.mrn == "DEMO-0001", c.infusion_session.c.state == "running")
        ).one()
    with demo.uow() as uow:
        nurse = Actor(principal_of(uow.users.by_username("nurse.mia")), "test")
        now = dt.datetime.now(dt.UTC)
        reading = VitalReading(VitalKind.SPO2, 85, now, VitalSource.MANUAL)
        chair_vitals.record_vitals(uow, demo.clock, nurse, session_id, [reading])
    chair_events(demo).publish([site_id])


def mia_1(html: str) -> str:
    start = html.find('data-chair="MIA-1"')
    end = html.find("<article", start + 1)
    return html[start : end if end > 0 else len(html)] if start >= 0 else ""


def test_a_change_committed_during_the_first_render_reaches_the_open_stream(
    demo, server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = chair_board.render_fragment
    charted = threading.Event()

    def render_then_chart(*args, audited: bool, **kwargs):  # type: ignore[no-untyped-def]
        html = real(*args, audited=audited, **kwargs)
        if audited and not charted.is_set():  # the stream's first render has read the board
            charted.set()
            chart_low_spo2(demo)
        return html

    monkeypatch.setattr(chair_board, "render_fragment", render_then_chart)
    frames: list[str] = []
    with httpx.Client(base_url=server, timeout=REFRESH_S * 2) as client:
        page = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token is not None
        client.post(
            "/login",
            data={
                "username": "nurse.mia",
                "password": "demo-clinic-2026",
                "csrf_token": token.group(1),
            },
        )

        def read() -> None:
            with client.stream("GET", "/board/stream") as response:
                data: list[str] = []
                for line in response.iter_lines():
                    if line.startswith("data: "):
                        data.append(line[6:])
                    elif not line and data:
                        frames.append("\n".join(data))
                        data = []
                        if len(frames) == 2:
                            return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(SHOWN_S)
    assert charted.is_set(), "the stream's first render did not run"
    assert frames, "the board stream sent nothing"
    assert SHOWN not in mia_1(frames[0])  # the first frame was read before the charting
    assert len(frames) == 2, "the change made during the first render waited for the refresh"
    assert SHOWN in mia_1(frames[1])
