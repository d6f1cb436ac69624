"""The nurse's pages at the chair: a chair (check a patient in), the session page for the
tablet, the printable session record and discharge instructions, and the session's charts. The
form actions are ``chair_checks.py`` (before the start) and ``chair_actions.py`` (after it);
the live board is ``chair_board.py``; what they share is ``chair_view.py``.

Every form posts to its own route. Success redirects back to the session page (303); bad input
re-renders the page with the error beside the form (422) and stores nothing; a refusal by the
state machine, or a soft dose limit needing an override, re-renders it with the reason (409).
"""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ketaclinic.adapters.db.events_chair import chair_events
from ketaclinic.adapters.plots.chair_vitals import ThresholdLine, render_vitals_chart
from ketaclinic.adapters.plots.concentration import render_concentration_plot
from ketaclinic.bootstrap import Container
from ketaclinic.domain.alerts import AlertRules
from ketaclinic.domain.errors import (
    Conflict,
    InvalidInput,
    NotFound,
)
from ketaclinic.domain.people import Role
from ketaclinic.domain.vitals import VitalKind
from ketaclinic.services import (
    chair_sessions,
    chair_views,
    clinic_settings,
)
from ketaclinic.services import patients as patients_svc
from ketaclinic.services.audit import Actor
from ketaclinic.services.chair_access import VIEW_ROLES
from ketaclinic.web import i18n
from ketaclinic.web.deps import AppContainer, Csrf, IdPath, PageActor
from ketaclinic.web.pages import chair_actions, chair_board, chair_checks, chair_record
from ketaclinic.web.pages.chair_support import (
    F,
    FormError,
    checked,
)
from ketaclinic.web.pages.chair_view import (
    record_rows,
    render_session,
    session_context,
)
from ketaclinic.web.templating import flash, render, zone

router = APIRouter()
router.include_router(chair_board.router)
router.include_router(chair_checks.router)
router.include_router(chair_actions.router)


# --- chairs and check-in ----------------------------------------------------------------------


def _chair_page(
    request: Request,
    c: Container,
    actor: Actor,
    chair_code: str,
    *,
    error: FormError | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    with c.uow(readonly=True) as uow:
        chair = chair_sessions.visible_chair(uow, c.clock, actor, chair_code, VIEW_ROLES)
        open_row = uow.chair.open_session_for_chair(chair.id)
        if open_row is not None and error is None:
            return RedirectResponse(f"/sessions/{open_row.id}", status_code=303)
        site = uow.sites.get(chair.site_id)
    with c.uow(readonly=True) as uow:
        patients = patients_svc.list_patients(uow, c.clock, actor, site_id=chair.site_id, limit=500)
    principal = actor.principal
    context = {
        "chair": chair,
        "site": site,
        "title": f"Chair {chair.code}",
        "patients": patients,
        "protocols": chair_sessions.protocol_ids(),
        "error": error,
        "form": form or {},
        "acts": principal is not None and principal.role in (Role.NURSE, Role.PRESCRIBER),
        "prescriber": principal is not None and principal.role is Role.PRESCRIBER,
    }
    return render(request, "chair/chair.html", context, status=status)


@router.get("/chairs/{chair_code}", response_class=HTMLResponse)
def chair_page(request: Request, chair_code: str, actor: PageActor, c: AppContainer) -> Response:
    return _chair_page(request, c, actor, chair_code[:20])


@router.post("/chairs/{chair_code}/check-in", response_class=HTMLResponse, dependencies=[Csrf])
def check_in(
    request: Request,
    chair_code: str,
    actor: PageActor,
    c: AppContainer,
    mrn: F = "",
    protocol: F = "feder-2021",
    bolus_allowed: F = "",
) -> Response:
    values = {"mrn": mrn, "protocol": protocol, "bolus_allowed": bolus_allowed}
    try:
        with c.uow() as uow:
            chair = chair_sessions.visible_chair(uow, c.clock, actor, chair_code[:20])
            patient = uow.patients.by_mrn(mrn.strip())
            principal = actor.principal
            if patient is None or principal is None or patient.site_id != chair.site_id:
                raise InvalidInput.for_field(
                    "mrn", mrn, f"the MRN of a patient at {chair.code}'s site"
                )
            row = chair_sessions.check_in(
                uow,
                c.clock,
                actor,
                chair_code=chair.code,
                patient_id=patient.id,
                protocol_id=protocol.strip(),
                bolus_allowed=checked(bolus_allowed),
            )
    except InvalidInput as error:
        failure = FormError("check-in", error.message, error.field)
        return _chair_page(
            request, c, actor, chair_code[:20], error=failure, form=values, status=422
        )
    except Conflict as error:
        failure = FormError("check-in", error.message, error.field)
        return _chair_page(
            request, c, actor, chair_code[:20], error=failure, form=values, status=409
        )
    chair_events(c).publish([row.site_id])
    flash(request, f"Checked in at {chair_code[:20]}.")
    return RedirectResponse(f"/sessions/{row.id}", status_code=303)


# --- the session page ---------------------------------------------------------------------------


@router.get("/sessions/{session_id}", response_class=HTMLResponse)
def session_page(
    request: Request, session_id: IdPath, actor: PageActor, c: AppContainer
) -> Response:
    return render_session(request, c, actor, session_id)


# --- printable pages and charts -----------------------------------------------------------------


@router.get("/sessions/{session_id}/record", response_class=HTMLResponse)
def session_record(
    request: Request, session_id: IdPath, actor: PageActor, c: AppContainer
) -> Response:
    """The whole session on one printable page."""
    with c.uow(readonly=True) as uow:
        d = chair_views.session_detail(uow, c.clock, actor, session_id, "record")
    context = session_context(d, actor, None, {})
    context["title"] = f"Session record · {d.chair.code} · {d.patient.mrn}"
    alert_times = frozenset(
        t for a in d.alerts for t in (a.alert.first.observed_at, a.alert.latest.observed_at)
    )
    context["rows"], context["left_out"] = record_rows(d.readings, alert_times)
    context["kinds"] = VitalKind
    context["alert_labels"] = {s.id: s.alert.first.label for s in d.alerts}
    return render(request, "chair/record.html", context)


@router.get("/sessions/{session_id}/record.pdf")
def session_record_pdf(session_id: IdPath, actor: PageActor, c: AppContainer) -> Response:
    """The printable record as a PDF file (web/pages/chair_record.py); audited as a read."""
    with c.uow(readonly=True) as uow:
        d = chair_views.session_detail(uow, c.clock, actor, session_id, "record.pdf")
        rules = clinic_settings.clinic_alert_rules(uow)
    pdf = chair_record.render_record_pdf(d, _thresholds(rules))
    return Response(
        content=pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{chair_record.filename(d)}"'},
    )


@router.get("/sessions/{session_id}/instructions", response_class=HTMLResponse)
def instructions(
    request: Request, session_id: IdPath, actor: PageActor, c: AppContainer
) -> Response:
    """Printable discharge instructions, a document for the patient: in the patient's
    preferred language, or the one chosen with ``?lang=`` (web/i18n.py); dates in the site's
    time zone, written as that language writes them."""
    with c.uow(readonly=True) as uow:
        d = chair_views.session_detail(uow, c.clock, actor, session_id, "instructions")
    context = session_context(d, actor, None, {})
    context.update(i18n.page_context(request, i18n.for_patient(request, d.patient)))
    context["title"] = "After your infusion"
    return render(request, "chair/instructions.html", context)


def _thresholds(rules: AlertRules) -> list[ThresholdLine]:
    """The in-infusion alarm limits the chair alerts on — the clinic's values where the
    director set them (services/clinic_settings.py), else the defaults — with their source."""
    lines: list[ThresholdLine] = []
    for key in ("bp_during_infusion", "hr_during_infusion", "spo2_low"):
        for limit in rules.rule(key).limits:
            t = limit.threshold
            label = f"{limit.vital.value.replace('_', ' ')} {limit.comparison.value} {t.value:g}"
            label += f" [{t.provenance.tag.value}]"
            lines.append(ThresholdLine(label, t.value, spo2=limit.vital is VitalKind.SPO2))
    return lines


@router.get("/sessions/{session_id}/vitals.svg")
def vitals_chart(session_id: IdPath, actor: PageActor, c: AppContainer) -> Response:
    with c.uow(readonly=True) as uow:
        row, readings = chair_views.session_vitals(uow, c.clock, actor, session_id)
        site = uow.sites.get(row.site_id)
        rules = clinic_settings.clinic_alert_rules(uow)
    svg = render_vitals_chart(
        readings,
        tz=zone(site.timezone) if site else dt.UTC,
        infusion_start=row.infusion_started_at,
        infusion_end=row.infusion_ended_at,
        now=c.clock.now(),
        thresholds=_thresholds(rules),
    )
    return Response(content=svg, media_type="image/svg+xml")


@router.get("/sessions/{session_id}/concentration.svg")
def concentration_chart(session_id: IdPath, actor: PageActor, c: AppContainer) -> Response:
    with c.uow(readonly=True) as uow:
        _row, prediction = chair_views.session_prediction(uow, c.clock, actor, session_id)
    if prediction is None:
        raise NotFound("no prediction: nothing has been charted yet, or no weight is known")
    svg = render_concentration_plot(
        curves=[prediction.result],
        title="Predicted plasma concentration of the record as charted",
    )
    return Response(content=svg, media_type="image/svg+xml")
