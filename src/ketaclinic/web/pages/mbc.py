"""Staff pages of measurement-based care: score entry with live totals, the C-SSRS entry, a
patient's outcomes and score plot, and sending a one-time questionnaire link. Safety tasks
(``mbc_tasks.py``), the director's outcome report (``mbc_report.py``), self-report schedules and
the front desk's notices (``mbc_schedule.py``) and the public self-report pages
(``mbc_public.py``) ride on this router.

Two hooks feed shared pages: :func:`home_tasks` (the start page's safety-task section, and the
front desk's self-report notices) and :func:`patient_panel` (the patient page's score section).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from ketaclinic.adapters.notify.smtp import notifier_in
from ketaclinic.adapters.plots.scores import ReferenceLine, ScorePoint, render_score_plot
from ketaclinic.bootstrap import Container
from ketaclinic.domain.errors import Conflict, InvalidInput
from ketaclinic.domain.outcomes import PCL5_DEFAULTS, OutcomeDefinitions
from ketaclinic.domain.people import CLINICAL_ROLES, Patient, Site
from ketaclinic.services import mbc, mbc_content, mbc_safety, mbc_self_report, mbc_sweep
from ketaclinic.services.audit import Actor
from ketaclinic.services.mbc_model import QuestionnaireResponse, ResponseSource
from ketaclinic.web.deps import AppContainer, Csrf, IdPath, PageActor
from ketaclinic.web.pages import mbc_public, mbc_report, mbc_schedule, mbc_tasks
from ketaclinic.web.templating import flash, render

router = APIRouter()
router.include_router(mbc_public.router)
router.include_router(mbc_tasks.router)
router.include_router(mbc_report.router)
router.include_router(mbc_schedule.router)

PLOTTED = ("pcl5", "pcl5-week", "phq9", "gad7")
ENTRY_INSTRUMENTS = ("pcl5", "pcl5-week", "phq9", "gad7", "who5", "cadss6", "bprs4")
RECENT_ROWS = 12


async def form_data(request: Request) -> FormData:
    """The submitted form, read once (the CSRF check reads the same cached form)."""
    return await request.form()


Form = Annotated[FormData, Depends(form_data)]


def _text(form: FormData, name: str, limit: int = 200) -> str:
    value = form.get(name)
    return value[:limit].strip() if isinstance(value, str) else ""


# --- hooks for shared pages ---------------------------------------------------------------


def home_tasks(c: Container, actor: Actor, site: Site | None) -> dict[str, Any] | None:
    """What ``mbc/_tasks.html`` shows on the start page: the open safety tasks of the active
    site (``tasks``; ``None`` for front desk, who see no clinical detail), the time (``now``),
    and for the front desk the open self-report notices (``notices``)."""
    principal = actor.principal
    if principal is None or site is None:
        return None
    clinical = principal.role in CLINICAL_ROLES
    with c.uow(readonly=True) as uow:
        tasks = mbc_safety.open_tasks(uow, c.clock, actor, site.id) if clinical else None
        notices = [] if clinical else mbc_sweep.open_notices(uow, c.clock, actor, site.id)
    may_close = principal.role in mbc_safety.CLOSING_ROLES
    return {"tasks": tasks, "now": c.clock.now(), "may_close": may_close, "notices": notices}


def patient_panel(c: Container, actor: Actor, patient: Patient) -> dict[str, Any] | None:
    """What ``mbc/_patient_scores.html`` shows on the patient page; ``None`` for front desk."""
    principal = actor.principal
    if principal is None or principal.role not in CLINICAL_ROLES:
        return None
    with c.uow(readonly=True) as uow:
        scores = mbc.patient_scores(uow, c.clock, actor, patient.id)
        outcome = mbc.patient_outcomes(uow, c.clock, actor, patient.id)
        schedule = mbc_sweep.patient_schedule(uow, c.clock, actor, patient.id)
    latest = {
        instrument: next(iter(reversed(scores.of(instrument))), None)
        for instrument in ("pcl5", "phq9", "gad7")
    }
    pcl5_week = next(iter(reversed(scores.of("pcl5-week"))), None)
    if pcl5_week is not None and (
        latest["pcl5"] is None or pcl5_week.completed_at > latest["pcl5"].completed_at
    ):
        latest["pcl5"] = pcl5_week
    baseline = outcome.outcome.baseline.total if outcome.outcome is not None else None
    return {
        "plot_caption": reference_lines(baseline, outcome.definitions).caption,
        "latest": latest,
        "recent": list(reversed(scores.responses))[:RECENT_ROWS],
        "count": len(scores.responses),
        "open_tasks": [t for t in scores.tasks if t.is_open],
        "outcome": outcome,
        "self_report_instruments": mbc_content.patient_instruments(),
        "flag_labels": FLAG_LABELS,
        "schedule": schedule_rows(schedule),
        "schedule_total": len(schedule.entries),
    }


SCHEDULE_ROWS = 8
STATE_LABELS = {
    "planned": "planned",
    "due now": "due: goes out with the next sweep",
    "not sent": "not sent (window passed)",
    "mailed": "link e-mailed",
    "no_email": "no e-mail address: front desk told",
    "mail_off": "mail is off: front desk told",
    "mail_failed": "e-mail failed: front desk told",
    "pending": "link made, e-mail not finished",
}


def schedule_rows(schedule: mbc_sweep.PatientSchedule) -> list[dict[str, Any]]:
    """The patient page's schedule table: the slots around now (the last few acted on and the
    next ones), each with its local day, what it asks and how it stands."""
    zone = ZoneInfo(schedule.timezone)
    entries = list(schedule.entries)
    missed = mbc_sweep.SlotState.MISSED
    done = [e for e in entries if e.request is not None or e.state == missed]
    ahead = [e for e in entries if e.request is None and e.state != missed]
    shown = sorted(
        done[-(SCHEDULE_ROWS // 2) :] + ahead[: SCHEDULE_ROWS - min(len(done), SCHEDULE_ROWS // 2)],
        key=lambda e: (e.slot.opens_at, e.slot.key),
    )
    return [
        {
            "when": e.slot.opens_at.astimezone(zone),
            "due": e.slot.due_at.astimezone(zone),
            "kind": "before infusion"
            if e.slot.visit_id is not None
            else f"week {e.slot.week} after the series",
            "instruments": ", ".join(
                mbc_content.known_instrument(i).short_name for i in e.slot.instruments
            ),
            "state": STATE_LABELS.get(e.state, e.state),
            "answered": e.answered,
        }
        for e in shown
    ]


FLAG_LABELS = {
    "phq9_item9_positive": "item 9 positive",
    "suicide_risk_review": "C-SSRS review",
    "probable_ptsd_cut_point": "≥ cut-point",
    "dsm5_cluster_rule_met": "DSM-5 cluster rule met",
    "phq9_major_depressive_syndrome": "major depressive syndrome",
    "phq9_other_depressive_syndrome": "other depressive syndrome",
}


# --- score entry --------------------------------------------------------------------------


def _entry_instrument(instrument: str) -> str:
    if instrument not in ENTRY_INSTRUMENTS:
        expected = "one of " + ", ".join(ENTRY_INSTRUMENTS)
        raise InvalidInput.for_field("instrument", instrument, expected)
    return instrument


def _local_now(c: Container, site: Site | None) -> str:
    zone = ZoneInfo(site.timezone if site else "UTC")
    return c.clock.now().astimezone(zone).strftime("%Y-%m-%dT%H:%M")


def _score_form_page(
    request: Request,
    c: Container,
    patient: Patient,
    instrument: str,
    language: str,
    values: dict[str, Any],
    problems: dict[str, str] | None = None,
    error: str | None = None,
    error_field: str | None = None,
    status: int = 200,
) -> Response:
    with c.uow(readonly=True) as uow:
        site = uow.sites.get(patient.site_id)
        form = mbc_content.instrument_form(uow, instrument, language)
    values.setdefault("completed_at", _local_now(c, site))
    return render(
        request,
        "mbc/score_form.html",
        {
            "patient": patient,
            "form": form,
            "instruments": ENTRY_INSTRUMENTS,
            "values": values,
            "problems": problems or {},
            "error": error,
            "error_field": error_field,
            "site": site,
        },
        status=status,
    )


@router.get("/patients/{patient_id}/scores/new", response_class=HTMLResponse)
def score_form(
    request: Request,
    patient_id: IdPath,
    actor: PageActor,
    c: AppContainer,
    instrument: Annotated[str, Query(max_length=32)] = "pcl5",
    lang: Annotated[str, Query(max_length=5)] = "en",
) -> Response:
    """A form for one instrument; ``lang`` chooses the wording shown (en/es)."""
    with c.uow(readonly=True) as uow:
        patient = mbc.patient_for_entry(uow, c.clock, actor, patient_id)
    if instrument == "cssrs":
        return RedirectResponse(f"/patients/{patient.id}/cssrs/new", status_code=303)
    _entry_instrument(instrument)
    mbc_content.check_language(lang)
    return _score_form_page(request, c, patient, instrument, lang, {"source": "staff_entry"})


@router.post("/patients/{patient_id}/scores/new", response_class=HTMLResponse, dependencies=[Csrf])
def submit_scores(
    request: Request, patient_id: IdPath, actor: PageActor, c: AppContainer, form: Form
) -> Response:
    with c.uow() as uow:
        patient = mbc.patient_for_entry(uow, c.clock, actor, patient_id)
    instrument = _entry_instrument(_text(form, "instrument", 32))
    language = _text(form, "language", 5) or "en"
    mbc_content.check_language(language)
    definition = mbc_content.known_instrument(instrument)
    values: dict[str, Any] = {
        "completed_at": _text(form, "completed_at", 32),
        "source": _text(form, "source", 20),
    }
    answers, problems = _answers(form, definition.items)
    values.update({k: v for k, v in answers.items() if v is not None})
    if problems:
        count = len(problems)
        return _score_form_page(
            request,
            c,
            patient,
            instrument,
            language,
            values,
            problems,
            error=f"{count} item{'s' if count > 1 else ''} not answered or not valid: every "
            "item needs an answer (scores are never prorated). Nothing was saved.",
            status=422,
        )
    try:
        with c.uow() as uow:
            site = uow.sites.get(patient.site_id)
            completed_at = _parse_local(values["completed_at"], site, "completed_at")
            source = _source(values["source"])
            recorded = mbc.record_response(
                uow,
                c.clock,
                actor,
                patient.id,
                instrument,
                answers,
                notifier=notifier_in(c.extras),
                completed_at=completed_at,
                source=source,
                language=language,
            )
    except (InvalidInput, Conflict) as error:
        return _score_form_page(
            request,
            c,
            patient,
            instrument,
            language,
            values,
            error=error.message,
            error_field=error.field,
            status=422,
        )
    _flash_recorded(request, recorded)
    return RedirectResponse(f"/patients/{patient.id}", status_code=303)


def _answers(form: FormData, items: Any) -> tuple[dict[str, int | None], dict[str, str]]:
    answers: dict[str, int | None] = {}
    problems: dict[str, str] = {}
    for item in items:
        raw = _text(form, item.id, 8)
        if not raw:
            answers[item.id] = None
            problems[item.id] = "Not answered"
            continue
        try:
            value = int(raw)
        except ValueError:
            value = None
        if value is None or not item.min_value <= value <= item.max_value:
            answers[item.id] = None
            problems[item.id] = f"Choose {item.min_value}–{item.max_value}"
            continue
        answers[item.id] = value
    return answers, problems


def _source(text: str) -> ResponseSource:
    if text not in ("staff_entry", "intake"):
        raise InvalidInput.for_field("source", text, "staff_entry or intake")
    return ResponseSource(text)


def _parse_local(text: str, site: Site | None, field: str) -> dt.datetime | None:
    """A ``datetime-local`` value in the site's time zone (empty: ``None`` = now)."""
    if not text:
        return None
    try:
        naive = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput.for_field(field, text, "a date and time like 2026-11-20T09:30") from None
    return naive.replace(tzinfo=ZoneInfo(site.timezone if site else "UTC"))


def _flash_recorded(request: Request, recorded: mbc.Recorded) -> None:
    response = recorded.response
    total = f" total {response.total}" if response.total is not None else ""
    name = mbc_content.known_instrument(response.instrument_id).short_name
    message = f"{name} recorded:{total}."
    if recorded.task is not None:
        mailed = (
            f" {recorded.notified} prescriber(s) e-mailed."
            if recorded.notified
            else " No e-mail went out (see the task)."
        )
        message += f" A same-day safety task was raised.{mailed}"
    flash(request, message)


# --- C-SSRS -------------------------------------------------------------------------------


def _cssrs_page(
    request: Request,
    patient: Patient,
    values: dict[str, Any],
    error: str | None = None,
    error_field: str | None = None,
    status: int = 200,
) -> Response:
    instrument = mbc_content.known_instrument("cssrs")
    return render(
        request,
        "mbc/cssrs_form.html",
        {
            "patient": patient,
            "instrument": instrument,
            "questions": [i for i in instrument.items if i.id != "cssrs_06_recent"],
            "values": values,
            "error": error,
            "error_field": error_field,
        },
        status=status,
    )


@router.get("/patients/{patient_id}/cssrs/new", response_class=HTMLResponse)
def cssrs_form(request: Request, patient_id: IdPath, actor: PageActor, c: AppContainer) -> Response:
    with c.uow(readonly=True) as uow:
        patient = mbc.patient_for_entry(uow, c.clock, actor, patient_id)
    return _cssrs_page(request, patient, {"form": "since_last_contact", "yes": set()})


@router.post("/patients/{patient_id}/cssrs/new", response_class=HTMLResponse, dependencies=[Csrf])
def submit_cssrs(
    request: Request, patient_id: IdPath, actor: PageActor, c: AppContainer, form: Form
) -> Response:
    with c.uow() as uow:
        patient = mbc.patient_for_entry(uow, c.clock, actor, patient_id)
    yes = {n for n in range(1, 7) if _text(form, f"q{n}", 3) == "yes"}
    recent_text = _text(form, "q6_recent", 3)
    form_used = _text(form, "form", 32)
    risk_level = _text(form, "risk_level", 16)
    action = _text(form, "action", 1000)
    values: dict[str, Any] = {
        "form": form_used,
        "risk_level": risk_level,
        "yes": yes,
        "q6_recent": recent_text,
        "action": action,
    }
    try:
        if not risk_level:
            raise InvalidInput.for_field("risk_level", "", "your judgement: low, moderate or high")
        with c.uow() as uow:
            recorded = mbc.record_cssrs_result(
                uow,
                c.clock,
                actor,
                patient.id,
                notifier=notifier_in(c.extras),
                form=form_used,
                risk_level=risk_level,
                positive_questions=sorted(yes),
                q6_within_3_months={"yes": True, "no": False}.get(recent_text),
                action=action,
            )
    except (InvalidInput, Conflict) as error:
        return _cssrs_page(request, patient, values, error.message, error.field, 422)
    _flash_recorded(request, recorded)
    return RedirectResponse(f"/patients/{patient.id}", status_code=303)


# --- outcomes and plot --------------------------------------------------------------------


@router.get("/patients/{patient_id}/outcomes", response_class=HTMLResponse)
def outcomes_page(
    request: Request, patient_id: IdPath, actor: PageActor, c: AppContainer
) -> Response:
    with c.uow(readonly=True) as uow:
        view = mbc.patient_outcomes(uow, c.clock, actor, patient_id)
    return render(
        request,
        "mbc/outcomes.html",
        {"view": view, "patient": view.patient, "definitions": view.definitions.as_dict()},
    )


@router.get("/patients/{patient_id}/plots/scores.svg")
def score_plot(patient_id: IdPath, actor: PageActor, c: AppContainer) -> Response:
    """PCL-5 total and clusters, PHQ-9 and GAD-7 over time in the site's local time, with the
    remission line, the response line for the patient's baseline (the last PCL-5 on or before
    the first infusion), a marker at each infusion session's start and another kind of marker
    at each past booked visit with no infusion session started that day."""
    with c.uow(readonly=True) as uow:
        scores = mbc.patient_scores(uow, c.clock, actor, patient_id, PLOTTED)
        outcome = mbc.patient_outcomes(uow, c.clock, actor, patient_id)
        marks = mbc.infusion_marks(uow, c.clock, actor, patient_id)
        site = uow.sites.get(scores.patient.site_id)
    zone = ZoneInfo(site.timezone if site else "UTC")

    def points(*ids: str) -> list[ScorePoint]:
        return [_point(r, zone) for r in scores.of(*ids) if r.total is not None]

    baseline = outcome.outcome.baseline.total if outcome.outcome is not None else None
    lines = reference_lines(baseline, outcome.definitions)
    svg = render_score_plot(
        pcl5=points(*mbc.PCL5_IDS),
        phq9=points("phq9"),
        gad7=points("gad7"),
        remission=lines.remission,
        response=lines.response,
        # On the scores' time axis: the site's local time, as naive datetimes.
        infusions_at=[s.started_at.astimezone(zone).replace(tzinfo=None) for s in marks.starts],
        unstarted_visits_at=[
            v.starts_at.astimezone(zone).replace(tzinfo=None) for v in marks.visits_without_session
        ],
        title="Symptom scores",
    )
    return Response(content=svg, media_type="image/svg+xml")


@dataclass(frozen=True, slots=True)
class ReferenceLines:
    """The plot's PCL-5 lines with short labels, and the full definitions for the caption."""

    remission: ReferenceLine
    response: ReferenceLine | None
    caption: str


def reference_lines(
    baseline: float | None, definitions: OutcomeDefinitions = PCL5_DEFAULTS
) -> ReferenceLines:
    remission = definitions.remission
    pct = definitions.response_min_reduction_pct
    remission_line = ReferenceLine(
        remission.threshold.value,
        f"remission < {remission.threshold.value:g} [{remission.threshold.provenance.tag.value}]",
    )
    caption = f"Remission line: {remission.describe()}."
    response_line = None
    if baseline is not None and baseline > 0:
        value = baseline * (1 - pct.value / 100)
        response_line = ReferenceLine(
            value, f"response ≤ {value:g}, {pct.value:g} % below baseline [{pct.provenance.tag}]"
        )
        caption += (
            f" Response line: a reduction of at least {pct.value:g} % from the baseline of "
            f"{baseline:g} {pct.provenance.label()}."
        )
    return ReferenceLines(remission_line, response_line, caption)


def _point(response: QuestionnaireResponse, zone: ZoneInfo) -> ScorePoint:
    local = response.completed_at.astimezone(zone).replace(tzinfo=None)
    return ScorePoint(local, float(response.total or 0), dict(response.subscales))


# --- self-report link ---------------------------------------------------------------------


def _self_report_page(
    request: Request,
    patient: Patient,
    values: dict[str, Any],
    *,
    issued: dict[str, Any] | None = None,
    error: str | None = None,
    error_field: str | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "mbc/self_report.html",
        {
            "patient": patient,
            "instruments": mbc_content.patient_instruments(),
            "values": values,
            "issued": issued,
            "error": error,
            "error_field": error_field,
        },
        status=status,
    )


@router.get("/patients/{patient_id}/self-report", response_class=HTMLResponse)
def self_report_form(
    request: Request, patient_id: IdPath, actor: PageActor, c: AppContainer
) -> Response:
    with c.uow(readonly=True) as uow:
        patient = mbc.patient_for_entry(uow, c.clock, actor, patient_id)
    values = {"instruments": ["pcl5"], "expires_in_days": "7", "send_email": True}
    return _self_report_page(request, patient, values)


@router.post("/patients/{patient_id}/self-report", response_class=HTMLResponse, dependencies=[Csrf])
def send_self_report(
    request: Request, patient_id: IdPath, actor: PageActor, c: AppContainer, form: Form
) -> Response:
    with c.uow() as uow:
        patient = mbc.patient_for_entry(uow, c.clock, actor, patient_id)
    chosen = [v for v in form.getlist("instruments") if isinstance(v, str)][:10]
    days_text = _text(form, "expires_in_days", 4) or "7"
    due_text = _text(form, "due_on", 10)
    send_email = _text(form, "send_email", 3) == "yes"
    values: dict[str, Any] = {
        "instruments": chosen,
        "expires_in_days": days_text,
        "due_on": due_text,
        "send_email": send_email,
    }
    try:
        days = _int_field("expires_in_days", days_text, 1, 60)
        with c.uow() as uow:
            site = uow.sites.get(patient.site_id)
            due_at = _due_at(due_text, site)
            issued = mbc_self_report.request_self_report(
                uow, c.clock, actor, patient.id, chosen, due_at, ttl=dt.timedelta(days=days)
            )
            url = str(request.base_url).rstrip("/") + issued.path
            notifier = notifier_in(c.extras)
            mail_on = mbc_safety.delivers(notifier)
            mailed = (
                bool(values["send_email"])
                and mail_on
                and mbc_self_report.mail_link(uow, c.clock, notifier, issued, url)
            )
    except InvalidInput as error:
        return _self_report_page(
            request, patient, values, error=error.message, error_field=error.field, status=422
        )
    result = {
        "url": url,
        "expires_at": issued.link.expires_at,
        "mailed": mailed,
        "mail_on": mail_on,
        "has_email": bool(patient.email),
        "instruments": issued.link.instrument_ids,
    }
    return _self_report_page(request, patient, values, issued=result)


def _int_field(field: str, text: str, low: int, high: int) -> int:
    try:
        value = int(text)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise InvalidInput.for_field(field, text, f"a whole number of days, {low}–{high}")
    return value


def _due_at(text: str, site: Site | None) -> dt.datetime | None:
    """The end of the chosen day in the site's time zone (empty: no due date)."""
    if not text:
        return None
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidInput.for_field("due_on", text, "a date like 2026-11-27") from None
    zone = ZoneInfo(site.timezone if site else "UTC")
    return dt.datetime.combine(day, dt.time(23, 59), tzinfo=zone)
