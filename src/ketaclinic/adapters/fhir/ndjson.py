"""Bulk export of a whole site as NDJSON, one file per resource type (FHIR Bulk Data style).

Patients are read in batches (``services.interop.site_records``): each batch is mapped, written
line by line and dropped before the next is read, so memory stays flat however large the site.
Shared resources (Organization, Locations, Questionnaires, Devices) are written once. The
site's audit trail up to the start of the export becomes ``AuditEvent.ndjson``.

Files are written under a hidden working folder inside the target folder and moved into place
only when everything succeeded, with a ``manifest.json`` listing each file and its line count:
a failed export leaves no half-written files under the final names.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from ketaclinic.adapters.fhir.audit import audit_event
from ketaclinic.adapters.fhir.build import fhir_id, instant, validated
from ketaclinic.adapters.fhir.bundle import SHARED_TYPES, new_resources, resource_dicts, to_json
from ketaclinic.domain.errors import InvalidInput
from ketaclinic.services import interop
from ketaclinic.services.ports import Clock, UnitOfWorkFactory

RESOURCE = "fhir_bulk"
NDJSON = "application/fhir+ndjson"
# Every resource type a site export holds (contained Medications travel inside their
# MedicationAdministration).
RESOURCE_TYPES = (
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
)
Progress = Callable[[int, int], None]


class _Writers:
    """One open file per resource type, created on first use."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.handles: dict[str, IO[str]] = {}
        self.counts: dict[str, int] = {}

    def write(self, resource_type: str, line: str) -> None:
        handle = self.handles.get(resource_type)
        if handle is None:
            handle = open(self.folder / f"{resource_type}.ndjson", "w", encoding="utf-8")  # noqa: SIM115
            self.handles[resource_type] = handle
            self.counts[resource_type] = 0
        handle.write(line + "\n")
        self.counts[resource_type] += 1

    def close(self) -> None:
        for handle in self.handles.values():
            handle.close()


def export_site(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    caller: interop.Caller,
    site_code: str,
    out_dir: Path,
    *,
    progress: Progress | None = None,
    batch: int = interop.BATCH,
) -> dict[str, int]:
    """Write the site's NDJSON files and manifest into ``out_dir`` (created if missing; files of
    an earlier export there are replaced). Returns the line count per resource type."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InvalidInput.for_field("-o", str(out_dir), "a folder, not a file")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".ndjson-partial-", dir=out_dir))
    except OSError as error:
        raise InvalidInput.for_field(
            "-o", str(out_dir), f"a writable folder ({error.strerror})"
        ) from None
    export = interop.start_site_export(uow_factory, clock, caller, site_code, RESOURCE)
    writers = _Writers(work)
    seen_shared: set[tuple[str, str]] = set()
    done = 0
    try:
        for records in interop.site_records(
            uow_factory, clock, caller, export, RESOURCE, batch=batch
        ):
            for record in records:
                for resource in new_resources(record, seen_shared):
                    writers.write(resource.get_resource_type(), to_json(resource))
            done += len(records)
            if progress is not None:
                progress(done, export.patients)
        for entry in interop.site_audit_entries(uow_factory, export):
            patient = fhir_id("pat", entry.record.patient_id) if entry.record.patient_id else None
            writers.write("AuditEvent", to_json(validated(audit_event(entry, patient))))
        writers.close()
        manifest = {
            "transactionTime": instant(export.started_at),
            "site": export.site.code,
            "requiresAccessToken": False,
            "output": [
                {"type": kind, "url": f"{kind}.ndjson", "count": count}
                for kind, count in sorted(writers.counts.items())
            ],
            "error": [],
        }
        (work / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", "utf-8")
        for item in work.iterdir():
            item.replace(out_dir / item.name)
    finally:
        writers.close()
        shutil.rmtree(work, ignore_errors=True)
    interop.finish_site_export(
        uow_factory,
        clock,
        caller,
        export,
        RESOURCE,
        f"{done} patients, {sum(writers.counts.values())} resources",
    )
    return dict(sorted(writers.counts.items()))


def zip_folder(folder: Path, target: Path) -> None:
    """Zip every file of ``folder`` (flat) into ``target``."""
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for item in sorted(folder.iterdir()):
            if item.is_file():
                archive.write(item, arcname=item.name)


def stream_type(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    caller: interop.Caller,
    export: interop.SiteExport,
    resource_type: str,
    *,
    batch: int = interop.BATCH,
) -> Iterator[str]:
    """The site's resources of one type as NDJSON text, one chunk per batch of patients (each
    line ends in a newline), for a streamed download. Start the export first
    (:func:`~ketaclinic.services.interop.start_site_export`: it checks the caller); the finish
    is audited once the last chunk has been taken.

    Patients are read ``batch`` at a time as in :func:`export_site` and only resources of
    ``resource_type`` are validated and written, so memory holds one batch. ``AuditEvent`` is
    the site's audit trail up to the start of the export.
    """
    if resource_type not in RESOURCE_TYPES:
        raise InvalidInput.for_field("type", resource_type, f"one of {', '.join(RESOURCE_TYPES)}")
    lines = 0
    done = 0
    if resource_type == "AuditEvent":
        chunk: list[str] = []
        for entry in interop.site_audit_entries(uow_factory, export):
            patient = fhir_id("pat", entry.record.patient_id) if entry.record.patient_id else None
            chunk.append(to_json(validated(audit_event(entry, patient))) + "\n")
            if len(chunk) >= batch:
                lines += len(chunk)
                yield "".join(chunk)
                chunk = []
        if chunk:
            lines += len(chunk)
            yield "".join(chunk)
    else:
        seen: set[str] = set()
        for records in interop.site_records(
            uow_factory, clock, caller, export, RESOURCE, batch=batch
        ):
            chunk = []
            for record in records:
                for body in resource_dicts(record, include_access=False):
                    if body["resourceType"] != resource_type:
                        continue
                    if resource_type in SHARED_TYPES:
                        if body["id"] in seen:
                            continue
                        seen.add(body["id"])
                    chunk.append(to_json(validated(body)) + "\n")
            done += len(records)
            lines += len(chunk)
            if chunk:
                yield "".join(chunk)
    interop.finish_site_export(
        uow_factory, clock, caller, export, RESOURCE, f"{done} patients, {lines} {resource_type}"
    )
