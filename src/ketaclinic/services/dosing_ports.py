"""The storage port of dosing (area ``dosing``) and the records it stores.

:class:`DosingRepository` is ``uow.dosing``. The SQL implementation is
``adapters/db/repositories_dosing.py``, the in-memory fake ``adapters/memory_dosing.py``; one
contract test (``tests/integration/dosing/test_dosing_repository_contract.py``) holds them to the
same behaviour.

A :class:`DoseOrder` is what a prescriber orders for one infusion: the weight it was computed on
(basis, measurement, plausibility findings and who confirmed a doubtful weight), the order
(mg/kg, minutes, preparation, pump resolution), everything computed from it (dose, concentration,
volume, rates, rounding and residual error), the drug-library verdict with every limit reached
and its source, and the people: who prepared it, which prescriber signed it, and for a soft limit
the override reason with who requested and which *second* person confirmed it. The numbers never
change once stored; only the signature and the override confirmation are added later, each once.

At the chair the planned dose of an infusion session is checked against the patient's newest
verified order; :class:`SessionOrder` links the two (``services/chair_mar.py``).

Clinic settings of the drug library (:class:`LimitSetting`) are an append-only history: the
newest setting of a (protocol, quantity, level) applies, the older ones show who approved what.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from ketaclinic.domain.drug_library import LimitLevel, Quantity
from ketaclinic.domain.weight import WeightBasis


class OrderStatus(StrEnum):
    """Where an order stands; derived from who has signed and confirmed (never stored)."""

    AWAITING_SIGNATURE = "awaiting_signature"  # a nurse prepared it; a prescriber must sign
    AWAITING_CONFIRMATION = "awaiting_confirmation"  # soft limit: a second person must confirm
    VERIFIED = "verified"  # signed, and any override confirmed: ready for the chair

    @property
    def label(self) -> str:
        return {
            OrderStatus.AWAITING_SIGNATURE: "Awaiting prescriber signature",
            OrderStatus.AWAITING_CONFIRMATION: "Override awaiting second person",
            OrderStatus.VERIFIED: "Verified",
        }[self]


class PreparationKind(StrEnum):
    """How the dose is prepared (``domain/dosing.py``)."""

    BAG = "bag"  # the dose in a bag of known final volume
    DILUTION = "dilution"  # drawn from a stock vial and added to a diluent bag
    STOCK = "stock"  # a fixed concentration infused until the dose is given


class ConfirmationMethod(StrEnum):
    """How the second person proved who they are when confirming an override."""

    # Method names, not secrets.
    PASSWORD = "password"  # noqa: S105 - re-entered their own password on the page
    TOKEN = "token"  # noqa: S105 - called the API with their own bearer token


@dataclass(frozen=True, slots=True)
class StoredLimitHit:
    """One drug-library limit an order reached, as it was when the order was made."""

    quantity: Quantity
    value: float
    level: LimitLevel
    limit_value: float
    unit: str
    upper: bool
    threshold_key: str
    provenance: str  # the provenance label, e.g. "[design: …, REFERENCE.md §3.1]"
    approved_by: str = ""  # username of the director who set a clinic value; "" for defaults

    @property
    def message(self) -> str:
        relation = "above the maximum" if self.upper else "below the minimum"
        return (
            f"{self.quantity.value} {self.value:.4g} {self.unit} is {relation} "
            f"{self.limit_value:g} {self.unit} ({self.level.value} limit, {self.provenance})"
        )


@dataclass(frozen=True, slots=True)
class DoseOrder:
    """A stored dose order. Units are in the names; user fields hold staff user ids.

    ``preparation_volume_ml`` is the bag's final volume (``bag``) or the diluent volume
    (``dilution``); ``preparation_mg_per_ml`` the stock concentration (``dilution``) or the
    fixed concentration (``stock``). ``weight_findings`` are the plausibility findings that had
    to be confirmed (by ``weight_confirmed_by`` at ``weight_confirmed_at``); ``weight_warnings``
    are advisory (e.g. IBW above ABW). ``limit_level`` is ``ok`` or ``soft``: a hard limit is
    never stored.
    """

    id: int
    patient_id: int
    site_id: int
    protocol_id: str
    measurement_id: int | None
    actual_weight_kg: float
    height_cm: float | None
    weight_basis: WeightBasis
    dosing_weight_kg: float
    ideal_weight_kg: float | None
    adjusted_weight_kg: float | None
    weight_provenance: str
    weight_warnings: tuple[str, ...]
    weight_findings: tuple[str, ...]
    weight_confirmed_by: int | None
    weight_confirmed_at: dt.datetime | None
    mg_per_kg: float
    duration_min: float
    preparation: PreparationKind
    preparation_volume_ml: float | None
    preparation_mg_per_ml: float | None
    pump_resolution_ml_per_h: float
    dose_mg: float
    concentration_mg_per_ml: float
    volume_ml: float
    rate_ml_per_h: float
    rate_mg_per_kg_per_h: float
    pump_rate_ml_per_h: float
    pump_duration_min: float
    dose_error_mg: float
    limit_level: LimitLevel
    limit_hits: tuple[StoredLimitHit, ...]
    prepared_by: int
    prepared_at: dt.datetime
    signed_by: int | None = None
    signed_at: dt.datetime | None = None
    override_reason: str = ""
    override_requested_by: int | None = None
    override_requested_at: dt.datetime | None = None
    override_confirmed_by: int | None = None
    override_confirmed_at: dt.datetime | None = None
    override_confirmed_via: str = ""
    note: str = ""

    @property
    def status(self) -> OrderStatus:
        if self.signed_by is None:
            return OrderStatus.AWAITING_SIGNATURE
        if self.limit_level is LimitLevel.SOFT and self.override_confirmed_by is None:
            return OrderStatus.AWAITING_CONFIRMATION
        return OrderStatus.VERIFIED

    @property
    def dose_error_percent(self) -> float:
        return 100.0 * self.dose_error_mg / self.dose_mg

    @property
    def rate_mg_per_min(self) -> float:
        """The drug rate the pump delivers, mg/min (pump rate × concentration)."""
        return self.pump_rate_ml_per_h * self.concentration_mg_per_ml / 60.0


@dataclass(frozen=True, slots=True)
class OverrideRequest:
    """A prescriber's reason to proceed past soft limits, recorded with the signature."""

    reason: str
    requested_by: int
    requested_at: dt.datetime


@dataclass(frozen=True, slots=True)
class SessionOrder:
    """The verified order an infusion session's planned dose was checked against at the chair,
    stored with the planned dose: the order, its weight basis and dosing weight as verified,
    who verified the dose at the chair and when. One per session; a new verification replaces
    it (the chair's checklist keeps the history of verifications)."""

    session_id: int
    order_id: int
    weight_basis: WeightBasis
    dosing_weight_kg: float
    verified_by: int
    verified_at: dt.datetime


@dataclass(frozen=True, slots=True)
class LimitSetting:
    """A clinic value for one bound of the drug library, approved by the director."""

    protocol_id: str
    quantity: Quantity
    level: LimitLevel
    value: float
    unit: str
    reason: str
    approved_by: int
    approved_by_username: str
    approved_at: dt.datetime
    effective_from: dt.date
    id: int = 0


@dataclass(frozen=True, slots=True)
class ClinicSetting:
    """A named dosing preference of the clinic (e.g. the PK model its plots use)."""

    key: str
    value: str
    set_by: int
    set_at: dt.datetime


class DosingRepository(Protocol):
    """Storage of dose orders and drug-library settings; works inside its unit of work and
    never commits."""

    def add_order(self, order: DoseOrder) -> DoseOrder:
        """Store a new order (its ``id`` is ignored) with its limit hits; returns it with id."""
        ...

    def get_order(self, order_id: int) -> DoseOrder | None: ...

    def patient_orders(self, patient_id: int, *, limit: int = 100) -> list[DoseOrder]:
        """The patient's orders, newest first."""
        ...

    def record_signature(
        self,
        order_id: int,
        signed_by: int,
        signed_at: dt.datetime,
        override: OverrideRequest | None,
    ) -> bool:
        """Sign an unsigned order (with the override request, if any). False when the order
        does not exist or is signed already: nothing changes then."""
        ...

    def record_override_confirmation(
        self, order_id: int, confirmed_by: int, at: dt.datetime, via: ConfirmationMethod
    ) -> bool:
        """Confirm a requested, unconfirmed override. False when there is none to confirm, or
        ``confirmed_by`` is the requester (the store refuses that too): nothing changes then."""
        ...

    def link_session_order(self, link: SessionOrder) -> None:
        """Store ``link`` as the order of its session, replacing an earlier one."""
        ...

    def session_order(self, session_id: int) -> SessionOrder | None:
        """The order the session's planned dose was verified against, if any."""
        ...

    def limit_settings(self) -> list[LimitSetting]:
        """Every clinic limit setting, oldest first."""
        ...

    def add_limit_setting(self, setting: LimitSetting) -> LimitSetting: ...

    def setting(self, key: str) -> ClinicSetting | None: ...

    def set_setting(self, setting: ClinicSetting) -> None:
        """Insert or replace the setting called ``setting.key``."""
        ...
