"""The first infusion of a patient and the protocol they are treated under: the two facts the
PCL-5 baseline rule and the cohort's grouping need (REFERENCE.md §8.1: baseline = the last PCL-5
on or before the first infusion).

The first infusion is the earliest infusion session that started at the chair; when no session
has started yet it is the first booked visit of the patient's series (possibly still ahead, in
which case every score so far is a candidate baseline). The day counts in the site's time zone.

The protocol is the one of the series holding that first booked visit; without a series, the
protocol of the patient's first signed plan; otherwise none. Pure functions over
:class:`~ketaclinic.services.mbc_model.InfusionAnchor`, shared by the patient's outcome page, the
API and the cohort report so the three never disagree.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from zoneinfo import ZoneInfo

from ketaclinic.services.mbc_model import InfusionAnchor

NO_PROTOCOL = "none"
"""The cohort group of patients with neither a series nor a signed plan."""


class InfusionSource(StrEnum):
    """Where the first infusion was found."""

    SESSION = "session"
    """An infusion session that started at the chair."""
    VISIT = "visit"
    """The first booked visit of a series (no session has started yet)."""
    GIVEN = "given"
    """Passed in by the caller."""


@dataclass(frozen=True, slots=True)
class FirstInfusion:
    """The first infusion: its UTC time (``None`` when only a date was given), its local day and
    where it was found, with the protocol the patient is treated under."""

    on: dt.date
    source: InfusionSource
    at: dt.datetime | None = None
    protocol_id: str | None = None

    def describe(self) -> str:
        """Why this is the first infusion, in a few words (for the page and the API)."""
        if self.source is InfusionSource.SESSION:
            return f"the first infusion session started on {self.on.isoformat()}"
        if self.source is InfusionSource.VISIT:
            series = f" of the {self.protocol_id} series" if self.protocol_id else ""
            return (
                f"no infusion session has started yet: the first booked visit{series} is on "
                f"{self.on.isoformat()}"
            )
        return f"first infusion given as {self.on.isoformat()}"


def protocol_of(anchor: InfusionAnchor | None) -> str | None:
    """The protocol of the series holding the first booked visit, else of the first signed
    plan, else ``None``."""
    if anchor is None:
        return None
    return anchor.first_visit_protocol or anchor.plan_protocol


def first_infusion(anchor: InfusionAnchor | None, timezone: str) -> FirstInfusion | None:
    """The first infusion by the rule of the module docstring, dated in ``timezone``; ``None``
    when neither a started session nor a booked visit is stored."""
    if anchor is None:
        return None
    zone = ZoneInfo(timezone)
    protocol = protocol_of(anchor)
    if anchor.first_session_at is not None:
        at = anchor.first_session_at
        return FirstInfusion(at.astimezone(zone).date(), InfusionSource.SESSION, at, protocol)
    if anchor.first_visit_at is not None:
        at = anchor.first_visit_at
        return FirstInfusion(at.astimezone(zone).date(), InfusionSource.VISIT, at, protocol)
    return None
