"""intake: cancelled visits (a visit taken off the schedule, kept with who, when and why)

Revision ID: intake_0002_cancelled_visit
Revises: intake_0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "intake_0002_cancelled_visit"
down_revision = "intake_0001"
branch_labels = None
depends_on = None

UTC = sa.DateTime(timezone=True)
TABLE = "cancelled_visit"


def _fk(column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"], name=f"fk_{TABLE}_{column}_{target}")


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("chair_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("starts_at", UTC, nullable=False),
        sa.Column("ends_at", UTC, nullable=False),
        sa.Column("local_day", sa.Date(), nullable=False),
        sa.Column("cancelled_by", sa.Integer(), nullable=False),
        sa.Column("cancelled_at", UTC, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        _fk("series_id", "treatment_series"),
        _fk("patient_id", "patient"),
        _fk("site_id", "site"),
        _fk("chair_id", "chair"),
        _fk("cancelled_by", "staff_user"),
        sa.PrimaryKeyConstraint("id", name=f"pk_{TABLE}"),
    )
    op.create_index(f"ix_{TABLE}_series_id", TABLE, ["series_id"], unique=False)


def downgrade() -> None:
    op.drop_table(TABLE)
