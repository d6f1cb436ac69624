"""The live chair board (``/board``): every chair of the active site on one screen — patient,
phase, elapsed time, latest vitals with a sparkline, open alerts with their escalation, what is
due — kept current by Server-Sent Events (``/board/stream``).

The stream renders the same fragment the page starts with: on every change published for the
site (adapters/db/events_chair.py: this process's changes and, through the database, other
processes'), coalesced over a few milliseconds, and at least every ``board_refresh_s`` seconds
(setting ``KETACLINIC_BOARD_REFRESH_S``: clocks and elapsed times). The board only reads: the
time-driven alerting (NIBP overdue, escalation and its e-mails) runs in the background sweep of
every app process (adapters/chair_sweeper.py), whether or not a board is open. A stream ends
when the client goes away (its next write fails, at most ``board_refresh_s`` later) or after
``MAX_STREAM_S``; the page's script reconnects.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from markupsafe import Markup
from starlette.background import BackgroundTask

from ketaclinic.adapters.db.events_chair import chair_events
from ketaclinic.bootstrap import Container
from ketaclinic.domain.alerts import AlertState, AlertTier, escalation_level
from ketaclinic.domain.errors import PermissionDenied
from ketaclinic.domain.people import Site
from ketaclinic.domain.session_lifecycle import SessionState
from ketaclinic.domain.vitals import VitalKind
from ketaclinic.services import chair_views
from ketaclinic.services.audit import Actor
from ketaclinic.services.chair_ports import StoredAlert
from ketaclinic.web.deps import AppContainer, PageActor, active_site
from ketaclinic.web.pages.chair_support import Fmt
from ketaclinic.web.templating import render, templates, zone

router = APIRouter()

COALESCE_S = 0.02  # gather a burst of changes into one render
RELAY_READY_S = 2.0  # at most this long for the relay of other processes' changes to listen
MAX_STREAM_S = 600.0  # then end; the browser reconnects (bounded streams, prompt shutdowns)

STATE_LABELS = {
    SessionState.CHECKED_IN: "Checked in",
    SessionState.PRE_INFUSION_CHECKS: "Pre-infusion checks",
    SessionState.RUNNING: "Infusing",
    SessionState.PAUSED: "Paused",
    SessionState.STOPPED: "Stopped early",
    SessionState.COMPLETED: "Infusion complete",
    SessionState.OBSERVATION: "Observation",
    SessionState.DISCHARGED: "Discharged",
    SessionState.CANCELLED: "Cancelled",
}
STATE_TONES = {
    SessionState.CHECKED_IN: "idle",
    SessionState.PRE_INFUSION_CHECKS: "idle",
    SessionState.RUNNING: "run",
    SessionState.PAUSED: "warn",
    SessionState.STOPPED: "after",
    SessionState.COMPLETED: "after",
    SessionState.OBSERVATION: "after",
}

# The sparkline's frame: one fixed scale for both lines, so a glance compares chairs (design).
SPARK_W, SPARK_H = 240, 48
SPARK_LOW, SPARK_HIGH = 40.0, 200.0
SPARK_LINES = ((VitalKind.BP_SYSTOLIC, "#b3261e", "2"), (VitalKind.HEART_RATE, "#11607a", "1.5"))
SPARK_MARK = 180.0  # dashed line at the infusion BP limit [unverified: Sanacora 2017, §5]


def sparkline(
    points: Mapping[VitalKind, Sequence[tuple[dt.datetime, float]]],
    now: dt.datetime,
    window: dt.timedelta = chair_views.SPARK_WINDOW,
) -> Markup:
    """Systolic BP and heart rate over the last hour as a small inline SVG. Presentation
    attributes only (the CSP forbids inline styles); values outside the frame are clamped."""
    start = now - window
    span = window.total_seconds()

    def y(value: float) -> float:
        clamped = min(max(value, SPARK_LOW), SPARK_HIGH)
        return SPARK_H - 2 - (clamped - SPARK_LOW) / (SPARK_HIGH - SPARK_LOW) * (SPARK_H - 4)

    parts = [
        f'<svg class="spark" viewBox="0 0 {SPARK_W} {SPARK_H}" width="{SPARK_W}" '
        f'height="{SPARK_H}" role="img" aria-label="Systolic BP (red) and heart rate (blue), '
        'last hour">',
        f'<line x1="0" x2="{SPARK_W}" y1="{y(SPARK_MARK):.1f}" y2="{y(SPARK_MARK):.1f}" '
        'stroke="#999999" stroke-width="1" stroke-dasharray="4 3"/>',
    ]
    for kind, colour, width in SPARK_LINES:
        series = [(t, v) for t, v in points.get(kind, ()) if t >= start]
        if not series:
            continue
        coords = " ".join(
            f"{(t - start).total_seconds() / span * SPARK_W:.1f},{y(v):.1f}" for t, v in series
        )
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="{width}" '
            f'stroke-linejoin="round" points="{coords}"/>'
        )
        last_t, last_v = series[-1]
        parts.append(
            f'<circle cx="{(last_t - start).total_seconds() / span * SPARK_W:.1f}" '
            f'cy="{y(last_v):.1f}" r="2.5" fill="{colour}"/>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - built from numbers and constants only


@dataclass(frozen=True, slots=True)
class AlertView:
    stored: StoredAlert
    level: int
    waiting_min: float

    @property
    def tone(self) -> str:
        alert = self.stored.alert
        if alert.tier is AlertTier.PLAUSIBILITY:
            return "flag"
        return "raised" if alert.state is AlertState.RAISED else "acked"


def alert_views(
    alerts: Sequence[StoredAlert], now: dt.datetime, after_min: float
) -> list[AlertView]:
    """Open alerts, clinical raised first, with their escalation as of ``now`` (never below
    the level the sweep stored and notified)."""
    views = [
        AlertView(
            a,
            max(escalation_level(a.alert, now, after_min), a.alert.escalation_level)
            if a.alert.tier is AlertTier.CLINICAL
            else 0,
            (now - a.alert.raised_at).total_seconds() / 60.0,
        )
        for a in alerts
    ]
    order = {"raised": 0, "acked": 1, "flag": 2}
    views.sort(key=lambda v: (order[v.tone], -v.stored.alert.raised_at.timestamp()))
    return views


def board_context(board: chair_views.Board) -> dict[str, object]:
    """What ``chair/_board.html`` needs."""
    after = board.escalate_after_min
    return {
        "board": board,
        "fmt": Fmt(zone(board.site.timezone), board.now),
        "sparks": {card.chair.id: sparkline(card.spark or {}, board.now) for card in board.cards},
        "alerts": {
            card.chair.id: alert_views(card.alerts, board.now, after) for card in board.cards
        },
        "notices": {card.chair.id: card.notices or {} for card in board.cards},
        "labels": STATE_LABELS,
        "tones": STATE_TONES,
        "kinds": VitalKind,
        "elapsed": chair_views.elapsed_min,
        "observed": chair_views.observation_min,
    }


def read_board(c: Container, actor: Actor, site_id: int, *, audited: bool) -> chair_views.Board:
    # Read-only: on SQLite the board does not queue for the write lock the monitor feed
    # commits under, and its audit entries go out with the group commit of other reads.
    with c.uow(readonly=True) as uow:
        return chair_views.board(
            uow,
            c.clock,
            actor,
            site_id,
            audited=audited,
            escalate_after_min=c.settings.alert_escalate_after_min,
        )


def render_fragment(c: Container, actor: Actor, site_id: int, *, audited: bool) -> str:
    board = read_board(c, actor, site_id, audited=audited)
    return templates.env.get_template("chair/_board.html").render(board_context(board))


class SharedRenders:
    """One render of a site's board serves every stream of that site that is waiting for it.

    Each open board used to render the whole board itself after every change, so five nurses
    watching one site meant five renders per monitor batch. Now a stream asks for a render that
    *began* after the moment it last went to sleep (``since``): a render already begun after
    that includes every change the stream was woken for (changes are published after their
    commit), so the stream takes that render's result, whether finished or still running.
    Otherwise it starts one. Renders run as tasks, so a stream that goes away mid-render does
    not cancel the render the others wait for.

    The fragment does not depend on who looks (every stream passed the site's access check
    with its first, audited render); it depends on the site and the time only."""

    def __init__(self) -> None:
        self._done: dict[int, tuple[float, str]] = {}
        self._running: dict[int, tuple[float, asyncio.Task[str]]] = {}
        self.renders = 0  # for tests

    async def fragment(self, c: Container, actor: Actor, site_id: int, *, since: float) -> str:
        loop = asyncio.get_running_loop()
        done = self._done.get(site_id)
        if done is not None and done[0] >= since:
            return done[1]
        running = self._running.get(site_id)
        if running is not None and running[0] >= since and running[1].get_loop() is loop:
            return await asyncio.shield(running[1])
        started = loop.time()
        task = loop.create_task(
            asyncio.to_thread(render_fragment, c, actor, site_id, audited=False)
        )
        self._running[site_id] = (started, task)
        self.renders += 1

        def finished(task: asyncio.Task[str]) -> None:
            if self._running.get(site_id, (0.0, None))[1] is task:
                del self._running[site_id]
            if task.cancelled() or task.exception() is not None:
                return
            if site_id not in self._done or self._done[site_id][0] < started:
                self._done[site_id] = (started, task.result())

        task.add_done_callback(finished)
        return await asyncio.shield(task)


RENDERS_KEY = "chair_board.shared_renders"


def shared_renders(c: Container) -> SharedRenders:
    """The process's shared board renders for this container (created on first use; streams
    run on the server's one event loop, so no lock is needed)."""
    found = c.extras.get(RENDERS_KEY)
    if isinstance(found, SharedRenders):
        return found
    renders = SharedRenders()
    c.extras[RENDERS_KEY] = renders
    return renders


def _site(request: Request) -> Site:
    site = active_site(request)
    if site is None:
        raise PermissionDenied("you are not assigned to any site")
    return site


@router.get("/board", response_class=HTMLResponse)
def board_page(request: Request, actor: PageActor, c: AppContainer) -> Response:
    site = _site(request)
    board = read_board(c, actor, site.id, audited=True)
    context = board_context(board)
    context["title"] = f"Chair board · {site.code}"
    return render(request, "chair/board.html", context)


def sse_frame(event: str, html: str) -> str:
    lines = html.replace("\r", "").split("\n")
    return f"event: {event}\n" + "".join(f"data: {line}\n" for line in lines) + "\n"


@router.get("/board/stream")
async def board_stream(
    request: Request,
    actor: PageActor,
    c: AppContainer,
    once: Annotated[bool, Query(description="send one update and end (for tests)")] = False,
) -> Response:
    site = _site(request)
    bus = chair_events(c)
    # Subscribed, and other processes' changes relayed, before the first render reads: a
    # change committed while it renders rings the stream, which then renders again at once
    # (subscribing after the render missed such a change until the board's own refresh).
    subscription = bus.subscribe(site.id)
    try:
        await asyncio.to_thread(bus.wait_relaying, RELAY_READY_S)
        # The first render happens before the response starts, so a refusal is an error status.
        first = await asyncio.to_thread(render_fragment, c, actor, site.id, audited=True)
    except BaseException:
        bus.unsubscribe(subscription)
        raise

    shared = shared_renders(c)

    async def events() -> AsyncIterator[str]:
        loop = asyncio.get_running_loop()
        try:
            yield "retry: 3000\n\n" + sse_frame("board", first)
            if once:
                return
            deadline = loop.time() + MAX_STREAM_S
            while loop.time() < deadline:
                woke = loop.time()
                if await subscription.wait(c.settings.board_refresh_s):
                    await asyncio.sleep(COALESCE_S)
                if await request.is_disconnected():
                    return
                html = await shared.fragment(c, actor, site.id, since=woke)
                yield sse_frame("board", html)
        finally:
            bus.unsubscribe(subscription)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        # Also when the client leaves before the first frame (the stream never starts, so
        # its own ``finally`` never runs): the last unsubscribe stops the relay.
        background=BackgroundTask(bus.unsubscribe, subscription),
    )
