"""The director's clinical settings pages (``/admin/alert-rules``, ``/admin/outcome-definitions``,
``/admin/eligibility-rules``):
every adjustable number with its default, unit, source, and the clinic value with who approved
it and when; a form sets or resets a value with a reason (services/clinic_settings.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ketaclinic.domain.errors import InvalidInput
from ketaclinic.services import clinic_settings
from ketaclinic.services.audit import Actor
from ketaclinic.services.dosing_calc import FieldError
from ketaclinic.web.deps import AppContainer, Csrf, PageActor
from ketaclinic.web.templating import flash, render

router = APIRouter()

PATHS = {
    "alert": "/admin/alert-rules",
    "outcome": "/admin/outcome-definitions",
    "eligibility": "/admin/eligibility-rules",
}
TITLES = {
    "alert": "Alert rules",
    "outcome": "Outcome definitions",
    "eligibility": "Eligibility rules",
}
Field80 = Annotated[str, Form(max_length=80)]
Field20 = Annotated[str, Form(max_length=20)]
Reason = Annotated[str, Form(max_length=1000)]


@router.get("/admin/alert-rules", response_class=HTMLResponse)
def alert_rules(request: Request, actor: PageActor, c: AppContainer) -> Response:
    return _render(request, actor, c, "alert")


@router.post("/admin/alert-rules", response_class=HTMLResponse, dependencies=[Csrf])
def set_alert_rule(
    request: Request,
    actor: PageActor,
    c: AppContainer,
    key: Field80 = "",
    value: Field20 = "",
    reason: Reason = "",
    reset: Field20 = "",
) -> Response:
    return _set(request, actor, c, "alert", key, value, reason, bool(reset))


@router.get("/admin/outcome-definitions", response_class=HTMLResponse)
def outcome_definitions(request: Request, actor: PageActor, c: AppContainer) -> Response:
    return _render(request, actor, c, "outcome")


@router.post("/admin/outcome-definitions", response_class=HTMLResponse, dependencies=[Csrf])
def set_outcome_definition(
    request: Request,
    actor: PageActor,
    c: AppContainer,
    key: Field80 = "",
    value: Field20 = "",
    reason: Reason = "",
    reset: Field20 = "",
) -> Response:
    return _set(request, actor, c, "outcome", key, value, reason, bool(reset))


@router.get("/admin/eligibility-rules", response_class=HTMLResponse)
def eligibility_rules(request: Request, actor: PageActor, c: AppContainer) -> Response:
    return _render(request, actor, c, "eligibility")


@router.post("/admin/eligibility-rules", response_class=HTMLResponse, dependencies=[Csrf])
def set_eligibility_rule(
    request: Request,
    actor: PageActor,
    c: AppContainer,
    key: Field80 = "",
    value: Field20 = "",
    reason: Reason = "",
    reset: Field20 = "",
) -> Response:
    return _set(request, actor, c, "eligibility", key, value, reason, bool(reset))


def _set(
    request: Request,
    actor: Actor,
    c: AppContainer,
    kind: str,
    key: str,
    value: str,
    reason: str,
    reset: bool,
) -> Response:
    form = {"key": key, "value": value, "reason": reason}
    try:
        number = None if reset else _number(key, value)
        with c.uow() as uow:
            stored = clinic_settings.set_value(
                uow, c.clock, actor, kind=kind, key=key, value=number, reason=reason
            )
    except InvalidInput as error:
        return _render(request, actor, c, kind, form=form, error=FieldError.of(error), status=422)
    if stored.value is None:
        flash(request, f"{stored.key} is back to its default.")
    else:
        flash(request, f"{stored.key} set to {stored.value:g} {stored.unit} (clinic value).")
    return RedirectResponse(PATHS[kind], status_code=303)


def _number(key: str, text: str) -> float:
    try:
        return float(text.strip())
    except ValueError:
        raise InvalidInput.for_field(key or "value", text, "a number") from None


def _render(
    request: Request,
    actor: Actor,
    c: AppContainer,
    kind: str,
    *,
    form: dict[str, str] | None = None,
    error: FieldError | None = None,
    status: int = 200,
) -> Response:
    with c.uow() as uow:
        view = clinic_settings.settings_view(uow, c.clock, actor, kind)
    return render(
        request,
        "settings/clinic_settings.html",
        {
            "view": view,
            "title": TITLES[kind],
            "action": PATHS[kind],
            "form": form or {},
            "error": error,
        },
        status=status,
    )
