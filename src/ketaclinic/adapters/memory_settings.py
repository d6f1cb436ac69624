"""In-memory :class:`~ketaclinic.services.settings_ports.ClinicSettingRepository`."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from ketaclinic.services.settings_ports import ThresholdSetting

if TYPE_CHECKING:
    from ketaclinic.adapters.memory import MemoryStore


@dataclass
class SettingsState:
    rows: list[ThresholdSetting] = field(default_factory=list)


class MemoryClinicSettingRepository:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def history(self, kind: str) -> list[ThresholdSetting]:
        return [row for row in self.store.clinic_settings.rows if row.kind == kind]

    def add(self, setting: ThresholdSetting) -> ThresholdSetting:
        stored = replace(setting, id=self.store.new_id())
        self.store.clinic_settings.rows.append(stored)
        return stored
