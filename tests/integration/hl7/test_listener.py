"""The MLLP listener over real loopback sockets, with the in-memory sink (DESIGN.md §4.4)."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence

import pytest

from ketaclinic.adapters.hl7.parser import MonitorMessage
from ketaclinic.adapters.hl7.server import ListenerConfig, MllpListener, serve_mllp
from ketaclinic.adapters.hl7.sink import InMemorySink, StoreOutcome

HOST = "127.0.0.1"
NON_NUMERIC = (
    b"MSH|^~\\&|MON|DEMO|KC|DEMO|20261120100000+0000||ORU^R01^ORU_R01|BAD-1|P|2.5.1\r"
    b"PID|||DEMO-0001^^^DEMO^MR\r"
    b"OBX|1|NM|8867-4^HR^LN||fast|/min|||||F"
)


def msa(ack: bytes) -> list[str]:
    """MSA fields of an ACK: ``[MSA, code, control id, text]``."""
    for segment in ack.decode("ascii").split("\r"):
        if segment.startswith("MSA|"):
            return segment.split("|")
    raise AssertionError("no MSA segment in the ACK")


def err(ack: bytes) -> list[str]:
    for segment in ack.decode("ascii").split("\r"):
        if segment.startswith("ERR|"):
            return segment.split("|")
    raise AssertionError("no ERR segment in the ACK")


def control_id(payload: bytes) -> str:
    return payload.split(b"\r", 1)[0].split(b"|")[9].decode()


class GatedSink:
    """Blocks in ``store`` until the test releases it: shows when ACKs may be written."""

    def __init__(self) -> None:
        self.inner = InMemorySink()
        self.entered = threading.Event()
        self.release = threading.Event()

    def store(self, batch: Sequence[MonitorMessage]) -> list[StoreOutcome]:
        self.entered.set()
        if not self.release.wait(10):
            raise RuntimeError("the test never released the sink")
        return self.inner.store(batch)


class FailingOnceSink:
    """Raises on the first batch (a database that was briefly down), then stores."""

    def __init__(self) -> None:
        self.inner = InMemorySink()
        self.calls = 0

    def store(self, batch: Sequence[MonitorMessage]) -> list[StoreOutcome]:
        self.calls += 1
        if self.calls == 1:
            raise OSError("database unavailable: INSERT ... ('DEMO-0001')")
        return self.inner.store(batch)


async def wait_for_frames(listener: MllpListener, frames: int) -> None:
    """Poll the listener's counters until it has read ``frames`` frames (bounded by the
    scenario timeout); used to know that messages are queued, not to measure time."""
    while listener.stats().frames < frames:
        await asyncio.sleep(0.005)


def test_several_messages_on_one_connection_are_each_acknowledged(run, connect, messages) -> None:
    sink = InMemorySink()
    payloads = messages(5)

    async def scenario() -> None:
        async with await serve_mllp(HOST, 0, sink) as listener:
            client = await connect(listener.port)
            for payload in payloads:
                await client.send(payload)
                ack = await client.ack()
                assert msa(ack)[1:3] == ["AA", control_id(payload)]
            await client.close()

    run(scenario())
    assert [m.control_id for m in sink.messages] == [control_id(p) for p in payloads]
    assert all(m.mrn == "DEMO-0001" and m.chair == "MIA-1" for m in sink.messages)


def test_many_connections_sending_at_once_all_get_their_acks_in_order(
    run, connect, messages
) -> None:
    sink = InMemorySink()
    config = ListenerConfig(max_batch_messages=16)
    per_client = {tag: messages(10, tag=tag) for tag in range(20)}

    async def one_client(port: int, payloads: list[bytes]) -> list[list[str]]:
        client = await connect(port)
        for payload in payloads:  # pipelined: all sent before the first ACK is read
            await client.send(payload)
        acks = [msa(await client.ack()) for _ in payloads]
        await client.close()
        return acks

    async def scenario() -> None:
        async with await serve_mllp(HOST, 0, sink, config=config) as listener:
            results = await asyncio.gather(
                *(one_client(listener.port, p) for p in per_client.values())
            )
        for payloads, acks in zip(per_client.values(), results, strict=True):
            assert [a[1] for a in acks] == ["AA"] * len(payloads)
            assert [a[2] for a in acks] == [control_id(p) for p in payloads]

    run(scenario())
    assert len(sink.messages) == 200
    assert max(sink.batch_sizes) <= 16
    assert max(sink.batch_sizes) > 1, "pipelined messages should share a batch"


def test_messages_arriving_during_a_store_go_to_the_sink_as_one_batch(
    run, connect, messages
) -> None:
    sink = GatedSink()
    first, *others = [messages(1, tag=tag)[0] for tag in range(6)]

    async def scenario() -> None:
        async with await serve_mllp(HOST, 0, sink) as listener:
            clients = [await connect(listener.port) for _ in range(6)]
            await clients[0].send(first)
            assert await asyncio.to_thread(sink.entered.wait, 5)
            for client, payload in zip(clients[1:], others, strict=True):
                await client.send(payload)
            await wait_for_frames(listener, 6)
            sink.release.set()
            codes = [msa(await client.ack())[1] for client in clients]
            assert codes == ["AA"] * 6
            for client in clients:
                await client.close()

    run(scenario())
    assert sink.inner.batch_sizes == [1, 5]


def test_ack_is_written_only_after_the_sink_returned(run, connect, messages) -> None:
    sink = GatedSink()
    (payload,) = messages(1)

    async def scenario() -> None:
        async with await serve_mllp(HOST, 0, sink) as listener:
            client = await connect(listener.port)
            await client.send(payload)
            assert await asyncio.to_thread(sink.entered.wait, 5)
            # The sink is blocked, so no ACK may exist yet, however long we wait.
            with pytest.raises(TimeoutError):
                await client.ack(timeout_s=0.2)
            assert sink.inner.messages == []
            sink.release.set()
            assert msa(await client.ack())[1] == "AA"
            assert len(sink.inner.messages) == 1
            await client.close()

    run(scenario())


def test_repeated_control_id_is_acknowledged_and_stored_once(run, connect, messages) -> None:
    sink = InMemorySink()
    (payload,) = messages(1)

    async def scenario() -> None:
        async with await serve_mllp(HOST, 0, sink) as listener:
            one, two = await connect(listener.port), await connect(listener.port)
            for client in (one, one, two):
                await client.send(payload)
                assert msa(await client.ack())[1:3] == ["AA", control_id(payload)]
            assert listener.stats().duplicates == 2
            await one.close()
            await two.close()

    run(scenario())
    assert len(sink.messages) == 1


def test_malformed_message_gets_ar_with_err_and_the_connection_carries_on(
    run, connect, messages
) -> None:
    sink = InMemorySink()
    (good,) = messages(1)

    async def scenario() -> None:
        async with await serve_mllp(HOST, 0, sink) as listener:
            client = await connect(listener.port)
            await client.send(NON_NUMERIC)
            ack = await client.ack()
            assert msa(ack)[1:3] == ["AR", "BAD-1"]
            assert "OBX[1]-5" in msa(ack)[3]
            assert err(ack)[2] == "OBX^1^5"
            await client.send(good)
            assert msa(await client.ack())[1] == "AA"
            await client.close()

    run(scenario())
    assert [m.control_id for m in sink.messages] == [control_id(good)]


def test_message_for_an_unknown_patient_gets_ae(run, connect, messages) -> None:
    sink = InMemorySink(known_mrns={"DEMO-0002"})
    (payload,) = messages(1, mrn="DEMO-0001")

    async def scenario() -> None:
        async with await serve_mllp(HOST, 0, sink) as listener:
            client = await connect(listener.port)
            await client.send(payload)
            ack = await client.ack()
            assert msa(ack)[1] == "AE"
            assert err(ack)[3].startswith("204^")
            await client.close()

    run(scenario())
    assert sink.messages == []


def test_failing_sink_gets_ae_for_its_batch_and_the_listener_keeps_serving(
    run, connect, messages
) -> None:
    sink = FailingOnceSink()
    first, second = messages(2)

    async def scenario() -> None:
        async with await serve_mllp(HOST, 0, sink) as listener:
            client = await connect(listener.port)
            await client.send(first)
            ack = await client.ack()
            assert msa(ack)[1] == "AE"
            assert err(ack)[3].startswith("207^")
            await client.send(first)  # the monitor resends
            assert msa(await client.ack())[1] == "AA"
            await client.send(second)
            assert msa(await client.ack())[1] == "AA"
            assert listener.stats().sink_failures == 1
            await client.close()

    run(scenario())
    assert [m.control_id for m in sink.inner.messages] == [control_id(first), control_id(second)]


def test_binary_noise_is_discarded_or_refused_and_the_connection_survives(
    run, connect, messages
) -> None:
    sink = InMemorySink()
    (good,) = messages(1)

    async def scenario() -> None:
        async with await serve_mllp(HOST, 0, sink) as listener:
            client = await connect(listener.port)
            await client.send_raw(bytes(range(12, 256)) * 3)  # outside any frame: discarded
            await client.send(bytes(range(0x0C, 0x1C)) + b"\xff\xfe")  # framed junk: AR
            ack = await client.ack()
            assert msa(ack)[1:3] == ["AR", ""]
            await client.send(good)
            assert msa(await client.ack())[1] == "AA"
            await client.close()

    run(scenario())
    assert len(sink.messages) == 1


def test_endless_noise_outside_frames_closes_only_that_connection(run, connect, messages) -> None:
    sink = InMemorySink()
    config = ListenerConfig(max_frame_bytes=4096)
    (good,) = messages(1)

    async def scenario() -> None:
        async with await serve_mllp(HOST, 0, sink, config=config) as listener:
            noisy, calm = await connect(listener.port), await connect(listener.port)
            await noisy.send_raw(b"\x00" * 10_000)
            assert await noisy.closed_by_peer()
            await calm.send(good)
            assert msa(await calm.ack())[1] == "AA"
            await noisy.close()
            await calm.close()

    run(scenario())


def test_client_that_never_ends_its_frame_is_dropped_without_blocking_others(
    run, connect, messages
) -> None:
    sink = InMemorySink()
    config = ListenerConfig(frame_timeout_s=0.3)
    payloads = messages(3)

    async def scenario() -> None:
        async with await serve_mllp(HOST, 0, sink, config=config) as listener:
            stuck, other = await connect(listener.port), await connect(listener.port)
            await stuck.send_raw(b"\x0b" + payloads[0][:40])  # a frame that never ends
            for payload in payloads:
                await other.send(payload)
                assert msa(await other.ack())[1] == "AA"
            assert await stuck.closed_by_peer()
            assert listener.stats().timeouts == 1
            await other.send(payloads[0])  # the other connection is still open
            assert msa(await other.ack())[1] == "AA"
            await stuck.close()
            await other.close()

    run(scenario())
    assert len(sink.messages) == 3


def test_silent_connection_is_closed_after_the_idle_timeout(run, connect) -> None:
    config = ListenerConfig(idle_timeout_s=0.2)

    async def scenario() -> None:
        async with await serve_mllp(HOST, 0, InMemorySink(), config=config) as listener:
            client = await connect(listener.port)
            assert await client.closed_by_peer()
            await client.close()

    run(scenario())


def test_ten_megabyte_frame_is_refused_and_the_connection_carries_on(
    run, connect, messages
) -> None:
    sink = InMemorySink()
    head, good = messages(2)
    huge = head + b"\rNTE|1||" + b"Z" * (10 * 1024 * 1024)

    async def scenario() -> None:
        async with await serve_mllp(HOST, 0, sink) as listener:
            client = await connect(listener.port)
            await client.send(huge)
            ack = await client.ack()
            assert msa(ack)[1:3] == ["AR", control_id(head)]
            assert "1048576 bytes" in msa(ack)[3]
            await client.send(good)
            assert msa(await client.ack())[1] == "AA"
            assert listener.stats().oversized_frames == 1
            await client.close()

    run(scenario())
    assert [m.control_id for m in sink.messages] == [control_id(good)]


def test_connections_beyond_the_limit_are_closed_at_once(run, connect, messages) -> None:
    config = ListenerConfig(max_connections=2)
    payloads = messages(2)

    async def scenario() -> None:
        async with await serve_mllp(HOST, 0, InMemorySink(), config=config) as listener:
            first, second = await connect(listener.port), await connect(listener.port)
            for client, payload in ((first, payloads[0]), (second, payloads[1])):
                await client.send(payload)
                assert msa(await client.ack())[1] == "AA"
            third = await connect(listener.port)
            assert await third.closed_by_peer()
            assert listener.stats().connections_refused == 1
            for client in (first, second, third):
                await client.close()

    run(scenario())


def test_graceful_shutdown_writes_owed_acks_and_stops_accepting(run, connect, messages) -> None:
    sink = GatedSink()
    (payload,) = messages(1)

    async def scenario() -> None:
        listener = await serve_mllp(HOST, 0, sink)
        port = listener.port
        client = await connect(port)
        await client.send(payload)
        assert await asyncio.to_thread(sink.entered.wait, 5)
        closing = asyncio.create_task(listener.close())
        await asyncio.sleep(0)  # let close() stop the accepting socket
        with pytest.raises(ConnectionRefusedError):
            await connect(port)
        sink.release.set()
        assert msa(await client.ack())[1] == "AA"
        assert await client.closed_by_peer()
        async with asyncio.timeout(5):
            await closing
        await client.close()

    run(scenario())
    assert len(sink.inner.messages) == 1


def test_logs_carry_control_ids_and_counts_but_no_mrn_or_raw_hl7(
    run, connect, messages, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="ketaclinic.hl7")
    sink = InMemorySink(known_mrns={"DEMO-0001"})
    good, unknown = messages(1)[0], messages(1, mrn="DEMO-0099", tag=1)[0]
    failing = FailingOnceSink()

    async def scenario() -> None:
        async with await serve_mllp(HOST, 0, sink) as listener:
            client = await connect(listener.port)
            for payload in (
                good,
                good,
                NON_NUMERIC,
                unknown,
                good + b"\rNTE|1||" + b"Z" * (2 << 20),
            ):
                await client.send(payload)
                await client.ack()
            await client.close()
        async with await serve_mllp(HOST, 0, failing) as listener:
            client = await connect(listener.port)
            await client.send(good)
            await client.ack()
            await client.close()

    run(scenario())
    text = caplog.text
    assert control_id(good) in text
    assert "BAD-1" in text
    for secret in ("DEMO-0001", "DEMO-0099", "MSH|", "PID|", "OBX|", "fast", "INSERT"):
        assert secret not in text, secret
