"""Storage of the clinic's values for alert rules and outcome definitions (``uow.clinic_settings``).

An append-only history: each approval or reset is a new row, the newest row of a key is the
clinic's current choice (``value`` ``None`` = back to the shipped default). The SQL
implementation is ``adapters/db/repositories_settings.py`` (table ``clinic_setting``), the
in-memory fake ``adapters/memory_settings.py``. Times are timezone-aware UTC.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class ThresholdSetting:
    """One approval (or reset, ``value`` ``None``) of a clinic value by the director."""

    kind: str
    key: str
    value: float | None
    unit: str
    reason: str
    approved_by: int
    approved_by_username: str
    approved_at: dt.datetime
    effective_from: dt.date
    id: int = 0


class ClinicSettingRepository(Protocol):
    """Works inside its unit of work and never commits."""

    def history(self, kind: str) -> list[ThresholdSetting]:
        """Every setting of ``kind``, oldest first."""
        ...

    def add(self, setting: ThresholdSetting) -> ThresholdSetting:
        """Store a new setting (its ``id`` is ignored); returns it with its id."""
        ...
