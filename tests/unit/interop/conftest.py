"""Personas for the interoperability tests: one patient whose record has every section a
capability stores (vitals by hand and from a monitor, questionnaires, intake, consent, a series
with a cancelled visit, an infusion with a rate change, a pause and a stop, an alert) and an
access log."""

from __future__ import annotations

import datetime as dt
from types import MappingProxyType

import pytest

from ketaclinic.domain.administration import (
    AdministrationRecord,
    Pause,
    RateChange,
    Resume,
    StartInfusion,
    Stop,
)
from ketaclinic.domain.audit import AuditAction, AuditOutcome, AuditRecord, seal
from ketaclinic.domain.people import BodyMeasurement, Patient, Role, Sex, Site
from ketaclinic.domain.session_lifecycle import Actor
from ketaclinic.domain.vitals import VitalKind, VitalSource
from ketaclinic.services.interop_mar import periods_of
from ketaclinic.services.interop_records import (
    AlertRow,
    CancelledVisitRow,
    ConsentRow,
    DissociationRow,
    IntakeRow,
    MonitorOrigin,
    PatientRecord,
    ResponseRow,
    SeriesRow,
    SessionRow,
    VisitRow,
    VitalRow,
)

T0 = dt.datetime(2026, 11, 2, 14, 0, tzinfo=dt.UTC)
NURSE = Actor(user_id=7, role=Role.NURSE)


def mar() -> AdministrationRecord:
    """40 mg in 100 mL (0.4 mg/mL) at 150 mL/h, raised to 160, paused 5 min, stopped."""
    record = AdministrationRecord()
    record = record.append(T0, NURSE, StartInfusion(40.0, 0.4, 100.0, 150.0, "LOT-7781", "PUMP-2"))
    record = record.append(T0 + dt.timedelta(minutes=10), NURSE, RateChange(160.0))
    record = record.append(T0 + dt.timedelta(minutes=20), NURSE, Pause("nausea"))
    record = record.append(T0 + dt.timedelta(minutes=25), NURSE, Resume())
    return record.append(T0 + dt.timedelta(minutes=40), NURSE, Stop("dose complete"))


def build_record() -> PatientRecord:
    patient = Patient(
        id=12,
        site_id=1,
        mrn="TEST-0012",
        given_name="Ana",
        family_name="Redfern",
        birth_date=dt.date(1984, 5, 17),
        sex=Sex.FEMALE,
        email="ana@example.invalid",
        phone="+1-555-0100",
        preferred_language="es",
        created_at=T0 - dt.timedelta(days=40),
    )
    site = Site(1, "MIA", "Miami", "America/New_York", "+1 305 555 0142")
    origin = MonitorOrigin(
        message_id=501,
        sending_application="BEDSIDE",
        sending_facility="MIA",
        control_id="MSG-0001",
        message_time=T0 + dt.timedelta(minutes=5),
        received_at=T0 + dt.timedelta(minutes=5, seconds=1),
        chair_code="MIA-1",
    )
    at = T0 + dt.timedelta(minutes=5)

    def vital(i: int, kind: VitalKind, value: float, code: str, monitor: bool) -> VitalRow:
        return VitalRow(
            id=i,
            kind=kind,
            value=value,
            unit="",
            code=code,
            observed_at=at if monitor else T0 - dt.timedelta(minutes=10),
            source=VitalSource.MONITOR if monitor else VitalSource.MANUAL,
            recorded_at=at,
            monitor=origin if monitor else None,
            session_id=90,
        )

    vitals = (
        vital(1, VitalKind.BP_SYSTOLIC, 128, "8480-6", False),
        vital(2, VitalKind.BP_DIASTOLIC, 82, "8462-4", False),
        vital(3, VitalKind.BP_SYSTOLIC, 142, "150021", True),
        vital(4, VitalKind.BP_DIASTOLIC, 88, "150022", True),
        vital(5, VitalKind.HEART_RATE, 91, "147842", True),
        vital(6, VitalKind.SPO2, 97, "150456", True),
        vital(7, VitalKind.RESPIRATORY_RATE, 14, "151562", True),
        vital(8, VitalKind.TEMPERATURE, 36.8, "150344", True),
        vital(9, VitalKind.BP_MEAN, 106, "150023", True),
    )
    periods, boluses = periods_of(90, mar(), T0 + dt.timedelta(hours=3))
    responses = (
        ResponseRow(
            id=31,
            instrument_id="phq9",
            instrument_version="PHQ-9",
            source="self_report",
            completed_at=T0 - dt.timedelta(days=3),
            recorded_at=T0 - dt.timedelta(days=3),
            language="es",
            answers=MappingProxyType({f"phq9_0{i}": 2 for i in range(1, 10)}),
            total=18,
            severity="moderately_severe",
            flags=("phq9_item9_positive",),
        ),
        ResponseRow(
            id=32,
            instrument_id="pcl5",
            instrument_version="PCL-5",
            source="staff_entry",
            completed_at=T0 - dt.timedelta(days=3),
            recorded_at=T0 - dt.timedelta(days=3),
            language="en",
            answers=MappingProxyType({f"pcl5_{i:02d}": 3 for i in range(1, 21)}),
            total=60,
            subscales=MappingProxyType({"B": 15, "C": 6, "D": 21, "E": 18}),
            flags=("dsm5_cluster_rule_met", "probable_ptsd_cut_point"),
            entered_by=7,
        ),
    )
    visit = VisitRow(71, 70, 1, "MIA-1", T0 - dt.timedelta(minutes=20), T0 + dt.timedelta(hours=3))
    # Visit 2 was booked on MIA-2, a chair the patient never sat in, then cancelled.
    second = T0 + dt.timedelta(days=2)
    cancelled = CancelledVisitRow(
        VisitRow(72, 70, 2, "MIA-2", second, second + dt.timedelta(hours=3)),
        cancelled_at=T0 + dt.timedelta(hours=5),
        cancelled_by=9,
        reason="Patient travelling; rebook next week",
    )
    entries = []
    prev = "0" * 64
    for seq, (action, outcome) in enumerate(
        [
            (AuditAction.READ, AuditOutcome.OK),
            (AuditAction.DENIED, AuditOutcome.NOT_FOUND),
            (AuditAction.EXPORT, AuditOutcome.OK),
        ],
        start=1,
    ):
        rec = AuditRecord(
            action=action,
            resource="patient",
            outcome=outcome,
            user_id=7,
            username="nurse.mia",
            role="nurse",
            site_id=1,
            patient_id=12,
            resource_id="12",
            client="127.0.0.1",
        )
        entry = seal(prev, seq, T0 + dt.timedelta(hours=seq), rec)
        prev = entry.hash
        entries.append(entry)
    return PatientRecord(
        patient=patient,
        site=site,
        organisation="Test Clinic",
        measurements=(
            BodyMeasurement(12, T0 - dt.timedelta(days=40), 70.0, 165.0, 7, id=41),
            BodyMeasurement(12, T0 - dt.timedelta(minutes=30), 71.5, None, 7, id=42),
        ),
        vitals=vitals,
        responses=responses,
        intakes=(
            IntakeRow(
                id=61,
                assessment_date=(T0 - dt.timedelta(days=30)).date(),
                trauma_date=dt.date(2024, 3, 1),
                decision="eligible",
                recorded_at=T0 - dt.timedelta(days=30),
                recorded_by=7,
                signed_decision="eligible",
                signed_at=T0 - dt.timedelta(days=29),
                signed_by=8,
            ),
        ),
        consents=(ConsentRow(81, 3, "es", T0 - dt.timedelta(days=29), 8),),
        series=(
            SeriesRow(70, "feder-2021", T0 - dt.timedelta(days=28), None, (visit,), (cancelled,)),
        ),
        sessions=(
            SessionRow(
                id=90,
                state="discharged",
                chair_code="MIA-1",
                protocol_id="feder-2021",
                checked_in_at=T0 - dt.timedelta(minutes=20),
                infusion_started_at=T0,
                infusion_ended_at=T0 + dt.timedelta(minutes=40),
                closed_at=T0 + dt.timedelta(hours=3),
                weight_kg=71.5,
                planned_dose_mg=40.0,
                checked_in_by=7,
            ),
        ),
        administrations=tuple(periods),
        boluses=tuple(boluses),
        alerts=(
            AlertRow(
                id=111,
                session_id=90,
                rule="bp_systolic_hold",
                label="Systolic BP above hold limit",
                tier="clinical",
                state="resolved",
                value=142.0,
                unit="mm[Hg]",
                raised_at=at,
                acknowledged_at=at + dt.timedelta(minutes=1),
                resolved_at=at + dt.timedelta(minutes=30),
            ),
        ),
        dissociation=(
            DissociationRow(
                id=121,
                session_id=90,
                timepoint="end_of_infusion",
                items=MappingProxyType(
                    {
                        "cadss_01": 2,
                        "cadss_02": 1,
                        "cadss_06": 0,
                        "cadss_07": 1,
                        "cadss_15": 0,
                        "cadss_22": 1,
                    }
                ),
                total=5,
                scored_at=T0 + dt.timedelta(minutes=40),
                scored_by=7,
            ),
        ),
        access=tuple(entries),
        staff=MappingProxyType({7: "nurse.mia", 8: "prescriber.mia", 9: "frontdesk.mia"}),
    )


@pytest.fixture
def record() -> PatientRecord:
    return build_record()
