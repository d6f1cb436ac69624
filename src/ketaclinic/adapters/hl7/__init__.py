"""Bedside monitors over HL7 v2 / MLLP (DESIGN.md §4.4; for operators: docs/hl7.md).

``framing`` (MLLP bytes) → ``parser`` (ORU^R01 → ``MonitorMessage``; uses ``segments``,
``units``, ``rejection``) → ``server`` (asyncio listener, group commit into a ``sink``) →
``ack`` (AA/AE/AR). ``simulator`` plays a synthetic monitor; ``profiles/`` holds one folder of
sample messages per monitor style.
"""

from __future__ import annotations
