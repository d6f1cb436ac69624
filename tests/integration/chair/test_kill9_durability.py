"""Durable before ACK, proved the hard way: a real ``ketaclinic serve --hl7-port`` takes a feed
over four connections, is killed with SIGKILL mid-stream, and is started again. Every message
that was acknowledged ``AA`` is stored (with its readings), the monitors' resends of everything
are acknowledged and stored once, and the audit trail's hash chain verifies — on SQLite and
PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from ketaclinic.adapters.db import tables as t
from ketaclinic.adapters.db.engine import make_engine
from ketaclinic.adapters.hl7.framing import Frame, FrameDecoder, encode_frame
from ketaclinic.adapters.hl7.simulator import FeedConfig, feed_messages

KETACLINIC = str(Path(sys.executable).with_name("ketaclinic"))

pytestmark = pytest.mark.slow

CONNECTIONS = 4
PER_CONNECTION = 200
KILL_AFTER_ACKS = 150  # kill once this many are acknowledged: well inside the stream
ACK_TIMEOUT_S = 15.0  # a healthy loopback ACK takes milliseconds; this only bounds a hang


def feeds() -> list[list[tuple[str, bytes]]]:
    """Four monitors' feeds for DEMO-0001 on MIA-1 (each starts a second apart, so control ids
    differ), timed in the last hour so they land in the demo's running session."""
    base = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=30)
    out = []
    for n in range(CONNECTIONS):
        config = FeedConfig(mrn="DEMO-0001", chair="MIA-1", count=PER_CONNECTION, seed=n)
        start = base + dt.timedelta(seconds=n)
        out.append([(m.control_id, m.payload) for m in feed_messages(config, start)])
    return out


async def send_feed(
    port: int, feed: list[tuple[str, bytes]], acked: list[str], enough: asyncio.Event
) -> None:
    """Send message by message, waiting for each ACK, as a monitor does; stop at the first
    connection error (the server was killed)."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return
    decoder = FrameDecoder()
    try:
        for control_id, payload in feed:
            writer.write(encode_frame(payload))
            await writer.drain()
            frames: list[Frame] = []
            async with asyncio.timeout(ACK_TIMEOUT_S):
                while not frames:
                    data = await reader.read(65536)
                    if not data:
                        return
                    frames = [e for e in decoder.feed(data) if isinstance(e, Frame)]
            if b"MSA|AA|" in frames[0].payload:
                acked.append(control_id)
            if len(acked) >= KILL_AFTER_ACKS:
                enough.set()
    except (OSError, TimeoutError):
        return
    finally:
        writer.close()


def stream_until_killed(clinic, all_feeds) -> list[str]:
    async def scenario() -> list[str]:
        acked: list[str] = []
        enough = asyncio.Event()
        tasks = [
            asyncio.create_task(send_feed(clinic.hl7_port, feed, acked, enough))
            for feed in all_feeds
        ]
        async with asyncio.timeout(120):
            await enough.wait()
        await asyncio.to_thread(clinic.kill)
        await asyncio.gather(*tasks)
        return acked

    return asyncio.run(scenario())


def resend_all(clinic, all_feeds) -> list[str]:
    async def scenario() -> list[str]:
        acked: list[str] = []
        never = asyncio.Event()
        await asyncio.gather(
            *(send_feed(clinic.hl7_port, feed, acked, never) for feed in all_feeds)
        )
        return acked

    return asyncio.run(scenario())


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_every_acknowledged_message_survives_a_kill_9(served_clinic, kind: str) -> None:
    clinic = served_clinic(kind)
    clinic.start()
    all_feeds = feeds()
    acked = stream_until_killed(clinic, all_feeds)
    assert len(acked) >= KILL_AFTER_ACKS
    assert len(acked) < CONNECTIONS * PER_CONNECTION, "the kill came after the whole feed"

    clinic.start()
    engine = make_engine(clinic.database_url)
    try:
        with engine.connect() as conn:
            stored = set(
                conn.execute(
                    sa.select(t.monitor_message.c.control_id).where(
                        t.monitor_message.c.control_id.in_(acked)
                    )
                ).scalars()
            )
            readings = conn.execute(
                sa.select(sa.func.count())
                .select_from(t.vital_reading)
                .join(
                    t.monitor_message,
                    t.monitor_message.c.id == t.vital_reading.c.monitor_message_id,
                )
                .where(t.monitor_message.c.control_id.in_(acked))
            ).scalar_one()
        assert stored == set(acked), "an acknowledged message was lost"
        assert readings >= 3 * len(acked)  # every simulated message carries HR, SpO2 and RR

        resent = resend_all(clinic, all_feeds)
        assert len(resent) == CONNECTIONS * PER_CONNECTION
        with engine.connect() as conn:
            count = conn.execute(
                sa.select(sa.func.count())
                .select_from(t.monitor_message)
                .where(t.monitor_message.c.control_id.like("SIM%"))
            ).scalar_one()
        assert count == CONNECTIONS * PER_CONNECTION, "a resent message was stored twice"
    finally:
        engine.dispose()
    clinic.stop()
    verified = subprocess.run(
        [KETACLINIC, "audit", "verify", "--json"],
        env=clinic.env,
        cwd=clinic.workdir,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert verified.returncode == 0, verified.stderr.decode()
    assert json.loads(verified.stdout)["ok"] is True
