"""SQL :class:`~ketaclinic.services.settings_ports.ClinicSettingRepository` (table
``clinic_setting``)."""

from __future__ import annotations

from dataclasses import replace

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ketaclinic.adapters.db.repositories import utc
from ketaclinic.adapters.db.tables_settings import clinic_setting
from ketaclinic.services.settings_ports import ThresholdSetting

# Built once: the monitor feed reads the alert rules' history for every batch it stores.
_HISTORY = (
    sa.select(clinic_setting)
    .where(clinic_setting.c.kind == sa.bindparam("kind"))
    .order_by(clinic_setting.c.id)
)


class SqlClinicSettingRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def history(self, kind: str) -> list[ThresholdSetting]:
        rows = self.conn.execute(_HISTORY, {"kind": kind}).all()
        return [
            ThresholdSetting(
                kind=r.kind,
                key=r.key,
                value=r.value,
                unit=r.unit,
                reason=r.reason,
                approved_by=r.approved_by,
                approved_by_username=r.approved_by_username,
                approved_at=utc(r.approved_at),
                effective_from=r.effective_from,
                id=r.id,
            )
            for r in rows
        ]

    def add(self, setting: ThresholdSetting) -> ThresholdSetting:
        new_id = self.conn.execute(
            clinic_setting.insert()
            .values(
                kind=setting.kind,
                key=setting.key,
                value=setting.value,
                unit=setting.unit,
                reason=setting.reason,
                approved_by=setting.approved_by,
                approved_by_username=setting.approved_by_username,
                approved_at=setting.approved_at,
                effective_from=setting.effective_from,
            )
            .returning(clinic_setting.c.id)
        ).scalar_one()
        return replace(setting, id=new_id)
