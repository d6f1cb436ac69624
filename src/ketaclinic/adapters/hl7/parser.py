"""ORU^R01 from a bedside monitor → a typed :class:`MonitorMessage` (DESIGN.md §4.4).

Accepts HL7 v2.3–2.6 observation messages as IHE PCD-01 gateways and simpler monitors send them:

- MSH: separators, sending application/facility, MSH-7 message time, MSH-9 ``ORU^R01``,
  MSH-10 control id, MSH-11 processing id ``P``, MSH-12 version, MSH-18 character set.
- PID-3: the patient's MRN (the repetition typed ``MR`` if there is one, else the first).
- PV1-3 (optional): the chair, taken from the bed component, else the point of care.
- OBX: OBX-3 recognised by LOINC or MDC code (``kind_for_code``), OBX-5 numeric value, OBX-6
  unit, OBX-11 result status, OBX-14 observation time (else OBR-7, else MSH-7).

OBX segments with codes we do not record, and results that are not values (status ``X`` cannot
be obtained, ``D`` deleted, ...) are skipped and counted. Everything else that is wrong raises
:class:`MessageRejected`, an :class:`InvalidInput` that also carries where in the message the
problem is and the HL7 error code (table 0357) for the ACK's ERR segment. No other exception
escapes :func:`parse_oru`, whatever bytes it is given.

Splitting text into segments and fields is ``segments.py``; the error type is ``rejection.py``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from ketaclinic.adapters.hl7.rejection import ErrorLocation, Hl7ErrorCode, MessageRejected
from ketaclinic.adapters.hl7.segments import (
    MessageHeader,
    Segment,
    decode,
    encoding_of,
    header_of,
    parse_timestamp,
    split_segments,
)
from ketaclinic.adapters.hl7.units import converter_for
from ketaclinic.domain.errors import InvalidInput
from ketaclinic.domain.vitals import SPECS, VitalKind, VitalReading, VitalSource, kind_for_code

SUPPORTED_VERSIONS = ("2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6")
MAX_CONTROL_ID_CHARS = 199  # the longest MSH-10 any 2.x version allows
MAX_IDENTIFIER_CHARS = 64  # MRN and chair: far longer than any real one (design)
_MAX_NUMBER_CHARS = 32

# OBX-3 coding systems under which an identifier is looked up; anything else (a local "99..."
# system) is looked up only through the alternate identifier.
_CODE_SYSTEMS = frozenset({"", "LN", "LNC", "LOINC", "MDC"})
# HL7 table 0085 result status. The second set are not measured values: skipped, not stored.
_RESULT_STATUSES = frozenset("ABCDFINOPRSUWX")
_NOT_A_VALUE = frozenset("DINOWX")
_PROCESSING_IDS = frozenset({"", "P"})

# HL7 NM: optional sign, ASCII digits, optional decimal point. No exponent, no NaN or infinity.
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)", re.ASCII)


@dataclass(frozen=True, slots=True)
class MonitorObservation:
    """One recognised OBX: the reading in its stored unit, and what the monitor sent with it."""

    obx_index: int  # 1-based position among the message's OBX segments
    reading: VitalReading
    unit_sent: str  # OBX-6 identifier as sent ("" when absent)
    status: str  # OBX-11 ("" when absent)

    @property
    def kind(self) -> VitalKind:
        return self.reading.kind

    @property
    def value(self) -> float:
        return self.reading.value


@dataclass(frozen=True, slots=True)
class MonitorMessage:
    """A parsed ORU^R01. ``message_time`` and every reading time are timezone-aware UTC."""

    header: MessageHeader
    message_time: dt.datetime
    mrn: str
    chair: str | None
    observations: tuple[MonitorObservation, ...]
    skipped_obx: int  # OBX segments with unrecognised codes or non-value statuses

    @property
    def control_id(self) -> str:
        return self.header.control_id

    @property
    def dedup_key(self) -> tuple[str, str, str]:
        """(sending application, sending facility, MSH-10): what makes a message a repeat.

        MSH-10 is unique per sender, not across senders; two monitors may both count from 1, and
        treating the second as a duplicate would silently drop its readings.
        """
        h = self.header
        return (h.sending_application, h.sending_facility, h.control_id)


def parse_oru(payload: bytes, *, local_tz: dt.tzinfo = dt.UTC) -> MonitorMessage:
    """Parse one MLLP payload into a :class:`MonitorMessage`.

    ``local_tz`` is the zone of timestamps sent without an offset (the clinic's zone).
    Raises :class:`MessageRejected` for anything it cannot accept, and nothing else.
    """
    try:
        return _parse(payload, local_tz)
    except MessageRejected:
        raise
    except Exception as error:  # the contract: only typed rejections escape, whatever the bytes
        raise MessageRejected.at(
            None,
            type(error).__name__,
            "a well-formed HL7 message",
            Hl7ErrorCode.INTERNAL_ERROR,
        ) from error


def _parse(payload: bytes, local_tz: dt.tzinfo) -> MonitorMessage:
    texts = split_segments(decode(payload))
    enc = encoding_of(texts[0]) if texts else None
    if enc is None:
        raise MessageRejected.at(
            ErrorLocation("MSH"),
            "no usable MSH segment",
            "a message starting with MSH and its separators",
            Hl7ErrorCode.SEGMENT_SEQUENCE,
        )
    counts: dict[str, int] = {}
    segments: list[Segment] = []
    for text in texts:
        name = text.split(enc.field, 1)[0]
        counts[name] = counts.get(name, 0) + 1
        segments.append(Segment(text, enc, counts[name]))
    msh = segments[0]
    header = _check_header(msh)
    message_time = _required_time(msh, 7, local_tz)
    pid = _first(segments, "PID")
    if pid is None:
        raise MessageRejected.at(
            ErrorLocation("PID"), "missing", "a PID segment", Hl7ErrorCode.SEGMENT_SEQUENCE
        )
    mrn = _mrn(pid)
    pv1 = _first(segments, "PV1")
    chair = _chair(pv1) if pv1 is not None else None
    obr = _first(segments, "OBR")
    default_time = message_time
    if obr is not None and obr.component(7):
        default_time = _required_time(obr, 7, local_tz)
    observations: list[MonitorObservation] = []
    skipped = 0
    seen_times: dict[str, dt.datetime] = {}  # monitors repeat one OBX-14 on every OBX
    for obx in (seg for seg in segments if seg.name == "OBX"):
        observation = _observation(obx, default_time, local_tz, seen_times)
        if observation is None:
            skipped += 1
        else:
            observations.append(observation)
    return MonitorMessage(header, message_time, mrn, chair, tuple(observations), skipped)


def _first(segments: list[Segment], name: str) -> Segment | None:
    return next((seg for seg in segments if seg.name == name), None)


def _check_header(msh: Segment) -> MessageHeader:
    header = header_of(msh)
    missing = Hl7ErrorCode.REQUIRED_FIELD_MISSING
    if not header.control_id:
        raise MessageRejected.at(msh.where(10), "", "a message control id", missing)
    if len(header.control_id) > MAX_CONTROL_ID_CHARS:
        raise MessageRejected.at(
            msh.where(10),
            f"{len(header.control_id)} characters",
            f"at most {MAX_CONTROL_ID_CHARS} characters",
        )
    if header.message_type != "ORU":
        raise MessageRejected.at(
            msh.where(9), header.message_type, "ORU", Hl7ErrorCode.UNSUPPORTED_MESSAGE_TYPE
        )
    if header.trigger_event != "R01":
        raise MessageRejected.at(
            msh.where(9), header.trigger_event, "R01", Hl7ErrorCode.UNSUPPORTED_EVENT
        )
    if header.processing_id.upper() not in _PROCESSING_IDS:
        # Training and debugging messages must never land in a patient's record.
        raise MessageRejected.at(
            msh.where(11),
            header.processing_id,
            "P (production)",
            Hl7ErrorCode.UNSUPPORTED_PROCESSING_ID,
        )
    if header.version not in SUPPORTED_VERSIONS:
        raise MessageRejected.at(
            msh.where(12),
            header.version,
            f"one of {', '.join(SUPPORTED_VERSIONS)}",
            Hl7ErrorCode.UNSUPPORTED_VERSION,
        )
    return header


def _identifier(segment: Segment, position: int, value: str, what: str) -> str:
    """Check an identifier's shape; errors report its length, never its content."""
    if len(value) > MAX_IDENTIFIER_CHARS or any(ord(c) < 32 for c in value):
        raise MessageRejected.at(
            segment.where(position),
            f"{len(value)} characters",
            f"{what} of at most {MAX_IDENTIFIER_CHARS} printable characters",
        )
    return value


def _mrn(pid: Segment) -> str:
    chosen = ""
    for repetition in pid.repetitions(3):
        parts = pid.components(3, repetition)
        ident = parts[0].strip()
        kind = parts[4].strip().upper() if len(parts) > 4 else ""
        if ident and kind == "MR":
            chosen = ident
            break
        if ident and not chosen:
            chosen = ident
    if not chosen:
        raise MessageRejected.at(
            pid.where(3), "", "the patient's MRN", Hl7ErrorCode.REQUIRED_FIELD_MISSING
        )
    return _identifier(pid, 3, chosen, "an MRN")


def _chair(pv1: Segment) -> str | None:
    bed = pv1.component(3, 3)
    chair = bed or pv1.component(3, 1)
    return _identifier(pv1, 3, chair, "a chair id") if chair else None


def _required_time(segment: Segment, position: int, local_tz: dt.tzinfo) -> dt.datetime:
    text = segment.component(position)
    if not text:
        raise MessageRejected.at(
            segment.where(position), "", "a date and time", Hl7ErrorCode.REQUIRED_FIELD_MISSING
        )
    return parse_timestamp(text, local_tz, segment.where(position))


def _code(obx: Segment) -> tuple[VitalKind, str] | None:
    parts = obx.components(3) + [""] * 6
    for raw_ident, system in ((parts[0], parts[2]), (parts[3], parts[5])):
        ident = raw_ident.strip()
        if ident and system.strip().upper() in _CODE_SYSTEMS:
            kind = kind_for_code(ident)
            if kind is not None:
                return kind, ident
    return None


def _number(obx: Segment) -> float:
    where = obx.where(5)
    value_type = obx.component(2).upper()
    parts = obx.components(5)
    if value_type == "SN":
        # Structured numeric: comparator ^ number ^ separator ^ number. Only a plain "= n" is a
        # measured value; "<90" or a range is not something to chart or alert on.
        parts = parts + [""] * 4
        if parts[0].strip() not in {"", "="} or parts[2].strip() or parts[3].strip():
            raise MessageRejected.at(where, "^".join(parts).strip("^"), "a single number")
        text = parts[1].strip()
    else:
        text = parts[0].strip()
    if len(text) > _MAX_NUMBER_CHARS or not _NUMBER.fullmatch(text):
        raise MessageRejected.at(where, text, "a number")
    return float(text)


def _observation(
    obx: Segment,
    default_time: dt.datetime,
    local_tz: dt.tzinfo,
    seen_times: dict[str, dt.datetime],
) -> MonitorObservation | None:
    """The observation in one OBX, or ``None`` when the OBX is to be skipped."""
    found = _code(obx)
    if found is None:
        return None
    kind, code = found
    status = obx.component(11).upper()
    if status and (len(status) != 1 or status not in _RESULT_STATUSES):
        raise MessageRejected.at(
            obx.where(11),
            status,
            "a result status from HL7 table 0085",
            Hl7ErrorCode.TABLE_VALUE_NOT_FOUND,
        )
    if status in _NOT_A_VALUE:
        return None
    value = _number(obx)
    unit_parts = obx.components(6) + [""] * 5
    unit_codes = (unit_parts[0], unit_parts[1], unit_parts[3], unit_parts[4])
    convert = converter_for(kind, unit_codes)
    if convert is None:
        raise MessageRejected.at(
            obx.where(6),
            unit_parts[0] or unit_parts[1],
            f"a unit for {kind.value} such as {SPECS[kind].unit}",
            Hl7ErrorCode.TABLE_VALUE_NOT_FOUND,
        )
    observed_at = default_time
    text = obx.component(14)
    if text:
        observed_at = seen_times.get(text) or parse_timestamp(text, local_tz, obx.where(14))
        seen_times[text] = observed_at
    try:
        reading = VitalReading(kind, convert(value), observed_at, VitalSource.MONITOR, code)
    except InvalidInput as error:
        raise MessageRejected.at(
            obx.where(5), value, error.expected or "a plausible value"
        ) from None
    return MonitorObservation(obx.sequence, reading, unit_parts[0].strip(), status)
