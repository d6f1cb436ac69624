"""MLLP framing: the byte envelope HL7 v2 messages travel in over TCP.

A frame is ``0x0B <payload> 0x1C 0x0D`` (start block, payload, end block, carriage return). TCP
delivers a byte stream, so one ``read`` may hold half a frame, several frames, or bytes that belong
to no frame at all. :class:`FrameDecoder` is fed whatever arrives and returns complete frames; it
never holds more than ``max_frame_bytes`` of payload, so a sender that streams a 10 MB "message"
is refused as soon as the limit is passed instead of being buffered.

Leniency, and why:

- Bytes outside a frame (line noise, a stray newline between frames) are discarded and counted;
  the next start block resynchronises the stream.
- A start block inside a frame means the previous frame was cut off (a sender restarted
  mid-message). The unfinished frame is discarded and a new one begins, so one truncated message
  does not swallow the next good one.
- An end block not followed by a carriage return still ends the frame: some gateways omit the CR,
  and the end block cannot occur inside a valid payload anyway.
"""

from __future__ import annotations

from dataclasses import dataclass

from ketaclinic.domain.errors import InvalidInput

START_BLOCK = 0x0B
END_BLOCK = 0x1C
CARRIAGE_RETURN = 0x0D

_START = bytes([START_BLOCK])
_END = bytes([END_BLOCK])
_TRAILER = bytes([END_BLOCK, CARRIAGE_RETURN])

# 1 MiB: an ORU^R01 with a few dozen vitals is a few kB; a megabyte already means something is
# wrong, and it bounds memory per connection (design).
DEFAULT_MAX_FRAME_BYTES = 1 << 20

# How much of an oversized frame is kept so the listener can still read its MSH segment and
# address the reject to the right control id (design: an MSH segment fits easily).
HEAD_BYTES = 4096


@dataclass(frozen=True, slots=True)
class Frame:
    """One complete MLLP payload, without the envelope bytes."""

    payload: bytes


@dataclass(frozen=True, slots=True)
class FrameTooLarge:
    """A frame passed ``limit_bytes`` and is being discarded up to its end block.

    ``head`` holds the frame's first bytes (at most :data:`HEAD_BYTES`), enough to read MSH.
    Reported once per oversized frame, at the moment the limit is passed.
    """

    limit_bytes: int
    head: bytes


FrameEvent = Frame | FrameTooLarge


def encode_frame(payload: bytes) -> bytes:
    """Wrap ``payload`` in the MLLP envelope.

    Raises :class:`InvalidInput` when the payload contains a start or end block byte, which
    would corrupt the framing at the receiver.
    """
    if START_BLOCK in payload or END_BLOCK in payload:
        raise InvalidInput.for_field(
            "payload", f"{len(payload)} bytes", "no 0x0B or 0x1C bytes inside an MLLP payload"
        )
    return _START + payload + _TRAILER


class FrameDecoder:
    """Incremental MLLP decoder for one connection.

    Feed it the bytes as they arrive with :meth:`feed`; it returns the events completed by those
    bytes, in order. State carries over between calls, so frames may be split at any byte.

    Memory: at most ``max_frame_bytes`` of payload plus one pending end-block byte is held.
    :attr:`discarded_bytes` counts payload and noise bytes that did not end up in a delivered
    frame (envelope bytes are not counted); :attr:`noise_bytes` counts only those found outside
    any frame.
    """

    __slots__ = (
        "_buffer",
        "_pending_end",
        "_skipping",
        "discarded_bytes",
        "max_frame_bytes",
        "noise_bytes",
    )

    def __init__(self, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> None:
        if max_frame_bytes < 1:
            raise InvalidInput.for_field("max_frame_bytes", max_frame_bytes, "at least 1")
        self.max_frame_bytes = max_frame_bytes
        self.discarded_bytes = 0
        self.noise_bytes = 0
        # None: outside any frame. A bytearray: inside a frame, collecting payload.
        self._buffer: bytearray | None = None
        # Inside an oversized frame: dropping bytes until its end block.
        self._skipping = False
        # The last byte seen was an end block; waiting to see whether a CR follows.
        self._pending_end = False

    @property
    def in_frame(self) -> bool:
        """True between a start block and the end of that frame (including oversized ones)."""
        return self._buffer is not None or self._skipping

    @property
    def buffered_bytes(self) -> int:
        """Payload bytes currently held for an unfinished frame."""
        return 0 if self._buffer is None else len(self._buffer)

    def feed(self, data: bytes) -> list[FrameEvent]:
        """Consume ``data`` and return the frames (and oversize notices) it completed."""
        events: list[FrameEvent] = []
        pos = 0
        size = len(data)
        if self._pending_end and size:
            self._pending_end = False
            if data[0] == CARRIAGE_RETURN:
                pos = 1
        while pos < size:
            buffer = self._buffer
            if self._skipping:
                pos = self._skip(data, pos)
            elif buffer is None:
                pos = self._seek_start(data, pos)
            else:
                pos = self._collect(buffer, data, pos, events)
        return events

    def _seek_start(self, data: bytes, pos: int) -> int:
        start = data.find(_START, pos)
        stop = len(data) if start < 0 else start
        self.discarded_bytes += stop - pos
        self.noise_bytes += stop - pos
        if start < 0:
            return stop
        self._buffer = bytearray()
        return start + 1

    def _collect(self, buffer: bytearray, data: bytes, pos: int, events: list[FrameEvent]) -> int:
        end = data.find(_END, pos)
        restart = data.find(_START, pos, len(data) if end < 0 else end)
        if restart >= 0:
            # A new frame starts before this one ended: the sender gave up on this one.
            self.discarded_bytes += len(buffer) + (restart - pos)
            self._buffer = bytearray()
            return restart + 1
        stop = len(data) if end < 0 else end
        if len(buffer) + (stop - pos) > self.max_frame_bytes:
            room = self.max_frame_bytes - len(buffer)
            buffer += data[pos : pos + room]
            self.discarded_bytes += len(buffer)
            self._buffer = None
            self._skipping = True
            events.append(FrameTooLarge(self.max_frame_bytes, bytes(buffer[:HEAD_BYTES])))
            return pos + room
        buffer += data[pos:stop]
        if end < 0:
            return len(data)
        events.append(Frame(bytes(buffer)))
        self._buffer = None
        return self._after_end(data, end)

    def _skip(self, data: bytes, pos: int) -> int:
        end = data.find(_END, pos)
        if end < 0:
            self.discarded_bytes += len(data) - pos
            return len(data)
        self.discarded_bytes += end - pos
        self._skipping = False
        return self._after_end(data, end)

    def _after_end(self, data: bytes, end: int) -> int:
        """Position after an end block at ``end``, consuming the CR that should follow it."""
        nxt = end + 1
        if nxt == len(data):
            self._pending_end = True
            return nxt
        return nxt + 1 if data[nxt] == CARRIAGE_RETURN else nxt
