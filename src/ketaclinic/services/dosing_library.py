"""The clinic's drug library: the shipped limits of ``domain/drug_library.py`` with the values the
clinic director has approved in their place, and the clinic's choice of PK model for plots.

A clinic value replaces one bound (soft or hard) of one quantity of one protocol. It keeps the
shipped default visible in its provenance ("clinic setting (default from …)") and records who
approved it and from when (REFERENCE.md §0). Every protocol invariant still holds afterwards:
a soft bound inside its hard bound, the concentration hard maximum at most 50 mg/mL [derived:
1:1 dilution rule, REFERENCE.md §3.3] — so that maximum can be lowered but never raised — and a
hard minimum duration. A value outside :data:`CLINIC_VALUE_BOUNDS` is a typing error, refused
before it reaches the library.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from ketaclinic.domain.audit import AuditAction
from ketaclinic.domain.drug_library import (
    DEFAULT_LIBRARY,
    MAX_CONCENTRATION_MG_PER_ML,
    MIN_REASON_CHARS,
    Limit,
    LimitLevel,
    ProtocolLimits,
    Quantity,
    limits_for,
)
from ketaclinic.domain.errors import InvalidInput
from ketaclinic.domain.people import Role
from ketaclinic.pk.models import MODELS, get_model
from ketaclinic.services.audit import Actor, record, require_role
from ketaclinic.services.dosing_ports import ClinicSetting, LimitSetting
from ketaclinic.services.ports import Clock, UnitOfWork

RESOURCE = "drug_library"
PK_MODEL_KEY = "pk_model"
# design: Kamp 2020 pools the raw data of 14 adult data sets (REFERENCE.md §4.2), the broadest
# adult basis of the six models; the clinic may choose another.
DEFAULT_PK_MODEL = "kamp"
REASON_MAX = 500
# How a dose result names the library it was checked against (``library_note``); the API and
# ``ketaclinic dose`` with a readable database say the same.
CLINIC_LIBRARY_NOTE = (
    "the clinic's drug library: the director's approved values, the shipped defaults elsewhere"
)
DIRECTOR_ONLY = frozenset({Role.DIRECTOR})

# The widest value a clinic may set per quantity (design). Outside these a number is a typing
# error: 10 mg/kg is the largest dose the calculator accepts at all (domain/dosing.py); 1 g is
# several anaesthetic induction doses; 30 mg/kg/h is 10 mg/kg over 20 min; 999 mL/h is the pump
# programming ceiling; no infusion may be shorter than 1 min, since even anaesthetic boluses
# take ≥ 60 s [cited: Ketalar US PI, REFERENCE.md §3.1]; 50 mg/mL [derived: 1:1 dilution rule].
CLINIC_VALUE_BOUNDS: Mapping[Quantity, tuple[float, float]] = {
    Quantity.DOSE_MG_PER_KG: (0.01, 10.0),
    Quantity.DOSE_MG: (1.0, 1000.0),
    Quantity.RATE_MG_PER_KG_PER_H: (0.01, 30.0),
    Quantity.RATE_ML_PER_H: (1.0, 999.0),
    Quantity.DURATION_MIN: (1.0, 24 * 60.0),
    Quantity.CONCENTRATION_MG_PER_ML: (0.01, MAX_CONCENTRATION_MG_PER_ML),
}


@dataclass(frozen=True, slots=True)
class LibraryView:
    """The effective library, the history of clinic values (newest first) and the PK model."""

    protocols: tuple[ProtocolLimits, ...]
    history: tuple[LimitSetting, ...]
    pk_model: str


def effective_library(settings: Sequence[LimitSetting]) -> dict[str, ProtocolLimits]:
    """The shipped library with the newest clinic value of each bound applied (settings oldest
    first, as the repository returns them). Raises :class:`InvalidInput` if the result breaks a
    protocol invariant."""
    latest: dict[tuple[str, Quantity, LimitLevel], LimitSetting] = {}
    for stored in settings:
        latest[(stored.protocol_id, stored.quantity, stored.level)] = stored
    library: dict[str, ProtocolLimits] = {}
    for protocol_id, limits in DEFAULT_LIBRARY.items():
        changed: dict[str, Limit] = {}
        for limit in limits.limits:
            updated = limit
            for level in (LimitLevel.SOFT, LimitLevel.HARD):
                setting = latest.get((protocol_id, limit.quantity, level))
                if setting is None:
                    continue
                updated = _with_setting(updated, setting)
            if updated is not limit:
                changed[limit.quantity.value] = updated
        library[protocol_id] = replace(limits, **changed) if changed else limits  # type: ignore[arg-type]
    return library


def clinic_library(uow: UnitOfWork) -> dict[str, ProtocolLimits]:
    """The clinic's effective library, read inside ``uow`` (no health data, not audited)."""
    return effective_library(uow.dosing.limit_settings())


def clinic_pk_model(uow: UnitOfWork) -> str:
    """The model the clinic's concentration plots use (``kamp`` until the director chooses)."""
    setting = uow.dosing.setting(PK_MODEL_KEY)
    return setting.value if setting is not None and setting.value in MODELS else DEFAULT_PK_MODEL


def library_view(uow: UnitOfWork, clock: Clock, actor: Actor) -> LibraryView:
    """The drug library as the director reviews it (director only; the read is audited)."""
    require_role(uow, clock, actor, RESOURCE, DIRECTOR_ONLY)
    settings = uow.dosing.limit_settings()
    view = LibraryView(
        protocols=tuple(effective_library(settings).values()),
        history=tuple(reversed(settings)),
        pk_model=clinic_pk_model(uow),
    )
    record(uow, clock, actor, AuditAction.READ, RESOURCE)
    uow.commit()
    return view


def set_limit(
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    *,
    protocol_id: str,
    quantity: str,
    level: str,
    value: float,
    reason: str,
) -> LimitSetting:
    """Approve a clinic value for one bound (director only), effective today.

    Raises :class:`InvalidInput` naming the field for an unknown protocol, quantity or level, a
    value outside :data:`CLINIC_VALUE_BOUNDS`, a reason shorter than 5 characters, or a value
    that would break a protocol invariant (e.g. a soft maximum above the hard one, or a
    concentration maximum above 50 mg/mL). Nothing is stored then.
    """
    principal = require_role(uow, clock, actor, RESOURCE, DIRECTOR_ONLY)
    limits = limits_for(protocol_id, DEFAULT_LIBRARY)
    chosen_quantity = _parse_quantity(quantity)
    chosen_level = _parse_level(level)
    low, high = CLINIC_VALUE_BOUNDS[chosen_quantity]
    if not _finite(value) or not (low <= value <= high):
        unit = _limit(limits, chosen_quantity).unit
        raise InvalidInput.for_field("value", value, f"{low:g}–{high:g} {unit}")
    text = " ".join(reason.split())
    if not (MIN_REASON_CHARS <= len(text) <= REASON_MAX):
        raise InvalidInput.for_field(
            "reason", reason, f"a reason of {MIN_REASON_CHARS}–{REASON_MAX} characters"
        )
    now = clock.now()
    setting = LimitSetting(
        protocol_id=limits.protocol_id,
        quantity=chosen_quantity,
        level=chosen_level,
        value=float(value),
        unit=_limit(limits, chosen_quantity).unit,
        reason=text,
        approved_by=principal.user_id,
        approved_by_username=principal.username,
        approved_at=now,
        effective_from=now.date(),
    )
    # Apply it to the whole library first: an invariant it breaks refuses it, unstored.
    effective_library([*uow.dosing.limit_settings(), setting])
    stored = uow.dosing.add_limit_setting(setting)
    record(
        uow,
        clock,
        actor,
        AuditAction.UPDATE,
        RESOURCE,
        resource_id=stored.id,
        detail=f"{setting.protocol_id}.{setting.quantity.value}.{setting.level.value} = "
        f"{setting.value:g} {setting.unit}",
    )
    uow.commit()
    return stored


def set_pk_model(uow: UnitOfWork, clock: Clock, actor: Actor, name: str) -> str:
    """Choose the clinic's PK model for plots (director only); unknown names are InvalidInput."""
    principal = require_role(uow, clock, actor, RESOURCE, DIRECTOR_ONLY)
    model = get_model(name)
    uow.dosing.set_setting(ClinicSetting(PK_MODEL_KEY, model.name, principal.user_id, clock.now()))
    record(uow, clock, actor, AuditAction.UPDATE, RESOURCE, detail=f"pk_model = {model.name}")
    uow.commit()
    return model.name


def _with_setting(limit: Limit, setting: LimitSetting) -> Limit:
    level = "soft" if setting.level is LimitLevel.SOFT else "hard"
    current = getattr(limit, level)
    if current is None:
        raise InvalidInput.for_field(
            f"{setting.protocol_id}.{setting.quantity.value}.{level}",
            None,
            "a bound the protocol has (it has no such limit to change)",
        )
    threshold = current.with_value(
        setting.value, setting.approved_by_username, setting.effective_from
    )
    return replace(limit, **{level: threshold})


def _limit(limits: ProtocolLimits, quantity: Quantity) -> Limit:
    return next(limit for limit in limits.limits if limit.quantity is quantity)


def _parse_quantity(value: str) -> Quantity:
    try:
        return Quantity(value)
    except ValueError:
        allowed = ", ".join(q.value for q in Quantity)
        raise InvalidInput.for_field("quantity", value, f"one of {allowed}") from None


def _parse_level(value: str) -> LimitLevel:
    if value not in (LimitLevel.SOFT.value, LimitLevel.HARD.value):
        raise InvalidInput.for_field("level", value, "soft or hard")
    return LimitLevel(value)


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
