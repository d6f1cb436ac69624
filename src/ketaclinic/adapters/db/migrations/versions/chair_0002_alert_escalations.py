"""infusion chair: escalations of unacknowledged alerts and their e-mail notices

Revision ID: chair_0002
Revises: chair_0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "chair_0002"
down_revision = "chair_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chair_alert_escalation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recipients", sa.Integer(), server_default="0", nullable=False),
        sa.Column("sent", sa.Integer(), server_default="0", nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=200), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["chair_alert.id"],
            name=op.f("fk_chair_alert_escalation_alert_id_chair_alert"),
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["infusion_session.id"],
            name=op.f("fk_chair_alert_escalation_session_id_infusion_session"),
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["site.id"], name=op.f("fk_chair_alert_escalation_site_id_site")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chair_alert_escalation")),
        sa.UniqueConstraint("alert_id", "level", name=op.f("uq_chair_alert_escalation_alert_id")),
    )
    op.create_index(
        op.f("ix_chair_alert_escalation_session_id"),
        "chair_alert_escalation",
        ["session_id"],
        unique=False,
    )
    op.create_index(
        "ix_chair_alert_escalation_pending",
        "chair_alert_escalation",
        ["state", "escalated_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_chair_alert_escalation_pending", table_name="chair_alert_escalation")
    op.drop_index(op.f("ix_chair_alert_escalation_session_id"), table_name="chair_alert_escalation")
    op.drop_table("chair_alert_escalation")
