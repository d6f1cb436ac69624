"""``ketaclinic monitor-feed`` against a real listener on 127.0.0.1 (in-memory sink)."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import typer
from typer.testing import CliRunner

from ketaclinic.adapters.hl7.server import MllpListener, serve_mllp
from ketaclinic.adapters.hl7.sink import InMemorySink
from ketaclinic.cli.hl7 import register
from ketaclinic.domain.vitals import VitalKind

# Fast enough that a test never waits on the simulated clock: 5 s intervals at 10^6× speed.
FAST = ["--interval-s", "5", "--speed", "1000000"]


@dataclass
class RunningListener:
    port: int
    sink: InMemorySink


def start_listener(
    sink: InMemorySink,
) -> tuple[MllpListener, asyncio.AbstractEventLoop, threading.Thread]:
    loop = asyncio.new_event_loop()
    started: dict[str, MllpListener] = {}
    ready = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        started["listener"] = loop.run_until_complete(serve_mllp("127.0.0.1", 0, sink))
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(5), "listener did not start"
    return started["listener"], loop, thread


@pytest.fixture
def listener_with(request: pytest.FixtureRequest) -> Iterator[RunningListener]:
    sink: InMemorySink = getattr(request, "param", None) or InMemorySink()
    listener, loop, thread = start_listener(sink)
    yield RunningListener(listener.port, sink)
    asyncio.run_coroutine_threadsafe(listener.close(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.callback()
    def main() -> None:
        """ketaclinic (test app)."""

    return app


def invoke(cli: typer.Typer, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["monitor-feed", *args])
    return result.exit_code, result.stdout, result.stderr


def test_it_sends_the_feed_and_reports_every_ack_as_json(
    cli: typer.Typer, listener_with: RunningListener
) -> None:
    code, out, _ = invoke(
        cli,
        "--port",
        str(listener_with.port),
        "--mrn",
        "DEMO-0001",
        "--chair",
        "MIA-1",
        "--count",
        "8",
        *FAST,
        "--json",
    )
    assert code == 0
    report = json.loads(out)
    assert report["planned"] == report["sent"] == report["accepted"] == 8
    assert report["errors"] == report["rejected"] == report["unanswered"] == 0
    assert report["stopped_early"] is None
    stored = listener_with.sink.messages
    ids = [m.control_id for m in stored]
    assert len(ids) == 8
    assert (ids[0], ids[-1]) == (report["first_control_id"], report["last_control_id"])
    assert {(m.mrn, m.chair) for m in stored} == {("DEMO-0001", "MIA-1")}


def test_minutes_bound_the_run_and_nibp_is_included(
    cli: typer.Typer, listener_with: RunningListener
) -> None:
    code, out, _ = invoke(
        cli,
        "--port",
        str(listener_with.port),
        "--mrn",
        "DEMO-0001",
        "--minutes",
        "20",
        *FAST,
        "--style",
        "loinc_basic",
        "--json",
    )
    assert code == 0
    assert json.loads(out)["sent"] == 240  # 20 min of 5-s messages
    kinds = [o.kind for m in listener_with.sink.messages for o in m.observations]
    assert kinds.count(VitalKind.BP_SYSTOLIC) == 2  # NIBP at 0 and 10 minutes
    assert all(
        o.reading.code == "8867-4"
        for m in listener_with.sink.messages
        for o in m.observations
        if o.kind is VitalKind.HEART_RATE
    )


def test_human_output_names_the_counts(cli: typer.Typer, listener_with: RunningListener) -> None:
    code, out, _ = invoke(
        cli, "--port", str(listener_with.port), "--mrn", "DEMO-0001", "--count", "2", *FAST
    )
    assert code == 0
    assert "sent 2 of 2" in out
    assert "AA 2" in out


@pytest.mark.parametrize("listener_with", [InMemorySink(known_mrns={"DEMO-0002"})], indirect=True)
def test_refused_messages_make_the_command_fail(
    cli: typer.Typer, listener_with: RunningListener
) -> None:
    code, out, _ = invoke(
        cli,
        "--port",
        str(listener_with.port),
        "--mrn",
        "DEMO-0001",
        "--count",
        "3",
        *FAST,
        "--json",
    )
    assert code == 1
    assert json.loads(out)["errors"] == 3


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--mrn", "DEMO 0001", "--count", "1"], "mrn"),
        (["--mrn", "DEMO-0001", "--count", "1", "--minutes", "5"], "count"),
        (["--mrn", "DEMO-0001", "--count", "0"], "count"),
        (["--mrn", "DEMO-0001", "--count", "1", "--speed", "0"], "speed"),
        (["--mrn", "DEMO-0001", "--count", "1", "--interval-s", "0"], "interval_s"),
    ],
)
def test_bad_input_is_one_stderr_line_and_exit_code_2(
    cli: typer.Typer, args: list[str], field: str
) -> None:
    code, out, err = invoke(cli, "--port", "2575", *args)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith(f"error: {field}")


def test_port_out_of_range_is_bad_input(cli: typer.Typer) -> None:
    code, _, err = invoke(cli, "--port", "70000", "--mrn", "DEMO-0001", "--count", "1")
    assert code == 2
    assert err.startswith("error: port")


def test_unreachable_listener_is_a_clear_error(cli: typer.Typer) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nobody listens on it
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code, out, err = invoke(cli, "--port", str(port), "--mrn", "DEMO-0001", "--count", "1")
    assert code == 1
    assert out == ""
    assert err.startswith(f"error: could not connect to 127.0.0.1:{port}")
