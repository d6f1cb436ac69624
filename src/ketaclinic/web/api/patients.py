"""Patients: list, register, read. Scoped to the caller's sites; every call is audited."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from ketaclinic.domain.errors import NotFound
from ketaclinic.domain.people import CLINICAL_ROLES, NewPatient, Sex
from ketaclinic.services import patients as svc
from ketaclinic.services.audit import Actor
from ketaclinic.web.api.schemas import (
    ErrorResponse,
    MeasurementOut,
    PatientDetail,
    PatientIn,
    PatientOut,
    PatientPage,
)
from ketaclinic.web.deps import ApiActor, AppContainer, IdPath

router = APIRouter(prefix="/patients", tags=["patients"])

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse},
    403: {"model": ErrorResponse},
    404: {"model": ErrorResponse},
    422: {"model": ErrorResponse},
}


@router.get("", response_model=PatientPage, responses=ERRORS)
def list_patients(
    actor: ApiActor,
    c: AppContainer,
    mrn: Annotated[str | None, Query(max_length=32)] = None,
    site: Annotated[str | None, Query(max_length=10, description="site code")] = None,
    q: Annotated[str, Query(max_length=100, description="name or MRN contains")] = "",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> PatientPage:
    """Patients of the caller's sites, optionally one site or one MRN."""
    with c.uow(readonly=True) as uow:
        codes = {s.id: s.code for s in uow.sites.all()}
        site_id = None
        if site is not None:
            site_id = next((i for i, code in codes.items() if code == site.upper()), -1)
        found = svc.list_patients(
            uow, c.clock, actor, site_id=site_id, mrn=mrn, query=q, limit=limit, offset=offset
        )
    return PatientPage(
        items=[PatientOut.of(p, codes[p.site_id]) for p in found], limit=limit, offset=offset
    )


@router.post(
    "",
    response_model=PatientDetail,
    status_code=201,
    responses={**ERRORS, 409: {"model": ErrorResponse}},
)
def register_patient(body: PatientIn, actor: ApiActor, c: AppContainer) -> PatientDetail:
    """Register a patient at one of the caller's sites. A duplicate MRN is a 409."""
    with c.uow() as uow:
        site = uow.sites.by_code(body.site.upper())
        if site is None:
            raise NotFound(f"site: {body.site!r} does not exist", field="site")
        new = NewPatient(
            site_id=site.id,
            mrn=body.mrn,
            given_name=body.given_name,
            family_name=body.family_name,
            birth_date=body.birth_date,
            sex=Sex(body.sex),
            email=body.email,
            phone=body.phone,
            preferred_language=body.preferred_language,
        )
        patient = svc.register_patient(
            uow, c.clock, actor, new, weight_kg=body.weight_kg, height_cm=body.height_cm
        )
        chart = svc.patient_chart(uow, c.clock, actor, patient.id)
    return _detail(chart, site.code, actor)


@router.get("/{patient_id}", response_model=PatientDetail, responses=ERRORS)
def read_patient(patient_id: IdPath, actor: ApiActor, c: AppContainer) -> PatientDetail:
    """One patient's record: demographics, and for clinical roles the weight/height history."""
    with c.uow(readonly=True) as uow:
        chart = svc.patient_chart(uow, c.clock, actor, patient_id)
        site = uow.sites.get(chart.patient.site_id)
    assert site is not None
    return _detail(chart, site.code, actor)


def _detail(chart: svc.PatientChart, site_code: str, actor: Actor) -> PatientDetail:
    base = PatientOut.of(chart.patient, site_code)
    clinical = actor.principal is not None and actor.principal.role in CLINICAL_ROLES
    return PatientDetail(
        **base.model_dump(),
        email=chart.patient.email,
        phone=chart.patient.phone,
        measurements=[MeasurementOut.of(m) for m in chart.measurements] if clinical else None,
    )
