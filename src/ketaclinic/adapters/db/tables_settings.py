"""The clinic's values for alert rules and outcome definitions (an append-only history).
Created by migration ``settings_0001``."""

from __future__ import annotations

import sqlalchemy as sa

from ketaclinic.adapters.db.tables import UTCDateTime, metadata

clinic_setting = sa.Table(
    "clinic_setting",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("key", sa.String(80), nullable=False),
    sa.Column("value", sa.Float, nullable=True),
    sa.Column("unit", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(500), nullable=False),
    sa.Column("approved_by", sa.Integer, sa.ForeignKey("staff_user.id"), nullable=False),
    sa.Column("approved_by_username", sa.String(64), nullable=False),
    sa.Column("approved_at", UTCDateTime, nullable=False),
    sa.Column("effective_from", sa.Date, nullable=False),
    sa.Index("ix_clinic_setting_kind_id", "kind", "id"),
)
