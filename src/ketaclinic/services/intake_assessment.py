"""Intake by staff and the prescriber's eligibility decision.

:func:`record_intake` takes the intake JSON of DESIGN.md §4.2 (parsed with
:func:`~ketaclinic.domain.intake.parse_intake`), checks it against the patient's record (age and
sex), checks the weight against the patient's last one (kg/lb mix-up, implausible value, change
above 10 %: the nurse must confirm), adds the weight to the body-measurement history, runs the
eligibility engine and stores the intake with every reason, all in one transaction. The
baseline answers (PCL-5, PHQ-9, and GAD-7 when given) are stored in the same transaction as
questionnaire responses of source ``intake`` through measurement-based care
(:func:`~ketaclinic.services.mbc.store_response`): they count in the patient's outcomes, and a
PHQ-9 item 9 of 1 or more raises the same-day safety task there, e-mailed after the commit.

:func:`sign_eligibility` is the prescriber's signature, optionally overriding ``needs_review``
with a written reason (:func:`~ketaclinic.domain.eligibility.override_decision`); an exclusion
cannot be overridden, and only a prescriber may sign (anyone else: audited 403).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from ketaclinic.domain.audit import AuditAction
from ketaclinic.domain.eligibility import (
    Action,
    EligibilityResult,
    EligibilitySettings,
    Reason,
    Rule,
    RuleClass,
    evaluate,
    override_decision,
)
from ketaclinic.domain.errors import Conflict, InvalidInput
from ketaclinic.domain.instruments import score
from ketaclinic.domain.intake import IntakeRecord, parse_gad7, parse_intake
from ketaclinic.domain.people import BodyMeasurement, Patient, Principal, Site
from ketaclinic.domain.provenance import design
from ketaclinic.domain.weight import DEFAULT_WEIGHT_POLICY, WeightPolicy, check_plausibility
from ketaclinic.services import mbc, mbc_safety
from ketaclinic.services.audit import Actor, record, require_role
from ketaclinic.services.clinic_settings import clinic_eligibility_settings
from ketaclinic.services.intake_common import CLINICAL, PRESCRIBER, local_today, to_local, to_utc
from ketaclinic.services.intake_models import (
    EligibilitySignoff,
    IntakeNotes,
    StoredIntake,
    StoredReason,
)
from ketaclinic.services.mbc_model import QuestionnaireResponse, ResponseSource, SafetyTask
from ketaclinic.services.patients import load_visible
from ketaclinic.services.ports import Clock, Notifier, UnitOfWork


def weight_findings(
    uow: UnitOfWork, patient_id: int, weight_kg: float, policy: WeightPolicy = DEFAULT_WEIGHT_POLICY
) -> list[str]:
    """Why ``weight_kg`` needs a second look against the patient's last weight (sentences)."""
    history = uow.patients.measurements(patient_id)
    previous = history[-1].weight_kg if history else None
    return [f.message for f in check_plausibility(weight_kg, previous, policy)]


@dataclass(frozen=True, slots=True)
class IntakeStart:
    """What an intake form starts from: the patient, the last weight/height on record and the
    site's date today (the default assessment date)."""

    patient: Patient
    last: BodyMeasurement | None
    today: dt.date


def start_intake(uow: UnitOfWork, clock: Clock, actor: Actor, patient_id: int) -> IntakeStart:
    """Check that the caller may record an intake for the patient (audited refusal otherwise)
    and return what the form needs."""
    require_role(uow, clock, actor, "intake", CLINICAL)
    patient = load_visible(uow, clock, actor, patient_id, "intake")
    site = uow.sites.get(patient.site_id)
    assert site is not None  # a patient's site always exists (foreign key)
    history = uow.patients.measurements(patient.id)
    record(
        uow,
        clock,
        actor,
        AuditAction.READ,
        "intake",
        site_id=patient.site_id,
        patient_id=patient.id,
        detail="form",
    )
    uow.commit()
    return IntakeStart(patient, history[-1] if history else None, local_today(clock, site))


def _with_patient_defaults(data: Mapping[str, object], patient: Patient) -> dict[str, object]:
    """The intake JSON with ``age_years`` and ``sex`` taken from the patient's record when the
    caller left them out (the §4.2 shape has them; a staff form does not ask again)."""
    filled = dict(data)
    if "sex" not in filled:
        filled["sex"] = patient.sex.value
    if "age_years" not in filled:
        day = filled.get("assessment_date")
        try:
            on = dt.date.fromisoformat(day) if isinstance(day, str) else None
        except ValueError:
            on = None  # parse_intake reports the bad date with its own message
        filled["age_years"] = patient.age_on(on) if on is not None else 0
    return filled


def _check_against_patient(record: IntakeRecord, patient: Patient) -> None:
    age = patient.age_on(record.assessment_date)
    if record.age_years != age:
        raise InvalidInput.for_field(
            "age_years",
            record.age_years,
            f"{age} (the patient's age on {record.assessment_date.isoformat()} from the date of "
            "birth on record)",
        )
    if record.sex is not patient.sex:
        raise InvalidInput.for_field(
            "sex", record.sex.value, f"{patient.sex.value} (as on the patient's record)"
        )


def _stored_reasons(result: EligibilityResult) -> tuple[StoredReason, ...]:
    return tuple(
        StoredReason(r.code, r.rule.rule_class.value, r.action.value, r.message, r.source)
        for r in result.reasons
    )


def record_intake(
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    patient_id: int,
    data: Mapping[str, object],
    notes: IntakeNotes,
    *,
    weight_confirmed: bool = False,
    settings: EligibilitySettings | None = None,
    policy: WeightPolicy = DEFAULT_WEIGHT_POLICY,
    notifier: Notifier | None = None,
) -> StoredIntake:
    """Record an intake for the patient and evaluate eligibility (nurse, prescriber, director).

    ``data`` may carry ``gad7`` (seven answers 0–3) beside the §4.2 shape. The baseline
    answers become questionnaire responses of source ``intake`` (see the module docstring);
    a safety task they raise is e-mailed through ``notifier`` after the commit (without one,
    the task waits on the start page, "not e-mailed"). Eligibility is evaluated against
    ``settings``; without them, against the clinic's own thresholds
    (:func:`~ketaclinic.services.clinic_settings.clinic_eligibility_settings`).

    Raises:
        InvalidInput: a field of ``data`` is bad (see ``parse_intake``; dates in the future
            included); age or sex disagree with the patient's record; the weight raised a
            plausibility finding and ``weight_confirmed`` is false (field ``weight_confirmed``,
            the message lists the findings).
        Conflict: a baseline response repeats one already recorded for the same instant.
        NotFound / PermissionDenied: audited refusals.
    """
    principal = require_role(uow, clock, actor, "intake", CLINICAL)
    patient = load_visible(uow, clock, actor, patient_id, "intake")
    site = uow.sites.get(patient.site_id)
    assert site is not None  # a patient's site always exists (foreign key)
    intake_record = parse_intake(
        _with_patient_defaults(data, patient), today=local_today(clock, site)
    )
    _check_against_patient(intake_record, patient)
    gad7 = parse_gad7(data)
    findings = weight_findings(uow, patient.id, intake_record.weight_kg, policy)
    if findings and not weight_confirmed:
        raise InvalidInput.for_field(
            "weight_confirmed",
            False,
            "the nurse's confirmation that the weight is right: " + "; ".join(findings),
        )
    now = clock.now()
    note = "intake" + (" (confirmed: " + "; ".join(findings) + ")" if findings else "")
    measurement = uow.patients.add_measurement(
        BodyMeasurement(
            patient.id,
            now,
            intake_record.weight_kg,
            intake_record.height_cm,
            principal.user_id,
            note=note,
        )
    )
    if settings is None:
        settings = clinic_eligibility_settings(uow)
    result = evaluate(intake_record, settings)
    stored = uow.intake.add_intake(
        StoredIntake(
            id=0,
            patient_id=patient.id,
            record=intake_record,
            notes=notes,
            decision=result.decision,
            reasons=_stored_reasons(result),
            weight_findings=tuple(findings),
            weight_confirmed=bool(findings) and weight_confirmed,
            measurement_id=measurement.id,
            recorded_by=principal.user_id,
            recorded_at=now,
        )
    )
    for resource, resource_id in (("body_measurement", measurement.id), ("intake", stored.id)):
        record(
            uow,
            clock,
            actor,
            AuditAction.CREATE,
            resource,
            site_id=patient.site_id,
            patient_id=patient.id,
            resource_id=resource_id or "",
            detail=result.decision.value if resource == "intake" else "intake",
        )
    tasks = _baseline_responses(uow, clock, actor, patient, site, intake_record, gad7, principal)
    uow.commit()
    for task in tasks:
        if notifier is not None:
            mbc_safety.notify(uow, clock, notifier, task)
    return stored


def baseline_completed_at(assessed: dt.date, site: Site, now: dt.datetime) -> dt.datetime:
    """When the intake's baseline answers count as completed: now for an intake of today; for
    an intake recorded later, the assessment day at the site-local time of recording (design:
    the day is what outcomes use, and two intakes of one day stay apart)."""
    local_now = to_local(now, site)
    if assessed >= local_now.date():
        return now
    return to_utc(dt.datetime.combine(assessed, local_now.time()), site)


def _baseline_responses(
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    patient: Patient,
    site: Site,
    record: IntakeRecord,
    gad7: tuple[int, ...] | None,
    principal: Principal,
) -> list[SafetyTask]:
    """Store the intake's baseline answers as ``intake`` responses (inside the caller's
    transaction) and return the safety tasks they raised."""
    completed_at = baseline_completed_at(record.assessment_date, site, clock.now())
    answers: list[tuple[str, tuple[int, ...]]] = [("pcl5", record.pcl5), ("phq9", record.phq9)]
    if gad7 is not None:
        answers.append(("gad7", gad7))
    tasks: list[SafetyTask] = []
    for instrument_id, items in answers:
        taken = {r.completed_at for r in uow.responses.for_patient(patient.id, [instrument_id])}
        at = completed_at
        while at in taken:  # a second intake of the same instant (a frozen test clock) follows it
            at += dt.timedelta(microseconds=1)
        response = QuestionnaireResponse.scored(
            score(instrument_id, list(items)),
            patient_id=patient.id,
            source=ResponseSource.INTAKE,
            entered_by=principal.user_id,
            completed_at=at,
            language="en",  # the staff intake form is in English
        )
        _stored, task = mbc.store_response(
            uow, clock, actor, patient, response, detail=f"{instrument_id} (intake)"
        )
        if task is not None:
            tasks.append(task)
    return tasks


@dataclass(frozen=True, slots=True)
class EligibilityView:
    """The latest intake of a patient, its signature, and the earlier intakes (newest first)."""

    patient: Patient
    intake: StoredIntake | None
    signoff: EligibilitySignoff | None
    earlier: tuple[tuple[StoredIntake, EligibilitySignoff | None], ...]


def eligibility_view(
    uow: UnitOfWork, clock: Clock, actor: Actor, patient_id: int
) -> EligibilityView:
    """The patient's eligibility for clinical roles (the front desk sees no clinical detail)."""
    require_role(uow, clock, actor, "eligibility", CLINICAL)
    patient = load_visible(uow, clock, actor, patient_id, "eligibility")
    intakes = uow.intake.intakes(patient.id)
    pairs = tuple((i, uow.intake.signoff(i.id)) for i in intakes)
    record(
        uow,
        clock,
        actor,
        AuditAction.READ,
        "eligibility",
        site_id=patient.site_id,
        patient_id=patient.id,
        resource_id=intakes[0].id if intakes else "",
    )
    uow.commit()
    if not pairs:
        return EligibilityView(patient, None, None, ())
    return EligibilityView(patient, pairs[0][0], pairs[0][1], pairs[1:])


def _engine_result(intake: StoredIntake) -> EligibilityResult:
    """The stored result in the engine's own types, for :func:`override_decision` (which reads
    the decision, the reason codes and their actions)."""
    stored = design("reason as stored with the intake")
    return EligibilityResult(
        intake.decision,
        tuple(
            Reason(Rule(r.code, RuleClass(r.rule_class), Action(r.action), r.message, stored))
            for r in intake.reasons
        ),
    )


def sign_eligibility(
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    patient_id: int,
    intake_id: int | None,
    *,
    override_reason: str | None = None,
) -> EligibilitySignoff:
    """Sign the eligibility decision of the patient's latest intake (prescribers only).

    ``intake_id`` names the intake the prescriber reviewed (``None``: the latest), so that a
    newer intake recorded meanwhile is never signed unseen.

    With ``override_reason`` ``None`` the engine's decision is signed as it stands; with a
    reason, a ``needs_review`` decision becomes ``eligible`` with that reason.

    Raises:
        PermissionDenied: the caller is not a prescriber (audited).
        InvalidInput: ``intake_id`` is not one of the patient's intakes; a blank or too long
            override reason.
        Conflict: a newer intake exists, or this one is already signed; overriding an
            ``eligible`` decision (nothing to override).
        LimitExceeded: overriding an ``excluded`` decision.
    """
    principal = require_role(uow, clock, actor, "eligibility_signoff", PRESCRIBER)
    patient = load_visible(uow, clock, actor, patient_id, "eligibility_signoff")
    intakes = uow.intake.intakes(patient.id)
    if intake_id is None and intakes:
        intake_id = intakes[0].id
    intake = next((i for i in intakes if i.id == intake_id), None)
    if intake is None:
        raise InvalidInput.for_field("intake_id", intake_id, "an intake of this patient")
    if intake.id != intakes[0].id:
        raise Conflict(
            f"intake_id: got {intake_id}, expected the latest intake ({intakes[0].id}); a newer "
            "intake replaced this one",
            field="intake_id",
        )
    now = clock.now()
    decision, reason = intake.decision, ""
    codes: tuple[str, ...] = ()
    if override_reason is not None:
        override = override_decision(
            _engine_result(intake),
            role=principal.role,
            reason=override_reason,
            by_user_id=principal.user_id,
            at=now,
        )
        decision, reason, codes = override.decision, override.reason, override.overridden_codes
    signoff = uow.intake.add_signoff(
        EligibilitySignoff(
            id=0,
            intake_id=intake.id,
            patient_id=patient.id,
            decision=decision,
            original_decision=intake.decision,
            signed_by=principal.user_id,
            signed_at=now,
            override_reason=reason,
            overridden_codes=codes,
        )
    )
    record(
        uow,
        clock,
        actor,
        AuditAction.CREATE,
        "eligibility_signoff",
        site_id=patient.site_id,
        patient_id=patient.id,
        resource_id=signoff.id,
        detail=f"{decision.value}{' (override)' if reason else ''}",
    )
    uow.commit()
    return signoff
