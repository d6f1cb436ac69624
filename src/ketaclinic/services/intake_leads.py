"""Inquiries from the public become leads in the front desk's queue; the front desk registers a
lead as a patient (the lead is marked converted, with who and when) or dismisses it.

A public submission stores exactly what the visitor sent, nothing else, and answers the same
whatever it contains: it never tells a visitor whether someone is already a patient.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from ketaclinic.domain.audit import AuditAction
from ketaclinic.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from ketaclinic.domain.people import BodyMeasurement, NewPatient, Patient, Principal, Site
from ketaclinic.services.audit import Actor, deny, record, record_patient, require_role
from ketaclinic.services.intake_common import LEAD_ROLES, local_today
from ketaclinic.services.intake_models import Inquiry, Lead, LeadStatus
from ketaclinic.services.ports import Clock, UnitOfWork

LIST_MAX = 200
EARLIEST_BIRTH = dt.date(1900, 1, 1)


def public_sites(uow: UnitOfWork) -> list[Site]:
    """The sites a visitor may choose as preferred site (codes and names are public)."""
    return uow.sites.all()


def submit_inquiry(uow: UnitOfWork, clock: Clock, actor: Actor, inquiry: Inquiry) -> Lead:
    """Store a visitor's inquiry as a new lead (public; ``actor`` has no principal).

    Raises :class:`InvalidInput` for a site that does not exist.
    """
    if uow.sites.get(inquiry.site_id) is None:
        raise InvalidInput.for_field("site", inquiry.site_id, "one of the clinic's sites")
    lead = uow.leads.add(inquiry, clock.now())
    record(
        uow,
        clock,
        actor,
        AuditAction.CREATE,
        "lead",
        site_id=lead.site_id,
        resource_id=lead.id,
        detail="public inquiry",
    )
    uow.commit()
    return lead


def list_leads(
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    *,
    site_id: int | None = None,
    status: LeadStatus | None = LeadStatus.NEW,
) -> list[Lead]:
    """Leads of the caller's sites (or one of them), newest first; front desk and director."""
    principal = require_role(uow, clock, actor, "lead", LEAD_ROLES)
    sites = principal.site_ids if site_id is None else principal.site_ids & {site_id}
    found = uow.leads.list(frozenset(sites), status, LIST_MAX) if sites else []
    record(
        uow, clock, actor, AuditAction.READ, "lead_list", site_id=site_id, detail=f"{len(found)}"
    )
    uow.commit()
    return found


def _visible_lead(
    uow: UnitOfWork, clock: Clock, actor: Actor, lead_id: int
) -> tuple[Principal, Lead]:
    """The caller and the lead, if the caller's role handles leads and the lead is at one of
    their sites; otherwise an audited refusal (another site's lead is "not found")."""
    principal = require_role(uow, clock, actor, "lead", LEAD_ROLES)
    lead = uow.leads.get(lead_id)
    if lead is None or not principal.can_see_site(lead.site_id):
        raise deny(
            uow, clock, actor, "lead", NotFound(f"lead {lead_id} not found"), resource_id=lead_id
        )
    return principal, lead


def get_lead(uow: UnitOfWork, clock: Clock, actor: Actor, lead_id: int) -> Lead:
    _principal, lead = _visible_lead(uow, clock, actor, lead_id)
    record(uow, clock, actor, AuditAction.READ, "lead", site_id=lead.site_id, resource_id=lead.id)
    uow.commit()
    return lead


def _require_new(lead: Lead) -> None:
    if lead.status is not LeadStatus.NEW:
        raise Conflict(
            f"lead: lead {lead.id} is already {lead.status.value}, expected a new lead",
            field="lead",
        )


def convert_lead(
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    lead_id: int,
    new: NewPatient,
    *,
    weight_kg: float | None = None,
    height_cm: float | None = None,
) -> Patient:
    """Register the lead as a patient and mark it converted, in one transaction.

    Raises :class:`Conflict` when the lead was already handled or the MRN exists,
    :class:`InvalidInput` for a birth date before 1900 or after today (at the site), and
    :class:`PermissionDenied` (audited) for a site that is not the caller's.
    """
    principal, lead = _visible_lead(uow, clock, actor, lead_id)
    _require_new(lead)
    site = uow.sites.get(new.site_id)
    today = local_today(clock, site) if site is not None else clock.now().date()
    if not EARLIEST_BIRTH <= new.birth_date <= today:
        raise InvalidInput.for_field(
            "birth_date", new.birth_date.isoformat(), "a date between 1900 and today"
        )
    if not principal.can_see_site(new.site_id):
        raise deny(
            uow,
            clock,
            actor,
            "patient",
            PermissionDenied(f"site_id: {new.site_id} is not one of your sites"),
            site_id=new.site_id,
        )
    now = clock.now()
    # Validated before anything is stored.
    measurement = (
        BodyMeasurement(0, now, weight_kg, height_cm, principal.user_id)
        if weight_kg is not None
        else None
    )
    patient = uow.patients.add(new, now)
    if measurement is not None:
        uow.patients.add_measurement(replace(measurement, patient_id=patient.id))
    uow.leads.set_status(lead.id, LeadStatus.CONVERTED, principal.user_id, now, patient.id)
    record_patient(
        uow, clock, actor, AuditAction.CREATE, "patient", patient, detail=f"from lead {lead.id}"
    )
    record(
        uow,
        clock,
        actor,
        AuditAction.UPDATE,
        "lead",
        site_id=lead.site_id,
        patient_id=patient.id,
        resource_id=lead.id,
        detail="converted",
    )
    uow.commit()
    return patient


def dismiss_lead(uow: UnitOfWork, clock: Clock, actor: Actor, lead_id: int) -> Lead:
    """Take a lead off the queue without registering anyone (spam, no longer interested)."""
    principal, lead = _visible_lead(uow, clock, actor, lead_id)
    _require_new(lead)
    updated = uow.leads.set_status(lead.id, LeadStatus.DISMISSED, principal.user_id, clock.now())
    record(
        uow,
        clock,
        actor,
        AuditAction.UPDATE,
        "lead",
        site_id=lead.site_id,
        resource_id=lead.id,
        detail="dismissed",
    )
    uow.commit()
    return updated
