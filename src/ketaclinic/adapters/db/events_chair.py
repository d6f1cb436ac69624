"""Live updates of the chair board: "the chairs of site N changed", fanned out to every open
board stream.

In one process, whoever commits a change (a page, the API, the HL7 sink's worker thread) calls
:meth:`ChairEvents.publish`; each subscribed stream wakes on its own event loop. Several
changes before a stream wakes count once, so a burst of monitor messages costs one re-render.

Across processes (several app processes, or ``ketaclinic hl7 listen`` beside ``serve``) on
PostgreSQL, the repository sends ``NOTIFY ketaclinic_chair, '<site>:<process>'`` inside each
changing transaction (delivered only if it commits), and a listener thread — started with the
first subscriber, stopped with the last — relays other processes' notifications here. On SQLite
there is one writer process in practice; a board stream also re-renders on its own every few
seconds, which covers the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine

from ketaclinic.adapters.db.repositories_chair import NOTIFY_CHANNEL, PROCESS_TOKEN

if TYPE_CHECKING:
    from ketaclinic.bootstrap import Container

log = logging.getLogger("ketaclinic.chair.events")

EXTRAS_KEY = "chair_events"
LISTEN_POLL_S = 1.0  # how often the listener thread checks whether it should stop
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
    """The in-process bus, with a PostgreSQL LISTEN relay when ``engine`` is PostgreSQL."""

    def __init__(self, engine: Engine | None = None) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._subscriptions: set[Subscription] = set()
        self._listener: threading.Thread | None = None
        self._stop = threading.Event()

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

    # PostgreSQL relay ----------------------------------------------------------------------

    def _start_listener(self) -> None:
        """Called with the lock held."""
        engine = self._engine
        if engine is None or engine.dialect.name != "postgresql":
            return
        if self._listener is not None and self._listener.is_alive() and not self._stop.is_set():
            return
        # A stopping listener finishes on its own; a new one gets its own stop event (for a
        # moment both may relay, which only rings a stream twice).
        self._stop = threading.Event()
        conninfo = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._listener = threading.Thread(
            target=self._listen, args=(conninfo, self._stop), name="chair-listen", daemon=True
        )
        self._listener.start()

    def _listen(self, conninfo: str, stop: threading.Event) -> None:
        import psycopg

        while not stop.is_set():
            try:
                with psycopg.connect(conninfo, autocommit=True) as conn:
                    conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    while not stop.is_set():
                        for note in conn.notifies(timeout=LISTEN_POLL_S):
                            site, _, token = note.payload.partition(":")
                            if token != PROCESS_TOKEN and site.isdigit():
                                self.publish([int(site)])
            except psycopg.Error as error:
                # The error text may quote connection details: log its type only.
                log.warning("chair board listener lost its connection: %s", type(error).__name__)
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
