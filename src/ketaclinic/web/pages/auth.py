"""Sign-in and sign-out pages, and the site switcher."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ketaclinic.domain.audit import AuditAction
from ketaclinic.domain.errors import NotAuthenticated
from ketaclinic.services.audit import record
from ketaclinic.services.auth import authenticate
from ketaclinic.web.deps import AppContainer, Csrf, PageActor, client_address
from ketaclinic.web.templating import csrf_token, render
from ketaclinic.web.throttle import TooManyRequests, login_throttle

router = APIRouter()


def _safe_next(target: str) -> str:
    """Only same-site relative paths, so the login form cannot redirect elsewhere."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/") -> Response:
    return render(request, "login.html", {"next": _safe_next(next), "error": None})


@router.post("/login", response_class=HTMLResponse, dependencies=[Csrf])
def login(
    request: Request,
    c: AppContainer,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    client = client_address(request)
    try:
        login_throttle.check(client)
        with c.uow() as uow:
            user = authenticate(
                uow, c.clock, c.passwords, c.login_policy, username, password, client
            )
    except (NotAuthenticated, TooManyRequests) as error:
        status = 429 if isinstance(error, TooManyRequests) else 401
        context = {"next": _safe_next(next), "error": error.message, "username": username[:64]}
        return render(request, "login.html", context, status=status)
    # A fresh session on sign-in: nothing from before survives (session fixation).
    request.session.clear()
    request.session["uid"] = user.id
    csrf_token(request)
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout", dependencies=[Csrf])
def logout(request: Request, actor: PageActor, c: AppContainer) -> Response:
    with c.uow() as uow:
        record(uow, c.clock, actor, AuditAction.LOGOUT, "session", resource_id=actor.user_id or "")
        uow.commit()
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.post("/site", dependencies=[Csrf])
def switch_site(
    request: Request,
    actor: PageActor,
    site_id: Annotated[int, Form()],
    back: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    """Choose which of one's own sites the pages show."""
    assert actor.principal is not None
    if actor.principal.can_see_site(site_id):
        request.session["site"] = site_id
    return RedirectResponse(_safe_next(back), status_code=303)
