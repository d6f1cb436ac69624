"""Interoperability over HTTP.

- ``GET /api/v1/patients/{id}/fhir``: a patient's whole record as a FHIR R4B Bundle. Nurses,
  prescribers and directors of the patient's site may export it; front desk is refused (403),
  another site's patient is "not found" (404).
- ``GET /api/v1/export/ndjson``: one resource type of a whole site, streamed as NDJSON.
- ``POST /api/v1/export/research``: the de-identified research export as a zip.
- ``POST /api/v1/import/patients``: import patients from CSV (dry run, then commit).

The bulk routes are for the directors of the site and use the same services as the CLI and the
data page. Every export, import and refusal is audited.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from ketaclinic.adapters.fhir import ndjson
from ketaclinic.adapters.fhir.bundle import FHIR_JSON, patient_bundle, to_json
from ketaclinic.adapters.research_files import export_research
from ketaclinic.domain.errors import InvalidInput
from ketaclinic.services import interop
from ketaclinic.services import interop_import as importer
from ketaclinic.services import interop_research as research
from ketaclinic.services.audit import Actor
from ketaclinic.web.api.interop_schemas import ImportRefused, ImportReportOut, ResearchIn
from ketaclinic.web.api.schemas import ErrorDetail, ErrorResponse
from ketaclinic.web.deps import ApiActor, AppContainer, IdPath

router = APIRouter(tags=["fhir"])

BUNDLE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["resourceType", "type", "entry"],
    "properties": {
        "resourceType": {"type": "string", "enum": ["Bundle"]},
        "id": {"type": "string"},
        "type": {"type": "string", "enum": ["collection"]},
        "timestamp": {"type": "string"},
        "entry": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["fullUrl", "resource"],
                "properties": {
                    "fullUrl": {"type": "string"},
                    "resource": {"type": "object", "required": ["resourceType", "id"]},
                },
            },
        },
    },
}


@router.get(
    "/patients/{patient_id}/fhir",
    response_class=Response,
    responses={
        200: {
            "description": "a FHIR R4B collection Bundle of the patient's record",
            "content": {FHIR_JSON: {"schema": BUNDLE_SCHEMA}},
        },
        401: {"model": ErrorResponse},
        403: {"model": ErrorResponse},
        404: {"model": ErrorResponse},
        422: {"model": ErrorResponse},
    },
)
def patient_fhir(patient_id: IdPath, actor: ApiActor, c: AppContainer) -> Response:
    """The patient's record (demographics, measurements, vitals, questionnaires and scores,
    sessions, administrations, appointments, consent, alerts, access log) as one Bundle."""
    # Not read-only: the export's own audit entry is written in its transaction, so the
    # Bundle's access log holds it (a read-only unit writes its entries after the reads).
    with c.uow() as uow:
        record = interop.patient_record(uow, c.clock, actor, patient_id)
    bundle = patient_bundle(record, c.clock.now())
    return Response(to_json(bundle), media_type=FHIR_JSON)


# --- bulk NDJSON ----------------------------------------------------------------------------

ResourceType = Literal[
    "Patient",
    "Observation",
    "Condition",
    "QuestionnaireResponse",
    "Encounter",
    "MedicationAdministration",
    "Appointment",
    "Consent",
    "Flag",
    "Provenance",
    "AuditEvent",
    "Organization",
    "Location",
    "Questionnaire",
    "Device",
]
assert get_args(ResourceType) == ndjson.RESOURCE_TYPES
SiteQuery = Annotated[
    str, Query(min_length=2, max_length=10, pattern=r"^[A-Za-z0-9]+$", description="e.g. MIA")
]
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (401, 403, 404, 422)
}


@router.get(
    "/export/ndjson",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "one FHIR R4B resource of the type per line",
            "content": {ndjson.NDJSON: {"schema": {"type": "string"}}},
        },
        **ERRORS,
    },
    tags=["export"],
)
def export_ndjson(
    actor: ApiActor,
    c: AppContainer,
    site: SiteQuery,
    type: Annotated[ResourceType, Query(description="the resource type to export")],
) -> StreamingResponse:
    """Every resource of one type at a site as NDJSON (FHIR Bulk Data style), streamed as it is
    read: patients 200 at a time, so memory stays flat however large the site. Shared resources
    (Organization, Location, Questionnaire, Device) appear once; ``AuditEvent`` is the site's
    audit trail up to the start of the export. Directors of the site only; the export is
    audited (start, one entry per patient, finish)."""
    export = interop.start_site_export(c.uow, c.clock, actor, site, ndjson.RESOURCE)
    name = f"{type}-{export.site.code}.ndjson"
    return StreamingResponse(
        ndjson.stream_type(c.uow, c.clock, actor, export, type),
        media_type=ndjson.NDJSON,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Transaction-Time": export.started_at.isoformat(),
        },
    )


# --- research export ------------------------------------------------------------------------


def _research_key(text: str) -> research.ResearchKey:
    """The key from the request; the message never repeats the key."""
    try:
        return research.parse_key(text, "key")
    except InvalidInput:
        raise InvalidInput(
            f"key: expected the clinic's research key, at least {research.KEY_BYTES} bytes "
            "written as hex (the value sent is not shown)",
            field="key",
            expected=f"at least {research.KEY_BYTES} bytes as hex",
        ) from None


@router.post(
    "/export/research",
    response_class=FileResponse,
    responses={
        200: {
            "description": "a zip of patients, infusions and scores (CSV or Parquet files)",
            "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
        },
        **ERRORS,
    },
    tags=["export"],
)
def export_research_zip(body: ResearchIn, actor: ApiActor, c: AppContainer) -> FileResponse:
    """The de-identified research export of a site (docs/research-export.md): pseudonymous ids
    from the clinic's key, days instead of dates, no names or free text. The same service as
    ``ketaclinic export research``; directors of the site only, audited (start, one entry per
    patient, finish)."""
    with c.uow() as uow:
        site = interop.require_site(
            uow, c.clock, actor, body.site, research.RESOURCE, interop.BULK_ROLES
        )
    key = _research_key(body.key)
    work = Path(tempfile.mkdtemp(prefix="ketaclinic-research-"))
    try:
        export_research(c.uow, c.clock, actor, site.code, key, work / "files", body.format)
        target = work / f"research-{site.code}.zip"
        ndjson.zip_folder(work / "files", target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return FileResponse(
        target,
        media_type="application/zip",
        filename=target.name,
        background=BackgroundTask(shutil.rmtree, work, ignore_errors=True),
    )


# --- patient import -------------------------------------------------------------------------

CSV_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {
                "schema": {"type": "string"},
                "example": "mrn,given_name,family_name,birth_date,sex\n"
                "A-1001,Carmen,Salcedo,1985-02-03,female\n",
            }
        },
    }
}


async def _body(request: Request, limit: int) -> bytes:
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            raise InvalidInput.for_field(
                "file", f"more than {limit} bytes", f"at most {limit} bytes per import"
            )
    return bytes(data)


def _check_import(c: AppContainer, actor: Actor, site: str) -> None:
    with c.uow() as uow:
        interop.require_site(uow, c.clock, actor, site, importer.RESOURCE, importer.IMPORT_ROLES)


def _import(
    c: AppContainer, actor: Actor, site: str, data: bytes, *, dry_run: bool, skip_invalid: bool
) -> importer.ImportReport:
    parsed = importer.read_csv(data)
    with c.uow() as uow:
        return importer.import_patients(
            uow,
            c.clock,
            actor,
            site,
            parsed,
            skip_invalid=skip_invalid,
            dry_run=dry_run,
            source="csv (api)",
        )


@router.post(
    "/import/patients",
    response_model=ImportReportOut,
    responses={
        201: {"model": ImportReportOut, "description": "imported"},
        401: {"model": ErrorResponse},
        403: {"model": ErrorResponse},
        404: {"model": ErrorResponse},
        422: {"model": ImportRefused, "description": "bad input; nothing imported"},
    },
    openapi_extra=CSV_BODY,
    tags=["import"],
)
async def import_patients(
    request: Request,
    actor: ApiActor,
    c: AppContainer,
    site: SiteQuery,
    dry_run: Annotated[bool, Query(description="check only; nothing is stored")] = True,
    skip_invalid: Annotated[bool, Query(description="import the valid rows anyway")] = False,
) -> Response:
    """Import patients from a CSV file (the columns of docs/import.md) sent as the request
    body, with the same service as ``ketaclinic import patients``.

    ``dry_run`` (the default) checks every row and answers 200 with the report: every problem
    with its line, field and reason, the MRNs that would be imported and those skipped because
    they are already registered at this site. ``dry_run=false`` imports in one transaction and
    answers 201; with any invalid row it imports nothing and answers 422 with the report, unless
    ``skip_invalid=true``, which imports the valid rows. Directors of the site only; audited."""
    await run_in_threadpool(_check_import, c, actor, site)
    data = await _body(request, importer.MAX_BYTES)
    report = await run_in_threadpool(
        _import, c, actor, site, data, dry_run=dry_run, skip_invalid=skip_invalid
    )
    out = ImportReportOut.of(report)
    if not dry_run and not report.imported:
        refused = ImportRefused(
            error=ErrorDetail(code="invalid_input", message=report.summary, field="file"),
            report=out,
        )
        return JSONResponse(refused.model_dump(mode="json"), status_code=422)
    return JSONResponse(out.model_dump(mode="json"), status_code=200 if dry_run else 201)
