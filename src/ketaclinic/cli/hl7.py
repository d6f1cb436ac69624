"""``ketaclinic monitor-feed``: play a synthetic bedside monitor against an HL7 listener.

Sends ORU^R01 messages for one patient (and chair) over MLLP with the course of a ketamine
infusion (``adapters/hl7/simulator.py``), reads every ACK and reports the counts. The listener
itself is started by ``ketaclinic serve --hl7-port N`` or ``ketaclinic hl7 listen`` (wired by
the main CLI through ``adapters.hl7.server.run_listener``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress

from ketaclinic.adapters.hl7.simulator import (
    FeedConfig,
    FeedReport,
    MonitorStyle,
    ProgressCallback,
    run_feed_blocking,
)
from ketaclinic.cli.common import JSON_OPTION, emit, handles_errors
from ketaclinic.domain.errors import InvalidInput

# A whole infusion and the start of observation when neither --count nor --minutes is given
# (design: 40-minute infusion, BP back near baseline by about an hour).
DEFAULT_MINUTES = 60.0


def register(app: typer.Typer) -> None:
    """Add ``monitor-feed`` to ``app``."""
    app.command("monitor-feed")(monitor_feed)


@handles_errors
def monitor_feed(
    port: Annotated[int, typer.Option("--port", help="Listener MLLP port.")],
    mrn: Annotated[str, typer.Option("--mrn", help="Patient MRN to send, e.g. DEMO-0001.")],
    host: Annotated[str, typer.Option("--host", help="Listener host.")] = "127.0.0.1",
    chair: Annotated[
        str | None, typer.Option("--chair", help="Chair id sent in PV1-3, e.g. MIA-1.")
    ] = None,
    count: Annotated[int | None, typer.Option("--count", help="Send this many messages.")] = None,
    minutes: Annotated[
        float | None,
        typer.Option("--minutes", help=f"Simulated minutes to send (default {DEFAULT_MINUTES:g})."),
    ] = None,
    interval_s: Annotated[
        float, typer.Option("--interval-s", help="Simulated seconds between messages.")
    ] = 5.0,
    speed: Annotated[
        float, typer.Option("--speed", help="Clock speed-up: 60 plays a minute per second.")
    ] = 1.0,
    style: Annotated[
        MonitorStyle, typer.Option("--style", help="Message style (a folder in profiles/).")
    ] = MonitorStyle.IHE_PCD01_MDC,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the random variation.")] = 1,
    as_json: bool = JSON_OPTION,
) -> None:
    """Send a synthetic monitor feed over MLLP and report the acknowledgements."""
    if not 1 <= port <= 65535:
        raise InvalidInput.for_field("port", port, "a TCP port between 1 and 65535")
    if count is not None and minutes is not None:
        raise InvalidInput.for_field("count", count, "either --count or --minutes, not both")
    config = FeedConfig(
        mrn=mrn,
        chair=chair,
        count=count,
        minutes=DEFAULT_MINUTES if count is None and minutes is None else minutes,
        interval_s=interval_s,
        speed=speed,
        style=style,
        seed=seed,
    )
    show_progress = not as_json and sys.stdout.isatty()
    report = _run(host, port, config, show_progress)
    emit(report.as_dict(), as_json=as_json, human=_human(report, host, port))
    if report.stopped_early is not None or report.sent != report.accepted:
        raise typer.Exit(1)


def _run(host: str, port: int, config: FeedConfig, show_progress: bool) -> FeedReport:
    if not show_progress:
        return run_feed_blocking(host, port, config)
    with Progress(transient=True) as progress:
        task = progress.add_task("sending", total=config.planned_messages())
        advance: ProgressCallback = lambda done, total: progress.update(task, completed=done)  # noqa: E731
        return run_feed_blocking(host, port, config, on_progress=advance)


def _human(report: FeedReport, host: str, port: int) -> Callable[[Console], None]:
    def render(console: Console) -> None:
        console.print(
            f"sent {report.sent} of {report.planned} messages to {host}:{port} "
            f"({report.simulated_minutes:g} simulated minutes)"
        )
        console.print(
            f"AA {report.accepted}  AE {report.errors}  AR {report.rejected}  "
            f"unanswered {report.unanswered}"
        )
        if report.stopped_early:
            console.print(f"stopped early: {report.stopped_early}")

    return render
