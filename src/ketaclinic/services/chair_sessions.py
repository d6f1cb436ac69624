"""Infusion sessions: check-in at a chair, the pre-infusion checklist, and the transitions that
are not part of the administration record (begin checks, begin observation, cancel).

Check-in links the session to the patient's booked visit of the day at the chair's site, when
there is one (``services/chair_visits.py``).

Checklist items and how each is answered here:

- ``consent_current``, ``eligibility_signed``, ``safety_screen_reviewed``: read from the
  patient's record, not answered at the chair (``services/chair_record_checks.py``: consent on
  the version in force, the signed eligibility decision, no open safety review). The page shows
  what was found; the start re-reads them and is refused while one fails.
- ``weight_confirmed``: today's weight, stored in the patient's weight history; a weight that
  looks wrong against the previous one (domain/weight.py) needs an explicit confirmation.
- ``baseline_vitals_within_limits``: resting BP, HR and SpO2, stored as the session's first
  readings and as its baseline; the pre-infusion alert rules decide pass, fail (a hold a
  prescriber may release) or hard fail (no infusion today).
- ``escort_confirmed``: the responsible adult's name and phone.
- ``dose_verified``: ``chair_mar.verify_dose`` (drug library).

Recording the first check begins the checks (the transition is recorded as well). A failed check
is released only by a prescriber with a reason; a hard failure by no one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from ketaclinic.domain.alerts import AlertTier
from ketaclinic.domain.audit import AuditAction
from ketaclinic.domain.drug_library import DEFAULT_LIBRARY, limits_for
from ketaclinic.domain.errors import (
    Conflict,
    IllegalTransition,
    InvalidInput,
    LimitExceeded,
    NotFound,
    PermissionDenied,
)
from ketaclinic.domain.people import BodyMeasurement, Chair, Role
from ketaclinic.domain.session_lifecycle import (
    CheckItem,
    CheckOutcome,
    CheckResult,
    SessionState,
    Transition,
    override_check,
    require_text,
)
from ketaclinic.domain.vitals import SPECS, VitalKind, VitalReading, VitalSource
from ketaclinic.domain.weight import check_plausibility
from ketaclinic.services import chair_record_checks, chair_visits, clinic_settings
from ketaclinic.services.audit import Actor as AuditActor
from ketaclinic.services.audit import deny, require_role
from ketaclinic.services.chair_access import (
    ACT_ROLES,
    PRESCRIBER_ONLY,
    RESOURCE_SESSION,
    Loaded,
    apply,
    audit,
    chair_actor,
    checklist_of,
    load_session,
    touch,
)
from ketaclinic.services.chair_ports import Baseline, NewSession, SessionRow
from ketaclinic.services.chair_vitals import SessionFeed, check_reading_times
from ketaclinic.services.patients import load_visible
from ketaclinic.services.ports import Clock, UnitOfWork

RESOURCE_CHECK = "session_check"
RECORD_ITEMS = frozenset(chair_record_checks.RECORD_ITEMS)
NAME_MAX = 100
PHONE_MAX = 32
NOTE_MAX = 500
PRE_INFUSION_STATES = frozenset({SessionState.CHECKED_IN, SessionState.PRE_INFUSION_CHECKS})


def protocol_ids() -> list[str]:
    """The drug-library protocols a session can run under."""
    return sorted(DEFAULT_LIBRARY)


def find_chair(uow: UnitOfWork, site_ids: frozenset[int], chair_code: str) -> Chair | None:
    """The chair with this code at one of ``site_ids``."""
    code = chair_code.strip().upper()
    for site_id in sorted(site_ids):
        for chair in uow.sites.chairs(site_id):
            if chair.code.upper() == code:
                return chair
    return None


def visible_chair(
    uow: UnitOfWork,
    clock: Clock,
    actor: AuditActor,
    chair_code: str,
    roles: frozenset[Role] = ACT_ROLES,
) -> Chair:
    """The chair with this code at one of the caller's sites; otherwise an audited
    PermissionDenied (role) or NotFound (no such chair, or another site's)."""
    principal = require_role(uow, clock, actor, RESOURCE_SESSION, roles)
    chair = find_chair(uow, principal.site_ids, chair_code)
    if chair is None:
        raise deny(
            uow,
            clock,
            actor,
            RESOURCE_SESSION,
            NotFound(f"chair: {chair_code[:20]!r} is not a chair at your sites", field="chair"),
            resource_id=chair_code[:64],
        )
    return chair


def check_in(
    uow: UnitOfWork,
    clock: Clock,
    actor: AuditActor,
    *,
    chair_code: str,
    patient_id: int,
    protocol_id: str,
    bolus_allowed: bool = False,
) -> SessionRow:
    """Open a session for a patient at a chair of the caller's sites.

    Raises NotFound (chair or patient not at the caller's sites; audited), InvalidInput (unknown
    protocol, patient of another site than the chair), PermissionDenied (boluses allowed by
    anyone but a prescriber; audited), Conflict (chair or patient already in a session)."""
    chair = visible_chair(uow, clock, actor, chair_code)
    principal = actor.principal
    assert principal is not None
    patient = load_visible(uow, clock, actor, patient_id, RESOURCE_SESSION)
    limits_for(protocol_id)  # InvalidInput naming the known protocols
    if patient.site_id != chair.site_id:
        raise InvalidInput.for_field(
            "patient_id", patient_id, f"a patient registered at the chair's site ({chair.code})"
        )
    if bolus_allowed and principal.role is not Role.PRESCRIBER:
        raise deny(
            uow,
            clock,
            actor,
            RESOURCE_SESSION,
            PermissionDenied("only a prescriber may allow boluses for a session"),
            site_id=chair.site_id,
            patient_id=patient.id,
        )
    occupied = uow.chair.open_session_for_chair(chair.id)
    if occupied is not None:
        raise Conflict(
            f"chair {chair.code} is occupied by session {occupied.id} ({occupied.state.value})",
            field="chair",
        )
    if uow.chair.open_sessions_for_patients([patient.id]):
        raise Conflict(
            "check-in: this patient already has an open infusion session", field="patient_id"
        )
    now = clock.now()
    row = uow.chair.add_session(
        NewSession(
            patient_id=patient.id,
            site_id=chair.site_id,
            chair_id=chair.id,
            protocol_id=protocol_id,
            bolus_allowed=bolus_allowed,
            checked_in_at=now,
            checked_in_by=principal.user_id,
        )
    )
    site = uow.sites.get(chair.site_id)
    assert site is not None  # a chair's site always exists (foreign key)
    link = chair_visits.link_at_check_in(uow, row, site)
    uow.chair.mark_changed(row.site_id)
    detail = f"chair {chair.id}" + (f", visit {link.visit_id}" if link else ", no booked visit")
    audit(uow, clock, actor, AuditAction.CREATE, RESOURCE_SESSION, row, detail=detail)
    uow.commit()
    return row


SIMPLE_TRANSITIONS = frozenset(
    {Transition.BEGIN_CHECKS, Transition.BEGIN_OBSERVATION, Transition.CANCEL}
)


def transition(
    uow: UnitOfWork,
    clock: Clock,
    actor: AuditActor,
    session_id: int,
    which: Transition,
    reason: str = "",
) -> SessionRow:
    """Begin checks, begin observation or cancel (with a reason). The infusion's own steps go
    through chair_mar (they chart the administration record too) and discharge through
    chair_discharge. Raises IllegalTransition with the reason when the machine refuses."""
    if which not in SIMPLE_TRANSITIONS:
        raise InvalidInput.for_field(
            "transition",
            which.value,
            "begin_checks, begin_observation or cancel (the infusion's steps have their own "
            "actions)",
        )
    loaded = load_session(
        uow, clock, actor, session_id, RESOURCE_SESSION, ACT_ROLES, for_update=True
    )
    row = apply(uow, loaded, which, clock.now(), reason=reason)
    audit(uow, clock, actor, AuditAction.UPDATE, RESOURCE_SESSION, row, detail=which.value)
    uow.commit()
    return row


# --- the checklist --------------------------------------------------------------------------


def open_checks(uow: UnitOfWork, clock: Clock, actor: AuditActor, session_id: int) -> Loaded:
    """The session, locked, with the checks begun (recorded as a transition) if they were not."""
    loaded = load_session(uow, clock, actor, session_id, RESOURCE_CHECK, ACT_ROLES, for_update=True)
    if loaded.row.state not in PRE_INFUSION_STATES:
        raise IllegalTransition(
            f"cannot change the pre-infusion checklist: the session is {loaded.row.state.value}"
        )
    if loaded.row.state is SessionState.CHECKED_IN:
        row = apply(uow, loaded, Transition.BEGIN_CHECKS, clock.now())
        loaded = replace(loaded, row=row)
    return loaded


def store_check(
    uow: UnitOfWork,
    clock: Clock,
    actor: AuditActor,
    loaded: Loaded,
    result: CheckResult,
    row: SessionRow | None = None,
) -> CheckResult:
    current = row or loaded.row
    uow.chair.add_check(current.id, result)
    touch(uow, current, result.at)
    audit(
        uow,
        clock,
        actor,
        AuditAction.CREATE,
        RESOURCE_CHECK,
        current,
        detail=f"{result.item.value}: {result.outcome.value}",
    )
    uow.commit()
    return result


def confirm_weight(
    uow: UnitOfWork,
    clock: Clock,
    actor: AuditActor,
    session_id: int,
    weight_kg: float,
    *,
    confirmed: bool = False,
) -> CheckResult:
    """Today's weight, added to the patient's weight history. A weight outside the plausible
    range or far from the previous one (kg/lb mix-up, > 10 % change) is InvalidInput unless
    ``confirmed``; the confirmation is kept in the check's note."""
    loaded = open_checks(uow, clock, actor, session_id)
    history = uow.patients.measurements(loaded.patient.id)
    previous = history[-1].weight_kg if history else None
    findings = check_plausibility(weight_kg, previous)
    if findings and not confirmed:
        raise InvalidInput.for_field(
            "weight_kg",
            weight_kg,
            "a confirmed weight: "
            + "; ".join(f.message for f in findings)
            + " (re-weigh, or confirm this weight)",
        )
    now = clock.now()
    height = history[-1].height_cm if history else None
    uow.patients.add_measurement(
        BodyMeasurement(
            loaded.patient.id,
            now,
            weight_kg,
            height,
            loaded.principal.user_id,
            note=f"weighed at the chair, session {loaded.row.id}",
        )
    )
    note = f"{weight_kg:g} kg"
    if findings:
        note += " (confirmed despite: " + "; ".join(f.code.value for f in findings) + ")"
    row = replace(loaded.row, weight_kg=weight_kg)
    uow.chair.save_session(row)
    result = CheckResult(CheckItem.WEIGHT_CONFIRMED, CheckOutcome.PASSED, loaded.by, now, note)
    return store_check(uow, clock, actor, loaded, result, row)


def record_baseline(
    uow: UnitOfWork,
    clock: Clock,
    actor: AuditActor,
    session_id: int,
    *,
    systolic_mmhg: float,
    diastolic_mmhg: float,
    heart_rate_per_min: float,
    spo2_percent: float,
    observed_at: dt.datetime | None = None,
) -> CheckResult:
    """Resting vitals before the start: stored as readings and as the session's baseline, and
    checked against the clinic's pre-infusion rules (defaults REFERENCE.md §5): above 180/100
    fails hard (no infusion today), above 140/90 fails as a hold a prescriber may release, SpO2
    below 92 % fails. An implausible measurement (e.g. systolic not above diastolic) is
    InvalidInput: re-measure, nothing is stored."""
    loaded = open_checks(uow, clock, actor, session_id)
    now = clock.now()
    at = observed_at or now
    readings = [
        VitalReading(kind, value, at, VitalSource.MANUAL, SPECS[kind].loinc)
        for kind, value in (
            (VitalKind.BP_SYSTOLIC, systolic_mmhg),
            (VitalKind.BP_DIASTOLIC, diastolic_mmhg),
            (VitalKind.HEART_RATE, heart_rate_per_min),
            (VitalKind.SPO2, spo2_percent),
        )
    ]
    check_reading_times(loaded.row, readings, now)
    feed = SessionFeed(uow, loaded.row, at, clinic_settings.clinic_alert_rules(uow))
    result = feed.ingest(readings, now)
    implausible = [f for f in result.findings if f.tier is AlertTier.PLAUSIBILITY]
    if implausible:
        uow.rollback()
        first = implausible[0]
        raise InvalidInput.for_field(
            first.vital.value if first.vital else "baseline",
            first.value,
            f"a plausible measurement ({first.label}); check the sensor or cuff and re-measure",
        )
    clinical = [f for f in result.findings if f.tier is AlertTier.CLINICAL]
    hard = any(f.rule_key == "pre_infusion_bp_no_infusion" for f in clinical)
    baseline = Baseline(at, systolic_mmhg, diastolic_mmhg, heart_rate_per_min, spo2_percent)
    row = replace(loaded.row, baseline=baseline)
    uow.chair.save_session(row)
    values = (
        f"BP {systolic_mmhg:g}/{diastolic_mmhg:g} mmHg, HR {heart_rate_per_min:g}/min, "
        f"SpO2 {spo2_percent:g} %"
    )
    if clinical:
        # The absolute limit outranks the hold: report it alone when both fired.
        shown = [f for f in clinical if f.rule_key == "pre_infusion_bp_no_infusion"] or clinical
        note = values + " — " + "; ".join(f.message for f in shown)
        check = CheckResult(
            CheckItem.BASELINE_VITALS_WITHIN_LIMITS,
            CheckOutcome.FAILED,
            loaded.by,
            now,
            note[:NOTE_MAX],
            hard=hard,
        )
    else:
        check = CheckResult(
            CheckItem.BASELINE_VITALS_WITHIN_LIMITS, CheckOutcome.PASSED, loaded.by, now, values
        )
    return store_check(uow, clock, actor, loaded, check, row)


def confirm_escort(
    uow: UnitOfWork,
    clock: Clock,
    actor: AuditActor,
    session_id: int,
    *,
    name: str,
    phone: str,
) -> CheckResult:
    """The responsible adult who takes the patient home [cited: Ketalar US PI]."""
    name, phone = name.strip(), phone.strip()
    if not name or len(name) > NAME_MAX:
        raise InvalidInput.for_field("escort_name", name, f"the escort's name, 1–{NAME_MAX} chars")
    if not phone or len(phone) > PHONE_MAX or not any(ch.isdigit() for ch in phone):
        raise InvalidInput.for_field(
            "escort_phone", phone, f"the escort's phone number, up to {PHONE_MAX} characters"
        )
    loaded = open_checks(uow, clock, actor, session_id)
    row = replace(loaded.row, escort_name=name, escort_phone=phone)
    uow.chair.save_session(row)
    result = CheckResult(
        CheckItem.ESCORT_CONFIRMED, CheckOutcome.PASSED, loaded.by, clock.now(), "escort recorded"
    )
    return store_check(uow, clock, actor, loaded, result, row)


def override(
    uow: UnitOfWork,
    clock: Clock,
    actor: AuditActor,
    session_id: int,
    item: CheckItem,
    reason: str,
) -> CheckResult:
    """A prescriber releases a failed check with a reason (e.g. a BP hold settled after rest).

    An item read from the record is released as the record shows it now: the failed finding
    and the override are stored together, and the override holds while the record says the
    same (services/chair_record_checks.py).

    Raises PermissionDenied (not a prescriber; audited), IllegalTransition (the item's latest
    answer, or the record, is not a failure), LimitExceeded (a hard failure: no override
    exists)."""
    loaded = load_session(
        uow, clock, actor, session_id, RESOURCE_CHECK, PRESCRIBER_ONLY, for_update=True
    )
    if loaded.row.state not in PRE_INFUSION_STATES:
        raise IllegalTransition(f"cannot override a check: the session is {loaded.row.state.value}")
    require_text("reason", reason, required=True, max_len=NOTE_MAX)
    if item in RECORD_ITEMS:
        return _override_record_item(uow, clock, actor, loaded, item, reason.strip())
    latest = checklist_of(uow, loaded.row).latest().get(item)
    if latest is None:
        raise IllegalTransition(f"cannot override {item.value!r}: it has not been checked")
    result = override_check(latest, chair_actor(loaded.principal), clock.now(), reason.strip())
    return store_check(uow, clock, actor, loaded, result)


def _override_record_item(
    uow: UnitOfWork,
    clock: Clock,
    actor: AuditActor,
    loaded: Loaded,
    item: CheckItem,
    reason: str,
) -> CheckResult:
    now = clock.now()
    finding = chair_record_checks.read_record(uow, loaded.patient, now)[item]
    if finding.passed:
        raise IllegalTransition(f"cannot override {item.value!r}: the record shows it cleared")
    if finding.hard:
        raise LimitExceeded.for_field(
            item.value, "override", f"no override: {finding.note} ({finding.fix})"
        )
    failed = finding.as_result(loaded.by, now)
    uow.chair.add_check(loaded.row.id, failed)
    result = override_check(failed, chair_actor(loaded.principal), now, reason)
    return store_check(uow, clock, actor, loaded, result)
