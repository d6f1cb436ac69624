"""Tables of measurement-based care (migration branch ``mbc``).

- ``questionnaire_response``: answers by item id and the scored result (JSON text columns), one
  row per completed instrument. A patient cannot have two responses to the same instrument
  completed at the same instant (a repeated submission is refused, nothing is lost).
  ``severity`` holds a band id, a C-SSRS risk level, or the WHO-5 percentage written as digits.
- ``cssrs_result``: the clinician's own C-SSRS result beside its response row.
- ``safety_task``: same-day reviews raised by a positive PHQ-9 item 9 or C-SSRS.
- ``content_pack``: official wording loaded by the clinic, every load kept with its licence
  attestation; the newest per instrument and language is used.
- ``self_report_link``: one-time questionnaire links; only the token's SHA-256 is stored.
- ``self_report_schedule`` (migration ``mbc_0002``): a protocol's self-report schedule settings.
- ``self_report_request`` (``mbc_0002``): the slots the scheduled sweep acted on, one per
  patient and slot key (UNIQUE: two sweeps can never both send a link for the same slot), with
  the link made, the outcome and the front desk's notice.
"""

from __future__ import annotations

import sqlalchemy as sa

from ketaclinic.adapters.db.tables import UTCDateTime, metadata

questionnaire_response = sa.Table(
    "questionnaire_response",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("patient_id", sa.Integer, sa.ForeignKey("patient.id"), nullable=False),
    sa.Column("instrument_id", sa.String(32), nullable=False),
    sa.Column("instrument_version", sa.String(200), nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("entered_by", sa.Integer, sa.ForeignKey("staff_user.id"), nullable=True),
    sa.Column("completed_at", UTCDateTime, nullable=False),
    sa.Column("recorded_at", UTCDateTime, nullable=False),
    sa.Column("language", sa.String(16), nullable=False),
    sa.Column("answers_json", sa.Text, nullable=False),
    sa.Column("total", sa.Integer, nullable=True),
    sa.Column("subscales_json", sa.Text, nullable=False),
    sa.Column("severity", sa.String(32), nullable=True),
    sa.Column("flags_json", sa.Text, nullable=False),
    sa.Column("self_report_id", sa.Integer, sa.ForeignKey("self_report_link.id"), nullable=True),
    sa.UniqueConstraint(
        "patient_id", "instrument_id", "completed_at", name="uq_questionnaire_response_once"
    ),
)
# Cohort analytics read one instrument's totals over many patients in time order.
sa.Index(
    "ix_questionnaire_response_instrument",
    questionnaire_response.c.instrument_id,
    questionnaire_response.c.patient_id,
    questionnaire_response.c.completed_at,
)

cssrs_result = sa.Table(
    "cssrs_result",
    metadata,
    sa.Column(
        "response_id",
        sa.Integer,
        sa.ForeignKey("questionnaire_response.id"),
        primary_key=True,
        autoincrement=False,
    ),
    sa.Column("form", sa.String(32), nullable=False),
    sa.Column("risk_level", sa.String(16), nullable=False),
    sa.Column("action", sa.Text, nullable=False),
)

safety_task = sa.Table(
    "safety_task",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("patient_id", sa.Integer, sa.ForeignKey("patient.id"), nullable=False, index=True),
    sa.Column("site_id", sa.Integer, sa.ForeignKey("site.id"), nullable=False),
    sa.Column("response_id", sa.Integer, sa.ForeignKey("questionnaire_response.id"), nullable=True),
    sa.Column("reason", sa.String(64), nullable=False),
    sa.Column("raised_at", UTCDateTime, nullable=False),
    sa.Column("due_at", UTCDateTime, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("notified_at", UTCDateTime, nullable=True),
    sa.Column("closed_by", sa.Integer, sa.ForeignKey("staff_user.id"), nullable=True),
    sa.Column("closed_at", UTCDateTime, nullable=True),
    sa.Column("action", sa.Text, nullable=False, server_default=""),
)
sa.Index("ix_safety_task_site_status", safety_task.c.site_id, safety_task.c.status)

content_pack = sa.Table(
    "content_pack",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("instrument_id", sa.String(32), nullable=False),
    sa.Column("instrument_version", sa.String(200), nullable=False),
    sa.Column("language", sa.String(16), nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("instructions", sa.Text, nullable=False),
    sa.Column("items_json", sa.Text, nullable=False),
    sa.Column("anchors_json", sa.Text, nullable=False),
    sa.Column("licence_attested_by", sa.String(100), nullable=True),
    sa.Column("licence_attested_on", sa.Date, nullable=True),
    sa.Column("licence_statement", sa.Text, nullable=True),
    sa.Column("loaded_at", UTCDateTime, nullable=False),
)
sa.Index(
    "ix_content_pack_instrument_language", content_pack.c.instrument_id, content_pack.c.language
)

self_report_link = sa.Table(
    "self_report_link",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("patient_id", sa.Integer, sa.ForeignKey("patient.id"), nullable=False, index=True),
    sa.Column("site_id", sa.Integer, sa.ForeignKey("site.id"), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("instrument_ids", sa.String(200), nullable=False),
    sa.Column("created_by", sa.Integer, sa.ForeignKey("staff_user.id"), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("due_at", UTCDateTime, nullable=True),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("language", sa.String(16), nullable=False),
    sa.Column("used_at", UTCDateTime, nullable=True),
    sa.Column("mailed_at", UTCDateTime, nullable=True),
)

self_report_schedule = sa.Table(
    "self_report_schedule",
    metadata,
    sa.Column("protocol_id", sa.String(40), primary_key=True),
    sa.Column("before_infusion", sa.String(200), nullable=False),
    sa.Column("before_hours", sa.Integer, nullable=False),
    sa.Column("after_series", sa.String(200), nullable=False),
    sa.Column("after_weeks", sa.Integer, nullable=False),
    sa.Column("updated_by", sa.Integer, sa.ForeignKey("staff_user.id"), nullable=True),
    sa.Column("updated_at", UTCDateTime, nullable=True),
)

self_report_request = sa.Table(
    "self_report_request",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("patient_id", sa.Integer, sa.ForeignKey("patient.id"), nullable=False),
    sa.Column("site_id", sa.Integer, sa.ForeignKey("site.id"), nullable=False),
    sa.Column("slot_key", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("due_at", UTCDateTime, nullable=False),
    sa.Column("instrument_ids", sa.String(200), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("link_id", sa.Integer, sa.ForeignKey("self_report_link.id"), nullable=True),
    sa.Column("notice_closed_by", sa.Integer, sa.ForeignKey("staff_user.id"), nullable=True),
    sa.Column("notice_closed_at", UTCDateTime, nullable=True),
    sa.UniqueConstraint("patient_id", "slot_key", name="uq_self_report_request_slot"),
)
# The front desk's list: open notices of a site.
sa.Index(
    "ix_self_report_request_site_notice",
    self_report_request.c.site_id,
    self_report_request.c.notice_closed_at,
)
