"""HL7 monitor messages: an index led by the control id for the duplicate check

The listener's duplicate check asks, per batch, which of a sender's control ids are already
stored. The unique key (application, facility, control id) answers that well only once
PostgreSQL's statistics know the table is large; before that the planner read every message of
the sender and filtered the ids (~5 ms per batch after a few thousand messages, growing). An
index led by the control id is one seek per id whatever the statistics say.

Revision ID: hl7_0001
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

from alembic import op

revision = "hl7_0001"
down_revision = "0002"
branch_labels = ("hl7",)
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_monitor_message_control",
        "monitor_message",
        ["control_id", "sending_application", "sending_facility"],
    )


def downgrade() -> None:
    op.drop_index("ix_monitor_message_control", table_name="monitor_message")
