"""In-memory implementations of the measurement-based-care ports, and a notifier that keeps
the messages it is asked to send.

Their state lives in :class:`MbcState`, one field of ``MemoryStore``; the memory unit of work
snapshots and restores it with the rest of the store, so rollback behaves as on the databases.
Records are frozen, so copying the dictionaries is a full copy. :class:`MemoryInfusionHistory`
reads the chair's and the schedule's in-memory state (``chair_state``, ``intake``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from ketaclinic.domain.errors import Conflict
from ketaclinic.domain.instruments import ContentPack
from ketaclinic.services.mbc_model import (
    BookedVisit,
    CohortColumns,
    InfusionAnchor,
    QuestionnaireResponse,
    RequestOutcome,
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

if TYPE_CHECKING:
    from ketaclinic.adapters.memory import MemoryStore


@dataclass
class MbcState:
    responses: dict[int, QuestionnaireResponse] = field(default_factory=dict)
    tasks: dict[int, SafetyTask] = field(default_factory=dict)
    packs: dict[int, StoredContentPack] = field(default_factory=dict)
    links: dict[int, SelfReportLink] = field(default_factory=dict)
    schedules: dict[str, ScheduleSettings] = field(default_factory=dict)
    requests: dict[int, ScheduledRequest] = field(default_factory=dict)

    def __copy__(self) -> MbcState:
        return MbcState(
            dict(self.responses),
            dict(self.tasks),
            dict(self.packs),
            dict(self.links),
            dict(self.schedules),
            dict(self.requests),
        )

    def __deepcopy__(self, memo: dict[int, object]) -> MbcState:
        return self.__copy__()


class MemoryResponseRepository:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    @property
    def _rows(self) -> dict[int, QuestionnaireResponse]:
        return self.store.mbc.responses

    def add(
        self, response: QuestionnaireResponse, recorded_at: dt.datetime
    ) -> QuestionnaireResponse:
        for existing in self._rows.values():
            if (
                existing.patient_id == response.patient_id
                and existing.instrument_id == response.instrument_id
                and existing.completed_at == response.completed_at
            ):
                raise duplicate_response(response)
        stored = replace(
            response,
            id=self.store.new_id(),
            completed_at=response.completed_at.astimezone(dt.UTC),
            recorded_at=recorded_at.astimezone(dt.UTC),
        )
        self._rows[stored.id] = stored
        return stored

    def add_many(self, responses: Sequence[QuestionnaireResponse]) -> int:
        checked = bulk_checked(responses)
        before = dict(self._rows)
        try:
            for response in checked:
                assert response.recorded_at is not None  # bulk_checked guarantees it
                self.add(response, response.recorded_at)
        except Conflict:
            self._rows.clear()
            self._rows.update(before)
            raise Conflict(
                "completed_at: a response in the batch repeats one already recorded for its "
                "patient, instrument and completion time; nothing was stored",
                field="completed_at",
            ) from None
        return len(checked)

    def get(self, response_id: int) -> QuestionnaireResponse | None:
        return self._rows.get(response_id)

    def for_patient(
        self, patient_id: int, instrument_ids: Collection[str] | None = None
    ) -> list[QuestionnaireResponse]:
        found = [
            r
            for r in self._rows.values()
            if r.patient_id == patient_id
            and (instrument_ids is None or r.instrument_id in instrument_ids)
        ]
        return sorted(found, key=lambda r: (r.completed_at, r.id))

    def page_for_patient(
        self, patient_id: int, *, limit: int, offset: int = 0
    ) -> tuple[list[QuestionnaireResponse], int]:
        newest_first = self.for_patient(patient_id)[::-1]
        return newest_first[offset : offset + limit], len(newest_first)

    def cohort_totals(
        self,
        instrument_ids: frozenset[str],
        site_ids: frozenset[int],
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
    ) -> CohortColumns:
        rows: list[tuple[int, dt.datetime, int, int, int]] = []
        for r in self._rows.values():
            patient = self.store.patients.get(r.patient_id)
            if (
                patient is None
                or patient.site_id not in site_ids
                or r.instrument_id not in instrument_ids
                or r.total is None
                or (start is not None and r.completed_at < start)
                or (end is not None and r.completed_at >= end)
            ):
                continue
            rows.append((r.patient_id, r.completed_at, r.id, patient.site_id, r.total))
        rows.sort(key=lambda x: x[:3])
        return CohortColumns(
            patient_id=[x[0] for x in rows],
            site_id=[x[3] for x in rows],
            completed_s=[x[1].timestamp() for x in rows],
            total=[x[4] for x in rows],
        )


class MemorySafetyTaskRepository:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    @property
    def _rows(self) -> dict[int, SafetyTask]:
        return self.store.mbc.tasks

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
        task = SafetyTask(
            id=self.store.new_id(),
            patient_id=patient_id,
            site_id=site_id,
            response_id=response_id,
            reason=reason,
            raised_at=raised_at,
            due_at=due_at,
        )
        self._rows[task.id] = task
        return task

    def get(self, task_id: int) -> SafetyTask | None:
        return self._rows.get(task_id)

    def open_for_sites(self, site_ids: frozenset[int]) -> list[SafetyTask]:
        found = [t for t in self._rows.values() if t.site_id in site_ids and t.is_open]
        return sorted(found, key=lambda t: (t.due_at, t.id))

    def for_sites(self, site_ids: frozenset[int], *, limit: int = 200) -> list[SafetyTask]:
        found = [t for t in self._rows.values() if t.site_id in site_ids]
        return sorted(found, key=lambda t: (t.raised_at, t.id), reverse=True)[:limit]

    def for_patient(self, patient_id: int) -> list[SafetyTask]:
        found = [t for t in self._rows.values() if t.patient_id == patient_id]
        return sorted(found, key=lambda t: (t.raised_at, t.id), reverse=True)

    def close(self, task_id: int, *, closed_by: int, closed_at: dt.datetime, action: str) -> bool:
        task = self._rows.get(task_id)
        if task is None or not task.is_open:
            return False
        self._rows[task_id] = replace(
            task,
            status=TaskStatus.CLOSED,
            closed_by=closed_by,
            closed_at=closed_at,
            action=action,
        )
        return True

    def mark_notified(self, task_id: int, at: dt.datetime) -> None:
        task = self._rows.get(task_id)
        if task is not None:
            self._rows[task_id] = replace(task, notified_at=at)


class MemoryContentPackRepository:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def add(self, pack: ContentPack, loaded_at: dt.datetime) -> StoredContentPack:
        stored = StoredContentPack(id=self.store.new_id(), pack=pack, loaded_at=loaded_at)
        self.store.mbc.packs[stored.id] = stored
        return stored

    def latest(self, instrument_id: str, language: str) -> StoredContentPack | None:
        found = [
            p
            for p in self.store.mbc.packs.values()
            if p.pack.instrument_id == instrument_id and p.pack.language == language
        ]
        return max(found, key=lambda p: p.id, default=None)

    def all_latest(self) -> list[StoredContentPack]:
        newest: dict[tuple[str, str], StoredContentPack] = {}
        for stored in sorted(self.store.mbc.packs.values(), key=lambda p: p.id):
            newest[(stored.pack.instrument_id, stored.pack.language)] = stored
        return [newest[key] for key in sorted(newest)]


class MemoryLinkRepository:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    @property
    def _rows(self) -> dict[int, SelfReportLink]:
        return self.store.mbc.links

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
        link = SelfReportLink(
            id=self.store.new_id(),
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
        self._rows[link.id] = link
        return link

    def by_token_hash(self, token_hash: str) -> SelfReportLink | None:
        return next((x for x in self._rows.values() if x.token_hash == token_hash), None)

    def mark_used(self, link_id: int, at: dt.datetime) -> bool:
        link = self._rows.get(link_id)
        if link is None or link.used_at is not None:
            return False
        self._rows[link_id] = replace(link, used_at=at)
        return True

    def mark_mailed(self, link_id: int, at: dt.datetime) -> None:
        link = self._rows.get(link_id)
        if link is not None:
            self._rows[link_id] = replace(link, mailed_at=at)

    def for_patient(self, patient_id: int) -> list[SelfReportLink]:
        found = [x for x in self._rows.values() if x.patient_id == patient_id]
        return sorted(found, key=lambda x: (x.created_at, x.id), reverse=True)


class MemoryInfusionHistory:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def anchor(self, patient_id: int) -> InfusionAnchor | None:
        patient = self.store.patients.get(patient_id)
        if patient is None:
            return None
        found = self._anchors(frozenset({patient_id}))
        return found.get(patient_id, InfusionAnchor(patient_id, patient.site_id))

    def anchors(self, site_ids: frozenset[int]) -> dict[int, InfusionAnchor]:
        patients = frozenset(p.id for p in self.store.patients.values() if p.site_id in site_ids)
        return self._anchors(patients)

    def _anchors(self, patient_ids: frozenset[int]) -> dict[int, InfusionAnchor]:
        found: dict[int, InfusionAnchor] = {}
        for pid in sorted(patient_ids):
            starts = self.session_starts(pid)
            visits = sorted(
                (v for v in self.store.intake.visits.values() if v.patient_id == pid),
                key=lambda v: (v.starts_at, v.id),
            )
            plans = sorted(
                (p for p in self.store.intake.plans.values() if p.patient_id == pid),
                key=lambda p: (p.signed_at, p.id),
            )
            if not (starts or visits or plans):
                continue
            first = visits[0] if visits else None
            found[pid] = InfusionAnchor(
                patient_id=pid,
                site_id=self.store.patients[pid].site_id,
                first_session_at=starts[0].started_at if starts else None,
                first_visit_at=first.starts_at if first else None,
                first_visit_protocol=(
                    self.store.intake.series[first.series_id].protocol_id if first else None
                ),
                plan_protocol=plans[0].protocol_id if plans else None,
            )
        return found

    def session_starts(self, patient_id: int) -> list[SessionStart]:
        found = [
            SessionStart(row.id, row.infusion_started_at, row.protocol_id)
            for row in self.store.chair_state.sessions.values()
            if row.patient_id == patient_id and row.infusion_started_at is not None
        ]
        return sorted(found, key=lambda s: (s.started_at, s.session_id))

    def booked_visits(self, patient_id: int) -> list[BookedVisit]:
        found = [
            BookedVisit(
                v.id,
                v.starts_at,
                v.ends_at,
                v.local_day,
                self.store.intake.series[v.series_id].protocol_id,
            )
            for v in self.store.intake.visits.values()
            if v.patient_id == patient_id
        ]
        return sorted(found, key=lambda v: (v.starts_at, v.visit_id))


class MemorySelfReportScheduleRepository:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    @property
    def _rows(self) -> dict[int, ScheduledRequest]:
        return self.store.mbc.requests

    def settings(self, protocol_id: str) -> ScheduleSettings | None:
        return self.store.mbc.schedules.get(protocol_id)

    def all_settings(self) -> list[ScheduleSettings]:
        return [self.store.mbc.schedules[k] for k in sorted(self.store.mbc.schedules)]

    def save_settings(self, settings: ScheduleSettings) -> None:
        self.store.mbc.schedules[settings.protocol_id] = settings

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
        if any(r.patient_id == patient_id and r.slot_key == slot_key for r in self._rows.values()):
            raise Conflict(
                f"slot_key: the slot {slot_key} of patient {patient_id} was already acted on",
                field="slot_key",
            )
        request = ScheduledRequest(
            id=self.store.new_id(),
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
        self._rows[request.id] = request
        return request

    def set_outcome(self, request_id: int, outcome: RequestOutcome) -> None:
        request = self._rows.get(request_id)
        if request is not None:
            self._rows[request_id] = replace(request, outcome=outcome)

    def get(self, request_id: int) -> ScheduledRequest | None:
        return self._rows.get(request_id)

    def for_patient(self, patient_id: int) -> list[ScheduledRequest]:
        found = [r for r in self._rows.values() if r.patient_id == patient_id]
        return sorted(found, key=lambda r: (r.due_at, r.id))

    def open_notices(self, site_ids: frozenset[int]) -> list[ScheduledRequest]:
        found = [r for r in self._rows.values() if r.site_id in site_ids and r.notice_open]
        return sorted(found, key=lambda r: (r.due_at, r.id))

    def close_notice(self, request_id: int, *, closed_by: int, closed_at: dt.datetime) -> bool:
        request = self._rows.get(request_id)
        if request is None or not request.notice_open:
            return False
        self._rows[request_id] = replace(
            request, notice_closed_by=closed_by, notice_closed_at=closed_at
        )
        return True


@dataclass(frozen=True, slots=True)
class SentMessage:
    to: str
    subject: str
    body: str


class MemoryNotifier:
    """A notifier for tests: keeps every message; ``fail_for`` addresses raise ``OSError`` as
    an unreachable mail server would."""

    def __init__(self, fail_for: Collection[str] = ()) -> None:
        self.sent: list[SentMessage] = []
        self.fail_for = frozenset(fail_for)

    def send(self, to: str, subject: str, body: str) -> None:
        if to in self.fail_for:
            raise OSError(f"mail to {to} refused")
        self.sent.append(SentMessage(to, subject, body))
