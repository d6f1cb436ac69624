"""Request dependencies shared by every route: the container, the acting staff member (bearer
token for the API, session cookie for pages), the active site and CSRF protection.

Role and site checks themselves live in the services (``services/audit.require_role`` and
``services/patients.load_visible``) so that a refusal is audited wherever it happens.
"""

from __future__ import annotations

import secrets
from typing import Annotated, cast

from fastapi import Depends, Path, Request
from fastapi.security import OAuth2PasswordBearer

from ketaclinic.bootstrap import Container
from ketaclinic.domain.errors import NotAuthenticated, PermissionDenied
from ketaclinic.domain.people import Principal, Site
from ketaclinic.services.audit import Actor
from ketaclinic.services.auth import principal_of

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


class LoginRequired(Exception):
    """A page needs a signed-in user; the handler redirects to the login page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def container(request: Request) -> Container:
    return cast(Container, request.app.state.container)


async def _container_dependency(request: Request) -> Container:
    # The dependency form of :func:`container`, async on purpose: FastAPI runs a plain ``def``
    # dependency on a worker thread, and that hop costs far more than this attribute read.
    return container(request)


def client_address(request: Request) -> str:
    return request.client.host if request.client else ""


def api_actor(
    request: Request,
    token: Annotated[str | None, Depends(oauth2)],
    c: Annotated[Container, Depends(_container_dependency)],
) -> Actor:
    if not token:
        raise NotAuthenticated("sign in first: send 'Authorization: Bearer <token>'")
    with c.uow(readonly=True) as uow:
        principal = c.tokens.principal(uow, c.clock, token)
    request.state.principal = principal
    return Actor(principal, client_address(request))


def _session_principal(request: Request, c: Container) -> Principal | None:
    user_id = request.session.get("uid")
    if not isinstance(user_id, int):
        return None
    with c.uow(readonly=True) as uow:
        user = uow.users.get(user_id)
        if user is None or not user.active:
            request.session.clear()
            return None
        sites = [s for s in uow.sites.all() if s.id in user.site_ids]
        request.state.org_name = uow.sites.organisation_name() or "ketaclinic"
    principal = principal_of(user)
    request.state.principal = principal
    request.state.sites = sites
    request.state.active_site = _active_site(request, sites)
    return principal


def _active_site(request: Request, sites: list[Site]) -> Site | None:
    chosen = request.session.get("site")
    for site in sites:
        if site.id == chosen:
            return site
    return sites[0] if sites else None


def page_actor(request: Request, c: Annotated[Container, Depends(_container_dependency)]) -> Actor:
    principal = _session_principal(request, c)
    if principal is None:
        raise LoginRequired(request.url.path)
    return Actor(principal, client_address(request))


def optional_page_actor(
    request: Request, c: Annotated[Container, Depends(_container_dependency)]
) -> Actor:
    """For public pages that still show the staff menu when someone is signed in."""
    return Actor(_session_principal(request, c), client_address(request))


def active_site(request: Request) -> Site | None:
    site: Site | None = getattr(request.state, "active_site", None)
    return site


async def check_csrf(request: Request) -> None:
    """Every state-changing form carries the session's CSRF token (double-submit in a signed,
    HttpOnly, SameSite cookie session)."""
    expected = request.session.get("csrf")
    sent = request.headers.get("x-csrf-token")
    if sent is None:
        form = await request.form()
        value = form.get("csrf_token")
        sent = value if isinstance(value, str) else None
    if not isinstance(expected, str) or not sent or not secrets.compare_digest(expected, sent):
        raise PermissionDenied(
            "csrf_token: missing or out of date; reload the page and submit the form again",
            field="csrf_token",
        )


# Every internal id in a path: bounded to the storage integer range so an absurd id is a 422,
# never a database overflow.
MAX_ID = 2_147_483_647
IdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="internal id")]

ApiActor = Annotated[Actor, Depends(api_actor)]
PageActor = Annotated[Actor, Depends(page_actor)]
PublicActor = Annotated[Actor, Depends(optional_page_actor)]
AppContainer = Annotated[Container, Depends(_container_dependency)]
Csrf = Depends(check_csrf)
