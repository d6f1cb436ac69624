"""The infusion chair's JSON API (DESIGN.md §4.3): sessions and their lifecycle, the
pre-infusion checklist, the administration record, vitals, alerts, side effects, CADSS-6 and
discharge. Scoped to the caller's sites; every read and write is audited by the services.

A refused transition is 409 with the reason; a soft dose limit without an override is 409
``override_required``; a hard limit is 422 ``hard_limit``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from ketaclinic.adapters.db.events_chair import chair_events
from ketaclinic.bootstrap import Container
from ketaclinic.domain.discharge import AldreteScore, PadssScore
from ketaclinic.domain.errors import InvalidInput
from ketaclinic.domain.session_lifecycle import CheckItem, Transition
from ketaclinic.domain.vitals import SPECS, VitalReading, VitalSource, kind_for_code
from ketaclinic.services import (
    chair_discharge,
    chair_mar,
    chair_sessions,
    chair_views,
    chair_vitals,
)
from ketaclinic.services.audit import Actor
from ketaclinic.services.chair_discharge import SideEffectInput
from ketaclinic.services.chair_mar import DoseValues, OverrideRequest
from ketaclinic.services.chair_ports import SessionRow
from ketaclinic.web.api.chair_schemas import (
    AcknowledgeIn,
    AdministrationIn,
    AlertOut,
    AlertPage,
    AssessmentIn,
    CheckAnswerIn,
    CheckInIn,
    DischargeIn,
    DissociationIn,
    DoseIn,
    OverrideIn,
    ResolveIn,
    SessionDetailOut,
    SessionOut,
    SessionPage,
    SideEffectIn,
    StartIn,
    TransitionIn,
    VitalOut,
    VitalPage,
    VitalsIn,
    detail_out,
)
from ketaclinic.web.api.schemas import ErrorResponse
from ketaclinic.web.deps import ApiActor, AppContainer, IdPath

router = APIRouter(tags=["infusion chair"])

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse},
    403: {"model": ErrorResponse},
    404: {"model": ErrorResponse},
    409: {"model": ErrorResponse},
    422: {"model": ErrorResponse},
}

# Common spellings of the stored UCUM units that devices and integrations send.
UNIT_ALIASES = {
    "mmhg": "mm[Hg]",
    "mm[hg]": "mm[Hg]",
    "bpm": "/min",
    "/min": "/min",
    "beats/min": "/min",
    "breaths/min": "/min",
    "{beats}/min": "/min",
    "{breaths}/min": "/min",
    "%": "%",
    "cel": "Cel",
    "°c": "Cel",
}


def _changed(c: Container, row: SessionRow) -> None:
    chair_events(c).publish([row.site_id])


def _detail(c: Container, actor: Actor, session_id: int) -> SessionDetailOut:
    with c.uow(readonly=True) as uow:
        return detail_out(chair_views.session_detail(uow, c.clock, actor, session_id, "api"))


def _override(given: OverrideIn | None) -> OverrideRequest | None:
    if given is None:
        return None
    return OverrideRequest(given.reason, given.second_username, given.second_password)


def _dose(given: DoseIn) -> DoseValues:
    return DoseValues(
        given.dose_mg, given.concentration_mg_per_ml, given.volume_ml, given.rate_ml_per_h
    )


def _site_id(c: Container, code: str | None) -> int | None:
    if code is None:
        return None
    with c.uow(readonly=True) as uow:
        site = uow.sites.by_code(code.strip().upper())
    return site.id if site else -1  # an unknown site shows nothing, like another site's


# --- sessions -------------------------------------------------------------------------------


@router.get("/sessions", response_model=SessionPage, responses=ERRORS)
def list_sessions(
    actor: ApiActor,
    c: AppContainer,
    state: Annotated[
        str, Query(pattern="^(active|all)$", description="active: open sessions only")
    ] = "active",
    site: Annotated[str | None, Query(max_length=10, description="site code")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> SessionPage:
    """Infusion sessions at the caller's sites: the open ones (``state=active``) or the most
    recent of all."""
    site_id = _site_id(c, site)
    with c.uow(readonly=True) as uow:
        found = chair_views.list_sessions(
            uow, c.clock, actor, site_id=site_id, open_only=state == "active", limit=limit
        )
    now = c.clock.now()
    return SessionPage(items=[SessionOut.of(s, now) for s in found])


@router.post("/sessions", response_model=SessionDetailOut, status_code=201, responses=ERRORS)
def check_in(body: CheckInIn, actor: ApiActor, c: AppContainer) -> SessionDetailOut:
    """Check a patient in at a chair (409 when the chair or the patient is in a session)."""
    if (body.patient_id is None) == (body.mrn is None):
        raise InvalidInput.for_field("patient_id", body.patient_id, "a patient_id or an mrn")
    with c.uow() as uow:
        patient_id = body.patient_id
        if body.mrn is not None:
            # An MRN not at the caller's sites answers like an unknown one (no disclosure).
            found = uow.patients.by_mrn(body.mrn)
            principal = actor.principal
            if found is None or principal is None or not principal.can_see_site(found.site_id):
                raise InvalidInput.for_field("mrn", body.mrn, "the MRN of a patient of yours")
            patient_id = found.id
        assert patient_id is not None
        row = chair_sessions.check_in(
            uow,
            c.clock,
            actor,
            chair_code=body.chair,
            patient_id=patient_id,
            protocol_id=body.protocol,
            bolus_allowed=body.bolus_allowed,
        )
    _changed(c, row)
    return _detail(c, actor, row.id)


@router.get("/sessions/{session_id}", response_model=SessionDetailOut, responses=ERRORS)
def read_session(session_id: IdPath, actor: ApiActor, c: AppContainer) -> SessionDetailOut:
    """One session: transitions, checklist, administration record (as corrected), alerts,
    side effects, CADSS-6 and discharge readiness."""
    return _detail(c, actor, session_id)


MAR_STEPS = {Transition.PAUSE, Transition.RESUME, Transition.STOP, Transition.COMPLETE}


@router.post(
    "/sessions/{session_id}/transitions", response_model=SessionDetailOut, responses=ERRORS
)
def transition(
    session_id: IdPath, body: TransitionIn, actor: ApiActor, c: AppContainer
) -> SessionDetailOut:
    """Move the session: begin_checks, begin_observation, cancel (reason), or the infusion's
    steps pause, resume, stop (reason) and complete, which chart the administration record
    too. Start and discharge have their own endpoints."""
    which = Transition(body.transition)
    with c.uow() as uow:
        if which is Transition.PAUSE:
            row = chair_mar.pause(uow, c.clock, actor, session_id, body.reason)
        elif which is Transition.RESUME:
            row = chair_mar.resume(uow, c.clock, actor, session_id)
        elif which is Transition.STOP:
            row = chair_mar.stop(uow, c.clock, actor, session_id, body.reason)
        elif which is Transition.COMPLETE:
            row = chair_mar.complete(uow, c.clock, actor, session_id)
        else:
            row = chair_sessions.transition(uow, c.clock, actor, session_id, which, body.reason)
    _changed(c, row)
    return _detail(c, actor, session_id)


@router.post("/sessions/{session_id}/checks", response_model=SessionDetailOut, responses=ERRORS)
def answer_check(
    session_id: IdPath, body: CheckAnswerIn, actor: ApiActor, c: AppContainer
) -> SessionDetailOut:
    """Answer one item of the pre-infusion checklist (see the body's description), or release
    its failed answer with ``override_reason`` (prescribers). ``consent_current``,
    ``eligibility_signed`` and ``safety_screen_reviewed`` are read from the patient's record
    (the session's ``checklist`` shows what was found, ``source`` "record"): they take only an
    override, and only where the failure allows one."""
    item = CheckItem(body.item)
    with c.uow() as uow:
        if body.override_reason:
            chair_sessions.override(uow, c.clock, actor, session_id, item, body.override_reason)
        elif item in chair_sessions.RECORD_ITEMS:
            raise InvalidInput.for_field(
                "item",
                item.value,
                "an item answered at the chair (weight_confirmed, baseline_vitals_within_limits, "
                "escort_confirmed, dose_verified): this one is read from the patient's record; "
                "only a prescriber's override_reason applies to it",
            )
        elif item is CheckItem.WEIGHT_CONFIRMED:
            if body.weight_kg is None:
                raise InvalidInput.for_field("weight_kg", None, "today's weight in kg")
            chair_sessions.confirm_weight(
                uow, c.clock, actor, session_id, body.weight_kg, confirmed=body.confirmed
            )
        elif item is CheckItem.BASELINE_VITALS_WITHIN_LIMITS:
            if body.baseline is None:
                raise InvalidInput.for_field("baseline", None, "resting BP, HR and SpO2")
            b = body.baseline
            chair_sessions.record_baseline(
                uow,
                c.clock,
                actor,
                session_id,
                systolic_mmhg=b.systolic_mmhg,
                diastolic_mmhg=b.diastolic_mmhg,
                heart_rate_per_min=b.heart_rate_per_min,
                spo2_percent=b.spo2_percent,
            )
        elif item is CheckItem.ESCORT_CONFIRMED:
            chair_sessions.confirm_escort(
                uow, c.clock, actor, session_id, name=body.escort_name, phone=body.escort_phone
            )
        else:
            # Without ``dose`` the programme of the patient's newest verified order is taken.
            chair_mar.verify_dose(
                uow,
                c.clock,
                actor,
                c.passwords,
                session_id,
                _dose(body.dose) if body.dose is not None else None,
                _override(body.override),
            )
        row = uow.chair.get_session(session_id)
    if row is not None:
        _changed(c, row)
    return _detail(c, actor, session_id)


@router.post("/sessions/{session_id}/start", response_model=SessionDetailOut, responses=ERRORS)
def start(session_id: IdPath, body: StartIn, actor: ApiActor, c: AppContainer) -> SessionDetailOut:
    """Start the infusion with the verified dose (or a new one, checked again), charting the
    pump's programme, lot and pump id."""
    with c.uow() as uow:
        row = chair_mar.start_infusion(
            uow,
            c.clock,
            actor,
            c.passwords,
            session_id,
            lot_number=body.lot_number,
            pump_id=body.pump_id,
            values=_dose(body.dose) if body.dose else None,
            override=_override(body.override),
        )
    _changed(c, row)
    return _detail(c, actor, session_id)


@router.post(
    "/sessions/{session_id}/administration", response_model=SessionDetailOut, responses=ERRORS
)
def administration(
    session_id: IdPath, body: AdministrationIn, actor: ApiActor, c: AppContainer
) -> SessionDetailOut:
    """Chart a rate change, a bolus (only where the session allows one) or a correction of an
    earlier entry (the original stays in the record)."""
    with c.uow() as uow:
        if body.kind == "rate_change":
            if body.rate_ml_per_h is None:
                raise InvalidInput.for_field("rate_ml_per_h", None, "the new rate in mL/h")
            row = chair_mar.change_rate(
                uow,
                c.clock,
                actor,
                c.passwords,
                session_id,
                body.rate_ml_per_h,
                _override(body.override),
            )
        elif body.kind == "bolus":
            if body.dose_mg is None:
                raise InvalidInput.for_field("dose_mg", None, "the bolus dose in mg")
            row = chair_mar.give_bolus(
                uow, c.clock, actor, c.passwords, session_id, body.dose_mg, _override(body.override)
            )
        else:
            if body.entry is None:
                raise InvalidInput.for_field("entry", None, "the number of the entry to correct")
            row = chair_mar.correct_entry(
                uow,
                c.clock,
                actor,
                session_id,
                body.entry,
                reason=body.reason,
                void=body.void,
                changes=body.changes,
                corrected_at=body.corrected_at,
            )
    _changed(c, row)
    return _detail(c, actor, session_id)


# --- vitals ---------------------------------------------------------------------------------


def reading_of(code: str, value: float, unit: str, observed_at: Any, source: str) -> VitalReading:
    """A reading from its LOINC (or MDC) code; the unit must be the stored UCUM unit or a
    common spelling of it. Raises InvalidInput naming the field."""
    kind = kind_for_code(code.strip())
    if kind is None:
        raise InvalidInput.for_field(
            "code", code, "a vital-sign LOINC code (8480-6, 8462-4, 8867-4, 59408-5, 9279-1, ...)"
        )
    spec = SPECS[kind]
    if UNIT_ALIASES.get(unit.strip().lower(), unit.strip()) != spec.unit:
        raise InvalidInput.for_field("unit", unit, f"{spec.unit} for {spec.label}")
    return VitalReading(kind, float(value), observed_at, VitalSource(source), code.strip())


@router.get("/sessions/{session_id}/vitals", response_model=VitalPage, responses=ERRORS)
def read_vitals(session_id: IdPath, actor: ApiActor, c: AppContainer) -> VitalPage:
    """Every reading of the session, oldest first, with its flag (``implausible`` readings are
    kept but set aside by the alert rules)."""
    with c.uow(readonly=True) as uow:
        row, readings = chair_views.session_vitals(uow, c.clock, actor, session_id)
    return VitalPage(session_id=row.id, items=[VitalOut.of(r) for r in readings])


@router.post(
    "/sessions/{session_id}/vitals", response_model=VitalPage, status_code=201, responses=ERRORS
)
def add_vitals(session_id: IdPath, body: VitalsIn, actor: ApiActor, c: AppContainer) -> VitalPage:
    """Record one measurement; the alert rules run on it at once. Returns the stored readings."""
    readings = [reading_of(r.code, r.value, r.unit, r.observed_at, r.source) for r in body.readings]
    with c.uow() as uow:
        result = chair_vitals.record_vitals(uow, c.clock, actor, session_id, readings)
        row = uow.chair.get_session(session_id)
        stored = {s.id: s for s in uow.chair.session_readings(session_id)} if row else {}
    if row is not None:
        _changed(c, row)
    return VitalPage(
        session_id=session_id,
        items=[VitalOut.of(stored[i]) for i in result.reading_ids if i in stored],
    )


# --- alerts ---------------------------------------------------------------------------------


@router.get("/alerts", response_model=AlertPage, responses=ERRORS)
def list_alerts(
    actor: ApiActor,
    c: AppContainer,
    state: Annotated[str, Query(pattern="^(open|all)$")] = "open",
    site: Annotated[str | None, Query(max_length=10, description="site code")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> AlertPage:
    """Alerts at the caller's sites, newest first: open ones (raised or acknowledged) or all."""
    site_id = _site_id(c, site)
    with c.uow(readonly=True) as uow:
        found = chair_vitals.list_alerts(
            uow, c.clock, actor, site_id=site_id, open_only=state == "open", limit=limit
        )
    return AlertPage(items=[AlertOut.of(a) for a in found])


@router.post("/alerts/{alert_id}/acknowledge", response_model=AlertOut, responses=ERRORS)
def acknowledge(
    alert_id: IdPath, body: AcknowledgeIn, actor: ApiActor, c: AppContainer
) -> AlertOut:
    """Acknowledge a raised alert with the action taken (409 when not raised)."""
    with c.uow() as uow:
        stored = chair_vitals.acknowledge_alert(uow, c.clock, actor, alert_id, body.action_taken)
    chair_events(c).publish([stored.site_id])
    return AlertOut.of(stored)


@router.post("/alerts/{alert_id}/resolve", response_model=AlertOut, responses=ERRORS)
def resolve(alert_id: IdPath, body: ResolveIn, actor: ApiActor, c: AppContainer) -> AlertOut:
    """Resolve an acknowledged alert (409 while it is still raised)."""
    with c.uow() as uow:
        stored = chair_vitals.resolve_alert(uow, c.clock, actor, alert_id, body.note)
    chair_events(c).publish([stored.site_id])
    return AlertOut.of(stored)


# --- side effects, CADSS-6, discharge -------------------------------------------------------


@router.post(
    "/sessions/{session_id}/side-effects", response_model=SessionDetailOut, responses=ERRORS
)
def side_effect(
    session_id: IdPath, body: SideEffectIn, actor: ApiActor, c: AppContainer
) -> SessionDetailOut:
    """Chart a side effect; severe or serious ones are flagged for the prescriber."""
    given = SideEffectInput(
        kind=body.kind,
        severity=body.severity,
        onset_at=body.onset_at,
        interventions=frozenset(body.interventions),
        serious_criteria=frozenset(body.serious_criteria),
        other_text=body.other_text,
        intervention_text=body.intervention_text,
        resolved_at=body.resolved_at,
    )
    with c.uow() as uow:
        chair_discharge.record_side_effect(uow, c.clock, actor, session_id, given)
        row = uow.chair.get_session(session_id)
    if row is not None:
        _changed(c, row)
    return _detail(c, actor, session_id)


@router.post(
    "/sessions/{session_id}/dissociation", response_model=SessionDetailOut, responses=ERRORS
)
def dissociation(
    session_id: IdPath, body: DissociationIn, actor: ApiActor, c: AppContainer
) -> SessionDetailOut:
    """A CADSS-6 rating (item numbers only; the clinic holds any licensed wording)."""
    with c.uow() as uow:
        chair_discharge.record_dissociation(
            uow, c.clock, actor, session_id, body.timepoint, body.items
        )
    return _detail(c, actor, session_id)


@router.post(
    "/sessions/{session_id}/discharge-assessment",
    response_model=SessionDetailOut,
    responses=ERRORS,
)
def assessment(
    session_id: IdPath, body: AssessmentIn, actor: ApiActor, c: AppContainer
) -> SessionDetailOut:
    """Assess discharge readiness (Modified Aldrete by default, REFERENCE.md §7); the answer's
    ``readiness`` lists every unmet criterion."""
    aldrete = AldreteScore(**body.aldrete.model_dump()) if body.aldrete else None
    padss = PadssScore(**body.padss.model_dump()) if body.padss else None
    with c.uow() as uow:
        chair_discharge.assess_discharge(
            uow,
            c.clock,
            actor,
            session_id,
            aldrete=aldrete,
            padss=padss,
            escort_confirmed=body.escort_confirmed,
            mental_status_attested=body.mental_status_attested,
            dissociation_attested=body.dissociation_attested,
        )
    return _detail(c, actor, session_id)


@router.post("/sessions/{session_id}/discharge", response_model=SessionDetailOut, responses=ERRORS)
def discharge(
    session_id: IdPath, body: DischargeIn, actor: ApiActor, c: AppContainer
) -> SessionDetailOut:
    """Discharge: when ready, any nurse or prescriber; when not, 409 ``override_required`` with
    the unmet criteria, unless a prescriber gives ``override_reason``."""
    with c.uow() as uow:
        row = chair_discharge.discharge(
            uow, c.clock, actor, session_id, body.override_reason or None
        )
    _changed(c, row)
    return _detail(c, actor, session_id)
