"""Tables of dosing (area ``dosing``): dose orders with the limits they reached, and the clinic's
drug-library settings. Created by migration ``dosing_0001``; ``session_dose_order`` by
``dosing_0002``.

``dose_order`` keeps every number of an order as computed when it was made; only the signature
and the override confirmation are filled in later. A CHECK constraint makes the database itself
refuse an override confirmed by the person who requested it.
"""

from __future__ import annotations

import sqlalchemy as sa

from ketaclinic.adapters.db.tables import UTCDateTime, metadata

dose_order = sa.Table(
    "dose_order",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("patient_id", sa.Integer, sa.ForeignKey("patient.id"), nullable=False, index=True),
    sa.Column("site_id", sa.Integer, sa.ForeignKey("site.id"), nullable=False, index=True),
    sa.Column("protocol_id", sa.String(40), nullable=False),
    sa.Column("measurement_id", sa.Integer, sa.ForeignKey("body_measurement.id"), nullable=True),
    sa.Column("actual_weight_kg", sa.Float, nullable=False),
    sa.Column("height_cm", sa.Float, nullable=True),
    sa.Column("weight_basis", sa.String(10), nullable=False),
    sa.Column("dosing_weight_kg", sa.Float, nullable=False),
    sa.Column("ideal_weight_kg", sa.Float, nullable=True),
    sa.Column("adjusted_weight_kg", sa.Float, nullable=True),
    sa.Column("weight_provenance", sa.String(300), nullable=False),
    # Sentences, one per line (they never contain a line break).
    sa.Column("weight_warnings", sa.Text, nullable=False, server_default=""),
    sa.Column("weight_findings", sa.Text, nullable=False, server_default=""),
    sa.Column("weight_confirmed_by", sa.Integer, sa.ForeignKey("staff_user.id"), nullable=True),
    sa.Column("weight_confirmed_at", UTCDateTime, nullable=True),
    sa.Column("mg_per_kg", sa.Float, nullable=False),
    sa.Column("duration_min", sa.Float, nullable=False),
    sa.Column("preparation", sa.String(10), nullable=False),
    sa.Column("preparation_volume_ml", sa.Float, nullable=True),
    sa.Column("preparation_mg_per_ml", sa.Float, nullable=True),
    sa.Column("pump_resolution_ml_per_h", sa.Float, nullable=False),
    sa.Column("dose_mg", sa.Float, nullable=False),
    sa.Column("concentration_mg_per_ml", sa.Float, nullable=False),
    sa.Column("volume_ml", sa.Float, nullable=False),
    sa.Column("rate_ml_per_h", sa.Float, nullable=False),
    sa.Column("rate_mg_per_kg_per_h", sa.Float, nullable=False),
    sa.Column("pump_rate_ml_per_h", sa.Float, nullable=False),
    sa.Column("pump_duration_min", sa.Float, nullable=False),
    sa.Column("dose_error_mg", sa.Float, nullable=False),
    sa.Column("limit_level", sa.String(8), nullable=False),
    sa.Column("prepared_by", sa.Integer, sa.ForeignKey("staff_user.id"), nullable=False),
    sa.Column("prepared_at", UTCDateTime, nullable=False),
    sa.Column("signed_by", sa.Integer, sa.ForeignKey("staff_user.id"), nullable=True),
    sa.Column("signed_at", UTCDateTime, nullable=True),
    sa.Column("override_reason", sa.String(500), nullable=False, server_default=""),
    sa.Column("override_requested_by", sa.Integer, sa.ForeignKey("staff_user.id"), nullable=True),
    sa.Column("override_requested_at", UTCDateTime, nullable=True),
    sa.Column("override_confirmed_by", sa.Integer, sa.ForeignKey("staff_user.id"), nullable=True),
    sa.Column("override_confirmed_at", UTCDateTime, nullable=True),
    sa.Column("override_confirmed_via", sa.String(16), nullable=False, server_default=""),
    sa.Column("note", sa.String(500), nullable=False, server_default=""),
    sa.CheckConstraint(
        "override_confirmed_by IS NULL OR override_confirmed_by <> override_requested_by",
        name="override_second_person",
    ),
)

dose_order_limit_hit = sa.Table(
    "dose_order_limit_hit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("order_id", sa.Integer, sa.ForeignKey("dose_order.id"), nullable=False, index=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("quantity", sa.String(32), nullable=False),
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("level", sa.String(8), nullable=False),
    sa.Column("limit_value", sa.Float, nullable=False),
    sa.Column("unit", sa.String(16), nullable=False),
    sa.Column("upper", sa.Boolean, nullable=False),
    sa.Column("threshold_key", sa.String(80), nullable=False),
    sa.Column("provenance", sa.String(500), nullable=False),
    sa.Column("approved_by", sa.String(64), nullable=False, server_default=""),
)

drug_limit_setting = sa.Table(
    "drug_limit_setting",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("protocol_id", sa.String(40), nullable=False),
    sa.Column("quantity", sa.String(32), nullable=False),
    sa.Column("level", sa.String(8), nullable=False),
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("unit", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(500), nullable=False),
    sa.Column("approved_by", sa.Integer, sa.ForeignKey("staff_user.id"), nullable=False),
    sa.Column("approved_by_username", sa.String(64), nullable=False),
    sa.Column("approved_at", UTCDateTime, nullable=False),
    sa.Column("effective_from", sa.Date, nullable=False),
)

dosing_setting = sa.Table(
    "dosing_setting",
    metadata,
    sa.Column("key", sa.String(40), primary_key=True),
    sa.Column("value", sa.String(200), nullable=False),
    sa.Column("set_by", sa.Integer, sa.ForeignKey("staff_user.id"), nullable=False),
    sa.Column("set_at", UTCDateTime, nullable=False),
)

# The verified order an infusion session's planned dose was checked against at the chair
# (migration ``dosing_0002``): one row per session, replaced when the dose is verified again.
session_dose_order = sa.Table(
    "session_dose_order",
    metadata,
    sa.Column("session_id", sa.Integer, sa.ForeignKey("infusion_session.id"), primary_key=True),
    sa.Column("order_id", sa.Integer, sa.ForeignKey("dose_order.id"), nullable=False, index=True),
    sa.Column("weight_basis", sa.String(10), nullable=False),
    sa.Column("dosing_weight_kg", sa.Float, nullable=False),
    sa.Column("verified_by", sa.Integer, sa.ForeignKey("staff_user.id"), nullable=False),
    sa.Column("verified_at", UTCDateTime, nullable=False),
)
