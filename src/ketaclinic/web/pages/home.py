"""The signed-in start page: what each role needs first today."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from ketaclinic.web.deps import AppContainer, PageActor, active_site
from ketaclinic.web.pages import mbc as mbc_pages
from ketaclinic.web.templating import render

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
def home(request: Request, actor: PageActor, c: AppContainer) -> Response:
    site = active_site(request)
    with c.uow(readonly=True) as uow:
        chairs = uow.sites.chairs(site.id) if site else []
        patient_count = uow.patients.count(frozenset({site.id})) if site else 0
    return render(
        request,
        "home.html",
        {
            "chairs": chairs,
            "patient_count": patient_count,
            "site": site,
            "mbc_tasks": mbc_pages.home_tasks(c, actor, site),
        },
    )


@router.get("/healthz", include_in_schema=False)
def healthz(c: AppContainer) -> dict[str, str]:
    """Liveness and database reachability; carries no data."""
    with c.uow(readonly=True) as uow:
        uow.sites.organisation_name()
    return {"status": "ok"}
