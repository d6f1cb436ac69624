"""The storage ports of intake: leads, intakes with eligibility and consent, and scheduling.

Implemented in memory (``adapters/memory_intake.py``) and with SQLAlchemy
(``adapters/db/repositories_intake.py``); ``tests/integration/intake/test_intake_contract.py``
holds all of them to one contract. Repositories never commit; the unit of work does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Protocol

from ketaclinic.domain.protocols import Protocol as SeriesProtocol
from ketaclinic.services.intake_models import (
    CancelledVisit,
    ClinicHours,
    ConsentText,
    ConsentVersion,
    EligibilitySignoff,
    InductionDecision,
    Inquiry,
    Lead,
    LeadStatus,
    NewVisit,
    PatientConsent,
    Series,
    StoredIntake,
    TreatmentPlan,
    Visit,
)


class LeadRepository(Protocol):
    def add(self, inquiry: Inquiry, at: dt.datetime) -> Lead: ...
    def get(self, lead_id: int) -> Lead | None: ...
    def list(
        self, site_ids: frozenset[int], status: LeadStatus | None = None, limit: int = 200
    ) -> list[Lead]:
        """Newest first."""
        ...

    def set_status(
        self,
        lead_id: int,
        status: LeadStatus,
        by_user_id: int,
        at: dt.datetime,
        patient_id: int | None = None,
    ) -> Lead: ...


class IntakeRepository(Protocol):
    def add_intake(self, intake: StoredIntake) -> StoredIntake:
        """Store ``intake`` (its ``id`` is ignored) and return it with the new id."""
        ...

    def get_intake(self, intake_id: int) -> StoredIntake | None: ...
    def intakes(self, patient_id: int) -> list[StoredIntake]:
        """Newest first."""
        ...

    def add_signoff(self, signoff: EligibilitySignoff) -> EligibilitySignoff:
        """Raises Conflict when the intake is already signed."""
        ...

    def signoff(self, intake_id: int) -> EligibilitySignoff | None: ...
    def add_consent_version(
        self, text: ConsentText, by_user_id: int | None, at: dt.datetime
    ) -> ConsentVersion:
        """Store the next version number (1, 2, …)."""
        ...

    def update_consent_version(self, version_id: int, text: ConsentText) -> ConsentVersion: ...
    def consent_versions(self) -> list[ConsentVersion]:
        """Newest first."""
        ...

    def consent_version_used(self, version_id: int) -> bool: ...
    def add_consent(self, consent: PatientConsent) -> PatientConsent: ...
    def consents(self, patient_id: int) -> list[PatientConsent]:
        """Newest first."""
        ...


class ScheduleRepository(Protocol):
    def set_hours(self, hours: ClinicHours) -> None:
        """Replace the site's opening hours and slot step."""
        ...

    def hours(self, site_id: int) -> ClinicHours | None: ...
    def lock_site(self, site_id: int) -> None:
        """Hold the site's booking lock until the transaction ends, so that bookings at one site
        happen one after another (on PostgreSQL: ``SELECT … FOR UPDATE`` of the site's schedule
        row; SQLite transactions already hold the database's write lock)."""
        ...

    def add_protocol(self, protocol: SeriesProtocol, by_user_id: int, at: dt.datetime) -> None:
        """Store a clinic-defined protocol; Conflict when the id exists."""
        ...

    def protocols(self) -> list[SeriesProtocol]:
        """The clinic-defined protocols, by id."""
        ...

    def add_plan(self, plan: TreatmentPlan) -> TreatmentPlan: ...
    def plans(self, patient_id: int) -> list[TreatmentPlan]:
        """Newest first."""
        ...

    def add_series(self, series: Series, visits: Sequence[NewVisit]) -> Series:
        """Store a series and its visits; Conflict if a chair is already booked at a start."""
        ...

    def get_series(self, series_id: int) -> Series | None: ...
    def series_for(self, patient_id: int) -> list[Series]:
        """Oldest first, each with its visits in order."""
        ...

    def visits_between(self, site_id: int, start: dt.datetime, end: dt.datetime) -> list[Visit]:
        """Visits at the site that overlap [start, end), by start then chair."""
        ...

    def patient_visits(self, patient_id: int) -> list[Visit]: ...
    def move_visit(self, visit_id: int, new: NewVisit) -> Visit: ...
    def cancel_visit(
        self, visit_id: int, by_user_id: int, at: dt.datetime, reason: str
    ) -> CancelledVisit:
        """Take the visit off the schedule (its chair is free again) and keep it, with who,
        when and why, among the series' cancelled visits; NotFound for an unknown visit."""
        ...

    def set_decision(
        self,
        series_id: int,
        decision: InductionDecision,
        note: str,
        by_user_id: int,
        at: dt.datetime,
    ) -> Series: ...
