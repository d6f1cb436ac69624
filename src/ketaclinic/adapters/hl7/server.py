"""The MLLP listener: bedside monitors connect, send ORU^R01 messages, get ACKs (DESIGN.md §4.4).

Flow per connection: bytes → :class:`FrameDecoder` → :func:`parse_oru` → the group committer →
the sink (in a worker thread) → the ACK, written back in the order the messages arrived.

Group commit: parsed messages from every connection go to one queue. The committer takes the
first, waits up to ``linger_s`` for more (or until ``max_batch_messages`` are there), and hands
the batch to ``sink.store`` in a worker thread (``asyncio.to_thread``); one batch is in flight
at a time and the next one collects meanwhile, so under load batches grow by themselves. A
message's ACK is written only after ``store`` returned for its batch: ``AA`` means durable.

Robustness: a frame that is not a message gets ``AR``; bytes outside frames are discarded (too
many of them in a row close the connection); a frame larger than ``max_frame_bytes`` gets ``AR``
and is skipped without being buffered; a frame not finished within ``frame_timeout_s``, or a
connection silent for ``idle_timeout_s``, is closed. None of this touches other connections, and
no input makes the listener stop: a failing sink turns into ``AE`` for its batch.

Logs carry connection numbers, HL7 control ids, error locations and counts; never raw HL7,
MRNs or names (STYLE.md §14).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import logging
import secrets
import signal
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields

from ketaclinic.adapters.hl7.ack import AckSender, accept, refuse
from ketaclinic.adapters.hl7.framing import (
    DEFAULT_MAX_FRAME_BYTES,
    Frame,
    FrameDecoder,
    FrameTooLarge,
    encode_frame,
)
from ketaclinic.adapters.hl7.parser import MonitorMessage, parse_oru
from ketaclinic.adapters.hl7.rejection import Hl7ErrorCode, MessageRejected
from ketaclinic.adapters.hl7.segments import MessageHeader, read_header
from ketaclinic.adapters.hl7.sink import ObservationSink, StoreOutcome, StoreStatus
from ketaclinic.domain.errors import InvalidInput, KetaclinicError

logger = logging.getLogger("ketaclinic.hl7")

_READ_CHUNK = 65536

Clock = Callable[[], dt.datetime]


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class ListenerConfig:
    """Bounds of the listener. Times in seconds; every default is a design choice.

    - ``max_batch_messages`` / ``linger_s``: group commit size and how long the first message of
      a batch waits for company (≤ 256 messages or ≤ 2 ms).
    - ``frame_timeout_s``: a started frame must end within this time.
    - ``idle_timeout_s``: a connection with no bytes at all for this long is closed (monitors
      reconnect; a dead peer must not hold a slot forever).
    - ``max_in_flight_per_connection``: messages read but not yet acknowledged on one
      connection; reading pauses beyond it (back-pressure on a sender that does not wait).
    - ``shutdown_grace_s``: how long :meth:`MllpListener.close` waits for pending ACKs.
    - ``local_tz``: zone of HL7 times sent without an offset.
    """

    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES
    max_batch_messages: int = 256
    linger_s: float = 0.002
    frame_timeout_s: float = 10.0
    idle_timeout_s: float = 600.0
    max_connections: int = 256
    max_in_flight_per_connection: int = 64
    shutdown_grace_s: float = 5.0
    sender: AckSender = field(default_factory=AckSender)
    local_tz: dt.tzinfo = dt.UTC

    def __post_init__(self) -> None:
        for name in (
            "max_frame_bytes",
            "max_batch_messages",
            "max_connections",
            "max_in_flight_per_connection",
        ):
            if getattr(self, name) < 1:
                raise InvalidInput.for_field(name, getattr(self, name), "at least 1")
        for name in ("frame_timeout_s", "idle_timeout_s", "shutdown_grace_s"):
            if not getattr(self, name) > 0:
                raise InvalidInput.for_field(name, getattr(self, name), "more than 0 seconds")
        if not 0 <= self.linger_s <= 1:
            raise InvalidInput.for_field("linger_s", self.linger_s, "between 0 and 1 second")


@dataclass(slots=True)
class ListenerStats:
    """Counters since start (a snapshot when returned by :meth:`MllpListener.stats`)."""

    connections_open: int = 0
    connections_total: int = 0
    connections_refused: int = 0
    frames: int = 0
    stored: int = 0
    duplicates: int = 0
    refused: int = 0  # AR or AE, for any reason
    oversized_frames: int = 0
    timeouts: int = 0
    batches: int = 0
    sink_failures: int = 0


@dataclass(slots=True)
class _Pending:
    connection: int
    message: MonitorMessage
    outcome: asyncio.Future[StoreOutcome]


_AckItem = bytes | _Pending | None  # ready ACK, ACK after the store, end of connection


class _GroupCommitter:
    """Collects messages from every connection and stores them in batches, one at a time.

    A batch closes when it holds ``max_batch_messages``, when ``linger_s`` has passed since the
    committer started collecting it, or as soon as every open connection has a message in it:
    monitors wait for their ACK before sending again, so then nothing more can arrive, and
    waiting out the linger would only add latency.
    """

    def __init__(self, sink: ObservationSink, config: ListenerConfig, stats: ListenerStats):
        self._sink = sink
        self._max = config.max_batch_messages
        self._linger = config.linger_s
        self._stats = stats
        self._pending: deque[_Pending] = deque()
        self._waiting: set[int] = set()  # connections with a message in ``_pending``
        self._changed = asyncio.Event()

    def submit(self, connection: int, message: MonitorMessage) -> _Pending:
        item = _Pending(connection, message, asyncio.get_running_loop().create_future())
        self._pending.append(item)
        self._waiting.add(connection)
        self._changed.set()
        return item

    def poke(self) -> None:
        """Re-check the batch (a connection closed, so fewer senders can still add to it)."""
        self._changed.set()

    def _batch_complete(self) -> bool:
        return len(self._pending) >= self._max or len(self._waiting) >= max(
            1, self._stats.connections_open
        )

    async def run(self) -> None:
        try:
            while True:
                while not self._pending:
                    self._changed.clear()
                    await self._changed.wait()
                if self._linger > 0:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self._linger):
                            while not self._batch_complete():
                                self._changed.clear()
                                await self._changed.wait()
                size = min(self._max, len(self._pending))
                batch = [self._pending.popleft() for _ in range(size)]
                self._waiting = {item.connection for item in self._pending}
                outcomes = await self._store([item.message for item in batch])
                for item, outcome in zip(batch, outcomes, strict=True):
                    if not item.outcome.done():
                        item.outcome.set_result(outcome)
        finally:
            for item in self._pending:
                item.outcome.cancel()

    async def _store(self, messages: Sequence[MonitorMessage]) -> list[StoreOutcome]:
        self._stats.batches += 1
        try:
            outcomes = await asyncio.to_thread(self._sink.store, messages)
            if len(outcomes) != len(messages):
                raise KetaclinicError(f"sink answered {len(outcomes)} of {len(messages)}")
        except Exception as error:  # any sink failure: AE for the batch, the listener lives on
            self._stats.sink_failures += 1
            # The exception's text may quote stored data (SQL parameters): log its type only.
            logger.error(
                "hl7 sink failed on a batch of %d messages: %s", len(messages), type(error).__name__
            )
            failure = KetaclinicError("observations could not be stored; send the message again")
            return [StoreOutcome.rejected(failure)] * len(messages)
        logger.debug(
            "hl7 batch of %d: %d stored, %d duplicate",
            len(messages),
            sum(o.status is StoreStatus.STORED for o in outcomes),
            sum(o.status is StoreStatus.DUPLICATE for o in outcomes),
        )
        return outcomes


def _log_unexpected(conn: int, task: asyncio.Task[None]) -> None:
    """Retrieve and log (type only) an exception a connection task died of: a bug, not input."""
    if task.done() and not task.cancelled() and (error := task.exception()) is not None:
        logger.error("hl7 connection %d failed: %s", conn, type(error).__name__)


async def _close_writer(writer: asyncio.StreamWriter) -> None:
    """Close a connection; a peer that does not take the last bytes is cut off after 1 s."""
    writer.close()
    try:
        async with asyncio.timeout(1.0):
            await writer.wait_closed()
    except (OSError, TimeoutError):
        writer.transport.abort()


def _log_id(control_id: str) -> str:
    """A control id as it may appear in a log line: short, printable, quoted."""
    return ascii(control_id[:64])


class MllpListener:
    """An MLLP server feeding one sink. Build it with :func:`serve_mllp`."""

    def __init__(
        self, sink: ObservationSink, config: ListenerConfig, clock: Clock = _utc_now
    ) -> None:
        self._sink = sink
        self._config = config
        self._clock = clock
        self._stats = ListenerStats()
        self._committer = _GroupCommitter(sink, config, self._stats)
        self._committer_task: asyncio.Task[None] | None = None
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self._readers: set[asyncio.Task[None]] = set()
        self._connection_ids = itertools.count(1)
        # ACK control ids: a random prefix per listener keeps them unique across restarts.
        self._ack_prefix = secrets.token_hex(4).upper()
        self._ack_ids = itertools.count(1)
        self._closing = False
        self._closed = asyncio.Event()

    async def start(self, host: str, port: int) -> None:
        """Bind and start accepting. ``port`` 0 picks a free port (see :attr:`port`)."""
        self._committer_task = asyncio.create_task(self._committer.run())
        self._server = await asyncio.start_server(self._on_connect, host, port)
        logger.info("hl7 listener on port %d", self.port)

    @property
    def port(self) -> int:
        """The bound TCP port."""
        if self._server is None or not self._server.sockets:
            raise KetaclinicError("the HL7 listener is not started")
        return int(self._server.sockets[0].getsockname()[1])

    def stats(self) -> ListenerStats:
        return ListenerStats(**{f.name: getattr(self._stats, f.name) for f in fields(self._stats)})

    async def serve_forever(self) -> None:
        """Wait until :meth:`close` has finished."""
        await self._closed.wait()

    async def close(self) -> None:
        """Graceful shutdown: stop accepting and reading, write the ACKs still owed (up to
        ``shutdown_grace_s``), then stop. Unfinished frames get no ACK; monitors resend them."""
        if self._closing:
            await self._closed.wait()
            return
        self._closing = True
        if self._server is not None:
            self._server.close()
        for reader in list(self._readers):
            reader.cancel()
        handlers = set(self._handlers)
        if handlers:
            _, late = await asyncio.wait(handlers, timeout=self._config.shutdown_grace_s)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late)
        if self._committer_task is not None:
            self._committer_task.cancel()
            await asyncio.wait({self._committer_task})
        if self._server is not None:
            await self._server.wait_closed()
        logger.info("hl7 listener stopped")
        self._closed.set()

    async def __aenter__(self) -> MllpListener:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        stats = self._stats
        if self._closing or stats.connections_open >= self._config.max_connections:
            stats.connections_refused += 1
            logger.warning("hl7 connection refused: %d open", stats.connections_open)
            await _close_writer(writer)
            return
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        conn = next(self._connection_ids)
        stats.connections_open += 1
        stats.connections_total += 1
        logger.debug("hl7 connection %d opened", conn)
        acks: asyncio.Queue[_AckItem] = asyncio.Queue()
        slots = asyncio.Semaphore(self._config.max_in_flight_per_connection)
        write_task = asyncio.create_task(self._write_acks(conn, writer, acks, slots))
        read_task = asyncio.create_task(self._read_frames(conn, reader, acks, slots))
        self._readers.add(read_task)
        try:
            await asyncio.wait({read_task})
            acks.put_nowait(None)
            await asyncio.wait({write_task})
        finally:
            read_task.cancel()
            write_task.cancel()
            self._readers.discard(read_task)
            for part in (read_task, write_task):
                _log_unexpected(conn, part)
            await _close_writer(writer)
            stats.connections_open -= 1
            self._committer.poke()
            if task is not None:
                self._handlers.discard(task)
            logger.debug("hl7 connection %d closed", conn)

    async def _read_frames(
        self,
        conn: int,
        reader: asyncio.StreamReader,
        acks: asyncio.Queue[_AckItem],
        slots: asyncio.Semaphore,
    ) -> None:
        config = self._config
        loop = asyncio.get_running_loop()
        decoder = FrameDecoder(config.max_frame_bytes)
        frame_started: float | None = None
        noise_mark = 0
        while True:
            if frame_started is None:
                timeout = config.idle_timeout_s
            else:
                timeout = max(0.0, frame_started + config.frame_timeout_s - loop.time())
            try:
                async with asyncio.timeout(timeout):
                    data = await reader.read(_READ_CHUNK)
            except TimeoutError:
                self._stats.timeouts += 1
                if decoder.in_frame:
                    logger.warning(
                        "hl7 connection %d closed: frame not finished within %g s",
                        conn,
                        config.frame_timeout_s,
                    )
                else:
                    logger.info("hl7 connection %d closed: idle for %g s", conn, timeout)
                return
            except OSError:
                return
            if not data:
                if decoder.in_frame:
                    logger.warning("hl7 connection %d ended inside a frame", conn)
                return
            events = decoder.feed(data)
            for event in events:
                await slots.acquire()
                acks.put_nowait(self._on_event(conn, event))
            if events:
                noise_mark = decoder.noise_bytes
            elif decoder.noise_bytes - noise_mark > config.max_frame_bytes:
                logger.warning(
                    "hl7 connection %d closed: %d bytes outside any frame",
                    conn,
                    decoder.noise_bytes - noise_mark,
                )
                return
            if not decoder.in_frame:
                frame_started = None
            elif frame_started is None or events:
                frame_started = loop.time()

    def _on_event(self, conn: int, event: Frame | FrameTooLarge) -> bytes | _Pending:
        """A frame becomes a pending store, or (when it cannot be accepted) a ready ACK."""
        self._stats.frames += 1
        if isinstance(event, FrameTooLarge):
            self._stats.oversized_frames += 1
            limit = event.limit_bytes
            error = MessageRejected.at(
                None,
                f"more than {limit} bytes",
                f"a message of at most {limit} bytes",
                Hl7ErrorCode.INTERNAL_ERROR,
            )
            return self._refusal(conn, read_header(event.head), error)
        try:
            message = parse_oru(event.payload, local_tz=self._config.local_tz)
        except MessageRejected as error:
            return self._refusal(conn, read_header(event.payload), error)
        return self._committer.submit(conn, message)

    def _refusal(self, conn: int, head: MessageHeader | None, error: KetaclinicError) -> bytes:
        self._stats.refused += 1
        logger.info(
            "hl7 connection %d: message %s refused at %s (%s)",
            conn,
            _log_id(head.control_id) if head else "(no MSH)",
            error.field or "-",
            getattr(error, "hl7_code", error.code),
        )
        return refuse(
            head,
            error,
            now=self._clock(),
            ack_control_id=self._next_ack_id(),
            sender=self._config.sender,
        )

    def _next_ack_id(self) -> str:
        return f"{self._ack_prefix}{next(self._ack_ids)}"

    def _ack_for(self, conn: int, pending: _Pending, outcome: StoreOutcome) -> bytes:
        message = pending.message
        if outcome.error is not None:
            return self._refusal(conn, message.header, outcome.error)
        if outcome.status is StoreStatus.DUPLICATE:
            self._stats.duplicates += 1
            logger.info(
                "hl7 connection %d: message %s was a repeat", conn, _log_id(message.control_id)
            )
        else:
            self._stats.stored += 1
        return accept(
            message.header,
            now=self._clock(),
            ack_control_id=self._next_ack_id(),
            sender=self._config.sender,
        )

    async def _write_acks(
        self,
        conn: int,
        writer: asyncio.StreamWriter,
        acks: asyncio.Queue[_AckItem],
        slots: asyncio.Semaphore,
    ) -> None:
        """Write ACKs in arrival order. After a write fails, keep consuming (so the reader never
        waits on a slot forever) but write nothing more."""
        broken = False
        while (item := await acks.get()) is not None:
            try:
                if isinstance(item, _Pending):
                    ack = self._ack_for(conn, item, await item.outcome)
                else:
                    ack = item
                if not broken:
                    writer.write(encode_frame(ack))
                    async with asyncio.timeout(self._config.frame_timeout_s):
                        await writer.drain()
            except (OSError, TimeoutError):
                if not broken:
                    logger.info("hl7 connection %d: peer stopped reading ACKs", conn)
                    writer.transport.abort()
                broken = True
            finally:
                slots.release()


async def serve_mllp(
    host: str,
    port: int,
    sink: ObservationSink,
    *,
    config: ListenerConfig | None = None,
    clock: Clock = _utc_now,
) -> MllpListener:
    """Start an MLLP listener on ``host:port`` (0 = any free port) and return it, accepting.

    Stop it with ``await listener.close()`` or ``async with``. ``clock`` gives ACK times.
    """
    listener = MllpListener(sink, config or ListenerConfig(), clock)
    await listener.start(host, port)
    return listener


def run_listener(
    host: str,
    port: int,
    sink: ObservationSink,
    *,
    config: ListenerConfig | None = None,
    on_ready: Callable[[MllpListener], None] | None = None,
) -> None:
    """Run a listener until SIGINT/SIGTERM (or Ctrl-C), then shut it down gracefully.

    Blocks. ``on_ready`` is called with the started listener (e.g. to print its port).
    """

    async def main() -> None:
        listener = await serve_mllp(host, port, sink, config=config)
        loop = asyncio.get_running_loop()
        stopping: set[asyncio.Task[None]] = set()

        def stop() -> None:
            stopping.add(loop.create_task(listener.close()))

        for sig in (signal.SIGINT, signal.SIGTERM):
            # Signal handlers exist only in the main thread on Unix; elsewhere Ctrl-C still
            # raises KeyboardInterrupt and asyncio.run cancels the listener.
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, stop)
        if on_ready is not None:
            on_ready(listener)
        try:
            await listener.serve_forever()
        finally:
            await listener.close()

    asyncio.run(main())
