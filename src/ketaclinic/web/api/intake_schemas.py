"""JSON shapes of the intake API beyond the public endpoints and the intake itself: eligibility
signatures, consent, protocols and plans, leads, series and visits, the end-of-series decision
and clinic hours (web/api/intake_care.py, web/api/intake_booking.py).

These are the API's contract, built from the services' records by the ``of`` class methods;
they are not storage rows.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ketaclinic.domain.people import Site
from ketaclinic.domain.protocols import (
    NAME_MAX,
    OBSERVATION_DEFAULT_MIN,
    SETUP_DEFAULT_MIN,
    WEEKDAY_NAMES,
    Protocol,
)
from ketaclinic.domain.scheduling import OpeningHours
from ketaclinic.services.intake_common import zone
from ketaclinic.services.intake_models import (
    CANCEL_REASON_MAX,
    CONSENT_TEXT_MAX,
    DECISION_NOTE_MAX,
    SIGNER_NAME_MAX,
    CancelledVisit,
    ClinicHours,
    ConsentVersion,
    EligibilitySignoff,
    PatientConsent,
    Series,
    TreatmentPlan,
    Visit,
)
from ketaclinic.services.visit_confirmations import Confirmation
from ketaclinic.web.deps import MAX_ID

HH_MM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"

# --- eligibility ----------------------------------------------------------------------------


class EligibilitySignatureIn(BaseModel):
    """Sign the latest intake's decision as it stands, or (``override``) turn ``needs_review``
    into ``eligible`` with a written reason."""

    model_config = ConfigDict(extra="forbid")

    intake_id: int | None = Field(
        default=None,
        ge=1,
        le=MAX_ID,
        description="the intake you reviewed (default: the latest); a newer one is a 409",
    )
    override: bool = Field(default=False, description="override needs_review to eligible")
    reason: str = Field(
        default="", max_length=5000, description="why treatment is justified (override only)"
    )


class EligibilitySignatureOut(BaseModel):
    id: int
    patient_id: int
    intake_id: int
    decision: Literal["eligible", "needs_review", "excluded"]
    original_decision: Literal["eligible", "needs_review", "excluded"]
    signed_by: int
    signed_at: dt.datetime
    override_reason: str
    overridden_codes: list[str]

    @classmethod
    def of(cls, s: EligibilitySignoff) -> EligibilitySignatureOut:
        return cls(
            id=s.id,
            patient_id=s.patient_id,
            intake_id=s.intake_id,
            decision=s.decision.value,
            original_decision=s.original_decision.value,
            signed_by=s.signed_by,
            signed_at=s.signed_at,
            override_reason=s.override_reason,
            overridden_codes=list(s.overridden_codes),
        )


# --- consent --------------------------------------------------------------------------------


class ConsentVersionOut(BaseModel):
    id: int
    version: int
    body_en: str
    body_es: str = Field(description="empty when the version has no Spanish text")
    created_at: dt.datetime

    @classmethod
    def of(cls, v: ConsentVersion) -> ConsentVersionOut:
        return cls(
            id=v.id,
            version=v.version,
            body_en=v.text.body_en,
            body_es=v.text.body_es,
            created_at=v.created_at,
        )


class ConsentVersionIn(BaseModel):
    """A new consent version's wording: English, and Spanish when the clinic has it."""

    model_config = ConfigDict(extra="forbid")

    body_en: str = Field(max_length=CONSENT_TEXT_MAX, description="the consent text in English")
    body_es: str = Field(
        default="", max_length=CONSENT_TEXT_MAX, description="the Spanish text; may be empty"
    )


class ConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version_id: int | None = Field(
        default=None,
        ge=1,
        le=MAX_ID,
        description="the version the patient read (default: the one in force); an older one "
        "is a 409",
    )
    signer_name: str = Field(
        min_length=1, max_length=SIGNER_NAME_MAX, description="the patient's name as they typed it"
    )
    language: Literal["en", "es"] = Field(default="en", description="the language they read")


class PatientConsentOut(BaseModel):
    id: int
    patient_id: int
    version_id: int
    version: int
    language: str
    signer_name: str
    witness_id: int = Field(description="the staff member who recorded it")
    signed_at: dt.datetime

    @classmethod
    def of(cls, c: PatientConsent) -> PatientConsentOut:
        return cls(
            id=c.id,
            patient_id=c.patient_id,
            version_id=c.version_id,
            version=c.version,
            language=c.language,
            signer_name=c.signer_name,
            witness_id=c.witness_id,
            signed_at=c.signed_at,
        )


class PatientConsentsOut(BaseModel):
    patient_id: int
    version_in_force: int | None = Field(description="null before the clinic has consent text")
    current: bool = Field(description="the patient consented to the version in force")
    consents: list[PatientConsentOut] = Field(description="newest first")


# --- protocols and plans --------------------------------------------------------------------


class ProtocolOut(BaseModel):
    id: str
    name: str
    infusion_count: int
    duration_weeks: int
    dose_mg_per_kg: float
    infusion_min: int
    observation_min: int
    setup_min: int
    chair_min: int = Field(description="minutes a visit holds a chair")
    weekdays: list[int] = Field(description="0 = Monday; empty for a fixed spacing")
    spacing_days: int | None
    min_gap_days: int = Field(description="shortest allowed interval between two infusions")
    source: str

    @classmethod
    def of(cls, p: Protocol) -> ProtocolOut:
        return cls(
            id=p.id,
            name=p.name,
            infusion_count=p.infusion_count,
            duration_weeks=p.duration_weeks,
            dose_mg_per_kg=p.dose_mg_per_kg,
            infusion_min=p.infusion_min,
            observation_min=p.observation_min,
            setup_min=p.setup_min,
            chair_min=p.chair_min,
            weekdays=list(p.weekdays),
            spacing_days=p.spacing_days,
            min_gap_days=p.gap_days,
            source=p.source.label(),
        )


class ProtocolIn(BaseModel):
    """A clinic-defined protocol. Exactly one of ``weekdays`` and ``spacing_days`` sets the
    rhythm; ``domain/protocols.py`` checks the bounds and that the infusions fit the weeks."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(
        min_length=1, max_length=40, description="2–40 lowercase letters, digits or '-'"
    )
    name: str = Field(min_length=1, max_length=NAME_MAX)
    infusion_count: int = Field(description="1–60 infusions")
    duration_weeks: int = Field(description="1–104 weeks: the series ends within them")
    dose_mg_per_kg: float = Field(allow_inf_nan=False, description="0.1–1 mg/kg")
    infusion_min: int = Field(description="40–120 minutes")
    weekdays: list[int] = Field(
        default_factory=list, max_length=7, description="allowed weekdays, 0 = Monday"
    )
    spacing_days: int | None = Field(default=None, description="or a fixed interval, 1–365 days")
    min_gap_days: int | None = Field(
        default=None,
        description="shortest interval when a visit is moved or shifted (default: the rhythm's)",
    )
    observation_min: int = Field(default=OBSERVATION_DEFAULT_MIN, description="30–480 minutes")
    setup_min: int = Field(default=SETUP_DEFAULT_MIN, description="0–120 minutes")
    note: str = Field(default="", max_length=2000)


class PlanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    protocol_id: str = Field(min_length=1, max_length=40, description="from GET /protocols")
    dose_mg_per_kg: float = Field(allow_inf_nan=False, description="0.1–1 mg/kg")
    start_date: dt.date = Field(description="first possible day, site-local, today or later")
    note: str = Field(default="", max_length=DECISION_NOTE_MAX)


class PlanOut(BaseModel):
    id: int
    patient_id: int
    protocol_id: str
    dose_mg_per_kg: float
    start_date: dt.date
    signed_by: int
    signed_at: dt.datetime
    note: str

    @classmethod
    def of(cls, p: TreatmentPlan) -> PlanOut:
        return cls(
            id=p.id,
            patient_id=p.patient_id,
            protocol_id=p.protocol_id,
            dose_mg_per_kg=p.dose_mg_per_kg,
            start_date=p.start_date,
            signed_by=p.signed_by,
            signed_at=p.signed_at,
            note=p.note,
        )


class PlansOut(BaseModel):
    patient_id: int
    current: PlanOut | None = Field(description="the newest signed plan: the one booked")
    plans: list[PlanOut] = Field(description="newest first")


# --- leads ----------------------------------------------------------------------------------


class LeadRegistrationIn(BaseModel):
    """The patient a lead becomes, at the lead's site."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    mrn: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9\-_.]*$")
    given_name: str = Field(min_length=1, max_length=100)
    family_name: str = Field(min_length=1, max_length=100)
    birth_date: dt.date
    sex: Literal["female", "male", "other", "unknown"]
    email: str = Field(default="", max_length=254)
    phone: str = Field(default="", max_length=32)
    preferred_language: Literal["en", "es"] = "en"
    weight_kg: float | None = Field(default=None, ge=20, le=350)
    height_cm: float | None = Field(default=None, ge=100, le=250)


# --- series and visits ----------------------------------------------------------------------


class SeriesVisitOut(BaseModel):
    number: int
    chair: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    local_start: dt.datetime = Field(
        description="the same moment as site-local wall-clock time, with the site's UTC offset"
    )
    local_end: dt.datetime

    @classmethod
    def of(cls, v: Visit, site: Site, chairs: dict[int, str]) -> SeriesVisitOut:
        return cls(
            number=v.number,
            chair=chairs.get(v.chair_id, "?"),
            starts_at=v.starts_at,
            ends_at=v.ends_at,
            local_start=v.starts_at.astimezone(zone(site)),
            local_end=v.ends_at.astimezone(zone(site)),
        )


class CancelledVisitOut(SeriesVisitOut):
    cancelled_by: int
    cancelled_at: dt.datetime
    reason: str

    @classmethod
    def cancelled(cls, c: CancelledVisit, site: Site, chairs: dict[int, str]) -> CancelledVisitOut:
        booked = SeriesVisitOut.of(c.visit, site, chairs)
        return cls(
            **booked.model_dump(),
            cancelled_by=c.cancelled_by,
            cancelled_at=c.cancelled_at,
            reason=c.reason,
        )


class SeriesOut(BaseModel):
    id: int
    patient_id: int
    protocol: str
    visits: list[SeriesVisitOut] = Field(description="the visits on the schedule, in order")
    cancelled: list[CancelledVisitOut] = Field(
        default_factory=list, description="visits taken off the schedule"
    )
    decision: Literal["continue", "maintenance", "stop"] | None = Field(
        default=None, description="the end-of-series decision, once recorded"
    )

    @classmethod
    def of(cls, s: Series, site: Site, chairs: dict[int, str]) -> SeriesOut:
        return cls(
            id=s.id,
            patient_id=s.patient_id,
            protocol=s.protocol_id,
            visits=[SeriesVisitOut.of(v, site, chairs) for v in s.visits],
            cancelled=[CancelledVisitOut.cancelled(c, site, chairs) for c in s.cancelled],
            decision=s.decision.value if s.decision else None,
        )


class ConfirmationOut(BaseModel):
    """The e-mail that told the patient of a booking, a move or a cancellation
    (services/visit_confirmations.py)."""

    outcome: Literal["sent", "no_email", "mail_off", "failed"] = Field(
        description="sent; not sent because the patient has no e-mail address on file "
        "(no_email) or mail is not set up (mail_off); or the mail server refused (failed)"
    )
    message: str = Field(description="the same in words, for staff")

    @classmethod
    def of(cls, confirmation: Confirmation) -> ConfirmationOut:
        return cls(outcome=confirmation.outcome.value, message=confirmation.message)


class SeriesChangeOut(SeriesOut):
    """A series after a booking, a move or a cancellation, with the e-mail about it."""

    confirmation: ConfirmationOut

    @classmethod
    def changed(cls, series: SeriesOut, confirmation: Confirmation) -> SeriesChangeOut:
        return cls(**series.model_dump(), confirmation=ConfirmationOut.of(confirmation))


class SeriesListOut(BaseModel):
    patient_id: int
    site: str
    problems: list[str] = Field(description="what blocks booking a series; empty when cleared")
    plan: PlanOut | None = Field(description="the signed plan a new series follows")
    series: list[SeriesOut] = Field(description="oldest first")


class MoveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    new_day: dt.date | None = Field(
        default=None, description="site-local day; default: the visit's own day"
    )
    at: str | None = Field(
        default=None, pattern=HH_MM, description="HH:MM site-local; default: earliest free slot"
    )
    chair: str | None = Field(
        default=None, min_length=1, max_length=20, description="chair code; default: any"
    )


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(
        min_length=1, max_length=CANCEL_REASON_MAX, description="why the visit is cancelled"
    )


class ScoreOut(BaseModel):
    on: dt.date
    total: float


class ReviewOut(BaseModel):
    patient_id: int
    series: SeriesOut
    finished: bool = Field(description="the last infusion on the schedule has ended")
    scores: list[ScoreOut] = Field(description="PCL-5 totals by date, baseline first")
    baseline: ScoreOut | None
    outcome: dict[str, Any] | None = Field(
        description="with follow-up scores: baseline, points (change, response, remission, …), "
        "durability and the definitions with their sources"
    )
    decision_note: str
    decided_by: int | None
    decided_at: dt.datetime | None


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["continue", "maintenance", "stop"]
    note: str = Field(default="", max_length=DECISION_NOTE_MAX)


# --- clinic hours ---------------------------------------------------------------------------


class DayHoursOut(BaseModel):
    weekday: int = Field(description="0 = Monday")
    day: str
    opens: str = Field(description="HH:MM site-local")
    closes: str

    @classmethod
    def of(cls, h: OpeningHours) -> DayHoursOut:
        return cls(
            weekday=h.weekday,
            day=WEEKDAY_NAMES[h.weekday],
            opens=h.opens.strftime("%H:%M"),
            closes=h.closes.strftime("%H:%M"),
        )


class HoursOut(BaseModel):
    site: str
    timezone: str
    slot_min: int = Field(description="start times are offered in steps of this many minutes")
    days: list[DayHoursOut] = Field(description="open weekdays; a weekday not listed is closed")

    @classmethod
    def of(cls, site: Site, hours: ClinicHours | None) -> HoursOut:
        return cls(
            site=site.code,
            timezone=site.timezone,
            slot_min=hours.slot_min if hours else 15,
            days=[DayHoursOut.of(h) for h in hours.hours] if hours else [],
        )


class DayHoursIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    weekday: int = Field(ge=0, le=6, description="0 = Monday")
    opens: str = Field(pattern=HH_MM, description="HH:MM site-local")
    closes: str = Field(pattern=HH_MM)


class HoursIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slot_min: int = Field(default=15, ge=5, le=120)
    days: list[DayHoursIn] = Field(max_length=7, description="a weekday left out is closed")
