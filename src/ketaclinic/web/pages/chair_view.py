"""What the chair's pages share: the session page's context and renderer, the one way every
form action runs (redirect on success; the page again with the error beside the form, 422 or
409, otherwise), announcing changes to the chair boards, and the printed record's rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from ketaclinic.adapters.db.events_chair import chair_events
from ketaclinic.bootstrap import Container
from ketaclinic.domain.administration import Correction
from ketaclinic.domain.alerts import DEFAULT_RULES
from ketaclinic.domain.discharge import (
    DEFAULT_POLICY,
    aldrete_circulation,
)
from ketaclinic.domain.errors import (
    Conflict,
    InvalidInput,
    OverrideRequired,
)
from ketaclinic.domain.people import Role
from ketaclinic.domain.session_lifecycle import (
    CheckItem,
    Phase,
    SessionState,
)
from ketaclinic.domain.side_effects import (
    Intervention,
    SeriousCriterion,
    Severity,
    SideEffectKind,
)
from ketaclinic.domain.vitals import VitalKind, VitalSource
from ketaclinic.services import (
    chair_views,
)
from ketaclinic.services.audit import Actor
from ketaclinic.services.chair_mar import CORRECTABLE_FIELDS, OverrideRequest
from ketaclinic.services.chair_ports import CADSS6_ITEMS, StoredReading, Timepoint
from ketaclinic.services.ports import UnitOfWork
from ketaclinic.web.pages.chair_board import STATE_LABELS, STATE_TONES, alert_views
from ketaclinic.web.pages.chair_support import (
    Fmt,
    FormError,
    notice_text,
)
from ketaclinic.web.pages.mbc_staff_forms import embedded_form
from ketaclinic.web.templating import flash, render, zone


def publish(c: Container, session_id: int) -> None:
    with c.uow() as uow:
        row = uow.chair.get_session(session_id)
    if row is not None:
        chair_events(c).publish([row.site_id])


def tz_of(uow: UnitOfWork, session_id: int) -> dt.tzinfo:
    row = uow.chair.get_session(session_id)
    site = uow.sites.get(row.site_id) if row else None
    return zone(site.timezone) if site else dt.UTC


def override_request(reason: str, username: str, password: str) -> OverrideRequest | None:
    if not (reason.strip() or username.strip() or password):
        return None
    return OverrideRequest(reason, username, password)


def session_context(
    d: chair_views.SessionDetail,
    actor: Actor,
    error: FormError | None,
    form: dict[str, str],
    escalate_after_min: float = DEFAULT_RULES.escalate_after_min.value,
) -> dict[str, Any]:
    principal = actor.principal
    role = principal.role if principal else None
    fmt = Fmt(zone(d.site.timezone), d.now)
    usable_sys = [
        r.reading.value for r in d.readings if r.usable and r.reading.kind is VitalKind.BP_SYSTOLIC
    ]
    suggested = None
    baseline = d.row.baseline
    if baseline and baseline.systolic_mmhg and usable_sys:
        suggested = aldrete_circulation(
            baseline.systolic_mmhg, usable_sys[-1], DEFAULT_POLICY.circulation_mode
        )
    timepoints = [
        t
        for t, states in (
            (Timepoint.PRE_DOSE, {SessionState.CHECKED_IN, SessionState.PRE_INFUSION_CHECKS}),
            (
                Timepoint.END_OF_INFUSION,
                {SessionState.STOPPED, SessionState.COMPLETED, SessionState.OBSERVATION},
            ),
            (Timepoint.PRE_DISCHARGE, {SessionState.OBSERVATION}),
        )
        if d.row.state in states
    ]
    return {
        "d": d,
        "fmt": fmt,
        "title": f"{d.chair.code} · {d.patient.display_name}",
        "error": error,
        "form": form,
        "labels": STATE_LABELS,
        "tones": STATE_TONES,
        "acts": role in (Role.NURSE, Role.PRESCRIBER),
        "prescriber": role is Role.PRESCRIBER,
        "alerts": alert_views(d.open_alerts, d.now, escalate_after_min),
        # alert id → its latest escalation notice (the escalations come oldest first)
        "notices": {n.alert_id: n for n in d.escalations},
        "notice_text": notice_text,
        "recent": list(reversed(d.readings[-12:])),
        "suggested_circulation": suggested,
        "timepoints": timepoints,
        "cadss_items": CADSS6_ITEMS,
        "kinds": SideEffectKind,
        "severities": Severity,
        "interventions": Intervention,
        "serious": SeriousCriterion,
        "correctable": [(e, CORRECTABLE_FIELDS[e.event.kind.value]) for e in d.effective],
        "Phase": Phase,
        "State": SessionState,
        "CheckItem": CheckItem,
        "Correction": Correction,
        "policy": DEFAULT_POLICY,
        "vitals_version": len(d.readings),
        "mar_version": len(d.mar_entries),
    }


def render_session(
    request: Request,
    c: Container,
    actor: Actor,
    session_id: int,
    *,
    error: FormError | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    with c.uow(readonly=True) as uow:
        d = chair_views.session_detail(uow, c.clock, actor, session_id)
        # The CADSS-6 form: the clinic's licensed wording if loaded, live totals (mbc.js).
        cadss = embedded_form(
            uow,
            "cadss6",
            [f"item_{n}" for n in CADSS6_ITEMS],
            form or {},
            problem_field=error.field if error and error.form == "dissociation" else None,
            problem=error.message if error else None,
        )
    after = c.settings.alert_escalate_after_min
    context = session_context(d, actor, error, form or {}, after)
    context["cadss"] = cadss
    return render(request, "chair/session.html", context, status=status)


def run_action(
    request: Request,
    c: Container,
    actor: Actor,
    session_id: int,
    form_name: str,
    values: dict[str, str],
    action: Callable[[UnitOfWork], object],
    success: str,
) -> Response:
    """Run one form's action; redirect on success, re-render with the error otherwise."""
    try:
        with c.uow() as uow:
            action(uow)
    except InvalidInput as error:
        failure = FormError(form_name, error.message, error.field)
        return render_session(request, c, actor, session_id, error=failure, form=values, status=422)
    except (Conflict, OverrideRequired) as error:
        failure = FormError(
            form_name, error.message, error.field, override=isinstance(error, OverrideRequired)
        )
        return render_session(request, c, actor, session_id, error=failure, form=values, status=409)
    publish(c, session_id)
    flash(request, success)
    return RedirectResponse(f"/sessions/{session_id}#{form_name}", status_code=303)


MONITOR_ROW_EVERY = dt.timedelta(minutes=5)  # the printed record thins monitor-only rows


@dataclass(frozen=True, slots=True)
class RecordRow:
    """One measurement time of the printed record: the values per vital, where they came from
    and whether any was set aside as implausible."""

    at: dt.datetime
    values: dict[VitalKind, float]
    sources: frozenset[str]
    set_aside: bool


def record_rows(
    readings: Sequence[StoredReading], alert_times: frozenset[dt.datetime] = frozenset()
) -> tuple[list[RecordRow], int]:
    """Readings grouped by time. Every manual or API measurement, every blood pressure, every
    set-aside reading and every reading an alert was raised or updated on (``alert_times``) is
    kept; other monitor-only rows at most one per 5 minutes (the full feed stays stored and is
    in the API). Returns the rows and how many rows were left out."""
    grouped: dict[dt.datetime, list[StoredReading]] = {}
    for stored in readings:
        grouped.setdefault(stored.reading.observed_at, []).append(stored)
    rows: list[RecordRow] = []
    left_out = 0
    last_monitor: dt.datetime | None = None
    for at in sorted(grouped):
        group = grouped[at]
        sources = frozenset(s.reading.source.value for s in group)
        kinds = {s.reading.kind for s in group}
        set_aside = any(not s.usable for s in group)
        monitor_only = sources == {VitalSource.MONITOR.value}
        keep = (
            not monitor_only
            or set_aside
            or at in alert_times
            or VitalKind.BP_SYSTOLIC in kinds
            or last_monitor is None
            or at - last_monitor >= MONITOR_ROW_EVERY
        )
        if not keep:
            left_out += 1
            continue
        if monitor_only:
            last_monitor = at
        values = {s.reading.kind: s.reading.value for s in group}
        rows.append(RecordRow(at, values, sources, set_aside))
    return rows, left_out
