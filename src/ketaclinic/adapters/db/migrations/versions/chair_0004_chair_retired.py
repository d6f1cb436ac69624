"""infusion chair: a chair can be retired (no new visits or sessions; its history stays)

Revision ID: chair_0004
Revises: chair_0003
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "chair_0004"
down_revision = "chair_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("chair") as batch:
        batch.add_column(sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("chair") as batch:
        batch.drop_column("retired_at")
