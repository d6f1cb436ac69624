"""What every chair use case shares: who may do what, loading a session the caller may see (a
session at another site is *not found*, and the attempt is audited), and moving a session
through the state machine of ``domain/session_lifecycle.py`` while keeping the stored row, the
transition history and the audit trail in step.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from ketaclinic.domain.audit import AuditAction
from ketaclinic.domain.errors import NotFound, PermissionDenied
from ketaclinic.domain.people import CLINICAL_ROLES, Patient, Principal, Role
from ketaclinic.domain.session_lifecycle import (
    CHAIR_ROLES,
    Actor,
    DischargeClearance,
    PreInfusionChecklist,
    SessionTimeline,
    Transition,
)
from ketaclinic.services import chair_visits
from ketaclinic.services.audit import Actor as AuditActor
from ketaclinic.services.audit import deny, record, require_role
from ketaclinic.services.chair_ports import SessionRow
from ketaclinic.services.ports import Clock, UnitOfWork

# Who sees the chair (front desk sees no clinical detail, DESIGN.md §1), who acts at it
# (nurses and prescribers, domain/session_lifecycle.CHAIR_ROLES) and who may override.
VIEW_ROLES = CLINICAL_ROLES
ACT_ROLES = CHAIR_ROLES
PRESCRIBER_ONLY = frozenset({Role.PRESCRIBER})

RESOURCE_SESSION = "infusion_session"


@dataclass(frozen=True, slots=True)
class Loaded:
    """A session the caller may see, with its patient and the caller."""

    principal: Principal
    row: SessionRow
    patient: Patient

    @property
    def by(self) -> Actor:
        return chair_actor(self.principal)


def chair_actor(principal: Principal) -> Actor:
    """The domain's view of a staff member: internal id and role, never a name."""
    return Actor(principal.user_id, principal.role)


def load_session(
    uow: UnitOfWork,
    clock: Clock,
    actor: AuditActor,
    session_id: int,
    resource: str,
    roles: frozenset[Role],
    *,
    for_update: bool = False,
) -> Loaded:
    """The session if the caller's role is in ``roles`` and the session is at one of their
    sites; otherwise an audited PermissionDenied or NotFound. ``for_update`` locks the row for
    the rest of the transaction (changes to one session are serialised)."""
    principal = require_role(uow, clock, actor, resource, roles)
    row = uow.chair.get_session(session_id, for_update=for_update)
    if row is None or not principal.can_see_site(row.site_id):
        raise deny(
            uow,
            clock,
            actor,
            resource,
            NotFound(f"infusion session {session_id} not found"),
            patient_id=row.patient_id if row is not None else None,
            resource_id=session_id,
        )
    patient = uow.patients.get(row.patient_id)
    if patient is None:  # a foreign key guarantees it; kept for the type checker
        raise NotFound(f"infusion session {session_id} not found")
    return Loaded(principal, row, patient)


def refuse(
    uow: UnitOfWork, clock: Clock, actor: AuditActor, loaded: Loaded, resource: str, why: str
) -> PermissionDenied:
    """An audited refusal of something the caller's role may not do to this session."""
    error = deny(
        uow,
        clock,
        actor,
        resource,
        PermissionDenied(why),
        site_id=loaded.row.site_id,
        patient_id=loaded.row.patient_id,
        resource_id=loaded.row.id,
    )
    assert isinstance(error, PermissionDenied)
    return error


def audit(
    uow: UnitOfWork,
    clock: Clock,
    actor: AuditActor,
    action: AuditAction,
    resource: str,
    row: SessionRow,
    resource_id: str | int = "",
    detail: str = "",
) -> None:
    """Record a read or write of a session's health data (ids only, never names)."""
    record(
        uow,
        clock,
        actor,
        action,
        resource,
        site_id=row.site_id,
        patient_id=row.patient_id,
        resource_id=resource_id or row.id,
        detail=detail,
    )


def timeline_of(uow: UnitOfWork, row: SessionRow) -> SessionTimeline:
    return SessionTimeline(row.checked_in_at, tuple(uow.chair.transitions(row.id)))


def checklist_of(uow: UnitOfWork, row: SessionRow) -> PreInfusionChecklist:
    return PreInfusionChecklist(tuple(uow.chair.checks(row.id)))


def apply(
    uow: UnitOfWork,
    loaded: Loaded,
    transition: Transition,
    now: dt.datetime,
    *,
    reason: str = "",
    clearance: DischargeClearance | None = None,
) -> SessionRow:
    """Apply ``transition`` through the domain's state machine and store the result, keeping
    the session's booked visit in step (services/chair_visits.py: done on complete or
    discharge, freed on cancel).

    The start is checked against the stored checklist. Errors are the domain's
    (IllegalTransition, PermissionDenied, InvalidInput); on error nothing is stored."""
    row = loaded.row
    timeline = timeline_of(uow, row).apply(
        transition,
        loaded.by,
        now,
        reason=reason,
        checklist=checklist_of(uow, row) if transition is Transition.START else None,
        clearance=clearance,
    )
    uow.chair.add_transition(row.id, timeline.records[-1])
    ended = transition in {Transition.STOP, Transition.COMPLETE}
    updated = replace(
        row,
        state=timeline.state,
        updated_at=now,
        infusion_started_at=now if transition is Transition.START else row.infusion_started_at,
        infusion_ended_at=now if ended else row.infusion_ended_at,
        closed_at=now if timeline.state.is_terminal else row.closed_at,
    )
    uow.chair.save_session(updated)
    chair_visits.after_transition(uow, row.id, transition, now)
    uow.chair.mark_changed(row.site_id)
    return updated


def touch(uow: UnitOfWork, row: SessionRow, now: dt.datetime) -> SessionRow:
    """Mark the session as changed (board ordering, live updates) without a transition."""
    uow.chair.touch_sessions([row.id], now)
    uow.chair.mark_changed(row.site_id)
    return replace(row, updated_at=now)
