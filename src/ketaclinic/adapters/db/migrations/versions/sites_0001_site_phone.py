"""site: the phone number patients call (discharge instructions, appointment e-mails)

Revision ID: sites_0001
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "sites_0001"
down_revision = "0002"
branch_labels = ("sites",)
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("site") as batch:
        batch.add_column(sa.Column("phone", sa.String(32), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("site") as batch:
        batch.drop_column("phone")
