"""Listener bounds are checked when the configuration is built."""

from __future__ import annotations

import pytest

from ketaclinic.adapters.hl7.server import ListenerConfig
from ketaclinic.domain.errors import InvalidInput


def test_defaults_follow_the_group_commit_bounds() -> None:
    config = ListenerConfig()
    assert config.max_batch_messages == 256
    assert config.linger_s == 0.002
    assert config.max_frame_bytes == 1 << 20


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_frame_bytes", 0),
        ("max_batch_messages", 0),
        ("max_connections", 0),
        ("max_in_flight_per_connection", 0),
        ("frame_timeout_s", 0.0),
        ("idle_timeout_s", -1.0),
        ("shutdown_grace_s", float("nan")),
        ("linger_s", -0.001),
        ("linger_s", 5.0),
    ],
)
def test_out_of_range_bounds_are_refused(field: str, value: float) -> None:
    with pytest.raises(InvalidInput) as caught:
        ListenerConfig(**{field: value})  # type: ignore[arg-type]
    assert caught.value.field == field
