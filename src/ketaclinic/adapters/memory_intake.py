"""In-memory implementations of the intake ports (leads, intakes and consent, scheduling).

Their state lives in :class:`IntakeState`, one field of ``MemoryStore``; the memory unit of work
snapshots and restores it with the rest of the store, so rollback behaves as on the databases.
Records are frozen, so copying the dictionaries is a full copy. The fakes enforce the same
uniqueness the tables do (one sign-off per intake, one visit per chair and start, protocol ids).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from ketaclinic.domain.errors import Conflict, NotFound
from ketaclinic.domain.protocols import Protocol
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

if TYPE_CHECKING:
    from ketaclinic.adapters.memory import MemoryStore


@dataclass
class IntakeState:
    leads: dict[int, Lead] = field(default_factory=dict)
    intakes: dict[int, StoredIntake] = field(default_factory=dict)
    signoffs: dict[int, EligibilitySignoff] = field(default_factory=dict)  # by intake id
    versions: dict[int, ConsentVersion] = field(default_factory=dict)
    consents: dict[int, PatientConsent] = field(default_factory=dict)
    hours: dict[int, ClinicHours] = field(default_factory=dict)  # by site id
    protocols: dict[str, Protocol] = field(default_factory=dict)
    plans: dict[int, TreatmentPlan] = field(default_factory=dict)
    series: dict[int, Series] = field(default_factory=dict)  # without visits
    visits: dict[int, Visit] = field(default_factory=dict)
    cancelled: dict[int, CancelledVisit] = field(default_factory=dict)  # by visit id

    def __copy__(self) -> IntakeState:
        return IntakeState(
            dict(self.leads),
            dict(self.intakes),
            dict(self.signoffs),
            dict(self.versions),
            dict(self.consents),
            dict(self.hours),
            dict(self.protocols),
            dict(self.plans),
            dict(self.series),
            dict(self.visits),
            dict(self.cancelled),
        )

    def __deepcopy__(self, memo: dict[int, object]) -> IntakeState:
        return self.__copy__()


class MemoryLeadRepository:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    @property
    def _rows(self) -> dict[int, Lead]:
        return self.store.intake.leads

    def add(self, inquiry: Inquiry, at: dt.datetime) -> Lead:
        lead = Lead(
            id=self.store.new_id(),
            site_id=inquiry.site_id,
            name=inquiry.name,
            email=inquiry.email,
            phone=inquiry.phone,
            message=inquiry.message,
            language=inquiry.language,
            received_at=at,
        )
        self._rows[lead.id] = lead
        return lead

    def get(self, lead_id: int) -> Lead | None:
        return self._rows.get(lead_id)

    def list(
        self, site_ids: frozenset[int], status: LeadStatus | None = None, limit: int = 200
    ) -> list[Lead]:
        found = [
            lead
            for lead in self._rows.values()
            if lead.site_id in site_ids and (status is None or lead.status is status)
        ]
        found.sort(key=lambda lead: (lead.received_at, lead.id), reverse=True)
        return found[:limit]

    def set_status(
        self,
        lead_id: int,
        status: LeadStatus,
        by_user_id: int,
        at: dt.datetime,
        patient_id: int | None = None,
    ) -> Lead:
        lead = self._rows.get(lead_id)
        if lead is None:
            raise NotFound(f"lead {lead_id} not found")
        updated = replace(
            lead, status=status, handled_by=by_user_id, handled_at=at, patient_id=patient_id
        )
        self._rows[lead_id] = updated
        return updated


class MemoryIntakeRepository:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    @property
    def _state(self) -> IntakeState:
        return self.store.intake

    def add_intake(self, intake: StoredIntake) -> StoredIntake:
        stored = replace(intake, id=self.store.new_id())
        self._state.intakes[stored.id] = stored
        return stored

    def get_intake(self, intake_id: int) -> StoredIntake | None:
        return self._state.intakes.get(intake_id)

    def intakes(self, patient_id: int) -> list[StoredIntake]:
        found = [i for i in self._state.intakes.values() if i.patient_id == patient_id]
        return sorted(found, key=lambda i: (i.recorded_at, i.id), reverse=True)

    def add_signoff(self, signoff: EligibilitySignoff) -> EligibilitySignoff:
        if signoff.intake_id in self._state.signoffs:
            raise Conflict(
                f"intake_id: intake {signoff.intake_id} is already signed", field="intake_id"
            )
        stored = replace(signoff, id=self.store.new_id())
        self._state.signoffs[stored.intake_id] = stored
        return stored

    def signoff(self, intake_id: int) -> EligibilitySignoff | None:
        return self._state.signoffs.get(intake_id)

    def add_consent_version(
        self, text: ConsentText, by_user_id: int | None, at: dt.datetime
    ) -> ConsentVersion:
        latest = max((v.version for v in self._state.versions.values()), default=0)
        version = ConsentVersion(self.store.new_id(), latest + 1, text, by_user_id, at)
        self._state.versions[version.id] = version
        return version

    def update_consent_version(self, version_id: int, text: ConsentText) -> ConsentVersion:
        version = self._state.versions.get(version_id)
        if version is None:
            raise NotFound(f"consent version {version_id} not found")
        updated = replace(version, text=text)
        self._state.versions[version_id] = updated
        return updated

    def consent_versions(self) -> list[ConsentVersion]:
        return sorted(self._state.versions.values(), key=lambda v: v.version, reverse=True)

    def consent_version_used(self, version_id: int) -> bool:
        return any(c.version_id == version_id for c in self._state.consents.values())

    def add_consent(self, consent: PatientConsent) -> PatientConsent:
        version = self._state.versions[consent.version_id]
        stored = replace(consent, id=self.store.new_id(), version=version.version)
        self._state.consents[stored.id] = stored
        return stored

    def consents(self, patient_id: int) -> list[PatientConsent]:
        found = [c for c in self._state.consents.values() if c.patient_id == patient_id]
        return sorted(found, key=lambda c: (c.signed_at, c.id), reverse=True)


class MemoryScheduleRepository:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    @property
    def _state(self) -> IntakeState:
        return self.store.intake

    def set_hours(self, hours: ClinicHours) -> None:
        self._state.hours[hours.site_id] = hours

    def hours(self, site_id: int) -> ClinicHours | None:
        return self._state.hours.get(site_id)

    def lock_site(self, site_id: int) -> None:
        # The memory unit of work holds the store's lock for its whole lifetime already.
        del site_id

    def add_protocol(self, protocol: Protocol, by_user_id: int, at: dt.datetime) -> None:
        del by_user_id, at
        if protocol.id in self._state.protocols:
            raise Conflict(
                f"id: got {protocol.id!r}, expected an id not already in use", field="id"
            )
        self._state.protocols[protocol.id] = protocol

    def protocols(self) -> list[Protocol]:
        return [self._state.protocols[key] for key in sorted(self._state.protocols)]

    def add_plan(self, plan: TreatmentPlan) -> TreatmentPlan:
        stored = replace(plan, id=self.store.new_id())
        self._state.plans[stored.id] = stored
        return stored

    def plans(self, patient_id: int) -> list[TreatmentPlan]:
        found = [p for p in self._state.plans.values() if p.patient_id == patient_id]
        return sorted(found, key=lambda p: (p.signed_at, p.id), reverse=True)

    def _clash(self, new: NewVisit, ignore: int | None = None) -> bool:
        return any(
            v.chair_id == new.chair_id and v.starts_at == new.starts_at and v.id != ignore
            for v in self._state.visits.values()
        )

    def add_series(self, series: Series, visits: Sequence[NewVisit]) -> Series:
        for visit in visits:
            if self._clash(visit):
                raise Conflict(
                    f"chair_id: chair {visit.chair_id} already has a visit starting at "
                    f"{visit.starts_at.isoformat(timespec='minutes')}",
                    field="chair_id",
                )
        stored = replace(series, id=self.store.new_id(), visits=())
        self._state.series[stored.id] = stored
        for visit in visits:
            row = Visit(
                id=self.store.new_id(),
                series_id=stored.id,
                patient_id=stored.patient_id,
                site_id=stored.site_id,
                chair_id=visit.chair_id,
                number=visit.number,
                starts_at=visit.starts_at,
                ends_at=visit.ends_at,
                local_day=visit.local_day,
            )
            self._state.visits[row.id] = row
        found = self.get_series(stored.id)
        assert found is not None
        return found

    def get_series(self, series_id: int) -> Series | None:
        series = self._state.series.get(series_id)
        if series is None:
            return None
        visits = sorted(
            (v for v in self._state.visits.values() if v.series_id == series_id),
            key=lambda v: v.number,
        )
        cancelled = sorted(
            (c for c in self._state.cancelled.values() if c.visit.series_id == series_id),
            key=lambda c: (c.visit.number, c.visit.id),
        )
        return replace(series, visits=tuple(visits), cancelled=tuple(cancelled))

    def series_for(self, patient_id: int) -> list[Series]:
        found = [s for s in self._state.series.values() if s.patient_id == patient_id]
        found.sort(key=lambda s: (s.booked_at, s.id))
        return [s for s in (self.get_series(s.id) for s in found) if s is not None]

    def visits_between(self, site_id: int, start: dt.datetime, end: dt.datetime) -> list[Visit]:
        found = [
            v
            for v in self._state.visits.values()
            if v.site_id == site_id and v.starts_at < end and v.ends_at > start
        ]
        return sorted(found, key=lambda v: (v.starts_at, v.chair_id))

    def patient_visits(self, patient_id: int) -> list[Visit]:
        found = [v for v in self._state.visits.values() if v.patient_id == patient_id]
        return sorted(found, key=lambda v: v.starts_at)

    def move_visit(self, visit_id: int, new: NewVisit) -> Visit:
        visit = self._state.visits.get(visit_id)
        if visit is None:
            raise NotFound(f"visit {visit_id} not found")
        if self._clash(new, ignore=visit_id):
            raise Conflict(
                f"chair_id: chair {new.chair_id} already has a visit starting at "
                f"{new.starts_at.isoformat(timespec='minutes')}",
                field="chair_id",
            )
        moved = replace(
            visit,
            chair_id=new.chair_id,
            starts_at=new.starts_at,
            ends_at=new.ends_at,
            local_day=new.local_day,
        )
        self._state.visits[visit_id] = moved
        return moved

    def cancel_visit(
        self, visit_id: int, by_user_id: int, at: dt.datetime, reason: str
    ) -> CancelledVisit:
        visit = self._state.visits.pop(visit_id, None)
        if visit is None:
            raise NotFound(f"visit {visit_id} not found")
        cancelled = CancelledVisit(visit, by_user_id, at, reason)
        self._state.cancelled[visit_id] = cancelled
        return cancelled

    def set_decision(
        self,
        series_id: int,
        decision: InductionDecision,
        note: str,
        by_user_id: int,
        at: dt.datetime,
    ) -> Series:
        series = self._state.series.get(series_id)
        if series is None:
            raise NotFound(f"series {series_id} not found")
        self._state.series[series_id] = replace(
            series, decision=decision, decision_note=note, decided_by=by_user_id, decided_at=at
        )
        found = self.get_series(series_id)
        assert found is not None
        return found
