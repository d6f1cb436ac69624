"""HL7 ingestion and alerts against DESIGN.md §5, on a real ``ketaclinic serve --hl7-port``.

Set-up (in this process, before the server starts): a fresh database with the demo clinic, plus
two bench sites of 8 chairs, each chair with an infusion running (site BT for throughput, site
BEN for latency and the board) and a nurse for BEN. Then ``ketaclinic serve --hl7-port`` runs in
a subprocess on loopback. Every message is an ORU^R01 with 5 vitals (HR, SpO2, RR, systolic,
diastolic) for a patient in a running session, so each one is parsed, deduplicated, attached,
screened by both alert tiers, audited and committed before its ``AA``.

1. Sustained throughput over 8 connections: monitors that wait for each ACK (one in flight per
   connection), and monitors that pipeline (up to 8 in flight per connection).
2. ACK latency at 200 msg/s: 8 connections × 25 msg/s, paced, for 20 s.
3. Monitor → alert on the chair board: the board's SSE stream is open (a signed-in nurse of
   BEN) while 200 msg/s of normal readings flow to the 8 chairs of site BT (the server and
   database under load, the board's own site quiet), and again with them flowing to BEN's own
   8 chairs (every batch changes the board: the worst case); every 0.5 s a probe sends SpO2
   85 % for one BEN chair and the time until a board frame shows that chair's new alert is
   taken. The probe's alert is acknowledged and resolved through the API before the next.

Bounded: fixed message counts, per-phase deadlines, loopback only. PostgreSQL runs too when
KETACLINIC_TEST_POSTGRES_URL is set (a database is created and dropped for the run).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import httpx
import sqlalchemy as sa
from argon2 import PasswordHasher

from ketaclinic.adapters.db import migrate
from ketaclinic.adapters.db.engine import normalise_url
from ketaclinic.adapters.hl7.framing import Frame, FrameDecoder, encode_frame
from ketaclinic.bootstrap import build
from ketaclinic.config import Settings
from ketaclinic.domain.people import BodyMeasurement, NewPatient, Role, Sex
from ketaclinic.services import demo as demo_svc
from ketaclinic.services.audit import SYSTEM
from ketaclinic.services.auth import Passwords
from ketaclinic.services.demo_chair import Target, build_session
from ketaclinic.services.staff import add_chair, add_site, add_user

KETACLINIC = str(Path(sys.executable).with_name("ketaclinic"))
CONNECTIONS = 8
CHAIRS = 8
THROUGHPUT_MESSAGES = 12_000  # per run: 1,500 per connection
PIPELINE_WINDOW = 8
PACED_RATE = 200.0  # msg/s, as DESIGN.md §5 states the latency target
PACED_SECONDS = 20.0
PROBES = 40
PROBE_EVERY_S = 0.5
PHASE_DEADLINE_S = 180.0
PASSWORD = "bench-password-2026"
TARGETS = {"throughput": 1500.0, "ack_p99_ms": 50.0, "board_p99_ms": 250.0}


# --- set-up ---------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare(url: str, workdir: Path) -> dict[str, str]:
    """Migrate, load the demo, add the bench sites, sessions and nurse; the server's env."""
    return furnish(url, workdir, ("BT", "BEN"), load_demo=True)


def furnish(
    url: str, workdir: Path, site_codes: Sequence[str], *, load_demo: bool
) -> dict[str, str]:
    """Migrate; load the demo clinic when ``load_demo`` (else it must be there already); add a
    bench site per code with CHAIRS chairs, each with a patient ``<code>-P00n`` in a running
    infusion at chair ``<code>-n``; add nurse.ben (site BEN, PASSWORD). Returns the server's
    env (the database, a data folder in ``workdir``, the bench secret)."""
    settings = Settings(
        database_url=url,
        data_dir=workdir / "data",
        secret_key="bench-secret-" + "h" * 40,
        environment="test",
        _env_file=None,
    )
    container = build(settings, fast_password_hashing=True)
    migrate.upgrade(container.engine)
    passwords = Passwords(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    now = dt.datetime.now(dt.UTC)
    rng = random.Random(20261124)
    with container.uow() as uow:
        if load_demo:
            demo_svc.load(uow, container.clock, passwords)
        for code in site_codes:
            site = add_site(uow, code, f"Bench {code}", "America/New_York")
            for n in range(1, CHAIRS + 1):
                chair = add_chair(uow, site, f"{code}-{n}", f"Chair {n}")
                patient = uow.patients.add(
                    NewPatient(
                        site.id,
                        f"{code}-P{n:03d}",
                        "Bench",
                        f"Patient{n}",
                        dt.date(1980, 1, 1),
                        Sex.FEMALE,
                    ),
                    now,
                )
                uow.patients.add_measurement(
                    BodyMeasurement(patient.id, now - dt.timedelta(days=1), 75.0, 170.0)
                )
                user_nurse = uow.users.by_username("nurse.mia")
                user_prescriber = uow.users.by_username("prescriber.mia")
                assert user_nurse is not None
                assert user_prescriber is not None
                build_session(
                    uow,
                    patient=patient,
                    chair=chair,
                    nurse=user_nurse,
                    prescriber=user_prescriber,
                    now=now,
                    target=Target.RUNNING,
                    rng=rng,
                )
        add_user(
            uow,
            container.clock,
            SYSTEM,
            passwords,
            username="nurse.ben",
            role=Role.NURSE,
            site_codes=["BEN"],
            password=PASSWORD,
            enforce_policy=False,
        )
        uow.commit()
    container.dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KETACLINIC_")}
    env.update(
        KETACLINIC_DATABASE_URL=url,
        KETACLINIC_DATA_DIR=str(workdir / "data"),
        KETACLINIC_SECRET_KEY="bench-secret-" + "h" * 40,
        KETACLINIC_LOG_LEVEL="WARNING",
    )
    return env


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    hl7_port: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def start_server(
    env: dict[str, str], workdir: Path, *, hl7: bool = True, log_name: str = "serve.log"
) -> Server:
    """``ketaclinic serve`` on loopback, with the HL7 listener unless ``hl7`` is false (then
    ``hl7_port`` is 0); its output goes to ``workdir / log_name``."""
    port, hl7_port = _free_port(), _free_port() if hl7 else 0
    command = [KETACLINIC, "serve", "--port", str(port)]
    if hl7:
        command += ["--hl7-port", str(hl7_port)]

    def healthy(server: Server) -> bool:
        try:
            with urllib.request.urlopen(f"{server.base}/healthz", timeout=2):
                return True
        except OSError:
            return False

    return _launch(command, env, workdir, log_name, (port, hl7_port), healthy)


def start_listener(env: dict[str, str], workdir: Path, *, log_name: str = "listen.log") -> Server:
    """``ketaclinic hl7 listen`` on loopback: the monitor listener as a process of its own (no
    web app, so ``port`` is 0); its output goes to ``workdir / log_name``."""
    hl7_port = _free_port()
    command = [KETACLINIC, "hl7", "listen", "--host", "127.0.0.1", "--port", str(hl7_port)]

    def accepting(server: Server) -> bool:
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", server.hl7_port)) == 0

    return _launch(command, env, workdir, log_name, (0, hl7_port), accepting)


def _launch(
    command: list[str],
    env: dict[str, str],
    workdir: Path,
    log_name: str,
    ports: tuple[int, int],
    is_up: Callable[[Server], bool],
) -> Server:
    """Start ``command`` (output to ``workdir / log_name``) and wait until ``is_up`` says it
    serves on ``ports`` (web, HL7; 0 for none): the running Server, or RuntimeError when it
    exits or takes longer than two minutes."""
    what = " ".join(command[1:3]) if command[1] == "hl7" else command[1]
    with (workdir / log_name).open("wb") as log:
        process = subprocess.Popen(
            command, env=env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT
        )
    server = Server(process, *ports)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited; see {workdir / log_name}")
        if is_up(server):
            return server
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"{what} did not start")


# --- messages -------------------------------------------------------------------------------


def oru(control_id: str, mrn: str, chair: str, *, spo2: int = 97, rng: random.Random) -> bytes:
    """ORU^R01, IHE PCD-01 style, with 5 vitals timed now."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S+0000")
    values = (
        ("147842^MDC_ECG_HEART_RATE^MDC", 74 + rng.randint(-3, 3), "/min"),
        ("150456^MDC_PULS_OXIM_SAT_O2^MDC", spo2, "%"),
        ("151562^MDC_RESP_RATE^MDC", 14 + rng.randint(-1, 1), "/min"),
        ("150021^MDC_PRESS_BLD_NONINV_SYS^MDC", 124 + rng.randint(-4, 4), "mm[Hg]"),
        ("150022^MDC_PRESS_BLD_NONINV_DIA^MDC", 78 + rng.randint(-3, 3), "mm[Hg]"),
    )
    segments = [
        f"MSH|^~\\&|BENCH|BENCH|KETACLINIC|DEMO|{stamp}||ORU^R01^ORU_R01|{control_id}|P|2.6",
        f"PID|1||{mrn}^^^DEMO^MR",
        f"PV1|1|O|{chair}",
        f"OBR|1|||85353-1^Vital signs^LN|||{stamp}",
    ]
    for index, (code, value, unit) in enumerate(values, start=1):
        segments.append(f"OBX|{index}|NM|{code}||{value}|{unit}|||||F|||{stamp}")
    return encode_frame("\r".join(segments).encode() + b"\r")


class Link:
    """One monitor connection: send frames, read ACKs in order."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.decoder = FrameDecoder()
        self.pending: list[bytes] = []

    @classmethod
    async def open(cls, port: int) -> Link:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def ack(self) -> bytes:
        while not self.pending:
            data = await self.reader.read(65536)
            if not data:
                raise ConnectionError("listener closed the connection")
            self.pending += [e.payload for e in self.decoder.feed(data) if isinstance(e, Frame)]
        return self.pending.pop(0)

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


def _accepted(ack: bytes) -> bool:
    return b"MSA|AA|" in ack


# --- 1. sustained throughput ------------------------------------------------------------------


async def throughput(port: int, window: int, tag: str) -> tuple[float, int]:
    """Messages per second over CONNECTIONS connections with ``window`` in flight each."""
    per = THROUGHPUT_MESSAGES // CONNECTIONS
    rng = random.Random(7)
    frames = [
        [oru(f"{tag}-{c}-{n}", f"BT-P{c + 1:03d}", f"BT-{c + 1}", rng=rng) for n in range(per)]
        for c in range(CONNECTIONS)
    ]
    links = [await Link.open(port) for _ in range(CONNECTIONS)]
    refused = 0

    async def drive(link: Link, batch: list[bytes]) -> None:
        nonlocal refused
        sent = received = 0
        while received < len(batch):
            while sent < len(batch) and sent - received < window:
                link.writer.write(batch[sent])
                sent += 1
            await link.writer.drain()
            if not _accepted(await link.ack()):
                refused += 1
            received += 1

    started = time.perf_counter()
    async with asyncio.timeout(PHASE_DEADLINE_S):
        await asyncio.gather(
            *(drive(link, batch) for link, batch in zip(links, frames, strict=True))
        )
    elapsed = time.perf_counter() - started
    for link in links:
        await link.close()
    return THROUGHPUT_MESSAGES / elapsed, refused


# --- 2. paced ACK latency -----------------------------------------------------------------------


async def paced(
    port: int, tag: str, patients: list[tuple[str, str]], seconds: float, rate: float
) -> list[float]:
    """ACK latencies (ms) of messages sent at ``rate`` msg/s in total, one connection per
    patient, each message sent on schedule and waited for."""
    links = [await Link.open(port) for _ in patients]
    per_link = rate / len(patients)
    latencies: list[float] = []
    rng = random.Random(11)
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.2

    async def drive(index: int, link: Link, mrn: str, chair: str) -> None:
        count = int(seconds * per_link)
        offset = index / rate  # spread the connections over each period
        for n in range(count):
            due = start + offset + n / per_link
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            frame = oru(f"{tag}-{index}-{n}", mrn, chair, rng=rng)
            sent = time.perf_counter()
            link.writer.write(frame)
            await link.writer.drain()
            ack = await link.ack()
            if _accepted(ack):
                latencies.append((time.perf_counter() - sent) * 1000.0)

    async with asyncio.timeout(seconds + PHASE_DEADLINE_S):
        await asyncio.gather(
            *(
                drive(i, link, mrn, chair)
                for i, (link, (mrn, chair)) in enumerate(zip(links, patients, strict=True))
            )
        )
    for link in links:
        await link.close()
    return latencies


# --- 3. monitor → alert on the board's SSE stream -----------------------------------------------


def sign_in(client: httpx.Client, username: str = "nurse.ben", password: str = PASSWORD) -> None:
    """Sign ``client`` in through the login form (its cookies then hold the session)."""
    page = client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf is not None
    client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf.group(1), "next": "/"},
    )


class BoardWatcher:
    """The board's event stream, read in a thread; remembers each frame with its arrival time."""

    def __init__(self, base: str) -> None:
        self.client = httpx.Client(base_url=base, timeout=30)
        sign_in(self.client)
        self.frames: list[tuple[float, str]] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            with self.client.stream("GET", "/board/stream") as response:
                data: list[str] = []
                for line in response.iter_lines():
                    if self.stop.is_set():
                        return
                    if line.startswith("data: "):
                        data.append(line[6:])
                    elif not line and data:
                        with self.lock:
                            self.frames.append((time.perf_counter(), "\n".join(data)))
                        data = []
        except httpx.HTTPError:
            # The stream ended (the run is over, or the server went away): probes still
            # waiting are counted as missed.
            return

    def first_frame_after(
        self, since: float, test: Callable[[str], bool], timeout_s: float
    ) -> float | None:
        deadline = time.perf_counter() + timeout_s
        while time.perf_counter() < deadline:
            with self.lock:
                for at, html in self.frames:
                    if at >= since and test(html):
                        return at
            time.sleep(0.002)
        return None

    def close(self) -> None:
        self.stop.set()
        self.client.close()


def chair_card(html: str, chair: str) -> str:
    start = html.find(f'data-chair="{chair}"')
    if start < 0:
        return ""
    end = html.find("<article", start)
    return html[start : end if end > 0 else len(html)]


def _alerted(html: str, chair: str) -> bool:
    """Whether ``chair``'s card on the board frame ``html`` shows the SpO2-low alert."""
    return 'data-rule="spo2_low"' in chair_card(html, chair)


async def send_probe(port: int, control_id: str, mrn: str, chair: str, seed: int) -> None:
    """One ORU^R01 with SpO2 85 % (raises the SpO2-low alert) on its own connection, ACK read.
    Control ids must be unique per run: a repeated one is a retransmission, which the listener
    acknowledges without storing again."""
    link = await Link.open(port)
    link.writer.write(oru(control_id, mrn, chair, spo2=85, rng=random.Random(seed)))
    await link.writer.drain()
    await link.ack()
    await link.close()


def clear_alerts(api: httpx.Client, headers: dict[str, str], site: str, rule: str) -> None:
    """Acknowledge and resolve the open ``rule`` alerts of ``site`` through the API, as the
    nurse would, so the next probe on the same chair raises a new one."""
    for alert in api.get(f"/api/v1/alerts?state=open&site={site}", headers=headers).json()["items"]:
        if alert["rule"] == rule:
            api.post(
                f"/api/v1/alerts/{alert['id']}/acknowledge",
                json={"action_taken": "bench"},
                headers=headers,
            )
            api.post(f"/api/v1/alerts/{alert['id']}/resolve", json={"note": ""}, headers=headers)


def board_latency(server: Server, background_site: str) -> tuple[list[float], list[float], int]:
    """Probe latencies (ms) to BEN's board with the 200 msg/s background on the chairs of
    ``background_site``, the background's ACK latencies (ms), and the probes missed."""
    watcher = BoardWatcher(server.base)
    api = httpx.Client(base_url=server.base, timeout=30)
    token = api.post("/api/v1/auth/token", data={"username": "nurse.ben", "password": PASSWORD})
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    background = [
        (f"{background_site}-P{n:03d}", f"{background_site}-{n}") for n in range(1, CHAIRS + 1)
    ]
    probes = [(f"BEN-P{n:03d}", f"BEN-{n}") for n in range(1, CHAIRS + 1)]
    seconds = PROBES * PROBE_EVERY_S * 2 + 10
    result: dict[str, list[float]] = {}

    def run_background() -> None:
        result["ack"] = asyncio.run(
            paced(server.hl7_port, f"BG-{background_site}", background, seconds, PACED_RATE)
        )

    loader = threading.Thread(target=run_background)
    loader.start()
    time.sleep(2.0)  # let the background and the stream settle
    probe_ms: list[float] = []
    missed = 0

    for n in range(PROBES):
        mrn, chair = probes[n % CHAIRS]
        sent = time.perf_counter()
        asyncio.run(send_probe(server.hl7_port, f"PROBE-{background_site}-{n}", mrn, chair, n))
        seen = watcher.first_frame_after(sent, partial(_alerted, chair=chair), 10.0)
        if seen is None:
            missed += 1
        else:
            probe_ms.append((seen - sent) * 1000.0)
        # The nurse acknowledges and resolves it, so the next probe on this chair raises anew.
        clear_alerts(api, headers, "BEN", "spo2_low")
        time.sleep(PROBE_EVERY_S)
    loader.join(timeout=seconds + PHASE_DEADLINE_S)
    watcher.close()
    api.close()
    return probe_ms, result.get("ack", []), missed


# --- where the time goes -------------------------------------------------------------------------


WARM_BATCHES = 5  # untimed batches before each batch size in costs()


def costs(url: str) -> list[str]:
    """The same work in one process, without sockets, timed per stage: parsing (the listener's
    parse_oru), storing a batch (the database sink, all of it: attach, screen, alerts, audit,
    commit) at three batch sizes, and a bare commit (the fsync floor of one batch)."""
    from ketaclinic.adapters.db.engine import make_engine
    from ketaclinic.adapters.db.monitor_sink import DatabaseSink
    from ketaclinic.adapters.hl7.parser import parse_oru

    engine = make_engine(url)
    sink = DatabaseSink(engine)
    rng = random.Random(3)
    frames = [
        oru(f"C-{n}", f"BT-P{n % CHAIRS + 1:03d}", f"BT-{n % CHAIRS + 1}", rng=rng)
        for n in range(2000)
    ]
    payloads = [FrameDecoder().feed(f)[0] for f in frames]
    started = time.perf_counter()
    messages = [parse_oru(p.payload) for p in payloads if isinstance(p, Frame)]
    parse_us = (time.perf_counter() - started) / len(messages) * 1e6
    lines = [f"| parse one ORU^R01 (5 OBX) | {parse_us:,.0f} µs/msg |"]
    offset = 0
    for size, count in ((1, 100), (8, 40), (32, 20)):
        # A few batches first, untimed: the first statements of each shape compile and cache
        # (a running listener has long done so), which would otherwise dominate a batch of 1.
        for _ in range(WARM_BATCHES):
            sink.store(messages[offset : offset + size])
            offset += size
        batches = [messages[offset + i * size : offset + (i + 1) * size] for i in range(count)]
        offset += count * size
        started = time.perf_counter()
        for batch in batches:
            sink.store(batch)
        per_batch = (time.perf_counter() - started) / len(batches)
        lines.append(
            f"| store a batch of {size} (attach, screen, alerts, audit, commit) |"
            f" {per_batch * 1000:.1f} ms/batch = {per_batch / size * 1e6:,.0f} µs/msg |"
        )
    with engine.connect() as conn:
        started = time.perf_counter()
        for n in range(50):  # a real change each time, so each commit writes and syncs
            conn.execute(
                sa.text("UPDATE site SET name = :name WHERE code = 'BT'"), {"name": f"BT {n}"}
            )
            conn.commit()
        commit_ms = (time.perf_counter() - started) / 50 * 1000
    lines.append(f"| a bare write transaction (the commit's fsync) | {commit_ms:.1f} ms |")
    engine.dispose()
    return ["| stage | cost |", "|---|---|", *lines]


# --- the run ------------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def measure(label: str, url: str) -> list[str]:
    workdir = Path(tempfile.mkdtemp(prefix="ketaclinic-bench-hl7-"))
    load_before = os.getloadavg()[0]
    try:
        env = prepare(url, workdir)
        server = start_server(env, workdir)
        try:
            paced_ms = asyncio.run(
                paced(
                    server.hl7_port,
                    "P",
                    [(f"BT-P{n:03d}", f"BT-{n}") for n in range(1, CHAIRS + 1)],
                    PACED_SECONDS,
                    PACED_RATE,
                )
            )
            _analyse(url)
            probe_ms, background_ms, missed = board_latency(server, "BT")
            same_ms, same_background_ms, same_missed = board_latency(server, "BEN")
            one_in_flight, refused_1 = asyncio.run(throughput(server.hl7_port, 1, "T1"))
            pipelined, refused_w = asyncio.run(throughput(server.hl7_port, PIPELINE_WINDOW, "TW"))
        finally:
            server.stop()
        load_after = os.getloadavg()[0]
        breakdown = costs(url)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    def verdict(ok: bool) -> str:
        return "meets" if ok else "**misses**"

    best = max(one_in_flight, pipelined)
    target = TARGETS["throughput"]
    ack_target = TARGETS["ack_p99_ms"]
    return [
        f"### {label}",
        "",
        "| measure | result | target | |",
        "|---|---|---|---|",
        f"| sustained, 8 connections, 1 in flight each (monitor style) | {one_in_flight:,.0f}"
        f" msg/s | ≥ {target:,.0f} msg/s | {verdict(one_in_flight >= target)} |",
        f"| sustained, 8 connections, {PIPELINE_WINDOW} in flight each | {pipelined:,.0f} msg/s"
        f" | ≥ {target:,.0f} msg/s | {verdict(pipelined >= target)} |",
        f"| ACK latency at {PACED_RATE:.0f} msg/s: p50 / p99 (n = {len(paced_ms):,}) |"
        f" {pct(paced_ms, 50):.1f} / {pct(paced_ms, 99):.1f} ms | p99 ≤ {ack_target:.0f} ms"
        f" | {verdict(pct(paced_ms, 99) <= ack_target)} |",
        f"| monitor → alert on the board's SSE stream, 200 msg/s background on other chairs:"
        f" p50 / p99 / max (n = {len(probe_ms)}, missed {missed}) | {pct(probe_ms, 50):.0f} /"
        f" {pct(probe_ms, 99):.0f} / {max(probe_ms, default=float('nan')):.0f} ms |"
        f" p99 ≤ {TARGETS['board_p99_ms']:.0f} ms |"
        f" {verdict(missed == 0 and pct(probe_ms, 99) <= TARGETS['board_p99_ms'])} |",
        f"| … with the 200 msg/s background on the board's own 8 chairs (every batch re-renders"
        f" the board; worst case) (n = {len(same_ms)}, missed {same_missed}) |"
        f" {pct(same_ms, 50):.0f} / {pct(same_ms, 99):.0f} /"
        f" {max(same_ms, default=float('nan')):.0f} ms | p99 ≤ {TARGETS['board_p99_ms']:.0f} ms |"
        f" {verdict(same_missed == 0 and pct(same_ms, 99) <= TARGETS['board_p99_ms'])} |",
        f"| ACK latency of the 200 msg/s background during the board probes (other chairs /"
        f" own chairs): p50 / p99 | {pct(background_ms, 50):.1f} / {pct(background_ms, 99):.1f}"
        f" ms; {pct(same_background_ms, 50):.1f} / {pct(same_background_ms, 99):.1f} ms | — | |",
        "",
        f"Refused (not `AA`) in the throughput runs: {refused_1 + refused_w}. Best sustained rate:"
        f" {best:,.0f} msg/s. Machine load (1-min load average) {load_before:.1f} before and"
        f" {load_after:.1f} after the run, on {os.cpu_count()} cores: anything above the core"
        " count means other work competed for the CPU during the measurement.",
        "",
        "Where the time goes (the same work in one process, no sockets):",
        "",
        *breakdown,
        "",
    ]


def _analyse(url: str) -> None:
    """PostgreSQL: refresh the planner's statistics once the paced phase has filled the monitor
    tables, as autovacuum does on a live system within a minute or so (a new database's
    statistics describe empty tables). SQLite plans without statistics: nothing to do."""
    if url.startswith("sqlite"):
        return
    engine = sa.create_engine(normalise_url(url), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
    engine.dispose()


def _postgres_url() -> tuple[str, Callable[[], None]] | None:
    admin = os.environ.get("KETACLINIC_TEST_POSTGRES_URL", "")
    if not admin:
        return None
    admin = normalise_url(admin)
    name = f"ketaclinic_bench_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.engine.make_url(admin).set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        engine.dispose()

    return url, drop


def run() -> str:
    out = [
        "## HL7 ingestion and alerts",
        "",
        "A real `ketaclinic serve --hl7-port` subprocess on loopback; ORU^R01 messages with 5"
        " vitals (HR, SpO2, RR, NIBP systolic and diastolic) for patients in running infusion"
        " sessions, each parsed, deduplicated, attached, screened by both alert tiers, audited and"
        " committed before its `AA` (SQLite: WAL, synchronous=FULL). The load generator runs on"
        " the same machine and shares its cores. The probe for the board sends SpO2 85 % for one"
        " chair and waits for the board frame that shows that chair's new alert. PostgreSQL is"
        " analysed once the paced phase has filled the monitor tables, as autovacuum does on a"
        " live database within a minute or so.",
        "",
    ]
    workdir = Path(tempfile.mkdtemp(prefix="ketaclinic-bench-sqlite-"))
    try:
        out += measure("SQLite", f"sqlite:///{workdir / 'bench.sqlite3'}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    postgres = _postgres_url()
    if postgres is None:
        out.append("PostgreSQL: not run (KETACLINIC_TEST_POSTGRES_URL is not set).")
    else:
        url, drop = postgres
        try:
            out += measure("PostgreSQL", url)
        finally:
            drop()
    out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    print(run())
