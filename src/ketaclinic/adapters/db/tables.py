"""The relational schema (SQLAlchemy 2 Core tables). Alembic migrations create it; a test
checks that the migrations and this metadata never drift apart.

Storage rows are not domain objects: repositories translate between the two.
"""

from __future__ import annotations

import sqlalchemy as sa

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING)

UTCDateTime = sa.DateTime(timezone=True)

organisation = sa.Table(
    "organisation",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
)

site = sa.Table(
    "site",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("code", sa.String(10), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("phone", sa.String(32), nullable=False, server_default=""),
)

chair = sa.Table(
    "chair",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("site_id", sa.Integer, sa.ForeignKey("site.id"), nullable=False, index=True),
    sa.Column("code", sa.String(20), nullable=False, unique=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("retired_at", UTCDateTime, nullable=True),
)

staff_user = sa.Table(
    "staff_user",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("display_name", sa.String(200), nullable=False),
    sa.Column("email", sa.String(254), nullable=False, server_default=""),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("failed_logins", sa.Integer, nullable=False, server_default="0"),
    sa.Column("locked_until", UTCDateTime, nullable=True),
)

user_site = sa.Table(
    "user_site",
    metadata,
    sa.Column("user_id", sa.Integer, sa.ForeignKey("staff_user.id"), primary_key=True),
    sa.Column("site_id", sa.Integer, sa.ForeignKey("site.id"), primary_key=True),
)

api_token = sa.Table(
    "api_token",
    metadata,
    sa.Column("jti", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("staff_user.id"), nullable=False, index=True),
    sa.Column("issued_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("revoked_at", UTCDateTime, nullable=True),
)

patient = sa.Table(
    "patient",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("site_id", sa.Integer, sa.ForeignKey("site.id"), nullable=False, index=True),
    # MRN is unique per organisation; a deployment serves one organisation (DESIGN.md §1).
    sa.Column("mrn", sa.String(32), nullable=False, unique=True),
    sa.Column("given_name", sa.String(100), nullable=False),
    sa.Column("family_name", sa.String(100), nullable=False),
    sa.Column("birth_date", sa.Date, nullable=False),
    sa.Column("sex", sa.String(10), nullable=False),
    sa.Column("email", sa.String(254), nullable=False, server_default=""),
    sa.Column("phone", sa.String(32), nullable=False, server_default=""),
    sa.Column("preferred_language", sa.String(5), nullable=False, server_default="en"),
    sa.Column("created_at", UTCDateTime, nullable=False),
)
sa.Index("ix_patient_family_name", patient.c.family_name)

body_measurement = sa.Table(
    "body_measurement",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("patient_id", sa.Integer, sa.ForeignKey("patient.id"), nullable=False, index=True),
    sa.Column("measured_at", UTCDateTime, nullable=False),
    sa.Column("weight_kg", sa.Float, nullable=False),
    sa.Column("height_cm", sa.Float, nullable=True),
    sa.Column("recorded_by", sa.Integer, sa.ForeignKey("staff_user.id"), nullable=True),
    sa.Column("note", sa.String(500), nullable=False, server_default=""),
)

audit_event = sa.Table(
    "audit_event",
    metadata,
    sa.Column(
        "seq",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=False,
    ),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("action", sa.String(20), nullable=False),
    sa.Column("resource", sa.String(64), nullable=False),
    sa.Column("outcome", sa.String(20), nullable=False),
    sa.Column("user_id", sa.Integer, nullable=True),
    sa.Column("username", sa.String(64), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("site_id", sa.Integer, nullable=True, index=True),
    sa.Column("patient_id", sa.Integer, nullable=True, index=True),
    sa.Column("resource_id", sa.String(64), nullable=False),
    sa.Column("client", sa.String(64), nullable=False),
    sa.Column("detail", sa.String(500), nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)

# One row: the last sequence number and hash. Locking it serialises appends across processes,
# and it lets verification notice a deleted last entry.
audit_head = sa.Table(
    "audit_head",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)

# Monitor messages received over HL7 (one row per accepted message): the sender's control id is
# unique per sender, so a resent message is recognised and stored once (DESIGN.md §4.4).
monitor_message = sa.Table(
    "monitor_message",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("sending_application", sa.String(180), nullable=False),
    sa.Column("sending_facility", sa.String(180), nullable=False),
    sa.Column("control_id", sa.String(64), nullable=False),
    sa.Column("patient_id", sa.Integer, sa.ForeignKey("patient.id"), nullable=False, index=True),
    sa.Column("chair_code", sa.String(40), nullable=True),
    sa.Column("message_time", UTCDateTime, nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint(
        "sending_application", "sending_facility", "control_id", name="uq_monitor_message_sender"
    ),
)
# The duplicate check asks for a batch's control ids of one sender. Led by the control id, this
# index answers that with one seek per id on either engine, even when PostgreSQL's statistics
# are too young to trust the unique key's third column (migration hl7_0001).
sa.Index(
    "ix_monitor_message_control",
    monitor_message.c.control_id,
    monitor_message.c.sending_application,
    monitor_message.c.sending_facility,
)

# Every vital-sign reading, whatever its source (manual, API, monitor). ``flag`` marks readings
# kept but not attached to an infusion session (e.g. ``no_active_session``).
vital_reading = sa.Table(
    "vital_reading",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("patient_id", sa.Integer, sa.ForeignKey("patient.id"), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("unit", sa.String(16), nullable=False),
    sa.Column("code", sa.String(32), nullable=False),
    sa.Column("observed_at", UTCDateTime, nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("flag", sa.String(32), nullable=False, server_default=""),
    sa.Column("monitor_message_id", sa.Integer, sa.ForeignKey("monitor_message.id"), nullable=True),
    sa.Column("recorded_at", UTCDateTime, nullable=False),
)
sa.Index("ix_vital_reading_patient_time", vital_reading.c.patient_id, vital_reading.c.observed_at)

# Each capability keeps its tables in its own module (tables_<area>.py) on this same metadata;
# importing them here registers them, so `metadata` is always the whole schema.
from ketaclinic.adapters.db import (  # noqa: E402  (they need `metadata` defined above)
    tables_chair,  # noqa: F401
    tables_dosing,  # noqa: F401
    tables_intake,  # noqa: F401
    tables_mbc,  # noqa: F401
    tables_settings,  # noqa: F401
    tables_visit_links,  # noqa: F401
    tables_visit_notices,  # noqa: F401
)
