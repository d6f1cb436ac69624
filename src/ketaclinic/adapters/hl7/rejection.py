"""Why a monitor message was refused, and where: the typed error the HL7 adapter raises.

:class:`MessageRejected` is an :class:`InvalidInput` (so the exception tree of
``domain/errors.py`` maps it to ``AR`` like any other bad input) that also carries the location
in the message and the HL7 error code (table 0357) the ACK's ERR segment reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from ketaclinic.domain.errors import InvalidInput


class Hl7ErrorCode(IntEnum):
    """HL7 table 0357 (message error condition codes) as used in ERR-3."""

    SEGMENT_SEQUENCE = 100
    REQUIRED_FIELD_MISSING = 101
    DATA_TYPE = 102
    TABLE_VALUE_NOT_FOUND = 103
    UNSUPPORTED_MESSAGE_TYPE = 200
    UNSUPPORTED_EVENT = 201
    UNSUPPORTED_PROCESSING_ID = 202
    UNSUPPORTED_VERSION = 203
    UNKNOWN_KEY = 204
    DUPLICATE_KEY = 205
    INTERNAL_ERROR = 207


@dataclass(frozen=True, slots=True)
class ErrorLocation:
    """Where a problem sits: segment id, its 1-based occurrence, and the field position."""

    segment: str
    sequence: int = 1
    field: int | None = None

    def label(self) -> str:
        """``MSH-10``, ``OBX[3]-5`` or ``PID``: the name used as the error's field."""
        seq = "" if self.segment in {"MSH", "PID", "PV1"} else f"[{self.sequence}]"
        pos = "" if self.field is None else f"-{self.field}"
        return f"{self.segment}{seq}{pos}"


class MessageRejected(InvalidInput):
    """A message the listener cannot accept. Answered with ``AR`` and an ERR segment.

    ``location`` says where (``None`` when the bytes are not an HL7 message at all) and
    ``hl7_code`` gives ERR-3. The message names the field, the value and what was expected, and
    never repeats an identifier from the message (an MRN is reported by its length only).
    """

    code = "hl7_message_rejected"

    def __init__(
        self,
        message: str,
        *,
        field: str | None,
        value: Any,
        expected: str,
        location: ErrorLocation | None,
        hl7_code: Hl7ErrorCode,
    ) -> None:
        super().__init__(message, field=field, value=value, expected=expected)
        self.location = location
        self.hl7_code = hl7_code

    @classmethod
    def at(
        cls,
        location: ErrorLocation | None,
        value: Any,
        expected: str,
        hl7_code: Hl7ErrorCode = Hl7ErrorCode.DATA_TYPE,
    ) -> MessageRejected:
        plain = InvalidInput.for_field(location.label() if location else "message", value, expected)
        return cls(
            plain.message,
            field=plain.field,
            value=value,
            expected=expected,
            location=location,
            hl7_code=hl7_code,
        )
