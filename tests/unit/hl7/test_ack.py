"""Acknowledgements: codes from the exception tree, echoed ids, ERR layout per version.

python-hl7 parses every ACK here as an independent check that it is well-formed HL7.
"""

from __future__ import annotations

import datetime as dt

import hl7
import pytest

from ketaclinic.adapters.hl7.ack import (
    DEFAULT_VERSION,
    AckCode,
    AckSender,
    accept,
    ack_code_for,
    build_ack,
    refuse,
)
from ketaclinic.adapters.hl7.parser import parse_oru
from ketaclinic.adapters.hl7.rejection import ErrorLocation, Hl7ErrorCode, MessageRejected
from ketaclinic.adapters.hl7.segments import MessageHeader
from ketaclinic.domain.errors import (
    Conflict,
    InvalidInput,
    KetaclinicError,
    LimitExceeded,
    NotFound,
)

NOW = dt.datetime(2026, 11, 20, 10, 0, 5, tzinfo=dt.UTC)
SENDER = AckSender("KETACLINIC", "DEMO")


def header(version: str = "2.5.1", control_id: str = "CTL-1") -> MessageHeader:
    return MessageHeader(
        control_id=control_id,
        version=version,
        sending_application="MON",
        sending_facility="DEMO-MIA",
        receiving_application="KETACLINIC",
        receiving_facility="DEMO",
        processing_id="P",
        message_type="ORU",
        trigger_event="R01",
    )


def segments(ack: bytes) -> dict[str, list[str]]:
    text = ack.decode("ascii")
    hl7.parse(text)  # raises if python-hl7 cannot read it
    return {seg.split("|", 1)[0]: seg.split("|") for seg in text.split("\r")}


def test_accept_echoes_control_id_version_and_swaps_sender_and_receiver() -> None:
    ack = accept(header("2.6", "CTL-9"), now=NOW, ack_control_id="A-1", sender=SENDER)
    seg = segments(ack)
    msh, msa = seg["MSH"], seg["MSA"]
    assert msh[2:6] == ["KETACLINIC", "DEMO", "MON", "DEMO-MIA"]
    assert msh[6] == "20261120100005+0000"
    assert msh[8] == "ACK^R01^ACK"
    assert msh[9] == "A-1"
    assert msh[10] == "P"
    assert msh[11] == "2.6"
    assert msa[:3] == ["MSA", "AA", "CTL-9"]
    assert "ERR" not in seg


def test_version_2_3_gets_a_two_component_message_type() -> None:
    msh = segments(accept(header("2.3"), now=NOW, ack_control_id="A", sender=SENDER))["MSH"]
    assert msh[8] == "ACK^R01"
    assert msh[11] == "2.3"


def test_rejection_from_2_5_on_uses_err_2_to_err_8() -> None:
    error = MessageRejected.at(ErrorLocation("OBX", 3, 5), "abc", "a number")
    seg = segments(refuse(header("2.5.1"), error, now=NOW, ack_control_id="A", sender=SENDER))
    assert seg["MSA"][:3] == ["MSA", "AR", "CTL-1"]
    assert seg["MSA"][3] == "OBX[3]-5: got 'abc', expected a number"
    err = seg["ERR"]
    assert err[2] == "OBX^3^5"
    assert err[3] == "102^Data type error^HL70357"
    assert err[4] == "E"
    assert err[8] == "OBX[3]-5: got 'abc', expected a number"


@pytest.mark.parametrize("version", ["2.3", "2.3.1", "2.4"])
def test_rejection_before_2_5_uses_err_1(version: str) -> None:
    error = MessageRejected.at(
        ErrorLocation("PID", 1, 3), "", "the MRN", Hl7ErrorCode.REQUIRED_FIELD_MISSING
    )
    seg = segments(refuse(header(version), error, now=NOW, ack_control_id="A", sender=SENDER))
    assert seg["ERR"][1] == "PID^1^3^101&Required field missing&HL70357"
    assert seg["MSH"][11] == version


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (InvalidInput.for_field("x", 1, "2"), AckCode.REJECT),
        (LimitExceeded("too much"), AckCode.REJECT),
        (MessageRejected.at(None, "x", "y"), AckCode.REJECT),
        (NotFound("no such patient"), AckCode.ERROR),
        (Conflict("clash"), AckCode.ERROR),
        (KetaclinicError("store failed"), AckCode.ERROR),
    ],
)
def test_exception_tree_maps_bad_input_to_ar_and_the_rest_to_ae(
    error: KetaclinicError, code: AckCode
) -> None:
    assert ack_code_for(error) is code
    ack = refuse(header(), error, now=NOW, ack_control_id="A", sender=SENDER)
    assert segments(ack)["MSA"][1] == code.value


def test_unknown_patient_is_reported_as_unknown_key() -> None:
    ack = refuse(header(), NotFound("no patient"), now=NOW, ack_control_id="A", sender=SENDER)
    assert segments(ack)["ERR"][3].startswith("204^")


def test_unreadable_msh_still_gets_a_valid_reject() -> None:
    error = MessageRejected.at(None, "garbage", "an HL7 message", Hl7ErrorCode.SEGMENT_SEQUENCE)
    seg = segments(refuse(None, error, now=NOW, ack_control_id="A-7", sender=SENDER))
    assert seg["MSH"][8] == "ACK"
    assert seg["MSH"][11] == DEFAULT_VERSION
    assert seg["MSA"][:3] == ["MSA", "AR", ""]
    assert seg["ERR"][2] == ""
    assert seg["ERR"][3].startswith("100^")


def test_echoed_text_is_escaped_and_cleaned_of_control_bytes() -> None:
    nasty = MessageHeader(
        control_id="A|B^C~D\\E&F\x1c\x0b\r",
        version="2.5.1",
        sending_application="MÜN",
        trigger_event="R01",
    )
    ack = accept(nasty, now=NOW, ack_control_id="A", sender=SENDER)
    assert b"\x1c" not in ack
    assert b"\x0b" not in ack
    seg = segments(ack)
    assert seg["MSA"][2] == "A\\F\\B\\S\\C\\R\\D\\E\\E\\T\\F   "
    assert seg["MSH"][4] == "M\\XC39C\\N"


def test_escaped_control_id_reads_back_as_the_original() -> None:
    original = "CTL|7^x&y"
    ack = accept(header(control_id=original), now=NOW, ack_control_id="A", sender=SENDER)
    # Reuse our own parser on an ORU built from the ACK's escaped MSA-2.
    echoed = segments(ack)["MSA"][2]
    oru = (f"MSH|^~\\&|M|F|K|D|20261120100000||ORU^R01|{echoed}|P|2.5.1\rPID|||DEMO-0001").encode()
    assert parse_oru(oru).control_id == original


def test_long_text_is_cut_to_the_msa_3_length() -> None:
    ack = build_ack(
        header(), AckCode.ERROR, now=NOW, ack_control_id="A", sender=SENDER, text="x" * 500
    )
    assert len(segments(ack)["MSA"][3]) == 80


def test_naive_time_is_refused() -> None:
    with pytest.raises(InvalidInput, match="now"):
        accept(header(), now=NOW.replace(tzinfo=None), ack_control_id="A", sender=SENDER)
