"""Live updates of the chair board: "the chairs of site N changed", fanned out to every open
board stream.

In one process, whoever commits a change (a page, the API, the HL7 sink's worker thread) calls
:meth:`ChairEvents.publish`; each subscribed stream wakes on its own event loop. Several
changes before a stream wakes count once, so a burst of monitor messages costs one re-render.

Across processes (several app processes, or ``ketaclinic hl7 listen`` beside ``serve``), a
listener thread — started with the first subscriber, stopped with the last — relays other
processes' changes here:

- PostgreSQL: the repository sends ``NOTIFY ketaclinic_chair, '<site>:<process>'`` inside each
  changing transaction (delivered only if it commits); the thread LISTENs.
- SQLite: the repository raises the site's ``version`` in the ``chair_change`` table inside
  each changing transaction; the thread asks SQLite every ``WATCH_POLL_S`` whether anyone
  committed since (``PRAGMA data_version``, answered from memory) and only then reads the
  table's few rows, ringing the sites whose version moved by another process's hand.

A board stream also re-renders on its own every few seconds, which covers clocks and anything
missed while no listener ran.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine

from ketaclinic.adapters.db.repositories_chair import NOTIFY_CHANNEL, PROCESS_TOKEN

if TYPE_CHECKING:
    from ketaclinic.bootstrap import Container

log = logging.getLogger("ketaclinic.chair.events")

EXTRAS_KEY = "chair_events"
LISTEN_POLL_S = 1.0  # how often the listener thread checks whether it should stop
WATCH_POLL_S = 0.05  # SQLite: how often to ask whether another connection committed
RECONNECT_S = 2.0


class Subscription:
    """One board stream's doorbell for one site. Create through :meth:`ChairEvents.subscribe`
    on the stream's event loop."""

    def __init__(self, site_id: int, loop: asyncio.AbstractEventLoop) -> None:
        self.site_id = site_id
        self.loop = loop
        self._event = asyncio.Event()

    def ring(self) -> None:
        """Thread-safe: wake the stream (once, however often it rings before it wakes)."""
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody is listening
            self.loop.call_soon_threadsafe(self._event.set)

    async def wait(self, timeout_s: float) -> bool:
        """True when rung, False after ``timeout_s`` without a ring."""
        try:
            async with asyncio.timeout(timeout_s):
                await self._event.wait()
        except TimeoutError:
            return False
        self._event.clear()
        return True


class ChairEvents:
    """The in-process bus, with a relay of other processes' changes when ``engine`` is given
    (a database file or server other processes can share)."""

    def __init__(self, engine: Engine | None = None) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._subscriptions: set[Subscription] = set()
        self._listener: threading.Thread | None = None
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._ready.set()  # no relay yet: nothing to wait for

    def subscribe(self, site_id: int) -> Subscription:
        subscription = Subscription(site_id, asyncio.get_running_loop())
        with self._lock:
            self._subscriptions.add(subscription)
            self._start_listener()
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscriptions.discard(subscription)
            if not self._subscriptions:
                self._stop.set()

    def wait_relaying(self, timeout_s: float) -> bool:
        """Block until the relay of other processes' changes is listening (at once when it
        already is, or when there is none); False after ``timeout_s``. A board stream
        subscribes and waits for this before its first render reads the board, so every change
        committed after that read, by this process or another, rings it."""
        with self._lock:
            ready = self._ready
        return ready.wait(timeout_s)

    @property
    def subscribers(self) -> int:
        with self._lock:
            return len(self._subscriptions)

    def publish(self, site_ids: Iterable[int]) -> None:
        """Tell the streams of these sites that their chairs changed (any thread)."""
        wanted = set(site_ids)
        with self._lock:
            targets = [s for s in self._subscriptions if s.site_id in wanted]
        for subscription in targets:
            subscription.ring()

    def close(self) -> None:
        self._stop.set()
        listener = self._listener
        if listener is not None:
            listener.join(timeout=LISTEN_POLL_S * 3)

    # relay of other processes' changes -----------------------------------------------------

    def _start_listener(self) -> None:
        """Called with the lock held."""
        engine = self._engine
        if engine is None:
            return
        if self._listener is not None and self._listener.is_alive() and not self._stop.is_set():
            return  # already relaying (each subscriber after the first)
        if engine.dialect.name == "postgresql":
            conninfo = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
            target: Callable[[threading.Event, threading.Event], None] = functools.partial(
                self._listen, conninfo
            )
        elif engine.url.database not in (None, "", ":memory:"):
            target = functools.partial(self._watch, engine)
        else:
            return  # an in-memory SQLite database lives in one process
        # A stopping listener finishes on its own; a new one gets its own stop event (for a
        # moment both may relay, which only rings a stream twice).
        self._stop, self._ready = threading.Event(), threading.Event()
        self._listener = threading.Thread(
            target=target, args=(self._stop, self._ready), name="chair-listen", daemon=True
        )
        self._listener.start()

    def _watch(self, engine: Engine, stop: threading.Event, ready: threading.Event) -> None:
        """SQLite: relay the sites whose ``chair_change`` version another process raised."""
        seen: dict[int, int] | None = None  # site → version; None until the first look
        while not stop.is_set():
            try:
                # A pooled connection (WAL, busy timeout); the driver runs each statement in
                # its own short read, so the watch never holds a snapshot or a lock.
                raw = engine.raw_connection()
                try:
                    cursor = raw.cursor()
                    committed = None
                    while not stop.is_set():
                        (version,) = cursor.execute("PRAGMA data_version").fetchone()
                        if version != committed:
                            committed = version
                            rows = cursor.execute(
                                "SELECT site_id, version, process FROM chair_change"
                            ).fetchall()
                            if seen is not None:
                                self.publish(
                                    site
                                    for site, count, process in rows
                                    if seen.get(site) != count and process != PROCESS_TOKEN
                                )
                            seen = {site: count for site, count, _ in rows}
                            ready.set()
                        stop.wait(WATCH_POLL_S)
                finally:
                    raw.close()
            except (sa_exc.DBAPIError, sqlite3.Error) as error:
                log.warning("chair board watcher lost its database: %s", type(error).__name__)
                ready.set()  # nobody waits on a broken relay; the periodic refresh remains
                stop.wait(RECONNECT_S)

    def _listen(self, conninfo: str, stop: threading.Event, ready: threading.Event) -> None:
        """PostgreSQL: LISTEN and relay other processes' notifications."""
        import psycopg

        while not stop.is_set():
            try:
                with psycopg.connect(conninfo, autocommit=True) as conn:
                    conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    ready.set()
                    while not stop.is_set():
                        for note in conn.notifies(timeout=LISTEN_POLL_S):
                            site, _, token = note.payload.partition(":")
                            if token != PROCESS_TOKEN and site.isdigit():
                                self.publish([int(site)])
            except psycopg.Error as error:
                # The error text may quote connection details: log its type only.
                log.warning("chair board listener lost its connection: %s", type(error).__name__)
                ready.set()
                stop.wait(RECONNECT_S)


_CREATE_LOCK = threading.Lock()


def chair_events(container: Container) -> ChairEvents:
    """The process's bus for this container (created on first use)."""
    with _CREATE_LOCK:
        found = container.extras.get(EXTRAS_KEY)
        if isinstance(found, ChairEvents):
            return found
        bus = ChairEvents(container.engine)
        container.extras[EXTRAS_KEY] = bus
        return bus
