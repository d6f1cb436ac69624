"""Dose orders: compute, order, sign, confirm an override, read. Site-scoped and audited.

Who does what (DESIGN.md §1):

* a **nurse** prepares an order (it awaits a prescriber's signature); a **prescriber** prepares
  and signs in one step, or signs a nurse's order;
* a **soft limit** needs a prescriber's reason, given when signing, and then a **second staff
  member** — a different user, nurse or prescriber — who confirms it with their own credentials
  (their password on the page, their own bearer token on the API); both are stored with who and
  when. The requester confirming their own override is refused (403, audited), and the database
  refuses it as well;
* a **hard limit** is refused everywhere, before anything is stored; the attempt is audited;
* a **weight with plausibility findings** (kg/lb mix-up, large change, outside the plausible
  range) blocks the order until the person ordering confirms it; who and when are stored.

Status: ``awaiting_signature`` → (``awaiting_confirmation`` when a soft limit was reached) →
``verified``. The chair takes a verified order through :func:`verified_order_for_session`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ketaclinic.domain.audit import AuditAction, AuditOutcome
from ketaclinic.domain.drug_library import (
    MIN_REASON_CHARS,
    LimitLevel,
    ProtocolLimits,
)
from ketaclinic.domain.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    OverrideRequired,
    PermissionDenied,
)
from ketaclinic.domain.people import CLINICAL_ROLES, Patient, Principal, Role
from ketaclinic.services.audit import Actor, deny, record, record_patient, require_role
from ketaclinic.services.dosing_calc import (
    BasisOption,
    DoseComputation,
    DoseRequest,
    FieldError,
    WeightContext,
    basis_options,
    build_order,
    compute,
    plan_defaults,
    require_confirmed_weight,
    weight_context,
)
from ketaclinic.services.dosing_library import clinic_library, clinic_pk_model
from ketaclinic.services.dosing_ports import (
    ConfirmationMethod,
    DoseOrder,
    OrderStatus,
    OverrideRequest,
)
from ketaclinic.services.patients import load_visible
from ketaclinic.services.ports import Clock, UnitOfWork

RESOURCE = "dose_order"
RESOURCE_OVERRIDE = "dose_override"
RESOURCE_CALCULATION = "dose_calculation"
ORDER_ROLES = frozenset({Role.NURSE, Role.PRESCRIBER})
SIGN_ROLES = frozenset({Role.PRESCRIBER})
CONFIRM_ROLES = frozenset({Role.NURSE, Role.PRESCRIBER})
VIEW_ROLES = CLINICAL_ROLES
# design: an order is for today's infusion; the chair takes a verified order made within this
# time before the dose is checked at the chair.
ORDER_VALID_FOR = dt.timedelta(hours=24)
TEXT_MAX = 500
ORDERS_SHOWN = 50


@dataclass(frozen=True, slots=True)
class DosePage:
    """What the dose page shows before anything is computed."""

    patient: Patient
    context: WeightContext
    options: list[BasisOption]
    library: dict[str, ProtocolLimits]
    default_protocol: str
    default_mg_per_kg: float
    orders: list[DoseOrder]
    pk_model: str


@dataclass(frozen=True, slots=True)
class DosePreview:
    """A computed dose that is not stored, or the error that stops it."""

    computation: DoseComputation | None
    error: FieldError | None


def dose_page(uow: UnitOfWork, clock: Clock, actor: Actor, patient_id: int) -> DosePage:
    """The patient's weights on each basis, plan defaults, protocols and recent orders."""
    require_role(uow, clock, actor, RESOURCE, VIEW_ROLES)
    patient = load_visible(uow, clock, actor, patient_id, RESOURCE)
    context = weight_context(uow, patient)
    library = clinic_library(uow)
    protocol, mg_per_kg = plan_defaults(uow, patient, library)
    orders = uow.dosing.patient_orders(patient.id, limit=ORDERS_SHOWN)
    page = DosePage(
        patient,
        context,
        basis_options(context),
        library,
        protocol,
        mg_per_kg,
        orders,
        clinic_pk_model(uow),
    )
    _audit(uow, clock, actor, AuditAction.READ, patient, detail="dose page")
    uow.commit()
    return page


def preview_dose(
    uow: UnitOfWork, clock: Clock, actor: Actor, patient_id: int, request: DoseRequest
) -> DosePreview:
    """Compute without storing (the live result on the dose page). Bad input is returned as a
    :class:`FieldError`, not raised; a hard limit shows in the evaluation."""
    require_role(uow, clock, actor, RESOURCE_CALCULATION, VIEW_ROLES)
    patient = load_visible(uow, clock, actor, patient_id, RESOURCE_CALCULATION)
    try:
        computation: DoseComputation | None = compute(uow, patient, request, clinic_library(uow))
        error = None
    except InvalidInput as refused:
        computation, error = None, FieldError.of(refused)
    record_patient(
        uow, clock, actor, AuditAction.READ, RESOURCE_CALCULATION, patient, detail="preview"
    )
    uow.commit()
    return DosePreview(computation, error)


def order_dose(
    uow: UnitOfWork, clock: Clock, actor: Actor, patient_id: int, request: DoseRequest
) -> DoseOrder:
    """Store a dose order computed on the patient's latest weight (nurse or prescriber).

    A prescriber's order is signed at once; a nurse's awaits a prescriber. Raises
    :class:`InvalidInput` for bad input or an unconfirmed doubtful weight
    (``confirm_weight``), :class:`LimitExceeded` for a hard limit (audited, nothing stored),
    :class:`OverrideRequired` when a prescriber reaches a soft limit without a reason.
    """
    principal = require_role(uow, clock, actor, RESOURCE, ORDER_ROLES)
    patient = load_visible(uow, clock, actor, patient_id, RESOURCE)
    computation = compute(uow, patient, request, clinic_library(uow))
    require_confirmed_weight(computation.context, request.confirm_weight)
    evaluation = computation.evaluation
    if evaluation.level is LimitLevel.HARD:
        _refuse_hard_limit(uow, clock, actor, patient, computation)
    reason = _clean(request.override_reason)
    prescriber = principal.role is Role.PRESCRIBER
    if reason and not prescriber:
        raise InvalidInput.for_field(
            "override_reason", request.override_reason, "empty: the prescriber who signs gives it"
        )
    override = None  # a reason is ignored when no soft limit is reached
    if prescriber and evaluation.level is LimitLevel.SOFT:
        reached = "; ".join(hit.message for hit in evaluation.soft_hits)
        override = _override_request(reached, reason, principal, clock)
    now = clock.now()
    order = uow.dosing.add_order(
        build_order(
            patient,
            computation,
            request,
            prepared_by=principal.user_id,
            at=now,
            signed=prescriber,
            override=override,
            note=_text("note", request.note),
        )
    )
    details = [f"{order.status.value}", f"limit {order.limit_level.value}"]
    details.append(f"basis {order.weight_basis.value}")
    if order.weight_confirmed_by is not None:
        details.append("doubtful weight confirmed by the orderer")
    if override is not None:
        details.append("override requested")
    _audit(uow, clock, actor, AuditAction.CREATE, patient, order.id, "; ".join(details))
    uow.commit()
    return order


def sign_order(
    uow: UnitOfWork, clock: Clock, actor: Actor, order_id: int, override_reason: str = ""
) -> DoseOrder:
    """Sign a nurse's order (prescribers only). An order that reached a soft limit needs the
    override reason now (else :class:`OverrideRequired`); it then awaits a second person.
    Signing a signed order is a :class:`Conflict`."""
    principal = require_role(uow, clock, actor, RESOURCE, SIGN_ROLES)
    order, patient = load_order(uow, clock, actor, order_id, RESOURCE)
    if order.signed_by is not None:
        raise Conflict(f"dose order {order.id} is signed already", field="order")
    reason = _clean(override_reason)
    override = None  # a reason is ignored when the order reached no soft limit
    if order.limit_level is LimitLevel.SOFT:
        reached = "; ".join(hit.message for hit in order.limit_hits)
        override = _override_request(reached, reason, principal, clock)
    if not uow.dosing.record_signature(order.id, principal.user_id, clock.now(), override):
        raise Conflict(f"dose order {order.id} is signed already", field="order")
    detail = "signed; override requested" if override else "signed"
    _audit(uow, clock, actor, AuditAction.UPDATE, patient, order.id, detail)
    uow.commit()
    return _reload(uow, order.id)


def confirm_override(
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    order_id: int,
    *,
    via: ConfirmationMethod,
) -> DoseOrder:
    """The second person confirms a soft-limit override (nurse or prescriber, not the one who
    requested it). ``actor`` is that second person, authenticated by their own credentials
    (``via`` says how). Raises :class:`Conflict` when no override awaits confirmation and
    :class:`PermissionDenied` (audited) when the requester tries to confirm their own."""
    principal = require_role(uow, clock, actor, RESOURCE_OVERRIDE, CONFIRM_ROLES)
    order, patient = load_order(uow, clock, actor, order_id, RESOURCE_OVERRIDE)
    if order.status is not OrderStatus.AWAITING_CONFIRMATION:
        raise Conflict(
            f"dose order {order.id}: no override awaits confirmation (status {order.status.value})",
            field="order",
        )
    if order.override_requested_by == principal.user_id:
        raise deny(
            uow,
            clock,
            actor,
            RESOURCE_OVERRIDE,
            PermissionDenied(
                "confirmed_by: you requested this override; a second person, different from "
                "the requester, must confirm it",
                field="confirmed_by",
            ),
            site_id=patient.site_id,
            patient_id=patient.id,
            resource_id=order.id,
        )
    if not uow.dosing.record_override_confirmation(order.id, principal.user_id, clock.now(), via):
        raise Conflict(f"dose order {order.id}: the override is confirmed already", field="order")
    record(
        uow,
        clock,
        actor,
        AuditAction.UPDATE,
        RESOURCE_OVERRIDE,
        site_id=patient.site_id,
        patient_id=patient.id,
        resource_id=order.id,
        detail=f"second person confirmed via {via.value}",
    )
    uow.commit()
    return _reload(uow, order.id)


def get_order(
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    order_id: int,
    roles: frozenset[Role] = VIEW_ROLES,
) -> DoseOrder:
    """One order (clinical roles, the order's site only; otherwise an audited NotFound).
    ``roles`` narrows who may read it, for a page that goes on to act on the order."""
    require_role(uow, clock, actor, RESOURCE, roles)
    order, patient = load_order(uow, clock, actor, order_id, RESOURCE)
    _audit(uow, clock, actor, AuditAction.READ, patient, order.id, "order")
    uow.commit()
    return order


def list_orders(uow: UnitOfWork, clock: Clock, actor: Actor, patient_id: int) -> list[DoseOrder]:
    """The patient's orders, newest first (clinical roles)."""
    require_role(uow, clock, actor, RESOURCE, VIEW_ROLES)
    patient = load_visible(uow, clock, actor, patient_id, RESOURCE)
    orders = uow.dosing.patient_orders(patient.id, limit=ORDERS_SHOWN)
    _audit(uow, clock, actor, AuditAction.READ, patient, detail=f"{len(orders)} orders")
    uow.commit()
    return orders


def verified_order_for_session(
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    *,
    patient_id: int,
    at: dt.datetime | None = None,
    protocol_id: str | None = None,
) -> DoseOrder | None:
    """The newest verified order of the patient made within :data:`ORDER_VALID_FOR` before
    ``at`` (default now), under ``protocol_id`` when given; ``None`` if there is none.

    For the chair's pre-infusion check. The read is recorded in the caller's unit of work and
    **not committed**: the chair stores the planned dose in the same transaction and commits.
    """
    require_role(uow, clock, actor, RESOURCE, VIEW_ROLES)
    patient = load_visible(uow, clock, actor, patient_id, RESOURCE)
    until = at or clock.now()
    since = until - ORDER_VALID_FOR
    found = next(
        (
            order
            for order in uow.dosing.patient_orders(patient.id, limit=ORDERS_SHOWN)
            if order.status is OrderStatus.VERIFIED
            and since <= order.prepared_at <= until
            and (protocol_id is None or order.protocol_id == protocol_id)
        ),
        None,
    )
    detail = "verified order for the chair" if found else "no verified order for the chair"
    _audit(uow, clock, actor, AuditAction.READ, patient, found.id if found else "", detail)
    return found


def staff_names(uow: UnitOfWork, orders: list[DoseOrder]) -> dict[int, str]:
    """Usernames of everyone named on ``orders`` (to show who prepared, signed, confirmed)."""
    ids: set[int] = set()
    for order in orders:
        ids.update(
            i
            for i in (
                order.prepared_by,
                order.signed_by,
                order.override_requested_by,
                order.override_confirmed_by,
                order.weight_confirmed_by,
            )
            if i is not None
        )
    names: dict[int, str] = {}
    for user_id in sorted(ids):
        user = uow.users.get(user_id)
        names[user_id] = user.username if user is not None else f"user {user_id}"
    return names


# --- helpers -----------------------------------------------------------------------------------


def _override_request(
    reached: str, reason: str, principal: Principal, clock: Clock
) -> OverrideRequest:
    if not reason:
        raise OverrideRequired(
            f"soft limit reached: {reached}; a prescriber's reason and a second person are "
            "needed to proceed",
            field="override_reason",
        )
    if len(reason) < MIN_REASON_CHARS or len(reason) > TEXT_MAX:
        raise InvalidInput.for_field(
            "override_reason", reason, f"a reason of {MIN_REASON_CHARS}–{TEXT_MAX} characters"
        )
    return OverrideRequest(reason, principal.user_id, clock.now())


def _refuse_hard_limit(
    uow: UnitOfWork, clock: Clock, actor: Actor, patient: Patient, computation: DoseComputation
) -> None:
    """Record the refused attempt on its own (nothing else is stored), then raise."""
    evaluation = computation.evaluation
    uow.rollback()
    reached = ", ".join(hit.quantity.value for hit in evaluation.hard_hits)
    record(
        uow,
        clock,
        actor,
        AuditAction.CREATE,
        RESOURCE,
        outcome=AuditOutcome.DENIED,
        site_id=patient.site_id,
        patient_id=patient.id,
        resource_id=patient.id,
        detail=f"hard limit: {reached}",
    )
    uow.commit()
    evaluation.require_permitted()  # raises LimitExceeded: no override exists


def load_order(
    uow: UnitOfWork, clock: Clock, actor: Actor, order_id: int, resource: str
) -> tuple[DoseOrder, Patient]:
    """The order and its patient if the actor may see the order's site; else an audited
    NotFound (the same answer as for an order that does not exist)."""
    principal = actor.principal
    order = uow.dosing.get_order(order_id)
    if order is None or principal is None or not principal.can_see_site(order.site_id):
        raise deny(
            uow,
            clock,
            actor,
            resource,
            NotFound(f"dose order {order_id} not found"),
            patient_id=order.patient_id if order is not None else None,
            resource_id=order_id,
        )
    patient = load_visible(uow, clock, actor, order.patient_id, resource)
    return order, patient


def _reload(uow: UnitOfWork, order_id: int) -> DoseOrder:
    order = uow.dosing.get_order(order_id)
    assert order is not None  # it was just updated in this transaction
    return order


def _audit(
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    action: AuditAction,
    patient: Patient,
    resource_id: int | str = "",
    detail: str = "",
) -> None:
    record_patient(
        uow, clock, actor, action, RESOURCE, patient, resource_id=resource_id, detail=detail
    )


def _clean(text: str) -> str:
    return " ".join(text.split())


def _text(field: str, text: str) -> str:
    cleaned = _clean(text)
    if len(cleaned) > TEXT_MAX:
        raise InvalidInput.for_field(field, text, f"at most {TEXT_MAX} characters")
    return cleaned
