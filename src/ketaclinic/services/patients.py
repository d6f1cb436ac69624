"""Patient registration, lists and charts, scoped to the caller's sites and audited.

A patient at a site the caller is not assigned to is reported as *not found* (never "forbidden"),
so staff cannot learn which MRNs exist elsewhere; the attempt is audited.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ketaclinic.domain.audit import AuditAction, AuditEntry
from ketaclinic.domain.errors import NotFound, PermissionDenied
from ketaclinic.domain.people import (
    ALL_ROLES,
    CLINICAL_ROLES,
    BodyMeasurement,
    NewPatient,
    Patient,
    Principal,
    Role,
)
from ketaclinic.services.audit import Actor, deny, record, record_patient, require_role
from ketaclinic.services.ports import Clock, UnitOfWork

MAX_PAGE = 500


@dataclass(frozen=True, slots=True)
class PatientChart:
    patient: Patient
    measurements: list[BodyMeasurement]  # empty for roles without clinical access


def _visible_sites(principal: Principal, site_id: int | None) -> frozenset[int]:
    if site_id is None:
        return principal.site_ids
    return frozenset({site_id}) & principal.site_ids


def list_patients(
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    *,
    site_id: int | None = None,
    mrn: str | None = None,
    query: str = "",
    limit: int = 100,
    offset: int = 0,
) -> list[Patient]:
    principal = require_role(uow, clock, actor, "patient", ALL_ROLES)
    sites = _visible_sites(principal, site_id)
    found = (
        uow.patients.search(
            sites, mrn=mrn, query=query[:100], limit=min(limit, MAX_PAGE), offset=offset
        )
        if sites
        else []
    )
    record(
        uow,
        clock,
        actor,
        AuditAction.READ,
        "patient_list",
        site_id=site_id,
        detail=f"{len(found)} patients",
    )
    uow.commit()
    return found


def load_visible(
    uow: UnitOfWork, clock: Clock, actor: Actor, patient_id: int, resource: str
) -> Patient:
    """The patient if the actor may see their site; otherwise an audited NotFound."""
    principal = actor.principal
    patient = uow.patients.get(patient_id)
    if patient is None or principal is None or not principal.can_see_site(patient.site_id):
        raise deny(
            uow,
            clock,
            actor,
            resource,
            NotFound(f"patient {patient_id} not found"),
            patient_id=patient_id if patient is not None else None,
            resource_id=patient_id,
        )
    return patient


def patient_chart(uow: UnitOfWork, clock: Clock, actor: Actor, patient_id: int) -> PatientChart:
    principal = require_role(uow, clock, actor, "patient", ALL_ROLES)
    patient = load_visible(uow, clock, actor, patient_id, "patient")
    clinical = principal.role in CLINICAL_ROLES
    measurements = uow.patients.measurements(patient.id) if clinical else []
    record_patient(
        uow,
        clock,
        actor,
        AuditAction.READ,
        "patient",
        patient,
        detail="chart" if clinical else "demographics",
    )
    uow.commit()
    return PatientChart(patient, measurements)


def register_patient(
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    new: NewPatient,
    *,
    weight_kg: float | None = None,
    height_cm: float | None = None,
) -> Patient:
    """Register a patient at one of the caller's sites (Conflict on a duplicate MRN)."""
    principal = require_role(uow, clock, actor, "patient", ALL_ROLES)
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
    # Validate the first measurement before anything is stored.
    measurement = (
        BodyMeasurement(0, now, weight_kg, height_cm, principal.user_id)
        if weight_kg is not None
        else None
    )
    patient = uow.patients.add(new, now)
    if measurement is not None:
        uow.patients.add_measurement(replace(measurement, patient_id=patient.id))
    record_patient(uow, clock, actor, AuditAction.CREATE, "patient", patient)
    uow.commit()
    return patient


def record_measurement(
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    patient_id: int,
    weight_kg: float,
    height_cm: float | None,
    note: str = "",
) -> BodyMeasurement:
    principal = require_role(uow, clock, actor, "body_measurement", CLINICAL_ROLES)
    patient = load_visible(uow, clock, actor, patient_id, "body_measurement")
    stored = uow.patients.add_measurement(
        BodyMeasurement(
            patient.id, clock.now(), weight_kg, height_cm, principal.user_id, note=note[:500]
        )
    )
    record(
        uow,
        clock,
        actor,
        AuditAction.CREATE,
        "body_measurement",
        site_id=patient.site_id,
        patient_id=patient.id,
        resource_id=stored.id or "",
    )
    uow.commit()
    return stored


def access_log(
    uow: UnitOfWork, clock: Clock, actor: Actor, patient_id: int
) -> tuple[Patient, list[AuditEntry]]:
    """Who accessed this patient's record (director only). Reading the log is itself audited."""
    require_role(uow, clock, actor, "access_log", {Role.DIRECTOR})
    patient = load_visible(uow, clock, actor, patient_id, "access_log")
    entries = uow.audit.for_patient(patient.id)
    record_patient(uow, clock, actor, AuditAction.READ, "access_log", patient)
    uow.commit()
    return patient, entries
