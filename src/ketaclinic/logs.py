"""Structured logs: one JSON object per line, with a request id.

Only whitelisted fields reach a log line, and callers pass ids, counts and codes — never names,
MRNs, birth dates or raw HL7 (STYLE.md §14). ``tests/e2e/test_logs_carry_no_health_data.py``
checks this over a whole flow.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

ALLOWED_EXTRAS = (
    "request_id",
    "method",
    "route",
    "status",
    "duration_ms",
    "user_id",
    "patient_id",
    "session_id",
    "control_id",
    "count",
    "error_type",
    "port",
    "host",
)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ALLOWED_EXTRAS:
            value = getattr(record, key, None)
            if value is not None:
                payload[key] = value
        return json.dumps(payload, default=str)


class _OurHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler :func:`configure` installs, so configuring twice replaces only it."""


def configure(level: str = "INFO") -> None:
    handler = _OurHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("ketaclinic")
    root.handlers[:] = [h for h in root.handlers if not isinstance(h, _OurHandler)] + [handler]
    root.setLevel(level)
    root.propagate = False
