"""The director's audit pages: recent activity with chain verification, and a patient's
access log."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from ketaclinic.domain.audit import AuditAction
from ketaclinic.domain.people import Role
from ketaclinic.services import audit as audit_svc
from ketaclinic.services import patients as svc
from ketaclinic.web.deps import AppContainer, IdPath, PageActor
from ketaclinic.web.templating import render

router = APIRouter()


@router.get("/admin/audit", response_class=HTMLResponse)
def audit_overview(request: Request, actor: PageActor, c: AppContainer) -> Response:
    with c.uow(readonly=True) as uow:
        principal = audit_svc.require_role(uow, c.clock, actor, "audit", {Role.DIRECTOR})
        report = audit_svc.verify(uow)
        entries = uow.audit.recent(200, principal.site_ids)
        audit_svc.record(uow, c.clock, actor, AuditAction.READ, "audit", detail="overview")
        uow.commit()
    return render(request, "audit.html", {"report": report, "entries": entries})


@router.get("/patients/{patient_id}/access-log", response_class=HTMLResponse)
def access_log(request: Request, patient_id: IdPath, actor: PageActor, c: AppContainer) -> Response:
    with c.uow(readonly=True) as uow:
        patient, entries = svc.access_log(uow, c.clock, actor, patient_id)
    return render(request, "access_log.html", {"patient": patient, "entries": entries})
