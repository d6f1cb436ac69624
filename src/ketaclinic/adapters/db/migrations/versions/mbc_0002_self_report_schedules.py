"""measurement-based care: self-report schedule settings per protocol, and the slots the
scheduled sweep acted on (one per patient and slot)

Revision ID: mbc_0002
Revises: mbc_0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "mbc_0002"
down_revision = "mbc_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "self_report_schedule",
        sa.Column("protocol_id", sa.String(length=40), nullable=False),
        sa.Column("before_infusion", sa.String(length=200), nullable=False),
        sa.Column("before_hours", sa.Integer(), nullable=False),
        sa.Column("after_series", sa.String(length=200), nullable=False),
        sa.Column("after_weeks", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["staff_user.id"],
            name=op.f("fk_self_report_schedule_updated_by_staff_user"),
        ),
        sa.PrimaryKeyConstraint("protocol_id", name=op.f("pk_self_report_schedule")),
    )
    op.create_table(
        "self_report_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("slot_key", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("instrument_ids", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("link_id", sa.Integer(), nullable=True),
        sa.Column("notice_closed_by", sa.Integer(), nullable=True),
        sa.Column("notice_closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["link_id"],
            ["self_report_link.id"],
            name=op.f("fk_self_report_request_link_id_self_report_link"),
        ),
        sa.ForeignKeyConstraint(
            ["notice_closed_by"],
            ["staff_user.id"],
            name=op.f("fk_self_report_request_notice_closed_by_staff_user"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_self_report_request_patient_id_patient")
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["site.id"], name=op.f("fk_self_report_request_site_id_site")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_self_report_request")),
        sa.UniqueConstraint("patient_id", "slot_key", name="uq_self_report_request_slot"),
    )
    with op.batch_alter_table("self_report_request", schema=None) as batch_op:
        batch_op.create_index(
            "ix_self_report_request_site_notice", ["site_id", "notice_closed_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("self_report_request", schema=None) as batch_op:
        batch_op.drop_index("ix_self_report_request_site_notice")
    op.drop_table("self_report_request")
    op.drop_table("self_report_schedule")
