"""Clinical steps of intake over HTTP: the prescriber's eligibility signature (with the override
of ``needs_review``), consent (and the director's consent versions), protocols (and the
director's own) and treatment plans, and the end-of-series review and decision (DESIGN.md
§2.2–2.3, docs/intake.md).

Each route calls the same service as the staff pages, so the API refuses what the pages refuse,
with the same messages, and every read, write and refusal is in the audit trail.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ketaclinic.domain.errors import InvalidInput, NotFound
from ketaclinic.services import intake_assessment, intake_consent, intake_plans, intake_review
from ketaclinic.services.audit import require_role
from ketaclinic.services.intake_common import DIRECTOR
from ketaclinic.services.intake_models import ConsentText, InductionDecision, clinic_protocol
from ketaclinic.web.api.intake_schemas import (
    ConsentIn,
    ConsentVersionIn,
    ConsentVersionOut,
    DecisionIn,
    EligibilitySignatureIn,
    EligibilitySignatureOut,
    PatientConsentOut,
    PatientConsentsOut,
    PlanIn,
    PlanOut,
    PlansOut,
    ProtocolIn,
    ProtocolOut,
    ReviewOut,
    ScoreOut,
    SeriesOut,
)
from ketaclinic.web.api.schemas import ErrorResponse
from ketaclinic.web.deps import ApiActor, AppContainer, IdPath

router = APIRouter(tags=["intake"])


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorResponse} for code in codes}


# --- eligibility ----------------------------------------------------------------------------


@router.post(
    "/patients/{patient_id}/eligibility/signature",
    response_model=EligibilitySignatureOut,
    status_code=201,
    responses=_errors(401, 403, 404, 409, 422),
)
def sign_eligibility(
    patient_id: IdPath, body: EligibilitySignatureIn, actor: ApiActor, c: AppContainer
) -> EligibilitySignatureOut:
    """Sign the eligibility decision of the patient's latest intake (prescribers only; anyone
    else gets 403, audited).

    Without ``override`` the decision is signed as it stands (a signed ``needs_review`` records
    the review but does not clear the patient). With ``override`` and a ``reason``, a
    ``needs_review`` decision becomes ``eligible``; the reason and the reason codes accepted are
    stored. An ``excluded`` decision cannot be overridden: 422 naming the exclusion's reason
    codes. 409: the intake is already signed, a newer intake exists, or there is nothing to
    override (``eligible``)."""
    if not body.override and body.reason.strip():
        raise InvalidInput.for_field("reason", body.reason, "empty unless override is true")
    with c.uow() as uow:
        signoff = intake_assessment.sign_eligibility(
            uow,
            c.clock,
            actor,
            patient_id,
            body.intake_id,
            override_reason=body.reason if body.override else None,
        )
    return EligibilitySignatureOut.of(signoff)


# --- consent --------------------------------------------------------------------------------


@router.get("/consent", response_model=ConsentVersionOut, responses=_errors(401, 403, 404))
def consent_in_force(actor: ApiActor, c: AppContainer) -> ConsentVersionOut:
    """The consent text in force (English, and Spanish when written) with its version; 404
    before the clinic director has written one. Nurses, prescribers and directors."""
    with c.uow(readonly=True) as uow:
        version = intake_consent.current_version(uow, c.clock, actor)
    if version is None:
        raise NotFound("consent: the clinic has no consent text yet", field="consent")
    return ConsentVersionOut.of(version)


@router.post(
    "/consent/versions",
    response_model=ConsentVersionOut,
    status_code=201,
    responses=_errors(401, 403, 422),
)
def add_consent_version(
    body: ConsentVersionIn, actor: ApiActor, c: AppContainer
) -> ConsentVersionOut:
    """Write the next consent version (clinic director only; anyone else gets 403, audited). It
    is in force at once: from now on every patient has to consent to it before a series can be
    booked. 422: an empty English text, or a text longer than 20000 characters."""
    with c.uow() as uow:
        require_role(uow, c.clock, actor, "consent_version", DIRECTOR)  # audited refusal first
        version = intake_consent.add_consent_version(
            uow, c.clock, actor, ConsentText(body.body_en, body.body_es)
        )
    return ConsentVersionOut.of(version)


@router.get(
    "/patients/{patient_id}/consent",
    response_model=PatientConsentsOut,
    responses=_errors(401, 403, 404),
)
def patient_consent(patient_id: IdPath, actor: ApiActor, c: AppContainer) -> PatientConsentsOut:
    """The patient's consents (newest first) and whether one is on the version in force."""
    with c.uow(readonly=True) as uow:
        view = intake_consent.consent_view(uow, c.clock, actor, patient_id)
    return PatientConsentsOut(
        patient_id=view.patient.id,
        version_in_force=view.current.version if view.current else None,
        current=view.is_current,
        consents=[PatientConsentOut.of(x) for x in view.consents],
    )


@router.post(
    "/patients/{patient_id}/consent",
    response_model=PatientConsentOut,
    status_code=201,
    responses=_errors(401, 403, 404, 409, 422),
)
def record_consent(
    patient_id: IdPath, body: ConsentIn, actor: ApiActor, c: AppContainer
) -> PatientConsentOut:
    """Record the patient's consent to the version in force: the version, the language it was
    read in, the name the patient typed, you as the witness, and now as the time. 409: a newer
    version is in force than ``version_id``, the patient already signed it, or the clinic has no
    consent text; 422: Spanish asked for a version without Spanish text."""
    with c.uow() as uow:
        consent = intake_consent.record_consent(
            uow, c.clock, actor, patient_id, body.version_id, body.signer_name, body.language
        )
    return PatientConsentOut.of(consent)


# --- protocols and plans --------------------------------------------------------------------


@router.get("/protocols", response_model=list[ProtocolOut], responses=_errors(401))
def protocols(actor: ApiActor, c: AppContainer) -> list[ProtocolOut]:
    """The protocol catalog: the built-in templates first, then the clinic's own (any staff
    member; no health data)."""
    with c.uow(readonly=True) as uow:
        found = intake_plans.list_protocols(uow, c.clock, actor)
    return [ProtocolOut.of(p) for p in found]


@router.post(
    "/protocols",
    response_model=ProtocolOut,
    status_code=201,
    responses=_errors(401, 403, 409, 422),
)
def add_protocol(body: ProtocolIn, actor: ApiActor, c: AppContainer) -> ProtocolOut:
    """Add a clinic-defined protocol to the catalog (clinic director only; anyone else gets
    403, audited). Its source reads "design: clinic-defined protocol", never a trial's. 422
    names the field that is out of bounds (or ``duration_weeks`` when the infusions do not fit
    the weeks, ``weekdays`` when neither or both of ``weekdays`` and ``spacing_days`` are
    given); 409: the id is already in the catalog."""
    with c.uow() as uow:
        require_role(uow, c.clock, actor, "protocol", DIRECTOR)  # audited refusal first
        protocol = clinic_protocol(
            id=body.id.strip(),
            name=body.name.strip(),
            infusion_count=body.infusion_count,
            duration_weeks=body.duration_weeks,
            dose_mg_per_kg=body.dose_mg_per_kg,
            infusion_min=body.infusion_min,
            weekdays=tuple(body.weekdays),
            spacing_days=body.spacing_days,
            min_gap_days=body.min_gap_days,
            observation_min=body.observation_min,
            setup_min=body.setup_min,
            note=body.note.strip(),
        )
        added = intake_plans.add_clinic_protocol(uow, c.clock, actor, protocol)
    return ProtocolOut.of(added)


@router.get(
    "/patients/{patient_id}/plan", response_model=PlansOut, responses=_errors(401, 403, 404)
)
def plans(patient_id: IdPath, actor: ApiActor, c: AppContainer) -> PlansOut:
    """The patient's signed treatment plans, newest (the one booked) first."""
    with c.uow(readonly=True) as uow:
        view = intake_plans.plan_view(uow, c.clock, actor, patient_id)
    return PlansOut(
        patient_id=view.patient.id,
        current=PlanOut.of(view.current) if view.current else None,
        plans=[PlanOut.of(p) for p in view.plans],
    )


@router.post(
    "/patients/{patient_id}/plan",
    response_model=PlanOut,
    status_code=201,
    responses=_errors(401, 403, 404, 422),
)
def sign_plan(patient_id: IdPath, body: PlanIn, actor: ApiActor, c: AppContainer) -> PlanOut:
    """Sign a treatment plan from a protocol of the catalog (prescribers only): the protocol,
    the dose in mg/kg (0.1–1; the drug library checks the dose again at the chair) and the first
    possible day. It becomes the patient's plan. 422 names an unknown protocol (listing the
    catalog), a dose out of range or a day in the past."""
    with c.uow() as uow:
        try:
            plan = intake_plans.sign_plan(
                uow,
                c.clock,
                actor,
                patient_id,
                protocol_id=body.protocol_id,
                dose_mg_per_kg=body.dose_mg_per_kg,
                start_date=body.start_date,
                note=body.note,
            )
        except InvalidInput as error:
            if error.field != "protocol":
                raise
            # The catalog names the protocol "protocol"; this body calls it "protocol_id".
            raise InvalidInput.for_field(
                "protocol_id", error.value, error.expected or "a protocol of the catalog"
            ) from None
    return PlanOut.of(plan)


# --- end of series --------------------------------------------------------------------------


@router.get(
    "/patients/{patient_id}/series/{series_id}/review",
    response_model=ReviewOut,
    responses=_errors(401, 403, 404),
)
def review(patient_id: IdPath, series_id: IdPath, actor: ApiActor, c: AppContainer) -> ReviewOut:
    """What the end-of-series decision rests on: the PCL-5 baseline and later scores and, with
    follow-ups, change, response and remission (nurses, prescribers, directors)."""
    with c.uow(readonly=True) as uow:
        found = intake_review.induction_review(uow, c.clock, actor, patient_id, series_id)
        site = uow.sites.get(found.patient.site_id)
        chairs = {ch.id: ch.code for ch in uow.sites.chairs(found.patient.site_id, retired=True)}
    assert site is not None  # a patient's site always exists (foreign key)
    series, baseline = found.series, found.baseline
    return ReviewOut(
        patient_id=found.patient.id,
        series=SeriesOut.of(series, site, chairs),
        finished=found.finished,
        scores=[ScoreOut(on=s.on, total=s.total) for s in found.scores],
        baseline=ScoreOut(on=baseline.on, total=baseline.total) if baseline else None,
        outcome=found.outcome.as_dict() if found.outcome else None,
        decision_note=series.decision_note,
        decided_by=series.decided_by,
        decided_at=series.decided_at,
    )


@router.post(
    "/patients/{patient_id}/series/{series_id}/decision",
    response_model=SeriesOut,
    status_code=201,
    responses=_errors(401, 403, 404, 409, 422),
)
def decide(
    patient_id: IdPath, series_id: IdPath, body: DecisionIn, actor: ApiActor, c: AppContainer
) -> SeriesOut:
    """Record the end-of-induction decision, once, after the series' last infusion (prescribers
    only): ``continue``, ``maintenance`` or ``stop``, with an optional note. 409: the last
    infusion has not ended yet, or a decision is already recorded."""
    with c.uow() as uow:
        series = intake_review.record_induction_decision(
            uow,
            c.clock,
            actor,
            patient_id,
            series_id,
            InductionDecision(body.decision),
            body.note,
        )
        site = uow.sites.get(series.site_id)
        chairs = {ch.id: ch.code for ch in uow.sites.chairs(series.site_id, retired=True)}
    assert site is not None
    return SeriesOut.of(series, site, chairs)
