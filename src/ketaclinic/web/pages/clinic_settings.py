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


def _add_routes(kind: str) -> None:
    """The page of one kind of setting and its form's POST (same handlers, kind fixed)."""

    def show(request: Request, actor: PageActor, c: AppContainer) -> Response:
        return _render(request, actor, c, kind)

    def change(
        request: Request,
        actor: PageActor,
        c: AppContainer,
        key: Field80 = "",
        value: Field20 = "",
        reason: Reason = "",
        reset: Field20 = "",
    ) -> Response:
        return _set(request, actor, c, kind, key, value, reason, bool(reset))

    path = PATHS[kind]
    router.add_api_route(
        path, show, methods=["GET"], response_class=HTMLResponse, name=f"{kind}_settings"
    )
    router.add_api_route(
        path,
        change,
        methods=["POST"],
        response_class=HTMLResponse,
        dependencies=[Csrf],
        name=f"set_{kind}_setting",
    )


for _kind in PATHS:
    _add_routes(_kind)


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
    with c.uow(readonly=True) as uow:
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
