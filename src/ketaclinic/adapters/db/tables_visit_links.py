"""The link of an infusion session (area ``chair``) to the booked visit it fulfils (area
``intake``). Created by migration ``visit_links_0001``.

``session_id`` is the key and ``visit_id`` is UNIQUE: a session fulfils one visit and a visit
one session. Taking a visit off the schedule deletes its ``series_visit`` row; the link goes with
it (ON DELETE CASCADE), and the session simply has no booked visit any more.
"""

from __future__ import annotations

import sqlalchemy as sa

from ketaclinic.adapters.db.tables import UTCDateTime, metadata

session_visit = sa.Table(
    "session_visit",
    metadata,
    sa.Column("session_id", sa.Integer, sa.ForeignKey("infusion_session.id"), primary_key=True),
    sa.Column(
        "visit_id",
        sa.Integer,
        sa.ForeignKey("series_visit.id", ondelete="CASCADE"),
        nullable=False,
        unique=True,
    ),
    sa.Column("linked_at", UTCDateTime, nullable=False),
    sa.Column("done_at", UTCDateTime, nullable=True),
)
