"""The director's chairs of the active site: put a new chair into service, retire one; and
the site's phone number that patients call (their discharge instructions and e-mails give it).

A retired chair keeps its history (past visits and sessions still name it); retiring is refused
while the chair has a session open or visits booked ahead. Errors re-render the page with the
message (422 for bad input, 409 for a conflict) and change nothing.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ketaclinic.domain.errors import Conflict, InvalidInput, NotFound
from ketaclinic.domain.people import Chair, Role
from ketaclinic.services import staff
from ketaclinic.services.audit import deny, require_role
from ketaclinic.services.ports import UnitOfWork
from ketaclinic.web.deps import AppContainer, Csrf, IdPath, PageActor, active_site
from ketaclinic.web.templating import flash, render

router = APIRouter()


def _page(request: Request, c: AppContainer, actor: PageActor, **extra: Any) -> Response:
    site = active_site(request)  # read for this request (web/deps.py): its phone is current
    with c.uow(readonly=True) as uow:
        require_role(uow, c.clock, actor, "chair", {Role.DIRECTOR})
        chairs = uow.sites.chairs(site.id, retired=True) if site else []
    context: dict[str, Any] = {
        "site": site,
        "chairs": chairs,
        "error": None,
        "form": {"code": f"{site.code}-{len(chairs) + 1}" if site else "", "name": ""},
        "phone": site.phone if site else "",
    }
    status = int(extra.pop("status", 200))
    context.update(extra)
    return render(request, "intake/admin_chairs.html", context, status=status)


@router.get("/admin/chairs", response_class=HTMLResponse)
def chairs_page(request: Request, actor: PageActor, c: AppContainer) -> Response:
    return _page(request, c, actor)


@router.post("/admin/chairs", dependencies=[Csrf])
def add_chair(
    request: Request,
    actor: PageActor,
    c: AppContainer,
    code: Annotated[str, Form(max_length=40)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    site = active_site(request)
    with c.uow() as uow:
        try:
            if site is None:
                raise InvalidInput.for_field("site", None, "a site you are assigned to")
            chair = staff.add_site_chair(uow, c.clock, actor, site.id, code, name)
            uow.commit()
        except (InvalidInput, Conflict) as error:
            uow.rollback()
            status = 409 if isinstance(error, Conflict) else 422
            form = {"code": code, "name": name}
            return _page(request, c, actor, error=error.message, form=form, status=status)
    flash(request, f"Chair {chair.code} is in service.")
    return RedirectResponse("/admin/chairs", status_code=303)


@router.post("/admin/site-phone", dependencies=[Csrf])
def set_site_phone(
    request: Request,
    actor: PageActor,
    c: AppContainer,
    phone: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    site = active_site(request)
    with c.uow() as uow:
        try:
            if site is None:
                raise InvalidInput.for_field("site", None, "a site you are assigned to")
            changed = staff.set_site_phone(uow, c.clock, actor, site.id, phone)
            uow.commit()
        except InvalidInput as error:
            uow.rollback()
            return _page(request, c, actor, phone_error=error.message, phone=phone, status=422)
    shown = f"is {changed.phone}" if changed.phone else "is cleared"
    flash(request, f"The phone number of {changed.name} {shown}.")
    return RedirectResponse("/admin/chairs", status_code=303)


def _chair_of_mine(uow: UnitOfWork, c: AppContainer, actor: PageActor, chair_id: int) -> Chair:
    """The chair, if it is at one of the director's sites (else a recorded 404)."""
    principal = require_role(uow, c.clock, actor, "chair", {Role.DIRECTOR})
    for site_id in sorted(principal.site_ids):
        for chair in uow.sites.chairs(site_id, retired=True):
            if chair.id == chair_id:
                return chair
    raise deny(uow, c.clock, actor, "chair", NotFound(f"chair {chair_id} not found"))


@router.post("/admin/chairs/{chair_id}/retire", dependencies=[Csrf])
def retire_chair(request: Request, chair_id: IdPath, actor: PageActor, c: AppContainer) -> Response:
    with c.uow() as uow:
        chair = _chair_of_mine(uow, c, actor, chair_id)
        try:
            retired = staff.retire_chair(uow, c.clock, actor, chair)
            uow.commit()
        except Conflict as error:
            uow.rollback()
            return _page(request, c, actor, error=error.message, status=409)
    flash(request, f"Chair {retired.code} is retired; its past visits and sessions keep it.")
    return RedirectResponse("/admin/chairs", status_code=303)
