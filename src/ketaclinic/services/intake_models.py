"""The records of intake and scheduling: leads, stored intakes and sign-offs, consent, treatment
plans, series and visits.

They are what the intake repositories (:mod:`ketaclinic.services.intake_ports`) store and return.
Validation of what a person typed happens here, on construction, so every edge (public form,
staff page, API, demo) refuses the same things with the same message: the field, the value and
what was expected (:class:`~ketaclinic.domain.errors.InvalidInput`).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from ketaclinic.domain.eligibility import Decision
from ketaclinic.domain.errors import InvalidInput
from ketaclinic.domain.intake import IntakeRecord
from ketaclinic.domain.protocols import DOSE_MG_PER_KG_RANGE, Protocol
from ketaclinic.domain.provenance import design
from ketaclinic.domain.scheduling import OpeningHours

# Bounds on what a visitor or staff member may type (design): wide enough for any real entry,
# small enough that a flood of long fields cannot fill the database.
LEAD_NAME_MAX = 100
EMAIL_MAX = 254
PHONE_MAX = 32
MESSAGE_MAX = 2000
NOTES_MAX = 4000
ALLERGIES_MAX = 1000
CONSENT_TEXT_MAX = 20_000
SIGNER_NAME_MAX = 200
DECISION_NOTE_MAX = 2000
CANCEL_REASON_MAX = 500
LANGUAGES = ("en", "es")

# A deliberately loose e-mail check: one @, something on each side, a dot in the domain, no
# spaces. Whether the address exists is for the front desk's first reply to find out.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9 ()./-]{6,32}$")


def clean_text(value: str) -> str:
    """``value`` stripped, with control characters other than line breaks and tabs removed.

    Public forms receive anything; control characters have no place in a name or message and
    could confuse a terminal or a CSV export later.
    """
    kept = [ch for ch in value if ch in "\n\t" or not unicodedata.category(ch).startswith("C")]
    return "".join(kept).strip()


def check_language(value: str, name: str = "language") -> str:
    if value not in LANGUAGES:
        raise InvalidInput.for_field(name, value, "en or es")
    return value


# --- leads ----------------------------------------------------------------------------------


class LeadStatus(StrEnum):
    NEW = "new"
    CONVERTED = "converted"
    DISMISSED = "dismissed"


@dataclass(frozen=True, slots=True)
class Inquiry:
    """What a visitor submits on the public inquiry form, validated.

    At least one of ``email`` and ``phone`` is needed so the clinic can answer; the visitor must
    consent to be contacted (``contact_consent``), otherwise nothing may be kept.
    """

    site_id: int
    name: str
    email: str
    phone: str
    contact_consent: bool
    message: str = ""
    language: str = "en"

    def __post_init__(self) -> None:
        if not self.name or len(self.name) > LEAD_NAME_MAX:
            raise InvalidInput.for_field("name", self.name, f"1–{LEAD_NAME_MAX} characters")
        if self.email and (len(self.email) > EMAIL_MAX or not _EMAIL.match(self.email)):
            raise InvalidInput.for_field("email", self.email, "an e-mail address")
        if self.phone and not _PHONE.match(self.phone):
            raise InvalidInput.for_field(
                "phone", self.phone, f"a phone number of 6–{PHONE_MAX} digits, spaces or +()-./"
            )
        if not self.email and not self.phone:
            raise InvalidInput.for_field("email", "", "an e-mail address or a phone number")
        if self.contact_consent is not True:
            raise InvalidInput.for_field(
                "contact_consent", self.contact_consent, "consent to be contacted"
            )
        if len(self.message) > MESSAGE_MAX:
            raise InvalidInput.for_field(
                "message", f"{len(self.message)} characters", f"at most {MESSAGE_MAX} characters"
            )
        check_language(self.language)

    @classmethod
    def from_form(
        cls,
        *,
        site_id: int,
        name: str,
        email: str,
        phone: str,
        contact_consent: bool,
        message: str,
        language: str,
    ) -> Inquiry:
        """Clean typed text (strip, drop control characters) before validating it."""
        return cls(
            site_id=site_id,
            name=" ".join(clean_text(name).split()),
            email=clean_text(email),
            phone=clean_text(phone),
            contact_consent=contact_consent,
            message=clean_text(message),
            language=language,
        )


@dataclass(frozen=True, slots=True)
class Lead:
    """An inquiry in the front desk's queue; ``handled_by``/``handled_at`` record who converted
    or dismissed it, and ``patient_id`` the patient it became."""

    id: int
    site_id: int
    name: str
    email: str
    phone: str
    message: str
    language: str
    received_at: dt.datetime
    status: LeadStatus = LeadStatus.NEW
    patient_id: int | None = None
    handled_by: int | None = None
    handled_at: dt.datetime | None = None

    @property
    def suggested_names(self) -> tuple[str, str]:
        """(given, family) guessed from the one name field: the last word is the family name."""
        parts = self.name.split()
        if len(parts) < 2:
            return self.name, ""
        return " ".join(parts[:-1]), parts[-1]


# --- intake and eligibility -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IntakeNotes:
    """The free text of an intake, beside the coded :class:`IntakeRecord`."""

    psychiatric_history: str = ""
    medical_history: str = ""
    allergies: str = ""

    def __post_init__(self) -> None:
        for name, limit in (
            ("psychiatric_history", NOTES_MAX),
            ("medical_history", NOTES_MAX),
            ("allergies", ALLERGIES_MAX),
        ):
            value: str = getattr(self, name)
            if len(value) > limit:
                raise InvalidInput.for_field(
                    name, f"{len(value)} characters", f"at most {limit} characters"
                )


@dataclass(frozen=True, slots=True)
class StoredReason:
    """One eligibility reason as it was when the intake was evaluated (rules and clinic settings
    may change later; the stored reason does not)."""

    code: str
    rule_class: str
    action: str
    message: str
    source: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "source": self.source}


@dataclass(frozen=True, slots=True)
class StoredIntake:
    """An intake assessment with its eligibility result, exactly as evaluated.

    ``weight_findings`` are the plausibility findings the nurse confirmed (empty when the weight
    raised none); ``measurement_id`` is the row of the body-measurement history it added.
    """

    id: int
    patient_id: int
    record: IntakeRecord
    notes: IntakeNotes
    decision: Decision
    reasons: tuple[StoredReason, ...]
    weight_findings: tuple[str, ...]
    weight_confirmed: bool
    measurement_id: int | None
    recorded_by: int
    recorded_at: dt.datetime

    def result_dict(self) -> dict[str, object]:
        """The eligibility answer of DESIGN.md §4.2."""
        return {"decision": self.decision.value, "reasons": [r.as_dict() for r in self.reasons]}


@dataclass(frozen=True, slots=True)
class EligibilitySignoff:
    """The prescriber's signature on one intake's eligibility result.

    ``decision`` is the signed decision: the engine's, or ``eligible`` after an override (then
    ``override_reason`` and ``overridden_codes`` are filled). Only ``eligible`` clears a patient
    for scheduling; signing ``needs_review`` records "reviewed, not cleared".
    """

    id: int
    intake_id: int
    patient_id: int
    decision: Decision
    original_decision: Decision
    signed_by: int
    signed_at: dt.datetime
    override_reason: str = ""
    overridden_codes: tuple[str, ...] = ()

    @property
    def overridden(self) -> bool:
        return bool(self.override_reason)


# --- consent --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConsentText:
    """The wording of one consent version in English and (optionally) Spanish."""

    body_en: str
    body_es: str = ""

    def __post_init__(self) -> None:
        if not self.body_en.strip():
            raise InvalidInput.for_field("body_en", self.body_en, "the consent text in English")
        for name in ("body_en", "body_es"):
            value: str = getattr(self, name)
            if len(value) > CONSENT_TEXT_MAX:
                raise InvalidInput.for_field(
                    name, f"{len(value)} characters", f"at most {CONSENT_TEXT_MAX} characters"
                )

    def body(self, language: str) -> str:
        """The text in ``language``; English when no Spanish text was written."""
        return self.body_es if language == "es" and self.body_es.strip() else self.body_en


@dataclass(frozen=True, slots=True)
class ConsentVersion:
    """A numbered consent text. Editable until a patient signs it; immutable afterwards."""

    id: int
    version: int
    text: ConsentText
    created_by: int | None
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class PatientConsent:
    """A patient's signature on one consent version, witnessed by the staff member recording it.

    ``signer_name`` is the patient's name as they typed it.
    """

    id: int
    patient_id: int
    version_id: int
    version: int
    language: str
    signer_name: str
    witness_id: int
    signed_at: dt.datetime

    def __post_init__(self) -> None:
        if not self.signer_name.strip() or len(self.signer_name) > SIGNER_NAME_MAX:
            raise InvalidInput.for_field(
                "signer_name",
                self.signer_name,
                f"the patient's name, 1–{SIGNER_NAME_MAX} characters",
            )
        check_language(self.language)


# --- protocols, plans, series and visits ----------------------------------------------------

CLINIC_PROTOCOL_SOURCE = design("clinic-defined protocol, added by the clinic director")


def clinic_protocol(
    *,
    id: str,
    name: str,
    infusion_count: int,
    duration_weeks: int,
    dose_mg_per_kg: float,
    infusion_min: int,
    weekdays: tuple[int, ...] = (),
    spacing_days: int | None = None,
    min_gap_days: int | None = None,
    observation_min: int,
    setup_min: int,
    note: str = "",
) -> Protocol:
    """A clinic's own protocol, validated by :class:`~ketaclinic.domain.protocols.Protocol`.

    Every number of it is the clinic's choice, so every provenance says so (design), never a
    trial's.
    """
    return Protocol(
        id=id,
        name=name,
        infusion_count=infusion_count,
        duration_weeks=duration_weeks,
        dose_mg_per_kg=dose_mg_per_kg,
        infusion_min=infusion_min,
        source=CLINIC_PROTOCOL_SOURCE,
        weekdays=weekdays,
        spacing_days=spacing_days,
        min_gap_days=min_gap_days,
        observation_min=observation_min,
        setup_min=setup_min,
        dose_source=CLINIC_PROTOCOL_SOURCE,
        infusion_source=CLINIC_PROTOCOL_SOURCE,
        observation_source=CLINIC_PROTOCOL_SOURCE,
        note=note,
    )


@dataclass(frozen=True, slots=True)
class TreatmentPlan:
    """A patient's plan, signed by a prescriber: which protocol, at what dose, from when."""

    id: int
    patient_id: int
    protocol_id: str
    dose_mg_per_kg: float
    start_date: dt.date
    signed_by: int
    signed_at: dt.datetime
    note: str = ""

    def __post_init__(self) -> None:
        low, high = DOSE_MG_PER_KG_RANGE
        if not (low <= self.dose_mg_per_kg <= high):
            raise InvalidInput.for_field(
                "dose_mg_per_kg", self.dose_mg_per_kg, f"{low:g}–{high:g} mg/kg"
            )
        if len(self.note) > DECISION_NOTE_MAX:
            raise InvalidInput.for_field(
                "note", f"{len(self.note)} characters", f"at most {DECISION_NOTE_MAX} characters"
            )


class InductionDecision(StrEnum):
    """What the prescriber decides after the last infusion of an induction series."""

    CONTINUE = "continue"
    MAINTENANCE = "maintenance"
    STOP = "stop"


def parse_induction_decision(value: str) -> InductionDecision:
    try:
        return InductionDecision(value)
    except ValueError:
        allowed = ", ".join(d.value for d in InductionDecision)
        raise InvalidInput.for_field("decision", value, f"one of {allowed}") from None


@dataclass(frozen=True, slots=True)
class Visit:
    """One booked infusion visit of a series: a chair held from ``starts_at`` to ``ends_at``
    (UTC). ``local_day`` is the site-local date the visit falls on."""

    id: int
    series_id: int
    patient_id: int
    site_id: int
    chair_id: int
    number: int
    starts_at: dt.datetime
    ends_at: dt.datetime
    local_day: dt.date


@dataclass(frozen=True, slots=True)
class NewVisit:
    """A visit about to be stored (see :class:`Visit`)."""

    chair_id: int
    number: int
    starts_at: dt.datetime
    ends_at: dt.datetime
    local_day: dt.date


@dataclass(frozen=True, slots=True)
class CancelledVisit:
    """A visit taken off the schedule: where and when it was booked (as :class:`Visit`, same
    ``id`` and ``number``), who cancelled it, when and why. It holds no chair any more."""

    visit: Visit
    cancelled_by: int
    cancelled_at: dt.datetime
    reason: str


@dataclass(frozen=True, slots=True)
class Series:
    """A booked series of infusions following one signed plan.

    ``visits`` are the visits on the schedule, in order; a cancelled visit leaves them (so the
    numbers may have gaps) and is kept in ``cancelled``. ``decision`` is the end-of-induction
    decision once the prescriber recorded it.
    """

    id: int
    patient_id: int
    site_id: int
    plan_id: int
    protocol_id: str
    booked_by: int
    booked_at: dt.datetime
    visits: tuple[Visit, ...] = ()
    decision: InductionDecision | None = None
    decision_note: str = ""
    decided_by: int | None = None
    decided_at: dt.datetime | None = None
    cancelled: tuple[CancelledVisit, ...] = ()

    def visit_numbered(self, number: int) -> Visit | None:
        """The visit on the schedule with this number (``None`` if there is none, or it was
        cancelled)."""
        return next((v for v in self.visits if v.number == number), None)

    @property
    def first_day(self) -> dt.date | None:
        return self.visits[0].local_day if self.visits else None

    @property
    def last_visit(self) -> Visit | None:
        return self.visits[-1] if self.visits else None


@dataclass(frozen=True, slots=True)
class ClinicHours:
    """A site's opening hours per weekday and the step in which visits are offered."""

    site_id: int
    hours: tuple[OpeningHours, ...]
    slot_min: int = 15
