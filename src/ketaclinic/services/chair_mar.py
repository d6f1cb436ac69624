"""The medication administration record at the chair, and the dose checks against the drug
library (``domain/drug_library.py``).

The infusion's steps change two things at once and always together: the session's state
(``domain/session_lifecycle.py``) and the append-only record (``domain/administration.py``).
Start charts the pump's programme (dose, concentration, volume, rate, lot, pump); pause, resume
and stop chart themselves; *complete* charts a stop with the reason "infusion complete". Rate
changes and boluses (only where the session allows them) are charted while running.

The prescriber's order: the dose verified on the checklist is the pump programme of the
patient's newest **verified dose order** (``services/dosing.py``) made within the last 24 hours
under the session's protocol. Without one the check is refused (IllegalTransition: a prescriber
orders first); a programme that differs from the order's (dose, concentration, volume, pump
rate, each within the MAR's 2 %) is refused naming the value (InvalidInput: to give another dose
the prescriber orders again); so is an order computed on a weight more than 10 % away from
today's (order again on today's weight). The order's id, weight basis and dosing weight are
stored with the planned dose (``uow.dosing.link_session_order``). A start with a different
programme is held to the same order.

Drug library: the clinic's effective library (``services/dosing_library.clinic_library``: the
director's approved values in place of the shipped defaults). A dose, rate or bolus reaching a
**hard** limit is refused (LimitExceeded, nothing stored). A **soft** limit needs an override: a
reason and a second staff member who confirms with their own password; one of the two must be a
prescriber (REFERENCE.md §3.1: a prescriber override with reason). A soft limit the order
already passed with a confirmed override (the same quantity) is covered by that override: its
reason and second person are stored again. Corrections are not checked against the library:
they document what happened, and refusing them would make the record wrong.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from ketaclinic.domain.administration import (
    DOSE_CONSISTENCY_RELATIVE,
    AdministrationRecord,
    Bolus,
    Event,
    Pause,
    RateChange,
    Resume,
    StartInfusion,
    Stop,
)
from ketaclinic.domain.audit import AuditAction
from ketaclinic.domain.drug_library import (
    LimitHit,
    LimitLevel,
    Override,
    Quantity,
    evaluate_values,
    limits_for,
)
from ketaclinic.domain.errors import IllegalTransition, InvalidInput
from ketaclinic.domain.people import Role, StaffUser
from ketaclinic.domain.session_lifecycle import (
    CHAIR_ROLES,
    CheckItem,
    CheckOutcome,
    CheckResult,
    SessionState,
    Transition,
)
from ketaclinic.domain.weight import (
    DEFAULT_WEIGHT_POLICY,
    WeightBasis,
    adjusted_body_weight_kg,
)
from ketaclinic.services import chair_record_checks, dosing
from ketaclinic.services.audit import Actor as AuditActor
from ketaclinic.services.auth import Passwords
from ketaclinic.services.chair_access import (
    ACT_ROLES,
    Loaded,
    apply,
    audit,
    checklist_of,
    load_session,
    touch,
)
from ketaclinic.services.chair_ports import (
    DoseCheck,
    LimitLevelSeen,
    PlannedDose,
    SessionRow,
    StoredMarEntry,
)
from ketaclinic.services.chair_sessions import open_checks, store_check
from ketaclinic.services.dosing_library import clinic_library
from ketaclinic.services.dosing_ports import DoseOrder, SessionOrder
from ketaclinic.services.ports import Clock, UnitOfWork

RESOURCE_MAR = "administration"
COMPLETE_REASON = "infusion complete"


@dataclass(frozen=True, slots=True)
class OverrideRequest:
    """A soft-limit override as asked for: the reason and the second person's sign-in."""

    reason: str
    second_username: str
    second_password: str


@dataclass(frozen=True, slots=True)
class DoseValues:
    """A pump programme: ``dose_mg`` in ``volume_ml`` at ``concentration_mg_per_ml``, run at
    ``rate_ml_per_h``. Raises InvalidInput for non-positive values or a dose that is not
    concentration × volume (within the MAR's 2 %)."""

    dose_mg: float
    concentration_mg_per_ml: float
    volume_ml: float
    rate_ml_per_h: float

    def __post_init__(self) -> None:
        for name in ("dose_mg", "concentration_mg_per_ml", "volume_ml", "rate_ml_per_h"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise InvalidInput.for_field(name, value, "a positive number")
        expected = self.concentration_mg_per_ml * self.volume_ml
        if abs(self.dose_mg - expected) > DOSE_CONSISTENCY_RELATIVE * expected:
            raise InvalidInput.for_field(
                "dose_mg",
                self.dose_mg,
                f"concentration × volume = {expected:g} mg "
                f"(within {DOSE_CONSISTENCY_RELATIVE:.0%})",
            )

    @property
    def duration_min(self) -> float:
        return 60.0 * self.volume_ml / self.rate_ml_per_h

    def quantities(self, weight_kg: float | None) -> dict[Quantity, float]:
        values = {
            Quantity.DOSE_MG: self.dose_mg,
            Quantity.CONCENTRATION_MG_PER_ML: self.concentration_mg_per_ml,
            Quantity.RATE_ML_PER_H: self.rate_ml_per_h,
            Quantity.DURATION_MIN: self.duration_min,
        }
        if weight_kg:
            values[Quantity.DOSE_MG_PER_KG] = self.dose_mg / weight_kg
            values[Quantity.RATE_MG_PER_KG_PER_H] = (
                self.rate_ml_per_h * self.concentration_mg_per_ml / weight_kg
            )
        return values

    def same_as(self, planned: PlannedDose) -> bool:
        return (
            self.dose_mg,
            self.concentration_mg_per_ml,
            self.volume_ml,
            self.rate_ml_per_h,
        ) == (
            planned.dose_mg,
            planned.concentration_mg_per_ml,
            planned.volume_ml,
            planned.rate_ml_per_h,
        )


def record_of(uow: UnitOfWork, row: SessionRow) -> AdministrationRecord:
    """The session's MAR as the domain checks it."""
    return record_from(row, uow.chair.mar_entries(row.id))


def record_from(row: SessionRow, stored: Iterable[StoredMarEntry]) -> AdministrationRecord:
    """The MAR of ``row`` from its stored entries (read already, e.g. for a whole board)."""
    return AdministrationRecord(row.bolus_allowed, tuple(e.entry for e in stored))


def weight_of(uow: UnitOfWork, row: SessionRow) -> float | None:
    """Today's confirmed weight, else the latest in the patient's history."""
    if row.weight_kg is not None:
        return row.weight_kg
    history = uow.patients.measurements(row.patient_id)
    return history[-1].weight_kg if history else None


def library_check(
    uow: UnitOfWork,
    passwords: Passwords,
    loaded: Loaded,
    values: Mapping[Quantity, float],
    override: OverrideRequest | None,
    now: dt.datetime,
    order: DoseOrder | None = None,
) -> DoseCheck:
    """Check ``values`` against the session's protocol limits in the clinic's library.

    Hard limit: LimitExceeded. Soft limits the verified ``order`` passed with a confirmed
    override (the same quantities) are covered by it: the order's reason and second person are
    returned. Other soft limits without ``override``: OverrideRequired listing each limit
    reached. With one: the second person is verified (a nurse or prescriber of the session's
    site, not the caller, with their password; one of the two a prescriber) and the override is
    returned for storage; InvalidInput when any of that fails."""
    library = clinic_library(uow)
    evaluation = evaluate_values(limits_for(loaded.row.protocol_id, library), values)
    if order is not None and not evaluation.hard_hits and _covered(order, evaluation.soft_hits):
        return DoseCheck(
            LimitLevelSeen.SOFT, order.override_reason[:500], order.override_confirmed_by
        )
    if evaluation.hard_hits or not evaluation.soft_hits or override is None:
        evaluation.require_permitted()  # raises for hard, and for soft without an override
        return DoseCheck(LimitLevelSeen.OK)
    second = _second_person(uow, passwords, loaded, override)
    if Role.PRESCRIBER not in {loaded.principal.role, second.role}:
        raise InvalidInput.for_field(
            "second_username",
            override.second_username,
            "a prescriber: a soft-limit override needs a prescriber among the two people",
        )
    evaluation.require_permitted(
        Override(override.reason, loaded.principal.username, second.username, now)
    )
    return DoseCheck(LimitLevelSeen.SOFT, override.reason.strip(), second.id)


def _covered(order: DoseOrder, soft_hits: tuple[LimitHit, ...]) -> bool:
    """Whether every soft limit reached is one the order passed with a confirmed override."""
    if not soft_hits or order.override_confirmed_by is None:
        return False
    passed = {hit.quantity for hit in order.limit_hits if hit.level is LimitLevel.SOFT}
    return all(hit.quantity in passed for hit in soft_hits)


# --- the prescriber's order ------------------------------------------------------------------

# The programme's fields and their units, as the order gives them (the pump rate is the order's
# pump rate, rounded to the pump's step).
ORDER_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("dose_mg", "dose_mg", "mg"),
    ("concentration_mg_per_ml", "concentration_mg_per_ml", "mg/mL"),
    ("volume_ml", "volume_ml", "mL"),
    ("rate_ml_per_h", "pump_rate_ml_per_h", "mL/h"),
)


def order_values(order: DoseOrder) -> DoseValues:
    """The pump programme of ``order``: its dose, concentration, volume and pump rate."""
    return DoseValues(
        order.dose_mg, order.concentration_mg_per_ml, order.volume_ml, order.pump_rate_ml_per_h
    )


def order_for_session(
    uow: UnitOfWork, clock: Clock, actor: AuditActor, row: SessionRow
) -> DoseOrder | None:
    """The newest verified order of the session's patient under the session's protocol made
    within the last 24 hours (read audited, not committed), or None."""
    return dosing.verified_order_for_session(
        uow, clock, actor, patient_id=row.patient_id, protocol_id=row.protocol_id
    )


def linked_order(uow: UnitOfWork, row: SessionRow) -> tuple[SessionOrder, DoseOrder] | None:
    """The order the session's planned dose was verified against, with its link, if any."""
    link = uow.dosing.session_order(row.id)
    if link is None:
        return None
    order = uow.dosing.get_order(link.order_id)
    return (link, order) if order is not None else None


def _require_order(uow: UnitOfWork, clock: Clock, actor: AuditActor, row: SessionRow) -> DoseOrder:
    order = order_for_session(uow, clock, actor, row)
    if order is None:
        hours = dosing.ORDER_VALID_FOR.total_seconds() / 3600
        raise IllegalTransition(
            "cannot verify the dose: the patient has no verified dose order under protocol "
            f"{row.protocol_id} from the last {hours:g} hours; a prescriber orders the dose "
            f"(patient page → Dose, /patients/{row.patient_id}/dose) and the chair takes it"
        )
    return order


def require_same_as_order(order: DoseOrder, values: DoseValues) -> None:
    """Refuse a programme that differs from the order's by more than the MAR's 2 % in any of
    dose, concentration, volume or pump rate (InvalidInput naming the first such field)."""
    for field, attribute, unit in ORDER_FIELDS:
        given = float(getattr(values, field))
        ordered = float(getattr(order, attribute))
        if abs(given - ordered) > DOSE_CONSISTENCY_RELATIVE * ordered:
            raise InvalidInput.for_field(
                field,
                given,
                f"{ordered:g} {unit} as in verified dose order #{order.id} (within "
                f"{DOSE_CONSISTENCY_RELATIVE:.0%}); to give another dose the prescriber "
                "orders again",
            )


def basis_weight(order: DoseOrder, weight_kg: float | None) -> float | None:
    """Today's weight on the order's basis, for the library's per-kg limits: the actual weight
    today, the order's ideal weight (it depends on height and sex only), or the adjusted weight
    from today's actual weight and the order's ideal weight."""
    if weight_kg is None or order.weight_basis is WeightBasis.ACTUAL:
        return weight_kg
    if order.ideal_weight_kg is None:
        return order.dosing_weight_kg
    if order.weight_basis is WeightBasis.IDEAL:
        return order.ideal_weight_kg
    return adjusted_body_weight_kg(weight_kg, order.ideal_weight_kg)


def _require_order_weight(order: DoseOrder, weight_kg: float | None) -> None:
    """Refuse an order computed on a weight too far from today's (the plausibility change
    limit, 10 % by default [design, domain/weight.py])."""
    if weight_kg is None:
        return
    limit = DEFAULT_WEIGHT_POLICY.max_change_percent.value
    change = 100.0 * (weight_kg - order.actual_weight_kg) / order.actual_weight_kg
    if abs(change) > limit:
        raise InvalidInput.for_field(
            "weight_kg",
            weight_kg,
            f"within {limit:g} % of the {order.actual_weight_kg:g} kg dose order "
            f"#{order.id} was computed on (today's weight differs by {change:+.1f} %): the "
            "prescriber orders again on today's weight",
        )


def _second_person(
    uow: UnitOfWork, passwords: Passwords, loaded: Loaded, override: OverrideRequest
) -> StaffUser:
    refusal = InvalidInput.for_field(
        "second_password",
        "<hidden>",
        "the sign-in of a second nurse or prescriber of this site (not yourself)",
    )
    user = uow.users.by_username(override.second_username.strip().lower())
    if user is None:
        passwords.burn(override.second_password)  # an unknown name costs as much as a known one
        raise refusal
    eligible = (
        user.active
        and user.role in CHAIR_ROLES
        and loaded.row.site_id in user.site_ids
        and user.id != loaded.principal.user_id
    )
    if not passwords.verify(uow.users.password_hash(user.id), override.second_password):
        raise refusal
    if not eligible:
        raise refusal
    return user


def verify_dose(
    uow: UnitOfWork,
    clock: Clock,
    actor: AuditActor,
    passwords: Passwords,
    session_id: int,
    values: DoseValues | None = None,
    override: OverrideRequest | None = None,
) -> CheckResult:
    """The checklist's dose check: the pump programme against the patient's newest verified
    dose order and the clinic's drug library. ``values`` is the programme as the nurse reads
    it off the pump (None: the order's own). Stores the programme as the session's planned
    dose, linked to the order with its weight basis, and passes ``dose_verified``; refusals
    store nothing (no order: IllegalTransition; a programme other than the order's, or an order
    on a weight far from today's: InvalidInput; limits: see :func:`library_check`)."""
    loaded = open_checks(uow, clock, actor, session_id)
    now = clock.now()
    order = _require_order(uow, clock, actor, loaded.row)
    chosen = values or order_values(order)
    require_same_as_order(order, chosen)
    weight = weight_of(uow, loaded.row)
    _require_order_weight(order, weight)
    check = library_check(uow, passwords, loaded, chosen.quantities(weight), override, now, order)
    planned = PlannedDose(
        chosen.dose_mg,
        chosen.concentration_mg_per_ml,
        chosen.volume_ml,
        chosen.rate_ml_per_h,
        check,
    )
    row = replace(loaded.row, planned=planned)
    uow.chair.save_session(row)
    uow.dosing.link_session_order(
        SessionOrder(
            row.id,
            order.id,
            order.weight_basis,
            order.dosing_weight_kg,
            loaded.principal.user_id,
            now,
        )
    )
    note = (
        f"{chosen.dose_mg:g} mg in {chosen.volume_ml:g} mL ({chosen.concentration_mg_per_ml:g} "
        f"mg/mL) at {chosen.rate_ml_per_h:g} mL/h, {chosen.duration_min:.0f} min; order "
        f"#{order.id} ({order.mg_per_kg:g} mg/kg, {order.weight_basis.value} weight "
        f"{order.dosing_weight_kg:.1f} kg); {loaded.row.protocol_id} limits {check.level.value}"
    )
    if check.level is LimitLevelSeen.SOFT:
        note += f"; soft limit overridden: {check.override_reason}"
    result = CheckResult(CheckItem.DOSE_VERIFIED, CheckOutcome.PASSED, loaded.by, now, note[:500])
    return store_check(uow, clock, actor, loaded, result, row)


# --- the infusion's steps -------------------------------------------------------------------


def _chart(
    uow: UnitOfWork,
    clock: Clock,
    actor: AuditActor,
    loaded: Loaded,
    event: Event,
    now: dt.datetime,
    *,
    transition: Transition | None = None,
    reason: str = "",
    check: DoseCheck | None = None,
) -> SessionRow:
    """Apply the session ``transition`` (when given) and append ``event`` to the MAR at the
    same moment, each checked by its domain rules (the state machine's refusal, worded for the
    nurse, comes first); store both, audit, commit. On any refusal nothing is committed."""
    if transition is not None:
        row = apply(uow, loaded, transition, now, reason=reason)
    else:
        row = touch(uow, loaded.row, now)
    record = record_of(uow, loaded.row).append(now, loaded.by, event)
    uow.chair.add_mar_entry(row.id, record.entries[-1], now, check)
    audit(uow, clock, actor, AuditAction.CREATE, RESOURCE_MAR, row, detail=event.kind.value)
    uow.commit()
    return row


def _load(uow: UnitOfWork, clock: Clock, actor: AuditActor, session_id: int) -> Loaded:
    return load_session(uow, clock, actor, session_id, RESOURCE_MAR, ACT_ROLES, for_update=True)


def start_infusion(
    uow: UnitOfWork,
    clock: Clock,
    actor: AuditActor,
    passwords: Passwords,
    session_id: int,
    *,
    lot_number: str,
    pump_id: str,
    values: DoseValues | None = None,
    override: OverrideRequest | None = None,
) -> SessionRow:
    """Start: every checklist item must be cleared (IllegalTransition lists those that are
    not). Consent, eligibility and the safety review are read from the patient's record at
    this moment (services/chair_record_checks.py) and what was found is stored with the
    checklist. The pump programme is the verified one unless ``values`` differ, in which case
    they are held to the linked order and checked against the library again."""
    loaded = _load(uow, clock, actor, session_id)
    planned = loaded.row.planned
    if planned is None:
        raise IllegalTransition("cannot start: verify the dose against the drug library first")
    now = clock.now()
    if loaded.row.state is SessionState.PRE_INFUSION_CHECKS:
        _record_gate(uow, loaded, now)
    chosen = values or DoseValues(
        planned.dose_mg, planned.concentration_mg_per_ml, planned.volume_ml, planned.rate_ml_per_h
    )
    check = planned.check
    if not chosen.same_as(planned):
        linked = linked_order(uow, loaded.row)
        if linked is None:
            raise IllegalTransition(
                "cannot start with another programme: no dose order is linked to this "
                "session; verify the dose against the order first"
            )
        order = linked[1]
        require_same_as_order(order, chosen)
        quantities = chosen.quantities(basis_weight(order, weight_of(uow, loaded.row)))
        check = library_check(uow, passwords, loaded, quantities, override, now, order)
    event = StartInfusion(
        chosen.dose_mg,
        chosen.concentration_mg_per_ml,
        chosen.volume_ml,
        chosen.rate_ml_per_h,
        lot_number.strip(),
        pump_id.strip(),
    )
    return _chart(uow, clock, actor, loaded, event, now, transition=Transition.START, check=check)


def _record_gate(uow: UnitOfWork, loaded: Loaded, now: dt.datetime) -> None:
    """Refuse the start while the checklist, with the record items read now, has a blocking
    item; otherwise store each record finding that passes as the answer the start went by (a
    released finding keeps its prescriber's override)."""
    findings = chair_record_checks.read_record(uow, loaded.patient, now)
    stored = checklist_of(uow, loaded.row)
    blocking = chair_record_checks.blocking(stored, findings)
    if blocking:
        raise IllegalTransition("cannot start: " + "; ".join(blocking))
    for finding in findings.values():
        if finding.passed:
            uow.chair.add_check(loaded.row.id, finding.as_result(loaded.by, now))


def pause(
    uow: UnitOfWork, clock: Clock, actor: AuditActor, session_id: int, reason: str = ""
) -> SessionRow:
    loaded = _load(uow, clock, actor, session_id)
    event = Pause(reason.strip())
    return _chart(
        uow, clock, actor, loaded, event, clock.now(), transition=Transition.PAUSE, reason=reason
    )


def resume(uow: UnitOfWork, clock: Clock, actor: AuditActor, session_id: int) -> SessionRow:
    loaded = _load(uow, clock, actor, session_id)
    return _chart(uow, clock, actor, loaded, Resume(), clock.now(), transition=Transition.RESUME)


def stop(
    uow: UnitOfWork, clock: Clock, actor: AuditActor, session_id: int, reason: str
) -> SessionRow:
    """End the infusion early; the reason is required (and charted on the MAR)."""
    loaded = _load(uow, clock, actor, session_id)
    event = Stop(reason.strip())
    return _chart(
        uow, clock, actor, loaded, event, clock.now(), transition=Transition.STOP, reason=reason
    )


def complete(uow: UnitOfWork, clock: Clock, actor: AuditActor, session_id: int) -> SessionRow:
    """The planned dose was given: the session completes and the MAR charts a stop."""
    loaded = _load(uow, clock, actor, session_id)
    event = Stop(COMPLETE_REASON)
    return _chart(uow, clock, actor, loaded, event, clock.now(), transition=Transition.COMPLETE)


def change_rate(
    uow: UnitOfWork,
    clock: Clock,
    actor: AuditActor,
    passwords: Passwords,
    session_id: int,
    rate_ml_per_h: float,
    override: OverrideRequest | None = None,
) -> SessionRow:
    """A new pump rate while running; the rate is checked against the library (mL/h, and
    mg/kg/h when the weight is known)."""
    loaded = _load(uow, clock, actor, session_id)
    if loaded.row.state is not SessionState.RUNNING:
        raise IllegalTransition(
            f"cannot change the rate: the infusion is {loaded.row.state.value}, not running"
        )
    event = RateChange(rate_ml_per_h)
    start = record_of(uow, loaded.row).start
    values = {Quantity.RATE_ML_PER_H: rate_ml_per_h}
    weight = weight_of(uow, loaded.row)
    linked = linked_order(uow, loaded.row)
    if linked is not None:
        weight = basis_weight(linked[1], weight)
    if start is not None and isinstance(start.event, StartInfusion) and weight:
        conc = start.event.concentration_mg_per_ml
        values[Quantity.RATE_MG_PER_KG_PER_H] = rate_ml_per_h * conc / weight
    now = clock.now()
    check = library_check(uow, passwords, loaded, values, override, now)
    return _chart(uow, clock, actor, loaded, event, now, check=check)


def give_bolus(
    uow: UnitOfWork,
    clock: Clock,
    actor: AuditActor,
    passwords: Passwords,
    session_id: int,
    dose_mg: float,
    override: OverrideRequest | None = None,
) -> SessionRow:
    """A bolus, only where the session allows one (IllegalTransition otherwise); the session's
    total dose with it is checked against the library."""
    loaded = _load(uow, clock, actor, session_id)
    event = Bolus(dose_mg)
    record = record_of(uow, loaded.row)
    if not record.bolus_allowed:
        raise IllegalTransition("cannot give a bolus: the session's protocol allows none")
    now = clock.now()
    total = record.delivered_mg(now) + dose_mg
    check = library_check(uow, passwords, loaded, {Quantity.DOSE_MG: total}, override, now)
    return _chart(uow, clock, actor, loaded, event, now, check=check)


CORRECTABLE_FIELDS: dict[str, tuple[str, ...]] = {
    "start": (
        "dose_mg",
        "concentration_mg_per_ml",
        "volume_ml",
        "rate_ml_per_h",
        "lot_number",
        "pump_id",
    ),
    "rate_change": ("rate_ml_per_h",),
    "bolus": ("dose_mg",),
    "pause": ("reason",),
    "stop": ("reason",),
    "resume": (),
}
# Voiding these would leave the session's state and its record disagreeing: a start, pause,
# resume or stop charted at the wrong time is corrected by moving it, not by voiding it.
VOIDABLE_KINDS = frozenset({"rate_change", "bolus"})


def correct_entry(
    uow: UnitOfWork,
    clock: Clock,
    actor: AuditActor,
    session_id: int,
    entry_id: int,
    *,
    reason: str,
    void: bool = False,
    changes: Mapping[str, object] | None = None,
    corrected_at: dt.datetime | None = None,
) -> SessionRow:
    """Append a correction of entry ``entry_id``: new values (``changes``, field → value), a
    new clinical time, or (rate changes and boluses only) void it as entered in error. The
    original stays in the record. Raises InvalidInput (unknown entry or field, bad values) or
    IllegalTransition (the corrected record would break the order rules)."""
    loaded = _load(uow, clock, actor, session_id)
    record = record_of(uow, loaded.row)
    current = next((e for e in record.effective_events() if e.entry_id == entry_id), None)
    if current is None:
        raise InvalidInput.for_field(
            "entry_id", entry_id, "the number of a charted, not voided, entry of this session"
        )
    kind = current.event.kind.value
    replacement: Event | None
    if void:
        if kind not in VOIDABLE_KINDS:
            raise InvalidInput.for_field(
                "void", kind, "a rate change or bolus (move other entries to the right time)"
            )
        replacement = None
    else:
        allowed = CORRECTABLE_FIELDS[kind]
        unknown = sorted(set(changes or {}) - set(allowed))
        if unknown:
            raise InvalidInput.for_field(
                unknown[0], (changes or {})[unknown[0]], f"one of {allowed}"
            )
        if not changes and corrected_at is None:
            raise InvalidInput.for_field("changes", {}, "new values or a corrected time")
        base: Any = current.event  # one of the event dataclasses; fields checked above
        replacement = dataclasses.replace(base, **dict(changes or {}))
    now = clock.now()
    if corrected_at is not None and corrected_at > now:
        raise InvalidInput.for_field(
            "corrected_at", corrected_at.isoformat(), "a time not in the future"
        )
    updated = record.correct(now, loaded.by, entry_id, replacement, reason, corrected_at)
    row = touch(uow, loaded.row, now)
    uow.chair.add_mar_entry(row.id, updated.entries[-1], now)
    audit(
        uow,
        clock,
        actor,
        AuditAction.UPDATE,
        RESOURCE_MAR,
        row,
        detail=f"correction of entry {entry_id}",
    )
    uow.commit()
    return row
