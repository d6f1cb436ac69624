"""infusion chair: the newest-reading index ends with the reading id

The chair asks, per session and vital, for the newest usable reading (ordered by time, then
reading id). SQLite's indexes end with the row id (here the reading id) by themselves; on
PostgreSQL the index stopped at the time, so every reading of the window was read and sorted for
each question: ~10 ms per monitor batch once a session holds a thousand readings.

Revision ID: chair_0003
Revises: chair_0002
Create Date: 2026-11-24
"""

from __future__ import annotations

from alembic import op

revision = "chair_0003"
down_revision = "chair_0002"
branch_labels = None
depends_on = None

COLUMNS = ["session_id", "usable", "kind", "observed_at"]


def upgrade() -> None:
    op.drop_index("ix_session_vital_latest", table_name="session_vital")
    op.create_index("ix_session_vital_latest", "session_vital", [*COLUMNS, "reading_id"])


def downgrade() -> None:
    op.drop_index("ix_session_vital_latest", table_name="session_vital")
    op.create_index("ix_session_vital_latest", "session_vital", COLUMNS)
