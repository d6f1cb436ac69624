"""One collection Bundle of every patient (``ketaclinic export fhir --all``), written as a
stream.

The Bundle's envelope is written first, then each entry as its resource is mapped and
validated, batch by batch, so memory holds one batch however large the clinic; shared
resources (Organization, Locations, Questionnaires, Devices) appear once. The text is exactly
what ``fhir.resources`` writes for the same Bundle (element order, compact separators), so it
parses back and re-serialises identically. It goes to a temporary file renamed into place at
the end: a failed export leaves nothing under the final name.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from fhir.resources.R4B.bundle import Bundle

from ketaclinic.adapters.fhir.build import fhir_id, instant
from ketaclinic.adapters.fhir.bundle import BASE_URL, new_resources, to_json
from ketaclinic.domain.errors import InvalidInput
from ketaclinic.services import interop
from ketaclinic.services.ports import Clock, UnitOfWorkFactory

RESOURCE = "fhir_export"


def write_clinic_bundle(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    caller: interop.Caller,
    path: Path,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Write every patient of every site the caller may export into one Bundle at ``path``;
    returns the number of entries."""
    with uow_factory(readonly=True) as uow:
        codes = [s.code for s in uow.sites.all()]
    now = clock.now()
    envelope = {
        "resourceType": "Bundle",
        "id": fhir_id("clinic", now.strftime("%Y%m%dT%H%M%S")),
        "meta": {"lastUpdated": instant(now)},
        "type": "collection",
        "timestamp": instant(now),
    }
    # Serialised through the model so times are written exactly as fhir.resources does.
    head = to_json(Bundle.model_validate(envelope))
    tmp = path.with_name(path.name + ".partial")
    entries = 0
    seen: set[tuple[str, str]] = set()
    try:
        with open(tmp, "w", encoding="utf-8") as out:
            out.write(head[:-1] + ',"entry":[')
            for code in codes:
                export = interop.start_site_export(uow_factory, clock, caller, code, RESOURCE)
                done = 0
                for batch in interop.site_records(uow_factory, clock, caller, export, RESOURCE):
                    for record in batch:
                        for resource in new_resources(record, seen):
                            kind = resource.get_resource_type()
                            full_url = json.dumps(f"{BASE_URL}/{kind}/{resource.id}")
                            if entries:
                                out.write(",")
                            out.write(f'{{"fullUrl":{full_url},"resource":{to_json(resource)}}}')
                            entries += 1
                    done += len(batch)
                    if progress is not None:
                        progress(done, export.patients)
                interop.finish_site_export(
                    uow_factory, clock, caller, export, RESOURCE, f"{done} patients in bundle"
                )
            out.write("]}")
            if not entries:  # FHIR has no empty arrays: a Bundle without entries has none
                out.seek(0)
                out.truncate()
                out.write(head)
        tmp.replace(path)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        raise InvalidInput.for_field(
            "-o", str(path), f"a writable file ({error.strerror})"
        ) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return entries
