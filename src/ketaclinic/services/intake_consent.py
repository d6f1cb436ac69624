"""Versioned consent text and patients' consent.

The clinic director writes consent versions (1, 2, …). The newest version is the one in force;
a version may be corrected until the first patient signs it and is immutable afterwards. A
patient's consent records the version, the language it was read in, the patient's name as they
typed it, the staff member who witnessed it and when. A patient's consent is *current* when it
is on the version in force: a new version asks every patient to consent again.
"""

from __future__ import annotations

from dataclasses import dataclass

from ketaclinic.domain.audit import AuditAction
from ketaclinic.domain.errors import Conflict, InvalidInput, NotFound
from ketaclinic.domain.people import Patient
from ketaclinic.services.audit import Actor, record, record_patient, require_role
from ketaclinic.services.intake_common import CLINICAL, DIRECTOR
from ketaclinic.services.intake_models import (
    ConsentText,
    ConsentVersion,
    PatientConsent,
    check_language,
    clean_text,
)
from ketaclinic.services.patients import load_visible
from ketaclinic.services.ports import Clock, UnitOfWork


@dataclass(frozen=True, slots=True)
class VersionInfo:
    """A consent version and whether any patient has signed it (then it is immutable)."""

    version: ConsentVersion
    used: bool


def consent_versions(uow: UnitOfWork, clock: Clock, actor: Actor) -> list[VersionInfo]:
    """Every version, newest (in force) first; director only."""
    require_role(uow, clock, actor, "consent_version", DIRECTOR)
    return [
        VersionInfo(v, uow.intake.consent_version_used(v.id)) for v in uow.intake.consent_versions()
    ]


def current_version(uow: UnitOfWork, clock: Clock, actor: Actor) -> ConsentVersion | None:
    """The consent version in force (``None`` before the director writes one), for the staff
    who read it with patients. The text is the clinic's, not health data: no audit entry for
    reading it; a refusal is audited."""
    require_role(uow, clock, actor, "consent_version", CLINICAL)
    versions = uow.intake.consent_versions()
    return versions[0] if versions else None


def add_consent_version(
    uow: UnitOfWork, clock: Clock, actor: Actor, text: ConsentText
) -> ConsentVersion:
    """Write the next consent version; it is in force from now on."""
    principal = require_role(uow, clock, actor, "consent_version", DIRECTOR)
    version = uow.intake.add_consent_version(
        ConsentText(clean_text(text.body_en), clean_text(text.body_es)),
        principal.user_id,
        clock.now(),
    )
    record(
        uow,
        clock,
        actor,
        AuditAction.CREATE,
        "consent_version",
        resource_id=version.id,
        detail=f"version {version.version}",
    )
    uow.commit()
    return version


def edit_consent_version(
    uow: UnitOfWork, clock: Clock, actor: Actor, version_id: int, text: ConsentText
) -> ConsentVersion:
    """Correct a version nobody has signed yet.

    Raises :class:`Conflict` once a patient has signed it (write a new version instead) and
    :class:`NotFound` for an unknown version.
    """
    require_role(uow, clock, actor, "consent_version", DIRECTOR)
    existing = next((v for v in uow.intake.consent_versions() if v.id == version_id), None)
    if existing is None:
        raise NotFound(f"consent version {version_id} not found", field="version_id")
    if uow.intake.consent_version_used(version_id):
        raise Conflict(
            f"version_id: version {existing.version} has been signed by patients and can no "
            "longer change; write a new version instead",
            field="version_id",
        )
    updated = uow.intake.update_consent_version(
        version_id, ConsentText(clean_text(text.body_en), clean_text(text.body_es))
    )
    record(
        uow,
        clock,
        actor,
        AuditAction.UPDATE,
        "consent_version",
        resource_id=version_id,
        detail=f"version {existing.version}",
    )
    uow.commit()
    return updated


@dataclass(frozen=True, slots=True)
class ConsentView:
    """A patient's consents (newest first) beside the version in force."""

    patient: Patient
    current: ConsentVersion | None
    consents: tuple[PatientConsent, ...]

    @property
    def is_current(self) -> bool:
        return self.current is not None and any(
            c.version_id == self.current.id for c in self.consents
        )


def consent_view(uow: UnitOfWork, clock: Clock, actor: Actor, patient_id: int) -> ConsentView:
    require_role(uow, clock, actor, "consent", CLINICAL)
    patient = load_visible(uow, clock, actor, patient_id, "consent")
    versions = uow.intake.consent_versions()
    consents = tuple(uow.intake.consents(patient.id))
    record_patient(uow, clock, actor, AuditAction.READ, "consent", patient)
    uow.commit()
    return ConsentView(patient, versions[0] if versions else None, consents)


def record_consent(
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    patient_id: int,
    version_id: int | None,
    signer_name: str,
    language: str,
) -> PatientConsent:
    """Record the patient's consent to the version in force, witnessed by the caller.

    ``version_id`` names the version the patient read (``None``: the one in force).

    Raises:
        Conflict: ``version_id`` is not the version in force (a newer one was written while
            the patient was reading), or the clinic has no consent text.
        InvalidInput: blank or too long name; a language without text in this version.
    """
    principal = require_role(uow, clock, actor, "consent", CLINICAL)
    patient = load_visible(uow, clock, actor, patient_id, "consent")
    versions = uow.intake.consent_versions()
    if not versions:
        raise Conflict("version_id: the clinic has no consent text yet", field="version_id")
    current = versions[0]
    if version_id is not None and version_id != current.id:
        raise Conflict(
            f"version_id: got {version_id}, expected the version in force (version "
            f"{current.version}); reload the page and read it with the patient",
            field="version_id",
        )
    check_language(language)
    if language == "es" and not current.text.body_es.strip():
        raise InvalidInput.for_field(
            "language", language, f"en (version {current.version} has no Spanish text)"
        )
    if any(c.version_id == current.id for c in uow.intake.consents(patient.id)):
        raise Conflict(
            f"version_id: the patient has already signed version {current.version}",
            field="version_id",
        )
    consent = uow.intake.add_consent(
        PatientConsent(
            id=0,
            patient_id=patient.id,
            version_id=current.id,
            version=current.version,
            language=language,
            signer_name=" ".join(clean_text(signer_name).split()),
            witness_id=principal.user_id,
            signed_at=clock.now(),
        )
    )
    record(
        uow,
        clock,
        actor,
        AuditAction.CREATE,
        "consent",
        site_id=patient.site_id,
        patient_id=patient.id,
        resource_id=consent.id,
        detail=f"version {current.version}",
    )
    uow.commit()
    return consent
