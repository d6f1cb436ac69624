"""Records of measurement-based care as the use cases and storage exchange them.

- :class:`QuestionnaireResponse`: one completed instrument (answers by item id) and its scored
  result (total, subscales, severity, flags), with who entered it, where it came from
  (:class:`ResponseSource`), when it was completed and in which language the form was shown.
  A C-SSRS screener carries the clinician's own result in :class:`CssrsDetail`.
- :class:`SafetyTask`: a same-day review a positive PHQ-9 item 9 or C-SSRS raises for the
  prescribers of the patient's site; it is closed only with a recorded action.
- :class:`StoredContentPack`: a clinic's official wording for one instrument and language, with
  its licence attestation.
- :class:`SelfReportLink`: a one-time questionnaire link; only a hash of its token is stored.

Frozen values; storage rows are translated to and from these by the repositories.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from ketaclinic.domain.errors import Conflict, InvalidInput
from ketaclinic.domain.instruments import ContentPack, ScoreResult


class ResponseSource(StrEnum):
    """How a response reached the clinic."""

    STAFF_ENTRY = "staff_entry"
    """A staff member entered the answers (paper form, interview, C-SSRS)."""
    SELF_REPORT = "self_report"
    """The patient answered through a one-time link."""
    INTAKE = "intake"
    """Answers recorded as part of the intake (baseline)."""


class TaskStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


def _frozen(mapping: Mapping[str, int]) -> Mapping[str, int]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True, slots=True)
class CssrsDetail:
    """The clinician's own C-SSRS result: form used, risk level as judged, action taken."""

    form: str
    risk_level: str
    action: str


@dataclass(frozen=True, slots=True)
class QuestionnaireResponse:
    """A completed instrument and its score.

    ``answers`` maps item ids to values (for C-SSRS only the asked items). ``total`` is ``None``
    only for C-SSRS. ``severity`` is a band id, the WHO-5 percentage, or the C-SSRS risk level.
    ``entered_by`` is the staff user's id, ``None`` for a self-report. ``completed_at`` and
    ``recorded_at`` are timezone-aware UTC. ``id`` is 0 until stored.
    """

    patient_id: int
    instrument_id: str
    instrument_version: str
    source: ResponseSource
    entered_by: int | None
    completed_at: dt.datetime
    language: str
    answers: Mapping[str, int]
    total: int | None
    subscales: Mapping[str, int] = field(default_factory=lambda: _frozen({}))
    severity: str | int | None = None
    flags: tuple[str, ...] = ()
    cssrs: CssrsDetail | None = None
    self_report_id: int | None = None
    id: int = 0
    recorded_at: dt.datetime | None = None

    @classmethod
    def scored(
        cls,
        result: ScoreResult,
        *,
        patient_id: int,
        source: ResponseSource,
        entered_by: int | None,
        completed_at: dt.datetime,
        language: str,
        cssrs: CssrsDetail | None = None,
        self_report_id: int | None = None,
    ) -> QuestionnaireResponse:
        """A response built from the scoring engine's result (answers already validated)."""
        return cls(
            patient_id=patient_id,
            instrument_id=result.instrument,
            instrument_version=result.version,
            source=source,
            entered_by=entered_by,
            completed_at=completed_at,
            language=language,
            answers=_frozen(result.answers),
            total=result.total,
            subscales=_frozen(result.subscales),
            severity=result.severity,
            flags=tuple(result.flags),
            cssrs=cssrs,
            self_report_id=self_report_id,
        )

    def as_dict(self) -> dict[str, Any]:
        """The stored response and its score as JSON-ready data (no patient identifiers)."""
        body: dict[str, Any] = {
            "id": self.id,
            "instrument": self.instrument_id,
            "instrument_version": self.instrument_version,
            "source": self.source.value,
            "entered_by": self.entered_by,
            "completed_at": self.completed_at.isoformat(),
            "recorded_at": self.recorded_at.isoformat() if self.recorded_at else None,
            "language": self.language,
            "answers": dict(self.answers),
            "total": self.total,
            "subscales": dict(self.subscales),
            "severity": self.severity,
            "flags": list(self.flags),
        }
        if self.cssrs is not None:
            body["cssrs"] = {
                "form": self.cssrs.form,
                "risk_level": self.cssrs.risk_level,
                "risk_level_source": "clinician",
                "action": self.cssrs.action,
            }
        return body


def bulk_checked(responses: Sequence[QuestionnaireResponse]) -> list[QuestionnaireResponse]:
    """Responses for a bulk insert: each needs ``recorded_at`` and none may be a C-SSRS result
    (which needs its own row), else :class:`InvalidInput`."""
    for position, response in enumerate(responses):
        if response.recorded_at is None:
            raise InvalidInput.for_field(
                f"responses[{position}].recorded_at", None, "the time it was recorded"
            )
        if response.cssrs is not None:
            raise InvalidInput.for_field(
                f"responses[{position}].cssrs", response.instrument_id, "no C-SSRS in bulk"
            )
    return list(responses)


def duplicate_response(response: QuestionnaireResponse) -> Conflict:
    """The error for a repeated submission (same patient, instrument and completion time)."""
    return Conflict(
        f"completed_at: a {response.instrument_id} response completed at "
        f"{response.completed_at.isoformat()} is already recorded for this patient "
        "(a repeated submission); nothing was changed",
        field="completed_at",
    )


@dataclass(frozen=True, slots=True)
class SafetyTask:
    """A same-day safety review for the prescribers of the patient's site.

    ``reason`` is the flag that raised it (``phq9_item9_positive``, ``suicide_risk_review``).
    ``due_at`` is the end of the day it was raised, in the site's time zone. A closed task has
    ``closed_by``, ``closed_at`` and a non-empty ``action``.
    """

    id: int
    patient_id: int
    site_id: int
    response_id: int | None
    reason: str
    raised_at: dt.datetime
    due_at: dt.datetime
    status: TaskStatus = TaskStatus.OPEN
    notified_at: dt.datetime | None = None
    closed_by: int | None = None
    closed_at: dt.datetime | None = None
    action: str = ""

    @property
    def is_open(self) -> bool:
        return self.status is TaskStatus.OPEN

    def overdue(self, now: dt.datetime) -> bool:
        return self.is_open and now >= self.due_at


@dataclass(frozen=True, slots=True)
class StoredContentPack:
    """A loaded content pack; the newest per instrument and language is the one forms use."""

    id: int
    pack: ContentPack
    loaded_at: dt.datetime


@dataclass(frozen=True, slots=True)
class SelfReportLink:
    """A one-time questionnaire link. The token itself is never stored, only its SHA-256."""

    id: int
    patient_id: int
    site_id: int
    token_hash: str
    instrument_ids: tuple[str, ...]
    created_by: int | None
    created_at: dt.datetime
    expires_at: dt.datetime
    language: str
    due_at: dt.datetime | None = None
    used_at: dt.datetime | None = None
    mailed_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class CohortColumns:
    """Totals of one instrument for cohort analytics, as parallel columns (one entry per
    response): patient id, the patient's site id, completion time in seconds since the Unix
    epoch (UTC), total. Columns rather than row objects keep 100,000 responses cheap."""

    patient_id: Sequence[int]
    site_id: Sequence[int]
    completed_s: Sequence[float]
    total: Sequence[int]

    def __len__(self) -> int:
        return len(self.patient_id)


# --- infusions, as the baseline rule and the plot see them ---------------------------------


@dataclass(frozen=True, slots=True)
class InfusionAnchor:
    """What storage knows about a patient's infusions, for the baseline rule and the cohort's
    grouping (services/mbc_timeline.py applies the rule).

    ``first_session_at``: the earliest start of an infusion session that really started (chair);
    ``first_visit_at``: the earliest booked visit of any of the patient's series, with that
    series' protocol; ``plan_protocol``: the protocol of the patient's first signed plan. Times
    are timezone-aware UTC; ``None`` where nothing is stored.
    """

    patient_id: int
    site_id: int
    first_session_at: dt.datetime | None = None
    first_visit_at: dt.datetime | None = None
    first_visit_protocol: str | None = None
    plan_protocol: str | None = None


@dataclass(frozen=True, slots=True)
class SessionStart:
    """An infusion session that started: when the pump first ran, under which protocol."""

    session_id: int
    started_at: dt.datetime
    protocol_id: str


@dataclass(frozen=True, slots=True)
class BookedVisit:
    """A visit on the schedule (not cancelled) of one of the patient's series: when the chair
    is held (UTC), the site-local day and the series' protocol."""

    visit_id: int
    starts_at: dt.datetime
    ends_at: dt.datetime
    local_day: dt.date
    protocol_id: str


# --- self-report schedules -------------------------------------------------------------------


class SlotKind(StrEnum):
    """Which schedule rule a self-report slot comes from."""

    BEFORE_INFUSION = "before_infusion"
    AFTER_SERIES = "after_series"


@dataclass(frozen=True, slots=True)
class ScheduleSettings:
    """A protocol's self-report schedule: the instruments asked before each infusion (the link
    goes out ``before_hours`` ahead of the visit) and weekly for ``after_weeks`` weeks after the
    last infusion of a series. An empty instrument list or zero weeks turns that rule off.
    ``updated_by``/``updated_at`` are ``None`` for the built-in default."""

    protocol_id: str
    before_infusion: tuple[str, ...]
    before_hours: int
    after_series: tuple[str, ...]
    after_weeks: int
    updated_by: int | None = None
    updated_at: dt.datetime | None = None


class RequestOutcome(StrEnum):
    """What happened to a scheduled self-report slot once the sweep claimed it."""

    PENDING = "pending"
    """A link was made; the e-mail was not yet attempted (or the sweep stopped before it)."""
    MAILED = "mailed"
    NO_EMAIL = "no_email"
    """No e-mail address on file: no link was made, the front desk has a notice."""
    MAIL_OFF = "mail_off"
    """Mail is not configured: no link was made, the front desk has a notice."""
    MAIL_FAILED = "mail_failed"
    """The link was made but the mail server refused it: the front desk has a notice."""


FRONT_DESK_OUTCOMES = frozenset(
    {
        RequestOutcome.PENDING,
        RequestOutcome.NO_EMAIL,
        RequestOutcome.MAIL_OFF,
        RequestOutcome.MAIL_FAILED,
    }
)


@dataclass(frozen=True, slots=True)
class ScheduledRequest:
    """A self-report slot the sweep claimed: at most one per patient and ``slot_key`` (the
    storage refuses a second), so a slot never gets two links. A notice for the front desk is
    open while the outcome needs a person and nobody has marked it done."""

    id: int
    patient_id: int
    site_id: int
    slot_key: str
    kind: SlotKind
    due_at: dt.datetime
    instrument_ids: tuple[str, ...]
    created_at: dt.datetime
    outcome: RequestOutcome
    link_id: int | None = None
    notice_closed_by: int | None = None
    notice_closed_at: dt.datetime | None = None

    @property
    def notice_open(self) -> bool:
        return self.outcome in FRONT_DESK_OUTCOMES and self.notice_closed_at is None
