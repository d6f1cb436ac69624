"""The HL7 listener over loopback, storing into SQLite and PostgreSQL: ACK only after commit,
duplicates stored once, unknown MRNs refused, readings without a session kept and flagged."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa

from ketaclinic.adapters.db import tables as t
from ketaclinic.adapters.db.monitor_sink import NO_ACTIVE_SESSION, DatabaseSink
from ketaclinic.adapters.hl7.framing import FrameDecoder, encode_frame
from ketaclinic.adapters.hl7.server import serve_mllp
from ketaclinic.services import audit as audit_svc


def oru(control_id: str, mrn: str, hr: int = 72) -> bytes:
    segments = [
        f"MSH|^~\\&|BEDSIDE|DEMO-MIA|KETACLINIC|DEMO|20261124101500+0000||ORU^R01^ORU_R01|{control_id}|P|2.6",
        f"PID|1||{mrn}^^^DEMO^MR",
        "PV1|1|O|MIA-1",
        "OBR|1|||85353-1^Vital signs^LN|||20261124101500+0000",
        f"OBX|1|NM|8867-4^Heart rate^LN||{hr}|/min|||||F|||20261124101500+0000",
        "OBX|2|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC||97|%|||||F|||20261124101500+0000",
        "OBX|3|NM|150021^MDC_PRESS_BLD_NONINV_SYS^MDC||131|mm[Hg]|||||F|||20261124101500+0000",
        "OBX|4|NM|150022^MDC_PRESS_BLD_NONINV_DIA^MDC||84|mm[Hg]|||||F|||20261124101500+0000",
    ]
    return "\r".join(segments).encode() + b"\r"


async def exchange(port: int, messages: list[bytes]) -> list[str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    decoder = FrameDecoder()
    for message in messages:
        writer.write(encode_frame(message))
    await writer.drain()
    acks: list[str] = []
    while len(acks) < len(messages):
        data = await asyncio.wait_for(reader.read(65536), timeout=10)
        assert data, "the listener closed the connection early"
        for event in decoder.feed(data):
            payload = getattr(event, "payload", None)
            if payload is not None:
                acks.append(payload.decode())
    writer.close()
    await writer.wait_closed()
    return acks


def msa_code(ack: str) -> str:
    msa = next(seg for seg in ack.split("\r") if seg.startswith("MSA"))
    return msa.split("|")[1]


def run_listener_exchange(demo, messages: list[bytes]) -> list[str]:
    async def scenario() -> list[str]:
        listener = await serve_mllp("127.0.0.1", 0, DatabaseSink(demo.engine))
        try:
            return await exchange(listener.port, messages)
        finally:
            await listener.close()

    return asyncio.run(scenario())


def readings_of(conn: sa.Connection, control_ids: list[str]) -> list[sa.Row]:
    """The readings the listener stored for these messages (the demo clinic has its own)."""
    return conn.execute(
        sa.select(t.vital_reading)
        .join(t.monitor_message, t.monitor_message.c.id == t.vital_reading.c.monitor_message_id)
        .where(t.monitor_message.c.control_id.in_(control_ids))
        .order_by(t.vital_reading.c.id)
    ).all()


# DEMO-0009 has no open infusion session in the demo clinic (services/demo_chair.py).
def test_readings_are_stored_flagged_and_audited_before_the_ack(demo) -> None:
    acks = run_listener_exchange(demo, [oru("C-1", "DEMO-0009"), oru("C-2", "DEMO-0009", hr=80)])
    assert [msa_code(a) for a in acks] == ["AA", "AA"]
    with demo.engine.connect() as conn:
        rows = readings_of(conn, ["C-1", "C-2"])
    assert len(rows) == 8
    assert {r.flag for r in rows} == {NO_ACTIVE_SESSION}
    assert {r.kind for r in rows} == {"heart_rate", "spo2", "bp_systolic", "bp_diastolic"}
    assert [r.value for r in rows if r.kind == "heart_rate"] == [72, 80]
    with demo.uow() as uow:
        assert audit_svc.verify(uow).ok
        assert any(e.record.resource == "vital_reading" for e in uow.audit.recent(5))


def test_a_repeated_control_id_is_acknowledged_and_stored_once(demo) -> None:
    acks = run_listener_exchange(demo, [oru("DUP-9", "DEMO-0009"), oru("DUP-9", "DEMO-0009")])
    assert [msa_code(a) for a in acks] == ["AA", "AA"]
    with demo.engine.connect() as conn:
        messages = conn.execute(
            sa.select(sa.func.count())
            .select_from(t.monitor_message)
            .where(t.monitor_message.c.control_id == "DUP-9")
        ).scalar()
        readings = len(readings_of(conn, ["DUP-9"]))
    assert (messages, readings) == (1, 4)


def test_an_unknown_mrn_is_refused_without_echoing_it_and_stores_nothing(demo) -> None:
    acks = run_listener_exchange(demo, [oru("U-1", "NOBODY-42"), oru("U-2", "DEMO-0003")])
    assert [msa_code(a) for a in acks] == ["AE", "AA"]
    assert "NOBODY-42" not in acks[0]
    with demo.engine.connect() as conn:
        stored = conn.execute(
            sa.select(t.monitor_message.c.control_id).where(
                t.monitor_message.c.control_id.in_(["U-1", "U-2"])
            )
        ).scalars()
        assert list(stored) == ["U-2"]


def test_the_duplicate_check_searches_the_control_id_index_and_never_scans(demo) -> None:
    # Every batch asks which of its messages were stored before. Answered by scanning, that
    # question costs more with every message the clinic ever received; it must be a search of
    # the index led by the control id (migration hl7_0001) on either engine.
    from ketaclinic.adapters.hl7.parser import parse_oru

    other_sender = oru("DUP-9", "DEMO-0001").replace(b"|BEDSIDE|DEMO-MIA|", b"|BEDSIDE|DEMO-FLL|")
    batch = [parse_oru(oru(f"DUP-{n}", "DEMO-0001")) for n in range(3)] + [parse_oru(other_sender)]
    checks: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().startswith("SELECT") and "FROM monitor_message" in statement:
            checks.append((statement, parameters))

    sa.event.listen(demo.engine, "before_cursor_execute", capture)
    try:
        DatabaseSink(demo.engine).store(batch)
    finally:
        sa.event.remove(demo.engine, "before_cursor_execute", capture)
    ((statement, parameters),) = checks
    explain = "EXPLAIN QUERY PLAN " if demo.engine.dialect.name == "sqlite" else "EXPLAIN "
    with demo.engine.connect() as conn:
        if demo.engine.dialect.name != "sqlite":
            conn.exec_driver_sql("SET enable_seqscan = off")  # a tiny table: ask what it can use
        plan = " ".join(str(row) for row in conn.exec_driver_sql(explain + statement, parameters))
    assert "monitor_message" in plan
    assert "SCAN monitor_message" not in plan  # SQLite: a search, not a walk of the table
    assert "Seq Scan" not in plan  # PostgreSQL
    assert "ix_monitor_message_control" in plan


def test_the_newest_readings_come_from_the_index_without_sorting(demo) -> None:
    # Each batch asks, per session and vital, for the newest usable reading (by time, then id).
    # The index holds that whole order (migration chair_0003), so the answer is one seek; sorting
    # a session's readings instead costs more the longer the infusion runs.
    from ketaclinic.adapters.hl7.parser import parse_oru

    checks: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        # One seek per (session, vital): SQLite a scalar subquery, PostgreSQL a LATERAL join.
        if (
            "json_each" in statement and "FROM session_vital" in statement
        ) or "LATERAL" in statement:
            checks.append((statement, parameters))

    sa.event.listen(demo.engine, "before_cursor_execute", capture)
    try:
        DatabaseSink(demo.engine).store([parse_oru(oru("NEWEST-1", "DEMO-0001"))])
    finally:
        sa.event.remove(demo.engine, "before_cursor_execute", capture)
    assert checks
    statement, parameters = checks[0]
    sqlite = demo.engine.dialect.name == "sqlite"
    with demo.engine.connect() as conn:
        if not sqlite:
            conn.exec_driver_sql("SET enable_seqscan = off")  # a tiny table: ask what it can use
        plan = " ".join(
            str(row)
            for row in conn.exec_driver_sql(
                ("EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN ") + statement, parameters
            )
        )
    assert "ix_session_vital_latest" in plan
    assert "TEMP B-TREE" not in plan  # SQLite sorting
    assert "Sort" not in plan  # PostgreSQL sorting
