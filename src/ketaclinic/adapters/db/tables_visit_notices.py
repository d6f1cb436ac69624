"""The e-mails a booked visit has had (area ``intake``): table ``visit_notice``, created by
migration ``intake_0003_visit_notices``.

One row per visit and kind (UNIQUE ``visit_id, kind``): the reminder sweep claims a visit's
reminder by inserting its row, so of several processes sweeping at once exactly one sends it.
``visit_id`` names a visit of ``series_visit`` or, once cancelled, of ``cancelled_visit`` (the
same id moves there), so it has no foreign key: a cancellation keeps the record of what was
sent. ``starts_at`` is the visit's start when the notice was claimed.
"""

from __future__ import annotations

import sqlalchemy as sa

from ketaclinic.adapters.db.tables import UTCDateTime, metadata

visit_notice = sa.Table(
    "visit_notice",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("visit_id", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("patient_id", sa.Integer, sa.ForeignKey("patient.id"), nullable=False, index=True),
    sa.Column("site_id", sa.Integer, sa.ForeignKey("site.id"), nullable=False),
    sa.Column("starts_at", UTCDateTime, nullable=False),
    sa.Column("outcome", sa.String(20), nullable=False),
    sa.Column("claimed_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime, nullable=True),
    sa.UniqueConstraint("visit_id", "kind", name="uq_visit_notice_visit_kind"),
)
