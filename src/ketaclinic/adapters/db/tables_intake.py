"""Tables of intake and scheduling: leads, intakes with their eligibility sign-off, consent,
clinic protocols, treatment plans, clinic hours, series and visits (migration branch ``intake``).

Lists that are only ever read whole (condition codes, answers, reasons) are stored as JSON text;
times are UTC; opening hours are minutes after local midnight (the backup format has no time
type).
"""

from __future__ import annotations

import sqlalchemy as sa

from ketaclinic.adapters.db.tables import UTCDateTime, metadata

lead = sa.Table(
    "lead",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("site_id", sa.Integer, sa.ForeignKey("site.id"), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("email", sa.String(254), nullable=False),
    sa.Column("phone", sa.String(32), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("language", sa.String(5), nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("patient_id", sa.Integer, sa.ForeignKey("patient.id"), nullable=True),
    sa.Column("handled_by", sa.Integer, sa.ForeignKey("staff_user.id"), nullable=True),
    sa.Column("handled_at", UTCDateTime, nullable=True),
)
sa.Index("ix_lead_site_status", lead.c.site_id, lead.c.status)

intake_assessment = sa.Table(
    "intake_assessment",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("patient_id", sa.Integer, sa.ForeignKey("patient.id"), nullable=False, index=True),
    sa.Column("assessment_date", sa.Date, nullable=False),
    sa.Column("age_years", sa.Integer, nullable=False),
    sa.Column("sex", sa.String(10), nullable=False),
    sa.Column("weight_kg", sa.Float, nullable=False),
    sa.Column("height_cm", sa.Float, nullable=False),
    sa.Column("trauma_date", sa.Date, nullable=False),
    sa.Column("pregnant", sa.Boolean, nullable=False),
    sa.Column("bp_systolic", sa.Float, nullable=False),
    sa.Column("bp_diastolic", sa.Float, nullable=False),
    sa.Column("heart_rate", sa.Float, nullable=False),
    sa.Column("spo2", sa.Float, nullable=False),
    # Baseline answers of the intake (area ``mbc`` stores questionnaire responses of its own).
    sa.Column("pcl5_answers", sa.Text, nullable=False),
    sa.Column("phq9_answers", sa.Text, nullable=False),
    sa.Column("conditions", sa.Text, nullable=False),
    sa.Column("medications", sa.Text, nullable=False),
    sa.Column("psychiatric_history", sa.Text, nullable=False),
    sa.Column("medical_history", sa.Text, nullable=False),
    sa.Column("allergies", sa.Text, nullable=False),
    sa.Column("decision", sa.String(16), nullable=False),
    sa.Column("reasons", sa.Text, nullable=False),
    sa.Column("weight_findings", sa.Text, nullable=False),
    sa.Column("weight_confirmed", sa.Boolean, nullable=False),
    sa.Column("measurement_id", sa.Integer, sa.ForeignKey("body_measurement.id"), nullable=True),
    sa.Column("recorded_by", sa.Integer, sa.ForeignKey("staff_user.id"), nullable=False),
    sa.Column("recorded_at", UTCDateTime, nullable=False),
)

eligibility_signoff = sa.Table(
    "eligibility_signoff",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    # One signature per intake: a second attempt is a conflict, not an overwrite.
    sa.Column(
        "intake_id",
        sa.Integer,
        sa.ForeignKey("intake_assessment.id"),
        nullable=False,
        unique=True,
    ),
    sa.Column("patient_id", sa.Integer, sa.ForeignKey("patient.id"), nullable=False, index=True),
    sa.Column("decision", sa.String(16), nullable=False),
    sa.Column("original_decision", sa.String(16), nullable=False),
    sa.Column("override_reason", sa.Text, nullable=False),
    sa.Column("overridden_codes", sa.Text, nullable=False),
    sa.Column("signed_by", sa.Integer, sa.ForeignKey("staff_user.id"), nullable=False),
    sa.Column("signed_at", UTCDateTime, nullable=False),
)

consent_version = sa.Table(
    "consent_version",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("version", sa.Integer, nullable=False, unique=True),
    sa.Column("body_en", sa.Text, nullable=False),
    sa.Column("body_es", sa.Text, nullable=False),
    sa.Column("created_by", sa.Integer, sa.ForeignKey("staff_user.id"), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

patient_consent = sa.Table(
    "patient_consent",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("patient_id", sa.Integer, sa.ForeignKey("patient.id"), nullable=False, index=True),
    sa.Column(
        "version_id", sa.Integer, sa.ForeignKey("consent_version.id"), nullable=False, index=True
    ),
    sa.Column("language", sa.String(5), nullable=False),
    sa.Column("signer_name", sa.String(200), nullable=False),
    sa.Column("witness_id", sa.Integer, sa.ForeignKey("staff_user.id"), nullable=False),
    sa.Column("signed_at", UTCDateTime, nullable=False),
)

clinic_protocol = sa.Table(
    "clinic_protocol",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("protocol_id", sa.String(40), nullable=False, unique=True),
    sa.Column("name", sa.String(120), nullable=False),
    sa.Column("infusion_count", sa.Integer, nullable=False),
    sa.Column("duration_weeks", sa.Integer, nullable=False),
    sa.Column("dose_mg_per_kg", sa.Float, nullable=False),
    sa.Column("infusion_min", sa.Integer, nullable=False),
    sa.Column("weekdays", sa.String(20), nullable=False),
    sa.Column("spacing_days", sa.Integer, nullable=True),
    sa.Column("min_gap_days", sa.Integer, nullable=True),
    sa.Column("observation_min", sa.Integer, nullable=False),
    sa.Column("setup_min", sa.Integer, nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("created_by", sa.Integer, sa.ForeignKey("staff_user.id"), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

treatment_plan = sa.Table(
    "treatment_plan",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("patient_id", sa.Integer, sa.ForeignKey("patient.id"), nullable=False, index=True),
    sa.Column("protocol_id", sa.String(40), nullable=False),
    sa.Column("dose_mg_per_kg", sa.Float, nullable=False),
    sa.Column("start_date", sa.Date, nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("signed_by", sa.Integer, sa.ForeignKey("staff_user.id"), nullable=False),
    sa.Column("signed_at", UTCDateTime, nullable=False),
)

# One row per site: the search step, and the row a booking locks so that bookings at a site
# are made one at a time (see ScheduleRepository.lock_site).
site_schedule = sa.Table(
    "site_schedule",
    metadata,
    sa.Column("site_id", sa.Integer, sa.ForeignKey("site.id"), primary_key=True),
    sa.Column("slot_min", sa.Integer, nullable=False),
)

clinic_hours = sa.Table(
    "clinic_hours",
    metadata,
    sa.Column("site_id", sa.Integer, sa.ForeignKey("site.id"), primary_key=True),
    sa.Column("weekday", sa.Integer, primary_key=True),
    sa.Column("opens_min", sa.Integer, nullable=False),
    sa.Column("closes_min", sa.Integer, nullable=False),
)

treatment_series = sa.Table(
    "treatment_series",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("patient_id", sa.Integer, sa.ForeignKey("patient.id"), nullable=False, index=True),
    sa.Column("site_id", sa.Integer, sa.ForeignKey("site.id"), nullable=False),
    sa.Column("plan_id", sa.Integer, sa.ForeignKey("treatment_plan.id"), nullable=False),
    sa.Column("protocol_id", sa.String(40), nullable=False),
    sa.Column("booked_by", sa.Integer, sa.ForeignKey("staff_user.id"), nullable=False),
    sa.Column("booked_at", UTCDateTime, nullable=False),
    sa.Column("decision", sa.String(16), nullable=True),
    sa.Column("decision_note", sa.Text, nullable=False),
    sa.Column("decided_by", sa.Integer, sa.ForeignKey("staff_user.id"), nullable=True),
    sa.Column("decided_at", UTCDateTime, nullable=True),
)

series_visit = sa.Table(
    "series_visit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "series_id", sa.Integer, sa.ForeignKey("treatment_series.id"), nullable=False, index=True
    ),
    sa.Column("patient_id", sa.Integer, sa.ForeignKey("patient.id"), nullable=False, index=True),
    sa.Column("site_id", sa.Integer, sa.ForeignKey("site.id"), nullable=False),
    sa.Column("chair_id", sa.Integer, sa.ForeignKey("chair.id"), nullable=False),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("starts_at", UTCDateTime, nullable=False),
    sa.Column("ends_at", UTCDateTime, nullable=False),
    sa.Column("local_day", sa.Date, nullable=False),
    # A last line of defence under the site lock: two visits can never start on one chair at
    # the same moment, whatever code path wrote them.
    sa.UniqueConstraint("chair_id", "starts_at", name="uq_series_visit_chair_start"),
)
sa.Index("ix_series_visit_site_day", series_visit.c.site_id, series_visit.c.local_day)

# A cancelled visit leaves series_visit (so its chair and start are free to book again, under the
# same unique constraint) and is kept here with the same id and number, and who, when and why.
cancelled_visit = sa.Table(
    "cancelled_visit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column(
        "series_id", sa.Integer, sa.ForeignKey("treatment_series.id"), nullable=False, index=True
    ),
    sa.Column("patient_id", sa.Integer, sa.ForeignKey("patient.id"), nullable=False),
    sa.Column("site_id", sa.Integer, sa.ForeignKey("site.id"), nullable=False),
    sa.Column("chair_id", sa.Integer, sa.ForeignKey("chair.id"), nullable=False),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("starts_at", UTCDateTime, nullable=False),
    sa.Column("ends_at", UTCDateTime, nullable=False),
    sa.Column("local_day", sa.Date, nullable=False),
    sa.Column("cancelled_by", sa.Integer, sa.ForeignKey("staff_user.id"), nullable=False),
    sa.Column("cancelled_at", UTCDateTime, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
)
