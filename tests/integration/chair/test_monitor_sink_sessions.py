"""The HL7 listener on loopback with the database sink, on SQLite and PostgreSQL: readings of a
patient in an infusion attach to the session and go through the alert rules in the same
transaction as the ACK; repeats are stored once; readings without a session are kept, flagged.
The demo clinic has DEMO-0001 infusing on MIA-1 and DEMO-0009 with no session."""

from __future__ import annotations

import asyncio
import datetime as dt

import sqlalchemy as sa

from ketaclinic.adapters.db import tables as t
from ketaclinic.adapters.db import tables_chair as c
from ketaclinic.adapters.db.monitor_sink import NO_ACTIVE_SESSION, DatabaseSink
from ketaclinic.adapters.hl7.framing import Frame, FrameDecoder, encode_frame
from ketaclinic.adapters.hl7.server import serve_mllp
from ketaclinic.services import audit as audit_svc

READ_TIMEOUT_S = 10.0  # generous for a loaded CI machine; a loopback ACK takes milliseconds


def oru(control_id: str, mrn: str, *, hr: int = 74, spo2: int = 97, chair: str = "MIA-1") -> bytes:
    """An IHE PCD-01 style ORU^R01 timed now (the demo's sessions are relative to now)."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S+0000")
    segments = [
        f"MSH|^~\\&|BEDSIDE|DEMO-MIA|KETACLINIC|DEMO|{stamp}||ORU^R01^ORU_R01|{control_id}|P|2.6",
        f"PID|1||{mrn}^^^DEMO^MR",
        f"PV1|1|O|{chair}",
        f"OBR|1|||85353-1^Vital signs^LN|||{stamp}",
        f"OBX|1|NM|147842^MDC_ECG_HEART_RATE^MDC||{hr}|/min|||||F|||{stamp}",
        f"OBX|2|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC||{spo2}|%|||||F|||{stamp}",
    ]
    return "\r".join(segments).encode() + b"\r"


def exchange(demo, messages: list[bytes], changed: list[set[int]] | None = None) -> list[str]:
    """Send every message on one connection; the MSA-1 code of each ACK, in order."""

    async def scenario() -> list[str]:
        sink = DatabaseSink(demo.engine, on_change=changed.append if changed is not None else None)
        listener = await serve_mllp("127.0.0.1", 0, sink)
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
            for message in messages:
                writer.write(encode_frame(message))
            await writer.drain()
            decoder, codes = FrameDecoder(), []
            async with asyncio.timeout(READ_TIMEOUT_S):
                while len(codes) < len(messages):
                    data = await reader.read(65536)
                    assert data, "the listener closed the connection early"
                    for event in decoder.feed(data):
                        if isinstance(event, Frame):
                            msa = next(
                                s for s in event.payload.split(b"\r") if s.startswith(b"MSA")
                            )
                            codes.append(msa.split(b"|")[1].decode())
            writer.close()
            await writer.wait_closed()
            return codes
        finally:
            await listener.close()

    return asyncio.run(scenario())


def one(demo, stmt):
    with demo.engine.connect() as conn:
        return conn.execute(stmt).all()


def session_of(demo, mrn: str) -> tuple[int, int]:
    (row,) = one(
        demo,
        sa.select(c.infusion_session.c.id, c.infusion_session.c.site_id)
        .join(t.patient, t.patient.c.id == c.infusion_session.c.patient_id)
        .where(t.patient.c.mrn == mrn, c.infusion_session.c.active_patient_id.is_not(None)),
    )
    return row.id, row.site_id


def message_readings(demo, control_id: str):
    return one(
        demo,
        sa.select(t.vital_reading, c.session_vital.c.session_id)
        .join(t.monitor_message, t.monitor_message.c.id == t.vital_reading.c.monitor_message_id)
        .outerjoin(c.session_vital, c.session_vital.c.reading_id == t.vital_reading.c.id)
        .where(t.monitor_message.c.control_id == control_id),
    )


def test_readings_of_a_patient_in_an_infusion_attach_to_the_session(demo) -> None:
    session_id, site_id = session_of(demo, "DEMO-0001")
    changed: list[set[int]] = []
    assert exchange(demo, [oru("S-1", "DEMO-0001")], changed) == ["AA"]
    rows = message_readings(demo, "S-1")
    assert {(r.kind, r.flag, r.session_id) for r in rows} == {
        ("heart_rate", "", session_id),
        ("spo2", "", session_id),
    }
    assert changed == [{site_id}]


def test_an_alarming_reading_has_its_alert_stored_before_the_ack(demo) -> None:
    session_id, _ = session_of(demo, "DEMO-0001")
    assert exchange(demo, [oru("A-1", "DEMO-0001", hr=118)]) == ["AA"]
    alerts = one(
        demo,
        sa.select(c.chair_alert).where(
            c.chair_alert.c.session_id == session_id,
            c.chair_alert.c.rule_key == "hr_during_infusion",
        ),
    )
    assert [(a.state, a.tier, a.latest_value, a.reading_source) for a in alerts] == [
        ("raised", "clinical", 118.0, "monitor")
    ]


def test_a_repeated_message_is_stored_once_and_counted_once(demo) -> None:
    session_id, _ = session_of(demo, "DEMO-0001")
    assert exchange(demo, [oru("R-1", "DEMO-0001", hr=118), oru("R-1", "DEMO-0001", hr=118)]) == [
        "AA",
        "AA",
    ]
    assert len(message_readings(demo, "R-1")) == 2
    (alert,) = one(
        demo,
        sa.select(c.chair_alert).where(
            c.chair_alert.c.session_id == session_id,
            c.chair_alert.c.rule_key == "hr_during_infusion",
        ),
    )
    assert alert.occurrences == 1


def test_readings_without_an_open_session_are_kept_and_flagged(demo) -> None:
    changed: list[set[int]] = []
    assert exchange(demo, [oru("N-1", "DEMO-0009", hr=130, chair="MIA-4")], changed) == ["AA"]
    rows = message_readings(demo, "N-1")
    assert {(r.flag, r.session_id) for r in rows} == {(NO_ACTIVE_SESSION, None)}
    assert one(demo, sa.select(c.chair_alert).where(c.chair_alert.c.latest_value == 130.0)) == []
    assert changed == []
    with demo.uow() as uow:
        assert audit_svc.verify(uow).ok
