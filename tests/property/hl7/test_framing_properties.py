"""MLLP decoder properties: any chunking gives the same frames; any bytes are survivable."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ketaclinic.adapters.hl7.framing import Frame, FrameDecoder, FrameTooLarge, encode_frame

payloads = st.binary(max_size=300).map(lambda b: b.replace(b"\x0b", b"").replace(b"\x1c", b""))
noise = st.binary(max_size=40).map(lambda b: b.replace(b"\x0b", b""))


def feed_in_pieces(decoder: FrameDecoder, wire: bytes, cuts: list[int]) -> list[object]:
    events: list[object] = []
    points = sorted({min(c, len(wire)) for c in cuts})
    start = 0
    for point in [*points, len(wire)]:
        events += decoder.feed(wire[start:point])
        start = point
    return events


@given(st.lists(st.tuples(noise, payloads), max_size=8), st.lists(st.integers(0, 4000)))
def test_frames_survive_noise_between_them_and_any_chunking(
    parts: list[tuple[bytes, bytes]], cuts: list[int]
) -> None:
    wire = b"".join(gap + encode_frame(payload) for gap, payload in parts)
    decoder = FrameDecoder()
    events = feed_in_pieces(decoder, wire, cuts)
    assert events == [Frame(payload) for _, payload in parts]
    assert not decoder.in_frame


@given(st.binary(max_size=3000), st.lists(st.integers(0, 3000)), st.integers(1, 512))
def test_arbitrary_bytes_never_raise_and_never_exceed_the_buffer_limit(
    wire: bytes, cuts: list[int], limit: int
) -> None:
    decoder = FrameDecoder(max_frame_bytes=limit)
    events = []
    start = 0
    for point in [*sorted({min(c, len(wire)) for c in cuts}), len(wire)]:
        events += decoder.feed(wire[start:point])
        assert decoder.buffered_bytes <= limit
        start = point
    for event in events:
        assert isinstance(event, Frame | FrameTooLarge)
        if isinstance(event, Frame):
            assert len(event.payload) <= limit
    delivered = sum(len(e.payload) for e in events if isinstance(e, Frame))
    # Every byte is accounted for: delivered payload, discarded, still buffered, or envelope.
    assert delivered + decoder.discarded_bytes + decoder.buffered_bytes <= len(wire)
