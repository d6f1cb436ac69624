"""Live updates of the chair board: the in-process bus rings the right streams from any
thread, and on SQLite and PostgreSQL a change committed by another process (its chair_change
row, or a NOTIFY inside its transaction) reaches this process's streams, while uncommitted ones
and this process's own do not. Every wait is bounded; no assertion is about speed."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import pytest
import sqlalchemy as sa

from ketaclinic.adapters.db.engine import make_engine
from ketaclinic.adapters.db.events_chair import ChairEvents
from ketaclinic.adapters.db.repositories import SqlSiteRepository
from ketaclinic.adapters.db.repositories_chair import PROCESS_TOKEN, SqlChairRepository

RING_TIMEOUT_S = 10.0  # long enough for a notification on a loaded machine
QUIET_S = 1.5  # how long to listen for a ring that must not come


def run(coro_factory: Callable[[], object]) -> object:
    return asyncio.run(coro_factory())  # type: ignore[arg-type]


def test_a_change_rings_the_streams_of_its_site_only_from_any_thread() -> None:
    bus = ChairEvents()

    async def scenario() -> tuple[bool, bool, int]:
        mia, fll = bus.subscribe(1), bus.subscribe(2)
        threading.Thread(target=bus.publish, args=([1],)).start()
        rung = await mia.wait(RING_TIMEOUT_S)
        quiet = await fll.wait(QUIET_S)
        bus.unsubscribe(mia)
        bus.unsubscribe(fll)
        return rung, quiet, bus.subscribers

    assert run(scenario) == (True, False, 0)


def test_many_changes_before_a_stream_wakes_ring_it_once() -> None:
    bus = ChairEvents()

    async def scenario() -> tuple[bool, bool]:
        stream = bus.subscribe(1)
        for _ in range(50):
            bus.publish([1])
        first = await stream.wait(RING_TIMEOUT_S)
        second = await stream.wait(QUIET_S)
        bus.unsubscribe(stream)
        return first, second

    assert run(scenario) == (True, False)


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_committed_change_in_another_process_reaches_this_ones_streams(
    provision_db, kind: str
) -> None:
    # PostgreSQL: a NOTIFY inside the changing transaction. SQLite: the site's chair_change
    # version, which this process's watcher reads when SQLite says someone committed.
    url = provision_db(kind)
    here, there = make_engine(url), make_engine(url)
    with there.connect() as conn:
        site = SqlSiteRepository(conn).add("EVT", "Events", "UTC").id
        conn.commit()
    bus = ChairEvents(here)

    def notify(token: str, commit: bool) -> None:
        with there.connect() as conn:
            SqlChairRepository(conn, notify_token=token).mark_changed(site)
            if commit:
                conn.commit()
            else:
                conn.rollback()

    async def scenario() -> tuple[bool, bool, bool, bool]:
        stream = bus.subscribe(site)
        await asyncio.sleep(QUIET_S)  # let the listener thread connect and LISTEN (or look)
        await asyncio.to_thread(notify, "another-process", False)
        rolled_back = await stream.wait(QUIET_S)
        await asyncio.to_thread(notify, PROCESS_TOKEN, True)
        own = await stream.wait(QUIET_S)
        await asyncio.to_thread(notify, "another-process", True)
        committed = await stream.wait(RING_TIMEOUT_S)
        await asyncio.to_thread(notify, "another-process", True)
        again = await stream.wait(RING_TIMEOUT_S)
        bus.unsubscribe(stream)
        return rolled_back, own, committed, again

    try:
        assert run(scenario) == (False, False, True, True)
    finally:
        bus.close()
        here.dispose()
        there.dispose()


def test_an_in_memory_sqlite_database_has_no_other_process_to_watch() -> None:
    engine = sa.create_engine("sqlite://")
    bus = ChairEvents(engine)

    async def scenario() -> bool:
        stream = bus.subscribe(1)
        alive = bus._listener is not None
        bus.unsubscribe(stream)
        return alive

    try:
        assert run(scenario) is False
    finally:
        bus.close()
        engine.dispose()
