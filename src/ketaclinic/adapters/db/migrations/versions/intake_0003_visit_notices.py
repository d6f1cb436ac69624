"""intake: the e-mails a booked visit has had (the day-before reminder, once per visit)

Revision ID: intake_0003_visit_notices
Revises: intake_0002_cancelled_visit
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "intake_0003_visit_notices"
down_revision = "intake_0002_cancelled_visit"
branch_labels = None
depends_on = None

UTC = sa.DateTime(timezone=True)
TABLE = "visit_notice"


def _fk(column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"], name=f"fk_{TABLE}_{column}_{target}")


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), nullable=False),
        # No foreign key: the id names a visit of series_visit or, once cancelled, of
        # cancelled_visit (tables_visit_notices.py).
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", UTC, nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("claimed_at", UTC, nullable=False),
        sa.Column("finished_at", UTC, nullable=True),
        _fk("patient_id", "patient"),
        _fk("site_id", "site"),
        sa.PrimaryKeyConstraint("id", name=f"pk_{TABLE}"),
        # Two sweeps at once: the second claim of a visit's reminder is refused here.
        sa.UniqueConstraint("visit_id", "kind", name="uq_visit_notice_visit_kind"),
    )
    op.create_index(f"ix_{TABLE}_patient_id", TABLE, ["patient_id"], unique=False)


def downgrade() -> None:
    op.drop_index(f"ix_{TABLE}_patient_id", table_name=TABLE)
    op.drop_table(TABLE)
