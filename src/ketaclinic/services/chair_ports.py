"""The storage port of the infusion chair and the records it stores.

:class:`ChairRepository` is ``uow.chair``. The SQL implementation is
``adapters/db/repositories_chair.py``, the in-memory fake ``adapters/memory_chair.py``; one
contract test (``tests/integration/chair/test_chair_repository_contract.py``) holds both to the
same behaviour. Domain objects (transition records, checklist results, MAR entries, alerts, side
effects, discharge scores) are stored as they are; the records below add what storage knows
besides them (ids, sites, who and when).
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from ketaclinic.domain.administration import MarEntry
from ketaclinic.domain.alerts import Alert
from ketaclinic.domain.discharge import AldreteScore, DischargeScale, PadssScore
from ketaclinic.domain.session_lifecycle import (
    TERMINAL_STATES,
    Actor,
    CheckResult,
    SessionState,
    TransitionRecord,
)
from ketaclinic.domain.side_effects import SideEffectEntry
from ketaclinic.domain.vitals import VitalKind, VitalReading

# vital_reading.flag values written by the chair (the HL7 sink writes NO_ACTIVE_SESSION too).
FLAG_NONE = ""
FLAG_NO_ACTIVE_SESSION = "no_active_session"
FLAG_IMPLAUSIBLE = "implausible"


@dataclass(frozen=True, slots=True)
class Baseline:
    """Pre-infusion resting vitals, the reference of the rise rule and the discharge scores."""

    at: dt.datetime
    systolic_mmhg: float | None = None
    diastolic_mmhg: float | None = None
    heart_rate_per_min: float | None = None
    spo2_percent: float | None = None

    def by_kind(self) -> dict[VitalKind, float]:
        pairs = (
            (VitalKind.BP_SYSTOLIC, self.systolic_mmhg),
            (VitalKind.BP_DIASTOLIC, self.diastolic_mmhg),
            (VitalKind.HEART_RATE, self.heart_rate_per_min),
            (VitalKind.SPO2, self.spo2_percent),
        )
        return {kind: value for kind, value in pairs if value is not None}


class LimitLevelSeen(StrEnum):
    """How a dose compared with the drug library when it was checked (hard never stores)."""

    OK = "ok"
    SOFT = "soft"


@dataclass(frozen=True, slots=True)
class DoseCheck:
    """The drug-library verdict stored with a verified dose or a MAR entry. A soft verdict
    carries the override: a reason and the second staff member (user id) who confirmed it."""

    level: LimitLevelSeen
    override_reason: str = ""
    override_confirmed_by: int | None = None


@dataclass(frozen=True, slots=True)
class PlannedDose:
    """The dose verified on the checklist: what the pump is to be programmed with."""

    dose_mg: float
    concentration_mg_per_ml: float
    volume_ml: float
    rate_ml_per_h: float
    check: DoseCheck

    @property
    def duration_min(self) -> float:
        return 60.0 * self.volume_ml / self.rate_ml_per_h


@dataclass(frozen=True, slots=True)
class NewSession:
    patient_id: int
    site_id: int
    chair_id: int
    protocol_id: str
    bolus_allowed: bool
    checked_in_at: dt.datetime
    checked_in_by: int


@dataclass(frozen=True, slots=True)
class SessionRow:
    """One infusion session as stored. ``state`` mirrors the last transition; the transitions
    themselves are the history."""

    id: int
    patient_id: int
    site_id: int
    chair_id: int
    protocol_id: str
    bolus_allowed: bool
    state: SessionState
    checked_in_at: dt.datetime
    checked_in_by: int
    updated_at: dt.datetime
    escort_name: str = ""
    escort_phone: str = ""
    weight_kg: float | None = None
    baseline: Baseline | None = None
    planned: PlannedDose | None = None
    infusion_started_at: dt.datetime | None = None
    infusion_ended_at: dt.datetime | None = None
    closed_at: dt.datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.state not in TERMINAL_STATES


@dataclass(frozen=True, slots=True)
class StoredMarEntry:
    entry: MarEntry
    recorded_at: dt.datetime
    check: DoseCheck | None = None


@dataclass(frozen=True, slots=True)
class StoredReading:
    id: int
    reading: VitalReading
    flag: str = FLAG_NONE

    @property
    def usable(self) -> bool:
        return self.flag != FLAG_IMPLAUSIBLE


@dataclass(frozen=True, slots=True)
class NewReading:
    """One reading to store in a batch: whose, its flag, and the session (or None)."""

    patient_id: int
    reading: VitalReading
    flag: str
    recorded_at: dt.datetime
    session_id: int | None = None
    monitor_message_id: int | None = None


@dataclass(frozen=True, slots=True)
class StoredAlert:
    """An alert (either tier) with where it belongs. ``alert.id`` is 0 until stored."""

    alert: Alert
    session_id: int
    patient_id: int
    site_id: int
    reading_source: str = ""

    @property
    def id(self) -> int:
        return self.alert.id


class NoticeState(StrEnum):
    """Where the e-mail about one escalation stands."""

    PENDING = "pending"  # to be sent (or being sent: see ``claimed_until``)
    SENT = "sent"  # accepted by the mail server for at least one recipient
    FAILED = "failed"  # every attempt failed
    SKIPPED = "skipped"  # not sent, for the reason in ``outcome`` (mail off, acknowledged, ...)


@dataclass(frozen=True, slots=True)
class EscalationNotice:
    """One escalation of one clinical alert to ``level``, and the e-mail that tells the site's
    prescribers and the session's nurse about it. There is at most one per alert and level
    (the store refuses a second), so two sweeping processes never notify twice.

    ``claimed_until``: a process sending it holds it until then; ``attempts`` counts claims;
    ``recipients``/``sent``: addresses found and messages the server accepted; ``outcome``
    says why it was skipped or failed (no health data, no addresses)."""

    alert_id: int
    session_id: int
    site_id: int
    level: int
    escalated_at: dt.datetime
    state: NoticeState = NoticeState.PENDING
    attempts: int = 0
    claimed_until: dt.datetime | None = None
    recipients: int = 0
    sent: int = 0
    finished_at: dt.datetime | None = None
    outcome: str = ""
    id: int = 0


@dataclass(frozen=True, slots=True)
class StoredSideEffect:
    id: int
    session_id: int
    entry: SideEffectEntry
    recorded_at: dt.datetime
    reviewed_by: int | None = None
    reviewed_at: dt.datetime | None = None


class Timepoint(StrEnum):
    """When CADSS-6 is scored (design, REFERENCE.md §6)."""

    PRE_DOSE = "pre_dose"
    END_OF_INFUSION = "end_of_infusion"
    PRE_DISCHARGE = "pre_discharge"

    @property
    def label(self) -> str:
        return {
            Timepoint.PRE_DOSE: "Pre-dose",
            Timepoint.END_OF_INFUSION: "End of infusion",
            Timepoint.PRE_DISCHARGE: "Before discharge",
        }[self]


# The six CADSS items of CADSS-6 [cited: Rodrigues 2021, REFERENCE.md §6], by number only.
CADSS6_ITEMS: tuple[int, ...] = (1, 2, 6, 7, 15, 22)


@dataclass(frozen=True, slots=True)
class DissociationScore:
    """A CADSS-6 rating: ``items`` are the scores of items 1, 2, 6, 7, 15, 22 in that order."""

    session_id: int
    timepoint: Timepoint
    items: tuple[int, ...]
    total: int
    scored_by: Actor
    scored_at: dt.datetime
    id: int = 0


@dataclass(frozen=True, slots=True)
class StoredAssessment:
    """A discharge assessment as made: the scores, the attestations and the readiness verdict
    (``unmet`` lists each criterion not met, as "criterion: message")."""

    session_id: int
    assessed_at: dt.datetime
    assessed_by: Actor
    scale: DischargeScale
    aldrete: AldreteScore | None
    padss: PadssScore | None
    escort_confirmed: bool
    mental_status_attested: bool
    dissociation_attested: bool
    ready: bool
    unmet: tuple[str, ...]
    id: int = 0


def trend_slices(
    since: dt.datetime, until: dt.datetime, max_points: int
) -> list[tuple[dt.datetime, dt.datetime | None]]:
    """The window of a trend line cut into ``max_points`` equal slices of time, each
    ``(start, end)`` with the end excluded; the last slice has no end, so the newest reading
    always has a place. A window that is empty or reversed is one open slice from ``since``."""
    count = max(max_points, 1)
    if until <= since:
        return [(since, None)]
    width = (until - since) / count
    starts = [since + width * index for index in range(count)]
    return [
        (start, starts[index + 1] if index + 1 < count else None)
        for index, start in enumerate(starts)
    ]


def thin(
    points: Iterable[tuple[VitalKind, dt.datetime, float]],
    *,
    since: dt.datetime,
    until: dt.datetime,
    max_points: int,
) -> dict[VitalKind, list[tuple[dt.datetime, float]]]:
    """Time-ordered points per vital, at most ``max_points`` each (a trend line cannot show
    more): the window from ``since`` to ``until`` is cut into ``max_points`` equal slices
    (:func:`trend_slices`) and each slice shows its newest reading (the later one of equal
    times). Points are ``(kind, time, value)`` in the order they were stored; points before
    ``since`` are left out. The SQL store computes the same with one index seek per slice, so
    drawing a trend costs the same however many readings a session holds."""
    starts = [start for start, _ in trend_slices(since, until, max_points)]
    newest: dict[tuple[VitalKind, int], tuple[dt.datetime, int, float]] = {}
    for order, (kind, at, value) in enumerate(points):
        if at < since:
            continue
        index = bisect.bisect_right(starts, at) - 1
        found = newest.get((kind, index))
        if found is None or (at, order) >= found[:2]:
            newest[(kind, index)] = (at, order, value)
    kept: dict[VitalKind, list[tuple[dt.datetime, float]]] = {}
    for (kind, _), (at, _order, value) in sorted(newest.items(), key=lambda item: item[1][:2]):
        kept.setdefault(kind, []).append((at, value))
    return kept


class ChairRepository(Protocol):
    """Storage of the infusion chair; works inside its unit of work and never commits."""

    # sessions ------------------------------------------------------------------------------
    def add_session(self, new: NewSession) -> SessionRow:
        """Raises Conflict when the chair or the patient already has an open session."""
        ...

    def get_session(self, session_id: int, *, for_update: bool = False) -> SessionRow | None:
        """``for_update`` locks the row until the transaction ends (PostgreSQL; SQLite's
        transactions already hold the write lock)."""
        ...

    def open_session_for_chair(self, chair_id: int) -> SessionRow | None: ...
    def open_sessions_for_patients(
        self, patient_ids: Collection[int], *, for_update: bool = False
    ) -> dict[int, SessionRow]:
        """Patient id → that patient's open session, for those who have one."""
        ...

    def list_sessions(
        self,
        site_ids: Collection[int],
        *,
        open_only: bool = False,
        since: dt.datetime | None = None,
        limit: int = 200,
    ) -> list[SessionRow]:
        """Newest check-in first; ``since`` keeps sessions checked in at or after it, plus
        every open one."""
        ...

    def save_session(self, row: SessionRow) -> None:
        """Store the mutable fields of ``row`` (state, escort, weight, baseline, planned dose,
        times). Raises Conflict if reopening it would clash with another open session."""
        ...

    def touch_sessions(self, session_ids: Collection[int], at: dt.datetime) -> None:
        """Set only the sessions' ``updated_at`` (something about them changed at ``at``)."""
        ...

    def add_transition(self, session_id: int, record: TransitionRecord) -> None: ...
    def transitions(self, session_id: int) -> list[TransitionRecord]:
        """Oldest first."""
        ...

    def add_check(self, session_id: int, result: CheckResult) -> None: ...
    def checks(self, session_id: int) -> list[CheckResult]:
        """Oldest first."""
        ...

    # administration record -----------------------------------------------------------------
    def add_mar_entry(
        self,
        session_id: int,
        entry: MarEntry,
        recorded_at: dt.datetime,
        check: DoseCheck | None = None,
    ) -> None:
        """Raises Conflict when an entry with this number exists (a concurrent append)."""
        ...

    def mar_entries(self, session_id: int) -> list[StoredMarEntry]:
        """By entry number."""
        ...

    def mar_entries_of(self, session_ids: Collection[int]) -> dict[int, list[StoredMarEntry]]:
        """:meth:`mar_entries` of several sessions at once (the board); a session without
        entries is left out."""
        ...

    # vitals --------------------------------------------------------------------------------
    def add_readings(
        self,
        patient_id: int,
        readings: Sequence[VitalReading],
        flags: Sequence[str],
        recorded_at: dt.datetime,
        *,
        session_id: int | None,
        monitor_message_id: int | None = None,
    ) -> list[int]:
        """Store readings (one flag each) and link them to ``session_id``; returns their ids."""
        ...

    def session_readings(
        self, session_id: int, *, since: dt.datetime | None = None
    ) -> list[StoredReading]:
        """Readings of the session observed at or after ``since``, by observation time."""
        ...

    def add_reading_batch(self, rows: Sequence[NewReading]) -> None:
        """Store many readings at once (the monitor feed's batch); ids are not returned."""
        ...

    def latest_readings(
        self, session_ids: Collection[int], *, since: dt.datetime
    ) -> dict[int, list[StoredReading]]:
        """Per session, its newest usable reading of each vital observed at or after
        ``since`` (what the jump screen compares a new reading with), by observation time."""
        ...

    def latest_reading_times(self, session_id: int) -> dict[VitalKind, dt.datetime]:
        """The newest observation time per vital among the session's usable readings (those
        not set aside as implausible)."""
        ...

    def series(
        self,
        session_id: int,
        kinds: Collection[VitalKind],
        *,
        since: dt.datetime,
        until: dt.datetime,
        max_points: int,
    ) -> dict[VitalKind, list[tuple[dt.datetime, float]]]:
        """The trend of some vitals observed from ``since`` (usable readings, time order),
        thinned as :func:`thin` does to at most ``max_points`` per vital: the newest reading
        of each of ``max_points`` equal slices of the window up to ``until``."""
        ...

    def series_of(
        self,
        session_ids: Collection[int],
        kinds: Collection[VitalKind],
        *,
        since: dt.datetime,
        until: dt.datetime,
        max_points: int,
    ) -> dict[int, dict[VitalKind, list[tuple[dt.datetime, float]]]]:
        """:meth:`series` of several sessions over one window (the board's sparklines); a
        session without a reading in the window is left out."""
        ...

    # alerts --------------------------------------------------------------------------------
    def add_alert(self, stored: StoredAlert) -> StoredAlert:
        """Store a new alert; returns it with its id. Raises Conflict when the session already
        has an open alert for the same rule."""
        ...

    def save_alert(self, stored: StoredAlert) -> None: ...
    def get_alert(self, alert_id: int, *, for_update: bool = False) -> StoredAlert | None: ...
    def session_alerts(
        self, session_ids: Collection[int], *, open_only: bool = False
    ) -> list[StoredAlert]:
        """Newest first."""
        ...

    def site_alerts(
        self, site_ids: Collection[int], *, open_only: bool = True, limit: int = 500
    ) -> list[StoredAlert]:
        """Newest first."""
        ...

    # escalation notices --------------------------------------------------------------------
    def add_escalation(self, notice: EscalationNotice) -> EscalationNotice | None:
        """Store a pending notice; None (and nothing stored) when the alert already has one
        for this level."""
        ...

    def claim_escalations(
        self, now: dt.datetime, until: dt.datetime, *, limit: int = 50
    ) -> list[EscalationNotice]:
        """Claim up to ``limit`` pending notices that nobody holds (``claimed_until`` empty or
        at or before ``now``), oldest first: each is held until ``until`` and its
        ``attempts`` counted. A notice another transaction claimed first is not returned."""
        ...

    def finish_escalation(
        self,
        notice_id: int,
        state: NoticeState,
        at: dt.datetime,
        *,
        recipients: int = 0,
        sent: int = 0,
        outcome: str = "",
        retry_at: dt.datetime | None = None,
    ) -> None:
        """Record how delivery went. ``state`` PENDING with ``retry_at`` releases the notice
        for another attempt from then on; any other state closes it at ``at``."""
        ...

    def escalations(self, session_ids: Collection[int]) -> list[EscalationNotice]:
        """Notices of these sessions, oldest escalation first."""
        ...

    # side effects, dissociation, discharge ---------------------------------------------------
    def add_side_effect(
        self, session_id: int, entry: SideEffectEntry, recorded_at: dt.datetime
    ) -> StoredSideEffect: ...
    def get_side_effect(self, effect_id: int) -> StoredSideEffect | None: ...
    def side_effects(self, session_id: int) -> list[StoredSideEffect]:
        """Oldest first."""
        ...

    def side_effects_of(self, session_ids: Collection[int]) -> dict[int, list[StoredSideEffect]]:
        """:meth:`side_effects` of several sessions at once; a session without any is left
        out."""
        ...

    def review_side_effect(self, effect_id: int, by_user_id: int, at: dt.datetime) -> None: ...
    def add_dissociation(self, score: DissociationScore) -> DissociationScore: ...
    def dissociation_scores(self, session_id: int) -> list[DissociationScore]:
        """Oldest first."""
        ...

    def add_assessment(self, assessment: StoredAssessment) -> StoredAssessment: ...
    def assessments(self, session_id: int) -> list[StoredAssessment]:
        """Oldest first."""
        ...

    # live updates --------------------------------------------------------------------------
    def mark_changed(self, site_id: int) -> None:
        """Tell other app processes, once this transaction commits, that a site's chairs
        changed (PostgreSQL NOTIFY; nothing to do for a single-process store)."""
        ...
