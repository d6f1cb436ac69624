"""Protocols and treatment plans.

The protocol catalog is the built-in templates (``feder-2021``, ``abdallah-2022``,
``maintenance``) plus the clinic's own, which the director adds; each is validated by
:class:`~ketaclinic.domain.protocols.Protocol`. A treatment plan (protocol, dose in mg/kg, start
date) is signed by a prescriber; the newest signed plan is the patient's plan.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ketaclinic.domain.audit import AuditAction
from ketaclinic.domain.errors import Conflict, InvalidInput
from ketaclinic.domain.people import Patient
from ketaclinic.domain.protocols import Protocol, find_protocol
from ketaclinic.services.audit import Actor, record, require_role
from ketaclinic.services.intake_common import CLINICAL, DIRECTOR, PRESCRIBER, catalog, local_today
from ketaclinic.services.intake_models import TreatmentPlan, clean_text
from ketaclinic.services.patients import load_visible
from ketaclinic.services.ports import Clock, UnitOfWork


def list_protocols(uow: UnitOfWork, clock: Clock, actor: Actor) -> list[Protocol]:
    """The whole catalog, built-in first; any staff member may read it (no health data)."""
    del clock, actor
    return list(catalog(uow).values())


def add_clinic_protocol(
    uow: UnitOfWork, clock: Clock, actor: Actor, protocol: Protocol
) -> Protocol:
    """Add a clinic-defined protocol (director only).

    Build ``protocol`` with :func:`~ketaclinic.services.intake_models.clinic_protocol`, which
    validates it. Raises :class:`Conflict` when the id is already in the catalog.
    """
    principal = require_role(uow, clock, actor, "protocol", DIRECTOR)
    if protocol.id in catalog(uow):
        raise Conflict(
            f"id: got {protocol.id!r}, expected an id not already in the protocol catalog",
            field="id",
        )
    uow.schedule.add_protocol(protocol, principal.user_id, clock.now())
    record(uow, clock, actor, AuditAction.CREATE, "protocol", resource_id=protocol.id)
    uow.commit()
    return protocol


@dataclass(frozen=True, slots=True)
class PlanView:
    """A patient's signed plans (newest first) and the catalog a new plan chooses from."""

    patient: Patient
    plans: tuple[TreatmentPlan, ...]
    protocols: dict[str, Protocol]

    @property
    def current(self) -> TreatmentPlan | None:
        return self.plans[0] if self.plans else None


def plan_view(uow: UnitOfWork, clock: Clock, actor: Actor, patient_id: int) -> PlanView:
    require_role(uow, clock, actor, "treatment_plan", CLINICAL)
    patient = load_visible(uow, clock, actor, patient_id, "treatment_plan")
    plans = tuple(uow.schedule.plans(patient.id))
    record(
        uow,
        clock,
        actor,
        AuditAction.READ,
        "treatment_plan",
        site_id=patient.site_id,
        patient_id=patient.id,
        resource_id=plans[0].id if plans else "",
    )
    uow.commit()
    return PlanView(patient, plans, catalog(uow))


def sign_plan(
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    patient_id: int,
    *,
    protocol_id: str,
    dose_mg_per_kg: float,
    start_date: dt.date,
    note: str = "",
) -> TreatmentPlan:
    """Sign a treatment plan for the patient (prescribers only).

    Raises:
        InvalidInput: unknown protocol (the message lists the catalog); dose outside
            0.1–1.0 mg/kg; a start date before today at the patient's site.
        PermissionDenied / NotFound: audited refusals.
    """
    principal = require_role(uow, clock, actor, "treatment_plan", PRESCRIBER)
    patient = load_visible(uow, clock, actor, patient_id, "treatment_plan")
    protocol = find_protocol(protocol_id, catalog(uow))
    site = uow.sites.get(patient.site_id)
    assert site is not None  # a patient's site always exists (foreign key)
    today = local_today(clock, site)
    if start_date < today:
        raise InvalidInput.for_field(
            "start_date", start_date.isoformat(), f"today ({today.isoformat()}) or later"
        )
    plan = uow.schedule.add_plan(
        TreatmentPlan(
            id=0,
            patient_id=patient.id,
            protocol_id=protocol.id,
            dose_mg_per_kg=dose_mg_per_kg,
            start_date=start_date,
            signed_by=principal.user_id,
            signed_at=clock.now(),
            note=clean_text(note),
        )
    )
    record(
        uow,
        clock,
        actor,
        AuditAction.CREATE,
        "treatment_plan",
        site_id=patient.site_id,
        patient_id=patient.id,
        resource_id=plan.id,
        detail=protocol.id,
    )
    uow.commit()
    return plan
