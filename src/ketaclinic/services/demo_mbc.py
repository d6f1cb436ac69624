"""Demo clinic, measurement-based care part: synthetic PCL-5, PHQ-9 and GAD-7 histories that
follow each patient's infusion series.

For a patient with a booked series (``services/demo_intake.py``), the baseline (PCL-5, PHQ-9,
GAD-7, at intake) is taken the day before the first infusion, then PCL-5 weekly and PHQ-9 and
GAD-7 every two weeks until now, as staff entries or self-reports. The scores change only after
the first infusion, by the course the intake demo gives the series (:data:`COURSES`):
responders (a falling curve that levels off), responders who lose the response again about six
weeks in (``relapse``), partial responders and non-responders, with noise; patients still in
their first series get a course at random. The chair's demo gives every past visit a discharged
session, so the score plot marks the infusions. Patients without a series (waiting for the
prescriber, excluded, cleared but not booked) have their intake scores only; the two waiting
for the prescriber also a screening PCL-5 from their first call three weeks earlier (the
"none" protocol group of the director's report). DEMO-0003 (MIA) answered PHQ-9 item 9
positively this morning, so an open same-day safety task is waiting for the MIA prescribers.
No real person's data; the same every time for the same clock and random generator.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import replace

from ketaclinic.domain.instruments import score
from ketaclinic.domain.people import Patient
from ketaclinic.services import demo_intake, mbc_safety
from ketaclinic.services.audit import SYSTEM
from ketaclinic.services.mbc_model import QuestionnaireResponse, ResponseSource
from ketaclinic.services.ports import Clock, UnitOfWork

SCORED_PATIENTS = range(1, 34)  # DEMO-0001 … DEMO-0033; the rest are newly registered
SAFETY_PATIENT = "DEMO-0003"
STARTING_PATIENT = "DEMO-0001"
COURSES: dict[str, str] = {
    **{mrn: course for mrn, _protocol, _weeks, course in demo_intake.HISTORY},
    **demo_intake.BOOKED_COURSE,
}
"""The course of the scores after the first infusion, by MRN (the series that ended)."""
# How much of the baseline each course takes off at most (fraction of the total).
# With the noise at most NOISE points on totals of at least 42, a responder's last score is
# always a response (30 % below baseline, REFERENCE.md §8.1) and no score of a partial or
# non-responder ever is, so the story holds whenever the demo is loaded.
DEPTH = {
    "responder": (0.55, 0.75),
    "relapse": (0.55, 0.65),
    "partial": (0.1, 0.16),
    "non_responder": (0.0, 0.08),
}
RELAPSE_WEEK = 6  # weeks after the first infusion a "relapse" course loses most of its gain
RELAPSE_KEEPS = 0.25  # the share of the gain a "relapse" course keeps after that
NOISE = 2.5  # PCL-5 points, at most, either way
SCREENED_DAYS_AGO = 21  # the screening PCL-5 of the patients waiting for the prescriber
INTAKE_DAYS_AGO = 3
MINUTES_5 = dt.timedelta(minutes=5)
MINUTES_9 = dt.timedelta(minutes=9)
# Relative weight of each PCL-5 item when spreading a total over the items: intrusions and
# arousal carry a little more than avoidance in these made-up profiles.
_PCL5_WEIGHTS = [1.2] * 5 + [0.9] * 2 + [1.0] * 7 + [1.1] * 6


def load(uow: UnitOfWork, clock: Clock, rng: random.Random) -> None:
    """Add score histories (and one open safety task) to the loaded demo clinic."""
    now = clock.now()
    # The demo has one nurse per site; they entered the staff entries of their site.
    nurses = {
        site_id: user.id
        for user in uow.users.all()
        if user.username.startswith("nurse.")
        for site_id in user.site_ids
    }
    batch: list[QuestionnaireResponse] = []
    for number in SCORED_PATIENTS:
        patient = uow.patients.by_mrn(f"DEMO-{number:04d}")
        if patient is None:
            continue
        nurse = nurses.get(patient.site_id)
        visits = [v for s in uow.schedule.series_for(patient.id) for v in s.visits]
        if visits:
            first = min(v.starts_at for v in visits)
            course = (
                COURSES.get(patient.mrn)
                or rng.choices(("responder", "partial", "non_responder"), weights=(60, 15, 25))[0]
            )
            batch.extend(_history(patient, first, now, course, rng, nurse))
        else:
            screened = patient.mrn in demo_intake.NEEDS_REVIEW
            batch.extend(_waiting(patient, now, rng, nurse, screened=screened))
    # One bulk insert: loading the demo stays quick (it runs before many tests).
    uow.responses.add_many(batch)
    flagged = uow.patients.by_mrn(SAFETY_PATIENT)
    if flagged is not None:
        _safety_case(uow, clock, flagged, now, nurses.get(flagged.site_id))


def _history(
    patient: Patient,
    first: dt.datetime,
    now: dt.datetime,
    course: str,
    rng: random.Random,
    nurse: int | None,
) -> list[QuestionnaireResponse]:
    """The baseline the day before the first infusion (``first``), then weekly scores until
    ``now``; the change follows ``course`` from the first infusion on."""
    depth = rng.uniform(*DEPTH[course])
    pace = rng.uniform(1.0, 2.0)  # weeks to most of the effect
    pcl5_base = rng.randint(42, 70)
    phq9_base = rng.randint(12, 22)
    gad7_base = rng.randint(9, 18)
    baseline_at = first - dt.timedelta(days=1, hours=2)
    made: list[QuestionnaireResponse] = []
    week = 0
    while True:
        at = baseline_at + dt.timedelta(weeks=week, minutes=rng.randint(0, 59))
        if at > now:
            break
        since = max(0.0, (at - first) / dt.timedelta(weeks=1))  # weeks after the first infusion
        fraction = depth * (1 - math.exp(-since / pace))
        if course == "relapse" and since >= RELAPSE_WEEK:
            fraction *= RELAPSE_KEEPS
        source = _source(week, rng)
        by = None if source is ResponseSource.SELF_REPORT else nurse
        noise = max(-NOISE, min(NOISE, rng.gauss(0, 1.5)))
        pcl5 = _spread(pcl5_base * (1 - fraction) + noise, 80, rng)
        made.append(_response(patient, "pcl5", pcl5, at, source, by))
        if week % 2 == 0:
            phq9 = _spread(phq9_base * (1 - fraction) + rng.gauss(0, 1.5), 24, rng, items=8)
            made.append(_response(patient, "phq9", [*phq9, 0], at + MINUTES_5, source, by))
            gad7 = _spread(gad7_base * (1 - fraction) + rng.gauss(0, 1.5), 21, rng, items=7)
            made.append(_response(patient, "gad7", gad7, at + MINUTES_9, source, by))
        week += 1
    return made


def _waiting(
    patient: Patient, now: dt.datetime, rng: random.Random, nurse: int | None, *, screened: bool
) -> list[QuestionnaireResponse]:
    """A patient not yet treated: the intake scores three days ago and, when ``screened``, a
    screening PCL-5 from the first call three weeks before (a little higher)."""
    made: list[QuestionnaireResponse] = []
    total = rng.randint(40, 66)
    if screened:
        at = now - dt.timedelta(days=SCREENED_DAYS_AGO, hours=3)
        pcl5 = _spread(total + 4, 80, rng)
        made.append(_response(patient, "pcl5", pcl5, at, ResponseSource.STAFF_ENTRY, nurse))
    at = now - dt.timedelta(days=INTAKE_DAYS_AGO, hours=2)
    made.append(
        _response(patient, "pcl5", _spread(total, 80, rng), at, ResponseSource.INTAKE, nurse)
    )
    phq9 = _spread(total / 3.5, 24, rng, items=8)
    made.append(
        _response(patient, "phq9", [*phq9, 0], at + MINUTES_5, ResponseSource.INTAKE, nurse)
    )
    return made


def _safety_case(
    uow: UnitOfWork, clock: Clock, patient: Patient, now: dt.datetime, nurse: int | None
) -> None:
    """This morning's PHQ-9 with item 9 = 1: stored and routed like any other entry."""
    answers = [2, 2, 2, 1, 2, 1, 1, 1, 1]
    at = now - dt.timedelta(minutes=50)
    response = _response(patient, "phq9", answers, at, ResponseSource.STAFF_ENTRY, nurse)
    stored = uow.responses.add(response, at)
    mbc_safety.raise_if_needed(uow, clock, SYSTEM, patient, stored)


def _source(week: int, rng: random.Random) -> ResponseSource:
    if week == 0:
        return ResponseSource.INTAKE
    return ResponseSource.SELF_REPORT if rng.random() < 0.3 else ResponseSource.STAFF_ENTRY


def _spread(total: float, maximum: int, rng: random.Random, items: int = 20) -> list[int]:
    """``items`` answers (0–4 for the 20 PCL-5 items, else 0–3) summing to ``round(total)``
    clipped to 0–``maximum``: points are dealt one at a time to items not yet at their top."""
    top = 4 if items == 20 else 3
    target = max(0, min(round(total), maximum, top * items))
    weights = _PCL5_WEIGHTS if items == 20 else [1.0] * items
    answers = [0] * items
    for _ in range(target):
        open_items = [i for i in range(items) if answers[i] < top]
        chosen = rng.choices(open_items, weights=[weights[i] for i in open_items])[0]
        answers[chosen] += 1
    return answers


def _response(
    patient: Patient,
    instrument_id: str,
    answers: list[int],
    at: dt.datetime,
    source: ResponseSource,
    entered_by: int | None,
) -> QuestionnaireResponse:
    response = QuestionnaireResponse.scored(
        score(instrument_id, answers),
        patient_id=patient.id,
        source=source,
        entered_by=entered_by,
        completed_at=at,
        language=patient.preferred_language,
    )
    return replace(response, recorded_at=at)
