"""Scheduled self-report: the per-protocol settings, the sweep that sends the links that are
due, what staff see of a patient's schedule, and the front desk's notices.

:func:`send_due` (``ketaclinic self-report send-due``, run e.g. every 15 minutes by cron or a
systemd timer) finds patients whose booked visits are coming up or whose series ended recently,
computes their slots (services/mbc_schedule.py), and for each slot that may be sent now and was
never acted on:

- claims it in storage (a second claim of the same patient and slot is refused by the
  database, so two sweeps running at once still send one link);
- if the patient has an e-mail address and mail is on: makes a one-time link through
  :func:`~ketaclinic.services.mbc_self_report.request_self_report` (as the system operator,
  audited), commits, and e-mails it (:func:`~ketaclinic.services.mbc_self_report.mail_link`);
- otherwise (no address, mail off) makes no link and leaves a notice for the front desk of the
  patient's site, who see it on their start page and mark it done; a refused e-mail leaves the
  link unused and a notice too.

Each slot is its own transaction, so one failure never undoes the others. Running the sweep
twice sends nothing twice.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any
from zoneinfo import ZoneInfo

from ketaclinic.domain.audit import AuditAction
from ketaclinic.domain.errors import Conflict, InvalidInput, NotFound
from ketaclinic.domain.people import ALL_ROLES, CLINICAL_ROLES, Patient, Role
from ketaclinic.domain.protocols import protocol_catalog
from ketaclinic.services import mbc_safety
from ketaclinic.services.audit import SYSTEM, Actor, deny, record, record_patient, require_role
from ketaclinic.services.mbc_content import patient_instruments
from ketaclinic.services.mbc_model import (
    RequestOutcome,
    ScheduledRequest,
    ScheduleSettings,
    SlotKind,
)
from ketaclinic.services.mbc_schedule import (
    MIN_LINK_LIFE,
    WEEKLY_ANSWER_DAYS,
    Slot,
    check_settings,
    default_settings,
    plan_slots,
)
from ketaclinic.services.mbc_self_report import IssuedLink, mail_link, request_self_report
from ketaclinic.services.patients import load_visible
from ketaclinic.services.ports import Clock, Notifier, UnitOfWork, UnitOfWorkFactory

log = logging.getLogger("ketaclinic.mbc")


# --- settings -------------------------------------------------------------------------------


def settings_lookup(uow: UnitOfWork) -> Callable[[str], ScheduleSettings]:
    """A function giving each protocol's stored settings, or the built-in default."""
    stored = {s.protocol_id: s for s in uow.self_report_schedules.all_settings()}
    return lambda protocol_id: stored.get(protocol_id) or default_settings(protocol_id)


@dataclass(frozen=True, slots=True)
class ProtocolSchedule:
    """A protocol of the catalog with its schedule; ``is_default`` when nothing was saved."""

    protocol_id: str
    name: str
    settings: ScheduleSettings
    is_default: bool


def schedule_settings(uow: UnitOfWork, clock: Clock, actor: Actor) -> list[ProtocolSchedule]:
    """Every protocol of the catalog (built-in and the clinic's own) with its schedule, by id.
    Clinical roles (others: audited 403)."""
    require_role(uow, clock, actor, "self_report_schedule", CLINICAL_ROLES)
    stored = {s.protocol_id: s for s in uow.self_report_schedules.all_settings()}
    catalog = protocol_catalog(uow.schedule.protocols())
    return [
        ProtocolSchedule(
            pid,
            catalog[pid].name,
            stored.get(pid) or default_settings(pid),
            pid not in stored,
        )
        for pid in sorted(catalog)
    ]


def save_schedule_settings(
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    settings: ScheduleSettings,
) -> ScheduleSettings:
    """Store a protocol's schedule (directors only; others: audited 403). Raises
    :class:`InvalidInput` for an unknown protocol or a value out of bounds
    (:func:`~ketaclinic.services.mbc_schedule.check_settings`); nothing changes then. Audited."""
    principal = require_role(uow, clock, actor, "self_report_schedule", {Role.DIRECTOR})
    catalog = protocol_catalog(uow.schedule.protocols())
    if settings.protocol_id not in catalog:
        raise InvalidInput.for_field(
            "protocol_id", settings.protocol_id, "one of " + ", ".join(sorted(catalog))
        )
    allowed = [i.id for i in patient_instruments()]
    saved = replace(
        check_settings(settings, allowed), updated_by=principal.user_id, updated_at=clock.now()
    )
    uow.self_report_schedules.save_settings(saved)
    record(
        uow,
        clock,
        actor,
        AuditAction.UPDATE,
        "self_report_schedule",
        resource_id=saved.protocol_id,
        detail=(
            f"before={','.join(saved.before_infusion)}/{saved.before_hours}h "
            f"after={','.join(saved.after_series)}/{saved.after_weeks}w"
        ),
    )
    uow.commit()
    return saved


# --- the sweep ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SweepItem:
    """One slot the sweep acted on (ids only: this goes to logs and ``--json``)."""

    patient_id: int
    site_id: int
    slot_key: str
    kind: SlotKind
    due_at: dt.datetime
    instruments: tuple[str, ...]
    outcome: RequestOutcome

    def as_dict(self) -> dict[str, Any]:
        return {
            "patient_id": self.patient_id,
            "site_id": self.site_id,
            "slot": self.slot_key,
            "kind": self.kind.value,
            "due_at": self.due_at.isoformat(),
            "instruments": list(self.instruments),
            "outcome": self.outcome.value,
        }


@dataclass(frozen=True, slots=True)
class SweepResult:
    at: dt.datetime
    patients_checked: int
    items: tuple[SweepItem, ...]

    def count(self, outcome: RequestOutcome) -> int:
        return sum(1 for item in self.items if item.outcome is outcome)

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "patients_checked": self.patients_checked,
            "sent": len(self.items),
            "by_outcome": {o.value: self.count(o) for o in RequestOutcome},
            "items": [item.as_dict() for item in self.items],
        }


def send_due(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    notifier: Notifier,
    base_url: str,
) -> SweepResult:
    """Act on every self-report slot that may be sent now and never was (see the module
    docstring). ``base_url`` is the address patients reach ketaclinic at. Returns what was
    done; running it again at once does nothing more."""
    now = clock.now()
    with uow_factory() as uow:
        candidates = _candidates(uow, now)
    items: list[SweepItem] = []
    for patient_id in candidates:
        with uow_factory() as uow:
            patient = uow.patients.get(patient_id)
            site = uow.sites.get(patient.site_id) if patient is not None else None
            if patient is None or site is None:
                continue
            slots = plan_slots(
                uow.schedule.series_for(patient.id), settings_lookup(uow), site.timezone
            )
            claimed = {r.slot_key for r in uow.self_report_schedules.for_patient(patient.id)}
        for slot in slots:
            if slot.key in claimed or not slot.sendable(now):
                continue
            with uow_factory() as uow:
                outcome = _act(uow, clock, notifier, base_url, patient, slot)
            if outcome is not None:
                items.append(
                    SweepItem(
                        patient.id,
                        patient.site_id,
                        slot.key,
                        slot.kind,
                        slot.due_at,
                        slot.instruments,
                        outcome,
                    )
                )
    result = SweepResult(now, len(candidates), tuple(items))
    log.info(
        "self-report sweep done",
        extra={
            "patients_checked": result.patients_checked,
            **{f"outcome_{o.value}": result.count(o) for o in RequestOutcome if result.count(o)},
        },
    )
    return result


def _candidates(uow: UnitOfWork, now: dt.datetime) -> list[int]:
    """Patients with a visit starting soon (a before-infusion slot may open) or a visit in the
    past weeks (a series may have ended; its weekly slots may open)."""
    settings = [*uow.self_report_schedules.all_settings(), default_settings("")]
    ahead = dt.timedelta(hours=max(s.before_hours for s in settings)) + MIN_LINK_LIFE
    behind = dt.timedelta(weeks=max(s.after_weeks for s in settings), days=WEEKLY_ANSWER_DAYS + 2)
    found: set[int] = set()
    for site in uow.sites.all():
        for visit in uow.schedule.visits_between(site.id, now - behind, now + ahead):
            found.add(visit.patient_id)
    return sorted(found)


def _act(
    uow: UnitOfWork,
    clock: Clock,
    notifier: Notifier,
    base_url: str,
    patient: Patient,
    slot: Slot,
) -> RequestOutcome | None:
    """Claim ``slot`` for ``patient`` and send its link or leave a notice; ``None`` if another
    sweep claimed it first."""
    now = clock.now()
    mail_on = mbc_safety.delivers(notifier)
    claim: dict[str, Any] = {
        "patient_id": patient.id,
        "site_id": patient.site_id,
        "slot_key": slot.key,
        "kind": slot.kind,
        "due_at": slot.due_at,
        "instrument_ids": slot.instruments,
        "created_at": now,
    }
    try:
        if not patient.email or not mail_on:
            outcome = RequestOutcome.NO_EMAIL if not patient.email else RequestOutcome.MAIL_OFF
            request = uow.self_report_schedules.claim(**claim, outcome=outcome)
            record(
                uow,
                clock,
                SYSTEM,
                AuditAction.CREATE,
                "self_report_notice",
                site_id=patient.site_id,
                patient_id=patient.id,
                resource_id=request.id,
                detail=f"{slot.key}: {outcome.value}",
            )
            uow.commit()
            return outcome
        # The link and the claim commit together or not at all: a refused claim (another sweep
        # got there first) rolls the new link back with it.
        issued = request_self_report(
            uow,
            clock,
            SYSTEM,
            patient.id,
            slot.instruments,
            slot.due_at,
            ttl=max(slot.expires_at - now, MIN_LINK_LIFE),
            commit=False,
        )
        request = uow.self_report_schedules.claim(
            **claim, outcome=RequestOutcome.PENDING, link_id=issued.link.id
        )
        uow.commit()
    except Conflict:
        uow.rollback()
        return None
    return _mail(uow, clock, notifier, base_url, request, issued)


def _mail(
    uow: UnitOfWork,
    clock: Clock,
    notifier: Notifier,
    base_url: str,
    request: ScheduledRequest,
    issued: IssuedLink,
) -> RequestOutcome:
    url = base_url.rstrip("/") + issued.path
    sent = mail_link(uow, clock, notifier, issued, url)
    outcome = RequestOutcome.MAILED if sent else RequestOutcome.MAIL_FAILED
    uow.self_report_schedules.set_outcome(request.id, outcome)
    uow.commit()
    return outcome


# --- what staff see -------------------------------------------------------------------------


class SlotState:
    """How a slot of a patient's schedule stands (labels for the patient page)."""

    PLANNED = "planned"
    DUE = "due now"
    MISSED = "not sent"


@dataclass(frozen=True, slots=True)
class ScheduleEntry:
    """A slot of the patient's schedule with what happened to it: the request (if the sweep
    acted on it), whether its link was answered, else its state (:class:`SlotState`)."""

    slot: Slot
    request: ScheduledRequest | None
    answered: bool
    state: str


@dataclass(frozen=True, slots=True)
class PatientSchedule:
    patient: Patient
    entries: tuple[ScheduleEntry, ...]
    settings: dict[str, ScheduleSettings]
    timezone: str


def patient_schedule(
    uow: UnitOfWork, clock: Clock, actor: Actor, patient_id: int
) -> PatientSchedule:
    """The patient's self-report slots (from their booked series and their protocols'
    settings) with what the sweep did about each. Clinical roles, own sites; audited."""
    require_role(uow, clock, actor, "self_report_schedule", CLINICAL_ROLES)
    patient = load_visible(uow, clock, actor, patient_id, "self_report_schedule")
    site = uow.sites.get(patient.site_id)
    timezone = site.timezone if site is not None else "UTC"
    series = uow.schedule.series_for(patient.id)
    lookup = settings_lookup(uow)
    slots = plan_slots(series, lookup, timezone)
    requests = {r.slot_key: r for r in uow.self_report_schedules.for_patient(patient.id)}
    used = {link.id for link in uow.self_report_links.for_patient(patient.id) if link.used_at}
    record_patient(
        uow,
        clock,
        actor,
        AuditAction.READ,
        "self_report_schedule",
        patient,
        detail=f"{len(slots)} slots",
    )
    uow.commit()
    now = clock.now()
    entries = []
    for slot in slots:
        request = requests.get(slot.key)
        if request is not None:
            state = request.outcome.value
        elif slot.sendable(now):
            state = SlotState.DUE
        elif now < slot.opens_at:
            state = SlotState.PLANNED
        else:
            state = SlotState.MISSED
        answered = request is not None and request.link_id in used
        entries.append(ScheduleEntry(slot, request, answered, state))
    protocols = {s.protocol_id: lookup(s.protocol_id) for s in series}
    return PatientSchedule(patient, tuple(entries), protocols, timezone)


# --- the front desk's notices ---------------------------------------------------------------

NOTICE_REASONS = {
    RequestOutcome.NO_EMAIL: "no e-mail address on file",
    RequestOutcome.MAIL_OFF: "e-mail is not set up at this clinic",
    RequestOutcome.MAIL_FAILED: "the e-mail could not be delivered",
    RequestOutcome.PENDING: "sending did not finish",
}


@dataclass(frozen=True, slots=True)
class NoticeView:
    """A notice as the front desk sees it: who to contact and why, no clinical detail (which
    questionnaire is not shown)."""

    request: ScheduledRequest
    mrn: str
    patient_name: str
    phone: str
    site_code: str
    local_due: dt.datetime

    @property
    def reason(self) -> str:
        return NOTICE_REASONS.get(self.request.outcome, self.request.outcome.value)

    @property
    def before_visit(self) -> bool:
        return self.request.kind is SlotKind.BEFORE_INFUSION


def open_notices(
    uow: UnitOfWork, clock: Clock, actor: Actor, site_id: int | None = None
) -> list[NoticeView]:
    """Open notices of the caller's sites (or one of them), oldest due first. Any staff role;
    the read is audited when there is something to see."""
    principal = require_role(uow, clock, actor, "self_report_notice", ALL_ROLES)
    sites = principal.site_ids if site_id is None else principal.site_ids & {site_id}
    found = uow.self_report_schedules.open_notices(frozenset(sites)) if sites else []
    views = [_notice_view(uow, r) for r in found]
    if views:
        record(
            uow,
            clock,
            actor,
            AuditAction.READ,
            "self_report_notice_list",
            site_id=site_id,
            detail=f"{len(views)} open notices",
        )
        uow.commit()
    return views


def _notice_view(uow: UnitOfWork, request: ScheduledRequest) -> NoticeView:
    patient = uow.patients.get(request.patient_id)
    site = uow.sites.get(request.site_id)
    zone = ZoneInfo(site.timezone if site is not None else "UTC")
    return NoticeView(
        request=request,
        mrn=patient.mrn if patient else "",
        patient_name=patient.display_name if patient else "",
        phone=patient.phone if patient else "",
        site_code=site.code if site else "",
        local_due=request.due_at.astimezone(zone),
    )


def close_notice(uow: UnitOfWork, clock: Clock, actor: Actor, request_id: int) -> ScheduledRequest:
    """Mark a notice done (any staff role of the notice's site; another site's notice is an
    audited 404). :class:`Conflict` if it is not open. Records who and when; audited."""
    principal = require_role(uow, clock, actor, "self_report_notice", ALL_ROLES)
    request = uow.self_report_schedules.get(request_id)
    if request is None or request.site_id not in principal.site_ids:
        raise deny(
            uow,
            clock,
            actor,
            "self_report_notice",
            NotFound(f"notice {request_id} not found"),
            patient_id=request.patient_id if request else None,
            resource_id=request_id,
        )
    now = clock.now()
    if not uow.self_report_schedules.close_notice(
        request.id, closed_by=principal.user_id, closed_at=now
    ):
        raise Conflict(f"notice {request_id} is already done", field="notice")
    record(
        uow,
        clock,
        actor,
        AuditAction.UPDATE,
        "self_report_notice",
        site_id=request.site_id,
        patient_id=request.patient_id,
        resource_id=request.id,
        detail="done",
    )
    uow.commit()
    closed = uow.self_report_schedules.get(request.id)
    assert closed is not None  # closed in this transaction
    return closed
