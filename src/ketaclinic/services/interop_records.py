"""The read model of interoperability: one patient's whole record as the exports need it.

A :class:`PatientRecord` gathers what every capability stores about one patient (demographics,
body measurements, vital readings with their monitor origin, questionnaire responses, intake and
eligibility sign-off, consent, series with their booked and cancelled visits, infusion sessions,
administration periods, alerts, and the patient's access log) as plain frozen values. The FHIR
mapper (``adapters/fhir``), the bulk NDJSON writer and the research export read these values;
none of them sees storage rows. A :class:`~ketaclinic.services.interop_ports.RecordReader`
builds them.

Times are timezone-aware UTC; staff appear by username only (``staff`` maps ids to usernames).
Sections another capability has not stored yet are empty tuples.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ketaclinic.domain.audit import AuditEntry
from ketaclinic.domain.people import BodyMeasurement, Patient, Site
from ketaclinic.domain.vitals import VitalKind, VitalSource


def _empty() -> Mapping[str, int]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class MonitorOrigin:
    """The HL7 message a monitor reading arrived in (DESIGN.md §4.4)."""

    message_id: int
    sending_application: str
    sending_facility: str
    control_id: str
    message_time: dt.datetime
    received_at: dt.datetime
    chair_code: str | None = None


@dataclass(frozen=True, slots=True)
class VitalRow:
    """One stored vital-sign reading. ``code`` is the code it arrived with (LOINC or MDC)."""

    id: int
    kind: VitalKind
    value: float
    unit: str
    code: str
    observed_at: dt.datetime
    source: VitalSource
    recorded_at: dt.datetime
    flag: str = ""
    monitor: MonitorOrigin | None = None
    session_id: int | None = None


@dataclass(frozen=True, slots=True)
class ResponseRow:
    """One completed instrument with its stored score (area ``mbc``)."""

    id: int
    instrument_id: str
    instrument_version: str
    source: str
    completed_at: dt.datetime
    recorded_at: dt.datetime
    language: str
    answers: Mapping[str, int]
    total: int | None
    subscales: Mapping[str, int] = field(default_factory=_empty)
    severity: str | None = None
    flags: tuple[str, ...] = ()
    entered_by: int | None = None


@dataclass(frozen=True, slots=True)
class IntakeRow:
    """An intake assessment, its engine decision and the prescriber's sign-off if any."""

    id: int
    assessment_date: dt.date
    trauma_date: dt.date
    decision: str
    recorded_at: dt.datetime
    recorded_by: int | None
    signed_decision: str | None = None
    signed_at: dt.datetime | None = None
    signed_by: int | None = None


@dataclass(frozen=True, slots=True)
class ConsentRow:
    """A signed consent: which text version, in which language, witnessed by whom."""

    id: int
    version: int
    language: str
    signed_at: dt.datetime
    witness_id: int | None


@dataclass(frozen=True, slots=True)
class VisitRow:
    """One booked visit of a series on a chair."""

    id: int
    series_id: int
    number: int
    chair_code: str
    starts_at: dt.datetime
    ends_at: dt.datetime


@dataclass(frozen=True, slots=True)
class CancelledVisitRow:
    """A visit taken off the schedule: the visit as it was booked, and who cancelled it, when
    and why (the reason is the front desk's free text)."""

    visit: VisitRow
    cancelled_at: dt.datetime
    cancelled_by: int | None
    reason: str


@dataclass(frozen=True, slots=True)
class SeriesRow:
    """A treatment series: its protocol, when it was booked, its visits in order and the
    visits cancelled from it (by visit number)."""

    id: int
    protocol_id: str
    booked_at: dt.datetime
    decision: str | None
    visits: tuple[VisitRow, ...] = ()
    cancelled: tuple[CancelledVisitRow, ...] = ()

    @property
    def first_visit_at(self) -> dt.datetime | None:
        return min((v.starts_at for v in self.visits), default=None)


@dataclass(frozen=True, slots=True)
class SessionRow:
    """An infusion session (area ``chair``): its state, chair and times."""

    id: int
    state: str
    chair_code: str
    protocol_id: str
    checked_in_at: dt.datetime
    infusion_started_at: dt.datetime | None = None
    infusion_ended_at: dt.datetime | None = None
    closed_at: dt.datetime | None = None
    weight_kg: float | None = None
    planned_dose_mg: float | None = None
    checked_in_by: int | None = None


@dataclass(frozen=True, slots=True)
class AdministrationPeriod:
    """A stretch of constant pump rate within a session (a new one per rate change, pause or
    resume). ``end`` is ``None`` while the pump is still running at this rate."""

    session_id: int
    index: int
    start: dt.datetime
    end: dt.datetime | None
    rate_ml_per_h: float
    concentration_mg_per_ml: float
    lot: str
    status: str  # "in-progress" | "completed" | "stopped"

    @property
    def volume_ml(self) -> float | None:
        """Volume delivered at this rate (None while still running)."""
        if self.end is None:
            return None
        return self.rate_ml_per_h * (self.end - self.start).total_seconds() / 3600

    @property
    def dose_mg(self) -> float | None:
        volume = self.volume_ml
        return None if volume is None else volume * self.concentration_mg_per_ml


@dataclass(frozen=True, slots=True)
class BolusRow:
    """A bolus given during a session (only where the protocol allows one)."""

    session_id: int
    at: dt.datetime
    dose_mg: float
    lot: str


@dataclass(frozen=True, slots=True)
class AlertRow:
    """An alert at the chair (clinical or plausibility tier) and where its life cycle stands."""

    id: int
    session_id: int
    rule: str
    label: str
    tier: str
    state: str
    value: float
    unit: str
    raised_at: dt.datetime
    acknowledged_at: dt.datetime | None = None
    resolved_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class DissociationRow:
    """A CADSS-6 score charted at the chair: item numbers and values only (REFERENCE.md §10)."""

    id: int
    session_id: int
    timepoint: str
    items: Mapping[str, int]
    total: int
    scored_at: dt.datetime
    scored_by: int | None = None


@dataclass(frozen=True, slots=True)
class PatientRecord:
    """Everything stored about one patient that an export may carry."""

    patient: Patient
    site: Site
    organisation: str
    measurements: tuple[BodyMeasurement, ...] = ()
    vitals: tuple[VitalRow, ...] = ()
    responses: tuple[ResponseRow, ...] = ()
    intakes: tuple[IntakeRow, ...] = ()
    consents: tuple[ConsentRow, ...] = ()
    series: tuple[SeriesRow, ...] = ()
    sessions: tuple[SessionRow, ...] = ()
    administrations: tuple[AdministrationPeriod, ...] = ()
    boluses: tuple[BolusRow, ...] = ()
    alerts: tuple[AlertRow, ...] = ()
    dissociation: tuple[DissociationRow, ...] = ()
    access: tuple[AuditEntry, ...] = ()
    staff: Mapping[int, str] = field(default_factory=lambda: MappingProxyType({}))

    def username(self, user_id: int | None) -> str | None:
        return None if user_id is None else self.staff.get(user_id)

    @property
    def first_contact(self) -> dt.datetime:
        """The earliest time anything was recorded for the patient (registration at worst)."""
        candidates: list[dt.datetime] = [m.measured_at for m in self.measurements]
        candidates += [r.completed_at for r in self.responses]
        candidates += [v.observed_at for v in self.vitals]
        candidates += [s.checked_in_at for s in self.sessions]
        if self.patient.created_at is not None:
            candidates.append(self.patient.created_at)
        return min(candidates) if candidates else dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
