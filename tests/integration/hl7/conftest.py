"""Loopback MLLP helpers: a listener on 127.0.0.1 with an ephemeral port, and a test client.

Every scenario runs under ``asyncio.run`` with an overall timeout, and every client read has its
own timeout, so a hang fails the test instead of stalling the suite.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from ketaclinic.adapters.hl7.framing import Frame, FrameDecoder, encode_frame
from ketaclinic.adapters.hl7.simulator import FeedConfig, feed_messages

READ_TIMEOUT_S = 5.0  # generous for a loaded CI machine; a healthy loopback ACK takes ms
SCENARIO_TIMEOUT_S = 60.0
START = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)


class Client:
    """One MLLP connection as a monitor would hold it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.decoder = FrameDecoder()
        self.acks: list[bytes] = []

    async def send(self, payload: bytes) -> None:
        self.writer.write(encode_frame(payload))
        await self.writer.drain()

    async def send_raw(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def ack(self, timeout_s: float = READ_TIMEOUT_S) -> bytes:
        """The next ACK payload; raises TimeoutError if none comes in time."""
        async with asyncio.timeout(timeout_s):
            while not self.acks:
                data = await self.reader.read(65536)
                if not data:
                    raise ConnectionError("closed by the listener")
                self.acks += [e.payload for e in self.decoder.feed(data) if isinstance(e, Frame)]
        return self.acks.pop(0)

    async def closed_by_peer(self, timeout_s: float = READ_TIMEOUT_S) -> bool:
        """True when the listener closes the connection (EOF or reset) within the timeout."""
        try:
            async with asyncio.timeout(timeout_s):
                while True:
                    if not await self.reader.read(65536):
                        return True
        except ConnectionError:
            return True

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


@pytest.fixture
def connect() -> Callable[[int], Coroutine[Any, Any, Client]]:
    async def open_client(port: int) -> Client:
        async with asyncio.timeout(READ_TIMEOUT_S):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return Client(reader, writer)

    return open_client


@pytest.fixture
def run() -> Callable[[Coroutine[Any, Any, None]], None]:
    def run_scenario(scenario: Coroutine[Any, Any, None]) -> None:
        async def bounded() -> None:
            async with asyncio.timeout(SCENARIO_TIMEOUT_S):
                await scenario

        asyncio.run(bounded())

    return run_scenario


@pytest.fixture
def messages() -> Callable[..., list[bytes]]:
    """``messages(n, mrn=..., tag=...)``: n valid ORU^R01 payloads with distinct control ids."""

    def make(n: int, *, mrn: str = "DEMO-0001", tag: int = 0) -> list[bytes]:
        config = FeedConfig(mrn=mrn, chair="MIA-1", count=n, seed=tag)
        start = START + dt.timedelta(hours=tag)  # the start time makes the control ids unique
        return [m.payload for m in feed_messages(config, start)]

    return make
