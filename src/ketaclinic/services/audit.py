"""Recording and verifying the audit trail, and the authorisation checks that feed it.

Every use case that reads or writes health data calls :func:`record` inside its unit of work, so
the entry commits with the data. A refusal is recorded and committed on its own before the error
propagates, so denied attempts are never lost with the rolled-back work.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from ketaclinic.domain.audit import (
    AuditAction,
    AuditOutcome,
    AuditRecord,
    ChainReport,
    verify_chain,
)
from ketaclinic.domain.errors import NotFound, PermissionDenied
from ketaclinic.domain.people import Principal, Role
from ketaclinic.services.ports import Clock, UnitOfWork


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting and from where. ``principal`` is ``None`` for the public and for devices."""

    principal: Principal | None
    client: str = ""

    @property
    def user_id(self) -> int | None:
        return self.principal.user_id if self.principal else None


SYSTEM = Actor(None, "system")


def record(
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    action: AuditAction,
    resource: str,
    *,
    outcome: AuditOutcome = AuditOutcome.OK,
    site_id: int | None = None,
    patient_id: int | None = None,
    resource_id: str | int = "",
    detail: str = "",
) -> None:
    principal = actor.principal
    uow.audit.append(
        AuditRecord(
            action=action,
            resource=resource,
            outcome=outcome,
            user_id=principal.user_id if principal else None,
            username=principal.username if principal else "",
            role=principal.role.value if principal else "",
            site_id=site_id,
            patient_id=patient_id,
            resource_id=str(resource_id),
            client=actor.client[:64],
            detail=detail[:500],
        ),
        clock.now(),
    )


class _OfPatient(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def site_id(self) -> int: ...


def record_patient(
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    action: AuditAction,
    resource: str,
    patient: _OfPatient,
    *,
    resource_id: str | int | None = None,
    detail: str = "",
) -> None:
    """:func:`record` of an access to one patient's record: the patient's site and id, and the
    resource's id (the patient's own unless given)."""
    record(
        uow,
        clock,
        actor,
        action,
        resource,
        site_id=patient.site_id,
        patient_id=patient.id,
        resource_id=patient.id if resource_id is None else resource_id,
        detail=detail,
    )


def deny(
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    resource: str,
    error: PermissionDenied | NotFound,
    *,
    site_id: int | None = None,
    patient_id: int | None = None,
    resource_id: str | int = "",
) -> PermissionDenied | NotFound:
    """Record a refusal, commit it on its own, and hand back the error for the caller to raise."""
    uow.rollback()
    outcome = AuditOutcome.DENIED if isinstance(error, PermissionDenied) else AuditOutcome.NOT_FOUND
    record(
        uow,
        clock,
        actor,
        AuditAction.DENIED,
        resource,
        outcome=outcome,
        site_id=site_id,
        patient_id=patient_id,
        resource_id=resource_id,
        detail=error.code,
    )
    uow.commit()
    return error


def require_role(
    uow: UnitOfWork, clock: Clock, actor: Actor, resource: str, roles: Iterable[Role]
) -> Principal:
    """The acting principal if their role is one of ``roles``; otherwise a recorded refusal."""
    allowed = frozenset(roles)
    principal = actor.principal
    if principal is None or principal.role not in allowed:
        names = ", ".join(sorted(r.value for r in allowed))
        raise deny(
            uow,
            clock,
            actor,
            resource,
            PermissionDenied(f"{resource}: your role may not do this (allowed: {names})"),
        )
    return principal


def verify(uow: UnitOfWork) -> ChainReport:
    head = uow.audit.head()
    return verify_chain(
        uow.audit.entries(),
        head[0] if head else None,
        head[1] if head else None,
    )
