"""Monitoring without a browser: the chair's background sweep, and the e-mails that tell people
about an alert nobody has acknowledged.

:func:`sweep_all` is one tick of the background runner (adapters/chair_sweeper.py): for every
site, in a transaction of its own, :func:`chair_vitals.sweep` raises *NIBP overdue* and
escalates unacknowledged clinical alerts, recording one pending :class:`EscalationNotice` per
alert and level; then :func:`deliver` sends the pending notices.

Delivery is an outbox: a notice is claimed (committed) before any e-mail goes out, sent outside
any transaction (an SMTP server may take seconds), and its outcome recorded and audited after.
A process that dies mid-send leaves the claim to expire, and another attempt follows (the
e-mail may then arrive twice; it is never lost silently). Who is told, once per escalation
level: the active prescribers of the session's site and the nurse on the session, each with an
e-mail address. The message names the chair and the site and says how long the alert has
waited; it carries no patient detail (no name, MRN, vital sign or value) and asks the reader
to open ketaclinic. A notice is skipped, not sent, when the alert was acknowledged before the
e-mail went out, when a higher level of the same alert supersedes it, when mail is off, or when
nobody has an address; the reason is kept and shown with the alert.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

from ketaclinic.domain.alerts import DEFAULT_RULES, AlertRules, AlertState
from ketaclinic.domain.audit import AuditAction
from ketaclinic.domain.people import Role, StaffUser
from ketaclinic.domain.provenance import design
from ketaclinic.services import chair_vitals
from ketaclinic.services.audit import SYSTEM, record
from ketaclinic.services.chair_ports import EscalationNotice, NoticeState, SessionRow
from ketaclinic.services.ports import Clock, FixedClock, Notifier, UnitOfWork, UnitOfWorkFactory

log = logging.getLogger("ketaclinic.chair.escalation")

RESOURCE_NOTICE = "chair_alert_notice"
# A claim must outlast one delivery: a connection per recipient, each with a 10-s timeout
# (adapters/notify/smtp.py), for a handful of recipients (design).
CLAIM_FOR = dt.timedelta(minutes=2)
RETRY_AFTER = dt.timedelta(minutes=1)  # after a delivery where every message failed (design)
MAX_ATTEMPTS = 5  # then the notice is marked failed; the board keeps showing the alert (design)
BATCH = 50  # notices claimed per tick


def alert_rules(escalate_after_min: float, base: AlertRules = DEFAULT_RULES) -> AlertRules:
    """``base`` with the clinic's escalation interval; a changed value is labelled as the
    clinic's setting (design), the shipped default keeps its own provenance."""
    current = base.escalate_after_min
    if escalate_after_min == current.value:
        return base
    threshold = replace(
        current,
        value=escalate_after_min,
        provenance=design(
            "clinic setting KETACLINIC_ALERT_ESCALATE_AFTER_MIN "
            f"(shipped default {current.value:g} min, design)"
        ),
    )
    return replace(base, escalate_after_min=threshold)


# --- who is told ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Recipient:
    user_id: int
    role: Role
    address: str


def session_nurse(uow: UnitOfWork, row: SessionRow) -> int | None:
    """The nurse on the session: the nurse who last moved it on (a transition) or charted on
    its administration record, else the nurse who checked the patient in; None if no nurse
    has acted on it."""
    acts = [(r.at, r.by) for r in uow.chair.transitions(row.id)]
    acts += [(e.entry.at, e.entry.by) for e in uow.chair.mar_entries(row.id)]
    nurses = [(at, by.user_id) for at, by in acts if by.role is Role.NURSE]
    if nurses:
        return max(nurses, key=lambda pair: pair[0])[1]
    checked_in_by = uow.users.get(row.checked_in_by)
    if checked_in_by is not None and checked_in_by.role is Role.NURSE:
        return checked_in_by.id
    return None


def recipients(uow: UnitOfWork, row: SessionRow) -> list[Recipient]:
    """The active prescribers of the session's site and the nurse on the session, those with
    an e-mail address, one message per address (prescribers first, by user id)."""

    def reachable(user: StaffUser | None) -> bool:
        return (
            user is not None and user.active and row.site_id in user.site_ids and bool(user.email)
        )

    found: list[StaffUser] = sorted(
        (u for u in uow.users.all() if u.role is Role.PRESCRIBER and reachable(u)),
        key=lambda u: u.id,
    )
    nurse_id = session_nurse(uow, row)
    nurse = uow.users.get(nurse_id) if nurse_id is not None else None
    if nurse is not None and reachable(nurse):
        found.append(nurse)
    seen: set[str] = set()
    result: list[Recipient] = []
    for user in found:
        key = user.email.strip().lower()
        if key not in seen:
            seen.add(key)
            result.append(Recipient(user.id, user.role, user.email.strip()))
    return result


def subject(chair_code: str, level: int) -> str:
    return f"ketaclinic: unacknowledged alert at chair {chair_code} (escalation level {level})"


def body(chair_code: str, site_code: str, level: int, waited_min: float, alert_id: int) -> str:
    """The whole e-mail: where and how long, never who or what was measured."""
    return (
        f"A clinical alert at chair {chair_code} (site {site_code}) has not been acknowledged "
        f"for {max(int(waited_min), 0)} min; it has reached escalation level {level}.\n"
        "Open the chair board in ketaclinic to see it and acknowledge it.\n"
        f"Alert reference {alert_id} (internal id). This message carries no patient details.\n"
    )


# --- delivery ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What one :func:`deliver` did with the notices it claimed."""

    sent: int = 0  # notices e-mailed to at least one recipient
    skipped: int = 0
    failed: int = 0  # given up after MAX_ATTEMPTS
    retrying: int = 0
    messages: int = 0  # e-mails the server accepted
    sites: frozenset[int] = frozenset()  # whose boards show a notice's new outcome

    def __add__(self, other: DeliveryReport) -> DeliveryReport:
        return DeliveryReport(
            self.sent + other.sent,
            self.skipped + other.skipped,
            self.failed + other.failed,
            self.retrying + other.retrying,
            self.messages + other.messages,
            self.sites | other.sites,
        )


def delivers(notifier: Notifier) -> bool:
    """Whether ``notifier`` really sends (the null notifier of "mail is off" does not)."""
    return bool(getattr(notifier, "enabled", True))


@dataclass(frozen=True, slots=True)
class _Plan:
    """A claimed notice made ready: to whom and what, or why not."""

    notice: EscalationNotice
    patient_id: int | None
    skip: str = ""
    to: tuple[Recipient, ...] = ()
    subject: str = ""
    body: str = ""


def deliver(
    uow_factory: UnitOfWorkFactory, clock: Clock, notifier: Notifier, *, limit: int = BATCH
) -> DeliveryReport:
    """Claim pending notices and send them; returns what happened. Never raises for a
    delivery failure (logged with ids and the error type only, audited, retried)."""
    now = clock.now()
    with uow_factory() as uow:
        claimed = uow.chair.claim_escalations(now, now + CLAIM_FOR, limit=limit)
        uow.commit()
    report = DeliveryReport(sites=frozenset(n.site_id for n in claimed))
    for notice in claimed:
        report += _deliver_one(uow_factory, clock, notifier, notice)
    return report


def _plan(uow: UnitOfWork, notifier: Notifier, notice: EscalationNotice, now: dt.datetime) -> _Plan:
    stored = uow.chair.get_alert(notice.alert_id)
    row = uow.chair.get_session(notice.session_id)
    if stored is None or row is None:
        return _Plan(notice, None, skip="the alert no longer exists")
    alert = stored.alert
    if alert.state is not AlertState.RAISED:
        return _Plan(notice, row.patient_id, skip=f"{alert.state.value} before the e-mail")
    if alert.escalation_level > notice.level:
        return _Plan(notice, row.patient_id, skip=f"superseded by level {alert.escalation_level}")
    if not delivers(notifier):
        return _Plan(notice, row.patient_id, skip="mail is off")
    to = recipients(uow, row)
    if not to:
        return _Plan(notice, row.patient_id, skip="no prescriber or nurse with an e-mail address")
    chair = next(
        (c for c in uow.sites.chairs(row.site_id, retired=True) if c.id == row.chair_id), None
    )
    site = uow.sites.get(row.site_id)
    chair_code = chair.code if chair else f"#{row.chair_id}"
    site_code = site.code if site else f"#{row.site_id}"
    waited = (now - alert.raised_at).total_seconds() / 60.0
    return _Plan(
        notice,
        row.patient_id,
        to=tuple(to),
        subject=subject(chair_code, notice.level),
        body=body(chair_code, site_code, notice.level, waited, stored.id),
    )


def _deliver_one(
    uow_factory: UnitOfWorkFactory, clock: Clock, notifier: Notifier, notice: EscalationNotice
) -> DeliveryReport:
    with uow_factory(readonly=True) as uow:
        plan = _plan(uow, notifier, notice, clock.now())
    if plan.skip:
        _finish(uow_factory, clock, plan, NoticeState.SKIPPED, outcome=plan.skip)
        return DeliveryReport(skipped=1)
    sent: list[Recipient] = []
    errors: list[str] = []
    for recipient in plan.to:
        try:
            notifier.send(recipient.address, plan.subject, plan.body)
        except Exception as error:  # any delivery failure: the alert itself is safe on the board
            errors.append(type(error).__name__)
            log.error(
                "escalation e-mail failed",
                extra={
                    "alert_id": notice.alert_id,
                    "level": notice.level,
                    "user_id": recipient.user_id,
                    "error_type": type(error).__name__,
                },
            )
            continue
        sent.append(recipient)
    failure = f"{len(errors)} of {len(plan.to)} failed ({', '.join(sorted(set(errors)))})"
    if sent:
        _finish(
            uow_factory,
            clock,
            plan,
            NoticeState.SENT,
            sent=sent,
            outcome=failure if errors else "",
        )
        log.info(
            "escalation e-mailed",
            extra={"alert_id": notice.alert_id, "level": notice.level, "count": len(sent)},
        )
        return DeliveryReport(sent=1, messages=len(sent))
    if notice.attempts >= MAX_ATTEMPTS:
        _finish(uow_factory, clock, plan, NoticeState.FAILED, outcome=failure)
        return DeliveryReport(failed=1)
    _finish(
        uow_factory,
        clock,
        plan,
        NoticeState.PENDING,
        outcome=f"attempt {notice.attempts}: {failure}",
        retry_at=clock.now() + RETRY_AFTER,
    )
    return DeliveryReport(retrying=1)


def _finish(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    plan: _Plan,
    state: NoticeState,
    *,
    sent: Sequence[Recipient] = (),
    outcome: str = "",
    retry_at: dt.datetime | None = None,
) -> None:
    notice = plan.notice
    now = clock.now()
    with uow_factory() as uow:
        uow.chair.finish_escalation(
            notice.id,
            state,
            now,
            recipients=len(plan.to),
            sent=len(sent),
            outcome=outcome,
            retry_at=retry_at,
        )
        told = ",".join(str(r.user_id) for r in sent)
        detail = f"escalation level {notice.level}: {state.value}"
        if sent:
            detail += f" to {len(sent)} of {len(plan.to)} (users {told})"
        if outcome:
            detail += f"; {outcome}"
        record(
            uow,
            FixedClock(now),
            SYSTEM,
            AuditAction.CREATE,
            RESOURCE_NOTICE,
            site_id=notice.site_id,
            patient_id=plan.patient_id,
            resource_id=notice.alert_id,
            detail=detail,
        )
        if state is not NoticeState.PENDING:
            # The board shows how the notice went.
            uow.chair.mark_changed(notice.site_id)
        uow.commit()


# --- one tick of the background runner --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SweepReport:
    changed_sites: frozenset[int]
    delivery: DeliveryReport


def sweep_all(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    notifier: Notifier,
    rules: AlertRules = DEFAULT_RULES,
) -> SweepReport:
    """Sweep every site, each in its own transaction (a session's lock is held for
    milliseconds, not for the whole clinic), then deliver the pending notices. The caller
    announces ``changed_sites`` to the chair boards."""
    with uow_factory(readonly=True) as uow:
        site_ids = sorted(site.id for site in uow.sites.all())
    changed: set[int] = set()
    for site_id in site_ids:
        with uow_factory() as uow:
            changed |= chair_vitals.sweep(uow, clock.now(), [site_id], rules)
            uow.commit()
    delivery = deliver(uow_factory, clock, notifier)
    return SweepReport(frozenset(changed | delivery.sites), delivery)
