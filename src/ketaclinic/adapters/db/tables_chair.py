"""Tables of the infusion chair (area ``chair``): sessions, their transitions and checklist, the
medication administration record, the link of vital readings to sessions, alerts, side effects,
dissociation scores and discharge assessments. Created by migration ``chair_0001``.

Two columns enforce "one at a time" in the database itself, on SQLite and PostgreSQL alike:
``infusion_session.occupied_chair_id`` and ``active_patient_id`` hold the chair and patient while
a session is open and NULL once it is discharged or cancelled; being UNIQUE (NULLs never clash),
no chair or patient can have two open sessions, even under concurrent check-ins.
``chair_alert.open_key`` does the same for "one open alert per rule per session".
"""

from __future__ import annotations

import sqlalchemy as sa

from ketaclinic.adapters.db.tables import UTCDateTime, metadata

infusion_session = sa.Table(
    "infusion_session",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("patient_id", sa.Integer, sa.ForeignKey("patient.id"), nullable=False, index=True),
    sa.Column("site_id", sa.Integer, sa.ForeignKey("site.id"), nullable=False, index=True),
    sa.Column("chair_id", sa.Integer, sa.ForeignKey("chair.id"), nullable=False, index=True),
    sa.Column("protocol_id", sa.String(40), nullable=False),
    sa.Column("bolus_allowed", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("state", sa.String(24), nullable=False),
    sa.Column("checked_in_at", UTCDateTime, nullable=False),
    sa.Column("checked_in_by", sa.Integer, sa.ForeignKey("staff_user.id"), nullable=False),
    sa.Column("escort_name", sa.String(100), nullable=False, server_default=""),
    sa.Column("escort_phone", sa.String(32), nullable=False, server_default=""),
    sa.Column("weight_kg", sa.Float, nullable=True),
    sa.Column("baseline_systolic", sa.Float, nullable=True),
    sa.Column("baseline_diastolic", sa.Float, nullable=True),
    sa.Column("baseline_heart_rate", sa.Float, nullable=True),
    sa.Column("baseline_spo2", sa.Float, nullable=True),
    sa.Column("baseline_at", UTCDateTime, nullable=True),
    sa.Column("planned_dose_mg", sa.Float, nullable=True),
    sa.Column("planned_concentration_mg_per_ml", sa.Float, nullable=True),
    sa.Column("planned_volume_ml", sa.Float, nullable=True),
    sa.Column("planned_rate_ml_per_h", sa.Float, nullable=True),
    sa.Column("planned_limit_level", sa.String(8), nullable=False, server_default=""),
    sa.Column("planned_override_reason", sa.String(500), nullable=False, server_default=""),
    sa.Column(
        "planned_override_confirmed_by", sa.Integer, sa.ForeignKey("staff_user.id"), nullable=True
    ),
    sa.Column("infusion_started_at", UTCDateTime, nullable=True),
    sa.Column("infusion_ended_at", UTCDateTime, nullable=True),
    sa.Column("closed_at", UTCDateTime, nullable=True),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column(
        "occupied_chair_id", sa.Integer, sa.ForeignKey("chair.id"), nullable=True, unique=True
    ),
    sa.Column(
        "active_patient_id", sa.Integer, sa.ForeignKey("patient.id"), nullable=True, unique=True
    ),
)

session_transition = sa.Table(
    "session_transition",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "session_id", sa.Integer, sa.ForeignKey("infusion_session.id"), nullable=False, index=True
    ),
    sa.Column("transition", sa.String(24), nullable=False),
    sa.Column("from_state", sa.String(24), nullable=False),
    sa.Column("to_state", sa.String(24), nullable=False),
    sa.Column("by_user_id", sa.Integer, sa.ForeignKey("staff_user.id"), nullable=False),
    sa.Column("by_role", sa.String(20), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("reason", sa.String(500), nullable=False, server_default=""),
    sa.Column("override_reason", sa.String(500), nullable=False, server_default=""),
)

session_check = sa.Table(
    "session_check",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "session_id", sa.Integer, sa.ForeignKey("infusion_session.id"), nullable=False, index=True
    ),
    sa.Column("item", sa.String(40), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("by_user_id", sa.Integer, sa.ForeignKey("staff_user.id"), nullable=False),
    sa.Column("by_role", sa.String(20), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("note", sa.String(500), nullable=False, server_default=""),
    sa.Column("hard", sa.Boolean, nullable=False, server_default=sa.false()),
)

# One row per MAR entry; ``seq`` is the entry's number within its session (1, 2, ...). A
# correction names the entry it corrects (``corrects_seq``); ``corrected_kind`` is the kind of
# the replacement values in the same columns, or "" when it voids the entry; ``reason`` is the
# correction's reason and ``corrected_reason`` a corrected pause or stop reason.
administration_event = sa.Table(
    "administration_event",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "session_id", sa.Integer, sa.ForeignKey("infusion_session.id"), nullable=False, index=True
    ),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("by_user_id", sa.Integer, sa.ForeignKey("staff_user.id"), nullable=False),
    sa.Column("by_role", sa.String(20), nullable=False),
    sa.Column("recorded_at", UTCDateTime, nullable=False),
    sa.Column("dose_mg", sa.Float, nullable=True),
    sa.Column("concentration_mg_per_ml", sa.Float, nullable=True),
    sa.Column("volume_ml", sa.Float, nullable=True),
    sa.Column("rate_ml_per_h", sa.Float, nullable=True),
    sa.Column("lot_number", sa.String(40), nullable=False, server_default=""),
    sa.Column("pump_id", sa.String(40), nullable=False, server_default=""),
    sa.Column("reason", sa.String(200), nullable=False, server_default=""),
    sa.Column("corrects_seq", sa.Integer, nullable=True),
    sa.Column("corrected_kind", sa.String(16), nullable=False, server_default=""),
    sa.Column("corrected_at", UTCDateTime, nullable=True),
    sa.Column("corrected_reason", sa.String(200), nullable=False, server_default=""),
    sa.Column("limit_level", sa.String(8), nullable=False, server_default=""),
    sa.Column("override_reason", sa.String(500), nullable=False, server_default=""),
    sa.Column("override_confirmed_by", sa.Integer, sa.ForeignKey("staff_user.id"), nullable=True),
    sa.UniqueConstraint("session_id", "seq", name="uq_administration_event_session_seq"),
)

# Which vital readings belong to which session (vital_reading itself is shared storage). The
# reading's kind, value, time and usability are repeated here so that a session's recent
# readings, its trend and its latest usable reading per vital come from this table and its
# indexes, however long the monitor feed grows.
session_vital = sa.Table(
    "session_vital",
    metadata,
    sa.Column("reading_id", sa.Integer, sa.ForeignKey("vital_reading.id"), primary_key=True),
    sa.Column("session_id", sa.Integer, sa.ForeignKey("infusion_session.id"), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("observed_at", UTCDateTime, nullable=False),
    sa.Column("usable", sa.Boolean, nullable=False, server_default=sa.true()),
)
sa.Index("ix_session_vital_session_time", session_vital.c.session_id, session_vital.c.observed_at)
# The newest usable reading per (session, vital), ties broken by reading id: the whole ORDER BY
# in the index, so the answer is one index seek on PostgreSQL too (migration chair_0003).
sa.Index(
    "ix_session_vital_latest",
    session_vital.c.session_id,
    session_vital.c.usable,
    session_vital.c.kind,
    session_vital.c.observed_at,
    session_vital.c.reading_id,
)

chair_alert = sa.Table(
    "chair_alert",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "session_id", sa.Integer, sa.ForeignKey("infusion_session.id"), nullable=False, index=True
    ),
    sa.Column("patient_id", sa.Integer, sa.ForeignKey("patient.id"), nullable=False),
    sa.Column("site_id", sa.Integer, sa.ForeignKey("site.id"), nullable=False, index=True),
    sa.Column("rule_key", sa.String(48), nullable=False),
    sa.Column("label", sa.String(120), nullable=False),
    sa.Column("tier", sa.String(16), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("vital", sa.String(32), nullable=False, server_default=""),
    sa.Column("unit", sa.String(16), nullable=False),
    sa.Column("comparison", sa.String(4), nullable=False),
    sa.Column("threshold_key", sa.String(64), nullable=False),
    sa.Column("threshold_value", sa.Float, nullable=False),
    sa.Column("threshold_unit", sa.String(16), nullable=False),
    sa.Column("provenance_tag", sa.String(16), nullable=False),
    sa.Column("provenance_reference", sa.String(300), nullable=False),
    sa.Column("provenance_section", sa.String(16), nullable=False, server_default=""),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("first_value", sa.Float, nullable=False),
    sa.Column("first_observed_at", UTCDateTime, nullable=False),
    sa.Column("latest_value", sa.Float, nullable=False),
    sa.Column("latest_observed_at", UTCDateTime, nullable=False),
    sa.Column("raised_at", UTCDateTime, nullable=False),
    sa.Column("occurrences", sa.Integer, nullable=False, server_default="1"),
    sa.Column("escalation_level", sa.Integer, nullable=False, server_default="0"),
    sa.Column("reading_source", sa.String(16), nullable=False, server_default=""),
    sa.Column("acknowledged_by", sa.Integer, sa.ForeignKey("staff_user.id"), nullable=True),
    sa.Column("acknowledged_role", sa.String(20), nullable=False, server_default=""),
    sa.Column("acknowledged_at", UTCDateTime, nullable=True),
    sa.Column("action_taken", sa.String(500), nullable=False, server_default=""),
    sa.Column("resolved_by", sa.Integer, sa.ForeignKey("staff_user.id"), nullable=True),
    sa.Column("resolved_role", sa.String(20), nullable=False, server_default=""),
    sa.Column("resolved_at", UTCDateTime, nullable=True),
    sa.Column("resolution_note", sa.String(500), nullable=False, server_default=""),
    sa.Column("open_key", sa.String(80), nullable=True, unique=True),
)

side_effect = sa.Table(
    "side_effect",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "session_id", sa.Integer, sa.ForeignKey("infusion_session.id"), nullable=False, index=True
    ),
    sa.Column("kind", sa.String(24), nullable=False),
    sa.Column("severity", sa.String(12), nullable=False),
    sa.Column("onset_at", UTCDateTime, nullable=False),
    sa.Column("resolved_at", UTCDateTime, nullable=True),
    sa.Column("interventions", sa.String(300), nullable=False),
    sa.Column("serious_criteria", sa.String(300), nullable=False, server_default=""),
    sa.Column("other_text", sa.String(200), nullable=False, server_default=""),
    sa.Column("intervention_text", sa.String(200), nullable=False, server_default=""),
    sa.Column("recorded_by", sa.Integer, sa.ForeignKey("staff_user.id"), nullable=False),
    sa.Column("recorded_role", sa.String(20), nullable=False),
    sa.Column("recorded_at", UTCDateTime, nullable=False),
    sa.Column("flagged", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("reviewed_by", sa.Integer, sa.ForeignKey("staff_user.id"), nullable=True),
    sa.Column("reviewed_at", UTCDateTime, nullable=True),
)

# CADSS-6: item numbers and scores only, never item wording (REFERENCE.md §10).
dissociation_score = sa.Table(
    "dissociation_score",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "session_id", sa.Integer, sa.ForeignKey("infusion_session.id"), nullable=False, index=True
    ),
    sa.Column("timepoint", sa.String(20), nullable=False),
    sa.Column("cadss_01", sa.Integer, nullable=False),
    sa.Column("cadss_02", sa.Integer, nullable=False),
    sa.Column("cadss_06", sa.Integer, nullable=False),
    sa.Column("cadss_07", sa.Integer, nullable=False),
    sa.Column("cadss_15", sa.Integer, nullable=False),
    sa.Column("cadss_22", sa.Integer, nullable=False),
    sa.Column("total", sa.Integer, nullable=False),
    sa.Column("scored_by", sa.Integer, sa.ForeignKey("staff_user.id"), nullable=False),
    sa.Column("scored_role", sa.String(20), nullable=False),
    sa.Column("scored_at", UTCDateTime, nullable=False),
)

discharge_assessment = sa.Table(
    "discharge_assessment",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "session_id", sa.Integer, sa.ForeignKey("infusion_session.id"), nullable=False, index=True
    ),
    sa.Column("assessed_at", UTCDateTime, nullable=False),
    sa.Column("assessed_by", sa.Integer, sa.ForeignKey("staff_user.id"), nullable=False),
    sa.Column("assessed_role", sa.String(20), nullable=False),
    sa.Column("scale", sa.String(8), nullable=False),
    sa.Column("aldrete_activity", sa.Integer, nullable=True),
    sa.Column("aldrete_respiration", sa.Integer, nullable=True),
    sa.Column("aldrete_circulation", sa.Integer, nullable=True),
    sa.Column("aldrete_consciousness", sa.Integer, nullable=True),
    sa.Column("aldrete_spo2", sa.Integer, nullable=True),
    sa.Column("padss_vital_signs", sa.Integer, nullable=True),
    sa.Column("padss_activity_mental_status", sa.Integer, nullable=True),
    sa.Column("padss_pain_nausea_vomiting", sa.Integer, nullable=True),
    sa.Column("padss_intake_output", sa.Integer, nullable=True),
    sa.Column("padss_surgical_bleeding", sa.Integer, nullable=True),
    sa.Column("escort_confirmed", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("mental_status_attested", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("dissociation_attested", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("ready", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("unmet", sa.String(2000), nullable=False, server_default=""),
)

# One row per escalation of a clinical alert to a level: the outbox of the e-mail that tells
# people about it (services/chair_escalation.py). UNIQUE (alert_id, level): however many
# processes sweep at once, a level is recorded, and so notified, once. Created by chair_0002.
chair_alert_escalation = sa.Table(
    "chair_alert_escalation",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("alert_id", sa.Integer, sa.ForeignKey("chair_alert.id"), nullable=False),
    sa.Column(
        "session_id", sa.Integer, sa.ForeignKey("infusion_session.id"), nullable=False, index=True
    ),
    sa.Column("site_id", sa.Integer, sa.ForeignKey("site.id"), nullable=False),
    sa.Column("level", sa.Integer, nullable=False),
    sa.Column("escalated_at", UTCDateTime, nullable=False),
    sa.Column("state", sa.String(12), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("claimed_until", UTCDateTime, nullable=True),
    sa.Column("recipients", sa.Integer, nullable=False, server_default="0"),
    sa.Column("sent", sa.Integer, nullable=False, server_default="0"),
    sa.Column("finished_at", UTCDateTime, nullable=True),
    sa.Column("outcome", sa.String(200), nullable=False, server_default=""),
    sa.UniqueConstraint("alert_id", "level"),
    sa.Index("ix_chair_alert_escalation_pending", "state", "escalated_at"),
)

# "The chairs of this site changed", for board streams in other app processes on SQLite
# (PostgreSQL tells them with NOTIFY instead): one row per site whose ``version`` every changing
# transaction raises, with the token of the process that committed it last
# (adapters/db/events_chair.py watches it). Created by chair_0005.
chair_change = sa.Table(
    "chair_change",
    metadata,
    sa.Column("site_id", sa.Integer, sa.ForeignKey("site.id"), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("process", sa.String(32), nullable=False),
)
