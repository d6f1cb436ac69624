"""The clinic's values for alert rules, outcome definitions and eligibility rules over the JSON
API.

- ``GET /settings/alert-rules``, ``GET /settings/outcome-definitions`` and
  ``GET /settings/eligibility-rules`` (clinical roles):
  every adjustable number with its default, unit, source, the accepted range and the clinic's
  value with who approved it and from when.
- ``PUT`` on the same paths (director): ``{"key", "value", "reason"}``; ``value`` ``null``
  resets the key to its default. Out-of-range or unsafe values are 422 naming the key.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from ketaclinic.services import clinic_settings
from ketaclinic.services.clinic_settings import SettingRow, SettingsView
from ketaclinic.services.settings_ports import ThresholdSetting
from ketaclinic.web.api.schemas import ErrorResponse
from ketaclinic.web.deps import ApiActor, AppContainer

router = APIRouter(prefix="/settings", tags=["clinic settings"])

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse},
    403: {"model": ErrorResponse},
    422: {"model": ErrorResponse},
}


class SettingIn(BaseModel):
    key: str = Field(max_length=80)
    value: float | None = Field(description="the clinic value; null resets to the default")
    reason: str = Field(max_length=1000)


class SettingOut(BaseModel):
    key: str
    label: str
    unit: str
    default: float
    default_source: str
    accepted_min: float
    accepted_max: float
    value: float
    source: str
    unverified: bool = Field(
        description="the value in use is a shipped default REFERENCE.md marks unverified: "
        "the medical director has to review it"
    )
    clinic_value: bool
    approved_by: str | None
    approved_on: dt.date | None
    reason: str | None

    @classmethod
    def of(cls, row: SettingRow) -> SettingOut:
        item, current = row.item, row.current if row.overridden else None
        return cls(
            key=item.key,
            label=item.label,
            unit=item.default.unit,
            default=item.default.value,
            default_source=item.default.provenance.label(),
            accepted_min=item.safe_min if item.safe_min is not None else item.low,
            accepted_max=item.safe_max if item.safe_max is not None else item.high,
            value=row.effective.value,
            source=row.effective.provenance.label(),
            unverified=row.effective.provenance.needs_acknowledgement,
            clinic_value=row.overridden,
            approved_by=current.approved_by_username if current else None,
            approved_on=current.effective_from if current else None,
            reason=current.reason if current else None,
        )


class SettingsOut(BaseModel):
    kind: str
    settings: list[SettingOut]
    notes: list[str] = Field(
        default_factory=list,
        description="What the director should know about these values together (e.g. the two"
        " PCL-5 cut-points set apart)",
    )

    @classmethod
    def of(cls, view: SettingsView) -> SettingsOut:
        return cls(
            kind=view.kind.value,
            settings=[SettingOut.of(row) for row in view.rows],
            notes=list(view.notes),
        )


class ChangeOut(BaseModel):
    id: int
    key: str
    value: float | None
    unit: str
    approved_by: str
    approved_at: dt.datetime

    @classmethod
    def of(cls, stored: ThresholdSetting) -> ChangeOut:
        return cls(
            id=stored.id,
            key=stored.key,
            value=stored.value,
            unit=stored.unit,
            approved_by=stored.approved_by_username,
            approved_at=stored.approved_at,
        )


def _get(kind: str, actor: ApiActor, c: AppContainer) -> SettingsOut:
    with c.uow(readonly=True) as uow:
        return SettingsOut.of(clinic_settings.settings_view(uow, c.clock, actor, kind))


def _put(kind: str, body: SettingIn, actor: ApiActor, c: AppContainer) -> ChangeOut:
    with c.uow() as uow:
        stored = clinic_settings.set_value(
            uow, c.clock, actor, kind=kind, key=body.key, value=body.value, reason=body.reason
        )
    return ChangeOut.of(stored)


@router.get("/alert-rules", response_model=SettingsOut, responses=ERRORS)
def alert_rules(actor: ApiActor, c: AppContainer) -> SettingsOut:
    """The chair's clinical alert limits: default, source and clinic value."""
    return _get("alert", actor, c)


@router.put("/alert-rules", response_model=ChangeOut, responses=ERRORS)
def set_alert_rule(body: SettingIn, actor: ApiActor, c: AppContainer) -> ChangeOut:
    """Approve (or, with ``value`` null, reset) a clinic alert limit. Directors only."""
    return _put("alert", body, actor, c)


@router.get("/outcome-definitions", response_model=SettingsOut, responses=ERRORS)
def outcome_definitions(actor: ApiActor, c: AppContainer) -> SettingsOut:
    """Response, remission and reliable-change definitions: default, source, clinic value."""
    return _get("outcome", actor, c)


@router.put("/outcome-definitions", response_model=ChangeOut, responses=ERRORS)
def set_outcome_definition(body: SettingIn, actor: ApiActor, c: AppContainer) -> ChangeOut:
    """Approve (or, with ``value`` null, reset) a clinic outcome definition. Directors only."""
    return _put("outcome", body, actor, c)


@router.get("/eligibility-rules", response_model=SettingsOut, responses=ERRORS)
def eligibility_rules(actor: ApiActor, c: AppContainer) -> SettingsOut:
    """The eligibility engine's thresholds (baseline vital limits, symptom duration, PHQ-9
    item 9, PCL-5 cut-point, studied ages): default, source and clinic value. New intakes are
    evaluated against the values in use."""
    return _get("eligibility", actor, c)


@router.put("/eligibility-rules", response_model=ChangeOut, responses=ERRORS)
def set_eligibility_rule(body: SettingIn, actor: ApiActor, c: AppContainer) -> ChangeOut:
    """Approve (or, with ``value`` null, reset) a clinic eligibility threshold. Directors only.
    422 also when the value contradicts another threshold (a hold limit above the exclusion
    limit, a minimum age above the maximum)."""
    return _put("eligibility", body, actor, c)
