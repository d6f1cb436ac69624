"""Reading HL7 v2 text: separators, segments, fields, components, escapes and timestamps.

The small, exact subset of HL7 v2 encoding rules the monitor adapter needs. Segments are split
here rather than with python-hl7: its unescape logs field contents (raw health data in logs,
STYLE.md §14), warns through a deprecated logging call (an error under our test settings) and
expands ``\\.spN\\`` without bound. Nothing here grows its input: an unescaped value is never
longer than the escaped one.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from ketaclinic.adapters.hl7.rejection import ErrorLocation, Hl7ErrorCode, MessageRejected

_TIMESTAMP = re.compile(
    r"(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?(?:\.(\d{1,4}))?(?:([+-])(\d{2})(\d{2}))?",
    re.ASCII,  # int() would accept other scripts' digits; HL7 times are ASCII
)


@dataclass(frozen=True, slots=True)
class MessageHeader:
    """The MSH fields an acknowledgement echoes. Values are unescaped text."""

    control_id: str
    version: str
    sending_application: str = ""
    sending_facility: str = ""
    receiving_application: str = ""
    receiving_facility: str = ""
    processing_id: str = ""
    message_type: str = ""
    trigger_event: str = ""


@dataclass(frozen=True, slots=True)
class Encoding:
    """The five separator characters of one message (MSH-1 and MSH-2)."""

    field: str
    component: str
    repetition: str
    escape: str
    subcomponent: str

    def unescape(self, text: str) -> str:
        """Resolve separator and hex escapes; drop formatting escapes; keep broken ones as is.

        The result is never longer than ``text``, so no input can make it grow.
        """
        esc = self.escape
        if not esc or esc not in text:
            return text
        out: list[str] = []
        i = 0
        while i < len(text):
            ch = text[i]
            end = text.find(esc, i + 1) if ch == esc else -1
            if end < 0:
                out.append(ch)
                i += 1
                continue
            out.append(self._escape_value(text[i + 1 : end]))
            i = end + 1
        return "".join(out)

    def _escape_value(self, name: str) -> str:
        simple = {
            "F": self.field,
            "S": self.component,
            "R": self.repetition,
            "E": self.escape,
            "T": self.subcomponent,
        }
        if name in simple:
            return simple[name]
        if name.startswith("X") and len(name) % 2 == 1:
            try:
                raw = bytes.fromhex(name[1:])
            except ValueError:
                return ""
            try:
                return raw.decode("utf-8")
            except UnicodeDecodeError:
                return raw.decode("latin-1")
        return ""  # highlighting, formatting and character-set switches carry no data here


class Segment:
    """One segment's fields, addressed by HL7 field position (MSH-1 is the field separator)."""

    __slots__ = ("_first", "enc", "fields", "name", "sequence")

    def __init__(self, text: str, enc: Encoding, sequence: int) -> None:
        self.enc = enc
        self.sequence = sequence
        self._first: dict[int, list[str]] = {}  # components of a field's first repetition
        parts = text.split(enc.field)
        self.name = parts[0]
        if self.name == "MSH":
            # MSH-1 is the separator itself and MSH-2 the encoding characters.
            self.fields = ["MSH", enc.field, *parts[1:]]
        else:
            self.fields = parts

    def raw(self, position: int) -> str:
        return self.fields[position] if position < len(self.fields) else ""

    def repetitions(self, position: int) -> list[str]:
        return self.raw(position).split(self.enc.repetition)

    def components(self, position: int, repetition: str | None = None) -> list[str]:
        """Unescaped components of the first repetition (or of the one given).

        A component's subcomponents beyond the first are dropped: nothing we read uses them.
        """
        if repetition is None:
            return list(self._first_components(position))
        return self._split(repetition)

    def _first_components(self, position: int) -> list[str]:
        """The cached components of a field's first repetition (callers must not change it)."""
        cached = self._first.get(position)
        if cached is None:
            cached = self._split(self.raw(position).split(self.enc.repetition, 1)[0])
            self._first[position] = cached
        return cached

    def _split(self, value: str) -> list[str]:
        enc = self.enc
        parts = value.split(enc.component)
        # Most fields carry neither escapes nor subcomponents: nothing more to do.
        if enc.escape not in value and enc.subcomponent not in value:
            return parts
        return [enc.unescape(part.split(enc.subcomponent, 1)[0]) for part in parts]

    def component(self, position: int, index: int = 1) -> str:
        parts = self._first_components(position)
        return parts[index - 1].strip() if index <= len(parts) else ""

    def where(self, position: int | None = None) -> ErrorLocation:
        return ErrorLocation(self.name, self.sequence, position)


def read_header(payload: bytes) -> MessageHeader | None:
    """Best-effort MSH of a payload that may be broken or cut off; ``None`` if there is none.

    Used to address an AR to the right control id when the message itself was refused.
    Never raises.
    """
    try:
        text = payload.decode("latin-1")  # every byte maps to one char: cannot fail
        segments = split_segments(text)
        enc = encoding_of(segments[0]) if segments else None
    except Exception:  # best effort by contract: a header we cannot read is no header
        return None
    if enc is None:
        return None
    return header_of(Segment(segments[0], enc, 1))


def split_segments(text: str) -> list[str]:
    """Segments of a message. CR is the separator; LF and CRLF are accepted too, because
    files and some gateways use them, and blank lines are dropped."""
    text = text.lstrip("\ufeff \t\r\n")
    text = text.replace("\r\n", "\r").replace("\n", "\r")
    return [seg for seg in text.split("\r") if seg.strip()]


def encoding_of(first_segment: str) -> Encoding | None:
    """Separators from MSH-1/MSH-2, or ``None`` when the segment is not a usable MSH."""
    if not first_segment.startswith("MSH") or len(first_segment) < 5:
        return None
    sep = first_segment[3]
    end = first_segment.find(sep, 4)
    chars = first_segment[4:] if end < 0 else first_segment[4:end]
    defaults = "^~\\&"
    chars = chars[:4]
    full = chars + defaults[len(chars) :]
    if sep.isalnum() or sep.isspace() or any(c.isalnum() or c.isspace() for c in chars):
        return None
    if len(set(full + sep)) != 5:
        return None
    return Encoding(sep, full[0], full[1], full[2], full[3])


def header_of(msh: Segment) -> MessageHeader:
    """The echoed MSH fields of a segment already known to be MSH."""
    return MessageHeader(
        control_id=msh.component(10),
        version=msh.component(12),
        sending_application=msh.component(3),
        sending_facility=msh.component(4),
        receiving_application=msh.component(5),
        receiving_facility=msh.component(6),
        processing_id=msh.component(11),
        message_type=msh.component(9, 1),
        trigger_event=msh.component(9, 2),
    )


def decode(payload: bytes) -> str:
    """Text in the character set MSH-18 names; UTF-8 (of which ASCII is part) when empty."""
    head = split_segments(payload[:4096].decode("latin-1"))
    enc = encoding_of(head[0]) if head else None
    charset = Segment(head[0], enc, 1).component(18).upper() if enc else ""
    where = ErrorLocation("MSH", 1, 18)
    if charset in {"8859/1", "ISO IR100"}:
        return payload.decode("latin-1")
    if charset in {"8859/15"}:
        return payload.decode("iso8859_15")
    if charset not in {"", "ASCII", "UNICODE UTF-8", "UTF-8", "ISO IR6"}:
        raise MessageRejected.at(
            where, charset, "UTF-8, ASCII or 8859/1", Hl7ErrorCode.TABLE_VALUE_NOT_FOUND
        )
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        raise MessageRejected.at(
            where, charset or "(empty)", "text in UTF-8, or MSH-18 naming the character set"
        ) from None


def parse_timestamp(text: str, local_tz: dt.tzinfo, where: ErrorLocation) -> dt.datetime:
    """An HL7 TS (``YYYYMMDDHHMM[SS[.S…]][+/-ZZZZ]``) as an aware UTC datetime.

    At least minute precision is required: a vital sign without a time of day cannot be placed
    on an infusion timeline. Without an offset the time is read in ``local_tz``.
    """
    match = _TIMESTAMP.fullmatch(text)
    expected = "a time as YYYYMMDDHHMM[SS[.SSSS]][+/-ZZZZ]"
    if match is None:
        raise MessageRejected.at(where, text, expected)
    year, month, day, hour, minute, second, fraction, sign, off_h, off_m = match.groups()
    micro = int((fraction or "0").ljust(6, "0")[:6])
    try:
        tz = local_tz
        if sign:
            offset = dt.timedelta(hours=int(off_h), minutes=int(off_m))
            if offset > dt.timedelta(hours=14) or int(off_m) >= 60:
                raise ValueError("offset out of range")
            tz = dt.timezone(offset if sign == "+" else -offset)
        moment = dt.datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second or 0), micro, tz
        )
        if moment.year < 1900:
            raise ValueError("too early")
        return moment.astimezone(dt.UTC)
    except (ValueError, OverflowError):
        raise MessageRejected.at(where, text, expected) from None
