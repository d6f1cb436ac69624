"""SQLAlchemy implementations of the lead and intake ports (services/intake_ports.py); the
scheduling port is in ``repositories_intake_schedule.py``.

Each repository works inside its unit of work's connection and never commits. Inserts that a
unique constraint may refuse run in a savepoint, so a refusal becomes a :class:`Conflict` and the
surrounding transaction stays usable.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from ketaclinic.adapters.db import tables_intake as t
from ketaclinic.adapters.db.repositories import as_utc, utc
from ketaclinic.domain.eligibility import Decision
from ketaclinic.domain.errors import Conflict, NotFound
from ketaclinic.domain.intake import Condition, IntakeRecord
from ketaclinic.domain.people import Sex
from ketaclinic.services.intake_models import (
    ConsentText,
    ConsentVersion,
    EligibilitySignoff,
    Inquiry,
    IntakeNotes,
    Lead,
    LeadStatus,
    PatientConsent,
    StoredIntake,
    StoredReason,
)

# --- leads ----------------------------------------------------------------------------------


def _lead(row: Any) -> Lead:
    return Lead(
        id=row.id,
        site_id=row.site_id,
        name=row.name,
        email=row.email,
        phone=row.phone,
        message=row.message,
        language=row.language,
        received_at=utc(row.received_at),
        status=LeadStatus(row.status),
        patient_id=row.patient_id,
        handled_by=row.handled_by,
        handled_at=as_utc(row.handled_at),
    )


class SqlLeadRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, inquiry: Inquiry, at: dt.datetime) -> Lead:
        new_id = self.conn.execute(
            t.lead.insert()
            .values(
                site_id=inquiry.site_id,
                name=inquiry.name,
                email=inquiry.email,
                phone=inquiry.phone,
                message=inquiry.message,
                language=inquiry.language,
                received_at=at,
                status=LeadStatus.NEW.value,
            )
            .returning(t.lead.c.id)
        ).scalar_one()
        found = self.get(new_id)
        assert found is not None
        return found

    def get(self, lead_id: int) -> Lead | None:
        row = self.conn.execute(sa.select(t.lead).where(t.lead.c.id == lead_id)).first()
        return _lead(row) if row else None

    def list(
        self, site_ids: frozenset[int], status: LeadStatus | None = None, limit: int = 200
    ) -> list[Lead]:
        stmt = sa.select(t.lead).where(t.lead.c.site_id.in_(sorted(site_ids)))
        if status is not None:
            stmt = stmt.where(t.lead.c.status == status.value)
        stmt = stmt.order_by(t.lead.c.received_at.desc(), t.lead.c.id.desc()).limit(limit)
        return [_lead(r) for r in self.conn.execute(stmt)]

    def set_status(
        self,
        lead_id: int,
        status: LeadStatus,
        by_user_id: int,
        at: dt.datetime,
        patient_id: int | None = None,
    ) -> Lead:
        self.conn.execute(
            t.lead.update()
            .where(t.lead.c.id == lead_id)
            .values(
                status=status.value, handled_by=by_user_id, handled_at=at, patient_id=patient_id
            )
        )
        found = self.get(lead_id)
        if found is None:
            raise NotFound(f"lead {lead_id} not found")
        return found


# --- intakes, sign-offs, consent ------------------------------------------------------------


def _intake(row: Any) -> StoredIntake:
    record = IntakeRecord(
        assessment_date=row.assessment_date,
        age_years=row.age_years,
        sex=Sex(row.sex),
        weight_kg=row.weight_kg,
        height_cm=row.height_cm,
        trauma_date=row.trauma_date,
        pregnant=bool(row.pregnant),
        bp_systolic=row.bp_systolic,
        bp_diastolic=row.bp_diastolic,
        heart_rate=row.heart_rate,
        spo2=row.spo2,
        pcl5=tuple(json.loads(row.pcl5_answers)),
        phq9=tuple(json.loads(row.phq9_answers)),
        conditions=frozenset(Condition(c) for c in json.loads(row.conditions)),
        medications=tuple(json.loads(row.medications)),
    )
    return StoredIntake(
        id=row.id,
        patient_id=row.patient_id,
        record=record,
        notes=IntakeNotes(row.psychiatric_history, row.medical_history, row.allergies),
        decision=Decision(row.decision),
        reasons=tuple(StoredReason(**r) for r in json.loads(row.reasons)),
        weight_findings=tuple(json.loads(row.weight_findings)),
        weight_confirmed=bool(row.weight_confirmed),
        measurement_id=row.measurement_id,
        recorded_by=row.recorded_by,
        recorded_at=utc(row.recorded_at),
    )


def _reasons_json(reasons: Sequence[StoredReason]) -> str:
    return json.dumps(
        [
            {
                "code": r.code,
                "rule_class": r.rule_class,
                "action": r.action,
                "message": r.message,
                "source": r.source,
            }
            for r in reasons
        ]
    )


def _signoff(row: Any) -> EligibilitySignoff:
    return EligibilitySignoff(
        id=row.id,
        intake_id=row.intake_id,
        patient_id=row.patient_id,
        decision=Decision(row.decision),
        original_decision=Decision(row.original_decision),
        signed_by=row.signed_by,
        signed_at=utc(row.signed_at),
        override_reason=row.override_reason,
        overridden_codes=tuple(json.loads(row.overridden_codes)),
    )


def _version(row: Any) -> ConsentVersion:
    return ConsentVersion(
        id=row.id,
        version=row.version,
        text=ConsentText(row.body_en, row.body_es),
        created_by=row.created_by,
        created_at=utc(row.created_at),
    )


class SqlIntakeRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add_intake(self, intake: StoredIntake) -> StoredIntake:
        r = intake.record
        new_id = self.conn.execute(
            t.intake_assessment.insert()
            .values(
                patient_id=intake.patient_id,
                assessment_date=r.assessment_date,
                age_years=r.age_years,
                sex=r.sex.value,
                weight_kg=r.weight_kg,
                height_cm=r.height_cm,
                trauma_date=r.trauma_date,
                pregnant=r.pregnant,
                bp_systolic=r.bp_systolic,
                bp_diastolic=r.bp_diastolic,
                heart_rate=r.heart_rate,
                spo2=r.spo2,
                pcl5_answers=json.dumps(list(r.pcl5)),
                phq9_answers=json.dumps(list(r.phq9)),
                conditions=json.dumps(sorted(c.value for c in r.conditions)),
                medications=json.dumps(list(r.medications)),
                psychiatric_history=intake.notes.psychiatric_history,
                medical_history=intake.notes.medical_history,
                allergies=intake.notes.allergies,
                decision=intake.decision.value,
                reasons=_reasons_json(intake.reasons),
                weight_findings=json.dumps(list(intake.weight_findings)),
                weight_confirmed=intake.weight_confirmed,
                measurement_id=intake.measurement_id,
                recorded_by=intake.recorded_by,
                recorded_at=intake.recorded_at,
            )
            .returning(t.intake_assessment.c.id)
        ).scalar_one()
        found = self.get_intake(new_id)
        assert found is not None
        return found

    def get_intake(self, intake_id: int) -> StoredIntake | None:
        row = self.conn.execute(
            sa.select(t.intake_assessment).where(t.intake_assessment.c.id == intake_id)
        ).first()
        return _intake(row) if row else None

    def intakes(self, patient_id: int) -> list[StoredIntake]:
        rows = self.conn.execute(
            sa.select(t.intake_assessment)
            .where(t.intake_assessment.c.patient_id == patient_id)
            .order_by(t.intake_assessment.c.recorded_at.desc(), t.intake_assessment.c.id.desc())
        )
        return [_intake(r) for r in rows]

    def add_signoff(self, signoff: EligibilitySignoff) -> EligibilitySignoff:
        values = {
            "intake_id": signoff.intake_id,
            "patient_id": signoff.patient_id,
            "decision": signoff.decision.value,
            "original_decision": signoff.original_decision.value,
            "override_reason": signoff.override_reason,
            "overridden_codes": json.dumps(list(signoff.overridden_codes)),
            "signed_by": signoff.signed_by,
            "signed_at": signoff.signed_at,
        }
        try:
            with self.conn.begin_nested():
                self.conn.execute(t.eligibility_signoff.insert().values(**values))
        except IntegrityError:
            raise Conflict(
                f"intake_id: intake {signoff.intake_id} is already signed", field="intake_id"
            ) from None
        found = self.signoff(signoff.intake_id)
        assert found is not None
        return found

    def signoff(self, intake_id: int) -> EligibilitySignoff | None:
        row = self.conn.execute(
            sa.select(t.eligibility_signoff).where(t.eligibility_signoff.c.intake_id == intake_id)
        ).first()
        return _signoff(row) if row else None

    def add_consent_version(
        self, text: ConsentText, by_user_id: int | None, at: dt.datetime
    ) -> ConsentVersion:
        latest = self.conn.execute(sa.select(sa.func.max(t.consent_version.c.version))).scalar()
        new_id = self.conn.execute(
            t.consent_version.insert()
            .values(
                version=(latest or 0) + 1,
                body_en=text.body_en,
                body_es=text.body_es,
                created_by=by_user_id,
                created_at=at,
            )
            .returning(t.consent_version.c.id)
        ).scalar_one()
        return self._version(new_id)

    def _version(self, version_id: int) -> ConsentVersion:
        row = self.conn.execute(
            sa.select(t.consent_version).where(t.consent_version.c.id == version_id)
        ).first()
        if row is None:
            raise NotFound(f"consent version {version_id} not found")
        return _version(row)

    def update_consent_version(self, version_id: int, text: ConsentText) -> ConsentVersion:
        self.conn.execute(
            t.consent_version.update()
            .where(t.consent_version.c.id == version_id)
            .values(body_en=text.body_en, body_es=text.body_es)
        )
        return self._version(version_id)

    def consent_versions(self) -> list[ConsentVersion]:
        rows = self.conn.execute(
            sa.select(t.consent_version).order_by(t.consent_version.c.version.desc())
        )
        return [_version(r) for r in rows]

    def consent_version_used(self, version_id: int) -> bool:
        row = self.conn.execute(
            sa.select(t.patient_consent.c.id)
            .where(t.patient_consent.c.version_id == version_id)
            .limit(1)
        ).first()
        return row is not None

    def add_consent(self, consent: PatientConsent) -> PatientConsent:
        new_id = self.conn.execute(
            t.patient_consent.insert()
            .values(
                patient_id=consent.patient_id,
                version_id=consent.version_id,
                language=consent.language,
                signer_name=consent.signer_name,
                witness_id=consent.witness_id,
                signed_at=consent.signed_at,
            )
            .returning(t.patient_consent.c.id)
        ).scalar_one()
        return next(c for c in self.consents(consent.patient_id) if c.id == new_id)

    def consents(self, patient_id: int) -> list[PatientConsent]:
        rows = self.conn.execute(
            sa.select(t.patient_consent, t.consent_version.c.version)
            .join(t.consent_version, t.consent_version.c.id == t.patient_consent.c.version_id)
            .where(t.patient_consent.c.patient_id == patient_id)
            .order_by(t.patient_consent.c.signed_at.desc(), t.patient_consent.c.id.desc())
        )
        return [
            PatientConsent(
                id=r.id,
                patient_id=r.patient_id,
                version_id=r.version_id,
                version=r.version,
                language=r.language,
                signer_name=r.signer_name,
                witness_id=r.witness_id,
                signed_at=utc(r.signed_at),
            )
            for r in rows
        ]
