"""Organisation, sites, chairs, staff and patients: who and where.

A deployment serves one organisation with one or more sites; every patient and chair belongs to
a site, and staff see only the sites they are assigned to (DESIGN.md §1).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from enum import StrEnum

from ketaclinic.domain.errors import InvalidInput

MRN_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-_.]{0,31}$")
SITE_CODE_PATTERN = re.compile(r"^[A-Z0-9]{2,10}$")
# design: a number as people write it (digits, spaces, + ( ) - . /, an optional extension such as
# "ext. 12" or "x12"), with at least 3 digits; no letters that could hide another message.
SITE_PHONE_PATTERN = re.compile(
    r"^\+?[0-9 ().\-/]*[0-9][0-9 ().\-/]*(?:\s*(?:ext\.?|x)\s*[0-9]{1,6})?$", re.IGNORECASE
)
SITE_PHONE_MAX = 32
USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._\-]{2,63}$")
NAME_MAX = 100

# Plausibility bounds for stored body measurements. Outside them a value cannot be an adult's
# weight or height in these units (design); the dosing core adds the finer plausibility checks.
WEIGHT_KG_RANGE = (20.0, 350.0)
HEIGHT_CM_RANGE = (100.0, 250.0)


class Role(StrEnum):
    FRONT_DESK = "front_desk"
    NURSE = "nurse"
    PRESCRIBER = "prescriber"
    DIRECTOR = "director"

    @property
    def label(self) -> str:
        return {
            Role.FRONT_DESK: "Front desk",
            Role.NURSE: "Nurse",
            Role.PRESCRIBER: "Prescriber",
            Role.DIRECTOR: "Clinic director",
        }[self]

    @property
    def sees_clinical_detail(self) -> bool:
        """Front desk handles registration and scheduling only (DESIGN.md §1)."""
        return self is not Role.FRONT_DESK


CLINICAL_ROLES = frozenset({Role.NURSE, Role.PRESCRIBER, Role.DIRECTOR})
ALL_ROLES = frozenset(Role)


class Sex(StrEnum):
    FEMALE = "female"
    MALE = "male"
    OTHER = "other"
    UNKNOWN = "unknown"


def parse_role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise InvalidInput.for_field("role", value, f"one of {allowed}") from None


@dataclass(frozen=True, slots=True)
class Site:
    id: int
    code: str
    name: str
    timezone: str = "America/New_York"
    phone: str = ""  # the number patients call (discharge instructions, e-mails); "" = none

    @property
    def phone_dial(self) -> str:
        """The phone number for a ``tel:`` link: a leading + and the digits, no extension."""
        number = re.split(r"(?i)ext|x", self.phone, maxsplit=1)[0]
        digits = "".join(ch for ch in number if ch.isdigit())
        return ("+" if number.strip().startswith("+") else "") + digits


def check_site_phone(phone: str) -> str:
    """The site's phone number, trimmed and with runs of spaces made one; ``""`` for none.
    :class:`InvalidInput` on ``phone`` for anything that is not a phone number."""
    text = " ".join(phone.split())
    if not text:
        return ""
    digits = sum(ch.isdigit() for ch in text)
    if len(text) > SITE_PHONE_MAX or digits < 3 or not SITE_PHONE_PATTERN.match(text):
        raise InvalidInput.for_field(
            "phone",
            text[:40],
            f"a phone number of at most {SITE_PHONE_MAX} characters: digits, spaces, + ( ) - . /"
            " and an optional extension (e.g. +1 305 555 0100 ext. 12)",
        )
    return text


@dataclass(frozen=True, slots=True)
class Chair:
    """An infusion chair of a site. A retired chair takes no new visits or sessions; its past
    ones keep naming it."""

    id: int
    site_id: int
    code: str
    name: str
    retired_at: dt.datetime | None = None

    @property
    def in_service(self) -> bool:
        return self.retired_at is None


@dataclass(frozen=True, slots=True)
class StaffUser:
    id: int
    username: str
    display_name: str
    role: Role
    site_ids: frozenset[int]
    active: bool = True
    email: str = ""


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated staff member behind a request, as authorisation sees them."""

    user_id: int
    username: str
    role: Role
    site_ids: frozenset[int]

    def can_see_site(self, site_id: int) -> bool:
        return site_id in self.site_ids


@dataclass(frozen=True, slots=True)
class NewPatient:
    """What registration needs. Validated on construction; messages name field and value."""

    site_id: int
    mrn: str
    given_name: str
    family_name: str
    birth_date: dt.date
    sex: Sex
    email: str = ""
    phone: str = ""
    preferred_language: str = "en"

    def __post_init__(self) -> None:
        if not MRN_PATTERN.match(self.mrn):
            raise InvalidInput.for_field(
                "mrn", self.mrn, "1–32 letters, digits, '-', '_' or '.', starting alphanumeric"
            )
        for name in ("given_name", "family_name"):
            value: str = getattr(self, name)
            if not value.strip() or len(value) > NAME_MAX:
                raise InvalidInput.for_field(name, value, f"1–{NAME_MAX} characters")
        for name in ("given_name", "family_name", "email", "phone"):
            if any(ord(ch) < 32 for ch in getattr(self, name)):
                raise InvalidInput.for_field(
                    name, getattr(self, name), "text without control characters"
                )
        if self.preferred_language not in {"en", "es"}:
            raise InvalidInput.for_field("preferred_language", self.preferred_language, "en or es")
        if len(self.email) > 254 or (self.email and "@" not in self.email):
            raise InvalidInput.for_field("email", self.email, "an e-mail address")
        if len(self.phone) > 32:
            raise InvalidInput.for_field("phone", self.phone, "at most 32 characters")


@dataclass(frozen=True, slots=True)
class Patient:
    id: int
    site_id: int
    mrn: str
    given_name: str
    family_name: str
    birth_date: dt.date
    sex: Sex
    email: str = ""
    phone: str = ""
    preferred_language: str = "en"
    created_at: dt.datetime | None = None

    @property
    def display_name(self) -> str:
        return f"{self.family_name}, {self.given_name}"

    def age_on(self, day: dt.date) -> int:
        years = day.year - self.birth_date.year
        if (day.month, day.day) < (self.birth_date.month, self.birth_date.day):
            years -= 1
        return years


@dataclass(frozen=True, slots=True)
class BodyMeasurement:
    """Weight and height as measured on a day; the history is kept, never overwritten."""

    patient_id: int
    measured_at: dt.datetime
    weight_kg: float
    height_cm: float | None
    recorded_by: int | None = None
    id: int | None = None
    note: str = field(default="")

    def __post_init__(self) -> None:
        low, high = WEIGHT_KG_RANGE
        if not (low <= self.weight_kg <= high):
            raise InvalidInput.for_field("weight_kg", self.weight_kg, f"{low:g}–{high:g} kg")
        if self.height_cm is not None:
            low, high = HEIGHT_CM_RANGE
            if not (low <= self.height_cm <= high):
                raise InvalidInput.for_field("height_cm", self.height_cm, f"{low:g}–{high:g} cm")

    @property
    def bmi(self) -> float | None:
        if self.height_cm is None:
            return None
        metres = self.height_cm / 100
        return self.weight_kg / (metres * metres)
