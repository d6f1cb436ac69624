"""Demo clinic, measurement-based care part: synthetic PCL-5, PHQ-9 and GAD-7 histories.

About ten weeks of scores for most demo patients, dated relative to the clock: weekly PCL-5,
PHQ-9 and GAD-7 every two weeks, an intake baseline, staff entries and some self-reports.
Trajectories are made up: responders (a falling curve that levels off, some of whom lose their
response again near the end), partial responders and non-responders, with noise. DEMO-0001 (the
infusion running now) has just started and has a baseline and one follow-up. DEMO-0003 (MIA)
answered PHQ-9 item 9 positively this morning, so an open same-day safety task is waiting for
the MIA prescribers. No real person's data; the same every time for the same random generator.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import replace

from ketaclinic.domain.instruments import score
from ketaclinic.domain.people import Patient
from ketaclinic.services import mbc_safety
from ketaclinic.services.audit import SYSTEM
from ketaclinic.services.mbc_model import QuestionnaireResponse, ResponseSource
from ketaclinic.services.ports import Clock, UnitOfWork

WEEKS = 10
SCORED_PATIENTS = range(2, 34)  # DEMO-0002 … DEMO-0033; the rest are newly registered
SAFETY_PATIENT = "DEMO-0003"
STARTING_PATIENT = "DEMO-0001"
# Relative weight of each PCL-5 item when spreading a total over the items: intrusions and
# arousal carry a little more than avoidance in these made-up profiles.
MINUTES_5 = dt.timedelta(minutes=5)
MINUTES_9 = dt.timedelta(minutes=9)
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
        batch.extend(_history(patient, now, rng, nurses.get(patient.site_id)))
    starting = uow.patients.by_mrn(STARTING_PATIENT)
    if starting is not None:
        batch.extend(_starting(starting, now, rng, nurses.get(starting.site_id)))
    # One bulk insert: loading the demo stays quick (it runs before many tests).
    uow.responses.add_many(batch)
    flagged = uow.patients.by_mrn(SAFETY_PATIENT)
    if flagged is not None:
        _safety_case(uow, clock, flagged, now, nurses.get(flagged.site_id))


def _history(
    patient: Patient, now: dt.datetime, rng: random.Random, nurse: int | None
) -> list[QuestionnaireResponse]:
    kind = rng.choices(("responder", "partial", "non_responder"), weights=(60, 15, 25))[0]
    depth = {
        "responder": rng.uniform(0.5, 0.75),
        "partial": rng.uniform(0.2, 0.32),
        "non_responder": rng.uniform(0.0, 0.15),
    }[kind]
    pace = rng.uniform(1.2, 3.0)  # weeks to most of the effect
    relapse_week = rng.choice((None, None, None, None, 8)) if kind == "responder" else None
    pcl5_base = rng.randint(40, 70)
    phq9_base = rng.randint(11, 22)
    gad7_base = rng.randint(9, 18)
    start = now - dt.timedelta(weeks=WEEKS, days=rng.randint(0, 3))
    made: list[QuestionnaireResponse] = []
    for week in range(WEEKS + 1):
        fraction = depth * (1 - math.exp(-week / pace))
        if relapse_week is not None and week >= relapse_week:
            fraction *= 0.35
        at = start + dt.timedelta(weeks=week, hours=rng.randint(0, 6), minutes=rng.randint(0, 59))
        if at > now:
            break
        source = _source(week, rng)
        by = None if source is ResponseSource.SELF_REPORT else nurse
        noise = rng.gauss(0, 2)
        pcl5 = _spread(pcl5_base * (1 - fraction) + noise, 80, rng)
        made.append(_response(patient, "pcl5", pcl5, at, source, by))
        if week % 2 == 0:
            phq9 = _spread(phq9_base * (1 - fraction) + rng.gauss(0, 1.5), 24, rng, items=8)
            made.append(_response(patient, "phq9", [*phq9, 0], at + MINUTES_5, source, by))
            gad7 = _spread(gad7_base * (1 - fraction) + rng.gauss(0, 1.5), 21, rng, items=7)
            made.append(_response(patient, "gad7", gad7, at + MINUTES_9, source, by))
    return made


def _starting(
    patient: Patient, now: dt.datetime, rng: random.Random, nurse: int | None
) -> list[QuestionnaireResponse]:
    made: list[QuestionnaireResponse] = []
    for days_ago, total in ((14, 58), (3, 51)):
        at = now - dt.timedelta(days=days_ago, hours=2)
        source = ResponseSource.INTAKE if days_ago == 14 else ResponseSource.STAFF_ENTRY
        made.append(_response(patient, "pcl5", _spread(total, 80, rng), at, source, nurse))
        phq9 = _spread(total / 3.5, 24, rng, items=8)
        made.append(_response(patient, "phq9", [*phq9, 0], at + MINUTES_5, source, nurse))
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
