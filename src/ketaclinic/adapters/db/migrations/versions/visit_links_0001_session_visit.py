"""visit links: which infusion session fulfils which booked visit, and when it was done

Revision ID: visit_links_0001
Revises: 0002
Depends on: chair_0001, intake_0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "visit_links_0001"
down_revision = "0002"
branch_labels = ("visit_links",)
# The link joins two capabilities' tables: both must exist first.
depends_on = ("chair_0001", "intake_0001")

UTC = sa.DateTime(timezone=True)
TABLE = "session_visit"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("linked_at", UTC, nullable=False),
        sa.Column("done_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["infusion_session.id"],
            name=f"fk_{TABLE}_session_id_infusion_session",
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"],
            ["series_visit.id"],
            name=f"fk_{TABLE}_visit_id_series_visit",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("session_id", name=f"pk_{TABLE}"),
        sa.UniqueConstraint("visit_id", name=f"uq_{TABLE}_visit_id"),
    )


def downgrade() -> None:
    op.drop_table(TABLE)
