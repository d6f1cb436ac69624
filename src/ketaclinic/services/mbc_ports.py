"""Storage ports of measurement-based care: questionnaire responses and scores, safety tasks,
content packs, one-time self-report links, self-report schedules and the slots they claimed, and
a read-only view of each patient's infusions (sessions that started, booked visits, plans).

Each has an in-memory implementation (``adapters/memory_mbc.py``) and a SQLAlchemy one
(``adapters/db/repositories_mbc.py``); ``tests/integration/mbc/test_mbc_repository_contract.py``
holds all of them to one contract. Times are timezone-aware UTC.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from typing import Protocol

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
)


class ResponseRepository(Protocol):
    def add(
        self, response: QuestionnaireResponse, recorded_at: dt.datetime
    ) -> QuestionnaireResponse:
        """Store a scored response; the stored copy has its ``id`` and ``recorded_at``.

        Raises :class:`Conflict` if the patient already has a response to the same instrument
        completed at the same instant (a repeated submission)."""
        ...

    def add_many(self, responses: Sequence[QuestionnaireResponse]) -> int:
        """Store many scored responses at once (demo data, imports); each carries its own
        ``recorded_at``. No C-SSRS results. Raises :class:`Conflict` for a repeated
        submission, and then stores none of them. Returns how many were stored."""
        ...

    def get(self, response_id: int) -> QuestionnaireResponse | None: ...

    def for_patient(
        self, patient_id: int, instrument_ids: Collection[str] | None = None
    ) -> list[QuestionnaireResponse]:
        """The patient's responses, oldest first (by ``completed_at``, then ``id``)."""
        ...

    def page_for_patient(
        self, patient_id: int, *, limit: int, offset: int = 0
    ) -> tuple[list[QuestionnaireResponse], int]:
        """One page of the patient's responses, newest first (by ``completed_at``, then
        ``id``, both descending), and how many the patient has in all."""
        ...

    def cohort_totals(
        self,
        instrument_ids: frozenset[str],
        site_ids: frozenset[int],
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
    ) -> CohortColumns:
        """Totals of any of ``instrument_ids`` (e.g. both PCL-5 forms) for patients of
        ``site_ids`` completed in ``[start, end)``, ordered by patient id, then completion
        time, then response id (the order ``for_patient`` uses, so "the last of a day" is the
        same response in both)."""
        ...


class SafetyTaskRepository(Protocol):
    def add(
        self,
        *,
        patient_id: int,
        site_id: int,
        response_id: int | None,
        reason: str,
        raised_at: dt.datetime,
        due_at: dt.datetime,
    ) -> SafetyTask: ...

    def get(self, task_id: int) -> SafetyTask | None: ...

    def open_for_sites(self, site_ids: frozenset[int]) -> list[SafetyTask]:
        """Open tasks of these sites, oldest due first."""
        ...

    def for_sites(self, site_ids: frozenset[int], *, limit: int = 200) -> list[SafetyTask]:
        """Tasks of these sites whatever their status, newest raised first, at most
        ``limit``."""
        ...

    def for_patient(self, patient_id: int) -> list[SafetyTask]:
        """Every task of the patient, newest first."""
        ...

    def close(self, task_id: int, *, closed_by: int, closed_at: dt.datetime, action: str) -> bool:
        """Close an open task; ``False`` (and nothing changed) if it was not open."""
        ...

    def mark_notified(self, task_id: int, at: dt.datetime) -> None: ...


class ContentPackRepository(Protocol):
    def add(self, pack: ContentPack, loaded_at: dt.datetime) -> StoredContentPack: ...

    def latest(self, instrument_id: str, language: str) -> StoredContentPack | None:
        """The newest pack with exactly this language tag."""
        ...

    def all_latest(self) -> list[StoredContentPack]:
        """The newest pack per instrument and language, ordered by instrument, language."""
        ...


class SelfReportLinkRepository(Protocol):
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
    ) -> SelfReportLink: ...

    def by_token_hash(self, token_hash: str) -> SelfReportLink | None: ...

    def mark_used(self, link_id: int, at: dt.datetime) -> bool:
        """Mark an unused link used; ``False`` if it was already used (single use, also under
        concurrent submissions)."""
        ...

    def mark_mailed(self, link_id: int, at: dt.datetime) -> None: ...

    def for_patient(self, patient_id: int) -> list[SelfReportLink]:
        """Newest first."""
        ...


class InfusionHistoryReader(Protocol):
    """Read-only: what the chair and the schedule stored about patients' infusions, shaped for
    the baseline rule (services/mbc_timeline.py). One query per question, so the cohort report
    reads 10,000 patients' anchors at once."""

    def anchor(self, patient_id: int) -> InfusionAnchor | None:
        """The patient's anchor (``None`` for an unknown patient)."""
        ...

    def anchors(self, site_ids: frozenset[int]) -> dict[int, InfusionAnchor]:
        """Anchors of every patient of ``site_ids`` with at least one started session, booked
        visit or signed plan, by patient id (patients with none are left out)."""
        ...

    def session_starts(self, patient_id: int) -> list[SessionStart]:
        """The patient's infusion sessions that started, oldest first."""
        ...

    def booked_visits(self, patient_id: int) -> list[BookedVisit]:
        """The patient's booked visits still on the schedule (cancelled ones left out), of
        every series, oldest first (by start, then visit id)."""
        ...


class SelfReportScheduleRepository(Protocol):
    """Per-protocol schedule settings and the slots the sweep claimed."""

    def settings(self, protocol_id: str) -> ScheduleSettings | None: ...

    def all_settings(self) -> list[ScheduleSettings]:
        """Stored settings, by protocol id."""
        ...

    def save_settings(self, settings: ScheduleSettings) -> None:
        """Insert or replace the settings of ``settings.protocol_id``."""
        ...

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
        """Record that a slot was acted on. Raises :class:`Conflict` (and records nothing) when
        the patient already has a request for ``slot_key``: a slot is claimed once, also by two
        sweeps at the same time."""
        ...

    def set_outcome(self, request_id: int, outcome: RequestOutcome) -> None: ...

    def get(self, request_id: int) -> ScheduledRequest | None: ...

    def for_patient(self, patient_id: int) -> list[ScheduledRequest]:
        """By due time, then id."""
        ...

    def open_notices(self, site_ids: frozenset[int]) -> list[ScheduledRequest]:
        """Requests of these sites that need the front desk and are not marked done, oldest
        due first."""
        ...

    def close_notice(self, request_id: int, *, closed_by: int, closed_at: dt.datetime) -> bool:
        """Mark an open notice done; ``False`` (nothing changed) if it was not open."""
        ...
