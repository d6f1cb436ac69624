"""infusion chair: sessions, checklist, administration record, alerts, side effects, discharge

Revision ID: chair_0001
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "chair_0001"
down_revision = "0002"
branch_labels = ("chair",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "infusion_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("chair_id", sa.Integer(), nullable=False),
        sa.Column("protocol_id", sa.String(length=40), nullable=False),
        sa.Column("bolus_allowed", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("checked_in_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("checked_in_by", sa.Integer(), nullable=False),
        sa.Column("escort_name", sa.String(length=100), server_default="", nullable=False),
        sa.Column("escort_phone", sa.String(length=32), server_default="", nullable=False),
        sa.Column("weight_kg", sa.Float(), nullable=True),
        sa.Column("baseline_systolic", sa.Float(), nullable=True),
        sa.Column("baseline_diastolic", sa.Float(), nullable=True),
        sa.Column("baseline_heart_rate", sa.Float(), nullable=True),
        sa.Column("baseline_spo2", sa.Float(), nullable=True),
        sa.Column("baseline_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("planned_dose_mg", sa.Float(), nullable=True),
        sa.Column("planned_concentration_mg_per_ml", sa.Float(), nullable=True),
        sa.Column("planned_volume_ml", sa.Float(), nullable=True),
        sa.Column("planned_rate_ml_per_h", sa.Float(), nullable=True),
        sa.Column("planned_limit_level", sa.String(length=8), server_default="", nullable=False),
        sa.Column(
            "planned_override_reason", sa.String(length=500), server_default="", nullable=False
        ),
        sa.Column("planned_override_confirmed_by", sa.Integer(), nullable=True),
        sa.Column("infusion_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("infusion_ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("occupied_chair_id", sa.Integer(), nullable=True),
        sa.Column("active_patient_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["active_patient_id"],
            ["patient.id"],
            name=op.f("fk_infusion_session_active_patient_id_patient"),
        ),
        sa.ForeignKeyConstraint(
            ["chair_id"], ["chair.id"], name=op.f("fk_infusion_session_chair_id_chair")
        ),
        sa.ForeignKeyConstraint(
            ["checked_in_by"],
            ["staff_user.id"],
            name=op.f("fk_infusion_session_checked_in_by_staff_user"),
        ),
        sa.ForeignKeyConstraint(
            ["occupied_chair_id"],
            ["chair.id"],
            name=op.f("fk_infusion_session_occupied_chair_id_chair"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_infusion_session_patient_id_patient")
        ),
        sa.ForeignKeyConstraint(
            ["planned_override_confirmed_by"],
            ["staff_user.id"],
            name=op.f("fk_infusion_session_planned_override_confirmed_by_staff_user"),
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["site.id"], name=op.f("fk_infusion_session_site_id_site")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_infusion_session")),
        sa.UniqueConstraint(
            "active_patient_id", name=op.f("uq_infusion_session_active_patient_id")
        ),
        sa.UniqueConstraint(
            "occupied_chair_id", name=op.f("uq_infusion_session_occupied_chair_id")
        ),
    )
    op.create_index(
        op.f("ix_infusion_session_chair_id"), "infusion_session", ["chair_id"], unique=False
    )
    op.create_index(
        op.f("ix_infusion_session_patient_id"), "infusion_session", ["patient_id"], unique=False
    )
    op.create_index(
        op.f("ix_infusion_session_site_id"), "infusion_session", ["site_id"], unique=False
    )
    op.create_table(
        "administration_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by_user_id", sa.Integer(), nullable=False),
        sa.Column("by_role", sa.String(length=20), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dose_mg", sa.Float(), nullable=True),
        sa.Column("concentration_mg_per_ml", sa.Float(), nullable=True),
        sa.Column("volume_ml", sa.Float(), nullable=True),
        sa.Column("rate_ml_per_h", sa.Float(), nullable=True),
        sa.Column("lot_number", sa.String(length=40), server_default="", nullable=False),
        sa.Column("pump_id", sa.String(length=40), server_default="", nullable=False),
        sa.Column("reason", sa.String(length=200), server_default="", nullable=False),
        sa.Column("corrects_seq", sa.Integer(), nullable=True),
        sa.Column("corrected_kind", sa.String(length=16), server_default="", nullable=False),
        sa.Column("corrected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("corrected_reason", sa.String(length=200), server_default="", nullable=False),
        sa.Column("limit_level", sa.String(length=8), server_default="", nullable=False),
        sa.Column("override_reason", sa.String(length=500), server_default="", nullable=False),
        sa.Column("override_confirmed_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["by_user_id"],
            ["staff_user.id"],
            name=op.f("fk_administration_event_by_user_id_staff_user"),
        ),
        sa.ForeignKeyConstraint(
            ["override_confirmed_by"],
            ["staff_user.id"],
            name=op.f("fk_administration_event_override_confirmed_by_staff_user"),
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["infusion_session.id"],
            name=op.f("fk_administration_event_session_id_infusion_session"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_administration_event")),
        sa.UniqueConstraint("session_id", "seq", name="uq_administration_event_session_seq"),
    )
    op.create_index(
        op.f("ix_administration_event_session_id"),
        "administration_event",
        ["session_id"],
        unique=False,
    )
    op.create_table(
        "chair_alert",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("rule_key", sa.String(length=48), nullable=False),
        sa.Column("label", sa.String(length=120), nullable=False),
        sa.Column("tier", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("vital", sa.String(length=32), server_default="", nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=False),
        sa.Column("comparison", sa.String(length=4), nullable=False),
        sa.Column("threshold_key", sa.String(length=64), nullable=False),
        sa.Column("threshold_value", sa.Float(), nullable=False),
        sa.Column("threshold_unit", sa.String(length=16), nullable=False),
        sa.Column("provenance_tag", sa.String(length=16), nullable=False),
        sa.Column("provenance_reference", sa.String(length=300), nullable=False),
        sa.Column("provenance_section", sa.String(length=16), server_default="", nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("first_value", sa.Float(), nullable=False),
        sa.Column("first_observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("latest_value", sa.Float(), nullable=False),
        sa.Column("latest_observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("occurrences", sa.Integer(), server_default="1", nullable=False),
        sa.Column("escalation_level", sa.Integer(), server_default="0", nullable=False),
        sa.Column("reading_source", sa.String(length=16), server_default="", nullable=False),
        sa.Column("acknowledged_by", sa.Integer(), nullable=True),
        sa.Column("acknowledged_role", sa.String(length=20), server_default="", nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("action_taken", sa.String(length=500), server_default="", nullable=False),
        sa.Column("resolved_by", sa.Integer(), nullable=True),
        sa.Column("resolved_role", sa.String(length=20), server_default="", nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution_note", sa.String(length=500), server_default="", nullable=False),
        sa.Column("open_key", sa.String(length=80), nullable=True),
        sa.ForeignKeyConstraint(
            ["acknowledged_by"],
            ["staff_user.id"],
            name=op.f("fk_chair_alert_acknowledged_by_staff_user"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_chair_alert_patient_id_patient")
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by"], ["staff_user.id"], name=op.f("fk_chair_alert_resolved_by_staff_user")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["infusion_session.id"],
            name=op.f("fk_chair_alert_session_id_infusion_session"),
        ),
        sa.ForeignKeyConstraint(["site_id"], ["site.id"], name=op.f("fk_chair_alert_site_id_site")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chair_alert")),
        sa.UniqueConstraint("open_key", name=op.f("uq_chair_alert_open_key")),
    )
    op.create_index(op.f("ix_chair_alert_session_id"), "chair_alert", ["session_id"], unique=False)
    op.create_index(op.f("ix_chair_alert_site_id"), "chair_alert", ["site_id"], unique=False)
    op.create_table(
        "discharge_assessment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("assessed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("assessed_by", sa.Integer(), nullable=False),
        sa.Column("assessed_role", sa.String(length=20), nullable=False),
        sa.Column("scale", sa.String(length=8), nullable=False),
        sa.Column("aldrete_activity", sa.Integer(), nullable=True),
        sa.Column("aldrete_respiration", sa.Integer(), nullable=True),
        sa.Column("aldrete_circulation", sa.Integer(), nullable=True),
        sa.Column("aldrete_consciousness", sa.Integer(), nullable=True),
        sa.Column("aldrete_spo2", sa.Integer(), nullable=True),
        sa.Column("padss_vital_signs", sa.Integer(), nullable=True),
        sa.Column("padss_activity_mental_status", sa.Integer(), nullable=True),
        sa.Column("padss_pain_nausea_vomiting", sa.Integer(), nullable=True),
        sa.Column("padss_intake_output", sa.Integer(), nullable=True),
        sa.Column("padss_surgical_bleeding", sa.Integer(), nullable=True),
        sa.Column("escort_confirmed", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column(
            "mental_status_attested", sa.Boolean(), server_default=sa.false(), nullable=False
        ),
        sa.Column("dissociation_attested", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("ready", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("unmet", sa.String(length=2000), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["assessed_by"],
            ["staff_user.id"],
            name=op.f("fk_discharge_assessment_assessed_by_staff_user"),
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["infusion_session.id"],
            name=op.f("fk_discharge_assessment_session_id_infusion_session"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_discharge_assessment")),
    )
    op.create_index(
        op.f("ix_discharge_assessment_session_id"),
        "discharge_assessment",
        ["session_id"],
        unique=False,
    )
    op.create_table(
        "dissociation_score",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("timepoint", sa.String(length=20), nullable=False),
        sa.Column("cadss_01", sa.Integer(), nullable=False),
        sa.Column("cadss_02", sa.Integer(), nullable=False),
        sa.Column("cadss_06", sa.Integer(), nullable=False),
        sa.Column("cadss_07", sa.Integer(), nullable=False),
        sa.Column("cadss_15", sa.Integer(), nullable=False),
        sa.Column("cadss_22", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("scored_by", sa.Integer(), nullable=False),
        sa.Column("scored_role", sa.String(length=20), nullable=False),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["scored_by"],
            ["staff_user.id"],
            name=op.f("fk_dissociation_score_scored_by_staff_user"),
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["infusion_session.id"],
            name=op.f("fk_dissociation_score_session_id_infusion_session"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dissociation_score")),
    )
    op.create_index(
        op.f("ix_dissociation_score_session_id"), "dissociation_score", ["session_id"], unique=False
    )
    op.create_table(
        "session_check",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("item", sa.String(length=40), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("by_user_id", sa.Integer(), nullable=False),
        sa.Column("by_role", sa.String(length=20), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.String(length=500), server_default="", nullable=False),
        sa.Column("hard", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.ForeignKeyConstraint(
            ["by_user_id"], ["staff_user.id"], name=op.f("fk_session_check_by_user_id_staff_user")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["infusion_session.id"],
            name=op.f("fk_session_check_session_id_infusion_session"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_check")),
    )
    op.create_index(
        op.f("ix_session_check_session_id"), "session_check", ["session_id"], unique=False
    )
    op.create_table(
        "session_transition",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("transition", sa.String(length=24), nullable=False),
        sa.Column("from_state", sa.String(length=24), nullable=False),
        sa.Column("to_state", sa.String(length=24), nullable=False),
        sa.Column("by_user_id", sa.Integer(), nullable=False),
        sa.Column("by_role", sa.String(length=20), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=500), server_default="", nullable=False),
        sa.Column("override_reason", sa.String(length=500), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["by_user_id"],
            ["staff_user.id"],
            name=op.f("fk_session_transition_by_user_id_staff_user"),
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["infusion_session.id"],
            name=op.f("fk_session_transition_session_id_infusion_session"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_transition")),
    )
    op.create_index(
        op.f("ix_session_transition_session_id"), "session_transition", ["session_id"], unique=False
    )
    op.create_table(
        "side_effect",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("severity", sa.String(length=12), nullable=False),
        sa.Column("onset_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("interventions", sa.String(length=300), nullable=False),
        sa.Column("serious_criteria", sa.String(length=300), server_default="", nullable=False),
        sa.Column("other_text", sa.String(length=200), server_default="", nullable=False),
        sa.Column("intervention_text", sa.String(length=200), server_default="", nullable=False),
        sa.Column("recorded_by", sa.Integer(), nullable=False),
        sa.Column("recorded_role", sa.String(length=20), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("flagged", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("reviewed_by", sa.Integer(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["recorded_by"], ["staff_user.id"], name=op.f("fk_side_effect_recorded_by_staff_user")
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by"], ["staff_user.id"], name=op.f("fk_side_effect_reviewed_by_staff_user")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["infusion_session.id"],
            name=op.f("fk_side_effect_session_id_infusion_session"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_side_effect")),
    )
    op.create_index(op.f("ix_side_effect_session_id"), "side_effect", ["session_id"], unique=False)
    op.create_table(
        "session_vital",
        sa.Column("reading_id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("usable", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.ForeignKeyConstraint(
            ["reading_id"],
            ["vital_reading.id"],
            name=op.f("fk_session_vital_reading_id_vital_reading"),
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["infusion_session.id"],
            name=op.f("fk_session_vital_session_id_infusion_session"),
        ),
        sa.PrimaryKeyConstraint("reading_id", name=op.f("pk_session_vital")),
    )
    op.create_index(
        "ix_session_vital_session_time",
        "session_vital",
        ["session_id", "observed_at"],
        unique=False,
    )
    op.create_index(
        "ix_session_vital_latest",
        "session_vital",
        ["session_id", "usable", "kind", "observed_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_session_vital_latest", table_name="session_vital")
    op.drop_index("ix_session_vital_session_time", table_name="session_vital")
    op.drop_table("session_vital")
    op.drop_index(op.f("ix_side_effect_session_id"), table_name="side_effect")
    op.drop_table("side_effect")
    op.drop_index(op.f("ix_session_transition_session_id"), table_name="session_transition")
    op.drop_table("session_transition")
    op.drop_index(op.f("ix_session_check_session_id"), table_name="session_check")
    op.drop_table("session_check")
    op.drop_index(op.f("ix_dissociation_score_session_id"), table_name="dissociation_score")
    op.drop_table("dissociation_score")
    op.drop_index(op.f("ix_discharge_assessment_session_id"), table_name="discharge_assessment")
    op.drop_table("discharge_assessment")
    op.drop_index(op.f("ix_chair_alert_site_id"), table_name="chair_alert")
    op.drop_index(op.f("ix_chair_alert_session_id"), table_name="chair_alert")
    op.drop_table("chair_alert")
    op.drop_index(op.f("ix_administration_event_session_id"), table_name="administration_event")
    op.drop_table("administration_event")
    op.drop_index(op.f("ix_infusion_session_site_id"), table_name="infusion_session")
    op.drop_index(op.f("ix_infusion_session_patient_id"), table_name="infusion_session")
    op.drop_index(op.f("ix_infusion_session_chair_id"), table_name="infusion_session")
    op.drop_table("infusion_session")
