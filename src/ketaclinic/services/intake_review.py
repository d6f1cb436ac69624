"""The decision at the end of a series: the prescriber sees the response and chooses to
continue, move to maintenance, or stop.

Response is judged with :func:`~ketaclinic.domain.outcomes.assess_patient` on PCL-5 totals:
the baseline is the intake's PCL-5 (or a later questionnaire response from measurement-based
care, area ``mbc``, dated on or before the first infusion), follow-ups are the PCL-5 responses
after it. Without follow-up scores the page shows the baseline and says so.

The infusions are the real ones once the chair has them (``services/chair_visits.py``): the
first infusion is the first session that started, and the series is over when the session of
its last visit has ended (completed, or stopped early). While no session fulfils the last
visit, its booked end time decides, as it did before any session was recorded.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ketaclinic.domain.audit import AuditAction
from ketaclinic.domain.errors import Conflict, InvalidInput, NotFound
from ketaclinic.domain.outcomes import DatedScore, PatientOutcome, assess_patient
from ketaclinic.domain.people import Patient
from ketaclinic.services import chair_visits
from ketaclinic.services.audit import Actor, deny, record, require_role
from ketaclinic.services.chair_visits import VisitSession
from ketaclinic.services.intake_common import CLINICAL, PRESCRIBER, to_local
from ketaclinic.services.intake_models import (
    DECISION_NOTE_MAX,
    InductionDecision,
    Series,
    clean_text,
)
from ketaclinic.services.patients import load_visible
from ketaclinic.services.ports import Clock, UnitOfWork

PCL5 = "pcl5"


@dataclass(frozen=True, slots=True)
class InductionReview:
    """What the prescriber decides on: the series, whether its last infusion is over, the
    PCL-5 scores (baseline first) and, when follow-ups exist, the judged outcome. ``visits``
    pairs each visit with the session that fulfilled it, if any."""

    patient: Patient
    series: Series
    finished: bool
    scores: tuple[DatedScore, ...]
    outcome: PatientOutcome | None
    visits: tuple[VisitSession, ...] = ()
    first_infusion: dt.date | None = None

    @property
    def given(self) -> int:
        """How many infusions of the series were given (sessions started and ended)."""
        return sum(1 for v in self.visits if v.given)

    @property
    def baseline(self) -> DatedScore | None:
        return self.outcome.baseline if self.outcome else (self.scores[0] if self.scores else None)


def _pcl5_scores(uow: UnitOfWork, patient: Patient, first_day: dt.date) -> list[DatedScore]:
    """PCL-5 totals by date: the intake's answers, then stored questionnaire responses (one per
    date; a response replaces an intake total of the same day, the later response wins)."""
    site = uow.sites.get(patient.site_id)
    by_day: dict[dt.date, float] = {}
    for intake in reversed(uow.intake.intakes(patient.id)):  # oldest first
        if intake.record.assessment_date <= first_day:
            by_day[intake.record.assessment_date] = float(intake.record.pcl5_total)
    for response in uow.responses.for_patient(patient.id, [PCL5]):
        if response.total is None:
            continue
        day = to_local(response.completed_at, site).date() if site else response.completed_at.date()
        by_day[day] = float(response.total)
    return [DatedScore(day, total) for day, total in sorted(by_day.items())]


def _series_of(
    uow: UnitOfWork, clock: Clock, actor: Actor, patient: Patient, series_id: int
) -> Series:
    series = uow.schedule.get_series(series_id)
    if series is None or series.patient_id != patient.id or not series.visits:
        raise deny(
            uow,
            clock,
            actor,
            "series",
            NotFound(f"series {series_id} not found", field="series_id"),
            patient_id=patient.id,
            resource_id=series_id,
        )
    return series


@dataclass(frozen=True, slots=True)
class _Course:
    """A series as it went: the visits with their sessions, the day of the first infusion, and
    whether (and when) the last infusion was over."""

    visits: tuple[VisitSession, ...]
    first_day: dt.date
    finished: bool
    last_day: dt.date


def _course(uow: UnitOfWork, patient: Patient, series: Series, now: dt.datetime) -> _Course:
    visits = tuple(chair_visits.series_sessions(uow, series))
    site = uow.sites.get(patient.site_id)
    assert site is not None  # a patient's site always exists (foreign key)
    starts = sorted(
        v.session.infusion_started_at
        for v in visits
        if v.session is not None and v.session.infusion_started_at is not None
    )
    first_day = to_local(starts[0], site).date() if starts else series.visits[0].local_day
    last = visits[-1]
    if last.session is not None:  # the real session of the last visit decides
        ended = last.session.infusion_ended_at
        finished = ended is not None and ended <= now
    else:
        finished = last.visit.ends_at <= now
    return _Course(visits, first_day, finished, last.visit.local_day)


def induction_review(
    uow: UnitOfWork, clock: Clock, actor: Actor, patient_id: int, series_id: int
) -> InductionReview:
    """The response to a series, for clinical roles."""
    require_role(uow, clock, actor, "series_review", CLINICAL)
    patient = load_visible(uow, clock, actor, patient_id, "series_review")
    series = _series_of(uow, clock, actor, patient, series_id)
    course = _course(uow, patient, series, clock.now())
    first_day = course.first_day
    scores = _pcl5_scores(uow, patient, first_day)
    outcome = None
    if any(s.on > first_day for s in scores):
        try:
            outcome = assess_patient(scores, first_day)
        except InvalidInput:
            outcome = None  # no baseline on or before the first infusion: nothing to judge
    record(
        uow,
        clock,
        actor,
        AuditAction.READ,
        "series_review",
        site_id=patient.site_id,
        patient_id=patient.id,
        resource_id=series.id,
    )
    uow.commit()
    return InductionReview(
        patient,
        series,
        course.finished,
        tuple(scores),
        outcome,
        visits=course.visits,
        first_infusion=first_day,
    )


def record_induction_decision(
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    patient_id: int,
    series_id: int,
    decision: InductionDecision,
    note: str = "",
) -> Series:
    """Record the prescriber's decision after the series' last infusion (its session ended,
    or, with no session for the last visit, its booked end passed).

    Raises:
        PermissionDenied: not a prescriber (audited).
        Conflict: the last infusion has not ended yet, or a decision is already recorded.
        InvalidInput: a note longer than 2000 characters.
    """
    principal = require_role(uow, clock, actor, "series_decision", PRESCRIBER)
    patient = load_visible(uow, clock, actor, patient_id, "series_decision")
    series = _series_of(uow, clock, actor, patient, series_id)
    course = _course(uow, patient, series, clock.now())
    if not course.finished:
        raise Conflict(
            f"series_id: the last infusion of series {series.id} is on "
            f"{course.last_day.isoformat()}; decide after it",
            field="series_id",
        )
    if series.decision is not None:
        raise Conflict(
            f"series_id: a decision is already recorded ({series.decision.value})",
            field="series_id",
        )
    text = clean_text(note)
    if len(text) > DECISION_NOTE_MAX:
        raise InvalidInput.for_field(
            "note", f"{len(text)} characters", f"at most {DECISION_NOTE_MAX} characters"
        )
    updated = uow.schedule.set_decision(series.id, decision, text, principal.user_id, clock.now())
    record(
        uow,
        clock,
        actor,
        AuditAction.UPDATE,
        "series_decision",
        site_id=patient.site_id,
        patient_id=patient.id,
        resource_id=series.id,
        detail=decision.value,
    )
    uow.commit()
    return updated
