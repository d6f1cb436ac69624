"""``POST /api/v1/auth/token`` (OAuth2 password form) and token revocation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request

from ketaclinic.web.api.schemas import ErrorResponse, Me, Token
from ketaclinic.web.deps import ApiActor, AppContainer, client_address, oauth2
from ketaclinic.web.throttle import login_throttle

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post(
    "/token",
    response_model=Token,
    responses={
        401: {"model": ErrorResponse},
        422: {"model": ErrorResponse},
        429: {"model": ErrorResponse},
    },
)
def issue_token(
    request: Request,
    c: AppContainer,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
) -> Token:
    """Exchange a staff username and password for a bearer token."""
    from ketaclinic.services.auth import authenticate

    client = client_address(request)
    login_throttle.check(client)
    with c.uow() as uow:
        user = authenticate(uow, c.clock, c.passwords, c.login_policy, username, password, client)
        token = c.tokens.issue(uow, c.clock, user)
        uow.commit()
    return Token(access_token=token, expires_in=int(c.tokens.max_age.total_seconds()))


@router.post("/revoke", status_code=204, responses={401: {"model": ErrorResponse}})
def revoke_token(
    actor: ApiActor, c: AppContainer, token: Annotated[str | None, Depends(oauth2)]
) -> None:
    """Revoke the bearer token used for this request."""
    del actor
    assert token is not None
    with c.uow() as uow:
        c.tokens.revoke(uow, c.clock, token)
        uow.commit()


@router.get("/me", response_model=Me, responses={401: {"model": ErrorResponse}})
def me(actor: ApiActor, c: AppContainer) -> Me:
    """Who the token belongs to, with their role and sites."""
    principal = actor.principal
    assert principal is not None
    with c.uow(readonly=True) as uow:
        codes = [s.code for s in uow.sites.all() if s.id in principal.site_ids]
    return Me(
        user_id=principal.user_id,
        username=principal.username,
        role=principal.role.value,
        sites=codes,
    )
