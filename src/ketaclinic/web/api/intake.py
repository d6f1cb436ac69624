"""Intake over HTTP: public screening and inquiries, the lead queue, intake with eligibility,
series booking and the day's schedule (DESIGN.md §4.3).

The public endpoints store nothing (screening) or only what the visitor sent (inquiries), are
throttled per client, and answer an inquiry the same way whatever it contains. The intake
endpoint takes the intake JSON of DESIGN.md §4.2 and parses it with the same parser as
``ketaclinic eligibility``, so it reports the same errors.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from ketaclinic.adapters.notify.smtp import notifier_in
from ketaclinic.domain.errors import InvalidInput, NotFound
from ketaclinic.domain.screening import ScreeningAnswers, evaluate_screening, parse_screening
from ketaclinic.locale import translator
from ketaclinic.services import (
    clinic_settings,
    intake_assessment,
    intake_leads,
    intake_schedule,
    visit_confirmations,
)
from ketaclinic.services.audit import Actor
from ketaclinic.services.intake_common import local_today, zone
from ketaclinic.services.intake_models import Inquiry, IntakeNotes, LeadStatus
from ketaclinic.web.api.intake_schemas import SeriesChangeOut, SeriesOut
from ketaclinic.web.api.schemas import ErrorResponse
from ketaclinic.web.deps import ApiActor, AppContainer, IdPath
from ketaclinic.web.pages.intake_guard import (
    MAX_AGE_S,
    MIN_FILL_S,
    check_form_token,
    client_key,
    new_form_token,
    throttles,
)

router = APIRouter(tags=["intake"])


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorResponse} for code in codes}


# --- public ---------------------------------------------------------------------------------


class HealthAnswers(BaseModel):
    model_config = ConfigDict(extra="forbid")

    high_blood_pressure: bool
    heart_disease: bool
    stroke: bool
    pregnancy: bool
    psychosis: bool
    substance_use: bool


class ScreeningIn(BaseModel):
    """The visitor's answers: 20 symptom ratings 0–4 in order, whole months since the event,
    and the six yes/no health questions."""

    model_config = ConfigDict(extra="forbid")

    symptoms: list[int] = Field(min_length=20, max_length=20)
    months_since_event: int = Field(ge=0, le=1200)
    health: HealthAnswers
    lang: Literal["en", "es"] = "en"


class Message(BaseModel):
    key: str
    text: str


class ScreeningOut(BaseModel):
    outcome: Literal[
        "evaluation_makes_sense", "talk_to_doctor_first", "too_soon", "below_studied_level"
    ]
    headline: Message
    reasons: list[Message]
    notices: list[Message] = Field(description="always includes the not-a-diagnosis notice")


@router.post("/screening", response_model=ScreeningOut, responses=_errors(422, 429))
def screening(body: ScreeningIn, request: Request) -> ScreeningOut:
    """Evaluate a self-screening. Never a diagnosis; nothing is stored."""
    throttles(request).screening.check(client_key(request))
    answers: ScreeningAnswers = parse_screening(body.model_dump(exclude={"lang"}))
    result = evaluate_screening(answers)
    return ScreeningOut.model_validate(result.as_dict(translator(body.lang)))


class SiteOut(BaseModel):
    code: str
    name: str


class InquiryFormOut(BaseModel):
    form_token: str = Field(description="send back with the inquiry")
    min_fill_seconds: float
    max_age_seconds: float
    sites: list[SiteOut]


@router.get("/inquiries/form", response_model=InquiryFormOut)
def inquiry_form(request: Request, c: AppContainer) -> InquiryFormOut:
    """What an inquiry form needs: a signed form token (valid from ``min_fill_seconds`` to
    ``max_age_seconds`` after it is issued) and the sites a visitor can choose."""
    with c.uow(readonly=True) as uow:
        sites = [SiteOut(code=s.code, name=s.name) for s in intake_leads.public_sites(uow)]
    return InquiryFormOut(
        form_token=new_form_token(request),
        min_fill_seconds=MIN_FILL_S,
        max_age_seconds=MAX_AGE_S,
        sites=sites,
    )


class InquiryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    email: str = Field(default="", max_length=254)
    phone: str = Field(default="", max_length=32)
    site: str = Field(min_length=2, max_length=10, description="site code, e.g. MIA")
    message: str = Field(default="", max_length=2000)
    contact_consent: bool = Field(description="must be true: the visitor agrees to be contacted")
    language: Literal["en", "es"] = "en"
    form_token: str = Field(max_length=500, description="from GET /api/v1/inquiries/form")
    website: str = Field(default="", max_length=200, description="leave empty")


class Received(BaseModel):
    status: Literal["received"] = "received"


@router.post("/inquiries", response_model=Received, status_code=202, responses=_errors(422, 429))
def submit_inquiry(body: InquiryIn, request: Request, c: AppContainer) -> Received:
    """Leave contact details for the front desk. The answer is the same for every accepted
    inquiry and says nothing about who is or is not a patient."""
    throttles(request).inquiry.check(client_key(request))
    if body.website.strip():
        return Received()  # the honeypot: answer as for anyone, keep nothing
    check_form_token(request, body.form_token)
    with c.uow() as uow:
        site = next((s for s in intake_leads.public_sites(uow) if s.code == body.site), None)
        if site is None:
            raise InvalidInput.for_field("site", body.site, "one of the clinic's site codes")
        inquiry = Inquiry.from_form(
            site_id=site.id,
            name=body.name,
            email=body.email,
            phone=body.phone,
            contact_consent=body.contact_consent,
            message=body.message,
            language=body.language,
        )
        intake_leads.submit_inquiry(uow, c.clock, Actor(None, client_key(request)), inquiry)
    return Received()


# --- leads ----------------------------------------------------------------------------------


class LeadOut(BaseModel):
    id: int
    site: str
    name: str
    email: str
    phone: str
    message: str
    language: str
    received_at: dt.datetime
    status: str
    patient_id: int | None


@router.get("/leads", response_model=list[LeadOut], responses=_errors(401, 403, 422))
def leads(
    actor: ApiActor,
    c: AppContainer,
    site: Annotated[str | None, Query(max_length=10, description="site code")] = None,
    status: Annotated[Literal["new", "converted", "dismissed", "all"], Query()] = "new",
) -> list[LeadOut]:
    """The front desk's queue (front desk and director), newest first."""
    with c.uow(readonly=True) as uow:
        codes = {s.id: s.code for s in uow.sites.all()}
        site_id = None
        if site is not None:
            site_id = next((i for i, code in codes.items() if code == site.upper()), -1)
        found = intake_leads.list_leads(
            uow,
            c.clock,
            actor,
            site_id=site_id,
            status=None if status == "all" else LeadStatus(status),
        )
    return [
        LeadOut(
            id=lead.id,
            site=codes[lead.site_id],
            name=lead.name,
            email=lead.email,
            phone=lead.phone,
            message=lead.message,
            language=lead.language,
            received_at=lead.received_at,
            status=lead.status.value,
            patient_id=lead.patient_id,
        )
        for lead in found
    ]


# --- intake and eligibility -----------------------------------------------------------------


class ReasonOut(BaseModel):
    code: str
    message: str
    source: str


class SignoffOut(BaseModel):
    decision: str
    signed_by: int
    signed_at: dt.datetime
    override_reason: str
    overridden_codes: list[str]


class EligibilityOut(BaseModel):
    patient_id: int
    intake_id: int | None
    assessment_date: dt.date | None
    decision: Literal["eligible", "needs_review", "excluded"] | None
    reasons: list[ReasonOut]
    signed: SignoffOut | None = Field(description="the prescriber's signature, if signed")
    weight_findings: list[str] = Field(default_factory=list)


INTAKE_EXAMPLE = {
    "assessment_date": "2026-11-20",
    "weight_kg": 80.0,
    "height_cm": 170.0,
    "trauma_date": "2025-03-01",
    "pregnant": False,
    "bp_systolic": 128,
    "bp_diastolic": 82,
    "heart_rate": 72,
    "spo2": 98,
    "pcl5": [2] * 20,
    "phq9": [1] * 8 + [0],
    "gad7": [1] * 7,
    "conditions": ["psychosis_history"],
    "medications": ["sertraline"],
    "allergies": "penicillin",
    "weight_confirmed": False,
}


def _optional_text(data: dict[str, Any], name: str) -> str:
    value = data.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInput.for_field(name, value, "text")
    return value.strip()


@router.post(
    "/patients/{patient_id}/intake",
    response_model=EligibilityOut,
    status_code=201,
    responses=_errors(401, 403, 404, 422),
)
def record_intake(
    patient_id: IdPath,
    actor: ApiActor,
    c: AppContainer,
    body: Annotated[
        dict[str, Any],
        Body(openapi_examples={"intake": {"summary": "an intake", "value": INTAKE_EXAMPLE}}),
    ],
) -> EligibilityOut:
    """Record an intake (the JSON of DESIGN.md §4.2; ``age_years`` and ``sex`` may be left out
    and are then taken from the patient's record) and return the eligibility result with every
    reason. Optional: ``psychiatric_history``, ``medical_history``, ``allergies`` (text),
    ``gad7`` (seven answers 0–3, the baseline GAD-7) and ``weight_confirmed`` (true after
    checking a weight that raised a plausibility finding). The baseline PCL-5, PHQ-9 and GAD-7
    are stored as questionnaire responses of source ``intake``; a PHQ-9 item 9 of 1 or more
    raises the same-day safety task (see ``GET /patients/{id}/scores``)."""
    confirmed = body.get("weight_confirmed", False)
    if not isinstance(confirmed, bool):
        raise InvalidInput.for_field("weight_confirmed", confirmed, "true or false")
    with c.uow() as uow:
        notes = IntakeNotes(
            _optional_text(body, "psychiatric_history"),
            _optional_text(body, "medical_history"),
            _optional_text(body, "allergies"),
        )
        stored = intake_assessment.record_intake(
            uow,
            c.clock,
            actor,
            patient_id,
            body,
            notes,
            weight_confirmed=confirmed,
            notifier=notifier_in(c.extras),
            settings=clinic_settings.clinic_eligibility_settings(uow),
        )
    return EligibilityOut(
        patient_id=stored.patient_id,
        intake_id=stored.id,
        assessment_date=stored.record.assessment_date,
        decision=stored.decision.value,
        reasons=[ReasonOut(**r.as_dict()) for r in stored.reasons],
        signed=None,
        weight_findings=list(stored.weight_findings),
    )


@router.get(
    "/patients/{patient_id}/eligibility",
    response_model=EligibilityOut,
    responses=_errors(401, 403, 404),
)
def eligibility(patient_id: IdPath, actor: ApiActor, c: AppContainer) -> EligibilityOut:
    """The latest intake's eligibility result and its signature (clinical roles)."""
    with c.uow(readonly=True) as uow:
        view = intake_assessment.eligibility_view(uow, c.clock, actor, patient_id)
    intake, signoff = view.intake, view.signoff
    return EligibilityOut(
        patient_id=view.patient.id,
        intake_id=intake.id if intake else None,
        assessment_date=intake.record.assessment_date if intake else None,
        decision=intake.decision.value if intake else None,
        reasons=[ReasonOut(**r.as_dict()) for r in intake.reasons] if intake else [],
        signed=SignoffOut(
            decision=signoff.decision.value,
            signed_by=signoff.signed_by,
            signed_at=signoff.signed_at,
            override_reason=signoff.override_reason,
            overridden_codes=list(signoff.overridden_codes),
        )
        if signoff
        else None,
        weight_findings=list(intake.weight_findings) if intake else [],
    )


# --- series and schedule --------------------------------------------------------------------


class SeriesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start_date: dt.date = Field(description="first possible day (site-local), today or later")
    earliest: bool = Field(
        default=False,
        description=(
            "false: each visit on its protocol date (409 names the dates without a free chair "
            "and the earliest series that fits); true: book the earliest feasible series from "
            "start_date on, each visit on or after its protocol date, keeping the spacing"
        ),
    )


@router.post(
    "/patients/{patient_id}/series",
    response_model=SeriesChangeOut,
    status_code=201,
    responses=_errors(401, 403, 404, 409, 422),
)
def book_series(
    patient_id: IdPath, body: SeriesIn, actor: ApiActor, c: AppContainer
) -> SeriesChangeOut:
    """Book the patient's signed plan as a whole series at the earliest free chairs. Needs a
    signed ``eligible`` decision, consent on the version in force and a signed plan (409 lists
    what is missing). Without ``earliest`` a planned date without a free chair is a 409 naming
    every such date and ``earliest possible: …`` (the series ``earliest`` would book); with
    ``earliest`` the earliest feasible series is booked (409 when none starts within 56 days).
    The patient is e-mailed the visits in their language; ``confirmation`` says whether."""
    with c.uow() as uow:
        series = intake_schedule.book_series(
            uow, c.clock, actor, patient_id, body.start_date, earliest=body.earliest
        )
        site = uow.sites.get(series.site_id)
        codes = {ch.id: ch.code for ch in uow.sites.chairs(series.site_id, retired=True)}
        confirmation = visit_confirmations.confirm_booked(
            uow,
            c.clock,
            actor,
            notifier_in(c.extras),
            series,
            reminder_lead=dt.timedelta(hours=c.settings.visit_reminder_lead_h),
        )
    assert site is not None
    return SeriesChangeOut.changed(SeriesOut.of(series, site, codes), confirmation)


class DayVisitOut(BaseModel):
    chair: str
    local_start: dt.datetime = Field(
        description="site-local wall-clock time, with the site's UTC offset"
    )
    local_end: dt.datetime
    patient_id: int
    mrn: str
    patient_name: str
    series_id: int
    number: int
    of: int


class ScheduleOut(BaseModel):
    site: str
    date: dt.date
    opens: str | None = Field(description="HH:MM, or null when the site is closed that day")
    closes: str | None
    chairs: list[str]
    visits: list[DayVisitOut]


@router.get("/schedule", response_model=ScheduleOut, responses=_errors(401, 403, 404, 422))
def schedule(
    actor: ApiActor,
    c: AppContainer,
    site: Annotated[str | None, Query(max_length=10, description="site code")] = None,
    date: Annotated[dt.date | None, Query(description="site-local date; default today")] = None,
) -> ScheduleOut:
    """Every chair of a site and its visits on one day (default: the caller's first site,
    today)."""
    principal = actor.principal
    with c.uow(readonly=True) as uow:
        mine = [s for s in uow.sites.all() if principal and s.id in principal.site_ids]
        chosen = mine[0] if site is None and mine else uow.sites.by_code((site or "").upper())
        if chosen is None:
            raise NotFound(f"site: {site!r} not found", field="site")
        day = date or local_today(c.clock, chosen)
        view = intake_schedule.day_view(uow, c.clock, actor, chosen.id, day)
    hours = view.hours
    return ScheduleOut(
        site=view.site.code,
        date=view.day,
        opens=hours.opens.strftime("%H:%M") if hours else None,
        closes=hours.closes.strftime("%H:%M") if hours else None,
        chairs=[ch.code for ch in view.chairs],
        visits=[
            DayVisitOut(
                chair=e.chair_code,
                local_start=e.visit.starts_at.astimezone(zone(view.site)),
                local_end=e.visit.ends_at.astimezone(zone(view.site)),
                patient_id=e.patient_id,
                mrn=e.mrn,
                patient_name=e.patient_name,
                series_id=e.visit.series_id,
                number=e.visit.number,
                of=e.of,
            )
            for e in view.entries
        ],
    )
