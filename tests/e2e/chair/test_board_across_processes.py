"""The monitor listener as a process of its own (``ketaclinic hl7 listen`` beside ``ketaclinic
serve``), on SQLite and PostgreSQL: a reading it stores shows on a board open in the web
process at once — through the database (SQLite's chair_change counter, PostgreSQL's NOTIFY), not
the board's own periodic refresh, which this test sets far beyond its wait."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from ketaclinic.adapters.hl7.framing import Frame, FrameDecoder, encode_frame

BIN = str(Path(sys.executable).with_name("ketaclinic"))
PASSWORD = "demo-clinic-2026"
REFRESH_S = 60  # the board's own refresh: longer than any wait below
START_S = 30.0  # bounds a hang while a process starts
SHOWN_S = 20.0  # bounds the wait for the alert; the relay takes a fraction of a second
pytestmark = pytest.mark.slow


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def env(request: pytest.FixtureRequest, tmp_path: Path, provision_db) -> dict[str, str]:
    return {
        **os.environ,
        "KETACLINIC_DATA_DIR": str(tmp_path / "data"),
        "KETACLINIC_SECRET_KEY": "processes-test-secret-" + "p" * 40,
        "KETACLINIC_ENVIRONMENT": "test",
        "KETACLINIC_BOARD_REFRESH_S": str(REFRESH_S),
        "KETACLINIC_DATABASE_URL": provision_db(request.param, with_demo=True),
    }


@pytest.fixture
def processes(
    env: dict[str, str], tmp_path: Path, pick_port: Callable[[], int]
) -> Iterator[tuple[str, int]]:
    """``serve`` (web only) and ``hl7 listen``, each its own process: (web base URL, MLLP port)."""
    web, mllp = pick_port(), pick_port()
    with contextlib.ExitStack() as logs:
        started = [
            subprocess.Popen(
                command,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=logs.enter_context((tmp_path / f"{name}.log").open("wb")),
            )
            for name, command in (
                ("serve", [BIN, "serve", "--port", str(web)]),
                ("listen", [BIN, "hl7", "listen", "--port", str(mllp)]),
            )
        ]
        try:
            wait_until(lambda: healthy(f"http://127.0.0.1:{web}"), "the web process")
            wait_until(lambda: accepts(mllp), "the listener process")
            yield f"http://127.0.0.1:{web}", mllp
        finally:
            for process in started:
                process.terminate()
            for process in started:
                process.wait(timeout=START_S)


def wait_until(condition, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + START_S
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} did not start")


def healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def accepts(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def low_spo2(control_id: str) -> bytes:
    """ORU^R01 for the demo's DEMO-0001 (infusing on MIA-1) with SpO2 85 %, timed now."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S+0000")
    segments = [
        f"MSH|^~\\&|BEDSIDE|DEMO-MIA|KETACLINIC|DEMO|{stamp}||ORU^R01^ORU_R01|{control_id}|P|2.6",
        "PID|1||DEMO-0001^^^DEMO^MR",
        "PV1|1|O|MIA-1",
        f"OBR|1|||85353-1^Vital signs^LN|||{stamp}",
        f"OBX|1|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC||85|%|||||F|||{stamp}",
    ]
    return encode_frame("\r".join(segments).encode() + b"\r")


def send(port: int, frame: bytes) -> str:
    """Send one frame; the ACK's MSA-1 code."""
    with socket.create_connection(("127.0.0.1", port), timeout=START_S) as conn:
        conn.sendall(frame)
        decoder = FrameDecoder()
        while True:
            data = conn.recv(65536)
            assert data, "the listener closed the connection before its ACK"
            for event in decoder.feed(data):
                if isinstance(event, Frame):
                    msa = next(s for s in event.payload.split(b"\r") if s.startswith(b"MSA"))
                    return msa.split(b"|")[1].decode()


def mia_1(html: str) -> str:
    """The MIA-1 card of a board fragment."""
    start = html.find('data-chair="MIA-1"')
    end = html.find("<article", start + 1)
    return html[start : end if end > 0 else len(html)] if start >= 0 else ""


class Board:
    """A nurse's open board stream, read in a thread: every frame, in order."""

    def __init__(self, base: str) -> None:
        self.client = httpx.Client(base_url=base, timeout=REFRESH_S * 2)
        page = self.client.get("/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf is not None
        self.client.post(
            "/login",
            data={"username": "nurse.mia", "password": PASSWORD, "csrf_token": csrf.group(1)},
        )
        self.frames: list[str] = []
        self.first = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            with self.client.stream("GET", "/board/stream") as response:
                data: list[str] = []
                for line in response.iter_lines():
                    if line.startswith("data: "):
                        data.append(line[6:])
                    elif not line and data:
                        self.frames.append("\n".join(data))
                        self.first.set()
                        data = []
        except httpx.HTTPError:
            return  # closed at the end of the test

    def shows(self, test, timeout_s: float) -> bool:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if any(test(html) for html in self.frames[1:]):
                return True
            time.sleep(0.05)
        return False


def test_a_reading_stored_by_the_listener_process_shows_on_the_web_processes_board(
    processes: tuple[str, int],
) -> None:
    base, mllp = processes
    board = Board(base)
    try:
        assert board.first.wait(START_S), "the board stream sent nothing"
        shown = "<dt>SpO2</dt><dd>85%</dd>"  # MIA-1's latest SpO2, as the card shows it
        assert mia_1(board.frames[0]), "the board has no MIA-1"
        assert shown not in mia_1(board.frames[0])  # not before the reading
        assert send(mllp, low_spo2("CROSS-1")) == "AA"
        assert board.shows(lambda html: shown in mia_1(html), SHOWN_S), (
            "the listener's reading did not reach the web process's board before its own refresh"
        )
    finally:
        board.client.close()
