"""Use cases of interoperability: who may export which records, and the audit of every export.

- :func:`patient_record` — one patient's whole record for a FHIR Bundle (clinical roles; front
  desk is refused with 403; another site's patient is "not found"). Audited as an export.
- :func:`site_records` — every patient of a site in batches, for the bulk NDJSON and research
  exports (director, or the local operator on the command line). Each batch is read and audited
  in its own short transaction, so a long export never holds the database, and memory holds one
  batch at a time.
- :func:`site_audit_entries` — the audit trail of a site, for AuditEvent export.

The caller is a staff member (:class:`~ketaclinic.services.audit.Actor`, authorised and audited
as everywhere) or the :class:`Operator`: the person running ``ketaclinic`` on the server, who
has the database already. Operators are audited too, with role ``operator``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

from ketaclinic.domain.audit import AuditAction, AuditEntry, AuditRecord
from ketaclinic.domain.errors import NotFound
from ketaclinic.domain.people import CLINICAL_ROLES, Role, Site
from ketaclinic.services.audit import Actor, deny, record, require_role
from ketaclinic.services.interop_records import PatientRecord
from ketaclinic.services.patients import load_visible
from ketaclinic.services.ports import Clock, UnitOfWork, UnitOfWorkFactory

BATCH = 200
ACCESS_LOG_LIMIT = 5000
EXPORT_ROLES = CLINICAL_ROLES
BULK_ROLES = frozenset({Role.DIRECTOR})


@dataclass(frozen=True, slots=True)
class Operator:
    """The person running ``ketaclinic`` on the server (``name`` is their login name)."""

    name: str

    @property
    def client(self) -> str:
        return f"cli:{self.name}"[:64]


Caller = Actor | Operator


def audit(
    uow: UnitOfWork,
    clock: Clock,
    caller: Caller,
    action: AuditAction,
    resource: str,
    *,
    site_id: int | None = None,
    patient_id: int | None = None,
    resource_id: str | int = "",
    detail: str = "",
) -> None:
    """Record an action of a staff member or of the operator."""
    if isinstance(caller, Actor):
        record(
            uow,
            clock,
            caller,
            action,
            resource,
            site_id=site_id,
            patient_id=patient_id,
            resource_id=resource_id,
            detail=detail,
        )
        return
    uow.audit.append(
        AuditRecord(
            action=action,
            resource=resource,
            role="operator",
            site_id=site_id,
            patient_id=patient_id,
            resource_id=str(resource_id),
            client=caller.client,
            detail=detail[:500],
        ),
        clock.now(),
    )


def visible_sites(
    uow: UnitOfWork, clock: Clock, caller: Caller, resource: str, roles: Iterable[Role]
) -> frozenset[int]:
    """The sites the caller may export from; a staff member outside ``roles`` is refused
    (PermissionDenied, audited)."""
    if isinstance(caller, Operator):
        return frozenset(s.id for s in uow.sites.all())
    return require_role(uow, clock, caller, resource, roles).site_ids


def patient_record(uow: UnitOfWork, clock: Clock, caller: Caller, patient_id: int) -> PatientRecord:
    """The patient's whole record including their access log, audited as an export."""
    visible_sites(uow, clock, caller, "fhir_export", EXPORT_ROLES)
    if isinstance(caller, Actor):
        load_visible(uow, clock, caller, patient_id, "fhir_export")
    found = uow.records.records([patient_id])
    if not found:
        raise NotFound(f"patient {patient_id} not found")
    audit(
        uow,
        clock,
        caller,
        AuditAction.EXPORT,
        "fhir_export",
        site_id=found[0].patient.site_id,
        patient_id=patient_id,
        resource_id=patient_id,
        detail="FHIR bundle",
    )
    # Read after appending, so the exported access log includes this export.
    access = uow.audit.for_patient(patient_id, ACCESS_LOG_LIMIT)
    uow.commit()
    return replace(found[0], access=tuple(reversed(access)))


def patient_record_by_mrn(uow: UnitOfWork, clock: Clock, caller: Caller, mrn: str) -> PatientRecord:
    """As :func:`patient_record`, finding the patient by MRN; an unknown MRN (or one at a site
    the caller may not see) is a NotFound that does not repeat the MRN, and is audited."""
    visible_sites(uow, clock, caller, "fhir_export", EXPORT_ROLES)
    found = uow.patients.by_mrn(mrn.strip())
    if found is None:
        error = NotFound("mrn: no patient with this MRN at your sites", field="mrn")
        if isinstance(caller, Actor):
            raise deny(uow, clock, caller, "fhir_export", error)
        raise error
    return patient_record(uow, clock, caller, found.id)


def require_site(
    uow: UnitOfWork,
    clock: Clock,
    caller: Caller,
    code: str,
    resource: str,
    roles: Iterable[Role],
) -> Site:
    """The site named ``code`` if the caller (in ``roles``) may work on it; otherwise
    PermissionDenied or NotFound, audited for staff."""
    sites = visible_sites(uow, clock, caller, resource, roles)
    site = uow.sites.by_code(code.strip().upper())
    if site is None:
        known = ", ".join(s.code for s in uow.sites.all()) or "none yet"
        raise NotFound(f"site: {code!r} does not exist (known: {known})", field="site")
    if site.id not in sites:
        error = NotFound(f"site: {code!r} is not one of your sites", field="site")
        if isinstance(caller, Actor):
            raise deny(uow, clock, caller, resource, error, site_id=site.id)
        raise error
    return site


@dataclass(frozen=True, slots=True)
class SiteExport:
    """What a bulk export covers, fixed when it starts."""

    site: Site
    organisation: str
    patients: int
    started_at: dt.datetime
    audit_head_seq: int


def start_site_export(
    uow_factory: UnitOfWorkFactory, clock: Clock, caller: Caller, site_code: str, resource: str
) -> SiteExport:
    """Check the caller may export the whole site and record that the export started."""
    with uow_factory() as uow:
        site = require_site(uow, clock, caller, site_code, resource, BULK_ROLES)
        count = uow.patients.count(frozenset({site.id}))
        head = uow.audit.head()
        audit(
            uow,
            clock,
            caller,
            AuditAction.EXPORT,
            resource,
            site_id=site.id,
            detail=f"started: {count} patients",
        )
        uow.commit()
        return SiteExport(
            site=site,
            organisation=uow.sites.organisation_name(),
            patients=count,
            started_at=clock.now(),
            audit_head_seq=head[0] if head else 0,
        )


def site_records(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    caller: Caller,
    export: SiteExport,
    resource: str,
    *,
    batch: int = BATCH,
) -> Iterator[list[PatientRecord]]:
    """The site's patient records, ``batch`` at a time, in id order. Each batch is read in one
    read-only unit of work whose per-patient export entries are durable before it is yielded."""
    after = 0
    while True:
        # Read-only: the batch's entries go through the group commit when it commits, so an
        # export never holds the write lock (on SQLite, the monitor feed's) while it reads.
        with uow_factory(readonly=True) as uow:
            ids = uow.records.patient_ids(frozenset({export.site.id}), after_id=after, limit=batch)
            if not ids:
                return
            records = uow.records.records(ids)
            for r in records:
                audit(
                    uow,
                    clock,
                    caller,
                    AuditAction.EXPORT,
                    resource,
                    site_id=export.site.id,
                    patient_id=r.patient.id,
                    resource_id=r.patient.id,
                    detail="bulk",
                )
            uow.commit()
        after = ids[-1]
        yield records


def site_audit_entries(
    uow_factory: UnitOfWorkFactory, export: SiteExport, *, batch: int = 5000
) -> Iterator[AuditEntry]:
    """The site's audit entries up to the moment the export started, oldest first."""
    after = 0
    while after < export.audit_head_seq:
        with uow_factory(readonly=True) as uow:
            chunk = []
            for entry in uow.audit.entries(after_seq=after, batch=batch):
                if entry.seq > export.audit_head_seq:
                    break
                chunk.append(entry)
                if len(chunk) >= batch:
                    break
        if not chunk:
            return
        after = chunk[-1].seq
        yield from (e for e in chunk if e.record.site_id == export.site.id)


def finish_site_export(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    caller: Caller,
    export: SiteExport,
    resource: str,
    detail: str,
) -> None:
    with uow_factory() as uow:
        audit(
            uow,
            clock,
            caller,
            AuditAction.EXPORT,
            resource,
            site_id=export.site.id,
            detail=f"finished: {detail}",
        )
        uow.commit()
