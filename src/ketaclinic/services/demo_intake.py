"""The intake part of the demo clinic: synthetic, the same every time for the same clock.

- consent version 1 in English and Spanish (our own short text);
- clinic hours Monday–Friday 08:00–18:00 at MIA and FLL;
- new leads in the front desk's queue at both sites (one converted, one dismissed earlier);
- patients at each stage: intake waiting for the prescriber (``needs_review``), an exclusion,
  patients cleared and consented with a signed plan but not yet booked (``DEMO-0005``,
  ``DEMO-0012``), series booked from Monday of this week at both sites (one visit of
  ``DEMO-0023``'s cancelled, with a reason), and two series that ended (one waiting for the
  end-of-induction decision, one decided);
- completed series in the past (:data:`HISTORY`, both built-in protocols at both sites): the
  measurement-based-care histories of ``services/demo_mbc.py`` (responders, partial responders
  and non-responders) follow them, the chair's demo gives every visit that ended a
  discharged infusion session, and the prescriber has decided each (:data:`DECIDED`:
  maintenance, a further series or stop);
- the patients at the chair today (``services/demo_chair.py`` :data:`LAYOUT`: DEMO-0001 infusing
  on MIA-1 and the others) are cleared like any booked patient, and their series has today's
  visit on their chair at the time they were checked in (visit N of the series, the seat's
  visit number or the nearest one the protocol's spacing allows on that weekday); the chair's
  demo links each session to it. They are booked first, so the other series of the day go
  around them.

Every visit is booked by the scheduling core (``domain/scheduling.py``) within the clinic hours,
on open days, whatever the time the demo is loaded, with one documented exception: today's
visit of each patient at the chair is booked at the time that patient was checked in, because
DESIGN.md §4.5 wants an infusion running *now* on MIA-1 (so the demo loaded at night or on a
weekend still shows the chair board working). Their other visits keep to the hours.
"""

from __future__ import annotations

import datetime as dt
import random

from ketaclinic.domain.eligibility import evaluate
from ketaclinic.domain.errors import Conflict
from ketaclinic.domain.intake import Condition, IntakeRecord
from ketaclinic.domain.people import Patient, Site
from ketaclinic.domain.protocols import ABDALLAH_2022, FEDER_2021, Protocol, spacing_problem
from ketaclinic.domain.scheduling import (
    Booking,
    OpeningHours,
    SiteSchedule,
    book_series,
    earliest_slot,
)
from ketaclinic.services import demo_chair
from ketaclinic.services.intake_common import local_today, to_local, to_utc
from ketaclinic.services.intake_models import (
    ClinicHours,
    ConsentText,
    ConsentVersion,
    EligibilitySignoff,
    InductionDecision,
    Inquiry,
    IntakeNotes,
    LeadStatus,
    NewVisit,
    PatientConsent,
    Series,
    StoredIntake,
    StoredReason,
    TreatmentPlan,
)
from ketaclinic.services.ports import Clock, UnitOfWork

CONSENT_EN = """\
Consent to treatment with ketamine infusions

1. Ketamine is approved as an anaesthetic. Its use for post-traumatic stress is off-label: \
studies suggest it can reduce symptoms for some people, and the benefit may be small or short.
2. During each infusion a nurse watches your blood pressure, heart rate and oxygen level. \
Feeling detached, dizzy or sick, and a short rise in blood pressure are common and usually pass \
within an hour or two.
3. You will stay at the clinic until you are ready to leave, and a responsible adult will take \
you home. Do not drive or make important decisions until the next day.
4. You may stop treatment at any time. Stopping does not affect the rest of your care.
5. Your answers to questionnaires are used to judge whether the treatment helps you."""

CONSENT_ES = """\
Consentimiento para el tratamiento con infusiones de ketamina

1. La ketamina está aprobada como anestésico. Su uso para el estrés postraumático no figura en \
su ficha técnica: los estudios indican que puede reducir los síntomas de algunas personas, y el \
beneficio puede ser pequeño o breve.
2. Durante cada infusión, una enfermera vigila su presión arterial, su pulso y su oxígeno. \
Sentirse desconectado, mareado o con náuseas, y una subida breve de la presión son frecuentes y \
suelen pasar en una o dos horas.
3. Permanecerá en la clínica hasta que esté en condiciones de salir, y un adulto responsable le \
acompañará a casa. No conduzca ni tome decisiones importantes hasta el día siguiente.
4. Puede dejar el tratamiento en cualquier momento. Dejarlo no afecta al resto de su atención.
5. Sus respuestas a los cuestionarios sirven para valorar si el tratamiento le ayuda."""

HOURS = tuple(OpeningHours(day, dt.time(8), dt.time(18)) for day in range(5))

# (name, site, e-mail, phone, language, message, hours before now)
LEADS = (
    ("Marta Quiroga", "MIA", "marta.q@example.org", "", "es", "¿Atienden los sábados?", 5),
    ("Jordan Pike", "MIA", "", "+1 305 555 0142", "en", "My therapist suggested this.", 20),
    ("Renata Solís", "MIA", "renata@example.org", "+1 305 555 0177", "es", "", 30),
    ("Devon Marsh", "MIA", "devon.marsh@example.org", "", "en", "", 52),
    ("Ilse Brandt", "FLL", "ilse.b@example.org", "", "en", "Is parking available?", 8),
    ("Tomás Ferrer", "FLL", "", "+1 954 555 0119", "es", "", 70),
)

NEEDS_REVIEW = ("DEMO-0003", "DEMO-0010")
EXCLUDED = ("DEMO-0007",)
INTAKE_ONLY = ("DEMO-0021",)
READY = ("DEMO-0005", "DEMO-0012")
# (MRN, protocol, weeks before this Monday the series started)
BOOKED: tuple[tuple[str, Protocol, int], ...] = (
    ("DEMO-0009", FEDER_2021, 0),
    ("DEMO-0023", ABDALLAH_2022, 0),
    ("DEMO-0006", FEDER_2021, 0),
    ("DEMO-0008", FEDER_2021, 1),
    ("DEMO-0014", ABDALLAH_2022, 0),
    ("DEMO-0017", FEDER_2021, 4),
    ("DEMO-0019", FEDER_2021, 6),
)
AT_CHAIR_PROTOCOL = FEDER_2021  # the chair's demo sessions run under feder-2021 limits
# DEMO-0001's intake is two weeks old, as its baseline scores in services/demo_mbc.py are.
AT_CHAIR_INTAKE_MIN_DAYS = 14
# Completed series whose score histories (services/demo_mbc.py) tell how they went:
# (MRN, protocol, weeks before this Monday the series started, course of the scores).
HISTORY: tuple[tuple[str, Protocol, int, str], ...] = (
    ("DEMO-0016", FEDER_2021, 12, "responder"),
    ("DEMO-0018", ABDALLAH_2022, 11, "non_responder"),
    ("DEMO-0020", ABDALLAH_2022, 10, "responder"),
    ("DEMO-0022", FEDER_2021, 9, "partial"),
    ("DEMO-0024", FEDER_2021, 8, "responder"),
    ("DEMO-0026", ABDALLAH_2022, 8, "non_responder"),
    ("DEMO-0028", FEDER_2021, 10, "relapse"),
    ("DEMO-0030", ABDALLAH_2022, 7, "responder"),
    ("DEMO-0032", FEDER_2021, 6, "non_responder"),
    ("DEMO-0025", ABDALLAH_2022, 10, "responder"),
    ("DEMO-0027", FEDER_2021, 9, "non_responder"),
    ("DEMO-0029", ABDALLAH_2022, 8, "partial"),
    ("DEMO-0031", FEDER_2021, 12, "relapse"),
    ("DEMO-0033", ABDALLAH_2022, 7, "non_responder"),
)
# The booked series that ended before this week follow a course too (services/demo_mbc.py).
BOOKED_COURSE = {"DEMO-0017": "responder", "DEMO-0019": "responder"}
DECIDED = {"DEMO-0019": InductionDecision.MAINTENANCE} | {
    mrn: {
        "responder": InductionDecision.MAINTENANCE,
        "relapse": InductionDecision.CONTINUE,
        "partial": InductionDecision.CONTINUE,
        "non_responder": InductionDecision.STOP,
    }[course]
    for mrn, _protocol, _weeks, course in HISTORY
}
DECISION_NOTES = {
    InductionDecision.MAINTENANCE: "Responded well; boosters every four weeks.",
    InductionDecision.CONTINUE: "Some benefit; a further short series, then review.",
    InductionDecision.STOP: "No meaningful change in scores; stopping, back to the referrer.",
}
# (MRN, visit number, reason): a visit of a booked series taken off the schedule yesterday
# by the front desk (a visit weeks ahead, so today's and tomorrow's schedules are as booked).
CANCELLED = ("DEMO-0023", 6, "Travelling for work that week; will call to rebook.")


def load(uow: UnitOfWork, clock: Clock, rng: random.Random) -> None:
    """Add the intake part of the demo clinic (called by ``services.demo.load``)."""
    now = clock.now()
    users = {u.username: u.id for u in uow.users.all()}
    sites = {s.code: s for s in uow.sites.all()}
    for site in sites.values():
        uow.schedule.set_hours(ClinicHours(site.id, HOURS, 15))
    version = uow.intake.add_consent_version(
        ConsentText(CONSENT_EN, CONSENT_ES), users["director.mia"], now - dt.timedelta(days=200)
    )
    _leads(uow, now, sites, users)
    every_site = frozenset(s.id for s in sites.values())
    patients = {p.mrn: p for p in uow.patients.search(every_site, limit=500)}
    for mrn in NEEDS_REVIEW + EXCLUDED + INTAKE_ONLY:
        patient = patients[mrn]
        code = patient_site(sites, patient).code.lower()
        intake = _intake(uow, clock, rng, patient, sites, users, days_ago=3, mrn=mrn)
        if mrn in EXCLUDED:
            _sign(uow, intake, users[f"prescriber.{code}"], now - dt.timedelta(days=2))
    for seat in demo_chair.LAYOUT:
        patient = patients[seat.mrn]
        site = patient_site(sites, patient)
        chair = next(c for c in uow.sites.chairs(site.id) if c.code == seat.chair)
        starts_at = _visit_start(demo_chair.check_in_time(seat.target, now), site)
        number, days = at_chair_days(AT_CHAIR_PROTOCOL, starts_at.date(), seat.visit_number)
        days_ago = max((local_today(clock, site) - days[0]).days + 10, AT_CHAIR_INTAKE_MIN_DAYS)
        plan = _clear(uow, clock, rng, patient, sites, users, version, AT_CHAIR_PROTOCOL,
                      days[0], days_ago)  # fmt: skip
        _book_around(uow, site, patient, plan, chair.code, days, number, starts_at, now)
    cleared: list[tuple[str, Protocol, int | None]] = [(m, FEDER_2021, None) for m in READY]
    cleared.extend(BOOKED)
    cleared.extend((mrn, protocol, weeks) for mrn, protocol, weeks, _course in HISTORY)
    for mrn, protocol, weeks in cleared:
        patient = patients[mrn]
        site = patient_site(sites, patient)
        code = site.code.lower()
        today = local_today(clock, site)
        # Booked series start on Monday of this week (or weeks before); the others may start today.
        start = _monday(today) - dt.timedelta(weeks=weeks) if weeks is not None else today
        days_ago = (today - start).days + 10
        plan = _clear(uow, clock, rng, patient, sites, users, version, protocol, start, days_ago)
        if weeks is not None:
            _book(uow, site, patient, plan, protocol, start, users[f"frontdesk.{code}"])
    _cancel(uow, now, patients[CANCELLED[0]], sites, users)


def clear_for_treatment(
    uow: UnitOfWork,
    clock: Clock,
    patient: Patient,
    *,
    protocol: Protocol = FEDER_2021,
    days_ago: int = AT_CHAIR_INTAKE_MIN_DAYS,
) -> TreatmentPlan:
    """Clear a patient of the loaded demo clinic for treatment as its booked patients are: an
    intake ``days_ago`` days old signed eligible by the site's prescriber, consent to the
    version in force witnessed by the site's nurse, and a plan under ``protocol`` from today.
    (Tests use it to give a session's patient a record the chair's start accepts.)"""
    sites = {s.code: s for s in uow.sites.all()}
    users = {u.username: u.id for u in uow.users.all()}
    versions = uow.intake.consent_versions()
    if not versions:
        raise Conflict("the demo clinic has no consent text", field="version_id")
    today = local_today(clock, patient_site(sites, patient))
    rng = random.Random(patient.id)
    return _clear(uow, clock, rng, patient, sites, users, versions[0], protocol, today, days_ago)


def _clear(
    uow: UnitOfWork,
    clock: Clock,
    rng: random.Random,
    patient: Patient,
    sites: dict[str, Site],
    users: dict[str, int],
    version: ConsentVersion,
    protocol: Protocol,
    start: dt.date,
    days_ago: int,
) -> TreatmentPlan:
    """An intake ``days_ago`` days old signed eligible the next day, the patient's consent to
    ``version`` that day, and a plan under ``protocol`` from ``start``, signed the same day."""
    code = patient_site(sites, patient).code.lower()
    now = clock.now()
    intake = _intake(uow, clock, rng, patient, sites, users, days_ago=days_ago, mrn=patient.mrn)
    signed_at = now - dt.timedelta(days=days_ago - 1)
    _sign(uow, intake, users[f"prescriber.{code}"], signed_at)
    uow.intake.add_consent(
        PatientConsent(
            0,
            patient.id,
            version.id,
            version.version,
            patient.preferred_language,
            f"{patient.given_name} {patient.family_name}",
            users[f"nurse.{code}"],
            signed_at,
        )
    )
    return uow.schedule.add_plan(
        TreatmentPlan(
            0,
            patient.id,
            protocol.id,
            protocol.dose_mg_per_kg,
            start,
            users[f"prescriber.{code}"],
            signed_at,
        )
    )


def at_chair_days(protocol: Protocol, today: dt.date, preferred: int) -> tuple[int, list[dt.date]]:
    """Today's visit number and the days of a series under ``protocol`` that has a visit today:
    visit ``preferred`` when the protocol's spacing allows it with every other visit on an open
    weekday of the clinic, else the nearest number that does (a Feder 2021 series cannot have
    its second visit on a Tuesday: six visits at least two days apart, weekdays only, would
    need more than its two weeks). Today itself may be any day (see the module docstring)."""
    numbers = sorted(range(1, protocol.infusion_count + 1), key=lambda n: (abs(n - preferred), n))
    for number in numbers:
        days = series_days(protocol, today, number)
        if days is not None:
            return number, days
    raise AssertionError(f"{protocol.id}: no series around {today.isoformat()}")


def visit_number_today(seat: demo_chair.Seat, today: dt.date) -> int:
    """The visit number of ``seat``'s session on ``today`` (site-local day of its check-in)."""
    return at_chair_days(AT_CHAIR_PROTOCOL, today, seat.visit_number)[0]


OPEN_WEEKDAYS = frozenset(h.weekday for h in HOURS)


def series_days(protocol: Protocol, today: dt.date, visit_number: int) -> list[dt.date] | None:
    """The days of a series under ``protocol`` in which ``today`` is visit ``visit_number``, the
    others as close as the protocol's shortest gap allows and on open weekdays (earlier before
    today, later after it); ``None`` when they do not fit the protocol's weeks."""
    gap = dt.timedelta(days=protocol.gap_days)

    def step(day: dt.date, direction: int) -> dt.date:
        day += direction * gap
        while day.weekday() not in OPEN_WEEKDAYS:
            day += dt.timedelta(days=direction)
        return day

    days = [today]
    for _ in range(visit_number - 1):
        days.insert(0, step(days[0], -1))
    for _ in range(protocol.infusion_count - visit_number):
        days.append(step(days[-1], 1))
    return days if spacing_problem(protocol, days) is None else None


def _visit_start(checked_in: dt.datetime, site: Site) -> dt.datetime:
    """The booked start of a visit whose patient was checked in at ``checked_in``: the slot
    (15 min) at or before it, as site-local time."""
    local = to_local(checked_in, site)
    return local.replace(minute=local.minute - local.minute % 15, second=0, microsecond=0)


def _book_around(
    uow: UnitOfWork,
    site: Site,
    patient: Patient,
    plan: TreatmentPlan,
    chair: str,
    days: list[dt.date],
    number: int,
    today_start: dt.datetime,
    booked_at: dt.datetime,
) -> None:
    """A series on ``chair``: visit ``number`` (today's) at ``today_start`` (site-local), the
    time its patient was checked in, even outside the hours (the module docstring's exception;
    a visit never runs past midnight: it is cut short there); the others at the earliest free
    slot within the hours on their day, on the same chair from the same time of day when that
    fits, else earlier, else on another chair."""
    protocol = AT_CHAIR_PROTOCOL
    length = dt.timedelta(minutes=protocol.chair_min)
    schedule, by_code = _schedule(uow, site)
    taken = _taken(uow, site)
    visits = []
    for n, day in enumerate(days, start=1):
        if n == number:
            start = dt.datetime.combine(day, today_start.time())
            end = min(start + length, dt.datetime.combine(day, dt.time.max))
            booking = Booking(chair, start, end)
        else:
            found = (
                earliest_slot(
                    schedule,
                    taken,
                    day,
                    protocol.chair_min,
                    not_before=today_start.time(),
                    chair_id=chair,
                )
                or earliest_slot(schedule, taken, day, protocol.chair_min, chair_id=chair)
                or earliest_slot(schedule, taken, day, protocol.chair_min)
            )
            if found is None:
                raise AssertionError(f"demo: no free chair at {site.code} on {day.isoformat()}")
            booking = found
        taken.append(booking)
        visits.append(
            NewVisit(
                by_code[booking.chair_id],
                n,
                to_utc(booking.start, site),
                to_utc(booking.end, site),
                day,
            )
        )
    uow.schedule.add_series(
        Series(0, patient.id, site.id, plan.id, protocol.id, plan.signed_by, booked_at),
        visits,
    )


def _schedule(uow: UnitOfWork, site: Site) -> tuple[SiteSchedule, dict[str, int]]:
    """The site's schedule as the core sees it (the demo's hours), and chair ids by code."""
    chairs = uow.sites.chairs(site.id)
    schedule = SiteSchedule(site.code, tuple(c.code for c in chairs), HOURS)
    return schedule, {c.code: c.id for c in chairs}


def _taken(uow: UnitOfWork, site: Site) -> list[Booking]:
    """Every visit booked at the site so far, as the core's bookings (site-local times)."""
    codes = {c.id: c.code for c in uow.sites.chairs(site.id)}
    return [
        Booking(codes[v.chair_id], to_local(v.starts_at, site), to_local(v.ends_at, site))
        for series in _site_series(uow, site)
        for v in series.visits
    ]


def _cancel(
    uow: UnitOfWork,
    now: dt.datetime,
    patient: Patient,
    sites: dict[str, Site],
    users: dict[str, int],
) -> None:
    _, number, reason = CANCELLED
    code = patient_site(sites, patient).code.lower()
    (series,) = uow.schedule.series_for(patient.id)
    visit = next(v for v in series.visits if v.number == number)
    assert visit.starts_at > now, "the demo cancels a visit still to come"
    uow.schedule.cancel_visit(
        visit.id, users[f"frontdesk.{code}"], now - dt.timedelta(days=1), reason
    )


def patient_site(sites: dict[str, Site], patient: Patient) -> Site:
    return next(s for s in sites.values() if s.id == patient.site_id)


def _monday(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def _leads(
    uow: UnitOfWork, now: dt.datetime, sites: dict[str, Site], users: dict[str, int]
) -> None:
    for name, code, email, phone, lang, message, hours in LEADS:
        uow.leads.add(
            Inquiry(sites[code].id, name, email, phone, True, message, lang),
            now - dt.timedelta(hours=hours),
        )
    converted = uow.leads.add(
        Inquiry(sites["MIA"].id, "Sample Converted", "converted@example.org", "", True),
        now - dt.timedelta(days=120),
    )
    patient = uow.patients.by_mrn("DEMO-0039")
    uow.leads.set_status(
        converted.id,
        LeadStatus.CONVERTED,
        users["frontdesk.mia"],
        now - dt.timedelta(days=120),
        patient.id if patient else None,
    )
    spam = uow.leads.add(
        Inquiry(sites["FLL"].id, "Cheap Watches", "offers@example.org", "", True, "Buy now"),
        now - dt.timedelta(days=3),
    )
    uow.leads.set_status(spam.id, LeadStatus.DISMISSED, users["frontdesk.fll"], now)


def _intake(
    uow: UnitOfWork,
    clock: Clock,
    rng: random.Random,
    patient: Patient,
    sites: dict[str, Site],
    users: dict[str, int],
    *,
    days_ago: int,
    mrn: str,
) -> StoredIntake:
    site = patient_site(sites, patient)
    assessed = local_today(clock, site) - dt.timedelta(days=days_ago)
    history = uow.patients.measurements(patient.id)
    latest = history[-1]
    conditions: frozenset[Condition] = frozenset()
    systolic, diastolic = rng.randint(112, 134), rng.randint(68, 84)
    if mrn in NEEDS_REVIEW:
        conditions = frozenset({Condition.PSYCHOSIS_HISTORY})
    if mrn in EXCLUDED:
        systolic, diastolic = 186, 104
    record = IntakeRecord(
        assessment_date=assessed,
        age_years=patient.age_on(assessed),
        sex=patient.sex,
        weight_kg=latest.weight_kg,
        height_cm=latest.height_cm or 170.0,
        trauma_date=assessed - dt.timedelta(days=rng.randint(400, 2000)),
        pregnant=False,
        bp_systolic=systolic,
        bp_diastolic=diastolic,
        heart_rate=rng.randint(62, 88),
        spo2=rng.randint(96, 99),
        pcl5=tuple(rng.randint(2, 4) for _ in range(20)),
        phq9=(*(rng.randint(0, 2) for _ in range(8)), 0),
        conditions=conditions,
        medications=("sertraline",) if rng.random() < 0.5 else (),
    )
    result = evaluate(record)
    code = site.code.lower()
    return uow.intake.add_intake(
        StoredIntake(
            id=0,
            patient_id=patient.id,
            record=record,
            notes=IntakeNotes("Synthetic demo history.", "", "none known"),
            decision=result.decision,
            reasons=tuple(
                StoredReason(r.code, r.rule.rule_class.value, r.action.value, r.message, r.source)
                for r in result.reasons
            ),
            weight_findings=(),
            weight_confirmed=False,
            measurement_id=latest.id,
            recorded_by=users[f"nurse.{code}"],
            recorded_at=to_utc(dt.datetime.combine(assessed, dt.time(10)), site),
        )
    )


def _sign(uow: UnitOfWork, intake: StoredIntake, by: int, at: dt.datetime) -> None:
    uow.intake.add_signoff(
        EligibilitySignoff(
            0, intake.id, intake.patient_id, intake.decision, intake.decision, by, at
        )
    )


def _book(
    uow: UnitOfWork,
    site: Site,
    patient: Patient,
    plan: TreatmentPlan,
    protocol: Protocol,
    start: dt.date,
    by: int,
) -> None:
    schedule, by_code = _schedule(uow, site)
    visits = book_series(schedule, _taken(uow, site), protocol, start).require_complete()
    series = uow.schedule.add_series(
        Series(0, patient.id, site.id, plan.id, protocol.id, by, plan.signed_at),
        [
            NewVisit(by_code[v.chair_id], n, to_utc(v.start, site), to_utc(v.end, site), v.day)
            for n, v in enumerate(visits, start=1)
        ],
    )
    decision = DECIDED.get(patient.mrn)
    if decision is not None and series.last_visit is not None:
        prescriber = uow.users.by_username(f"prescriber.{site.code.lower()}")
        assert prescriber is not None
        uow.schedule.set_decision(
            series.id,
            decision,
            DECISION_NOTES[decision],
            prescriber.id,
            series.last_visit.ends_at + dt.timedelta(days=2),
        )


def _site_series(uow: UnitOfWork, site: Site) -> list[Series]:
    found: list[Series] = []
    for patient in uow.patients.search(frozenset({site.id}), limit=500):
        found.extend(uow.schedule.series_for(patient.id))
    return found
