"""dosing: dose orders with their limit hits, drug-library settings, dosing preferences

Revision ID: dosing_0001
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "dosing_0001"
down_revision = "0002"
branch_labels = ("dosing",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dose_order",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("protocol_id", sa.String(length=40), nullable=False),
        sa.Column("measurement_id", sa.Integer(), nullable=True),
        sa.Column("actual_weight_kg", sa.Float(), nullable=False),
        sa.Column("height_cm", sa.Float(), nullable=True),
        sa.Column("weight_basis", sa.String(length=10), nullable=False),
        sa.Column("dosing_weight_kg", sa.Float(), nullable=False),
        sa.Column("ideal_weight_kg", sa.Float(), nullable=True),
        sa.Column("adjusted_weight_kg", sa.Float(), nullable=True),
        sa.Column("weight_provenance", sa.String(length=300), nullable=False),
        sa.Column("weight_warnings", sa.Text(), server_default="", nullable=False),
        sa.Column("weight_findings", sa.Text(), server_default="", nullable=False),
        sa.Column("weight_confirmed_by", sa.Integer(), nullable=True),
        sa.Column("weight_confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("mg_per_kg", sa.Float(), nullable=False),
        sa.Column("duration_min", sa.Float(), nullable=False),
        sa.Column("preparation", sa.String(length=10), nullable=False),
        sa.Column("preparation_volume_ml", sa.Float(), nullable=True),
        sa.Column("preparation_mg_per_ml", sa.Float(), nullable=True),
        sa.Column("pump_resolution_ml_per_h", sa.Float(), nullable=False),
        sa.Column("dose_mg", sa.Float(), nullable=False),
        sa.Column("concentration_mg_per_ml", sa.Float(), nullable=False),
        sa.Column("volume_ml", sa.Float(), nullable=False),
        sa.Column("rate_ml_per_h", sa.Float(), nullable=False),
        sa.Column("rate_mg_per_kg_per_h", sa.Float(), nullable=False),
        sa.Column("pump_rate_ml_per_h", sa.Float(), nullable=False),
        sa.Column("pump_duration_min", sa.Float(), nullable=False),
        sa.Column("dose_error_mg", sa.Float(), nullable=False),
        sa.Column("limit_level", sa.String(length=8), nullable=False),
        sa.Column("prepared_by", sa.Integer(), nullable=False),
        sa.Column("prepared_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("signed_by", sa.Integer(), nullable=True),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("override_reason", sa.String(length=500), server_default="", nullable=False),
        sa.Column("override_requested_by", sa.Integer(), nullable=True),
        sa.Column("override_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("override_confirmed_by", sa.Integer(), nullable=True),
        sa.Column("override_confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "override_confirmed_via", sa.String(length=16), server_default="", nullable=False
        ),
        sa.Column("note", sa.String(length=500), server_default="", nullable=False),
        sa.CheckConstraint(
            "override_confirmed_by IS NULL OR override_confirmed_by <> override_requested_by",
            name=op.f("ck_dose_order_override_second_person"),
        ),
        sa.ForeignKeyConstraint(
            ["measurement_id"],
            ["body_measurement.id"],
            name=op.f("fk_dose_order_measurement_id_body_measurement"),
        ),
        sa.ForeignKeyConstraint(
            ["override_confirmed_by"],
            ["staff_user.id"],
            name=op.f("fk_dose_order_override_confirmed_by_staff_user"),
        ),
        sa.ForeignKeyConstraint(
            ["override_requested_by"],
            ["staff_user.id"],
            name=op.f("fk_dose_order_override_requested_by_staff_user"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_dose_order_patient_id_patient")
        ),
        sa.ForeignKeyConstraint(
            ["prepared_by"], ["staff_user.id"], name=op.f("fk_dose_order_prepared_by_staff_user")
        ),
        sa.ForeignKeyConstraint(
            ["signed_by"], ["staff_user.id"], name=op.f("fk_dose_order_signed_by_staff_user")
        ),
        sa.ForeignKeyConstraint(["site_id"], ["site.id"], name=op.f("fk_dose_order_site_id_site")),
        sa.ForeignKeyConstraint(
            ["weight_confirmed_by"],
            ["staff_user.id"],
            name=op.f("fk_dose_order_weight_confirmed_by_staff_user"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dose_order")),
    )
    op.create_index(op.f("ix_dose_order_patient_id"), "dose_order", ["patient_id"], unique=False)
    op.create_index(op.f("ix_dose_order_site_id"), "dose_order", ["site_id"], unique=False)

    op.create_table(
        "dose_order_limit_hit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("level", sa.String(length=8), nullable=False),
        sa.Column("limit_value", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=False),
        sa.Column("upper", sa.Boolean(), nullable=False),
        sa.Column("threshold_key", sa.String(length=80), nullable=False),
        sa.Column("provenance", sa.String(length=500), nullable=False),
        sa.Column("approved_by", sa.String(length=64), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["dose_order.id"],
            name=op.f("fk_dose_order_limit_hit_order_id_dose_order"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dose_order_limit_hit")),
    )
    op.create_index(
        op.f("ix_dose_order_limit_hit_order_id"),
        "dose_order_limit_hit",
        ["order_id"],
        unique=False,
    )

    op.create_table(
        "drug_limit_setting",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("protocol_id", sa.String(length=40), nullable=False),
        sa.Column("quantity", sa.String(length=32), nullable=False),
        sa.Column("level", sa.String(length=8), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("approved_by", sa.Integer(), nullable=False),
        sa.Column("approved_by_username", sa.String(length=64), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["approved_by"],
            ["staff_user.id"],
            name=op.f("fk_drug_limit_setting_approved_by_staff_user"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drug_limit_setting")),
    )

    op.create_table(
        "dosing_setting",
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("set_by", sa.Integer(), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["set_by"], ["staff_user.id"], name=op.f("fk_dosing_setting_set_by_staff_user")
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_dosing_setting")),
    )


def downgrade() -> None:
    op.drop_table("dosing_setting")
    op.drop_table("drug_limit_setting")
    op.drop_index(op.f("ix_dose_order_limit_hit_order_id"), table_name="dose_order_limit_hit")
    op.drop_table("dose_order_limit_hit")
    op.drop_index(op.f("ix_dose_order_site_id"), table_name="dose_order")
    op.drop_index(op.f("ix_dose_order_patient_id"), table_name="dose_order")
    op.drop_table("dose_order")
