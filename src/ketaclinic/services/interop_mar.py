"""Administration periods from a medication administration record, for export.

FHIR's MedicationAdministration carries one rate, so an infusion with rate changes and pauses
becomes several administrations: one per stretch of constant rate. The stretches are the
*delivered* segments of the domain's :class:`~ketaclinic.domain.administration.AdministrationRecord`
(corrections applied, pauses excluded, cut where the bag ran empty), so the export agrees with
what the PK simulator and the chair show.

A segment still running at ``as_of`` is exported as ``in-progress`` without an end. A bolus is a
period of zero length with its dose and no rate.
"""

from __future__ import annotations

import datetime as dt

from ketaclinic.domain.administration import (
    AdministrationRecord,
    PumpState,
    StartInfusion,
)
from ketaclinic.services.interop_records import AdministrationPeriod, BolusRow

# Used as "until" for a running infusion so the domain closes the last segment only where the
# bag runs empty; the period is then cut at ``as_of``. Far beyond any infusion (design).
_HORIZON = dt.timedelta(days=7)


def periods_of(
    session_id: int, record: AdministrationRecord, as_of: dt.datetime
) -> tuple[list[AdministrationPeriod], list[BolusRow]]:
    """The constant-rate periods and boluses of one session's MAR, oldest first.

    ``as_of`` is the time of the export (timezone-aware): delivery after it has not happened.
    """
    start_event = record.start
    if start_event is None or not isinstance(start_event.event, StartInfusion):
        return [], []
    start = start_event.event
    running = record.pump_state is PumpState.RUNNING
    stopped = record.pump_state is PumpState.STOPPED
    until = None if stopped else min(as_of, start_event.at + _HORIZON)
    schedule = record.delivered_schedule(until)
    if schedule is None:
        return [], []
    origin = schedule.started_at
    periods: list[AdministrationPeriod] = []
    last = len(schedule.segments) - 1
    for index, segment in enumerate(schedule.segments):
        begin = origin + dt.timedelta(minutes=segment.start_min)
        end: dt.datetime | None = origin + dt.timedelta(minutes=segment.end_min)
        still_running = (
            running
            and index == last
            and schedule.bag_empty_min is None
            and segment.end_min >= schedule.until_min
        )
        if still_running:
            end = None
        rate_ml_per_h = segment.rate_mg_per_min * 60.0 / schedule.concentration_mg_per_ml
        periods.append(
            AdministrationPeriod(
                session_id=session_id,
                index=index + 1,
                start=begin,
                end=end,
                rate_ml_per_h=rate_ml_per_h,
                concentration_mg_per_ml=schedule.concentration_mg_per_ml,
                lot=start.lot_number,
                status="in-progress" if still_running else "completed",
            )
        )
    boluses = [
        BolusRow(session_id, origin + dt.timedelta(minutes=b.t_min), b.dose_mg, start.lot_number)
        for b in schedule.boluses
    ]
    return periods, boluses
