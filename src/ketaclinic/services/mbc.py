"""Measurement-based care: recording questionnaire responses and C-SSRS results, reading a
patient's scores, and judging their PCL-5 outcome.

Every function takes ``(uow, clock, actor, ...)``, allows clinical roles only (front desk gets an
audited 403), scopes the patient to the caller's sites (another site: audited 404), records every
read and write in the audit trail and commits. Recording scores the answers with the instrument
core (completeness guard: nothing partial is stored), refuses a repeated submission, and routes a
positive PHQ-9 item 9 or C-SSRS to a same-day safety task (services/mbc_safety.py), e-mailed to
the site's prescribers after the commit.

Outcomes (domain/outcomes.py, REFERENCE.md §8.1): baseline is the last PCL-5 on or before the
first infusion. The first infusion comes from storage (services/mbc_timeline.py: the first
infusion session that started at the chair, else the first booked visit of the patient's
series); a caller may pass ``first_infusion_on`` instead. With neither, the baseline is the
patient's first PCL-5 on record, and the view says so. Scores are dated in the site's time zone;
with several on one day, the last of the day counts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from ketaclinic.domain.audit import AuditAction
from ketaclinic.domain.errors import InvalidInput
from ketaclinic.domain.instruments import record_cssrs, score_instrument
from ketaclinic.domain.instruments.model import Instrument, ScoringMethod
from ketaclinic.domain.instruments.scoring import Answers, ScoreResult
from ketaclinic.domain.outcomes import (
    PCL5_DEFAULTS,
    DatedScore,
    OutcomeDefinitions,
    PatientOutcome,
    assess_patient,
)
from ketaclinic.domain.people import CLINICAL_ROLES, Patient
from ketaclinic.services import clinic_settings, mbc_safety
from ketaclinic.services.audit import Actor, record, record_patient, require_role
from ketaclinic.services.mbc_content import check_language, known_instrument
from ketaclinic.services.mbc_model import (
    BookedVisit,
    CssrsDetail,
    QuestionnaireResponse,
    ResponseSource,
    SafetyTask,
    SessionStart,
)
from ketaclinic.services.mbc_timeline import FirstInfusion, InfusionSource, first_infusion
from ketaclinic.services.patients import load_visible
from ketaclinic.services.ports import Clock, Notifier, UnitOfWork

PCL5_IDS = ("pcl5", "pcl5-week")
"""Both PCL-5 forms count towards PCL-5 outcomes; each score keeps its version."""
CLOCK_SKEW = dt.timedelta(minutes=5)
"""How far in the future a completion time may lie (device clocks differ a little)."""
STAFF_SOURCES = (ResponseSource.STAFF_ENTRY, ResponseSource.INTAKE)


@dataclass(frozen=True, slots=True)
class Recorded:
    """A stored response and the safety task it raised, if any."""

    response: QuestionnaireResponse
    task: SafetyTask | None
    notified: int = 0


def record_response(
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    patient_id: int,
    instrument_id: str,
    answers: Answers,
    *,
    notifier: Notifier,
    completed_at: dt.datetime | None = None,
    source: ResponseSource = ResponseSource.STAFF_ENTRY,
    language: str = "en",
) -> Recorded:
    """Score and store a staff-entered response (``staff_entry`` or ``intake``).

    ``answers`` are in item order or keyed by item id; ``completed_at`` defaults to now and may
    lie in the past, not in the future. Raises :class:`InvalidInput` for an unknown or
    clinician-entered instrument, incomplete or out-of-range answers, a future time or an unknown
    language; :class:`Conflict` for a repeated submission. Nothing is stored on any error.
    """
    principal = require_role(uow, clock, actor, "questionnaire_response", CLINICAL_ROLES)
    patient = load_visible(uow, clock, actor, patient_id, "questionnaire_response")
    if source not in STAFF_SOURCES:
        raise InvalidInput.for_field(
            "source",
            source,
            "staff_entry or intake (self-reports arrive through the patient's one-time link)",
        )
    instrument = known_instrument(instrument_id, "questionnaire")
    if instrument.scoring.method is not ScoringMethod.SUM:
        raise InvalidInput.for_field(
            "questionnaire",
            instrument_id,
            "an item-scored instrument (C-SSRS is recorded as the clinician's result)",
        )
    result = score_with_clinic_values(uow, instrument, answers)
    now = clock.now()
    response = QuestionnaireResponse.scored(
        result,
        patient_id=patient.id,
        source=source,
        entered_by=principal.user_id,
        completed_at=checked_completed_at(completed_at, now, patient),
        language=check_language(language),
    )
    return _store(uow, clock, actor, notifier, patient, response, detail=instrument.id)


def score_with_clinic_values(
    uow: UnitOfWork, instrument: Instrument, answers: Answers
) -> ScoreResult:
    """Score ``answers`` with the clinic's values where the instrument has one: the PCL-5
    cut-point (``services/clinic_settings.clinic_pcl5_cut_point``; default 33 [cited: VA PCL-5
    guide, REFERENCE.md §8.1]). The threshold used, with its provenance, is part of the
    result and is stored with the flags."""
    cut_point = None
    if instrument.scoring.cut_point is not None:
        cut_point = clinic_settings.clinic_pcl5_cut_point(uow)
    return score_instrument(instrument, answers, cut_point=cut_point)


def record_cssrs_result(
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    patient_id: int,
    *,
    notifier: Notifier,
    form: str,
    risk_level: str,
    positive_questions: Collection[int],
    q6_within_3_months: bool | None,
    action: str = "",
    completed_at: dt.datetime | None = None,
) -> Recorded:
    """Store a clinician's C-SSRS screener result (no automated triage, REFERENCE.md §8.4).

    The clinician is the acting user. Any Yes or a level above low raises a safety task.
    Raises :class:`InvalidInput` as :func:`~ketaclinic.domain.instruments.record_cssrs` does.
    """
    principal = require_role(uow, clock, actor, "questionnaire_response", CLINICAL_ROLES)
    patient = load_visible(uow, clock, actor, patient_id, "questionnaire_response")
    result = record_cssrs(
        form=form,
        risk_level=risk_level,
        positive_questions=positive_questions,
        q6_within_3_months=q6_within_3_months,
        clinician_id=principal.username,
        action=action.strip() if isinstance(action, str) else action,
    )
    now = clock.now()
    response = QuestionnaireResponse.scored(
        result.as_score_result(),
        patient_id=patient.id,
        source=ResponseSource.STAFF_ENTRY,
        entered_by=principal.user_id,
        completed_at=checked_completed_at(completed_at, now, patient),
        language="en",
        cssrs=CssrsDetail(result.form, result.risk_level, result.action),
    )
    return _store(uow, clock, actor, notifier, patient, response, detail="cssrs")


def store_response(
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    patient: Patient,
    response: QuestionnaireResponse,
    detail: str,
) -> tuple[QuestionnaireResponse, SafetyTask | None]:
    """Inside the caller's transaction: store, audit and route one response (no commit)."""
    stored = uow.responses.add(response, clock.now())
    record(
        uow,
        clock,
        actor,
        AuditAction.CREATE,
        "questionnaire_response",
        site_id=patient.site_id,
        patient_id=patient.id,
        resource_id=stored.id,
        detail=detail,
    )
    return stored, mbc_safety.raise_if_needed(uow, clock, actor, patient, stored)


def _store(
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    notifier: Notifier,
    patient: Patient,
    response: QuestionnaireResponse,
    detail: str,
) -> Recorded:
    stored, task = store_response(uow, clock, actor, patient, response, detail)
    uow.commit()
    notified = mbc_safety.notify(uow, clock, notifier, task) if task is not None else 0
    return Recorded(stored, task, notified)


def checked_completed_at(
    completed_at: dt.datetime | None, now: dt.datetime, patient: Patient
) -> dt.datetime:
    """``completed_at`` as UTC (now if ``None``): timezone-aware, not in the future, not before
    the patient was born."""
    if completed_at is None:
        return now
    if completed_at.tzinfo is None:
        raise InvalidInput.for_field(
            "completed_at", completed_at.isoformat(), "a time with its UTC offset"
        )
    at = completed_at.astimezone(dt.UTC)
    if at > now + CLOCK_SKEW:
        raise InvalidInput.for_field(
            "completed_at", at.isoformat(), "a time that is not in the future"
        )
    if at.date() < patient.birth_date:
        raise InvalidInput.for_field(
            "completed_at", at.isoformat(), "a time after the patient's birth date"
        )
    return at


def patient_for_entry(uow: UnitOfWork, clock: Clock, actor: Actor, patient_id: int) -> Patient:
    """The patient whose scores are about to be entered (clinical roles, own sites); the read
    of their identity for the entry form is audited."""
    require_role(uow, clock, actor, "questionnaire_response", CLINICAL_ROLES)
    patient = load_visible(uow, clock, actor, patient_id, "questionnaire_response")
    record_patient(
        uow, clock, actor, AuditAction.READ, "patient", patient, detail="score entry form"
    )
    uow.commit()
    return patient


@dataclass(frozen=True, slots=True)
class PatientScores:
    patient: Patient
    responses: list[QuestionnaireResponse]
    tasks: list[SafetyTask]

    def of(self, *instrument_ids: str) -> list[QuestionnaireResponse]:
        return [r for r in self.responses if r.instrument_id in instrument_ids]


def patient_scores(
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    patient_id: int,
    instrument_ids: Collection[str] | None = None,
) -> PatientScores:
    """The patient's responses (oldest first) and safety tasks (newest first); audited read."""
    require_role(uow, clock, actor, "questionnaire_response", CLINICAL_ROLES)
    patient = load_visible(uow, clock, actor, patient_id, "questionnaire_response")
    responses = uow.responses.for_patient(patient.id, instrument_ids)
    tasks = uow.safety_tasks.for_patient(patient.id)
    record_patient(
        uow,
        clock,
        actor,
        AuditAction.READ,
        "questionnaire_response",
        patient,
        detail=f"{len(responses)} responses",
    )
    uow.commit()
    return PatientScores(patient, responses, tasks)


@dataclass(frozen=True, slots=True)
class OutcomeView:
    """A patient's PCL-5 outcome, or why there is none (``outcome`` is ``None``).

    ``first_infusion`` is the infusion the baseline is anchored on (``None``: none recorded, so
    the baseline is the first PCL-5 on record); ``baseline_reason`` says in a sentence which
    score is the baseline and why; ``scores`` are every dated PCL-5 total (last of each local
    day), oldest first."""

    patient: Patient
    outcome: PatientOutcome | None
    baseline_rule: str
    versions: Mapping[dt.date, str]
    note: str = ""
    first_infusion: FirstInfusion | None = None
    baseline_reason: str = ""
    scores: tuple[DatedScore, ...] = ()
    definitions: OutcomeDefinitions = PCL5_DEFAULTS  # the clinic's, with their sources


def patient_outcomes(
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    patient_id: int,
    *,
    first_infusion_on: dt.date | None = None,
    definitions: OutcomeDefinitions | None = None,
) -> OutcomeView:
    """Baseline, change, response, remission, reliable and clinically significant change and
    durability of the patient's PCL-5 (see the module docstring for the baseline), judged by
    ``definitions`` (default: the clinic's, services/clinic_settings.py). Audited."""
    require_role(uow, clock, actor, "outcome", CLINICAL_ROLES)
    patient = load_visible(uow, clock, actor, patient_id, "outcome")
    site = uow.sites.get(patient.site_id)
    timezone = site.timezone if site is not None else "UTC"
    zone = ZoneInfo(timezone)
    if definitions is None:
        definitions = clinic_settings.clinic_outcome_definitions(uow)
    responses = uow.responses.for_patient(patient.id, PCL5_IDS)
    if first_infusion_on is None:
        first = first_infusion(uow.infusion_history.anchor(patient.id), timezone)
    else:
        first = FirstInfusion(first_infusion_on, InfusionSource.GIVEN)
    record_patient(uow, clock, actor, AuditAction.READ, "outcome", patient)
    uow.commit()
    by_day: dict[dt.date, tuple[int, str]] = {}
    for response in responses:  # oldest first, so the last of a day wins
        if response.total is not None:
            day = response.completed_at.astimezone(zone).date()
            by_day[day] = (response.total, response.instrument_version)
    if first is None:
        rule = "first PCL-5 on record (no infusion session or booked visit recorded yet)"
    else:
        rule = f"last PCL-5 on or before the first infusion ({first.on.isoformat()})"
    versions = {day: version for day, (_total, version) in by_day.items()}
    scores = tuple(DatedScore(day, float(total)) for day, (total, _v) in sorted(by_day.items()))
    if not by_day:
        return OutcomeView(
            patient,
            None,
            rule,
            versions,
            "No PCL-5 recorded yet.",
            first,
            scores=scores,
            definitions=definitions,
        )
    anchor = first.on if first is not None else min(by_day)
    if anchor < min(by_day):
        return OutcomeView(
            patient,
            None,
            rule,
            versions,
            "No PCL-5 on or before the first infusion.",
            first,
            f"No baseline: the first PCL-5 is dated after the first infusion ({anchor}).",
            scores,
            definitions,
        )
    outcome = assess_patient(list(scores), anchor, definitions)
    note = "" if outcome.points else "Only a baseline so far: no follow-up PCL-5 yet."
    return OutcomeView(
        patient,
        outcome,
        rule,
        versions,
        note,
        first,
        _baseline_reason(outcome, first),
        scores,
        definitions,
    )


def _baseline_reason(outcome: PatientOutcome, first: FirstInfusion | None) -> str:
    score = f"The baseline is the PCL-5 of {outcome.baseline.on} ({outcome.baseline.total:g})"
    if first is None:
        return (
            f"{score}: the first PCL-5 on record, because no infusion session or booked visit "
            "is recorded yet."
        )
    return f"{score}: the last one on or before the first infusion, because {first.describe()}."


def infusion_starts(
    uow: UnitOfWork, clock: Clock, actor: Actor, patient_id: int
) -> list[SessionStart]:
    """When the patient's infusion sessions started (oldest first), e.g. to mark them on the
    score plot. Clinical roles, own sites; the read is audited."""
    require_role(uow, clock, actor, "infusion_session", CLINICAL_ROLES)
    patient = load_visible(uow, clock, actor, patient_id, "infusion_session")
    starts = uow.infusion_history.session_starts(patient.id)
    record_patient(
        uow,
        clock,
        actor,
        AuditAction.READ,
        "infusion_session",
        patient,
        detail=f"{len(starts)} infusion starts",
    )
    uow.commit()
    return starts


@dataclass(frozen=True, slots=True)
class InfusionMarks:
    """What the score plot marks on its time axis: ``starts`` of infusion sessions that
    really started, and ``visits_without_session``: booked visits that have ended with no
    infusion session started on their site-local day (not started, or not recorded at the
    chair)."""

    starts: tuple[SessionStart, ...]
    visits_without_session: tuple[BookedVisit, ...]


def infusion_marks(uow: UnitOfWork, clock: Clock, actor: Actor, patient_id: int) -> InfusionMarks:
    """The patient's started infusion sessions and past booked visits without one (see
    :class:`InfusionMarks`; a visit is matched to a session by the site-local day, *design*:
    sessions do not store the visit they serve). Clinical roles, own sites; one audited read."""
    require_role(uow, clock, actor, "infusion_session", CLINICAL_ROLES)
    patient = load_visible(uow, clock, actor, patient_id, "infusion_session")
    site = uow.sites.get(patient.site_id)
    zone = ZoneInfo(site.timezone if site is not None else "UTC")
    starts = uow.infusion_history.session_starts(patient.id)
    visits = uow.infusion_history.booked_visits(patient.id)
    now = clock.now()
    infused_days = {s.started_at.astimezone(zone).date() for s in starts}
    missed = tuple(v for v in visits if v.ends_at <= now and v.local_day not in infused_days)
    record_patient(
        uow,
        clock,
        actor,
        AuditAction.READ,
        "infusion_session",
        patient,
        detail=f"{len(starts)} infusion starts, {len(missed)} visits without a session",
    )
    uow.commit()
    return InfusionMarks(tuple(starts), missed)


MAX_PAGE = 100


@dataclass(frozen=True, slots=True)
class ResponsePage:
    """One page of a patient's responses, newest first, and how many there are in all."""

    patient: Patient
    responses: list[QuestionnaireResponse]
    total: int
    limit: int
    offset: int

    @property
    def next_offset(self) -> int | None:
        following = self.offset + len(self.responses)
        return following if following < self.total else None


def response_page(
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    patient_id: int,
    *,
    limit: int = 50,
    offset: int = 0,
) -> ResponsePage:
    """The patient's questionnaire responses newest first, ``limit`` (1–100) from ``offset``
    (≥ 0). Clinical roles, own sites (else audited 403/404); the read is audited."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput.for_field("_count", limit, f"a whole number 1–{MAX_PAGE}")
    if offset < 0:
        raise InvalidInput.for_field("_offset", offset, "a whole number ≥ 0")
    require_role(uow, clock, actor, "questionnaire_response", CLINICAL_ROLES)
    patient = load_visible(uow, clock, actor, patient_id, "questionnaire_response")
    responses, total = uow.responses.page_for_patient(patient.id, limit=limit, offset=offset)
    record_patient(
        uow,
        clock,
        actor,
        AuditAction.READ,
        "questionnaire_response",
        patient,
        detail=f"{len(responses)} responses from {offset}",
    )
    uow.commit()
    return ResponsePage(patient, responses, total, limit, offset)
