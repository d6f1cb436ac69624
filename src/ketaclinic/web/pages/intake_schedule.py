"""Staff pages of treatment and scheduling: a patient's plan, booking and moving a series, the
end-of-series decision, the day view of chairs, and the director's protocols and clinic hours.

Forms re-render with the error next to the field (422, or 409 when the chairs are full) and
store nothing on bad input.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from ketaclinic.adapters.notify.smtp import notifier_in
from ketaclinic.domain.errors import Conflict, InvalidInput, KetaclinicError
from ketaclinic.domain.protocols import OBSERVATION_DEFAULT_MIN, SETUP_DEFAULT_MIN, WEEKDAY_NAMES
from ketaclinic.domain.scheduling import OpeningHours
from ketaclinic.services import intake_plans, intake_review, intake_schedule, visit_confirmations
from ketaclinic.services.audit import require_role
from ketaclinic.services.intake_common import DIRECTOR, PRESCRIBER, local_today
from ketaclinic.services.intake_models import clinic_protocol, parse_induction_decision
from ketaclinic.web.deps import AppContainer, Csrf, IdPath, PageActor, active_site
from ketaclinic.web.templating import flash, render

router = APIRouter()


def parse_day(field: str, text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput.for_field(field, text, "a date as YYYY-MM-DD") from None


def parse_time(field: str, text: str) -> dt.time:
    try:
        value = dt.time.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput.for_field(field, text, "a time as HH:MM") from None
    return value.replace(second=0, microsecond=0)


def _status(error: Exception) -> int:
    return 409 if isinstance(error, Conflict) else 422


def _lead(c: AppContainer) -> dt.timedelta:
    """How long before a visit its reminder goes out (the confirmation stands in for it
    within that time)."""
    return dt.timedelta(hours=c.settings.visit_reminder_lead_h)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."


# --- plan -----------------------------------------------------------------------------------


def _plan_page(
    request: Request, c: AppContainer, actor: PageActor, patient_id: int, **extra: Any
) -> Response:
    with c.uow(readonly=True) as uow:
        view = intake_plans.plan_view(uow, c.clock, actor, patient_id)
        users = {u.id: u.display_name for u in uow.users.all()}
    principal = actor.principal
    context: dict[str, Any] = {
        "view": view,
        "users": users,
        "can_sign": principal is not None and principal.role.value == "prescriber",
        "error": None,
        "error_field": None,
        "form": {},
    }
    status = int(extra.pop("status", 200))
    context.update(extra)
    return render(request, "intake/plan.html", context, status=status)


@router.get("/patients/{patient_id}/plan", response_class=HTMLResponse)
def plan_page(request: Request, patient_id: IdPath, actor: PageActor, c: AppContainer) -> Response:
    return _plan_page(request, c, actor, patient_id)


@router.post("/patients/{patient_id}/plan", dependencies=[Csrf])
def sign_plan(
    request: Request,
    patient_id: IdPath,
    actor: PageActor,
    c: AppContainer,
    protocol_id: Annotated[str, Form(max_length=40)] = "",
    dose_mg_per_kg: Annotated[str, Form(max_length=20)] = "",
    start_date: Annotated[str, Form(max_length=20)] = "",
    note: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    form = {
        "protocol_id": protocol_id,
        "dose_mg_per_kg": dose_mg_per_kg,
        "start_date": start_date,
        "note": note,
    }
    with c.uow() as uow:
        # Only a prescriber signs: refuse anyone else (audited) before looking at the form.
        require_role(uow, c.clock, actor, "treatment_plan", PRESCRIBER)
        try:
            try:
                dose = float(dose_mg_per_kg)
            except ValueError:
                raise InvalidInput.for_field(
                    "dose_mg_per_kg", dose_mg_per_kg, "a dose in mg/kg"
                ) from None
            intake_plans.sign_plan(
                uow,
                c.clock,
                actor,
                patient_id,
                protocol_id=protocol_id,
                dose_mg_per_kg=dose,
                start_date=parse_day("start_date", start_date),
                note=note,
            )
        except InvalidInput as error:
            bad: InvalidInput | None = error
        else:
            bad = None
    # Pages are rendered after the unit of work ends: they open their own.
    if bad is not None:
        return _plan_page(
            request,
            c,
            actor,
            patient_id,
            error=bad.message,
            error_field=bad.field,
            form=form,
            status=422,
        )
    flash(request, "Treatment plan signed.")
    return RedirectResponse(f"/patients/{patient_id}/plan", status_code=303)


# --- series ---------------------------------------------------------------------------------


def _series_page(
    request: Request, c: AppContainer, actor: PageActor, patient_id: int, **extra: Any
) -> Response:
    with c.uow(readonly=True) as uow:
        view = intake_schedule.series_view(uow, c.clock, actor, patient_id)
    context: dict[str, Any] = {"view": view, "error": None, "error_field": None, "form": {}}
    status = int(extra.pop("status", 200))
    context.update(extra)
    return render(request, "intake/series.html", context, status=status)


@router.get("/patients/{patient_id}/series", response_class=HTMLResponse)
def series_page(
    request: Request, patient_id: IdPath, actor: PageActor, c: AppContainer
) -> Response:
    return _series_page(request, c, actor, patient_id)


@router.post("/patients/{patient_id}/series", dependencies=[Csrf])
def book_series(
    request: Request,
    patient_id: IdPath,
    actor: PageActor,
    c: AppContainer,
    start_date: Annotated[str, Form(max_length=20)] = "",
    earliest: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    with c.uow() as uow:
        try:
            series = intake_schedule.book_series(
                uow,
                c.clock,
                actor,
                patient_id,
                parse_day("start_date", start_date),
                earliest=earliest == "1",
            )
        except (InvalidInput, Conflict) as error:
            bad: KetaclinicError | None = error
        else:
            bad = None
            mail = visit_confirmations.confirm_booked(
                uow, c.clock, actor, notifier_in(c.extras), series, reminder_lead=_lead(c)
            )
    if bad is not None:
        return _series_page(
            request,
            c,
            actor,
            patient_id,
            error=bad.message,
            error_field="start_date",
            form={"start_date": start_date},
            status=_status(bad),
        )
    first = series.visits[0].local_day
    flash(
        request,
        f"Series booked: {len(series.visits)} visits from {first.isoformat()}. "
        f"{_sentence(mail.message)}",
    )
    return RedirectResponse(f"/patients/{patient_id}/series", status_code=303)


@router.post("/patients/{patient_id}/series/{series_id}/move", dependencies=[Csrf])
def move_visit(
    request: Request,
    patient_id: IdPath,
    series_id: IdPath,
    actor: PageActor,
    c: AppContainer,
    visit_number: Annotated[int, Form(ge=1, le=100)] = 1,
    new_day: Annotated[str, Form(max_length=20)] = "",
    at: Annotated[str, Form(max_length=10)] = "",
    chair: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    with c.uow() as uow:
        try:
            moved = intake_schedule.reschedule_visit(
                uow,
                c.clock,
                actor,
                patient_id,
                series_id,
                visit_number,
                parse_day("new_day", new_day) if new_day.strip() else None,
                at=parse_time("at", at) if at.strip() else None,
                chair_code=chair.strip() or None,
            )
        except (InvalidInput, Conflict) as error:
            bad: KetaclinicError | None = error
        else:
            bad = None
            mail = visit_confirmations.confirm_moved(
                uow,
                c.clock,
                actor,
                notifier_in(c.extras),
                moved,
                visit_number,
                reminder_lead=_lead(c),
            )
    if bad is not None:
        return _series_page(
            request,
            c,
            actor,
            patient_id,
            error=bad.message,
            error_field=f"move-{series_id}-{visit_number}",
            form={"new_day": new_day, "at": at, "chair": chair},
            status=_status(bad),
        )
    flash(request, f"Visit {visit_number} moved. {_sentence(mail.message)}")
    return RedirectResponse(f"/patients/{patient_id}/series", status_code=303)


# --- end of series --------------------------------------------------------------------------


def _review_page(
    request: Request,
    c: AppContainer,
    actor: PageActor,
    patient_id: int,
    series_id: int,
    **extra: Any,
) -> Response:
    with c.uow(readonly=True) as uow:
        review = intake_review.induction_review(uow, c.clock, actor, patient_id, series_id)
        users = {u.id: u.display_name for u in uow.users.all()}
    principal = actor.principal
    context: dict[str, Any] = {
        "review": review,
        "users": users,
        "can_decide": principal is not None and principal.role.value == "prescriber",
        "error": None,
        "form": {},
    }
    status = int(extra.pop("status", 200))
    context.update(extra)
    return render(request, "intake/review.html", context, status=status)


@router.get("/patients/{patient_id}/series/{series_id}/review", response_class=HTMLResponse)
def review_page(
    request: Request, patient_id: IdPath, series_id: IdPath, actor: PageActor, c: AppContainer
) -> Response:
    return _review_page(request, c, actor, patient_id, series_id)


@router.post("/patients/{patient_id}/series/{series_id}/decision", dependencies=[Csrf])
def record_decision(
    request: Request,
    patient_id: IdPath,
    series_id: IdPath,
    actor: PageActor,
    c: AppContainer,
    decision: Annotated[str, Form(max_length=20)] = "",
    note: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    with c.uow() as uow:
        require_role(uow, c.clock, actor, "series_decision", PRESCRIBER)
        try:
            choice = parse_induction_decision(decision)
            intake_review.record_induction_decision(
                uow, c.clock, actor, patient_id, series_id, choice, note
            )
        except (InvalidInput, Conflict) as error:
            bad: KetaclinicError | None = error
        else:
            bad = None
    if bad is not None:
        return _review_page(
            request,
            c,
            actor,
            patient_id,
            series_id,
            error=bad.message,
            form={"decision": decision, "note": note},
            status=_status(bad),
        )
    flash(request, f"Decision recorded: {decision}.")
    return RedirectResponse(f"/patients/{patient_id}/series/{series_id}/review", status_code=303)


# --- day view -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Cell:
    """One cell of the day grid: a visit spanning ``rows`` rows, or an empty slot."""

    entry: intake_schedule.DayEntry | None
    rows: int = 1


@dataclass(frozen=True, slots=True)
class Row:
    label: str
    cells: list[Cell | None]  # None: covered by a visit that started in an earlier row


def day_grid(view: intake_schedule.DayView) -> list[Row]:
    """The day as table rows of ``slot_min`` minutes (opening hours, widened to show any visit
    outside them), chairs as columns. A visit covers the rows from its start (rounded down)
    to its end (rounded up); a later visit on the same chair never starts inside an earlier
    one's rows, so the table stays rectangular."""
    step = view.slot_min
    starts = [e.start for e in view.entries]
    ends = [e.end for e in view.entries]
    first = view.hours.opens if view.hours else dt.time(8)
    last = view.hours.closes if view.hours else dt.time(18)
    first_min = min([first.hour * 60 + first.minute] + [s.hour * 60 + s.minute for s in starts])
    last_min = max([last.hour * 60 + last.minute] + [e.hour * 60 + e.minute for e in ends])
    first_min -= first_min % step
    count = max(1, -(-(last_min - first_min) // step))
    grid: list[list[Cell | None]] = [[Cell(None) for _ in view.chairs] for _ in range(count)]
    columns = {chair.code: n for n, chair in enumerate(view.chairs)}
    free_from = [0] * len(view.chairs)
    for entry in sorted(view.entries, key=lambda e: (e.chair_code, e.start)):
        column = columns.get(entry.chair_code)
        if column is None:
            continue
        begin = (entry.start.hour * 60 + entry.start.minute - first_min) // step
        end = -(-(entry.end.hour * 60 + entry.end.minute - first_min) // step)
        begin = max(begin, free_from[column])
        end = max(end, begin + 1)
        grid[begin][column] = Cell(entry, end - begin)
        for row in range(begin + 1, min(end, count)):
            grid[row][column] = None
        free_from[column] = end
    return [
        Row(f"{(first_min + n * step) // 60:02d}:{(first_min + n * step) % 60:02d}", cells)
        for n, cells in enumerate(grid)
    ]


@router.get("/schedule", response_class=HTMLResponse)
def schedule(
    request: Request,
    actor: PageActor,
    c: AppContainer,
    date: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    site = active_site(request)
    if site is None:
        raise InvalidInput.for_field("site", None, "a site you are assigned to")
    day = parse_day("date", date) if date else local_today(c.clock, site)
    with c.uow(readonly=True) as uow:
        view = intake_schedule.day_view(uow, c.clock, actor, site.id, day)
    context = {
        "view": view,
        "grid": day_grid(view),
        "previous": day - dt.timedelta(days=1),
        "next": day + dt.timedelta(days=1),
        "today": local_today(c.clock, site),
    }
    return render(request, "intake/schedule.html", context)


# --- director: protocols and hours ----------------------------------------------------------


def _protocols_page(request: Request, c: AppContainer, actor: PageActor, **extra: Any) -> Response:
    with c.uow(readonly=True) as uow:
        require_role(uow, c.clock, actor, "protocol", DIRECTOR)
        protocols = intake_plans.list_protocols(uow, c.clock, actor)
    context: dict[str, Any] = {
        "protocols": protocols,
        "weekday_names": WEEKDAY_NAMES,
        "error": None,
        "error_field": None,
        "form": {
            "observation_min": str(OBSERVATION_DEFAULT_MIN),
            "setup_min": str(SETUP_DEFAULT_MIN),
            "rhythm": "weekdays",
        },
    }
    status = int(extra.pop("status", 200))
    context.update(extra)
    return render(request, "intake/admin_protocols.html", context, status=status)


@router.get("/admin/protocols", response_class=HTMLResponse)
def protocols_page(request: Request, actor: PageActor, c: AppContainer) -> Response:
    return _protocols_page(request, c, actor)


def _whole(field: str, text: str) -> int:
    if not text.strip().isdigit() or len(text.strip()) > 6:
        raise InvalidInput.for_field(field, text, "a whole number")
    return int(text.strip())


@router.post("/admin/protocols", dependencies=[Csrf])
def add_protocol(
    request: Request,
    actor: PageActor,
    c: AppContainer,
    protocol_id: Annotated[str, Form(max_length=60)] = "",
    name: Annotated[str, Form(max_length=500)] = "",
    infusion_count: Annotated[str, Form(max_length=10)] = "",
    duration_weeks: Annotated[str, Form(max_length=10)] = "",
    dose_mg_per_kg: Annotated[str, Form(max_length=20)] = "",
    infusion_min: Annotated[str, Form(max_length=10)] = "",
    rhythm: Annotated[str, Form(max_length=10)] = "weekdays",
    weekdays: Annotated[list[str] | None, Form()] = None,
    spacing_days: Annotated[str, Form(max_length=10)] = "",
    observation_min: Annotated[str, Form(max_length=10)] = str(OBSERVATION_DEFAULT_MIN),
    setup_min: Annotated[str, Form(max_length=10)] = str(SETUP_DEFAULT_MIN),
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    chosen = sorted({int(d) for d in (weekdays or [])[:7] if d in set("0123456")})
    form = {
        "protocol_id": protocol_id,
        "name": name,
        "infusion_count": infusion_count,
        "duration_weeks": duration_weeks,
        "dose_mg_per_kg": dose_mg_per_kg,
        "infusion_min": infusion_min,
        "rhythm": rhythm,
        "weekdays": chosen,
        "spacing_days": spacing_days,
        "observation_min": observation_min,
        "setup_min": setup_min,
        "note": note,
    }
    with c.uow() as uow:
        require_role(uow, c.clock, actor, "protocol", DIRECTOR)
        try:
            try:
                dose = float(dose_mg_per_kg)
            except ValueError:
                raise InvalidInput.for_field(
                    "dose_mg_per_kg", dose_mg_per_kg, "a dose in mg/kg"
                ) from None
            protocol = clinic_protocol(
                id=protocol_id.strip(),
                name=name.strip(),
                infusion_count=_whole("infusion_count", infusion_count),
                duration_weeks=_whole("duration_weeks", duration_weeks),
                dose_mg_per_kg=dose,
                infusion_min=_whole("infusion_min", infusion_min),
                weekdays=tuple(chosen) if rhythm == "weekdays" else (),
                spacing_days=_whole("spacing_days", spacing_days) if rhythm == "spacing" else None,
                observation_min=_whole("observation_min", observation_min),
                setup_min=_whole("setup_min", setup_min),
                note=note.strip(),
            )
            intake_plans.add_clinic_protocol(uow, c.clock, actor, protocol)
        except (InvalidInput, Conflict) as error:
            bad: KetaclinicError | None = error
        else:
            bad = None
    if bad is not None:
        return _protocols_page(
            request,
            c,
            actor,
            error=bad.message,
            error_field=bad.field,
            form=form,
            status=_status(bad),
        )
    flash(request, f"Protocol {protocol.id} added.")
    return RedirectResponse("/admin/protocols", status_code=303)


def _hours_page(request: Request, c: AppContainer, actor: PageActor, **extra: Any) -> Response:
    site = active_site(request)
    with c.uow(readonly=True) as uow:
        require_role(uow, c.clock, actor, "clinic_hours", DIRECTOR)
        hours = intake_schedule.clinic_hours(uow, site.id) if site else None
    by_day = {h.weekday: h for h in hours.hours} if hours else {}
    context: dict[str, Any] = {
        "site": site,
        "days": [(n, WEEKDAY_NAMES[n], by_day.get(n)) for n in range(7)],
        "slot_min": hours.slot_min if hours else 15,
        "error": None,
    }
    status = int(extra.pop("status", 200))
    context.update(extra)
    return render(request, "intake/admin_hours.html", context, status=status)


@router.get("/admin/hours", response_class=HTMLResponse)
def hours_page(request: Request, actor: PageActor, c: AppContainer) -> Response:
    return _hours_page(request, c, actor)


@router.post("/admin/hours", dependencies=[Csrf])
async def save_hours(request: Request, actor: PageActor, c: AppContainer) -> Response:
    # Read by hand: three fields per weekday. Longer values than any valid one count as blank.
    form = await request.form(max_fields=64, max_files=0)
    fields = {k: v for k, v in form.items() if isinstance(v, str) and len(v) <= 10}
    return await run_in_threadpool(_save_hours_sync, request, actor, c, fields)


def _save_hours_sync(
    request: Request, actor: PageActor, c: AppContainer, fields: dict[str, str]
) -> Response:
    site = active_site(request)
    with c.uow() as uow:
        require_role(uow, c.clock, actor, "clinic_hours", DIRECTOR)
        try:
            if site is None:
                raise InvalidInput.for_field("site", None, "a site you are assigned to")
            hours: list[OpeningHours] = []
            for day in range(7):
                if fields.get(f"open_{day}") != "yes":
                    continue
                hours.append(
                    OpeningHours(
                        day,
                        parse_time(f"opens_{day}", fields.get(f"opens_{day}", "")),
                        parse_time(f"closes_{day}", fields.get(f"closes_{day}", "")),
                    )
                )
            slot = _whole("slot_min", fields.get("slot_min", "15"))
            intake_schedule.set_clinic_hours(uow, c.clock, actor, site.id, tuple(hours), slot)
        except InvalidInput as error:
            bad: InvalidInput | None = error
        else:
            bad = None
    if bad is not None:
        return _hours_page(request, c, actor, error=bad.message, status=422)
    flash(request, "Clinic hours saved.")
    return RedirectResponse("/admin/hours", status_code=303)
