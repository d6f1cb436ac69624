"""SQLAlchemy implementations of the measurement-based-care ports (services/mbc_ports.py).

Each repository works inside its unit of work's connection and never commits. Answers,
subscales and flags are stored as JSON text; see ``tables_mbc.py`` for the columns.
:class:`SqlInfusionHistoryReader` only reads the chair's and the schedule's tables.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from types import MappingProxyType
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from ketaclinic.adapters.db import tables as t
from ketaclinic.adapters.db import tables_chair as ch
from ketaclinic.adapters.db import tables_intake as ti
from ketaclinic.adapters.db import tables_mbc as m
from ketaclinic.adapters.db.repositories import as_utc, utc
from ketaclinic.domain.errors import Conflict
from ketaclinic.domain.instruments import ContentPack, LicenceAttestation
from ketaclinic.services.mbc_model import (
    FRONT_DESK_OUTCOMES,
    BookedVisit,
    CohortColumns,
    CssrsDetail,
    InfusionAnchor,
    QuestionnaireResponse,
    RequestOutcome,
    ResponseSource,
    SafetyTask,
    ScheduledRequest,
    ScheduleSettings,
    SelfReportLink,
    SessionStart,
    SlotKind,
    StoredContentPack,
    TaskStatus,
    bulk_checked,
    duplicate_response,
)


def severity_to_text(severity: str | int | None) -> str | None:
    """Band ids and risk levels are stored as they are; the WHO-5 percentage as digits."""
    return str(severity) if severity is not None else None


def severity_from_text(text: str | None) -> str | int | None:
    # Band ids and risk levels are words, never digits, so digits can only be a percentage.
    if text is not None and text.isdigit():
        return int(text)
    return text


def _ints(text: str) -> Mapping[str, int]:
    return MappingProxyType({str(k): int(v) for k, v in json.loads(text).items()})


def _response(row: Any) -> QuestionnaireResponse:
    cssrs = None
    if row.form is not None:
        cssrs = CssrsDetail(form=row.form, risk_level=row.risk_level, action=row.action)
    return QuestionnaireResponse(
        id=row.id,
        patient_id=row.patient_id,
        instrument_id=row.instrument_id,
        instrument_version=row.instrument_version,
        source=ResponseSource(row.source),
        entered_by=row.entered_by,
        completed_at=utc(row.completed_at),
        recorded_at=as_utc(row.recorded_at),
        language=row.language,
        answers=_ints(row.answers_json),
        total=row.total,
        subscales=_ints(row.subscales_json),
        severity=severity_from_text(row.severity),
        flags=tuple(json.loads(row.flags_json)),
        cssrs=cssrs,
        self_report_id=row.self_report_id,
    )


_RESPONSE_SELECT = sa.select(
    m.questionnaire_response,
    m.cssrs_result.c.form,
    m.cssrs_result.c.risk_level,
    m.cssrs_result.c.action,
).select_from(
    m.questionnaire_response.outerjoin(
        m.cssrs_result, m.cssrs_result.c.response_id == m.questionnaire_response.c.id
    )
)


def _row(response: QuestionnaireResponse, recorded_at: dt.datetime) -> dict[str, Any]:
    return {
        "patient_id": response.patient_id,
        "instrument_id": response.instrument_id,
        "instrument_version": response.instrument_version,
        "source": response.source.value,
        "entered_by": response.entered_by,
        # Always UTC in storage (SQLite keeps the wall time without its offset).
        "completed_at": response.completed_at.astimezone(dt.UTC),
        "recorded_at": recorded_at.astimezone(dt.UTC),
        "language": response.language,
        "answers_json": json.dumps(dict(response.answers)),
        "total": response.total,
        "subscales_json": json.dumps(dict(response.subscales)),
        "severity": severity_to_text(response.severity),
        "flags_json": json.dumps(list(response.flags)),
        "self_report_id": response.self_report_id,
    }


class SqlResponseRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(
        self, response: QuestionnaireResponse, recorded_at: dt.datetime
    ) -> QuestionnaireResponse:
        values = _row(response, recorded_at)
        # A savepoint keeps the unit of work usable after a duplicate is refused.
        try:
            with self.conn.begin_nested():
                new_id = self.conn.execute(
                    m.questionnaire_response.insert().returning(m.questionnaire_response.c.id),
                    values,
                ).scalar_one()
        except IntegrityError:
            raise duplicate_response(response) from None
        if response.cssrs is not None:
            self.conn.execute(
                m.cssrs_result.insert().values(
                    response_id=new_id,
                    form=response.cssrs.form,
                    risk_level=response.cssrs.risk_level,
                    action=response.cssrs.action,
                )
            )
        return replace(
            response,
            id=new_id,
            completed_at=response.completed_at.astimezone(dt.UTC),
            recorded_at=recorded_at.astimezone(dt.UTC),
        )

    def add_many(self, responses: Sequence[QuestionnaireResponse]) -> int:
        rows = [_row(r, r.recorded_at) for r in bulk_checked(responses) if r.recorded_at]
        if not rows:
            return 0
        try:
            with self.conn.begin_nested():
                self.conn.execute(m.questionnaire_response.insert(), rows)
        except IntegrityError:
            raise Conflict(
                "completed_at: a response in the batch repeats one already recorded for its "
                "patient, instrument and completion time; nothing was stored",
                field="completed_at",
            ) from None
        return len(rows)

    def get(self, response_id: int) -> QuestionnaireResponse | None:
        row = self.conn.execute(
            _RESPONSE_SELECT.where(m.questionnaire_response.c.id == response_id)
        ).first()
        return _response(row) if row else None

    def for_patient(
        self, patient_id: int, instrument_ids: Collection[str] | None = None
    ) -> list[QuestionnaireResponse]:
        stmt = _RESPONSE_SELECT.where(m.questionnaire_response.c.patient_id == patient_id)
        if instrument_ids is not None:
            stmt = stmt.where(m.questionnaire_response.c.instrument_id.in_(sorted(instrument_ids)))
        stmt = stmt.order_by(m.questionnaire_response.c.completed_at, m.questionnaire_response.c.id)
        return [_response(r) for r in self.conn.execute(stmt)]

    def page_for_patient(
        self, patient_id: int, *, limit: int, offset: int = 0
    ) -> tuple[list[QuestionnaireResponse], int]:
        r = m.questionnaire_response
        total = self.conn.execute(
            sa.select(sa.func.count()).select_from(r).where(r.c.patient_id == patient_id)
        ).scalar_one()
        stmt = (
            _RESPONSE_SELECT.where(r.c.patient_id == patient_id)
            .order_by(r.c.completed_at.desc(), r.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        return [_response(row) for row in self.conn.execute(stmt)], int(total)

    def cohort_totals(
        self,
        instrument_ids: frozenset[str],
        site_ids: frozenset[int],
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
    ) -> CohortColumns:
        r = m.questionnaire_response
        stmt = (
            sa.select(
                r.c.patient_id,
                t.patient.c.site_id,
                _epoch_seconds(self.conn, r.c.completed_at),
                r.c.total,
            )
            .select_from(r.join(t.patient, t.patient.c.id == r.c.patient_id))
            .where(
                r.c.instrument_id.in_(sorted(instrument_ids)),
                r.c.total.is_not(None),
                t.patient.c.site_id.in_(sorted(site_ids)),
            )
        )
        if start is not None:
            stmt = stmt.where(r.c.completed_at >= start)
        if end is not None:
            stmt = stmt.where(r.c.completed_at < end)
        stmt = stmt.order_by(r.c.patient_id, r.c.completed_at, r.c.id)
        # Plain tuples transposed in C: no per-row objects or datetime parsing in Python.
        columns = list(zip(*self.conn.execute(stmt).all(), strict=True))
        if not columns:
            return CohortColumns((), (), (), ())
        patient_ids, site_of_row, seconds, totals = columns
        return CohortColumns(patient_ids, site_of_row, tuple(map(float, seconds)), totals)


def _epoch_seconds(conn: Connection, column: Any) -> Any:
    """Seconds since the Unix epoch of a stored UTC time, computed by the database."""
    if conn.dialect.name == "sqlite":
        # SQLite keeps the UTC time as text; julianday() reads it.
        return (sa.func.julianday(column) - 2440587.5) * 86400.0
    return sa.extract("epoch", column)


def _task(row: Any) -> SafetyTask:
    return SafetyTask(
        id=row.id,
        patient_id=row.patient_id,
        site_id=row.site_id,
        response_id=row.response_id,
        reason=row.reason,
        raised_at=utc(row.raised_at),
        due_at=utc(row.due_at),
        status=TaskStatus(row.status),
        notified_at=as_utc(row.notified_at),
        closed_by=row.closed_by,
        closed_at=as_utc(row.closed_at),
        action=row.action,
    )


class SqlSafetyTaskRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(
        self,
        *,
        patient_id: int,
        site_id: int,
        response_id: int | None,
        reason: str,
        raised_at: dt.datetime,
        due_at: dt.datetime,
    ) -> SafetyTask:
        new_id = self.conn.execute(
            m.safety_task.insert()
            .values(
                patient_id=patient_id,
                site_id=site_id,
                response_id=response_id,
                reason=reason,
                raised_at=raised_at,
                due_at=due_at,
                status=TaskStatus.OPEN.value,
                action="",
            )
            .returning(m.safety_task.c.id)
        ).scalar_one()
        found = self.get(new_id)
        assert found is not None  # just inserted in this transaction
        return found

    def get(self, task_id: int) -> SafetyTask | None:
        row = self.conn.execute(
            sa.select(m.safety_task).where(m.safety_task.c.id == task_id)
        ).first()
        return _task(row) if row else None

    def open_for_sites(self, site_ids: frozenset[int]) -> list[SafetyTask]:
        rows = self.conn.execute(
            sa.select(m.safety_task)
            .where(
                m.safety_task.c.site_id.in_(sorted(site_ids)),
                m.safety_task.c.status == TaskStatus.OPEN.value,
            )
            .order_by(m.safety_task.c.due_at, m.safety_task.c.id)
        )
        return [_task(r) for r in rows]

    def for_sites(self, site_ids: frozenset[int], *, limit: int = 200) -> list[SafetyTask]:
        rows = self.conn.execute(
            sa.select(m.safety_task)
            .where(m.safety_task.c.site_id.in_(sorted(site_ids)))
            .order_by(m.safety_task.c.raised_at.desc(), m.safety_task.c.id.desc())
            .limit(limit)
        )
        return [_task(r) for r in rows]

    def for_patient(self, patient_id: int) -> list[SafetyTask]:
        rows = self.conn.execute(
            sa.select(m.safety_task)
            .where(m.safety_task.c.patient_id == patient_id)
            .order_by(m.safety_task.c.raised_at.desc(), m.safety_task.c.id.desc())
        )
        return [_task(r) for r in rows]

    def close(self, task_id: int, *, closed_by: int, closed_at: dt.datetime, action: str) -> bool:
        result = self.conn.execute(
            m.safety_task.update()
            .where(
                m.safety_task.c.id == task_id,
                m.safety_task.c.status == TaskStatus.OPEN.value,
            )
            .values(
                status=TaskStatus.CLOSED.value,
                closed_by=closed_by,
                closed_at=closed_at,
                action=action,
            )
        )
        return result.rowcount == 1

    def mark_notified(self, task_id: int, at: dt.datetime) -> None:
        self.conn.execute(
            m.safety_task.update().where(m.safety_task.c.id == task_id).values(notified_at=at)
        )


def _pack(row: Any) -> StoredContentPack:
    licence = None
    if row.licence_attested_by is not None:
        licence = LicenceAttestation(
            attested_by=row.licence_attested_by,
            attested_on=row.licence_attested_on,
            statement=row.licence_statement or "",
        )
    return StoredContentPack(
        id=row.id,
        pack=ContentPack(
            instrument_id=row.instrument_id,
            instrument_version=row.instrument_version,
            language=row.language,
            licence=licence,
            title=row.title,
            instructions=row.instructions,
            item_text=MappingProxyType(dict(json.loads(row.items_json))),
            anchors=tuple(json.loads(row.anchors_json)),
        ),
        loaded_at=utc(row.loaded_at),
    )


class SqlContentPackRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, pack: ContentPack, loaded_at: dt.datetime) -> StoredContentPack:
        licence = pack.licence
        new_id = self.conn.execute(
            m.content_pack.insert()
            .values(
                instrument_id=pack.instrument_id,
                instrument_version=pack.instrument_version,
                language=pack.language,
                title=pack.title,
                instructions=pack.instructions,
                # Item order is the instrument's; JSON objects keep insertion order.
                items_json=json.dumps(dict(pack.item_text), ensure_ascii=False),
                anchors_json=json.dumps(list(pack.anchors), ensure_ascii=False),
                licence_attested_by=licence.attested_by if licence else None,
                licence_attested_on=licence.attested_on if licence else None,
                licence_statement=licence.statement if licence else None,
                loaded_at=loaded_at,
            )
            .returning(m.content_pack.c.id)
        ).scalar_one()
        return StoredContentPack(id=new_id, pack=pack, loaded_at=loaded_at)

    def latest(self, instrument_id: str, language: str) -> StoredContentPack | None:
        row = self.conn.execute(
            sa.select(m.content_pack)
            .where(
                m.content_pack.c.instrument_id == instrument_id,
                m.content_pack.c.language == language,
            )
            .order_by(m.content_pack.c.id.desc())
            .limit(1)
        ).first()
        return _pack(row) if row else None

    def all_latest(self) -> list[StoredContentPack]:
        newest = (
            sa.select(sa.func.max(m.content_pack.c.id))
            .group_by(m.content_pack.c.instrument_id, m.content_pack.c.language)
            .scalar_subquery()
        )
        rows = self.conn.execute(
            sa.select(m.content_pack)
            .where(m.content_pack.c.id.in_(newest))
            .order_by(m.content_pack.c.instrument_id, m.content_pack.c.language)
        )
        return [_pack(r) for r in rows]


def _link(row: Any) -> SelfReportLink:
    return SelfReportLink(
        id=row.id,
        patient_id=row.patient_id,
        site_id=row.site_id,
        token_hash=row.token_hash,
        instrument_ids=tuple(row.instrument_ids.split(",")),
        created_by=row.created_by,
        created_at=utc(row.created_at),
        expires_at=utc(row.expires_at),
        language=row.language,
        due_at=as_utc(row.due_at),
        used_at=as_utc(row.used_at),
        mailed_at=as_utc(row.mailed_at),
    )


class SqlSelfReportLinkRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(
        self,
        *,
        patient_id: int,
        site_id: int,
        token_hash: str,
        instrument_ids: tuple[str, ...],
        created_by: int | None,
        created_at: dt.datetime,
        expires_at: dt.datetime,
        language: str,
        due_at: dt.datetime | None,
    ) -> SelfReportLink:
        new_id = self.conn.execute(
            m.self_report_link.insert()
            .values(
                patient_id=patient_id,
                site_id=site_id,
                token_hash=token_hash,
                instrument_ids=",".join(instrument_ids),
                created_by=created_by,
                created_at=created_at,
                expires_at=expires_at,
                language=language,
                due_at=due_at,
            )
            .returning(m.self_report_link.c.id)
        ).scalar_one()
        return SelfReportLink(
            id=new_id,
            patient_id=patient_id,
            site_id=site_id,
            token_hash=token_hash,
            instrument_ids=instrument_ids,
            created_by=created_by,
            created_at=created_at,
            expires_at=expires_at,
            language=language,
            due_at=due_at,
        )

    def by_token_hash(self, token_hash: str) -> SelfReportLink | None:
        row = self.conn.execute(
            sa.select(m.self_report_link).where(m.self_report_link.c.token_hash == token_hash)
        ).first()
        return _link(row) if row else None

    def mark_used(self, link_id: int, at: dt.datetime) -> bool:
        # The conditional update is the single-use guarantee: of two concurrent submissions
        # only one sees a row to change.
        result = self.conn.execute(
            m.self_report_link.update()
            .where(m.self_report_link.c.id == link_id, m.self_report_link.c.used_at.is_(None))
            .values(used_at=at)
        )
        return result.rowcount == 1

    def mark_mailed(self, link_id: int, at: dt.datetime) -> None:
        self.conn.execute(
            m.self_report_link.update()
            .where(m.self_report_link.c.id == link_id)
            .values(mailed_at=at)
        )

    def for_patient(self, patient_id: int) -> list[SelfReportLink]:
        rows = self.conn.execute(
            sa.select(m.self_report_link)
            .where(m.self_report_link.c.patient_id == patient_id)
            .order_by(m.self_report_link.c.created_at.desc(), m.self_report_link.c.id.desc())
        )
        return [_link(r) for r in rows]


class SqlInfusionHistoryReader:
    """Reads ``infusion_session``, ``series_visit``/``treatment_series`` and ``treatment_plan``;
    writes nothing. The "first per patient" choices use ROW_NUMBER() (SQLite ≥ 3.25 and
    PostgreSQL), so one query answers for a whole site."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def anchor(self, patient_id: int) -> InfusionAnchor | None:
        site_id = self.conn.execute(
            sa.select(t.patient.c.site_id).where(t.patient.c.id == patient_id)
        ).scalar_one_or_none()
        if site_id is None:
            return None
        found = self._anchors(t.patient.c.id == patient_id)
        return found.get(patient_id, InfusionAnchor(patient_id, site_id))

    def anchors(self, site_ids: frozenset[int]) -> dict[int, InfusionAnchor]:
        return self._anchors(t.patient.c.site_id.in_(sorted(site_ids)))

    def _anchors(self, which: Any) -> dict[int, InfusionAnchor]:
        s, v, sr, pl = ch.infusion_session, ti.series_visit, ti.treatment_series, ti.treatment_plan
        sessions = self.conn.execute(
            sa.select(s.c.patient_id, t.patient.c.site_id, sa.func.min(s.c.infusion_started_at))
            .select_from(s.join(t.patient, t.patient.c.id == s.c.patient_id))
            .where(which, s.c.infusion_started_at.is_not(None))
            .group_by(s.c.patient_id, t.patient.c.site_id)
        ).all()
        visit_rank = (
            sa.func.row_number()
            .over(partition_by=v.c.patient_id, order_by=(v.c.starts_at, v.c.id))
            .label("rank")
        )
        ranked_visits = (
            sa.select(
                v.c.patient_id, t.patient.c.site_id, v.c.starts_at, sr.c.protocol_id, visit_rank
            )
            .select_from(
                v.join(sr, sr.c.id == v.c.series_id).join(
                    t.patient, t.patient.c.id == v.c.patient_id
                )
            )
            .where(which)
            .subquery()
        )
        visits = self.conn.execute(
            sa.select(
                ranked_visits.c.patient_id,
                ranked_visits.c.site_id,
                ranked_visits.c.starts_at,
                ranked_visits.c.protocol_id,
            ).where(ranked_visits.c.rank == 1)
        ).all()
        plan_rank = (
            sa.func.row_number()
            .over(partition_by=pl.c.patient_id, order_by=(pl.c.signed_at, pl.c.id))
            .label("rank")
        )
        ranked_plans = (
            sa.select(pl.c.patient_id, t.patient.c.site_id, pl.c.protocol_id, plan_rank)
            .select_from(pl.join(t.patient, t.patient.c.id == pl.c.patient_id))
            .where(which)
            .subquery()
        )
        plans = self.conn.execute(
            sa.select(
                ranked_plans.c.patient_id, ranked_plans.c.site_id, ranked_plans.c.protocol_id
            ).where(ranked_plans.c.rank == 1)
        ).all()
        fields: dict[int, dict[str, Any]] = {}

        def entry(patient_id: int, site_id: int) -> dict[str, Any]:
            return fields.setdefault(patient_id, {"patient_id": patient_id, "site_id": site_id})

        for patient_id, site_id, started in sessions:
            entry(patient_id, site_id)["first_session_at"] = as_utc(started)
        for patient_id, site_id, starts_at, protocol_id in visits:
            found = entry(patient_id, site_id)
            found["first_visit_at"] = as_utc(starts_at)
            found["first_visit_protocol"] = protocol_id
        for patient_id, site_id, protocol_id in plans:
            entry(patient_id, site_id)["plan_protocol"] = protocol_id
        return {pid: InfusionAnchor(**values) for pid, values in sorted(fields.items())}

    def session_starts(self, patient_id: int) -> list[SessionStart]:
        s = ch.infusion_session
        rows = self.conn.execute(
            sa.select(s.c.id, s.c.infusion_started_at, s.c.protocol_id)
            .where(s.c.patient_id == patient_id, s.c.infusion_started_at.is_not(None))
            .order_by(s.c.infusion_started_at, s.c.id)
        )
        return [SessionStart(r.id, utc(r.infusion_started_at), r.protocol_id) for r in rows]

    def booked_visits(self, patient_id: int) -> list[BookedVisit]:
        v, sr = ti.series_visit, ti.treatment_series
        rows = self.conn.execute(
            sa.select(v.c.id, v.c.starts_at, v.c.ends_at, v.c.local_day, sr.c.protocol_id)
            .select_from(v.join(sr, sr.c.id == v.c.series_id))
            .where(v.c.patient_id == patient_id)
            .order_by(v.c.starts_at, v.c.id)
        )
        return [
            BookedVisit(r.id, utc(r.starts_at), utc(r.ends_at), r.local_day, r.protocol_id)
            for r in rows
        ]


def _settings(row: Any) -> ScheduleSettings:
    return ScheduleSettings(
        protocol_id=row.protocol_id,
        before_infusion=_ids(row.before_infusion),
        before_hours=row.before_hours,
        after_series=_ids(row.after_series),
        after_weeks=row.after_weeks,
        updated_by=row.updated_by,
        updated_at=as_utc(row.updated_at),
    )


def _ids(text: str) -> tuple[str, ...]:
    return tuple(text.split(",")) if text else ()


def _request(row: Any) -> ScheduledRequest:
    return ScheduledRequest(
        id=row.id,
        patient_id=row.patient_id,
        site_id=row.site_id,
        slot_key=row.slot_key,
        kind=SlotKind(row.kind),
        due_at=utc(row.due_at),
        instrument_ids=_ids(row.instrument_ids),
        created_at=utc(row.created_at),
        outcome=RequestOutcome(row.outcome),
        link_id=row.link_id,
        notice_closed_by=row.notice_closed_by,
        notice_closed_at=as_utc(row.notice_closed_at),
    )


_NOTICE_OUTCOMES = sorted(o.value for o in FRONT_DESK_OUTCOMES)


class SqlSelfReportScheduleRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def settings(self, protocol_id: str) -> ScheduleSettings | None:
        row = self.conn.execute(
            sa.select(m.self_report_schedule).where(
                m.self_report_schedule.c.protocol_id == protocol_id
            )
        ).first()
        return _settings(row) if row else None

    def all_settings(self) -> list[ScheduleSettings]:
        rows = self.conn.execute(
            sa.select(m.self_report_schedule).order_by(m.self_report_schedule.c.protocol_id)
        )
        return [_settings(r) for r in rows]

    def save_settings(self, settings: ScheduleSettings) -> None:
        table = m.self_report_schedule
        values = {
            "before_infusion": ",".join(settings.before_infusion),
            "before_hours": settings.before_hours,
            "after_series": ",".join(settings.after_series),
            "after_weeks": settings.after_weeks,
            "updated_by": settings.updated_by,
            "updated_at": settings.updated_at,
        }
        changed = self.conn.execute(
            table.update().where(table.c.protocol_id == settings.protocol_id).values(**values)
        )
        if changed.rowcount == 0:
            self.conn.execute(table.insert().values(protocol_id=settings.protocol_id, **values))

    def claim(
        self,
        *,
        patient_id: int,
        site_id: int,
        slot_key: str,
        kind: SlotKind,
        due_at: dt.datetime,
        instrument_ids: tuple[str, ...],
        created_at: dt.datetime,
        outcome: RequestOutcome,
        link_id: int | None = None,
    ) -> ScheduledRequest:
        values = {
            "patient_id": patient_id,
            "site_id": site_id,
            "slot_key": slot_key,
            "kind": kind.value,
            "due_at": due_at.astimezone(dt.UTC),
            "instrument_ids": ",".join(instrument_ids),
            "created_at": created_at.astimezone(dt.UTC),
            "outcome": outcome.value,
            "link_id": link_id,
        }
        # The UNIQUE (patient_id, slot_key) constraint is the guarantee; the savepoint keeps
        # the unit of work usable after a refusal.
        try:
            with self.conn.begin_nested():
                new_id = self.conn.execute(
                    m.self_report_request.insert().returning(m.self_report_request.c.id), values
                ).scalar_one()
        except IntegrityError:
            raise Conflict(
                f"slot_key: the slot {slot_key} of patient {patient_id} was already acted on",
                field="slot_key",
            ) from None
        return ScheduledRequest(
            id=new_id,
            patient_id=patient_id,
            site_id=site_id,
            slot_key=slot_key,
            kind=kind,
            due_at=due_at.astimezone(dt.UTC),
            instrument_ids=instrument_ids,
            created_at=created_at.astimezone(dt.UTC),
            outcome=outcome,
            link_id=link_id,
        )

    def set_outcome(self, request_id: int, outcome: RequestOutcome) -> None:
        self.conn.execute(
            m.self_report_request.update()
            .where(m.self_report_request.c.id == request_id)
            .values(outcome=outcome.value)
        )

    def get(self, request_id: int) -> ScheduledRequest | None:
        row = self.conn.execute(
            sa.select(m.self_report_request).where(m.self_report_request.c.id == request_id)
        ).first()
        return _request(row) if row else None

    def for_patient(self, patient_id: int) -> list[ScheduledRequest]:
        r = m.self_report_request
        rows = self.conn.execute(
            sa.select(r).where(r.c.patient_id == patient_id).order_by(r.c.due_at, r.c.id)
        )
        return [_request(row) for row in rows]

    def open_notices(self, site_ids: frozenset[int]) -> list[ScheduledRequest]:
        r = m.self_report_request
        rows = self.conn.execute(
            sa.select(r)
            .where(
                r.c.site_id.in_(sorted(site_ids)),
                r.c.notice_closed_at.is_(None),
                r.c.outcome.in_(_NOTICE_OUTCOMES),
            )
            .order_by(r.c.due_at, r.c.id)
        )
        return [_request(row) for row in rows]

    def close_notice(self, request_id: int, *, closed_by: int, closed_at: dt.datetime) -> bool:
        r = m.self_report_request
        result = self.conn.execute(
            r.update()
            .where(
                r.c.id == request_id,
                r.c.notice_closed_at.is_(None),
                r.c.outcome.in_(_NOTICE_OUTCOMES),
            )
            .values(notice_closed_by=closed_by, notice_closed_at=closed_at)
        )
        return result.rowcount == 1
