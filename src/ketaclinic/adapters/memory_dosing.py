"""In-memory fake of the dosing storage port: the same behaviour as the SQL repository, held to
it by the repository contract test. State lives in :class:`DosingState` on the ``MemoryStore``;
every container holds frozen records, so copying the containers is a full snapshot (the memory
unit of work snapshots on entry and restores on rollback).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from ketaclinic.services.dosing_ports import (
    ClinicSetting,
    ConfirmationMethod,
    DoseOrder,
    LimitSetting,
    OverrideRequest,
    SessionOrder,
)

if TYPE_CHECKING:
    from ketaclinic.adapters.memory import MemoryStore


@dataclass
class DosingState:
    orders: dict[int, DoseOrder] = field(default_factory=dict)
    limit_settings: dict[int, LimitSetting] = field(default_factory=dict)
    settings: dict[str, ClinicSetting] = field(default_factory=dict)
    session_orders: dict[int, SessionOrder] = field(default_factory=dict)

    def __copy__(self) -> DosingState:
        return DosingState(
            dict(self.orders),
            dict(self.limit_settings),
            dict(self.settings),
            dict(self.session_orders),
        )

    def __deepcopy__(self, memo: dict[int, object]) -> DosingState:
        return self.__copy__()


class MemoryDosingRepository:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    @property
    def state(self) -> DosingState:
        return self.store.dosing

    def add_order(self, order: DoseOrder) -> DoseOrder:
        stored = replace(order, id=self.store.new_id())
        self.state.orders[stored.id] = stored
        return stored

    def get_order(self, order_id: int) -> DoseOrder | None:
        return self.state.orders.get(order_id)

    def patient_orders(self, patient_id: int, *, limit: int = 100) -> list[DoseOrder]:
        found = [o for o in self.state.orders.values() if o.patient_id == patient_id]
        found.sort(key=lambda o: (o.prepared_at, o.id), reverse=True)
        return found[:limit]

    def record_signature(
        self,
        order_id: int,
        signed_by: int,
        signed_at: dt.datetime,
        override: OverrideRequest | None,
    ) -> bool:
        order = self.state.orders.get(order_id)
        if order is None or order.signed_by is not None:
            return False
        self.state.orders[order_id] = replace(
            order,
            signed_by=signed_by,
            signed_at=signed_at,
            override_reason=override.reason if override else "",
            override_requested_by=override.requested_by if override else None,
            override_requested_at=override.requested_at if override else None,
        )
        return True

    def record_override_confirmation(
        self, order_id: int, confirmed_by: int, at: dt.datetime, via: ConfirmationMethod
    ) -> bool:
        order = self.state.orders.get(order_id)
        if (
            order is None
            or order.override_requested_by is None
            or order.override_confirmed_by is not None
            or order.override_requested_by == confirmed_by
        ):
            return False
        self.state.orders[order_id] = replace(
            order,
            override_confirmed_by=confirmed_by,
            override_confirmed_at=at,
            override_confirmed_via=via.value,
        )
        return True

    def link_session_order(self, link: SessionOrder) -> None:
        if link.order_id not in self.state.orders:
            raise ValueError(f"dose order {link.order_id} does not exist")  # the SQL FK refuses
        self.state.session_orders[link.session_id] = link

    def session_order(self, session_id: int) -> SessionOrder | None:
        return self.state.session_orders.get(session_id)

    def limit_settings(self) -> list[LimitSetting]:
        return [self.state.limit_settings[k] for k in sorted(self.state.limit_settings)]

    def add_limit_setting(self, setting: LimitSetting) -> LimitSetting:
        stored = replace(setting, id=self.store.new_id())
        self.state.limit_settings[stored.id] = stored
        return stored

    def setting(self, key: str) -> ClinicSetting | None:
        return self.state.settings.get(key)

    def set_setting(self, setting: ClinicSetting) -> None:
        self.state.settings[setting.key] = setting
