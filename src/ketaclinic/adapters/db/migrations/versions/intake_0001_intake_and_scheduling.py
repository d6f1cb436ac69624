"""intake: leads, intakes and eligibility sign-off, consent, protocols, plans, hours, series

Revision ID: intake_0001
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "intake_0001"
down_revision = "0002"
branch_labels = ("intake",)
depends_on = None

UTC = sa.DateTime(timezone=True)


def _pk(table: str) -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint("id", name=f"pk_{table}")


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}")


def _index(table: str, column: str) -> None:
    op.create_index(f"ix_{table}_{column}", table, [column], unique=False)


def upgrade() -> None:
    op.create_table(
        "lead",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=5), nullable=False),
        sa.Column("received_at", UTC, nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("handled_by", sa.Integer(), nullable=True),
        sa.Column("handled_at", UTC, nullable=True),
        _fk("lead", "site_id", "site"),
        _fk("lead", "patient_id", "patient"),
        _fk("lead", "handled_by", "staff_user"),
        _pk("lead"),
    )
    op.create_index("ix_lead_site_status", "lead", ["site_id", "status"], unique=False)

    op.create_table(
        "intake_assessment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("assessment_date", sa.Date(), nullable=False),
        sa.Column("age_years", sa.Integer(), nullable=False),
        sa.Column("sex", sa.String(length=10), nullable=False),
        sa.Column("weight_kg", sa.Float(), nullable=False),
        sa.Column("height_cm", sa.Float(), nullable=False),
        sa.Column("trauma_date", sa.Date(), nullable=False),
        sa.Column("pregnant", sa.Boolean(), nullable=False),
        sa.Column("bp_systolic", sa.Float(), nullable=False),
        sa.Column("bp_diastolic", sa.Float(), nullable=False),
        sa.Column("heart_rate", sa.Float(), nullable=False),
        sa.Column("spo2", sa.Float(), nullable=False),
        sa.Column("pcl5_answers", sa.Text(), nullable=False),
        sa.Column("phq9_answers", sa.Text(), nullable=False),
        sa.Column("conditions", sa.Text(), nullable=False),
        sa.Column("medications", sa.Text(), nullable=False),
        sa.Column("psychiatric_history", sa.Text(), nullable=False),
        sa.Column("medical_history", sa.Text(), nullable=False),
        sa.Column("allergies", sa.Text(), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("weight_findings", sa.Text(), nullable=False),
        sa.Column("weight_confirmed", sa.Boolean(), nullable=False),
        sa.Column("measurement_id", sa.Integer(), nullable=True),
        sa.Column("recorded_by", sa.Integer(), nullable=False),
        sa.Column("recorded_at", UTC, nullable=False),
        _fk("intake_assessment", "patient_id", "patient"),
        _fk("intake_assessment", "measurement_id", "body_measurement"),
        _fk("intake_assessment", "recorded_by", "staff_user"),
        _pk("intake_assessment"),
    )
    _index("intake_assessment", "patient_id")

    op.create_table(
        "eligibility_signoff",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("intake_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("original_decision", sa.String(length=16), nullable=False),
        sa.Column("override_reason", sa.Text(), nullable=False),
        sa.Column("overridden_codes", sa.Text(), nullable=False),
        sa.Column("signed_by", sa.Integer(), nullable=False),
        sa.Column("signed_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["intake_id"],
            ["intake_assessment.id"],
            name="fk_eligibility_signoff_intake_id_intake_assessment",
        ),
        _fk("eligibility_signoff", "patient_id", "patient"),
        _fk("eligibility_signoff", "signed_by", "staff_user"),
        _pk("eligibility_signoff"),
        sa.UniqueConstraint("intake_id", name="uq_eligibility_signoff_intake_id"),
    )
    _index("eligibility_signoff", "patient_id")

    op.create_table(
        "consent_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("body_en", sa.Text(), nullable=False),
        sa.Column("body_es", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        _fk("consent_version", "created_by", "staff_user"),
        _pk("consent_version"),
        sa.UniqueConstraint("version", name="uq_consent_version_version"),
    )

    op.create_table(
        "patient_consent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=5), nullable=False),
        sa.Column("signer_name", sa.String(length=200), nullable=False),
        sa.Column("witness_id", sa.Integer(), nullable=False),
        sa.Column("signed_at", UTC, nullable=False),
        _fk("patient_consent", "patient_id", "patient"),
        _fk("patient_consent", "version_id", "consent_version"),
        _fk("patient_consent", "witness_id", "staff_user"),
        _pk("patient_consent"),
    )
    _index("patient_consent", "patient_id")
    _index("patient_consent", "version_id")

    op.create_table(
        "clinic_protocol",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("protocol_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("infusion_count", sa.Integer(), nullable=False),
        sa.Column("duration_weeks", sa.Integer(), nullable=False),
        sa.Column("dose_mg_per_kg", sa.Float(), nullable=False),
        sa.Column("infusion_min", sa.Integer(), nullable=False),
        sa.Column("weekdays", sa.String(length=20), nullable=False),
        sa.Column("spacing_days", sa.Integer(), nullable=True),
        sa.Column("min_gap_days", sa.Integer(), nullable=True),
        sa.Column("observation_min", sa.Integer(), nullable=False),
        sa.Column("setup_min", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        _fk("clinic_protocol", "created_by", "staff_user"),
        _pk("clinic_protocol"),
        sa.UniqueConstraint("protocol_id", name="uq_clinic_protocol_protocol_id"),
    )

    op.create_table(
        "treatment_plan",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("protocol_id", sa.String(length=40), nullable=False),
        sa.Column("dose_mg_per_kg", sa.Float(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("signed_by", sa.Integer(), nullable=False),
        sa.Column("signed_at", UTC, nullable=False),
        _fk("treatment_plan", "patient_id", "patient"),
        _fk("treatment_plan", "signed_by", "staff_user"),
        _pk("treatment_plan"),
    )
    _index("treatment_plan", "patient_id")

    op.create_table(
        "site_schedule",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("slot_min", sa.Integer(), nullable=False),
        _fk("site_schedule", "site_id", "site"),
        sa.PrimaryKeyConstraint("site_id", name="pk_site_schedule"),
    )

    op.create_table(
        "clinic_hours",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("opens_min", sa.Integer(), nullable=False),
        sa.Column("closes_min", sa.Integer(), nullable=False),
        _fk("clinic_hours", "site_id", "site"),
        sa.PrimaryKeyConstraint("site_id", "weekday", name="pk_clinic_hours"),
    )

    op.create_table(
        "treatment_series",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("protocol_id", sa.String(length=40), nullable=False),
        sa.Column("booked_by", sa.Integer(), nullable=False),
        sa.Column("booked_at", UTC, nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", UTC, nullable=True),
        _fk("treatment_series", "patient_id", "patient"),
        _fk("treatment_series", "site_id", "site"),
        _fk("treatment_series", "plan_id", "treatment_plan"),
        _fk("treatment_series", "booked_by", "staff_user"),
        _fk("treatment_series", "decided_by", "staff_user"),
        _pk("treatment_series"),
    )
    _index("treatment_series", "patient_id")

    op.create_table(
        "series_visit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("chair_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("starts_at", UTC, nullable=False),
        sa.Column("ends_at", UTC, nullable=False),
        sa.Column("local_day", sa.Date(), nullable=False),
        _fk("series_visit", "series_id", "treatment_series"),
        _fk("series_visit", "patient_id", "patient"),
        _fk("series_visit", "site_id", "site"),
        _fk("series_visit", "chair_id", "chair"),
        _pk("series_visit"),
        sa.UniqueConstraint("chair_id", "starts_at", name="uq_series_visit_chair_start"),
    )
    _index("series_visit", "series_id")
    _index("series_visit", "patient_id")
    op.create_index(
        "ix_series_visit_site_day", "series_visit", ["site_id", "local_day"], unique=False
    )


def downgrade() -> None:
    for table in (
        "series_visit",
        "treatment_series",
        "clinic_hours",
        "site_schedule",
        "treatment_plan",
        "clinic_protocol",
        "patient_consent",
        "consent_version",
        "eligibility_signoff",
        "intake_assessment",
        "lead",
    ):
        # Dropping a table drops its indexes with it, on SQLite and PostgreSQL alike.
        op.drop_table(table)
