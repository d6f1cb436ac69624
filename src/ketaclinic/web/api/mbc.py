"""Measurement-based care over the JSON API: instrument definitions, a patient's scores and
outcomes, recording and listing questionnaire responses (FHIR-shaped where natural) and C-SSRS
results, one-time self-report links, safety tasks (listing and closing), and the director's
cohort outcome report. Clinical roles only for anything about a patient (front desk: 403,
audited); another site's patient or task: 404 (audited)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from ketaclinic.adapters.fhir.build import fhir_id, instant
from ketaclinic.adapters.fhir.care import questionnaire_url
from ketaclinic.adapters.notify.smtp import notifier_in
from ketaclinic.domain.errors import InvalidInput
from ketaclinic.services import mbc, mbc_cohort, mbc_content, mbc_safety, mbc_self_report
from ketaclinic.services.mbc_model import QuestionnaireResponse, ResponseSource, SafetyTask
from ketaclinic.web.api.schemas import ErrorResponse
from ketaclinic.web.deps import ApiActor, AppContainer, IdPath

router = APIRouter(tags=["measurement-based care"])

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse},
    403: {"model": ErrorResponse},
    404: {"model": ErrorResponse},
    422: {"model": ErrorResponse},
}
MAX_ITEMS = 40  # the longest shipped instrument has 20 items


class LocalisedLabel(BaseModel):
    en: str
    es: str


class ItemDefinition(BaseModel):
    linkId: str  # FHIR's name for an item id
    label: LocalisedLabel
    min: int
    max: int
    code: str | None


class AnchorDefinition(BaseModel):
    value: int
    label: LocalisedLabel


class SubscaleDefinition(BaseModel):
    id: str
    items: list[str]


class LicenceOut(BaseModel):
    status: str
    basis: str


class ContentPackOut(BaseModel):
    language: str
    title: str
    instructions: str
    items: dict[str, str]
    anchors: list[str]
    loaded_at: dt.datetime
    licence_attested: bool


class InstrumentOut(BaseModel):
    id: str
    name: str
    short_name: str
    version: str
    recall_period: str
    completed_by: str
    scoring: str
    total_range: list[int]
    licence: LicenceOut
    labels_note: str
    items: list[ItemDefinition]
    anchors: list[AnchorDefinition]
    subscales: list[SubscaleDefinition]
    content_packs: list[ContentPackOut] = Field(
        description="official wording this clinic loaded (empty: only our own labels)"
    )


class InstrumentList(BaseModel):
    items: list[InstrumentOut]


class CssrsOut(BaseModel):
    form: str
    risk_level: str
    risk_level_source: Literal["clinician"]
    action: str


class ResponseOut(BaseModel):
    id: int
    instrument: str
    instrument_version: str
    source: str
    entered_by: int | None
    completed_at: dt.datetime
    recorded_at: dt.datetime | None
    language: str
    answers: dict[str, int]
    total: int | None
    subscales: dict[str, int]
    severity: str | int | None
    flags: list[str]
    cssrs: CssrsOut | None = None

    @classmethod
    def of(cls, response: QuestionnaireResponse) -> ResponseOut:
        return cls.model_validate(response.as_dict())


class SafetyTaskOut(BaseModel):
    id: int
    reason: str
    status: str
    raised_at: dt.datetime
    due_at: dt.datetime
    notified_at: dt.datetime | None
    closed_by: int | None
    closed_at: dt.datetime | None
    action: str

    @classmethod
    def of(cls, task: SafetyTask) -> SafetyTaskOut:
        return cls(
            id=task.id,
            reason=task.reason,
            status=task.status.value,
            raised_at=task.raised_at,
            due_at=task.due_at,
            notified_at=task.notified_at,
            closed_by=task.closed_by,
            closed_at=task.closed_at,
            action=task.action,
        )


class ScoresOut(BaseModel):
    patient_id: int
    items: list[ResponseOut] = Field(description="oldest first")
    safety_tasks: list[SafetyTaskOut] = Field(description="newest first")


class RecordedOut(BaseModel):
    response: ResponseOut
    safety_task: SafetyTaskOut | None = Field(
        description="the same-day safety task this response raised, if any"
    )


class FhirValueIn(BaseModel):
    """One FHIR ``QuestionnaireResponse.item.answer`` entry."""

    model_config = ConfigDict(extra="forbid")

    valueInteger: int = Field(ge=-1000, le=1000)


class AnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    linkId: str = Field(min_length=1, max_length=32)  # FHIR's name
    answer: (
        Annotated[int, Field(ge=-1000, le=1000)]
        | Annotated[list[FhirValueIn], Field(max_length=MAX_ITEMS)]
        | None
    ) = Field(
        description='the value (`2`), or FHIR\'s shape `[{"valueInteger": 2}]` (one entry); '
        "null or `[]` = not answered",
    )

    def value(self, position: int) -> int | None:
        """The answer as a number (``None``: not answered); more than one FHIR answer is an
        error naming ``item[position].answer``."""
        if not isinstance(self.answer, list):
            return self.answer
        if len(self.answer) > 1:
            raise InvalidInput.for_field(
                f"item[{position}].answer",
                f"{len(self.answer)} answers",
                'one answer, e.g. [{"valueInteger": 2}]',
            )
        return self.answer[0].valueInteger if self.answer else None


class QuestionnaireResponseIn(BaseModel):
    """A FHIR-shaped questionnaire response: ``questionnaire`` is the instrument id, ``item``
    one entry per item, ``authored`` when it was completed (default: now)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    questionnaire: str = Field(min_length=1, max_length=32, examples=["pcl5"])
    item: list[AnswerIn] = Field(max_length=MAX_ITEMS)
    authored: dt.datetime | None = None
    language: Literal["en", "es"] = "en"
    source: Literal["staff_entry", "intake"] = "staff_entry"


class CssrsIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    form: Literal["since_last_contact", "lifetime_recent"]
    risk_level: Literal["low", "moderate", "high"] = Field(
        description="the clinician's own judgement; ketaclinic does no automated triage"
    )
    positive_questions: list[int] = Field(max_length=6, description="questions 1–6 answered Yes")
    q6_within_3_months: bool | None = None
    action: str = Field(default="", max_length=1000)
    authored: dt.datetime | None = None


class FirstInfusionOut(BaseModel):
    on: dt.date = Field(description="the site-local day of the first infusion")
    at: dt.datetime | None = Field(description="when it started or is booked (UTC)")
    source: Literal["session", "visit", "given"] = Field(
        description="session: an infusion session that started; visit: the first booked visit "
        "(no session started yet)"
    )
    protocol_id: str | None


class OutcomesOut(BaseModel):
    patient_id: int
    instrument: Literal["pcl5"] = "pcl5"
    baseline_rule: str
    baseline_reason: str = Field(default="", description="which score is the baseline and why")
    first_infusion: FirstInfusionOut | None = Field(
        default=None, description="the infusion the baseline is anchored on (null: none recorded)"
    )
    note: str
    outcome: dict[str, Any] | None = Field(
        description="baseline, points (change, percent change, response, remission, reliable "
        "and clinically significant change), durability and the definitions with sources"
    )


class SelfReportLinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    instruments: list[str] = Field(min_length=1, max_length=5, examples=[["pcl5", "phq9"]])
    due_at: dt.datetime | None = None
    expires_in_days: int = Field(default=7, ge=1, le=60)
    send_email: bool = True


class SelfReportLinkOut(BaseModel):
    url: str = Field(description="the one-time link; shown only now, never stored")
    expires_at: dt.datetime
    due_at: dt.datetime | None
    instruments: list[str]
    mailed: bool


@router.get("/instruments", response_model=InstrumentList, responses=ERRORS)
def list_instruments(actor: ApiActor, c: AppContainer) -> InstrumentList:
    """Instrument definitions with our own labels; official wording only where this clinic
    loaded a content pack."""
    del actor  # any signed-in staff member; definitions hold no health data
    with c.uow(readonly=True) as uow:
        described = mbc_content.catalogue(uow)
    return InstrumentList.model_validate({"items": described})


@router.get("/instruments/{instrument_id}", response_model=InstrumentOut, responses=ERRORS)
def get_instrument_definition(
    instrument_id: Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[a-z0-9-]+$")],
    actor: ApiActor,
    c: AppContainer,
) -> InstrumentOut:
    """One instrument's definition (as in the list); 404 naming the known ids for an unknown
    one."""
    del actor  # any signed-in staff member; definitions hold no health data
    with c.uow(readonly=True) as uow:
        described = mbc_content.describe_instrument(uow, instrument_id)
    return InstrumentOut.model_validate(described)


@router.get("/patients/{patient_id}/scores", response_model=ScoresOut, responses=ERRORS)
def patient_scores(
    patient_id: IdPath,
    actor: ApiActor,
    c: AppContainer,
    instrument: Annotated[list[str] | None, Query(max_length=10)] = None,
) -> ScoresOut:
    """The patient's scored responses and safety tasks. Front desk: 403."""
    with c.uow(readonly=True) as uow:
        scores = mbc.patient_scores(uow, c.clock, actor, patient_id, instrument)
    return ScoresOut(
        patient_id=patient_id,
        items=[ResponseOut.of(r) for r in scores.responses],
        safety_tasks=[SafetyTaskOut.of(t) for t in scores.tasks],
    )


@router.post(
    "/patients/{patient_id}/questionnaire-responses",
    response_model=RecordedOut,
    status_code=201,
    responses={**ERRORS, 409: {"model": ErrorResponse}},
)
def record_response(
    patient_id: IdPath, body: QuestionnaireResponseIn, actor: ApiActor, c: AppContainer
) -> RecordedOut:
    """Score and store a response. Every item must be answered (nothing is prorated); a
    repeated submission (same instrument and ``authored``) is a 409. PHQ-9 item 9 ≥ 1 raises a
    same-day safety task for the site's prescribers."""
    answers: dict[str, int | None] = {}
    for position, entry in enumerate(body.item):
        if entry.linkId in answers:
            raise InvalidInput.for_field(f"item[{position}].linkId", entry.linkId, "each item once")
        answers[entry.linkId] = entry.value(position)
    with c.uow() as uow:
        recorded = mbc.record_response(
            uow,
            c.clock,
            actor,
            patient_id,
            body.questionnaire,
            answers,
            notifier=notifier_in(c.extras),
            completed_at=body.authored,
            source=ResponseSource(body.source),
            language=body.language,
        )
    return _recorded(recorded)


@router.post(
    "/patients/{patient_id}/cssrs-results",
    response_model=RecordedOut,
    status_code=201,
    responses={**ERRORS, 409: {"model": ErrorResponse}},
)
def record_cssrs(
    patient_id: IdPath, body: CssrsIn, actor: ApiActor, c: AppContainer
) -> RecordedOut:
    """A clinician's C-SSRS screener result as entered (no automated triage). Any Yes or a
    level above low raises a same-day safety task."""
    with c.uow() as uow:
        recorded = mbc.record_cssrs_result(
            uow,
            c.clock,
            actor,
            patient_id,
            notifier=notifier_in(c.extras),
            form=body.form,
            risk_level=body.risk_level,
            positive_questions=body.positive_questions,
            q6_within_3_months=body.q6_within_3_months,
            action=body.action,
            completed_at=body.authored,
        )
    return _recorded(recorded)


def _recorded(recorded: mbc.Recorded) -> RecordedOut:
    task = recorded.task
    return RecordedOut(
        response=ResponseOut.of(recorded.response),
        safety_task=SafetyTaskOut.of(task) if task is not None else None,
    )


@router.get("/patients/{patient_id}/outcomes", response_model=OutcomesOut, responses=ERRORS)
def patient_outcomes(patient_id: IdPath, actor: ApiActor, c: AppContainer) -> OutcomesOut:
    """PCL-5 baseline, change, response, remission, reliable change and durability, each
    definition with its source (REFERENCE.md §8.1)."""
    with c.uow(readonly=True) as uow:
        view = mbc.patient_outcomes(uow, c.clock, actor, patient_id)
    first = view.first_infusion
    return OutcomesOut(
        patient_id=patient_id,
        baseline_rule=view.baseline_rule,
        baseline_reason=view.baseline_reason,
        first_infusion=FirstInfusionOut(
            on=first.on, at=first.at, source=first.source.value, protocol_id=first.protocol_id
        )
        if first is not None
        else None,
        note=view.note,
        outcome=view.outcome.as_dict() if view.outcome is not None else None,
    )


@router.post(
    "/patients/{patient_id}/self-report-links",
    response_model=SelfReportLinkOut,
    status_code=201,
    responses=ERRORS,
)
def create_self_report_link(
    patient_id: IdPath,
    body: SelfReportLinkIn,
    request: Request,
    actor: ApiActor,
    c: AppContainer,
) -> SelfReportLinkOut:
    """A one-time link asking the patient to answer the instruments; e-mailed to the patient
    when ``send_email`` is true, they have an address and mail is configured."""
    with c.uow() as uow:
        issued = mbc_self_report.request_self_report(
            uow,
            c.clock,
            actor,
            patient_id,
            body.instruments,
            body.due_at,
            ttl=dt.timedelta(days=body.expires_in_days),
        )
        url = str(request.base_url).rstrip("/") + issued.path
        notifier = notifier_in(c.extras)
        mailed = (
            body.send_email
            and mbc_safety.delivers(notifier)
            and mbc_self_report.mail_link(uow, c.clock, notifier, issued, url)
        )
    return SelfReportLinkOut(
        url=url,
        expires_at=issued.link.expires_at,
        due_at=issued.link.due_at,
        instruments=list(issued.link.instrument_ids),
        mailed=mailed,
    )


# --- questionnaire responses as a FHIR searchset ---------------------------------------------

SCORE_EXTENSION = "urn:ketaclinic:extension:score-total"


class FhirReference(BaseModel):
    reference: str


class FhirAnswer(BaseModel):
    valueInteger: int


class FhirItem(BaseModel):
    linkId: str
    answer: list[FhirAnswer]


class FhirExtension(BaseModel):
    url: str
    valueInteger: int


class QuestionnaireResponseResource(BaseModel):
    resourceType: Literal["QuestionnaireResponse"] = "QuestionnaireResponse"
    id: str
    questionnaire: str = Field(description="the instrument, urn:ketaclinic:questionnaire:<id>")
    status: Literal["completed"] = "completed"
    subject: FhirReference
    authored: str = Field(description="when the patient completed it (UTC instant)")
    language: str
    source: FhirReference | None = Field(default=None, description="the patient, for a self-report")
    item: list[FhirItem]
    extension: list[FhirExtension] = Field(
        default_factory=list, description="the stored total (C-SSRS has none)"
    )


class BundleLink(BaseModel):
    relation: Literal["self", "next", "previous"]
    url: str


class BundleEntry(BaseModel):
    fullUrl: str
    resource: QuestionnaireResponseResource


class ResponseBundle(BaseModel):
    resourceType: Literal["Bundle"] = "Bundle"
    type: Literal["searchset"] = "searchset"
    total: int = Field(description="how many responses the patient has in all")
    link: list[BundleLink]
    entry: list[BundleEntry] = Field(description="newest first")


def _fhir_response(response: QuestionnaireResponse) -> QuestionnaireResponseResource:
    subject = FhirReference(reference=f"Patient/{fhir_id('pat', response.patient_id)}")
    return QuestionnaireResponseResource(
        id=fhir_id("qr", response.id),
        questionnaire=questionnaire_url(response.instrument_id),
        subject=subject,
        authored=instant(response.completed_at),
        language=response.language,
        source=subject if response.source is ResponseSource.SELF_REPORT else None,
        item=[
            FhirItem(linkId=item_id, answer=[FhirAnswer(valueInteger=value)])
            for item_id, value in response.answers.items()
        ],
        extension=[FhirExtension(url=SCORE_EXTENSION, valueInteger=response.total)]
        if response.total is not None
        else [],
    )


@router.get(
    "/patients/{patient_id}/questionnaire-responses",
    response_model=ResponseBundle,
    response_model_exclude_none=True,
    responses=ERRORS,
)
def list_responses(
    patient_id: IdPath,
    request: Request,
    actor: ApiActor,
    c: AppContainer,
    count: Annotated[int, Query(alias="_count", ge=1, le=mbc.MAX_PAGE)] = 50,
    offset: Annotated[int, Query(alias="_offset", ge=0, le=2_147_483_647)] = 0,
) -> ResponseBundle:
    """The patient's questionnaire responses as a FHIR R4B ``searchset`` Bundle of
    QuestionnaireResponse resources, newest first, ``_count`` per page (1–100, default 50)
    from ``_offset``; ``link`` carries ``next`` while more remain. Clinical roles."""
    with c.uow(readonly=True) as uow:
        page = mbc.response_page(uow, c.clock, actor, patient_id, limit=count, offset=offset)
    base = str(request.url.remove_query_params(["_count", "_offset"]))

    def url(at: int) -> str:
        return f"{base}?_count={count}&_offset={at}"

    links = [BundleLink(relation="self", url=url(offset))]
    if page.next_offset is not None:
        links.append(BundleLink(relation="next", url=url(page.next_offset)))
    if offset > 0:
        links.append(BundleLink(relation="previous", url=url(max(0, offset - count))))
    entries = []
    for response in page.responses:
        resource = _fhir_response(response)
        entries.append(BundleEntry(fullUrl=f"urn:ketaclinic:{resource.id}", resource=resource))
    return ResponseBundle(total=page.total, link=links, entry=entries)


# --- safety tasks ------------------------------------------------------------------------------


class SafetyTaskItem(SafetyTaskOut):
    patient_id: int
    site: str
    reason_label: str
    overdue: bool


class SafetyTaskList(BaseModel):
    items: list[SafetyTaskItem]


class CloseTaskIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: str = Field(
        min_length=1,
        max_length=mbc_safety.ACTION_MAX_CHARS,
        description="what was done for the patient; a task is never closed without it",
    )


@router.get("/safety-tasks", response_model=SafetyTaskList, responses=ERRORS)
def list_safety_tasks(
    actor: ApiActor,
    c: AppContainer,
    status: Literal["open", "all"] = "open",
    site: Annotated[str | None, Query(max_length=10, pattern=r"^[A-Za-z0-9_-]+$")] = None,
    limit: Annotated[int, Query(ge=1, le=mbc_safety.TASK_LIST_MAX)] = 200,
) -> SafetyTaskList:
    """Safety tasks of your sites (``site``: one of them, by code): the open ones oldest due
    first, or with ``status=all`` every task newest first. Prescribers and directors."""
    with c.uow(readonly=True) as uow:
        site_id = None
        if site is not None:
            found = uow.sites.by_code(site)
            site_id = found.id if found is not None else 0
        views = mbc_safety.list_tasks(
            uow, c.clock, actor, open_only=status == "open", site_id=site_id, limit=limit
        )
    now = c.clock.now()
    return SafetyTaskList(
        items=[
            SafetyTaskItem(
                **SafetyTaskOut.of(v.task).model_dump(),
                patient_id=v.task.patient_id,
                site=v.site_code,
                reason_label=v.reason_label,
                overdue=v.task.overdue(now),
            )
            for v in views
        ]
    )


@router.post(
    "/safety-tasks/{task_id}/close",
    response_model=SafetyTaskOut,
    responses={**ERRORS, 409: {"model": ErrorResponse}},
)
def close_safety_task(
    task_id: IdPath, body: CloseTaskIn, actor: ApiActor, c: AppContainer
) -> SafetyTaskOut:
    """Close a task of your site with the action taken (required: 422 without it; 409 if it is
    already closed). Prescribers and directors; who and when are recorded."""
    with c.uow() as uow:
        closed = mbc_safety.close_task(uow, c.clock, actor, task_id, body.action)
    return SafetyTaskOut.of(closed)


# --- the director's cohort report ----------------------------------------------------------


class CohortGroupOut(BaseModel):
    grouping: Literal["all", "site", "protocol"]
    group: str
    name: str
    summary: dict[str, Any] | None = Field(
        description="patients, response, remission, reliable and clinically significant change "
        "(counts and proportions), mean change with its 95 % CI; null when no patient qualifies"
    )
    ever_responded: int
    median_days_to_response: float | None
    durability: dict[str, Any]


class CohortReportOut(BaseModel):
    instrument: Literal["pcl5"]
    start: dt.date | None
    end: dt.date | None
    groups: list[CohortGroupOut]
    definitions: dict[str, str]
    grouping: str


@router.get("/reports/outcomes", response_model=CohortReportOut, responses=ERRORS)
def outcome_report(
    actor: ApiActor,
    c: AppContainer,
    start: Annotated[dt.date | None, Query(alias="from")] = None,
    end: Annotated[dt.date | None, Query(alias="to")] = None,
) -> CohortReportOut:
    """PCL-5 cohort outcomes of your sites, overall, per site and per protocol, for follow-up
    scores dated ``from``–``to`` (baseline: the last PCL-5 on or before each patient's first
    infusion). Directors only; the CSV of the same is at ``/reports/outcomes.csv``."""
    with c.uow(readonly=True) as uow:
        report = mbc_cohort.outcome_report(uow, c.clock, actor, start=start, end=end)
    return CohortReportOut.model_validate(report.as_dict())
