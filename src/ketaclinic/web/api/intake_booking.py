"""The front desk's side of intake over HTTP: registering or dismissing a lead, a patient's
series, moving and cancelling one visit, and each site's clinic hours (docs/intake.md).

Each route calls the same service as the staff pages; every read, write and refusal is in the
audit trail. A lead, a series or a site of another site's staff is "not found" (404).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Path

from ketaclinic.adapters.notify.smtp import notifier_in
from ketaclinic.domain.errors import InvalidInput
from ketaclinic.domain.people import NewPatient, Sex
from ketaclinic.domain.scheduling import OpeningHours
from ketaclinic.services import intake_leads, intake_schedule, visit_confirmations
from ketaclinic.services.audit import require_role
from ketaclinic.services.intake_common import DIRECTOR
from ketaclinic.services.intake_models import Series
from ketaclinic.services.ports import UnitOfWork
from ketaclinic.web.api.intake import LeadOut
from ketaclinic.web.api.intake_schemas import (
    CancelIn,
    DayHoursIn,
    HoursIn,
    HoursOut,
    LeadRegistrationIn,
    MoveIn,
    PlanOut,
    SeriesChangeOut,
    SeriesListOut,
    SeriesOut,
)
from ketaclinic.web.api.schemas import ErrorResponse, PatientOut
from ketaclinic.web.deps import MAX_ID, ApiActor, AppContainer, IdPath

router = APIRouter(tags=["intake"])

VisitNumber = Annotated[
    int, Path(ge=1, le=MAX_ID, description="the visit's number in its series (1, 2, …)")
]
SiteCode = Annotated[
    str, Path(min_length=2, max_length=10, pattern=r"^[A-Za-z0-9]+$", description="e.g. MIA")
]


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorResponse} for code in codes}


def _series_out(uow: UnitOfWork, series: Series) -> SeriesOut:
    site = uow.sites.get(series.site_id)
    assert site is not None  # a series' site always exists (foreign key)
    chairs = {ch.id: ch.code for ch in uow.sites.chairs(series.site_id, retired=True)}
    return SeriesOut.of(series, site, chairs)


# --- leads ----------------------------------------------------------------------------------


@router.post(
    "/leads/{lead_id}/register",
    response_model=PatientOut,
    status_code=201,
    responses=_errors(401, 403, 404, 409, 422),
)
def register_lead(
    lead_id: IdPath, body: LeadRegistrationIn, actor: ApiActor, c: AppContainer
) -> PatientOut:
    """Register a new lead as a patient of the lead's site and mark the lead converted (who and
    when), in one step (front desk and director). 409: the lead was already converted or
    dismissed, or the MRN exists; 422: a birth date in the future or before 1900."""
    with c.uow() as uow:
        lead = intake_leads.get_lead(uow, c.clock, actor, lead_id)
        site = uow.sites.get(lead.site_id)
        assert site is not None  # a lead's site always exists (foreign key)
        new = NewPatient(
            site_id=lead.site_id,
            mrn=body.mrn,
            given_name=body.given_name,
            family_name=body.family_name,
            birth_date=body.birth_date,
            sex=Sex(body.sex),
            email=body.email,
            phone=body.phone,
            preferred_language=body.preferred_language,
        )
        patient = intake_leads.convert_lead(
            uow, c.clock, actor, lead.id, new, weight_kg=body.weight_kg, height_cm=body.height_cm
        )
    return PatientOut.of(patient, site.code)


@router.post(
    "/leads/{lead_id}/dismiss",
    response_model=LeadOut,
    responses=_errors(401, 403, 404, 409),
)
def dismiss_lead(lead_id: IdPath, actor: ApiActor, c: AppContainer) -> LeadOut:
    """Take a new lead off the queue without registering anyone (front desk and director).
    409: the lead was already converted or dismissed."""
    with c.uow() as uow:
        lead = intake_leads.dismiss_lead(uow, c.clock, actor, lead_id)
        site = uow.sites.get(lead.site_id)
    assert site is not None
    return LeadOut(
        id=lead.id,
        site=site.code,
        name=lead.name,
        email=lead.email,
        phone=lead.phone,
        message=lead.message,
        language=lead.language,
        received_at=lead.received_at,
        status=lead.status.value,
        patient_id=lead.patient_id,
    )


# --- series and visits ----------------------------------------------------------------------


@router.get(
    "/patients/{patient_id}/series",
    response_model=SeriesListOut,
    responses=_errors(401, 403, 404),
)
def series(patient_id: IdPath, actor: ApiActor, c: AppContainer) -> SeriesListOut:
    """The patient's series with their visits (and cancelled visits), the signed plan a new
    series follows, and what blocks booking one (in words without clinical detail)."""
    with c.uow(readonly=True) as uow:
        view = intake_schedule.series_view(uow, c.clock, actor, patient_id)
    return SeriesListOut(
        patient_id=view.patient.id,
        site=view.site.code,
        problems=list(view.problems),
        plan=PlanOut.of(view.plan) if view.plan else None,
        series=[SeriesOut.of(s, view.site, view.chair_codes) for s in view.series],
    )


@router.post(
    "/patients/{patient_id}/series/{series_id}/visits/{visit_number}/move",
    response_model=SeriesChangeOut,
    responses=_errors(401, 403, 404, 409, 422),
)
def move_visit(
    patient_id: IdPath,
    series_id: IdPath,
    visit_number: VisitNumber,
    body: MoveIn,
    actor: ApiActor,
    c: AppContainer,
) -> SeriesChangeOut:
    """Move one visit to ``new_day`` (default: its own day), at ``at`` (default: the earliest
    free slot) on ``chair`` (default: any free chair). The series must stay valid: 422 says
    which visits would break the protocol's order or spacing and why, or names a time outside
    hours or an unknown chair; 409: the visit has begun, no chair is free then, or the patient
    has another visit that day. The patient is e-mailed the new time in their language;
    ``confirmation`` says whether."""
    at = dt.time.fromisoformat(body.at) if body.at else None
    with c.uow() as uow:
        moved = intake_schedule.reschedule_visit(
            uow,
            c.clock,
            actor,
            patient_id,
            series_id,
            visit_number,
            body.new_day,
            at=at,
            chair_code=body.chair.strip().upper() if body.chair else None,
        )
        confirmation = visit_confirmations.confirm_moved(
            uow,
            c.clock,
            actor,
            notifier_in(c.extras),
            moved,
            visit_number,
            reminder_lead=dt.timedelta(hours=c.settings.visit_reminder_lead_h),
        )
        return SeriesChangeOut.changed(_series_out(uow, moved), confirmation)


@router.post(
    "/patients/{patient_id}/series/{series_id}/visits/{visit_number}/cancel",
    response_model=SeriesChangeOut,
    responses=_errors(401, 403, 404, 409, 422),
)
def cancel_visit(
    patient_id: IdPath,
    series_id: IdPath,
    visit_number: VisitNumber,
    body: CancelIn,
    actor: ApiActor,
    c: AppContainer,
) -> SeriesChangeOut:
    """Cancel one visit with a reason: its chair is free again and the visit is kept among the
    series' cancelled visits with who, when and why. The other visits keep their times (taking
    one out never breaks the protocol's spacing). 409: the visit has begun; 422: no such visit
    on the schedule, or a blank reason. The patient is e-mailed that the visit is off (never
    the reason) in their language; ``confirmation`` says whether."""
    with c.uow() as uow:
        updated = intake_schedule.cancel_visit(
            uow, c.clock, actor, patient_id, series_id, visit_number, body.reason
        )
        confirmation = visit_confirmations.confirm_cancelled(
            uow, c.clock, actor, notifier_in(c.extras), updated, visit_number
        )
        return SeriesChangeOut.changed(_series_out(uow, updated), confirmation)


# --- clinic hours ---------------------------------------------------------------------------


@router.get("/sites/{site_code}/hours", response_model=HoursOut, responses=_errors(401, 404, 422))
def hours(site_code: SiteCode, actor: ApiActor, c: AppContainer) -> HoursOut:
    """The site's opening hours per weekday and the step of offered start times (any staff
    member of the site; another site is "not found")."""
    with c.uow(readonly=True) as uow:
        site, found = intake_schedule.site_hours(uow, c.clock, actor, site_code)
    return HoursOut.of(site, found)


@router.put(
    "/sites/{site_code}/hours",
    response_model=HoursOut,
    responses=_errors(401, 403, 404, 422),
)
def set_hours(site_code: SiteCode, body: HoursIn, actor: ApiActor, c: AppContainer) -> HoursOut:
    """Replace the site's opening hours (the director of that site). A weekday left out is
    closed; each open day needs ``opens`` before ``closes``; a weekday given twice is a 422.
    Visits already booked stay where they are."""
    with c.uow() as uow:
        require_role(uow, c.clock, actor, "clinic_hours", DIRECTOR)  # audited refusal first
        site, _ = intake_schedule.site_hours(uow, c.clock, actor, site_code)
        days = tuple(_opening(n, d) for n, d in enumerate(body.days))
        stored = intake_schedule.set_clinic_hours(uow, c.clock, actor, site.id, days, body.slot_min)
    return HoursOut.of(site, stored)


def _opening(index: int, day: DayHoursIn) -> OpeningHours:
    try:
        return OpeningHours(
            day.weekday, dt.time.fromisoformat(day.opens), dt.time.fromisoformat(day.closes)
        )
    except InvalidInput as error:
        name = f"days[{index}].{error.field or 'opens'}"
        raise InvalidInput.for_field(name, error.value, error.expected or "valid hours") from None
