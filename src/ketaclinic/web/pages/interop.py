"""The director's data page (``/admin/data``): download a patient's FHIR Bundle, the active
site's bulk NDJSON (zip) and the de-identified research export (zip), and import patients from
a CSV file in two steps (upload → preview every problem → confirm).

Downloads are built in a temporary folder and streamed from a file, so memory stays flat;
the folder is removed once the response is sent. Every export and import is audited by the
services; a refusal is audited before the error page.
"""

from __future__ import annotations

import base64
import binascii
import shutil
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.background import BackgroundTask

from ketaclinic.adapters.fhir import ndjson
from ketaclinic.adapters.fhir.bundle import FHIR_JSON, patient_bundle, to_json
from ketaclinic.adapters.research_files import FORMATS, export_research
from ketaclinic.domain.errors import InvalidInput, PermissionDenied
from ketaclinic.domain.people import Role, Site
from ketaclinic.services import interop
from ketaclinic.services import interop_import as importer
from ketaclinic.services import interop_research as research
from ketaclinic.services.audit import Actor
from ketaclinic.web.deps import AppContainer, Csrf, PageActor, active_site
from ketaclinic.web.templating import flash, render

router = APIRouter(prefix="/admin/data")

PAGE_RESOURCE = "data_admin"
# The preview carries the file back in a hidden form field (base64); form fields are limited to
# 1 MB by the form parser, so the web import takes files up to 700 kB (about 7,000 patients).
# Larger files go through 'ketaclinic import patients'.
WEB_IMPORT_MAX_BYTES = 700_000
KEY_MAX_BYTES = 4096


def _director(request: Request, actor: PageActor, c: AppContainer) -> Site:
    """The active site, after checking the caller is a director (refusal audited)."""
    with c.uow(readonly=True) as uow:
        interop.visible_sites(uow, c.clock, actor, PAGE_RESOURCE, {Role.DIRECTOR})
    site = active_site(request)
    if site is None:
        raise PermissionDenied("you are not assigned to any site")
    return site


def _page(request: Request, site: Site, status: int = 200, **context: object) -> Response:
    base: dict[str, object] = {
        "site": site,
        "formats": FORMATS,
        "columns": importer.COLUMNS,
        "required": importer.REQUIRED,
        "error": None,
        "error_field": None,
        "web_max_kb": WEB_IMPORT_MAX_BYTES // 1000,
    }
    base.update(context)
    return render(request, "interop/data.html", base, status=status)


@router.get("", response_class=HTMLResponse)
def data_page(request: Request, actor: PageActor, c: AppContainer) -> Response:
    site = _director(request, actor, c)
    return _page(request, site)


@router.get("/fhir")
def patient_fhir(
    request: Request,
    actor: PageActor,
    c: AppContainer,
    mrn: Annotated[str, Query(min_length=1, max_length=32)],
) -> Response:
    """The patient's FHIR Bundle as a download."""
    _director(request, actor, c)
    # Not read-only: the export's own audit entry is written in its transaction, so the
    # Bundle's access log holds it (a read-only unit writes its entries after the reads).
    with c.uow() as uow:
        record = interop.patient_record_by_mrn(uow, c.clock, actor, mrn)
    text = to_json(patient_bundle(record, c.clock.now()))
    name = f"patient-{record.patient.id}.fhir.json"
    return Response(
        text,
        media_type=FHIR_JSON,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _download(folder: Path, stem: str, site: Site, work: Path) -> FileResponse:
    target = work / f"{stem}-{site.code}.zip"
    ndjson.zip_folder(folder, target)
    return FileResponse(
        target,
        media_type="application/zip",
        filename=target.name,
        background=BackgroundTask(shutil.rmtree, work, ignore_errors=True),
    )


@router.get("/ndjson")
def site_ndjson(request: Request, actor: PageActor, c: AppContainer) -> Response:
    """The active site's bulk export: one NDJSON file per resource type, zipped."""
    site = _director(request, actor, c)
    work = Path(tempfile.mkdtemp(prefix="ketaclinic-ndjson-"))
    try:
        ndjson.export_site(c.uow, c.clock, actor, site.code, work / "files")
        return _download(work / "files", "ndjson", site, work)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


@router.post("/research", dependencies=[Csrf])
async def site_research(
    request: Request,
    actor: PageActor,
    c: AppContainer,
    key_file: Annotated[UploadFile | None, File()] = None,
    fmt: Annotated[str, Form(alias="format", max_length=10)] = "csv",
) -> Response:
    """The de-identified research export of the active site, zipped. Needs the clinic's key."""
    site = _director(request, actor, c)
    try:
        if fmt not in FORMATS:
            raise InvalidInput.for_field("format", fmt, "csv or parquet")
        if key_file is None or not key_file.filename:
            raise InvalidInput.for_field("key_file", "", "the clinic's research key file")
        raw = await key_file.read(KEY_MAX_BYTES + 1)
        key = research.parse_key(raw.decode("ascii", errors="replace"), key_file.filename)
    except InvalidInput as error:
        return _page(request, site, 422, error=error.message, error_field="key_file")
    work = Path(tempfile.mkdtemp(prefix="ketaclinic-research-"))
    try:
        export_research(c.uow, c.clock, actor, site.code, key, work / "files", fmt)
        return _download(work / "files", "research", site, work)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def _preview(
    request: Request,
    actor: Actor,
    c: AppContainer,
    site: Site,
    data: bytes,
    filename: str,
    *,
    confirm: bool,
    skip_invalid: bool,
) -> Response:
    try:
        parsed = importer.read_csv(data)
        with c.uow() as uow:
            report = importer.import_patients(
                uow,
                c.clock,
                actor,
                site.code,
                parsed,
                skip_invalid=skip_invalid,
                dry_run=not confirm,
                source="csv (web)",
            )
    except InvalidInput as error:
        return _page(request, site, 422, error=error.message, error_field="file")
    if report.imported:
        flash(
            request,
            f"Imported {len(report.created)} patients into {site.code}; "
            f"{len(report.skipped)} already registered were skipped; "
            f"{len(report.errors)} invalid rows left out.",
        )
        return RedirectResponse("/admin/data", status_code=303)
    return render(
        request,
        "interop/import_preview.html",
        {
            "site": site,
            "report": report,
            "filename": filename,
            "content": base64.b64encode(data).decode("ascii"),
            "confirmed": confirm,
        },
        status=422 if confirm else 200,
    )


@router.post("/import", response_class=HTMLResponse, dependencies=[Csrf])
async def import_upload(
    request: Request,
    actor: PageActor,
    c: AppContainer,
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Step 1: check the uploaded CSV and show every problem; nothing is stored."""
    site = _director(request, actor, c)
    if file is None or not file.filename:
        return _page(request, site, 422, error="file: choose a CSV file", error_field="file")
    data = await file.read(WEB_IMPORT_MAX_BYTES + 1)
    if len(data) > WEB_IMPORT_MAX_BYTES:
        message = (
            f"file: larger than {WEB_IMPORT_MAX_BYTES // 1000} kB; import it with "
            "'ketaclinic import patients' on the server"
        )
        return _page(request, site, 422, error=message, error_field="file")
    return _preview(request, actor, c, site, data, file.filename, confirm=False, skip_invalid=False)


@router.post("/import/confirm", response_class=HTMLResponse, dependencies=[Csrf])
def import_confirm(
    request: Request,
    actor: PageActor,
    c: AppContainer,
    content: Annotated[str, Form(max_length=1_000_000)] = "",
    filename: Annotated[str, Form(max_length=200)] = "import.csv",
    skip_invalid: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    """Step 2: import the previewed file (checked again: the clinic may have changed since)."""
    site = _director(request, actor, c)
    try:
        data = base64.b64decode(content.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        return _page(request, site, 422, error="file: upload the file again", error_field="file")
    return _preview(
        request, actor, c, site, data, filename, confirm=True, skip_invalid=bool(skip_invalid)
    )
