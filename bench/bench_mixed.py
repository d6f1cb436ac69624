"""The patient chart, the chair board and the HL7 port under load together (issue 8, DESIGN.md §5).

Set-up: the clinic of bench_api (the demo clinic, 10,000 patients, BENCH_API_VITALS readings; a
copy of bench_api's seeded database when it ran first in this process, :func:`seeded_copy`), plus
a bench site BEN of 8 chairs, each with a patient in a running infusion, and its nurse
(bench_hl7's :func:`furnish`). Then real ``ketaclinic serve`` processes on loopback: on SQLite
one (web app and HL7 listener in one process), and again with ``ketaclinic hl7 listen`` in a
process of its own beside a web-only ``serve`` (the boards see monitor data through the
``chair_change`` counter); two on PostgreSQL behind one database, the first with the HL7
listener (``serve --hl7-port``), the second web only, so the boards open on the second see
monitor data through LISTEN/NOTIFY.

For BENCH_MIXED_SECONDS, all at once:

- chart clients: BENCH_MIXED_CLIENTS concurrent readers of random charts of site MIA
  (``GET /api/v1/patients/{id}``, bench_api's client), alternating between the app processes;
- board pollers: BENCH_MIXED_POLLERS clients signed in as BEN's nurse, each loading the board
  page (``GET /board``, the full HTML page; there is no board JSON) every BENCH_MIXED_POLL_S;
- open boards: BENCH_MIXED_STREAMS nurses with the board's event stream open (``/board/stream``,
  bench_hl7's BoardWatcher), alternating between the app processes;
- monitors: BENCH_MIXED_HL7_RATE msg/s of ORU^R01 (5 vitals, normal values) over 8 connections,
  one per chair of BEN, paced, each waiting for its ACK (bench_hl7's ``paced``): the board's own
  chairs, so every batch changes the board that is open;
- a probe every 0.5 s: SpO2 85 % for one BEN chair on a connection of its own, timed until each
  open board shows that chair's new alert; the alert is then acknowledged and resolved through
  the API, as the nurse would.

The chart clients, the pollers and the monitors each run in a process of their own (started
before the clock starts and released together), so one workload's Python does not stall
another's timing; the open boards and the probe run in this process. Everything shares the
machine's cores with the servers, as a load generator on loopback does.

Bounded: the run lasts BENCH_MIXED_SECONDS (default 20); a probe waits at most 10 s; every phase
has a deadline. Sign-ins stay under the per-process login throttle (20 a minute per address):
each open board signs in once, the pollers share one session per app process.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import queue
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.bench_api import (
    PACED_INTERVAL_S,
    PATIENTS,
    VITALS,
    _load,
    chart_ids,
    director_token,
    seeded_copy,
)
from bench.bench_hl7 import (
    CHAIRS,
    PASSWORD,
    PHASE_DEADLINE_S,
    PROBE_EVERY_S,
    BoardWatcher,
    Server,
    chair_card,
    clear_alerts,
    furnish,
    paced,
    pct,
    send_probe,
    sign_in,
    start_listener,
    start_server,
)

SECONDS = float(os.environ.get("BENCH_MIXED_SECONDS", "20"))
CLIENTS = int(os.environ.get("BENCH_MIXED_CLIENTS", "50"))
POLLERS = int(os.environ.get("BENCH_MIXED_POLLERS", "8"))
POLL_S = float(os.environ.get("BENCH_MIXED_POLL_S", "0.5"))
STREAMS = int(os.environ.get("BENCH_MIXED_STREAMS", "4"))
HL7_RATE = float(os.environ.get("BENCH_MIXED_HL7_RATE", "200"))
PROBE_TIMEOUT_S = 10.0
READY_TIMEOUT_S = 120.0  # worker processes importing, boards opening
SITE = "BEN"
TARGETS = {"chart_p99_ms": 100.0, "ack_p99_ms": 50.0, "board_p99_ms": 250.0}
# The chart clients' pace in each pass: as soon as answered (0), then bench_api's paced clients.
PACES = (0.0, PACED_INTERVAL_S)


@dataclass
class Outcome:
    """What one workload measured: latencies (ms) of what succeeded, the failures, the time."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    elapsed: float = 0.0
    failure: str = ""  # the workload itself broke off (an exception), said in the report


# --- the workloads run in processes of their own ---------------------------------------------


def _chart(
    bases: list[str], token: str, ids: list[int], clients: int, seconds: float, interval: float
) -> Outcome:
    latencies, errors, elapsed = asyncio.run(
        _load(bases, token, ids, clients=clients, seconds=seconds, interval=interval)
    )
    return Outcome(latencies, errors, elapsed)


def _monitors(port: int, seconds: float, rate: float) -> Outcome:
    patients = [(f"{SITE}-P{n:03d}", f"{SITE}-{n}") for n in range(1, CHAIRS + 1)]
    started = time.perf_counter()
    latencies = asyncio.run(paced(port, "MX-BG", patients, seconds, rate))
    sent = len(patients) * int(seconds * rate / len(patients))
    return Outcome(latencies, sent - len(latencies), time.perf_counter() - started)


def _pollers(bases: list[str], pollers: int, seconds: float, every_s: float) -> Outcome:
    """``pollers`` threads, each loading the board page every ``every_s``; one signed-in
    session per app process, shared by its pollers."""
    sessions = []
    for base in bases:
        client = httpx.Client(base_url=base, timeout=10)
        sign_in(client)
        sessions.append(client)
    outcome = Outcome()
    lock = threading.Lock()
    started = time.perf_counter()
    stop_at = started + seconds

    def poll(k: int) -> None:
        session = sessions[k % len(sessions)]
        with httpx.Client(base_url=session.base_url, cookies=session.cookies, timeout=10) as http:
            due = started + every_s * k / max(pollers, 1)  # spread the pollers over a period
            while due < stop_at:
                delay = due - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                sent = time.perf_counter()
                try:
                    response = http.get("/board")
                    ok = response.status_code == 200 and f'data-chair="{SITE}-1"' in response.text
                except httpx.HTTPError:
                    ok = False
                took = (time.perf_counter() - sent) * 1000.0
                with lock:
                    if ok:
                        outcome.latencies.append(took)
                    else:
                        outcome.errors += 1
                due += every_s

    threads = [threading.Thread(target=poll, args=(k,)) for k in range(pollers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    outcome.elapsed = time.perf_counter() - started
    for client in sessions:
        client.close()
    return outcome


WORKLOADS: dict[str, Callable[..., Outcome]] = {
    "chart": _chart,
    "monitors": _monitors,
    "pollers": _pollers,
}


def _worker(name: str, args: dict[str, Any], ready: Any, go: Any, results: Any) -> None:
    """A child process: say it is ready (its imports done), wait for the start, run, report."""
    ready.put(name)
    if not go.wait(READY_TIMEOUT_S):
        results.put((name, Outcome(failure="never released")))
        return
    try:
        results.put((name, WORKLOADS[name](**args)))
    except Exception as error:
        results.put((name, Outcome(failure=f"{type(error).__name__}: {error}")))


# --- the probe: monitor → alert on every open board --------------------------------------------


@dataclass
class Probes:
    sent: int = 0
    seen: list[tuple[int, float]] = field(default_factory=list)  # (board index, ms)
    missed: int = 0


def _shows_alert(chair: str) -> Callable[[str], bool]:
    return lambda html: 'data-rule="spo2_low"' in chair_card(html, chair)


def _probe(web: Server, hl7_port: int, boards: list[BoardWatcher], until: float) -> Probes:
    api = httpx.Client(base_url=web.base, timeout=30)
    token = api.post("/api/v1/auth/token", data={"username": "nurse.ben", "password": PASSWORD})
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    result = Probes()
    n = 0
    while time.perf_counter() < until:
        chair_no = n % CHAIRS + 1
        mrn, chair = f"{SITE}-P{chair_no:03d}", f"{SITE}-{chair_no}"
        sent = time.perf_counter()
        asyncio.run(send_probe(hl7_port, f"MX-PROBE-{n}", mrn, chair, n))
        result.sent += 1
        for index, board in enumerate(boards):  # one deadline for all boards: bounded
            wait_s = max(0.0, sent + PROBE_TIMEOUT_S - time.perf_counter())
            seen = board.first_frame_after(sent, _shows_alert(chair), wait_s)
            if seen is None:
                result.missed += 1
            else:
                result.seen.append((index, (seen - sent) * 1000.0))
        clear_alerts(api, headers, SITE, "spo2_low")
        n += 1
        time.sleep(PROBE_EVERY_S)
    api.close()
    return result


# --- one engine ---------------------------------------------------------------------------------


def _log_problems(workdir: Path) -> tuple[int, int]:
    """Warnings and errors the servers logged (JSON lines)."""
    warnings = errors = 0
    for log in workdir.glob("serve-*.log"):
        for line in log.read_text(errors="replace").splitlines():
            warnings += '"level": "WARNING"' in line
            errors += '"level": "ERROR"' in line or line.startswith("Traceback")
    return warnings, errors


def _row(
    what: str, load: str, outcome: Outcome, target: float | None, *, per_s: bool = True
) -> str:
    values = outcome.latencies
    rate = f"{len(values) / outcome.elapsed:,.0f}" if per_s and outcome.elapsed else "—"
    p50, p95, p99 = (pct(values, q) for q in (50, 95, 99))
    if outcome.failure:
        verdict = f"**broke off**: {outcome.failure}"
    elif target is None:
        verdict = "no target"
    else:
        ok = outcome.errors == 0 and p99 <= target
        verdict = f"{'meets' if ok else '**misses**'} p99 ≤ {target:.0f} ms"
    return (
        f"| {what} | {load} | {len(values):,} | {rate} | {p50:.1f} | {p95:.1f} |"
        f" {p99:.1f} | {outcome.errors} | {verdict} |"
    )


def measure(
    label: str, url: str, processes: int, chart_every: float = 0.0, *, own_listener: bool = False
) -> list[str]:
    """The mixed run against ``processes`` app processes on the seeded database ``url``, the
    chart clients asking as soon as answered or, with ``chart_every`` (s), one chart each that
    often: the report's subsection for this engine and pace. The first app process runs the
    HL7 listener, or with ``own_listener`` a ``ketaclinic hl7 listen`` process beside them."""
    workdir = Path(tempfile.mkdtemp(prefix="ketaclinic-bench-mixed-"))
    servers: list[Server] = []
    boards: list[BoardWatcher] = []
    children: list[Any] = []
    released = False  # the workload processes were told to start
    try:
        env = furnish(url, workdir, (SITE,), load_demo=False)
        for i in range(processes):
            in_app = i == 0 and not own_listener
            servers.append(start_server(env, workdir, hl7=in_app, log_name=f"serve-{i + 1}.log"))
        bases = [server.base for server in servers]
        listener = start_listener(env, workdir) if own_listener else servers[0]
        if own_listener:
            servers.append(listener)  # stopped with the others
        token, ids = director_token(bases[0]), chart_ids(url)
        boards = [BoardWatcher(bases[i % len(bases)]) for i in range(STREAMS)]
        for board in boards:  # open and showing the board before the clock starts
            if board.first_frame_after(0.0, lambda html: True, READY_TIMEOUT_S) is None:
                raise RuntimeError("a board stream did not open")

        context = mp.get_context("spawn")
        ready, results, go = context.Queue(), context.Queue(), context.Event()
        jobs: dict[str, dict[str, Any]] = {
            "chart": {
                "bases": bases,
                "token": token,
                "ids": ids,
                "clients": CLIENTS,
                "seconds": SECONDS,
                "interval": chart_every,
            },
            "monitors": {"port": listener.hl7_port, "seconds": SECONDS, "rate": HL7_RATE},
            "pollers": {"bases": bases, "pollers": POLLERS, "seconds": SECONDS, "every_s": POLL_S},
        }
        for name, args in jobs.items():
            child = context.Process(target=_worker, args=(name, args, ready, go, results))
            child.start()
            children.append(child)
        for _ in jobs:
            ready.get(timeout=READY_TIMEOUT_S)

        load_before = os.getloadavg()[0]
        go.set()
        released = True
        started = time.perf_counter()
        probes = _probe(servers[0], listener.hl7_port, boards, until=started + SECONDS)
        outcomes: dict[str, Outcome] = {}
        for _ in jobs:
            try:
                name, outcome = results.get(timeout=SECONDS + PHASE_DEADLINE_S)
            except queue.Empty:
                break
            outcomes[name] = outcome
        load_after = os.getloadavg()[0]
        frames = [
            sum(started <= at <= started + SECONDS for at, _ in board.frames) for board in boards
        ]
        lost = sum(not board.thread.is_alive() for board in boards)
    finally:
        for board in boards:
            board.close()
        for child in children:  # unreleased ones are only waiting: end them at once
            child.join(timeout=30 if released else 0)
            if child.is_alive():
                child.kill()
        for server in servers:
            server.stop()
        warnings, errors = _log_problems(workdir)
        shutil.rmtree(workdir, ignore_errors=True)

    missing = Outcome(failure="no result")
    chart = outcomes.get("chart", missing)
    polls = outcomes.get("pollers", missing)
    acks = outcomes.get("monitors", missing)
    alert = Outcome([ms for _, ms in probes.seen], probes.missed, SECONDS)
    streams = len(boards)
    spread = "alternating between the 2 processes" if processes > 1 else "one process"
    pace = f"each one chart every {chart_every:g} s" if chart_every else "as soon as answered"
    layout = f"{processes} app process{'es' if processes > 1 else ''}"
    if own_listener:
        layout += " and `hl7 listen` in a process of its own"
    lines = [
        f"### {label}, {layout}, chart clients {pace}",
        "",
        "| workload | load | count | per s | p50 ms | p95 ms | p99 ms | errors | target |",
        "|---|---|---|---|---|---|---|---|---|",
        _row(
            "patient chart JSON, `GET /api/v1/patients/{id}`",
            f"{CLIENTS} clients, {pace}, {spread}",
            chart,
            TARGETS["chart_p99_ms"],
        ),
        _row(
            "chair board page, `GET /board` (8 chairs)",
            f"{POLLERS} pollers, each every {POLL_S:g} s",
            polls,
            None,
        ),
        _row(
            "HL7 ORU^R01 (5 vitals) → `AA`, durable before the ACK",
            f"{HL7_RATE:.0f} msg/s over {CHAIRS} connections, the board's own chairs",
            acks,
            TARGETS["ack_p99_ms"],
        ),
        _row(
            "monitor → alert on the open boards (SpO2 85 % probe → the board frame showing it)",
            f"{probes.sent} probes × {streams} open boards",
            alert,
            TARGETS["board_p99_ms"],
            per_s=False,
        ),
        "",
        f"Open boards (`/board/stream`): {streams}, {spread}; frames received during the run:"
        f" {', '.join(f'{f:,}' for f in frames)} ({sum(frames) / max(streams, 1) / SECONDS:.1f}"
        f" per board per second); streams lost before the end: {lost}. A probe's *errors* are"
        f" (probe, board) pairs in which the alert did not show within {PROBE_TIMEOUT_S:.0f} s;"
        " an ACK's are messages not accepted (`AA`); a request's are non-200 answers or"
        " transport failures. *Per s* is what was achieved: each monitor waits for its ACK"
        " before the next message, so when ACKs are slow the monitors fall behind the offered"
        " rate (and finish after the others).",
    ]
    if processes > 1:
        by_process = [
            [ms for index, ms in probes.seen if index % processes == p] for p in range(processes)
        ]
        lines += [
            "",
            f"Monitor → alert by where the board is open: on the listener's process p50 / p99"
            f" {pct(by_process[0], 50):.0f} / {pct(by_process[0], 99):.0f} ms (n ="
            f" {len(by_process[0])}); on the other process, told through LISTEN/NOTIFY,"
            f" {pct(by_process[1], 50):.0f} / {pct(by_process[1], 99):.0f} ms (n ="
            f" {len(by_process[1])}).",
        ]
    lines += [
        "",
        f"Server logs: {warnings} warnings, {errors} errors. Machine load (1-min load average)"
        f" {load_before:.1f} before and {load_after:.1f} after the run, on {os.cpu_count()}"
        " cores: above the core count, the workloads, the servers and other work queued for the"
        " CPU.",
        "",
    ]
    return lines


def run() -> str:
    out = [
        "## Mixed load: chart, board and HL7 together",
        "",
        f"Everything at once for {SECONDS:.0f} s against real `ketaclinic serve` processes on"
        f" loopback: {CLIENTS} clients reading patient charts, {POLLERS} clients loading the chair"
        f" board page, {STREAMS} nurses with the board's live stream open, and bedside monitors"
        f" sending {HL7_RATE:.0f} ORU^R01 messages a second over {CHAIRS} connections to the 8"
        " chairs on that board, while a probe every 0.5 s sends SpO2 85 % for one chair and times"
        " the alert's arrival on every open board. The clinic: bench_api's"
        f" {PATIENTS:,} patients and {VITALS:,} vital readings (a copy of its seeded database),"
        f" plus a site of {CHAIRS} chairs with infusions running. SQLite, twice: one process"
        " serving the web app and the HL7 listener; then the web app and `ketaclinic hl7 listen`"
        " each in a process of their own (the boards learn of the listener's batches through the"
        " database's `chair_change` counter)."
        " PostgreSQL: two app processes on one database, the first also the HL7 listener; chart"
        " clients, pollers and boards alternate between them. The load generator (its own"
        " processes for the charts, the pollers and the monitors) shares the machine's cores with"
        " the servers. The targets are DESIGN.md §5's, which each state one workload alone; here"
        " they hold with the others running. The board page has no target of its own. Each engine"
        " runs twice: with the chart clients asking as soon as answered (the machine saturated:"
        " the worst case), and with each client reading one chart every"
        f" {PACED_INTERVAL_S:g} s ({CLIENTS / PACED_INTERVAL_S:.0f} charts a second in all, a very"
        " busy clinic's staff), as bench_api's paced row.",
        "",
    ]
    work = Path(tempfile.mkdtemp(prefix="ketaclinic-bench-mixed-db-"))
    try:
        # (engine, label, app processes, the HL7 listener in a process of its own)
        layouts = [("sqlite", "SQLite", 1, False), ("sqlite", "SQLite", 1, True)]
        if os.environ.get("KETACLINIC_TEST_POSTGRES_URL", ""):
            layouts.append(("postgresql", "PostgreSQL", 2, False))
        for engine, label, processes, own_listener in layouts:
            for every in PACES:  # each pass on a fresh copy of the seeded clinic
                url, remove = seeded_copy(engine, work)
                try:
                    out += measure(label, url, processes, every, own_listener=own_listener)
                finally:
                    remove()
        if all(engine == "sqlite" for engine, *_ in layouts):
            out += ["PostgreSQL: not run (KETACLINIC_TEST_POSTGRES_URL is not set).", ""]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return "\n".join(out)


if __name__ == "__main__":
    print(run())
