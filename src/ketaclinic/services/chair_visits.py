"""The infusion session and the booked visit it fulfils: where the chair meets intake's schedule.

- **Check-in** links the new session to the patient's visit of that day at the chair's site
  (site-local date), preferring one booked on that very chair; a patient walked in without a
  booking gets a session without a visit.
- **Completing** the infusion (the planned dose was given) or **discharging** the patient marks
  the visit done, at the first of the two; a session stopped early is done at its discharge.
- **Cancelling** the session before the start frees the visit again, so the patient can be
  checked in for it once more.
- Intake reads the real sessions of a series (:func:`series_sessions`): the end-of-induction
  decision goes by the infusions given, not by the booked times, once there are any.

Every function here works inside the caller's unit of work: nothing is committed or audited
(the calling use case records its own read or write of the session).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ketaclinic.domain.people import Site
from ketaclinic.domain.session_lifecycle import Transition
from ketaclinic.services.chair_ports import SessionRow
from ketaclinic.services.chair_visit_ports import VisitLink
from ketaclinic.services.intake_common import to_local
from ketaclinic.services.intake_models import Series, Visit
from ketaclinic.services.ports import UnitOfWork

DONE_TRANSITIONS = frozenset({Transition.COMPLETE, Transition.DISCHARGE})


def todays_visit(
    uow: UnitOfWork, patient_id: int, site: Site, chair_id: int, now: dt.datetime
) -> Visit | None:
    """The patient's visit at ``site`` on the site-local day of ``now`` that no session fulfils
    yet: the one booked on ``chair_id`` if there is one, else the earliest of the day."""
    day = to_local(now, site).date()
    candidates = [
        v
        for v in uow.schedule.patient_visits(patient_id)
        if v.site_id == site.id and v.local_day == day
    ]
    taken = uow.visit_links.for_visits([v.id for v in candidates])
    free = sorted((v for v in candidates if v.id not in taken), key=lambda v: (v.starts_at, v.id))
    return next((v for v in free if v.chair_id == chair_id), free[0] if free else None)


def link_at_check_in(uow: UnitOfWork, row: SessionRow, site: Site) -> VisitLink | None:
    """Link a just-opened session to the patient's visit of the day (see :func:`todays_visit`);
    ``None`` when the patient has no booked visit that day."""
    visit = todays_visit(uow, row.patient_id, site, row.chair_id, row.checked_in_at)
    if visit is None:
        return None
    return uow.visit_links.link(row.id, visit.id, row.checked_in_at)


def after_transition(
    uow: UnitOfWork, session_id: int, transition: Transition, at: dt.datetime
) -> None:
    """Keep the session's visit in step with the session: done on complete or discharge (the
    first time counts), freed again when the session is cancelled."""
    if transition in DONE_TRANSITIONS:
        uow.visit_links.mark_done(session_id, at)
    elif transition is Transition.CANCEL:
        uow.visit_links.unlink(session_id)


@dataclass(frozen=True, slots=True)
class SessionVisit:
    """The booked visit a session fulfils: the visit, its series and the link."""

    visit: Visit
    series: Series
    link: VisitLink

    @property
    def of(self) -> int:
        """How many visits the series has on the schedule."""
        return len(self.series.visits)


def visit_of_session(uow: UnitOfWork, row: SessionRow) -> SessionVisit | None:
    """The visit session ``row`` fulfils, or ``None`` (no booking, or the visit was taken off
    the schedule since)."""
    link = uow.visit_links.for_session(row.id)
    if link is None:
        return None
    visit = next(
        (v for v in uow.schedule.patient_visits(row.patient_id) if v.id == link.visit_id), None
    )
    series = uow.schedule.get_series(visit.series_id) if visit is not None else None
    if visit is None or series is None:
        return None
    return SessionVisit(visit, series, link)


@dataclass(frozen=True, slots=True)
class VisitSession:
    """A visit of a series with the session that fulfilled it, if any."""

    visit: Visit
    session: SessionRow | None
    link: VisitLink | None

    @property
    def given(self) -> bool:
        """An infusion was given at this visit (started, and ended: completed or stopped)."""
        s = self.session
        return (
            s is not None and s.infusion_started_at is not None and s.infusion_ended_at is not None
        )


def series_sessions(uow: UnitOfWork, series: Series) -> list[VisitSession]:
    """Each visit of ``series`` in order, with its session (when one was linked)."""
    links = uow.visit_links.for_visits([v.id for v in series.visits])
    found: list[VisitSession] = []
    for visit in series.visits:
        link = links.get(visit.id)
        session = uow.chair.get_session(link.session_id) if link is not None else None
        found.append(VisitSession(visit, session, link))
    return found
