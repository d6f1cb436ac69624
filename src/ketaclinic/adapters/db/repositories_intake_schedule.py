"""SQLAlchemy implementation of the scheduling port of intake (``ScheduleRepository`` in
services/intake_ports.py): clinic hours and the site booking lock, clinic protocols, treatment
plans, series and their visits.

It works inside its unit of work's connection and never commits. Writes that the unique
(chair, start) constraint may refuse run in a savepoint, so a refusal becomes a
:class:`Conflict` and the surrounding transaction stays usable.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from ketaclinic.adapters.db import tables_intake as t
from ketaclinic.adapters.db.repositories import as_utc, utc
from ketaclinic.domain.errors import Conflict, NotFound
from ketaclinic.domain.protocols import Protocol
from ketaclinic.domain.scheduling import OpeningHours
from ketaclinic.services.intake_models import (
    CancelledVisit,
    ClinicHours,
    InductionDecision,
    NewVisit,
    Series,
    TreatmentPlan,
    Visit,
    clinic_protocol,
)


def _minutes(value: dt.time) -> int:
    return value.hour * 60 + value.minute


def _time(minutes: int) -> dt.time:
    return dt.time(minutes // 60, minutes % 60)


def _protocol(row: Any) -> Protocol:
    weekdays = tuple(int(d) for d in row.weekdays.split(",") if d)
    return clinic_protocol(
        id=row.protocol_id,
        name=row.name,
        infusion_count=row.infusion_count,
        duration_weeks=row.duration_weeks,
        dose_mg_per_kg=row.dose_mg_per_kg,
        infusion_min=row.infusion_min,
        weekdays=weekdays,
        spacing_days=row.spacing_days,
        min_gap_days=row.min_gap_days,
        observation_min=row.observation_min,
        setup_min=row.setup_min,
        note=row.note,
    )


def _plan(row: Any) -> TreatmentPlan:
    return TreatmentPlan(
        id=row.id,
        patient_id=row.patient_id,
        protocol_id=row.protocol_id,
        dose_mg_per_kg=row.dose_mg_per_kg,
        start_date=row.start_date,
        signed_by=row.signed_by,
        signed_at=utc(row.signed_at),
        note=row.note,
    )


def _visit(row: Any) -> Visit:
    return Visit(
        id=row.id,
        series_id=row.series_id,
        patient_id=row.patient_id,
        site_id=row.site_id,
        chair_id=row.chair_id,
        number=row.number,
        starts_at=utc(row.starts_at),
        ends_at=utc(row.ends_at),
        local_day=row.local_day,
    )


def _double_booking(new: NewVisit) -> Conflict:
    return Conflict(
        f"chair_id: chair {new.chair_id} already has a visit starting at "
        f"{new.starts_at.isoformat(timespec='minutes')}",
        field="chair_id",
    )


class SqlScheduleRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def set_hours(self, hours: ClinicHours) -> None:
        exists = self.conn.execute(
            sa.select(t.site_schedule.c.site_id).where(t.site_schedule.c.site_id == hours.site_id)
        ).first()
        if exists is None:
            self.conn.execute(
                t.site_schedule.insert().values(site_id=hours.site_id, slot_min=hours.slot_min)
            )
        else:
            self.conn.execute(
                t.site_schedule.update()
                .where(t.site_schedule.c.site_id == hours.site_id)
                .values(slot_min=hours.slot_min)
            )
        self.conn.execute(t.clinic_hours.delete().where(t.clinic_hours.c.site_id == hours.site_id))
        for entry in hours.hours:
            self.conn.execute(
                t.clinic_hours.insert().values(
                    site_id=hours.site_id,
                    weekday=entry.weekday,
                    opens_min=_minutes(entry.opens),
                    closes_min=_minutes(entry.closes),
                )
            )

    def hours(self, site_id: int) -> ClinicHours | None:
        slot = self.conn.execute(
            sa.select(t.site_schedule.c.slot_min).where(t.site_schedule.c.site_id == site_id)
        ).scalar()
        if slot is None:
            return None
        rows = self.conn.execute(
            sa.select(t.clinic_hours)
            .where(t.clinic_hours.c.site_id == site_id)
            .order_by(t.clinic_hours.c.weekday)
        )
        entries = tuple(
            OpeningHours(r.weekday, _time(r.opens_min), _time(r.closes_min)) for r in rows
        )
        return ClinicHours(site_id, entries, int(slot))

    def lock_site(self, site_id: int) -> None:
        # FOR UPDATE on PostgreSQL; SQLAlchemy leaves it out on SQLite, whose BEGIN IMMEDIATE
        # transactions already hold the database's only write lock.
        self.conn.execute(
            sa.select(t.site_schedule.c.site_id)
            .where(t.site_schedule.c.site_id == site_id)
            .with_for_update()
        ).first()

    def add_protocol(self, protocol: Protocol, by_user_id: int, at: dt.datetime) -> None:
        values = {
            "protocol_id": protocol.id,
            "name": protocol.name,
            "infusion_count": protocol.infusion_count,
            "duration_weeks": protocol.duration_weeks,
            "dose_mg_per_kg": protocol.dose_mg_per_kg,
            "infusion_min": protocol.infusion_min,
            "weekdays": ",".join(str(d) for d in protocol.weekdays),
            "spacing_days": protocol.spacing_days,
            "min_gap_days": protocol.min_gap_days,
            "observation_min": protocol.observation_min,
            "setup_min": protocol.setup_min,
            "note": protocol.note,
            "created_by": by_user_id,
            "created_at": at,
        }
        try:
            with self.conn.begin_nested():
                self.conn.execute(t.clinic_protocol.insert().values(**values))
        except IntegrityError:
            raise Conflict(
                f"id: got {protocol.id!r}, expected an id not already in use", field="id"
            ) from None

    def protocols(self) -> list[Protocol]:
        rows = self.conn.execute(
            sa.select(t.clinic_protocol).order_by(t.clinic_protocol.c.protocol_id)
        )
        return [_protocol(r) for r in rows]

    def add_plan(self, plan: TreatmentPlan) -> TreatmentPlan:
        new_id = self.conn.execute(
            t.treatment_plan.insert()
            .values(
                patient_id=plan.patient_id,
                protocol_id=plan.protocol_id,
                dose_mg_per_kg=plan.dose_mg_per_kg,
                start_date=plan.start_date,
                note=plan.note,
                signed_by=plan.signed_by,
                signed_at=plan.signed_at,
            )
            .returning(t.treatment_plan.c.id)
        ).scalar_one()
        return next(p for p in self.plans(plan.patient_id) if p.id == new_id)

    def plans(self, patient_id: int) -> list[TreatmentPlan]:
        rows = self.conn.execute(
            sa.select(t.treatment_plan)
            .where(t.treatment_plan.c.patient_id == patient_id)
            .order_by(t.treatment_plan.c.signed_at.desc(), t.treatment_plan.c.id.desc())
        )
        return [_plan(r) for r in rows]

    def add_series(self, series: Series, visits: Sequence[NewVisit]) -> Series:
        new_id = self.conn.execute(
            t.treatment_series.insert()
            .values(
                patient_id=series.patient_id,
                site_id=series.site_id,
                plan_id=series.plan_id,
                protocol_id=series.protocol_id,
                booked_by=series.booked_by,
                booked_at=series.booked_at,
                decision_note="",
            )
            .returning(t.treatment_series.c.id)
        ).scalar_one()
        next_id = self._next_visit_id()
        for visit in visits:
            explicit = {} if next_id is None else {"id": next_id}
            next_id = None if next_id is None else next_id + 1
            try:
                with self.conn.begin_nested():
                    self.conn.execute(
                        t.series_visit.insert().values(
                            **explicit,
                            series_id=new_id,
                            patient_id=series.patient_id,
                            site_id=series.site_id,
                            chair_id=visit.chair_id,
                            number=visit.number,
                            starts_at=visit.starts_at,
                            ends_at=visit.ends_at,
                            local_day=visit.local_day,
                        )
                    )
            except IntegrityError:
                raise _double_booking(visit) from None
        found = self.get_series(new_id)
        assert found is not None
        return found

    def _next_visit_id(self) -> int | None:
        """On SQLite, the id for the next visit: above every id a visit ever had, cancelled
        ones included. A cancelled visit keeps its id in ``cancelled_visit`` (and in notices,
        FHIR ids, the audit trail), but SQLite hands out max(id) + 1 of the rows still in the
        table, so cancelling the newest visit would let the next booking reuse its id. The
        unit of work holds SQLite's write lock, so no other writer can take the same id.
        PostgreSQL's sequence never reuses an id (``None``: let it choose)."""
        if self.conn.dialect.name != "sqlite":
            return None
        highest = [
            self.conn.execute(sa.select(sa.func.max(table.c.id))).scalar() or 0
            for table in (t.series_visit, t.cancelled_visit)
        ]
        return int(max(highest)) + 1

    def _visits(self, series_id: int) -> tuple[Visit, ...]:
        rows = self.conn.execute(
            sa.select(t.series_visit)
            .where(t.series_visit.c.series_id == series_id)
            .order_by(t.series_visit.c.number)
        )
        return tuple(_visit(r) for r in rows)

    def _cancelled(self, series_id: int) -> tuple[CancelledVisit, ...]:
        rows = self.conn.execute(
            sa.select(t.cancelled_visit)
            .where(t.cancelled_visit.c.series_id == series_id)
            .order_by(t.cancelled_visit.c.number, t.cancelled_visit.c.id)
        )
        return tuple(
            CancelledVisit(_visit(r), r.cancelled_by, utc(r.cancelled_at), r.reason) for r in rows
        )

    def _series(self, row: Any) -> Series:
        return Series(
            id=row.id,
            patient_id=row.patient_id,
            site_id=row.site_id,
            plan_id=row.plan_id,
            protocol_id=row.protocol_id,
            booked_by=row.booked_by,
            booked_at=utc(row.booked_at),
            visits=self._visits(row.id),
            decision=InductionDecision(row.decision) if row.decision else None,
            decision_note=row.decision_note,
            decided_by=row.decided_by,
            decided_at=as_utc(row.decided_at),
            cancelled=self._cancelled(row.id),
        )

    def get_series(self, series_id: int) -> Series | None:
        row = self.conn.execute(
            sa.select(t.treatment_series).where(t.treatment_series.c.id == series_id)
        ).first()
        return self._series(row) if row else None

    def series_for(self, patient_id: int) -> list[Series]:
        rows = self.conn.execute(
            sa.select(t.treatment_series)
            .where(t.treatment_series.c.patient_id == patient_id)
            .order_by(t.treatment_series.c.booked_at, t.treatment_series.c.id)
        ).all()
        return [self._series(r) for r in rows]

    def visits_between(self, site_id: int, start: dt.datetime, end: dt.datetime) -> list[Visit]:
        rows = self.conn.execute(
            sa.select(t.series_visit)
            .where(
                t.series_visit.c.site_id == site_id,
                t.series_visit.c.starts_at < end,
                t.series_visit.c.ends_at > start,
            )
            .order_by(t.series_visit.c.starts_at, t.series_visit.c.chair_id)
        )
        return [_visit(r) for r in rows]

    def patient_visits(self, patient_id: int) -> list[Visit]:
        rows = self.conn.execute(
            sa.select(t.series_visit)
            .where(t.series_visit.c.patient_id == patient_id)
            .order_by(t.series_visit.c.starts_at)
        )
        return [_visit(r) for r in rows]

    def move_visit(self, visit_id: int, new: NewVisit) -> Visit:
        try:
            with self.conn.begin_nested():
                self.conn.execute(
                    t.series_visit.update()
                    .where(t.series_visit.c.id == visit_id)
                    .values(
                        chair_id=new.chair_id,
                        starts_at=new.starts_at,
                        ends_at=new.ends_at,
                        local_day=new.local_day,
                    )
                )
        except IntegrityError:
            raise _double_booking(new) from None
        row = self.conn.execute(
            sa.select(t.series_visit).where(t.series_visit.c.id == visit_id)
        ).first()
        if row is None:
            raise NotFound(f"visit {visit_id} not found")
        return _visit(row)

    def cancel_visit(
        self, visit_id: int, by_user_id: int, at: dt.datetime, reason: str
    ) -> CancelledVisit:
        row = self.conn.execute(
            sa.select(t.series_visit).where(t.series_visit.c.id == visit_id)
        ).first()
        if row is None:
            raise NotFound(f"visit {visit_id} not found")
        self.conn.execute(
            t.cancelled_visit.insert().values(
                id=row.id,
                series_id=row.series_id,
                patient_id=row.patient_id,
                site_id=row.site_id,
                chair_id=row.chair_id,
                number=row.number,
                starts_at=row.starts_at,
                ends_at=row.ends_at,
                local_day=row.local_day,
                cancelled_by=by_user_id,
                cancelled_at=at,
                reason=reason,
            )
        )
        self.conn.execute(t.series_visit.delete().where(t.series_visit.c.id == visit_id))
        return CancelledVisit(_visit(row), by_user_id, at, reason)

    def set_decision(
        self,
        series_id: int,
        decision: InductionDecision,
        note: str,
        by_user_id: int,
        at: dt.datetime,
    ) -> Series:
        self.conn.execute(
            t.treatment_series.update()
            .where(t.treatment_series.c.id == series_id)
            .values(
                decision=decision.value, decision_note=note, decided_by=by_user_id, decided_at=at
            )
        )
        found = self.get_series(series_id)
        if found is None:
            raise NotFound(f"series {series_id} not found")
        return found
