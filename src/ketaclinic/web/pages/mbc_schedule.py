"""Self-report schedule pages: each protocol's schedule (clinical staff read it, the director
changes it), and the front desk's notices about scheduled questionnaires that could not be
e-mailed (any staff of the site marks one done).

The sweep itself runs from the command line (``ketaclinic self-report send-due``); the patient
page shows each patient's schedule (``mbc.patient_panel``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from ketaclinic.bootstrap import Container
from ketaclinic.domain.errors import Conflict, InvalidInput
from ketaclinic.domain.people import Role
from ketaclinic.services import mbc_content, mbc_sweep
from ketaclinic.services.audit import Actor
from ketaclinic.services.mbc_model import ScheduleSettings
from ketaclinic.services.mbc_schedule import AFTER_WEEKS_RANGE, BEFORE_HOURS_RANGE
from ketaclinic.web.deps import AppContainer, Csrf, IdPath, PageActor, active_site
from ketaclinic.web.templating import flash, render

router = APIRouter()


async def _form(request: Request) -> FormData:
    return await request.form()


Form = Annotated[FormData, Depends(_form)]


def _schedules_page(
    request: Request,
    c: Container,
    actor: Actor,
    *,
    error: str | None = None,
    error_field: str | None = None,
    error_protocol: str | None = None,
    status: int = 200,
) -> Response:
    with c.uow(readonly=True) as uow:
        schedules = mbc_sweep.schedule_settings(uow, c.clock, actor)
    principal = actor.principal
    return render(
        request,
        "mbc/schedules.html",
        {
            "schedules": schedules,
            "instruments": mbc_content.patient_instruments(),
            "may_edit": principal is not None and principal.role is Role.DIRECTOR,
            "hours_range": BEFORE_HOURS_RANGE,
            "weeks_range": AFTER_WEEKS_RANGE,
            "error": error,
            "error_field": error_field,
            "error_protocol": error_protocol,
        },
        status=status,
    )


@router.get("/self-report/schedules", response_class=HTMLResponse)
def schedules_page(request: Request, actor: PageActor, c: AppContainer) -> Response:
    """Every protocol's self-report schedule; the director gets a form per protocol."""
    return _schedules_page(request, c, actor)


@router.post("/self-report/schedules", response_class=HTMLResponse, dependencies=[Csrf])
def save_schedule(request: Request, actor: PageActor, c: AppContainer, form: Form) -> Response:
    protocol_id = _text(form, "protocol_id", 40)
    try:
        settings = ScheduleSettings(
            protocol_id=protocol_id,
            before_infusion=_chosen(form, "before_infusion"),
            before_hours=_whole(form, "before_hours"),
            after_series=_chosen(form, "after_series"),
            after_weeks=_whole(form, "after_weeks"),
        )
        with c.uow() as uow:
            mbc_sweep.save_schedule_settings(uow, c.clock, actor, settings)
    except InvalidInput as error:
        return _schedules_page(
            request,
            c,
            actor,
            error=error.message,
            error_field=error.field,
            error_protocol=protocol_id,
            status=422,
        )
    flash(request, f"Self-report schedule of {protocol_id} saved.")
    return RedirectResponse("/self-report/schedules", status_code=303)


def _text(form: FormData, name: str, limit: int) -> str:
    value = form.get(name)
    return value[:limit].strip() if isinstance(value, str) else ""


def _chosen(form: FormData, name: str) -> tuple[str, ...]:
    return tuple(v[:32] for v in form.getlist(name) if isinstance(v, str))[:10]


def _whole(form: FormData, name: str) -> int:
    text = _text(form, name, 8)
    try:
        return int(text)
    except ValueError:
        raise InvalidInput.for_field(name, text, "a whole number") from None


@router.get("/self-report/notices", response_class=HTMLResponse)
def notices_page(request: Request, actor: PageActor, c: AppContainer) -> Response:
    """Open notices of the active site: patients whose scheduled questionnaire link could not
    be e-mailed."""
    site = active_site(request)
    with c.uow(readonly=True) as uow:
        notices = mbc_sweep.open_notices(uow, c.clock, actor, site.id) if site else []
    context: dict[str, Any] = {"notices": notices, "site": site}
    return render(request, "mbc/notices.html", context)


@router.post(
    "/self-report/notices/{notice_id}/done", response_class=HTMLResponse, dependencies=[Csrf]
)
def notice_done(request: Request, notice_id: IdPath, actor: PageActor, c: AppContainer) -> Response:
    try:
        with c.uow() as uow:
            mbc_sweep.close_notice(uow, c.clock, actor, notice_id)
    except Conflict:
        flash(request, "That notice was already marked done.")
        return RedirectResponse("/self-report/notices", status_code=303)
    flash(request, "Notice marked done.")
    return RedirectResponse("/self-report/notices", status_code=303)
