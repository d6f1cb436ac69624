"""``run_listener``: the blocking entry point ``ketaclinic hl7 listen`` and ``serve`` use."""

from __future__ import annotations

import asyncio
import signal
import sys

RUN = (
    "from ketaclinic.adapters.hl7.server import run_listener\n"
    "from ketaclinic.adapters.hl7.sink import InMemorySink\n"
    "run_listener('127.0.0.1', 0, InMemorySink(), on_ready=lambda l: print(l.port, flush=True))\n"
)


def test_it_serves_until_sigterm_and_then_exits_cleanly(run, connect, messages) -> None:
    (payload,) = messages(1)

    async def scenario() -> None:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", RUN, stdout=asyncio.subprocess.PIPE
        )
        try:
            assert proc.stdout is not None
            async with asyncio.timeout(20):  # a cold interpreter start with imports
                port = int(await proc.stdout.readline())
            client = await connect(port)
            await client.send(payload)
            ack = await client.ack()
            assert b"MSA|AA|" in ack
            proc.send_signal(signal.SIGTERM)
            async with asyncio.timeout(10):
                assert await proc.wait() == 0
            assert await client.closed_by_peer()
            await client.close()
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()

    run(scenario())
