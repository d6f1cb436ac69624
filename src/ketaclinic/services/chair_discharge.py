"""After (and around) the infusion: side effects, dissociation scoring (CADSS-6), the discharge
assessment and discharge itself (``domain/side_effects.py``, ``domain/discharge.py``).

Side effects that are severe or meet a serious-adverse-event criterion are flagged for the
prescriber, who marks them reviewed. CADSS-6 is scored by the clinician by item number only
(REFERENCE.md §6, §10) pre-dose, at the end of the infusion and before discharge.

Discharge readiness is assessed during observation and stored with every unmet criterion. The
discharge itself re-assesses at that moment (the observation time may have been reached since,
an alert resolved); a patient not ready is discharged only by a prescriber's override with a
reason, kept on the session record with the unmet criteria.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from ketaclinic.domain.alerts import AlertTier
from ketaclinic.domain.audit import AuditAction
from ketaclinic.domain.discharge import (
    DEFAULT_POLICY,
    AldreteScore,
    DischargeAssessment,
    DischargePolicy,
    DischargeReadiness,
    PadssScore,
    assess_readiness,
    clear_for_discharge,
)
from ketaclinic.domain.errors import (
    IllegalTransition,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from ketaclinic.domain.instruments import score
from ketaclinic.domain.session_lifecycle import (
    Phase,
    SessionState,
    Transition,
    phase_of,
)
from ketaclinic.domain.side_effects import (
    Intervention,
    SeriousCriterion,
    Severity,
    SideEffectEntry,
    SideEffectKind,
)
from ketaclinic.services.audit import Actor as AuditActor
from ketaclinic.services.audit import deny, require_role
from ketaclinic.services.chair_access import (
    ACT_ROLES,
    PRESCRIBER_ONLY,
    Loaded,
    apply,
    audit,
    load_session,
    refuse,
    touch,
)
from ketaclinic.services.chair_ports import (
    CADSS6_ITEMS,
    DissociationScore,
    SessionRow,
    StoredAssessment,
    StoredSideEffect,
    Timepoint,
)
from ketaclinic.services.chair_vitals import BEFORE_CHECK_IN_TOLERANCE, FUTURE_TOLERANCE
from ketaclinic.services.ports import Clock, UnitOfWork

RESOURCE_SIDE_EFFECT = "side_effect"
RESOURCE_DISSOCIATION = "dissociation_score"
RESOURCE_DISCHARGE = "discharge"


@dataclass(frozen=True, slots=True)
class SideEffectInput:
    """A side effect as charted; validated by ``domain/side_effects.SideEffectEntry``."""

    kind: SideEffectKind
    severity: Severity
    onset_at: dt.datetime
    interventions: frozenset[Intervention]
    serious_criteria: frozenset[SeriousCriterion] = frozenset()
    other_text: str = ""
    intervention_text: str = ""
    resolved_at: dt.datetime | None = None


def _check_time(row: SessionRow, name: str, at: dt.datetime, now: dt.datetime) -> None:
    if at > now + FUTURE_TOLERANCE:
        raise InvalidInput.for_field(name, at.isoformat(), "a time not in the future")
    if at < row.checked_in_at - BEFORE_CHECK_IN_TOLERANCE:
        raise InvalidInput.for_field(name, at.isoformat(), "a time during this session")


def record_side_effect(
    uow: UnitOfWork, clock: Clock, actor: AuditActor, session_id: int, given: SideEffectInput
) -> StoredSideEffect:
    """Chart a side effect of an open session. Raises InvalidInput (the domain's rules, times)
    or IllegalTransition (session closed)."""
    loaded = load_session(
        uow, clock, actor, session_id, RESOURCE_SIDE_EFFECT, ACT_ROLES, for_update=True
    )
    row = loaded.row
    if not row.is_open:
        raise IllegalTransition(f"cannot chart a side effect: the session is {row.state.value}")
    now = clock.now()
    _check_time(row, "onset_at", given.onset_at, now)
    if given.resolved_at is not None:
        _check_time(row, "resolved_at", given.resolved_at, now)
    entry = SideEffectEntry(
        kind=given.kind,
        severity=given.severity,
        onset_at=given.onset_at,
        recorded_by=loaded.by,
        interventions=given.interventions,
        serious_criteria=given.serious_criteria,
        other_text=given.other_text.strip(),
        intervention_text=given.intervention_text.strip(),
        resolved_at=given.resolved_at,
    )
    stored = uow.chair.add_side_effect(row.id, entry, now)
    touch(uow, row, now)
    flags = ",".join(entry.flag_reasons()) or "not flagged"
    detail = f"{entry.kind.value}, {entry.severity.value}; {flags}"
    audit(uow, clock, actor, AuditAction.CREATE, RESOURCE_SIDE_EFFECT, row, stored.id, detail)
    uow.commit()
    return stored


def review_side_effect(
    uow: UnitOfWork, clock: Clock, actor: AuditActor, effect_id: int
) -> StoredSideEffect:
    """The prescriber marks a flagged side effect as reviewed (PermissionDenied for others)."""
    principal = require_role(uow, clock, actor, RESOURCE_SIDE_EFFECT, PRESCRIBER_ONLY)
    stored = uow.chair.get_side_effect(effect_id)
    row = uow.chair.get_session(stored.session_id) if stored else None
    if stored is None or row is None or not principal.can_see_site(row.site_id):
        raise deny(
            uow,
            clock,
            actor,
            RESOURCE_SIDE_EFFECT,
            NotFound(f"side effect {effect_id} not found"),
            resource_id=effect_id,
        )
    if stored.reviewed_at is not None:
        raise IllegalTransition("cannot review: this side effect was already reviewed")
    now = clock.now()
    uow.chair.review_side_effect(effect_id, principal.user_id, now)
    touch(uow, row, now)
    audit(uow, clock, actor, AuditAction.UPDATE, RESOURCE_SIDE_EFFECT, row, effect_id, "reviewed")
    uow.commit()
    reviewed = uow.chair.get_side_effect(effect_id)
    assert reviewed is not None
    return reviewed


# --- CADSS-6 --------------------------------------------------------------------------------

_TIMEPOINT_STATES: dict[Timepoint, tuple[Collection[SessionState], str]] = {
    Timepoint.PRE_DOSE: (
        {SessionState.CHECKED_IN, SessionState.PRE_INFUSION_CHECKS},
        "before the infusion starts",
    ),
    Timepoint.END_OF_INFUSION: (
        {SessionState.STOPPED, SessionState.COMPLETED, SessionState.OBSERVATION},
        "once the infusion has ended",
    ),
    Timepoint.PRE_DISCHARGE: ({SessionState.OBSERVATION}, "during observation"),
}


def record_dissociation(
    uow: UnitOfWork,
    clock: Clock,
    actor: AuditActor,
    session_id: int,
    timepoint: Timepoint,
    items: Sequence[int],
) -> DissociationScore:
    """A clinician's CADSS-6 rating: the six item scores (items 1, 2, 6, 7, 15, 22; each 0–4)
    in that order, scored with the completeness guard of ``domain/instruments``. Raises
    InvalidInput (missing or out-of-range item) or IllegalTransition (wrong moment)."""
    loaded = load_session(
        uow, clock, actor, session_id, RESOURCE_DISSOCIATION, ACT_ROLES, for_update=True
    )
    states, when = _TIMEPOINT_STATES[timepoint]
    if loaded.row.state not in states:
        raise IllegalTransition(
            f"cannot score CADSS-6 {timepoint.label.lower()}: that is scored {when} "
            f"(the session is {loaded.row.state.value})"
        )
    result = score("cadss6", list(items))
    assert result.total is not None
    now = clock.now()
    stored = uow.chair.add_dissociation(
        DissociationScore(
            loaded.row.id,
            timepoint,
            tuple(result.answers[f"cadss_{n:02d}"] for n in CADSS6_ITEMS),
            result.total,
            loaded.by,
            now,
        )
    )
    touch(uow, loaded.row, now)
    audit(
        uow,
        clock,
        actor,
        AuditAction.CREATE,
        RESOURCE_DISSOCIATION,
        loaded.row,
        stored.id,
        f"{timepoint.value}: {result.total}",
    )
    uow.commit()
    return stored


# --- discharge ------------------------------------------------------------------------------


def _latest_total(scores: Sequence[DissociationScore], timepoint: Timepoint) -> int | None:
    found = [s.total for s in scores if s.timepoint is timepoint]
    return found[-1] if found else None


def assessment_now(
    uow: UnitOfWork, row: SessionRow, stored: StoredAssessment, now: dt.datetime
) -> DischargeAssessment:
    """The domain's assessment from stored scores and attestations, with the session's facts
    (time, CADSS-6, open clinical alerts) as they are at ``now``."""
    if row.infusion_ended_at is None:
        raise IllegalTransition("cannot assess discharge: the infusion has not ended")
    scores = uow.chair.dissociation_scores(row.id)
    open_clinical = tuple(
        sorted(
            {
                a.alert.rule_key
                for a in uow.chair.session_alerts([row.id], open_only=True)
                if a.alert.tier is AlertTier.CLINICAL
            }
        )
    )
    by = stored.assessed_by
    return DischargeAssessment(
        infusion_ended_at=row.infusion_ended_at,
        assessed_at=now,
        aldrete=stored.aldrete,
        padss=stored.padss,
        escort_confirmed=stored.escort_confirmed,
        mental_status_attested_by=by if stored.mental_status_attested else None,
        cadss6_pre_dose=_latest_total(scores, Timepoint.PRE_DOSE),
        cadss6_pre_discharge=_latest_total(scores, Timepoint.PRE_DISCHARGE),
        dissociation_attested_by=by if stored.dissociation_attested else None,
        open_clinical_alerts=open_clinical,
    )


def _in_observation(loaded: Loaded, verb: str) -> None:
    if loaded.row.state is not SessionState.OBSERVATION:
        raise IllegalTransition(
            f"cannot {verb}: the patient is not in observation (state {loaded.row.state.value})"
        )


def assess_discharge(
    uow: UnitOfWork,
    clock: Clock,
    actor: AuditActor,
    session_id: int,
    *,
    aldrete: AldreteScore | None,
    padss: PadssScore | None,
    escort_confirmed: bool,
    mental_status_attested: bool,
    dissociation_attested: bool,
    policy: DischargePolicy = DEFAULT_POLICY,
) -> tuple[StoredAssessment, DischargeReadiness]:
    """Score discharge readiness during observation and store the verdict with every unmet
    criterion (REFERENCE.md §7). The clinic's scale (``policy.scale``) must be scored."""
    loaded = load_session(
        uow, clock, actor, session_id, RESOURCE_DISCHARGE, ACT_ROLES, for_update=True
    )
    _in_observation(loaded, "assess discharge")
    now = clock.now()
    draft = StoredAssessment(
        session_id=loaded.row.id,
        assessed_at=now,
        assessed_by=loaded.by,
        scale=policy.scale,
        aldrete=aldrete,
        padss=padss,
        escort_confirmed=escort_confirmed,
        mental_status_attested=mental_status_attested,
        dissociation_attested=dissociation_attested,
        ready=False,
        unmet=(),
    )
    readiness = assess_readiness(assessment_now(uow, loaded.row, draft, now), policy)
    unmet = tuple(f"{u.criterion.value}: {u.message}" for u in readiness.unmet)
    stored = uow.chair.add_assessment(
        StoredAssessment(
            session_id=draft.session_id,
            assessed_at=now,
            assessed_by=draft.assessed_by,
            scale=draft.scale,
            aldrete=aldrete,
            padss=padss,
            escort_confirmed=escort_confirmed,
            mental_status_attested=mental_status_attested,
            dissociation_attested=dissociation_attested,
            ready=readiness.ready,
            unmet=unmet,
        )
    )
    touch(uow, loaded.row, now)
    verdict = "ready" if readiness.ready else f"{len(unmet)} criteria unmet"
    audit(uow, clock, actor, AuditAction.CREATE, RESOURCE_DISCHARGE, loaded.row, stored.id, verdict)
    uow.commit()
    return stored, readiness


def readiness_now(
    uow: UnitOfWork, row: SessionRow, now: dt.datetime, policy: DischargePolicy = DEFAULT_POLICY
) -> DischargeReadiness | None:
    """Readiness from the latest assessment as it stands at ``now`` (None before any)."""
    stored = uow.chair.assessments(row.id)
    if not stored or phase_of(row.state) is not Phase.POST_INFUSION:
        return None
    return assess_readiness(assessment_now(uow, row, stored[-1], now), policy)


def discharge(
    uow: UnitOfWork,
    clock: Clock,
    actor: AuditActor,
    session_id: int,
    override_reason: str | None = None,
    policy: DischargePolicy = DEFAULT_POLICY,
) -> SessionRow:
    """Discharge the patient. Ready (re-assessed now from the latest assessment): any nurse or
    prescriber. Not ready: OverrideRequired listing the unmet criteria, unless a prescriber
    gives ``override_reason`` (a nurse's override is an audited PermissionDenied)."""
    loaded = load_session(
        uow, clock, actor, session_id, RESOURCE_DISCHARGE, ACT_ROLES, for_update=True
    )
    _in_observation(loaded, "discharge")
    assessments = uow.chair.assessments(loaded.row.id)
    if not assessments:
        raise IllegalTransition("cannot discharge: assess discharge readiness first")
    now = clock.now()
    readiness = assess_readiness(assessment_now(uow, loaded.row, assessments[-1], now), policy)
    reason = override_reason.strip() if override_reason is not None else None
    try:
        clearance = clear_for_discharge(readiness, loaded.by, now, reason or None)
    except PermissionDenied as error:
        raise refuse(uow, clock, actor, loaded, RESOURCE_DISCHARGE, error.message) from None
    row = apply(uow, loaded, Transition.DISCHARGE, now, clearance=clearance)
    detail = "discharged with a prescriber's override" if clearance.is_override else "discharged"
    audit(uow, clock, actor, AuditAction.UPDATE, RESOURCE_DISCHARGE, row, detail=detail)
    uow.commit()
    return row
