"""Chair scheduling: clinic hours, booking a whole series, moving one visit, the day view.

The scheduling core (:mod:`ketaclinic.domain.scheduling`) works in naive site-local time; here
visits are converted to and from UTC with the site's time zone. Bookings never overlap:

- every booking and every move first takes the site's booking lock
  (:meth:`~ketaclinic.services.intake_ports.ScheduleRepository.lock_site`), then reads the
  site's visits, then writes, so concurrent requests at one site are decided one after another
  on the database (PostgreSQL row lock; SQLite's write lock);
- a unique constraint on (chair, start) refuses a duplicate even if some code path forgot the
  lock.

A series is booked only for a patient with a signed ``eligible`` decision, consent on the
version in force and a signed plan (:func:`~ketaclinic.services.intake_common.clearance`), on
exactly the dates the plan's protocol gives or, on request, as the earliest feasible series that
keeps the protocol's spacing, starting today or later. Times already past today are never
offered.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ketaclinic.domain.audit import AuditAction
from ketaclinic.domain.errors import Conflict, InvalidInput, NotFound
from ketaclinic.domain.people import Chair, Patient, Site
from ketaclinic.domain.protocols import Protocol, find_protocol, plan
from ketaclinic.domain.scheduling import (
    SEARCH_DAYS,
    Booking,
    OpeningHours,
    SeriesSearch,
    SiteSchedule,
    earliest_series,
)
from ketaclinic.domain.scheduling import (
    book_series as book_series_core,
)
from ketaclinic.domain.scheduling import (
    reschedule_visit as reschedule_core,
)
from ketaclinic.services.audit import Actor, deny, record, require_role
from ketaclinic.services.intake_common import (
    DIRECTOR,
    SCHEDULING,
    catalog,
    clearance,
    local_now,
    local_today,
    to_local,
    to_utc,
)
from ketaclinic.services.intake_models import (
    CANCEL_REASON_MAX,
    ClinicHours,
    NewVisit,
    Series,
    TreatmentPlan,
    Visit,
    clean_text,
)
from ketaclinic.services.patients import load_visible
from ketaclinic.services.ports import Clock, UnitOfWork
from ketaclinic.services.visit_notice_ports import NoticeKind

PAST = "time already past"


# --- clinic hours ---------------------------------------------------------------------------


def _visible_site(uow: UnitOfWork, clock: Clock, actor: Actor, site_id: int, resource: str) -> Site:
    principal = actor.principal
    site = uow.sites.get(site_id)
    if site is None or principal is None or not principal.can_see_site(site_id):
        raise deny(
            uow,
            clock,
            actor,
            resource,
            NotFound(f"site {site_id} not found", field="site"),
            site_id=site_id if site is not None else None,
        )
    return site


def set_clinic_hours(
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    site_id: int,
    hours: tuple[OpeningHours, ...],
    slot_min: int = 15,
) -> ClinicHours:
    """Replace a site's opening hours (director of that site). A weekday left out is closed.

    Raises :class:`InvalidInput` for a repeated weekday or a step outside 5–120 minutes.
    """
    require_role(uow, clock, actor, "clinic_hours", DIRECTOR)
    site = _visible_site(uow, clock, actor, site_id, "clinic_hours")
    chairs = tuple(c.code for c in uow.sites.chairs(site.id)) or ("-",)
    SiteSchedule(site.code, chairs, hours, slot_min=slot_min)  # validates hours and step
    stored = ClinicHours(site.id, tuple(sorted(hours, key=lambda h: h.weekday)), slot_min)
    uow.schedule.set_hours(stored)
    record(
        uow,
        clock,
        actor,
        AuditAction.UPDATE,
        "clinic_hours",
        site_id=site.id,
        resource_id=site.id,
        detail="; ".join(h.describe() for h in stored.hours) or "closed",
    )
    uow.commit()
    return stored


def clinic_hours(uow: UnitOfWork, site_id: int) -> ClinicHours | None:
    """The site's hours (not health data: no audit entry)."""
    return uow.schedule.hours(site_id)


def site_hours(
    uow: UnitOfWork, clock: Clock, actor: Actor, site_code: str
) -> tuple[Site, ClinicHours | None]:
    """A site's hours for any staff member of that site (not health data: no audit entry for
    reading them; a site that is not the caller's is "not found", audited)."""
    require_role(uow, clock, actor, "clinic_hours", SCHEDULING)
    site = uow.sites.by_code(site_code.strip().upper())
    if site is None:
        raise NotFound(f"site: {site_code!r} not found", field="site")
    site = _visible_site(uow, clock, actor, site.id, "clinic_hours")
    return site, uow.schedule.hours(site.id)


# --- reading the schedule -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SiteBook:
    """A site's schedule in the core's terms: chairs by code, and the chair ids behind them."""

    site: Site
    schedule: SiteSchedule
    chair_ids: dict[str, int]
    chair_codes: dict[int, str]


def _site_book(uow: UnitOfWork, site: Site) -> SiteBook:
    hours = uow.schedule.hours(site.id)
    chairs = uow.sites.chairs(site.id)
    if hours is None or not hours.hours:
        raise Conflict(f"site: {site.code} has no clinic hours set", field="site")
    if not chairs:
        raise Conflict(f"site: {site.code} has no chairs", field="site")
    schedule = SiteSchedule(
        site.code, tuple(c.code for c in chairs), hours.hours, slot_min=hours.slot_min
    )
    return SiteBook(site, schedule, {c.code: c.id for c in chairs}, {c.id: c.code for c in chairs})


def _as_booking(book: SiteBook, visit: Visit) -> Booking:
    return Booking(
        # A retired chair (only ever under past visits) occupies nothing that can be booked.
        book.chair_codes.get(visit.chair_id, f"retired chair {visit.chair_id}"),
        to_local(visit.starts_at, book.site),
        to_local(visit.ends_at, book.site),
        ref=f"visit {visit.id}",
    )


def _day_window(site: Site, first: dt.date, last: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = to_utc(dt.datetime.combine(first, dt.time()), site)
    end = to_utc(dt.datetime.combine(last + dt.timedelta(days=1), dt.time()), site)
    return start, end


def _bookings(uow: UnitOfWork, book: SiteBook, first: dt.date, last: dt.date) -> list[Booking]:
    start, end = _day_window(book.site, first, last)
    return [_as_booking(book, v) for v in uow.schedule.visits_between(book.site.id, start, end)]


def _elapsed_today(book: SiteBook, now: dt.datetime) -> list[Booking]:
    """Hold every chair from midnight until now today, so a slot already past is never
    offered (the core knows dates, not the present moment)."""
    midnight = dt.datetime.combine(now.date(), dt.time())
    until = min(now.replace(second=0, microsecond=0), midnight.replace(hour=23, minute=59))
    if until <= midnight:
        return []
    return [Booking(chair, midnight, until, PAST) for chair in book.schedule.chairs]


def _new_visit(book: SiteBook, booking: Booking, number: int) -> NewVisit:
    return NewVisit(
        chair_id=book.chair_ids[booking.chair_id],
        number=number,
        starts_at=to_utc(booking.start, book.site),
        ends_at=to_utc(booking.end, book.site),
        local_day=booking.day,
    )


def _protocol(uow: UnitOfWork, protocol_id: str) -> Protocol:
    try:
        return find_protocol(protocol_id, catalog(uow))
    except InvalidInput:
        raise Conflict(
            f"protocol: {protocol_id!r} is no longer in the protocol catalog", field="protocol"
        ) from None


def _patient_site(uow: UnitOfWork, patient: Patient) -> Site:
    site = uow.sites.get(patient.site_id)
    assert site is not None  # a patient's site always exists (foreign key)
    return site


# --- booking --------------------------------------------------------------------------------


def book_series(
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    patient_id: int,
    start_date: dt.date,
    *,
    earliest: bool = False,
) -> Series:
    """Book every infusion of the patient's signed plan from ``start_date`` on, at the
    patient's site.

    By default each visit goes on its protocol date at the earliest free chair; when a date has
    no free chair nothing is booked, and the refusal names every such date and the earliest
    series that would fit (``earliest possible: …``). With ``earliest`` the earliest feasible
    series is booked instead (:func:`~ketaclinic.domain.scheduling.earliest_series`: each visit
    on or after its protocol date, keeping the protocol's spacing, the first day at most
    ``SEARCH_DAYS`` after ``start_date``); a free protocol date is its own earliest slot, so
    this books the same visits whenever the protocol dates fit.

    Raises:
        InvalidInput: ``start_date`` before today at the site.
        Conflict: the patient is not cleared (the message lists what is missing: signed
            eligibility, current consent, signed plan); the site has no hours; a planned date
            has no free chair (every such date and why, and the earliest series that fits); the
            patient already has a visit on a planned date; with ``earliest``, no series fits
            within the search.
        PermissionDenied / NotFound: audited refusals.
    """
    principal = require_role(uow, clock, actor, "series", SCHEDULING)
    patient = load_visible(uow, clock, actor, patient_id, "series")
    site = _patient_site(uow, patient)
    now = local_now(clock, site)
    if start_date < now.date():
        raise InvalidInput.for_field(
            "start_date", start_date.isoformat(), f"today ({now.date().isoformat()}) or later"
        )
    status = clearance(uow, patient.id)
    problems = status.problems()
    if problems or status.plan is None:
        raise Conflict(f"patient: cannot book a series yet: {'; '.join(problems)}", field="patient")
    protocol = _protocol(uow, status.plan.protocol_id)
    uow.schedule.lock_site(site.id)  # before reading: see the module docstring
    book = _site_book(uow, site)
    own = {v.local_day for v in uow.schedule.patient_visits(patient.id)}
    if earliest:
        search = _search(uow, book, protocol, start_date, own, now)
        if not search.found:
            raise Conflict(f"start_date: {search.describe()}", field="start_date")
        visits = search.visits
    else:
        visits = _planned_visits(uow, book, protocol, start_date, own, now)
    series = uow.schedule.add_series(
        Series(
            id=0,
            patient_id=patient.id,
            site_id=site.id,
            plan_id=status.plan.id,
            protocol_id=protocol.id,
            booked_by=principal.user_id,
            booked_at=clock.now(),
        ),
        [_new_visit(book, visit, n) for n, visit in enumerate(visits, start=1)],
    )
    record(
        uow,
        clock,
        actor,
        AuditAction.CREATE,
        "series",
        site_id=site.id,
        patient_id=patient.id,
        resource_id=series.id,
        detail=f"{protocol.id}, {len(visits)} visits" + (", earliest" if earliest else ""),
    )
    uow.commit()
    return series


def _search(
    uow: UnitOfWork,
    book: SiteBook,
    protocol: Protocol,
    start_date: dt.date,
    own: set[dt.date],
    now: dt.datetime,
) -> SeriesSearch:
    """The earliest feasible series from ``start_date`` on (the site's visits of every day the
    search may reach, the time already past today, the patient's other visit days)."""
    last = start_date + dt.timedelta(days=SEARCH_DAYS + protocol.window_days)
    taken = _bookings(uow, book, start_date, last) + _elapsed_today(book, now)
    return earliest_series(book.schedule, taken, protocol, start_date, blocked_dates=own)


def _planned_visits(
    uow: UnitOfWork,
    book: SiteBook,
    protocol: Protocol,
    start_date: dt.date,
    own: set[dt.date],
    now: dt.datetime,
) -> tuple[Booking, ...]:
    """The visits on exactly the protocol's dates, or :class:`Conflict` naming what does not
    fit and the earliest series that would."""
    dates = plan(protocol, start_date)
    clash = sorted(own.intersection(dates))
    problem: str | None = None
    visits: tuple[Booking, ...] = ()
    if clash:
        problem = (
            f"the patient already has a visit on {clash[0].isoformat()}, a date of this series"
        )
    else:
        taken = _bookings(uow, book, dates[0], dates[-1]) + _elapsed_today(book, now)
        result = book_series_core(book.schedule, taken, protocol, start_date)
        if result.complete:
            visits = result.visits
        else:
            detail = "; ".join(f"{p.day.isoformat()}: {p.reason}" for p in result.problems)
            problem = (
                f"{len(result.problems)} planned date(s) of {protocol.id} have no free chair: "
                f"{detail}"
            )
    if problem is None:
        return visits
    search = _search(uow, book, protocol, start_date, own, now)
    hint = f"earliest possible: {search.describe()}" if search.found else search.describe()
    raise Conflict(f"start_date: {problem}; {hint}", field="start_date")


def _own_series(
    uow: UnitOfWork, clock: Clock, actor: Actor, patient: Patient, series_id: int, resource: str
) -> Series:
    series = uow.schedule.get_series(series_id)
    if series is None or series.patient_id != patient.id:
        raise deny(
            uow,
            clock,
            actor,
            resource,
            NotFound(f"series {series_id} not found", field="series_id"),
            patient_id=patient.id,
            resource_id=series_id,
        )
    return series


def _scheduled_visit(series: Series, visit_number: int) -> Visit:
    """The series' visit with this number, if it is on the schedule."""
    visit = series.visit_numbered(visit_number)
    if visit is None:
        numbers = ", ".join(str(v.number) for v in series.visits) or "none left"
        cancelled = {c.visit.number for c in series.cancelled}
        why = " (it was cancelled)" if visit_number in cancelled else ""
        raise InvalidInput.for_field(
            "visit_number",
            visit_number,
            f"the number of a visit of series {series.id} on the schedule{why}: {numbers}",
        )
    return visit


def _not_at_the_chair(uow: UnitOfWork, visit: Visit, verb: str) -> None:
    """Refuse to change a visit the patient has been checked in for at a chair (before its
    booked time, as happens when a patient arrives early): the chair session is the record of
    that visit, and cancelling or moving the visit under it would orphan the session."""
    if uow.visit_links.for_visits([visit.id]):
        raise Conflict(
            f"visit_number: the patient was checked in at the chair for visit {visit.number}, "
            f"so it cannot be {verb}; if it is not taking place, cancel the chair session",
            field="visit_number",
        )


def reschedule_visit(
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    patient_id: int,
    series_id: int,
    visit_number: int,
    new_day: dt.date | None,
    *,
    at: dt.time | None = None,
    chair_code: str | None = None,
) -> Series:
    """Move visit ``visit_number`` (1-based) of a series to ``new_day`` (earliest free slot, or
    exactly ``at``, on ``chair_code`` or any chair), keeping the protocol's spacing.
    ``new_day`` ``None`` keeps the visit's day (a new time or chair only).

    Raises:
        InvalidInput: unknown visit number; a day before today; a date that breaks the
            series' order or spacing (the message says which visits and why); a time outside
            hours; an unknown chair.
        Conflict: the visit already took place; no free chair then; the patient has another
            visit that day.
    """
    require_role(uow, clock, actor, "series_visit", SCHEDULING)
    patient = load_visible(uow, clock, actor, patient_id, "series_visit")
    site = _patient_site(uow, patient)
    # The lock comes before reading the series: a concurrent move or cancellation of one of
    # its visits is then decided before this one reads it (see the module docstring).
    uow.schedule.lock_site(site.id)
    series = _own_series(uow, clock, actor, patient, series_id, "series_visit")
    visit = _scheduled_visit(series, visit_number)
    index = series.visits.index(visit)
    now = local_now(clock, site)
    new_day = visit.local_day if new_day is None else new_day
    if new_day < now.date():
        raise InvalidInput.for_field(
            "new_day", new_day.isoformat(), f"today ({now.date().isoformat()}) or later"
        )
    if visit.starts_at <= clock.now():
        raise Conflict(
            f"visit_number: visit {visit_number} began on {visit.local_day.isoformat()} and "
            "cannot be moved",
            field="visit_number",
        )
    _not_at_the_chair(uow, visit, "moved")
    others = {
        v.local_day for v in uow.schedule.patient_visits(patient.id) if v.series_id != series.id
    }
    if new_day in others:
        raise Conflict(
            f"new_day: the patient already has another visit on {new_day.isoformat()}",
            field="new_day",
        )
    protocol = _protocol(uow, series.protocol_id)
    book = _site_book(uow, site)
    own = [_as_booking(book, v) for v in series.visits]
    taken = _bookings(uow, book, new_day, new_day) + _elapsed_today(book, now)
    moved = reschedule_core(
        book.schedule,
        taken,
        protocol,
        own,
        index,
        new_day,
        at=at,
        chair_id=chair_code,
    )[index]
    new_visit = _new_visit(book, moved, visit.number)
    uow.schedule.move_visit(visit.id, new_visit)
    if new_visit.starts_at != visit.starts_at:
        # A reminder e-mailed for the old time says nothing true any more: the visit is
        # reminded again before its new time (services/visit_reminders.py).
        uow.visit_notices.forget(visit.id, NoticeKind.REMINDER)
    record(
        uow,
        clock,
        actor,
        AuditAction.UPDATE,
        "series_visit",
        site_id=site.id,
        patient_id=patient.id,
        resource_id=visit.id,
        detail=f"series {series.id} visit {visit_number} moved",
    )
    uow.commit()
    found = uow.schedule.get_series(series.id)
    assert found is not None
    return found


def cancel_visit(
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    patient_id: int,
    series_id: int,
    visit_number: int,
    reason: str,
) -> Series:
    """Take visit ``visit_number`` of a series off the schedule, with a reason: its chair is
    free again, and the visit is kept among the series' cancelled visits with who and when.

    The other visits keep their days and times. Taking a visit out never brings two visits
    closer together or stretches the series, so what remains keeps the protocol's spacing.

    Raises:
        InvalidInput: no visit with that number on the schedule (or already cancelled); a blank
            reason or one longer than 500 characters.
        Conflict: the visit has begun (it happened; the chair's record says how).
        PermissionDenied / NotFound: audited refusals.
    """
    principal = require_role(uow, clock, actor, "series_visit", SCHEDULING)
    patient = load_visible(uow, clock, actor, patient_id, "series_visit")
    series = _own_series(uow, clock, actor, patient, series_id, "series_visit")
    visit = _scheduled_visit(series, visit_number)
    text = " ".join(clean_text(reason).split())
    if not text or len(text) > CANCEL_REASON_MAX:
        raise InvalidInput.for_field(
            "reason", reason, f"a reason of 1–{CANCEL_REASON_MAX} characters"
        )
    if visit.starts_at <= clock.now():
        raise Conflict(
            f"visit_number: visit {visit_number} began on {visit.local_day.isoformat()} and "
            "cannot be cancelled",
            field="visit_number",
        )
    _not_at_the_chair(uow, visit, "cancelled")
    site = _patient_site(uow, patient)
    uow.schedule.lock_site(site.id)
    uow.schedule.cancel_visit(visit.id, principal.user_id, clock.now(), text)
    record(
        uow,
        clock,
        actor,
        AuditAction.DELETE,
        "series_visit",
        site_id=site.id,
        patient_id=patient.id,
        resource_id=visit.id,
        detail=f"series {series.id} visit {visit_number} cancelled",
    )
    uow.commit()
    found = uow.schedule.get_series(series.id)
    assert found is not None
    return found


# --- views ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SeriesView:
    """A patient's series for scheduling: what blocks booking (no clinical detail), the signed
    plan's protocol and start date, each series with its visits, and chair codes by id."""

    patient: Patient
    site: Site
    problems: tuple[str, ...]
    plan: TreatmentPlan | None
    series: tuple[Series, ...]
    chair_codes: dict[int, str]
    protocols: dict[str, Protocol]
    today: dt.date
    now_utc: dt.datetime

    def local(self, moment: dt.datetime) -> dt.datetime:
        return to_local(moment, self.site)


def series_view(uow: UnitOfWork, clock: Clock, actor: Actor, patient_id: int) -> SeriesView:
    require_role(uow, clock, actor, "series", SCHEDULING)
    patient = load_visible(uow, clock, actor, patient_id, "series")
    site = _patient_site(uow, patient)
    status = clearance(uow, patient.id)
    series = tuple(uow.schedule.series_for(patient.id))
    record(
        uow,
        clock,
        actor,
        AuditAction.READ,
        "series",
        site_id=site.id,
        patient_id=patient.id,
        resource_id=patient.id,
    )
    uow.commit()
    return SeriesView(
        patient=patient,
        site=site,
        problems=tuple(status.problems()),
        plan=status.plan,
        series=series,
        chair_codes={c.id: c.code for c in uow.sites.chairs(site.id, retired=True)},
        protocols=catalog(uow),
        today=local_today(clock, site),
        now_utc=clock.now(),
    )


@dataclass(frozen=True, slots=True)
class DayEntry:
    """One visit on the day view, in site-local time."""

    visit: Visit
    chair_code: str
    start: dt.datetime
    end: dt.datetime
    patient_id: int
    mrn: str
    patient_name: str
    of: int
    protocol_id: str


@dataclass(frozen=True, slots=True)
class DayView:
    site: Site
    day: dt.date
    hours: OpeningHours | None
    slot_min: int
    chairs: tuple[Chair, ...]
    entries: tuple[DayEntry, ...]


def day_view(uow: UnitOfWork, clock: Clock, actor: Actor, site_id: int, day: dt.date) -> DayView:
    """Every chair of a site and its visits on ``day`` (any staff member of that site)."""
    require_role(uow, clock, actor, "schedule", SCHEDULING)
    site = _visible_site(uow, clock, actor, site_id, "schedule")
    hours = uow.schedule.hours(site.id)
    opening = next((h for h in hours.hours if h.weekday == day.weekday()), None) if hours else None
    every_chair = uow.sites.chairs(site.id, retired=True)
    codes = {c.id: c.code for c in every_chair}
    start, end = _day_window(site, day, day)
    entries: list[DayEntry] = []
    series_cache: dict[int, Series] = {}
    for visit in uow.schedule.visits_between(site.id, start, end):
        patient = uow.patients.get(visit.patient_id)
        series = series_cache.get(visit.series_id) or uow.schedule.get_series(visit.series_id)
        if patient is None or series is None:
            continue
        series_cache[series.id] = series
        entries.append(
            DayEntry(
                visit=visit,
                chair_code=codes.get(visit.chair_id, "?"),
                start=to_local(visit.starts_at, site),
                end=to_local(visit.ends_at, site),
                patient_id=patient.id,
                mrn=patient.mrn,
                patient_name=patient.display_name,
                of=len(series.visits),
                protocol_id=series.protocol_id,
            )
        )
    # The chairs in service, and a retired one only on a day it still holds visits.
    used = {e.visit.chair_id for e in entries}
    chairs = tuple(c for c in every_chair if c.in_service or c.id in used)
    record(
        uow,
        clock,
        actor,
        AuditAction.READ,
        "schedule",
        site_id=site.id,
        detail=f"{day.isoformat()}: {len(entries)} visits",
    )
    uow.commit()
    return DayView(
        site=site,
        day=day,
        hours=opening,
        slot_min=hours.slot_min if hours else 15,
        chairs=chairs,
        entries=tuple(entries),
    )
