"""A lean HTTP/1.1 load client for the API benchmarks.

A general-purpose client (httpx) spends 2–4 ms of CPU per request on this machine's cores, which
the server under test shares: with 50 busy clients the load generator took more CPU than the
server and the latencies measured mostly the generator. This client sends a fixed GET on a
kept-alive connection and reads the answer by its ``Content-Length`` — tens of microseconds per
request — so the figures describe the server. It understands only what the benchmarks ask of
it: ``GET``, a ``200``-or-not status, a body with a length. Anything else (a chunked body, a
closed connection) counts as an error and the client reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from urllib.parse import urlsplit


class ResponseError(Exception):
    """The answer was not what a benchmark request expects (status, framing)."""


class KeptAliveClient:
    """One connection to ``base`` (``http://host:port``), one request at a time."""

    def __init__(self, base: str, headers: dict[str, str]) -> None:
        parts = urlsplit(base)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        fixed = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self._head_tail = f"Host: {self.host}:{self.port}\r\n{fixed}\r\n".encode()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> tuple[int, bytes]:
        """The status and body of ``GET path``."""
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        assert self._reader is not None
        try:
            self._writer.write(b"GET " + path.encode() + b" HTTP/1.1\r\n" + self._head_tail)
            head = await self._reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = _content_length(head)
            body = await self._reader.readexactly(length)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            await self.close()
            raise ResponseError("connection lost or answer unreadable") from None
        return status, body

    async def close(self) -> None:
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


def _content_length(head: bytes) -> int:
    for line in head.lower().split(b"\r\n"):
        if line.startswith(b"content-length:"):
            return int(line[15:].strip())
    raise ValueError("no Content-Length")


async def closed_loop(
    bases: list[str],
    headers: dict[str, str],
    next_path: Callable[[], str],
    *,
    clients: int,
    seconds: float,
    interval: float = 0.0,
) -> tuple[list[float], int, float]:
    """``clients`` connections, alternating between ``bases``, each sending its next request as
    soon as the last is answered — or, with ``interval`` (s), one request every ``interval``
    (sooner never; later when an answer takes longer) — for ``seconds``: latencies (ms) of
    every request, the number that failed (not 200, or no readable answer), and the elapsed
    time."""
    latencies: list[float] = []
    errors = 0
    stop_at = time.monotonic() + seconds

    async def client(n: int) -> None:
        nonlocal errors
        http = KeptAliveClient(bases[n % len(bases)], headers)
        try:
            while time.monotonic() < stop_at:
                started = time.perf_counter()
                try:
                    status, _ = await http.get(next_path())
                    ok = status == 200
                except ResponseError:
                    ok = False
                latencies.append((time.perf_counter() - started) * 1000)
                errors += 0 if ok else 1
                if interval:
                    await asyncio.sleep(max(0.0, interval - (time.perf_counter() - started)))
        finally:
            await http.close()

    async def staggered(n: int) -> None:
        await asyncio.sleep(interval * n / clients)  # paced clients do not start in step
        await client(n)

    started = time.monotonic()
    await asyncio.gather(*(staggered(n) for n in range(clients)))
    return latencies, errors, time.monotonic() - started
