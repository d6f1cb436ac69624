"""infusion chair: a per-site change counter, so board streams in another process on SQLite
learn that a site's chairs changed (a monitor feed run by ``ketaclinic hl7 listen`` beside
``ketaclinic serve``); PostgreSQL uses NOTIFY and leaves the table empty

Revision ID: chair_0005
Revises: chair_0004
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "chair_0005"
down_revision = "chair_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chair_change",
        sa.Column("site_id", sa.Integer, sa.ForeignKey("site.id"), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("process", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("chair_change")
