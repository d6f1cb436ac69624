"""monitor messages and vital readings

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "monitor_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sending_application", sa.String(length=180), nullable=False),
        sa.Column("sending_facility", sa.String(length=180), nullable=False),
        sa.Column("control_id", sa.String(length=64), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("chair_code", sa.String(length=40), nullable=True),
        sa.Column("message_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_monitor_message_patient_id_patient")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitor_message")),
        sa.UniqueConstraint(
            "sending_application",
            "sending_facility",
            "control_id",
            name="uq_monitor_message_sender",
        ),
    )
    with op.batch_alter_table("monitor_message", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_monitor_message_patient_id"), ["patient_id"], unique=False
        )

    op.create_table(
        "vital_reading",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("flag", sa.String(length=32), server_default="", nullable=False),
        sa.Column("monitor_message_id", sa.Integer(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["monitor_message_id"],
            ["monitor_message.id"],
            name=op.f("fk_vital_reading_monitor_message_id_monitor_message"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_vital_reading_patient_id_patient")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vital_reading")),
    )
    with op.batch_alter_table("vital_reading", schema=None) as batch_op:
        batch_op.create_index(
            "ix_vital_reading_patient_time", ["patient_id", "observed_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("vital_reading", schema=None) as batch_op:
        batch_op.drop_index("ix_vital_reading_patient_time")

    op.drop_table("vital_reading")
    with op.batch_alter_table("monitor_message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_monitor_message_patient_id"))

    op.drop_table("monitor_message")
