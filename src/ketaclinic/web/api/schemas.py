"""JSON shapes of the HTTP API. These are the API's contract, separate from storage and from
the domain objects they are built from."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ketaclinic.domain.people import BodyMeasurement, Patient


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorDetail


class Token(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int


class MeasurementOut(BaseModel):
    measured_at: dt.datetime
    weight_kg: float
    height_cm: float | None
    bmi: float | None

    @classmethod
    def of(cls, m: BodyMeasurement) -> MeasurementOut:
        bmi = round(m.bmi, 1) if m.bmi is not None else None
        return cls(measured_at=m.measured_at, weight_kg=m.weight_kg, height_cm=m.height_cm, bmi=bmi)


class PatientOut(BaseModel):
    id: int
    mrn: str
    site: str
    given_name: str
    family_name: str
    birth_date: dt.date
    sex: str
    preferred_language: str

    @classmethod
    def of(cls, p: Patient, site_code: str) -> PatientOut:
        return cls(
            id=p.id,
            mrn=p.mrn,
            site=site_code,
            given_name=p.given_name,
            family_name=p.family_name,
            birth_date=p.birth_date,
            sex=p.sex.value,
            preferred_language=p.preferred_language,
        )


class PatientDetail(PatientOut):
    email: str
    phone: str
    measurements: list[MeasurementOut] | None = Field(
        description="weight/height history, oldest first; null for roles without clinical access"
    )


class PatientPage(BaseModel):
    items: list[PatientOut]
    limit: int
    offset: int


class PatientIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    site: str = Field(
        min_length=2, max_length=10, pattern=r"^[A-Za-z0-9]+$", description="site code, e.g. MIA"
    )
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


class Me(BaseModel):
    user_id: int
    username: str
    role: str
    sites: list[str]
