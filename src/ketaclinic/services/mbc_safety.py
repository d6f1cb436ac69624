"""Safety routing: a positive PHQ-9 item 9 or C-SSRS screen raises a same-day safety task on the
start page of the prescribers of the patient's site; the patient's responsible prescriber (who
signed the newest treatment plan; without one, every prescriber of the site) is told by e-mail;
the task closes only with a recorded action.

- PHQ-9 item 9 ≥ 1 raises flag ``phq9_item9_positive`` whatever the total, for same-day risk
  assessment [unverified: REFERENCE.md §8.2]; a C-SSRS entry with any Yes or a clinician level
  above low raises ``suicide_risk_review`` (domain/instruments/cssrs.py, §8.4).
- The task is due at the end of the day it was raised, in the site's time zone (*design*).
- The e-mail carries no health data: only that a safety review is due for an internal patient
  id, and to open ketaclinic. A failed e-mail never loses the task: it stays on the start page
  and ``notified_at`` stays empty.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from ketaclinic.domain.audit import AuditAction
from ketaclinic.domain.errors import Conflict, InvalidInput, NotFound
from ketaclinic.domain.instruments.cssrs import REVIEW_FLAG
from ketaclinic.domain.people import CLINICAL_ROLES, Patient, Role
from ketaclinic.services.audit import Actor, deny, record, require_role
from ketaclinic.services.mbc_model import QuestionnaireResponse, SafetyTask
from ketaclinic.services.ports import Clock, Notifier, UnitOfWork

log = logging.getLogger("ketaclinic.mbc")

PHQ9_ITEM9_FLAG = "phq9_item9_positive"
SAFETY_FLAGS = (PHQ9_ITEM9_FLAG, REVIEW_FLAG)
"""Flags that raise a safety task, in order of precedence for the task's reason."""
CLOSING_ROLES = frozenset({Role.PRESCRIBER, Role.DIRECTOR})
ACTION_MAX_CHARS = 2000
SUBJECT = "ketaclinic: a safety review is due today"

REASON_LABELS = {
    PHQ9_ITEM9_FLAG: "PHQ-9 item 9 positive",
    REVIEW_FLAG: "C-SSRS screen positive",
}


def safety_reason(flags: Iterable[str]) -> str | None:
    """The flag that makes a response need a same-day safety review, if any."""
    present = set(flags)
    return next((flag for flag in SAFETY_FLAGS if flag in present), None)


def end_of_local_day(at: dt.datetime, timezone: str) -> dt.datetime:
    """Midnight after ``at`` in ``timezone``, as UTC: when a same-day task becomes overdue."""
    zone = ZoneInfo(timezone)
    local_day = at.astimezone(zone).date()
    midnight = dt.datetime.combine(local_day + dt.timedelta(days=1), dt.time(0), tzinfo=zone)
    return midnight.astimezone(dt.UTC)


def raise_if_needed(
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    patient: Patient,
    response: QuestionnaireResponse,
) -> SafetyTask | None:
    """Inside the caller's transaction: add (and audit) a safety task when the stored
    ``response`` carries a safety flag. The caller commits, then calls :func:`notify`."""
    reason = safety_reason(response.flags)
    if reason is None:
        return None
    site = uow.sites.get(patient.site_id)
    timezone = site.timezone if site is not None else "UTC"
    now = clock.now()
    task = uow.safety_tasks.add(
        patient_id=patient.id,
        site_id=patient.site_id,
        response_id=response.id or None,
        reason=reason,
        raised_at=now,
        due_at=end_of_local_day(now, timezone),
    )
    record(
        uow,
        clock,
        actor,
        AuditAction.CREATE,
        "safety_task",
        site_id=patient.site_id,
        patient_id=patient.id,
        resource_id=task.id,
        detail=reason,
    )
    return task


def notification_body(task: SafetyTask) -> str:
    """The whole e-mail: an internal id and a pointer to the app, no health data."""
    return (
        f"A safety review is due today for patient {task.patient_id} (internal id).\n"
        "Open ketaclinic to see it; the task is on your start page.\n"
    )


def delivers(notifier: Notifier) -> bool:
    """Whether ``notifier`` really sends mail: one may declare ``enabled = False`` (mail is
    off), and then nothing counts as sent."""
    return bool(getattr(notifier, "enabled", True))


def recipients(uow: UnitOfWork, task: SafetyTask) -> list[str]:
    """Who is e-mailed about ``task``: the patient's responsible prescriber — the one who signed
    the patient's newest treatment plan — when they are still an active prescriber of the site
    with an e-mail address; otherwise (no plan yet, or that prescriber cannot be reached) every
    active prescriber of the site with an address, so that a task never waits for one absent
    person (*design*). The task is on every site prescriber's start page either way."""
    site_prescribers = {
        user.id: user.email
        for user in uow.users.all()
        if user.active
        and user.role is Role.PRESCRIBER
        and task.site_id in user.site_ids
        and user.email
    }
    plans = sorted(uow.schedule.plans(task.patient_id), key=lambda plan: plan.signed_at)
    if plans and plans[-1].signed_by in site_prescribers:
        return [site_prescribers[plans[-1].signed_by]]
    return sorted(set(site_prescribers.values()))


def notify(uow: UnitOfWork, clock: Clock, notifier: Notifier, task: SafetyTask) -> int:
    """E-mail the patient's responsible prescriber (see :func:`recipients`); returns how many
    messages were accepted. Call after the task is committed; commits ``notified_at`` if any
    message went out. Delivery failures are logged (ids and error type only), never raised.
    With mail off nothing is sent and the task stays "not e-mailed"."""
    if not delivers(notifier):
        log.warning("mail is off: safety task not e-mailed", extra={"patient_id": task.patient_id})
        return 0
    addresses = recipients(uow, task)
    if not addresses:
        log.warning(
            "no prescriber with an e-mail address for a safety task",
            extra={"patient_id": task.patient_id},
        )
        return 0
    sent = 0
    body = notification_body(task)
    for address in addresses:
        try:
            notifier.send(address, SUBJECT, body)
        except Exception as error:  # any delivery failure: the task itself is already safe
            log.error(
                "safety notification failed",
                extra={"patient_id": task.patient_id, "error_type": type(error).__name__},
            )
            continue
        sent += 1
    if sent:
        uow.safety_tasks.mark_notified(task.id, clock.now())
        uow.commit()
    log.info("safety notification sent", extra={"patient_id": task.patient_id, "count": sent})
    return sent


@dataclass(frozen=True, slots=True)
class TaskView:
    """A task with what the start page shows: the patient's MRN and the site code."""

    task: SafetyTask
    mrn: str
    patient_name: str
    site_code: str

    @property
    def reason_label(self) -> str:
        return REASON_LABELS.get(self.task.reason, self.task.reason)


def open_tasks(
    uow: UnitOfWork, clock: Clock, actor: Actor, site_id: int | None = None
) -> list[TaskView]:
    """Open safety tasks of the caller's sites (or one of them), oldest due first. Clinical
    roles only; the read is audited when there is something to see."""
    principal = require_role(uow, clock, actor, "safety_task", CLINICAL_ROLES)
    sites = principal.site_ids if site_id is None else principal.site_ids & {site_id}
    tasks = uow.safety_tasks.open_for_sites(frozenset(sites)) if sites else []
    views = [_view(uow, task) for task in tasks]
    if views:
        record(
            uow,
            clock,
            actor,
            AuditAction.READ,
            "safety_task_list",
            site_id=site_id,
            detail=f"{len(views)} open tasks",
        )
        uow.commit()
    return views


TASK_LIST_MAX = 500


def list_tasks(
    uow: UnitOfWork,
    clock: Clock,
    actor: Actor,
    *,
    open_only: bool = True,
    site_id: int | None = None,
    limit: int = 200,
) -> list[TaskView]:
    """Safety tasks of the caller's sites (or one of them): the open ones oldest due first, or
    with ``open_only=False`` every task newest raised first (at most ``limit``, 1–500).
    Prescribers and directors only (others: audited 403); the read is audited."""
    principal = require_role(uow, clock, actor, "safety_task", CLOSING_ROLES)
    if not 1 <= limit <= TASK_LIST_MAX:
        raise InvalidInput.for_field("limit", limit, f"a whole number 1–{TASK_LIST_MAX}")
    sites = frozenset(principal.site_ids if site_id is None else principal.site_ids & {site_id})
    if not sites:
        tasks: list[SafetyTask] = []
    elif open_only:
        tasks = uow.safety_tasks.open_for_sites(sites)[:limit]
    else:
        tasks = uow.safety_tasks.for_sites(sites, limit=limit)
    views = [_view(uow, task) for task in tasks]
    record(
        uow,
        clock,
        actor,
        AuditAction.READ,
        "safety_task_list",
        site_id=site_id,
        detail=f"{len(views)} {'open ' if open_only else ''}tasks",
    )
    uow.commit()
    return views


def _view(uow: UnitOfWork, task: SafetyTask) -> TaskView:
    patient = uow.patients.get(task.patient_id)
    site = uow.sites.get(task.site_id)
    return TaskView(
        task=task,
        mrn=patient.mrn if patient else "",
        patient_name=patient.display_name if patient else "",
        site_code=site.code if site else "",
    )


def task_detail(uow: UnitOfWork, clock: Clock, actor: Actor, task_id: int) -> TaskView:
    """One task of the caller's sites (clinical roles; another site's task is an audited
    404); the read is audited."""
    principal = require_role(uow, clock, actor, "safety_task", CLINICAL_ROLES)
    task = _visible_task(uow, clock, actor, task_id, principal.site_ids)
    record(
        uow,
        clock,
        actor,
        AuditAction.READ,
        "safety_task",
        site_id=task.site_id,
        patient_id=task.patient_id,
        resource_id=task.id,
    )
    uow.commit()
    return _view(uow, task)


def _visible_task(
    uow: UnitOfWork, clock: Clock, actor: Actor, task_id: int, site_ids: frozenset[int]
) -> SafetyTask:
    task = uow.safety_tasks.get(task_id)
    if task is None or task.site_id not in site_ids:
        raise deny(
            uow,
            clock,
            actor,
            "safety_task",
            NotFound(f"safety task {task_id} not found"),
            patient_id=task.patient_id if task else None,
            resource_id=task_id,
        )
    return task


def close_task(
    uow: UnitOfWork, clock: Clock, actor: Actor, task_id: int, action: str
) -> SafetyTask:
    """Close an open task with the action taken (1–2000 characters); records who and when.

    Prescribers and directors of the task's site only (others: 403, another site: 404, both
    audited). Raises :class:`InvalidInput` for an empty or too long action and
    :class:`Conflict` if the task is already closed; nothing changes in either case.
    """
    principal = require_role(uow, clock, actor, "safety_task", CLOSING_ROLES)
    task = _visible_task(uow, clock, actor, task_id, principal.site_ids)
    text = action.strip() if isinstance(action, str) else ""
    if not text or len(text) > ACTION_MAX_CHARS:
        raise InvalidInput.for_field(
            "action",
            action,
            f"what was done for the patient, 1–{ACTION_MAX_CHARS} characters (a task "
            "cannot be closed without a recorded action)",
        )
    now = clock.now()
    if not uow.safety_tasks.close(task.id, closed_by=principal.user_id, closed_at=now, action=text):
        raise Conflict(f"safety task {task_id} is already closed", field="task")
    record(
        uow,
        clock,
        actor,
        AuditAction.UPDATE,
        "safety_task",
        site_id=task.site_id,
        patient_id=task.patient_id,
        resource_id=task.id,
        detail="closed",
    )
    uow.commit()
    closed = uow.safety_tasks.get(task.id)
    assert closed is not None  # closed in this transaction
    return closed
