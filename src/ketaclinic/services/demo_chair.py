"""The infusion chair in the demo clinic (DESIGN.md §4.5): synthetic sessions, the same every
time, laid out relative to ``clock.now()``.

MIA: DEMO-0001 with an infusion running now on MIA-1 (started 15 minutes ago; vitals every few
minutes; one SpO2 alert, acknowledged), DEMO-0011 just checked in on MIA-2, DEMO-0013 in
observation on MIA-3, DEMO-0015 discharged earlier (MIA-4 free again). FLL, lighter: DEMO-0002
running on FLL-1, DEMO-0004 in pre-infusion checks on FLL-2.

Each of them is cleared in the record (consent, signed eligibility, a signed plan) and has a
booked series whose visit of today is this session (``services/demo_intake.py`` books them from
:data:`LAYOUT`, before the other series of the day). Every booked visit that ended before now,
theirs and the other patients' (the completed series of the score histories), has a discharged
session of its own (:func:`load_past_sessions`), built first.

Sessions are built through the domain's state machine, record and alert rules (as the services
do), without committing or auditing each step: the caller commits the whole demo at once.
:func:`build_session` is also how tests get a session in a given state.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Collection
from dataclasses import dataclass, replace
from enum import StrEnum

from ketaclinic.domain.administration import Pause, StartInfusion, Stop
from ketaclinic.domain.alerts import AlertTier, acknowledge
from ketaclinic.domain.discharge import (
    DEFAULT_POLICY,
    AldreteScore,
    assess_readiness,
    clear_for_discharge,
)
from ketaclinic.domain.drug_library import LimitLevel, evaluate_values, limits_for
from ketaclinic.domain.errors import NotFound
from ketaclinic.domain.people import BodyMeasurement, Chair, Patient, StaffUser
from ketaclinic.domain.session_lifecycle import (
    Actor,
    CheckItem,
    CheckOutcome,
    CheckResult,
    Transition,
)
from ketaclinic.domain.side_effects import Intervention, Severity, SideEffectEntry, SideEffectKind
from ketaclinic.domain.vitals import SPECS, VitalKind, VitalReading, VitalSource
from ketaclinic.services import chair_record_checks, chair_visits, demo_dosing
from ketaclinic.services.auth import principal_of
from ketaclinic.services.chair_access import Loaded, apply, chair_actor
from ketaclinic.services.chair_discharge import assessment_now
from ketaclinic.services.chair_mar import COMPLETE_REASON, order_values, record_of
from ketaclinic.services.chair_ports import (
    CADSS6_ITEMS,
    Baseline,
    DissociationScore,
    DoseCheck,
    LimitLevelSeen,
    NewSession,
    PlannedDose,
    SessionRow,
    StoredAssessment,
    Timepoint,
)
from ketaclinic.services.chair_vitals import SessionFeed
from ketaclinic.services.dosing_library import clinic_library
from ketaclinic.services.dosing_ports import OrderStatus, SessionOrder
from ketaclinic.services.ports import Clock, UnitOfWork

PROTOCOL = "feder-2021"
# The infusion's length: demo_dosing.STANDARD is 0.5 mg/kg over 40 minutes, the trials' dose
# [cited: Feder 2014; Feder 2021; Abdallah 2022, REFERENCE.md §3.1].
INFUSION_MIN = demo_dosing.STANDARD.duration_min


class Target(StrEnum):
    """How far :func:`build_session` takes a session."""

    CHECKED_IN = "checked_in"
    CHECKING = "checking"  # pre-infusion checks begun, some items answered
    READY_TO_START = "ready_to_start"  # every check cleared, dose verified
    RUNNING = "running"
    PAUSED = "paused"
    OBSERVATION = "observation"
    READY_FOR_DISCHARGE = "ready_for_discharge"  # observation long enough, assessed ready
    DISCHARGED = "discharged"


def _minutes(at: dt.datetime, minutes: float) -> dt.datetime:
    return at + dt.timedelta(minutes=minutes)


# How long ago a session brought to a target started, by default.
STARTED_MIN_AGO: dict[Target, float] = {
    Target.RUNNING: 15.0,
    Target.PAUSED: 20.0,
    Target.OBSERVATION: 100.0,
    Target.READY_FOR_DISCHARGE: 190.0,
    Target.DISCHARGED: 300.0,
}


# Minutes from check-in to the start of the infusion, by default (checks, dose, a quiet moment).
LEAD_MIN = 35.0
# The weight a demo patient without any recorded measurement is given (a plausible adult).
DEFAULT_WEIGHT_KG = 75.0
# Past visits (:func:`load_past_sessions`): checked in 2 minutes before the booked start and
# started 17 minutes later, so the discharge (the start + 165 min) falls on the visit's end.
PAST_LEAD_MIN = 17.0
PAST_EARLY_MIN = 2.0
# Their charts are lighter (vitals every 10 minutes during the infusion, every 30 after), so
# the demo still loads in seconds with a hundred past sessions.
PAST_VITALS_EVERY_MIN = (10.0, 30.0)


def check_in_time(
    target: Target,
    now: dt.datetime,
    started_min_ago: float | None = None,
    lead_min: float = LEAD_MIN,
) -> dt.datetime:
    """When :func:`build_session` checks the patient in: ``lead_min`` minutes before the start,
    or, for a session that has not started, 20 minutes ago (its checks are done by now)."""
    if started_min_ago is None:
        started_min_ago = STARTED_MIN_AGO.get(target, 0.0)
    if started_min_ago:
        return _minutes(now, -started_min_ago - lead_min)
    return _minutes(now, -20.0)


def build_session(
    uow: UnitOfWork,
    *,
    patient: Patient,
    chair: Chair,
    nurse: StaffUser,
    prescriber: StaffUser,
    now: dt.datetime,
    target: Target,
    rng: random.Random,
    started_min_ago: float | None = None,
    spo2_dip: bool = False,
    bolus_allowed: bool = False,
    lead_min: float = LEAD_MIN,
    protocol: str = PROTOCOL,
    vitals_every_min: tuple[float, float] = (5.0, 15.0),
) -> SessionRow:
    """A session for ``patient`` on ``chair`` brought to ``target`` by ``now``, with the
    readings, records and alerts a real one would have, checked in ``lead_min`` minutes (at
    least 17) before the start, under ``protocol`` (one of 0.5 mg/kg over 40 minutes, as both
    built-in protocols are), with vitals every ``vitals_every_min`` minutes during the infusion
    and in observation. Nothing is committed."""
    running_like = {Target.RUNNING, Target.PAUSED}
    if started_min_ago is None:
        started_min_ago = STARTED_MIN_AGO.get(target, 0.0)
    start = _minutes(now, -started_min_ago)
    checked_in = check_in_time(target, now, started_min_ago, lead_min)
    nurse_by, prescriber_by = (
        chair_actor(principal_of(nurse)),
        chair_actor(principal_of(prescriber)),
    )
    # The prescriber ordered today's dose half an hour before check-in, as the chair's dose
    # check requires (services/chair_mar.py: the newest verified order of the last 24 hours);
    # a patient never weighed is weighed (75 kg) an hour before check-in for it.
    if not uow.patients.measurements(patient.id):
        uow.patients.add_measurement(
            BodyMeasurement(
                patient.id, _minutes(checked_in, -60.0), DEFAULT_WEIGHT_KG, None, prescriber.id
            )
        )
    order = demo_dosing.order_for(
        uow,
        patient,
        replace(demo_dosing.STANDARD, protocol_id=protocol),
        prescriber,
        _minutes(checked_in, -30.0),
    )
    row = uow.chair.add_session(
        NewSession(
            patient.id, chair.site_id, chair.id, protocol, bolus_allowed, checked_in, nurse.id
        )
    )
    site = uow.sites.get(chair.site_id)
    assert site is not None  # a chair's site always exists (foreign key)
    chair_visits.link_at_check_in(uow, row, site)  # as check-in does: today's booked visit
    principal = principal_of(nurse)

    def loaded() -> Loaded:
        current = uow.chair.get_session(row.id)
        assert current is not None
        return Loaded(principal, current, patient)

    if target is Target.CHECKED_IN:
        return loaded().row

    # Pre-infusion checks.
    t = _minutes(checked_in, 3.0)
    apply(uow, loaded(), Transition.BEGIN_CHECKS, t)
    history = uow.patients.measurements(patient.id)
    weight = history[-1].weight_kg
    base = Baseline(
        _minutes(checked_in, 6.0),
        float(rng.randint(114, 132)),
        float(rng.randint(70, 84)),
        float(rng.randint(62, 80)),
        float(rng.randint(97, 99)),
    )
    feed = SessionFeed(uow, loaded().row, base.at)
    feed.ingest(_readings(base.at, base, VitalSource.MANUAL), base.at)
    uow.chair.save_session(replace(loaded().row, baseline=base, weight_kg=weight))
    # Consent, eligibility and the safety review are read from the record, not answered here:
    # live until the start, stored as the start found them (services/chair_record_checks.py).
    answers = [
        (CheckItem.WEIGHT_CONFIRMED, f"{weight:g} kg"),
        (CheckItem.BASELINE_VITALS_WITHIN_LIMITS, "within limits"),
    ]
    if target is Target.CHECKING:
        answers = answers[:1]
    for offset, (item, note) in enumerate(answers):
        at = _minutes(checked_in, 7.0 + offset)
        uow.chair.add_check(row.id, CheckResult(item, CheckOutcome.PASSED, nurse_by, at, note))
    if target is Target.CHECKING:
        return loaded().row
    escort_at = _minutes(checked_in, 14.0)
    uow.chair.save_session(
        replace(loaded().row, escort_name="Demo Escort", escort_phone="+1-555-0100")
    )
    uow.chair.add_check(
        row.id,
        CheckResult(CheckItem.ESCORT_CONFIRMED, CheckOutcome.PASSED, nurse_by, escort_at, "escort"),
    )
    values = order_values(order)
    # The chair's check of the standard order passes the protocol's limits on today's weight.
    evaluation = evaluate_values(
        limits_for(protocol, clinic_library(uow)), values.quantities(weight)
    )
    assert order.status is OrderStatus.VERIFIED, order.status
    assert evaluation.level is LimitLevel.OK, evaluation.hits
    planned = PlannedDose(
        values.dose_mg,
        values.concentration_mg_per_ml,
        values.volume_ml,
        values.rate_ml_per_h,
        DoseCheck(LimitLevelSeen.OK),
    )
    verified_at = _minutes(checked_in, 16.0)
    uow.chair.save_session(replace(loaded().row, planned=planned))
    uow.dosing.link_session_order(
        SessionOrder(
            row.id, order.id, order.weight_basis, order.dosing_weight_kg, nurse.id, verified_at
        )
    )
    uow.chair.add_check(
        row.id,
        CheckResult(
            CheckItem.DOSE_VERIFIED,
            CheckOutcome.PASSED,
            nurse_by,
            verified_at,
            f"{values.dose_mg:g} mg in {values.volume_ml:g} mL at {values.rate_ml_per_h:g} "
            f"mL/h; order #{order.id} ({order.mg_per_kg:g} mg/kg, actual weight "
            f"{order.dosing_weight_kg:.1f} kg)",
        ),
    )
    _cadss(uow, row.id, Timepoint.PRE_DOSE, (0, 0, 0, 0, 0, 0), nurse_by, _minutes(start, -5.0))
    if target is Target.READY_TO_START:
        return loaded().row

    # The infusion.
    _record_checks(uow, row.id, patient, nurse_by, start)
    apply(uow, loaded(), Transition.START, start)
    event = StartInfusion(
        values.dose_mg,
        values.concentration_mg_per_ml,
        values.volume_ml,
        values.rate_ml_per_h,
        f"DEMO-LOT-{rng.randint(100, 999)}",
        f"PUMP-{chair.code}",
    )
    _mar(uow, loaded(), event, start, DoseCheck(LimitLevelSeen.OK))
    end = _minutes(start, INFUSION_MIN)
    last = now if target in running_like else end
    during, after = vitals_every_min
    _monitor_course(
        uow, loaded(), base, start, last, rng, spo2_dip=spo2_dip, nurse=nurse, every=during
    )
    if target is Target.PAUSED:
        pause_at = _minutes(now, -2.0)
        apply(uow, loaded(), Transition.PAUSE, pause_at, reason="patient asked for a break")
        _mar(uow, loaded(), Pause("patient asked for a break"), pause_at)
    if target in running_like:
        return loaded().row

    apply(uow, loaded(), Transition.COMPLETE, end)
    _mar(uow, loaded(), Stop(COMPLETE_REASON), end)
    _cadss(uow, row.id, Timepoint.END_OF_INFUSION, (2, 1, 2, 1, 1, 1), nurse_by, end)
    apply(uow, loaded(), Transition.BEGIN_OBSERVATION, _minutes(end, 1.0))
    uow.chair.add_side_effect(
        row.id,
        SideEffectEntry(
            kind=SideEffectKind.DISSOCIATION,
            severity=Severity.MILD,
            onset_at=_minutes(start, 20.0),
            recorded_by=nurse_by,
            interventions=frozenset({Intervention.REASSURANCE}),
            resolved_at=_minutes(end, 15.0),
        ),
        _minutes(start, 22.0),
    )
    after_end = now if target is Target.OBSERVATION else _minutes(end, 125.0)
    _observation_course(uow, loaded(), base, end, min(after_end, now), rng, every=after)
    if target is Target.OBSERVATION:
        return loaded().row

    assessed = _minutes(end, 122.0)
    _cadss(uow, row.id, Timepoint.PRE_DISCHARGE, (0, 0, 0, 0, 0, 0), nurse_by, assessed)
    draft = StoredAssessment(
        session_id=row.id,
        assessed_at=assessed,
        assessed_by=nurse_by,
        scale=DEFAULT_POLICY.scale,
        aldrete=AldreteScore(2, 2, 2, 2, 2),
        padss=None,
        escort_confirmed=True,
        mental_status_attested=True,
        dissociation_attested=False,
        ready=False,
        unmet=(),
    )
    readiness = assess_readiness(assessment_now(uow, loaded().row, draft, assessed))
    uow.chair.add_assessment(
        replace(
            draft,
            ready=readiness.ready,
            unmet=tuple(f"{u.criterion.value}: {u.message}" for u in readiness.unmet),
        )
    )
    if target is Target.READY_FOR_DISCHARGE:
        return loaded().row
    discharged = _minutes(assessed, 3.0)
    clearance = clear_for_discharge(
        readiness, prescriber_by, discharged, None if readiness.ready else "demo"
    )
    return apply(uow, loaded(), Transition.DISCHARGE, discharged, clearance=clearance)


def _record_checks(
    uow: UnitOfWork, session_id: int, patient: Patient, by: Actor, at: dt.datetime
) -> None:
    """What the start reads from the record, stored as the start would. The demo's patients at
    the chair are cleared in the record (services/demo_intake.py), so every finding passes; a
    test that builds a session for a patient who is not is told so in the note."""
    for finding in chair_record_checks.read_record(uow, patient, at).values():
        if finding.passed:
            uow.chair.add_check(session_id, finding.as_result(by, at))
        else:
            note = f"session built directly, not through the start; the record said: {finding.note}"
            result = CheckResult(finding.item, CheckOutcome.PASSED, by, at, note[:500])
            uow.chair.add_check(session_id, result)


def _readings(
    at: dt.datetime,
    base: Baseline,
    source: VitalSource,
    rise: float = 0.0,
    spo2: float | None = None,
) -> list[VitalReading]:
    systolic, diastolic = base.systolic_mmhg or 120.0, base.diastolic_mmhg or 80.0
    values = (
        (VitalKind.BP_SYSTOLIC, systolic + 16.0 * rise),
        (VitalKind.BP_DIASTOLIC, diastolic + 11.0 * rise),
        (VitalKind.HEART_RATE, (base.heart_rate_per_min or 70.0) + 6.0 * rise),
        (VitalKind.SPO2, spo2 if spo2 is not None else (base.spo2_percent or 98.0)),
    )
    return [
        VitalReading(kind, round(value), at, source, SPECS[kind].loinc) for kind, value in values
    ]


def _monitor_course(
    uow: UnitOfWork,
    loaded: Loaded,
    base: Baseline,
    start: dt.datetime,
    last: dt.datetime,
    rng: random.Random,
    *,
    spo2_dip: bool,
    nurse: StaffUser,
    every: float = 5.0,
) -> None:
    """Vitals every 5 minutes from the start: the mild rise of the expected course (peak
    +16/+11 mmHg at 40 min, REFERENCE.md §5 [cited: Yale 2024]) and, with ``spo2_dip``, one
    SpO2 of 90 % six minutes in, acknowledged at the chair."""
    feed = SessionFeed(uow, loaded.row, start)
    minute = 4.0
    while _minutes(start, minute) <= last:
        at = _minutes(start, minute)
        rise = math.sin(math.pi / 2 * min(minute / INFUSION_MIN, 1.0)) + rng.uniform(-0.1, 0.1)
        dip = 90.0 if spo2_dip and minute == 9.0 else None
        result = feed.ingest(_readings(at, base, VitalSource.MONITOR, rise, dip), at)
        for stored in result.raised:
            if stored.alert.tier is AlertTier.CLINICAL:
                acked = acknowledge(
                    stored.alert,
                    chair_actor(principal_of(nurse)),
                    _minutes(at, 1.0),
                    "chin lift, encouraged deep breaths; SpO2 back to 96 %",
                )
                saved = replace(stored, alert=acked)
                uow.chair.save_alert(saved)
                feed.open[acked.rule_key] = saved
        minute += every


def _observation_course(
    uow: UnitOfWork,
    loaded: Loaded,
    base: Baseline,
    end: dt.datetime,
    last: dt.datetime,
    rng: random.Random,
    every: float = 15.0,
) -> None:
    """Vitals every ``every`` minutes after the end, settling back to the baseline."""
    feed = SessionFeed(uow, loaded.row, end)
    minute = 10.0
    while _minutes(end, minute) <= last:
        at = _minutes(end, minute)
        rise = max(0.0, 1.0 - minute / 90.0) + rng.uniform(-0.05, 0.05)
        feed.ingest(_readings(at, base, VitalSource.MANUAL, max(rise, 0.0)), at)
        minute += every


def _mar(
    uow: UnitOfWork,
    loaded: Loaded,
    event: StartInfusion | Pause | Stop,
    at: dt.datetime,
    check: DoseCheck | None = None,
) -> None:
    record = record_of(uow, loaded.row).append(at, loaded.by, event)
    uow.chair.add_mar_entry(loaded.row.id, record.entries[-1], at, check)


def _cadss(
    uow: UnitOfWork,
    session_id: int,
    timepoint: Timepoint,
    items: tuple[int, ...],
    by: Actor,
    at: dt.datetime,
) -> None:
    assert len(items) == len(CADSS6_ITEMS)
    uow.chair.add_dissociation(DissociationScore(session_id, timepoint, items, sum(items), by, at))


# --- the demo clinic ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Seat:
    """One patient at the chair in the demo: where, how far along, and which visit of the
    series today is (or the nearest one the protocol allows on today's weekday:
    ``services/demo_intake.py`` :func:`~ketaclinic.services.demo_intake.at_chair_days`)."""

    mrn: str
    chair: str
    target: Target
    spo2_dip: bool = False
    visit_number: int = 1


LAYOUT: tuple[Seat, ...] = (
    Seat("DEMO-0001", "MIA-1", Target.RUNNING, spo2_dip=True, visit_number=2),
    Seat("DEMO-0011", "MIA-2", Target.CHECKED_IN, visit_number=3),
    Seat("DEMO-0013", "MIA-3", Target.OBSERVATION, visit_number=4),
    Seat("DEMO-0015", "MIA-4", Target.DISCHARGED, visit_number=5),
    Seat("DEMO-0002", "FLL-1", Target.RUNNING, visit_number=3),
    Seat("DEMO-0004", "FLL-2", Target.CHECKING, visit_number=2),
)


def load(uow: UnitOfWork, clock: Clock, rng: random.Random) -> None:
    """Add the chair's part of the demo clinic (see the module docstring)."""
    now = clock.now()
    # The visits of the past first (a patient or chair holds one open session at a time), all
    # but the visit each seated patient is at today.
    seated: set[tuple[str, dt.datetime]] = {
        (seat.mrn, check_in_time(seat.target, now)) for seat in LAYOUT
    }
    load_past_sessions(uow, now, seated)
    for seat in LAYOUT:
        mrn, chair_code, target = seat.mrn, seat.chair, seat.target
        patient = uow.patients.by_mrn(mrn)
        site_code = chair_code.split("-")[0]
        site = uow.sites.by_code(site_code)
        if patient is None or site is None:
            raise NotFound(f"demo: {mrn} or site {site_code} missing")
        chair = next(c for c in uow.sites.chairs(site.id) if c.code == chair_code)
        if patient.site_id != site.id:
            raise NotFound(f"demo: {mrn} is not registered at {site_code}")
        nurse = uow.users.by_username(f"nurse.{site_code.lower()}")
        prescriber = uow.users.by_username(f"prescriber.{site_code.lower()}")
        if nurse is None or prescriber is None:
            raise NotFound(f"demo: the staff of {site_code} are missing")
        build_session(
            uow,
            patient=patient,
            chair=chair,
            nurse=nurse,
            prescriber=prescriber,
            now=now,
            target=target,
            rng=rng,
            spo2_dip=seat.spo2_dip,
        )


def load_past_sessions(
    uow: UnitOfWork, now: dt.datetime, seated: Collection[tuple[str, dt.datetime]] = ()
) -> None:
    """A discharged session for every booked visit that ended before ``now`` and that no
    session fulfils yet, except the visit of a patient ``seated`` (MRN, check-in time) at the
    chair now, which is theirs: the demo's patients came to each of their past visits (checked
    in just before the booked start, discharged at its end), so the score plot marks their
    infusions and the outcome's first infusion is the first visit's. Each session gets its own
    random generator, so adding one never changes another."""
    observed = dt.timedelta(minutes=STARTED_MIN_AGO[Target.DISCHARGED] + PAST_LEAD_MIN)
    for site in uow.sites.all():
        chairs = {c.id: c for c in uow.sites.chairs(site.id)}
        nurse = uow.users.by_username(f"nurse.{site.code.lower()}")
        prescriber = uow.users.by_username(f"prescriber.{site.code.lower()}")
        if nurse is None or prescriber is None:
            raise NotFound(f"demo: the staff of {site.code} are missing")
        for patient in uow.patients.search(frozenset({site.id}), limit=500):
            protocols = {s.id: s.protocol_id for s in uow.schedule.series_for(patient.id)}
            visits = [v for s in uow.schedule.series_for(patient.id) for v in s.visits]
            linked = uow.visit_links.for_visits([v.id for v in visits])
            for visit in sorted(visits, key=lambda v: v.starts_at):
                if visit.ends_at > now or visit.id in linked:
                    continue
                if any(
                    mrn == patient.mrn and visit.starts_at <= at < visit.ends_at
                    for mrn, at in seated
                ):
                    continue
                checked_in = _minutes(visit.starts_at, -PAST_EARLY_MIN)
                build_session(
                    uow,
                    patient=patient,
                    chair=chairs[visit.chair_id],
                    nurse=nurse,
                    prescriber=prescriber,
                    now=checked_in + observed,
                    target=Target.DISCHARGED,
                    rng=random.Random(f"{patient.mrn}/{visit.starts_at.isoformat()}"),
                    lead_min=PAST_LEAD_MIN,
                    protocol=protocols[visit.series_id],
                    vitals_every_min=PAST_VITALS_EVERY_MIN,
                )
