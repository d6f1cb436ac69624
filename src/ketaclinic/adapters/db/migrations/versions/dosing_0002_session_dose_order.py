"""dosing: the verified order an infusion session's planned dose was checked against

Revision ID: dosing_0002
Revises: dosing_0001
Depends on: chair_0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "dosing_0002"
down_revision = "dosing_0001"
branch_labels = None
# The link joins a chair table and a dosing table: both must exist first.
depends_on = ("chair_0001",)

TABLE = "session_dose_order"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("weight_basis", sa.String(length=10), nullable=False),
        sa.Column("dosing_weight_kg", sa.Float(), nullable=False),
        sa.Column("verified_by", sa.Integer(), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["infusion_session.id"],
            name=op.f(f"fk_{TABLE}_session_id_infusion_session"),
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["dose_order.id"], name=op.f(f"fk_{TABLE}_order_id_dose_order")
        ),
        sa.ForeignKeyConstraint(
            ["verified_by"], ["staff_user.id"], name=op.f(f"fk_{TABLE}_verified_by_staff_user")
        ),
        sa.PrimaryKeyConstraint("session_id", name=op.f(f"pk_{TABLE}")),
    )
    op.create_index(op.f(f"ix_{TABLE}_order_id"), TABLE, ["order_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f(f"ix_{TABLE}_order_id"), table_name=TABLE)
    op.drop_table(TABLE)
