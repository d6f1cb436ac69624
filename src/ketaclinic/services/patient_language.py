"""A patient's language, remembered for the links and e-mails the clinic sends them.

Staff record the preferred language at registration (or it comes from the inquiry the patient
wrote). When the patient then answers a one-time link in another language, that choice is theirs
and the better guide: :func:`remember_language` keeps it, so the next link, its e-mail and the
link page open in it. The change is audited like any other write to the patient's record.
"""

from __future__ import annotations

from ketaclinic.domain.audit import AuditAction
from ketaclinic.domain.errors import InvalidInput
from ketaclinic.locale import LANGUAGES
from ketaclinic.services.audit import Actor, record_patient
from ketaclinic.services.ports import Clock, UnitOfWork


def remember_language(
    uow: UnitOfWork, clock: Clock, actor: Actor, patient_id: int, language: str, *, why: str
) -> bool:
    """Make ``language`` the patient's preferred language if it is not already; returns whether
    it changed. ``why`` says where the patient chose it (kept in the audit detail, no health
    data). The caller has established that the actor may speak for this patient (staff with
    access, or the holder of the patient's own link). Commits.

    Raises :class:`InvalidInput` for a language ketaclinic does not speak.
    """
    if language not in LANGUAGES:
        raise InvalidInput.for_field("language", language, f"one of {', '.join(LANGUAGES)}")
    patient = uow.patients.get(patient_id)
    if patient is None or patient.preferred_language == language:
        return False
    uow.patients.set_preferred_language(patient.id, language)
    record_patient(
        uow,
        clock,
        actor,
        AuditAction.UPDATE,
        "patient_language",
        patient,
        detail=f"{patient.preferred_language} -> {language} ({why})",
    )
    uow.commit()
    return True
