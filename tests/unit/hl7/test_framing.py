"""MLLP framing: encoder and the incremental decoder."""

from __future__ import annotations

import pytest

from ketaclinic.adapters.hl7.framing import (
    HEAD_BYTES,
    Frame,
    FrameDecoder,
    FrameTooLarge,
    encode_frame,
)
from ketaclinic.domain.errors import InvalidInput

MSG = b"MSH|^~\\&|A|B|C|D|20261120100000||ORU^R01|1|P|2.5\rPID|||DEMO-0001"


def test_encode_wraps_payload_in_start_and_end_blocks() -> None:
    assert encode_frame(b"abc") == b"\x0babc\x1c\r"


@pytest.mark.parametrize("bad", [b"a\x0bb", b"a\x1cb"])
def test_encode_refuses_payload_containing_envelope_bytes(bad: bytes) -> None:
    with pytest.raises(InvalidInput, match="payload"):
        encode_frame(bad)


def test_one_frame_in_one_read_is_delivered() -> None:
    assert FrameDecoder().feed(encode_frame(MSG)) == [Frame(MSG)]


def test_frame_split_at_every_byte_is_reassembled() -> None:
    wire = encode_frame(MSG)
    for cut in range(1, len(wire)):
        decoder = FrameDecoder()
        events = decoder.feed(wire[:cut]) + decoder.feed(wire[cut:])
        assert events == [Frame(MSG)], f"cut at {cut}"
        assert not decoder.in_frame


def test_frame_fed_one_byte_at_a_time_is_reassembled() -> None:
    decoder = FrameDecoder()
    events = [event for byte in encode_frame(MSG) for event in decoder.feed(bytes([byte]))]
    assert events == [Frame(MSG)]


def test_concatenated_frames_come_out_in_order() -> None:
    wire = encode_frame(b"one") + encode_frame(b"two") + encode_frame(b"three")
    assert FrameDecoder().feed(wire) == [Frame(b"one"), Frame(b"two"), Frame(b"three")]


def test_bytes_outside_frames_are_discarded_and_counted() -> None:
    decoder = FrameDecoder()
    events = decoder.feed(b"noise" + encode_frame(b"one") + b"\r\n" + encode_frame(b"two") + b"xy")
    assert events == [Frame(b"one"), Frame(b"two")]
    assert decoder.noise_bytes == len(b"noise") + len(b"\r\n") + len(b"xy")
    assert decoder.discarded_bytes == decoder.noise_bytes


def test_start_block_inside_a_frame_abandons_the_unfinished_one() -> None:
    decoder = FrameDecoder()
    events = decoder.feed(b"\x0bcut off" + encode_frame(b"whole"))
    assert events == [Frame(b"whole")]
    assert decoder.discarded_bytes == len(b"cut off")
    assert decoder.noise_bytes == 0


def test_end_block_without_carriage_return_still_ends_the_frame() -> None:
    decoder = FrameDecoder()
    assert decoder.feed(b"\x0bone\x1c\x0btwo\x1c\r") == [Frame(b"one"), Frame(b"two")]
    assert decoder.noise_bytes == 0


def test_carriage_return_after_end_block_in_the_next_read_is_not_noise() -> None:
    decoder = FrameDecoder()
    assert decoder.feed(b"\x0bone\x1c") == [Frame(b"one")]
    assert decoder.feed(b"\r") == []
    assert decoder.noise_bytes == 0


def test_empty_frame_is_delivered_as_empty_payload() -> None:
    assert FrameDecoder().feed(b"\x0b\x1c\r") == [Frame(b"")]


def test_frame_at_the_limit_is_accepted() -> None:
    payload = b"x" * 100
    assert FrameDecoder(max_frame_bytes=100).feed(encode_frame(payload)) == [Frame(payload)]


def test_oversized_frame_is_reported_once_and_skipped_without_buffering() -> None:
    limit = 64 * 1024
    decoder = FrameDecoder(max_frame_bytes=limit)
    head = MSG + b"\r"
    chunk = b"y" * 65536
    events = decoder.feed(b"\x0b" + head)
    # 10 MB in 64 KiB reads, as a socket would deliver it.
    for _ in range(10 * 1024 * 1024 // len(chunk)):
        events += decoder.feed(chunk)
        assert decoder.buffered_bytes <= limit
    events += decoder.feed(b"\x1c\r" + encode_frame(b"next"))
    assert len(events) == 2
    too_large, after = events
    assert isinstance(too_large, FrameTooLarge)
    assert too_large.limit_bytes == limit
    assert too_large.head.startswith(MSG)
    assert len(too_large.head) == HEAD_BYTES
    assert after == Frame(b"next")
    assert not decoder.in_frame


def test_decoder_reports_being_inside_a_frame() -> None:
    decoder = FrameDecoder()
    assert not decoder.in_frame
    decoder.feed(b"\x0bpart")
    assert decoder.in_frame
    assert decoder.buffered_bytes == 4
    decoder.feed(b"\x1c\r")
    assert not decoder.in_frame


def test_limit_below_one_byte_is_refused() -> None:
    with pytest.raises(InvalidInput, match="max_frame_bytes"):
        FrameDecoder(max_frame_bytes=0)
