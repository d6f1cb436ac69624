"""settings: the clinic's values for alert rules and outcome definitions

Revision ID: settings_0001
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "settings_0001"
down_revision = "0002"
branch_labels = ("settings",)
depends_on = None

TABLE = "clinic_setting"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("unit", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("approved_by", sa.Integer(), nullable=False),
        sa.Column("approved_by_username", sa.String(length=64), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["approved_by"], ["staff_user.id"], name=op.f(f"fk_{TABLE}_approved_by_staff_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{TABLE}")),
    )
    op.create_index("ix_clinic_setting_kind_id", TABLE, ["kind", "id"])


def downgrade() -> None:
    op.drop_index("ix_clinic_setting_kind_id", table_name=TABLE)
    op.drop_table(TABLE)
