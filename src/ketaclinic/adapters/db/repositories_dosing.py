"""SQLAlchemy implementation of the dosing storage port (``services/dosing_ports.py``).

Works inside the connection of its unit of work and never commits. The signature and the
override confirmation are conditional updates (``… WHERE signed_by IS NULL``), so two people
acting on the same order at once cannot both succeed, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from ketaclinic.adapters.db import tables_dosing as t
from ketaclinic.adapters.db.repositories import as_utc, utc
from ketaclinic.domain.drug_library import LimitLevel, Quantity
from ketaclinic.domain.weight import WeightBasis
from ketaclinic.services.dosing_ports import (
    ClinicSetting,
    ConfirmationMethod,
    DoseOrder,
    LimitSetting,
    OverrideRequest,
    PreparationKind,
    SessionOrder,
    StoredLimitHit,
)

_ORDER_FIELDS = (
    "patient_id",
    "site_id",
    "protocol_id",
    "measurement_id",
    "actual_weight_kg",
    "height_cm",
    "dosing_weight_kg",
    "ideal_weight_kg",
    "adjusted_weight_kg",
    "weight_provenance",
    "weight_confirmed_by",
    "weight_confirmed_at",
    "mg_per_kg",
    "duration_min",
    "preparation_volume_ml",
    "preparation_mg_per_ml",
    "pump_resolution_ml_per_h",
    "dose_mg",
    "concentration_mg_per_ml",
    "volume_ml",
    "rate_ml_per_h",
    "rate_mg_per_kg_per_h",
    "pump_rate_ml_per_h",
    "pump_duration_min",
    "dose_error_mg",
    "prepared_by",
    "prepared_at",
    "signed_by",
    "signed_at",
    "override_reason",
    "override_requested_by",
    "override_requested_at",
    "override_confirmed_by",
    "override_confirmed_at",
    "override_confirmed_via",
    "note",
)


class SqlDosingRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # orders -------------------------------------------------------------------------------

    def add_order(self, order: DoseOrder) -> DoseOrder:
        values: dict[str, Any] = {name: getattr(order, name) for name in _ORDER_FIELDS}
        values.update(
            weight_basis=order.weight_basis.value,
            weight_warnings="\n".join(order.weight_warnings),
            weight_findings="\n".join(order.weight_findings),
            preparation=order.preparation.value,
            limit_level=order.limit_level.value,
        )
        order_id = self.conn.execute(
            t.dose_order.insert().values(**values).returning(t.dose_order.c.id)
        ).scalar_one()
        if order.limit_hits:
            self.conn.execute(
                t.dose_order_limit_hit.insert(),
                [
                    {
                        "order_id": order_id,
                        "position": position,
                        "quantity": hit.quantity.value,
                        "value": hit.value,
                        "level": hit.level.value,
                        "limit_value": hit.limit_value,
                        "unit": hit.unit,
                        "upper": hit.upper,
                        "threshold_key": hit.threshold_key,
                        "provenance": hit.provenance,
                        "approved_by": hit.approved_by,
                    }
                    for position, hit in enumerate(order.limit_hits)
                ],
            )
        stored = self.get_order(order_id)
        assert stored is not None  # inserted just now, in this transaction
        return stored

    def get_order(self, order_id: int) -> DoseOrder | None:
        row = self.conn.execute(
            sa.select(t.dose_order).where(t.dose_order.c.id == order_id)
        ).first()
        if row is None:
            return None
        return _order(row, self._hits([order_id]).get(order_id, ()))

    def patient_orders(self, patient_id: int, *, limit: int = 100) -> list[DoseOrder]:
        rows = self.conn.execute(
            sa.select(t.dose_order)
            .where(t.dose_order.c.patient_id == patient_id)
            .order_by(t.dose_order.c.prepared_at.desc(), t.dose_order.c.id.desc())
            .limit(limit)
        ).all()
        hits = self._hits([r.id for r in rows])
        return [_order(r, hits.get(r.id, ())) for r in rows]

    def record_signature(
        self,
        order_id: int,
        signed_by: int,
        signed_at: dt.datetime,
        override: OverrideRequest | None,
    ) -> bool:
        result = self.conn.execute(
            t.dose_order.update()
            .where(t.dose_order.c.id == order_id, t.dose_order.c.signed_by.is_(None))
            .values(
                signed_by=signed_by,
                signed_at=signed_at,
                override_reason=override.reason if override else "",
                override_requested_by=override.requested_by if override else None,
                override_requested_at=override.requested_at if override else None,
            )
        )
        return result.rowcount == 1

    def record_override_confirmation(
        self, order_id: int, confirmed_by: int, at: dt.datetime, via: ConfirmationMethod
    ) -> bool:
        c = t.dose_order.c
        result = self.conn.execute(
            t.dose_order.update()
            .where(
                c.id == order_id,
                c.override_requested_by.is_not(None),
                c.override_confirmed_by.is_(None),
                c.override_requested_by != confirmed_by,
            )
            .values(
                override_confirmed_by=confirmed_by,
                override_confirmed_at=at,
                override_confirmed_via=via.value,
            )
        )
        return result.rowcount == 1

    def _hits(self, order_ids: Sequence[int]) -> dict[int, tuple[StoredLimitHit, ...]]:
        if not order_ids:
            return {}
        h = t.dose_order_limit_hit.c
        rows = self.conn.execute(
            sa.select(t.dose_order_limit_hit)
            .where(h.order_id.in_(list(order_ids)))
            .order_by(h.order_id, h.position)
        ).all()
        found: dict[int, list[StoredLimitHit]] = {}
        for r in rows:
            found.setdefault(r.order_id, []).append(
                StoredLimitHit(
                    quantity=Quantity(r.quantity),
                    value=r.value,
                    level=LimitLevel(r.level),
                    limit_value=r.limit_value,
                    unit=r.unit,
                    upper=bool(r.upper),
                    threshold_key=r.threshold_key,
                    provenance=r.provenance,
                    approved_by=r.approved_by,
                )
            )
        return {order_id: tuple(hits) for order_id, hits in found.items()}

    # the chair's link to an order ------------------------------------------------------------

    def link_session_order(self, link: SessionOrder) -> None:
        values = {
            "order_id": link.order_id,
            "weight_basis": link.weight_basis.value,
            "dosing_weight_kg": link.dosing_weight_kg,
            "verified_by": link.verified_by,
            "verified_at": link.verified_at,
        }
        table = t.session_dose_order
        updated = self.conn.execute(
            table.update().where(table.c.session_id == link.session_id).values(**values)
        )
        if updated.rowcount == 0:
            self.conn.execute(table.insert().values(session_id=link.session_id, **values))

    def session_order(self, session_id: int) -> SessionOrder | None:
        table = t.session_dose_order
        row = self.conn.execute(sa.select(table).where(table.c.session_id == session_id)).first()
        if row is None:
            return None
        return SessionOrder(
            session_id=row.session_id,
            order_id=row.order_id,
            weight_basis=WeightBasis(row.weight_basis),
            dosing_weight_kg=row.dosing_weight_kg,
            verified_by=row.verified_by,
            verified_at=utc(row.verified_at),
        )

    # drug library settings ------------------------------------------------------------------

    def limit_settings(self) -> list[LimitSetting]:
        rows = self.conn.execute(
            sa.select(t.drug_limit_setting).order_by(t.drug_limit_setting.c.id)
        ).all()
        return [
            LimitSetting(
                protocol_id=r.protocol_id,
                quantity=Quantity(r.quantity),
                level=LimitLevel(r.level),
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

    def add_limit_setting(self, setting: LimitSetting) -> LimitSetting:
        new_id = self.conn.execute(
            t.drug_limit_setting.insert()
            .values(
                protocol_id=setting.protocol_id,
                quantity=setting.quantity.value,
                level=setting.level.value,
                value=setting.value,
                unit=setting.unit,
                reason=setting.reason,
                approved_by=setting.approved_by,
                approved_by_username=setting.approved_by_username,
                approved_at=setting.approved_at,
                effective_from=setting.effective_from,
            )
            .returning(t.drug_limit_setting.c.id)
        ).scalar_one()
        return LimitSetting(
            protocol_id=setting.protocol_id,
            quantity=setting.quantity,
            level=setting.level,
            value=setting.value,
            unit=setting.unit,
            reason=setting.reason,
            approved_by=setting.approved_by,
            approved_by_username=setting.approved_by_username,
            approved_at=setting.approved_at,
            effective_from=setting.effective_from,
            id=new_id,
        )

    def setting(self, key: str) -> ClinicSetting | None:
        row = self.conn.execute(
            sa.select(t.dosing_setting).where(t.dosing_setting.c.key == key)
        ).first()
        if row is None:
            return None
        return ClinicSetting(row.key, row.value, row.set_by, utc(row.set_at))

    def set_setting(self, setting: ClinicSetting) -> None:
        updated = self.conn.execute(
            t.dosing_setting.update()
            .where(t.dosing_setting.c.key == setting.key)
            .values(value=setting.value, set_by=setting.set_by, set_at=setting.set_at)
        )
        if updated.rowcount == 0:
            self.conn.execute(
                t.dosing_setting.insert().values(
                    key=setting.key,
                    value=setting.value,
                    set_by=setting.set_by,
                    set_at=setting.set_at,
                )
            )


def _lines(text: str) -> tuple[str, ...]:
    return tuple(line for line in text.split("\n") if line)


def _order(r: Row[Any], hits: tuple[StoredLimitHit, ...]) -> DoseOrder:
    return DoseOrder(
        id=r.id,
        patient_id=r.patient_id,
        site_id=r.site_id,
        protocol_id=r.protocol_id,
        measurement_id=r.measurement_id,
        actual_weight_kg=r.actual_weight_kg,
        height_cm=r.height_cm,
        weight_basis=WeightBasis(r.weight_basis),
        dosing_weight_kg=r.dosing_weight_kg,
        ideal_weight_kg=r.ideal_weight_kg,
        adjusted_weight_kg=r.adjusted_weight_kg,
        weight_provenance=r.weight_provenance,
        weight_warnings=_lines(r.weight_warnings),
        weight_findings=_lines(r.weight_findings),
        weight_confirmed_by=r.weight_confirmed_by,
        weight_confirmed_at=as_utc(r.weight_confirmed_at),
        mg_per_kg=r.mg_per_kg,
        duration_min=r.duration_min,
        preparation=PreparationKind(r.preparation),
        preparation_volume_ml=r.preparation_volume_ml,
        preparation_mg_per_ml=r.preparation_mg_per_ml,
        pump_resolution_ml_per_h=r.pump_resolution_ml_per_h,
        dose_mg=r.dose_mg,
        concentration_mg_per_ml=r.concentration_mg_per_ml,
        volume_ml=r.volume_ml,
        rate_ml_per_h=r.rate_ml_per_h,
        rate_mg_per_kg_per_h=r.rate_mg_per_kg_per_h,
        pump_rate_ml_per_h=r.pump_rate_ml_per_h,
        pump_duration_min=r.pump_duration_min,
        dose_error_mg=r.dose_error_mg,
        limit_level=LimitLevel(r.limit_level),
        limit_hits=hits,
        prepared_by=r.prepared_by,
        prepared_at=utc(r.prepared_at),
        signed_by=r.signed_by,
        signed_at=as_utc(r.signed_at),
        override_reason=r.override_reason,
        override_requested_by=r.override_requested_by,
        override_requested_at=as_utc(r.override_requested_at),
        override_confirmed_by=r.override_confirmed_by,
        override_confirmed_at=as_utc(r.override_confirmed_at),
        override_confirmed_via=r.override_confirmed_via,
        note=r.note,
    )
