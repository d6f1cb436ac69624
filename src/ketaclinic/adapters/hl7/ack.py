"""HL7 v2 acknowledgements (original mode): ``AA`` accepted, ``AE`` error, ``AR`` rejected.

This module is the one place where ketaclinic's exception tree becomes an HL7 ACK code
(``domain/errors.py``): bad input of any kind (:class:`InvalidInput`, including
:class:`MessageRejected` and :class:`LimitExceeded`) is ``AR`` — resending the same message will
not help — and every other deliberate error (unknown patient, conflict, a store that failed) is
``AE``.

An ACK echoes the incoming control id in MSA-2, answers in the incoming message's HL7 version,
carries a short reason in MSA-3 and, when refusing, an ERR segment with the location and the
HL7 error code (table 0357) in the layout of that version (ERR-1 up to 2.4, ERR-2..ERR-8 from
2.5). When MSH itself is unreadable the AR still comes out valid, with an empty MSA-2.

Echoed text is re-escaped for our standard separators, stripped of control characters (a stray
0x1C would break the MLLP framing) and written as ASCII, so any input gives a well-formed ACK.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum

from ketaclinic.adapters.hl7.rejection import ErrorLocation, Hl7ErrorCode, MessageRejected
from ketaclinic.adapters.hl7.segments import MessageHeader
from ketaclinic.domain.errors import InvalidInput, KetaclinicError, NotFound

DEFAULT_VERSION = "2.5.1"  # used only when the incoming version cannot be read
_VERSION = re.compile(r"2\.\d(?:\.\d)?", re.ASCII)
_EVENT = re.compile(r"[A-Z0-9]{3}", re.ASCII)
_MAX_ECHO_CHARS = 199
_MAX_TEXT_CHARS = 80  # MSA-3 is an 80-character text field

_ERROR_NAMES = {
    Hl7ErrorCode.SEGMENT_SEQUENCE: "Segment sequence error",
    Hl7ErrorCode.REQUIRED_FIELD_MISSING: "Required field missing",
    Hl7ErrorCode.DATA_TYPE: "Data type error",
    Hl7ErrorCode.TABLE_VALUE_NOT_FOUND: "Table value not found",
    Hl7ErrorCode.UNSUPPORTED_MESSAGE_TYPE: "Unsupported message type",
    Hl7ErrorCode.UNSUPPORTED_EVENT: "Unsupported event code",
    Hl7ErrorCode.UNSUPPORTED_PROCESSING_ID: "Unsupported processing id",
    Hl7ErrorCode.UNSUPPORTED_VERSION: "Unsupported version id",
    Hl7ErrorCode.UNKNOWN_KEY: "Unknown key identifier",
    Hl7ErrorCode.DUPLICATE_KEY: "Duplicate key identifier",
    Hl7ErrorCode.INTERNAL_ERROR: "Application internal error",
}


class AckCode(StrEnum):
    ACCEPT = "AA"
    ERROR = "AE"
    REJECT = "AR"


@dataclass(frozen=True, slots=True)
class AckSender:
    """Who we are in the ACK's MSH-3/MSH-4."""

    application: str = "KETACLINIC"
    facility: str = ""


def ack_code_for(error: KetaclinicError) -> AckCode:
    """The exception tree's HL7 translation: bad input → ``AR``; anything else → ``AE``."""
    return AckCode.REJECT if isinstance(error, InvalidInput) else AckCode.ERROR


def hl7_code_for(error: KetaclinicError) -> Hl7ErrorCode:
    """ERR-3 for an error: the parser's own code, else the closest table 0357 entry."""
    if isinstance(error, MessageRejected):
        return error.hl7_code
    if isinstance(error, NotFound):
        return Hl7ErrorCode.UNKNOWN_KEY
    if isinstance(error, InvalidInput):
        return Hl7ErrorCode.DATA_TYPE
    return Hl7ErrorCode.INTERNAL_ERROR


def accept(
    header: MessageHeader, *, now: dt.datetime, ack_control_id: str, sender: AckSender
) -> bytes:
    """``AA`` for a message whose observations are stored (or were stored before)."""
    return build_ack(header, AckCode.ACCEPT, now=now, ack_control_id=ack_control_id, sender=sender)


def refuse(
    header: MessageHeader | None,
    error: KetaclinicError,
    *,
    now: dt.datetime,
    ack_control_id: str,
    sender: AckSender,
) -> bytes:
    """``AR`` or ``AE`` (by :func:`ack_code_for`) with the error's message and an ERR segment."""
    location = error.location if isinstance(error, MessageRejected) else None
    return build_ack(
        header,
        ack_code_for(error),
        now=now,
        ack_control_id=ack_control_id,
        sender=sender,
        text=error.message,
        location=location,
        hl7_code=hl7_code_for(error),
    )


def build_ack(
    header: MessageHeader | None,
    code: AckCode,
    *,
    now: dt.datetime,
    ack_control_id: str,
    sender: AckSender,
    text: str = "",
    location: ErrorLocation | None = None,
    hl7_code: Hl7ErrorCode | None = None,
) -> bytes:
    """An ACK message (segments joined by CR, ASCII bytes, no MLLP envelope).

    ``header`` is the incoming MSH (``None`` when unreadable); ``now`` must be timezone-aware.
    An ERR segment is added when ``hl7_code`` is given.
    """
    h = header or MessageHeader(control_id="", version="")
    version = h.version if _VERSION.fullmatch(h.version) else DEFAULT_VERSION
    event = h.trigger_event if _EVENT.fullmatch(h.trigger_event) else ""
    if not event:
        message_type = "ACK"
    elif version == "2.3":  # MSH-9 gained the message structure component in 2.3.1
        message_type = f"ACK^{event}"
    else:
        message_type = f"ACK^{event}^ACK"
    processing = h.processing_id if h.processing_id in {"P", "D", "T"} else "P"
    msh = "|".join(
        [
            "MSH",
            "^~\\&",
            _echo(sender.application),
            _echo(sender.facility),
            _echo(h.sending_application),
            _echo(h.sending_facility),
            _timestamp(now),
            "",
            message_type,
            _echo(ack_control_id),
            processing,
            version,
        ]
    )
    segments = [
        msh,
        "|".join(["MSA", code.value, _echo(h.control_id), _echo(text, _MAX_TEXT_CHARS)]),
    ]
    if hl7_code is not None:
        segments.append(_err(version, location, hl7_code, text))
    return "\r".join(segments).encode("ascii")


def _err(version: str, location: ErrorLocation | None, hl7_code: Hl7ErrorCode, text: str) -> str:
    name = _ERROR_NAMES[hl7_code]
    where = ""
    if location is not None:
        field = "" if location.field is None else str(location.field)
        where = f"{location.segment}^{location.sequence}^{field}"
    if version in {"2.3", "2.3.1", "2.4"}:
        # ERR-1 (ELD): segment ^ sequence ^ field ^ code&text&HL70357
        eld = (where or "^^") + f"^{hl7_code.value}&{name}&HL70357"
        return f"ERR|{eld}"
    # ERR-2 location, ERR-3 code, ERR-4 severity, ERR-8 user message.
    return "|".join(
        ["ERR", "", where, f"{hl7_code.value}^{name}^HL70357", "E", "", "", "", _echo(text)]
    )


def _timestamp(now: dt.datetime) -> str:
    if now.tzinfo is None:
        raise InvalidInput.for_field("now", now.isoformat(), "a timezone-aware time")
    return now.astimezone(dt.UTC).strftime("%Y%m%d%H%M%S+0000")


def _echo(value: str, limit: int = _MAX_ECHO_CHARS) -> str:
    """``value`` as an escaped ASCII field for the separators ``|^~\\&``, at most ``limit``
    characters of the original."""
    out: list[str] = []
    escapes = {"\\": "\\E\\", "|": "\\F\\", "^": "\\S\\", "&": "\\T\\", "~": "\\R\\"}
    for ch in value[:limit]:
        if ch in escapes:
            out.append(escapes[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(" ")
        elif ord(ch) > 0x7E:
            out.append("\\X" + ch.encode("utf-8").hex().upper() + "\\")
        else:
            out.append(ch)
    return "".join(out)
