"""Fuzzing the parser and the ACK builder: whatever arrives, the outcome is typed.

For any bytes, and for valid sample messages mutated at random, ``parse_oru`` either returns a
MonitorMessage or raises MessageRejected, and an ACK can always be built for it: ASCII, free
of MLLP envelope bytes, readable by python-hl7.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import hl7
from hypothesis import given
from hypothesis import strategies as st

import ketaclinic.adapters.hl7 as hl7_package
from ketaclinic.adapters.hl7.ack import AckSender, accept, refuse
from ketaclinic.adapters.hl7.framing import encode_frame
from ketaclinic.adapters.hl7.parser import MonitorMessage, parse_oru
from ketaclinic.adapters.hl7.rejection import MessageRejected
from ketaclinic.adapters.hl7.segments import Encoding, Segment, read_header

NOW = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)
PROFILES = Path(hl7_package.__file__).parent / "profiles"
VALID = [
    p.read_bytes().replace(b"\n", b"\r")
    for p in sorted(PROFILES.glob("*/*.hl7"))
    if not p.name.startswith("rejected")
]
HL7ISH = st.sampled_from(
    [b"|", b"^", b"~", b"\\", b"&", b"\r", b"\n", b"MSH", b"OBX", b"PID", b"\xff"]
)


def outcome_and_ack(payload: bytes) -> bytes:
    """Parse, then acknowledge the way the listener would; checks the typed contract."""
    sender = AckSender()
    message: MonitorMessage | None = None
    rejected: MessageRejected | None = None
    try:
        message = parse_oru(payload)
    except MessageRejected as error:
        rejected = error
    if rejected is not None:
        assert rejected.field is not None
        ack = refuse(read_header(payload), rejected, now=NOW, ack_control_id="A", sender=sender)
    else:
        assert isinstance(message, MonitorMessage)
        assert message.message_time.tzinfo is not None
        ack = accept(message.header, now=NOW, ack_control_id="A", sender=sender)
    ack.decode("ascii")
    encode_frame(ack)  # raises if an envelope byte slipped in
    parsed = hl7.parse(ack.decode("ascii"))
    assert str(parsed.segment("MSA")[1]) in {"AA", "AE", "AR"}
    return ack


@given(st.binary(max_size=2000))
def test_arbitrary_bytes_give_a_typed_outcome_and_a_valid_ack(payload: bytes) -> None:
    outcome_and_ack(payload)


@given(st.lists(st.one_of(HL7ISH, st.binary(max_size=8)), max_size=200))
def test_hl7_shaped_noise_gives_a_typed_outcome_and_a_valid_ack(pieces: list[bytes]) -> None:
    outcome_and_ack(b"MSH|^~\\&|" + b"".join(pieces))


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "duplicate"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[at:at] = draw(st.one_of(HL7ISH, st.binary(min_size=1, max_size=6)))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 20))]
        elif kind == "truncate":
            del data[at:]
        else:
            end = min(len(data), at + draw(st.integers(1, 80)))
            data[end:end] = data[at:end]
    return bytes(data)


@given(mutated())
def test_mutated_valid_messages_give_a_typed_outcome_and_a_valid_ack(payload: bytes) -> None:
    outcome_and_ack(payload)


@given(st.text(max_size=200))
def test_unescaping_never_makes_text_longer(text: str) -> None:
    assert len(Encoding("|", "^", "~", "\\", "&").unescape(text)) <= len(text)


FIELD_PIECES = st.sampled_from(
    ["a", "7", " ", "^", "&", "~", "\\", "\\F\\", "\\S\\", "\\E\\", "\\X41\\", "\\H\\"]
)


@given(st.lists(FIELD_PIECES, max_size=30).map("".join))
def test_splitting_a_field_matches_unescaping_each_components_first_subcomponent(
    text: str,
) -> None:
    # The splitter skips unescaping when a field has no escape and no subcomponent character;
    # whichever way it goes, each component of the first repetition is its first
    # subcomponent, unescaped.
    enc = Encoding("|", "^", "~", "\\", "&")
    first = text.split("~", 1)[0]
    expected = [enc.unescape(part.split("&", 1)[0]) for part in first.split("^")]
    assert Segment("OBX|" + text.replace("|", ""), enc, 1).components(1) == expected
