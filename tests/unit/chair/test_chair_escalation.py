"""The chair's background sweep and escalation e-mails, in memory with a clock moved by hand:
who is told, once per level, what the message says (and does not), and what happens when the
alert is acknowledged first, mail is off, nobody has an address, or the mail server fails.

Personas: Nina the nurse who runs the session, Noor a second nurse, Paul and Pam the MIA
prescribers, Pete a prescriber at FLL only, Ivan an inactive prescriber, Ed a prescriber
without an e-mail address."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, replace

import pytest

from ketaclinic.adapters.memory import MemoryUnitOfWorkFactory
from ketaclinic.domain.alerts import DEFAULT_RULES, acknowledge
from ketaclinic.domain.people import NewPatient, Role, Sex
from ketaclinic.domain.provenance import Tag
from ketaclinic.domain.session_lifecycle import Actor, Transition, TransitionRecord
from ketaclinic.services import chair_escalation
from ketaclinic.services.chair_escalation import (
    MAX_ATTEMPTS,
    RESOURCE_NOTICE,
    alert_rules,
    deliver,
    recipients,
    sweep_all,
)
from ketaclinic.services.chair_ports import NoticeState
from ketaclinic.services.chair_vitals import sweep
from ketaclinic.services.demo_chair import Target, build_session
from ketaclinic.services.ports import FixedClock

T0 = dt.datetime(2026, 3, 2, 14, 0, tzinfo=dt.UTC)


class Outbox:
    """A notifier that keeps what it is asked to send; ``failing`` makes every send raise."""

    enabled = True

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []
        self.failing = False

    def send(self, to: str, subject: str, body: str) -> None:
        if self.failing:
            raise ConnectionRefusedError("no mail server")
        self.sent.append((to, subject, body))

    @property
    def addresses(self) -> list[str]:
        return [to for to, _, _ in self.sent]


class MailOff(Outbox):
    enabled = False


@dataclass
class World:
    uow: MemoryUnitOfWorkFactory
    clock: FixedClock
    outbox: Outbox
    mia: int
    session: int
    nina: int
    noor: int

    def minutes(self, n: float) -> None:
        self.clock.advance(minutes=n)

    def sweep(self, notifier: Outbox | None = None, **rules: float) -> chair_escalation.SweepReport:
        chosen = alert_rules(rules["after_min"]) if rules else DEFAULT_RULES
        return sweep_all(self.uow, self.clock, notifier or self.outbox, chosen)

    def alerts(self):
        with self.uow() as uow:
            return uow.chair.session_alerts([self.session], open_only=True)

    def notices(self):
        with self.uow() as uow:
            return uow.chair.escalations([self.session])

    def audit(self, resource: str):
        with self.uow() as uow:
            return [e for e in uow.audit.entries() if e.record.resource == resource]


@pytest.fixture
def world() -> World:
    factory = MemoryUnitOfWorkFactory()
    with factory() as uow:
        mia = uow.sites.add("MIA", "Miami", "America/New_York")
        fll = uow.sites.add("FLL", "Fort Lauderdale", "America/New_York")
        chair = uow.sites.add_chair(mia.id, "MIA-1", "Chair 1")

        def user(name: str, role: Role, sites: set[int], email: str = "") -> int:
            email = email or f"{name}@clinic.invalid"
            return uow.users.add(name, name, role, frozenset(sites), "x", email=email).id

        nina = user("nina", Role.NURSE, {mia.id})
        noor = user("noor", Role.NURSE, {mia.id})
        user("paul", Role.PRESCRIBER, {mia.id})
        user("pam", Role.PRESCRIBER, {mia.id, fll.id})
        user("pete", Role.PRESCRIBER, {fll.id})
        ivan = uow.users.get(user("ivan", Role.PRESCRIBER, {mia.id}))
        uow.users.add("ed", "ed", Role.PRESCRIBER, frozenset({mia.id}), "x")  # no address
        user("dora", Role.DIRECTOR, {mia.id})
        patient = uow.patients.add(
            NewPatient(mia.id, "P-1", "Ana", "Redfern", dt.date(1980, 1, 2), Sex.FEMALE), T0
        )
        nurse = uow.users.get(nina)
        prescriber = next(u for u in uow.users.all() if u.username == "paul")
        row = build_session(
            uow,
            patient=patient,
            chair=chair,
            nurse=nurse,
            prescriber=prescriber,
            now=T0,
            target=Target.RUNNING,
            rng=random.Random(7),
        )
        uow.commit()
    # Ivan has left the clinic: his account is inactive (the fake's row, set by hand).
    edit_user(factory, ivan.id, active=False)
    return World(factory, FixedClock(T0), Outbox(), mia.id, row.id, nina, noor)


def edit_user(factory: MemoryUnitOfWorkFactory, user_id: int, **changes: object) -> None:
    row = factory.store.users[user_id]
    row.user = replace(row.user, **changes)


def overdue_and_escalated(w: World) -> None:
    """Blood pressure last measured a minute before T0: overdue after 10 min (design, §5),
    raised by the sweep at T0+11, escalated to level 1 two minutes later."""
    w.minutes(11)
    w.sweep()
    w.minutes(2)


def test_an_alert_left_unacknowledged_e_mails_the_site_prescribers_and_the_nurse_once(
    world,
) -> None:
    w = world
    w.minutes(11)
    report = w.sweep()
    assert report.changed_sites == {w.mia}
    (alert,) = w.alerts()
    assert alert.alert.rule_key == "nibp_overdue"
    assert w.outbox.sent == []
    assert w.notices() == []
    w.minutes(2)
    report = w.sweep()
    assert report.delivery.sent == 1
    assert sorted(w.outbox.addresses) == [
        "nina@clinic.invalid",
        "pam@clinic.invalid",
        "paul@clinic.invalid",
    ]
    (notice,) = w.notices()
    assert (notice.alert_id, notice.level, notice.state) == (alert.id, 1, NoticeState.SENT)
    assert (notice.recipients, notice.sent, notice.attempts) == (3, 3, 1)
    assert notice.finished_at == w.clock.now()
    # Sweeping again in the same level sends nothing more.
    w.minutes(0.5)
    again = w.sweep()
    assert again.delivery.sent == 0
    assert len(w.outbox.sent) == 3


def test_each_new_level_is_e_mailed_once_and_audited(world) -> None:
    w = world
    overdue_and_escalated(w)
    w.sweep()
    w.minutes(2)
    w.sweep()
    w.sweep()
    assert [(n.level, n.state) for n in w.notices()] == [
        (1, NoticeState.SENT),
        (2, NoticeState.SENT),
    ]
    subjects = [subject for _, subject, _ in w.outbox.sent]
    assert (
        subjects.count("ketaclinic: unacknowledged alert at chair MIA-1 (escalation level 1)") == 3
    )
    assert (
        subjects.count("ketaclinic: unacknowledged alert at chair MIA-1 (escalation level 2)") == 3
    )
    entries = w.audit(RESOURCE_NOTICE)
    assert [e.record.detail.split(":")[0] for e in entries] == [
        "escalation level 1",
        "escalation level 2",
    ]
    assert all(e.record.client == "system" and e.record.user_id is None for e in entries)
    assert all(e.record.patient_id is not None and e.record.site_id == w.mia for e in entries)
    assert "sent to 3 of 3 (users " in entries[0].record.detail


def test_the_message_names_the_chair_and_the_wait_but_no_patient_detail(world) -> None:
    w = world
    overdue_and_escalated(w)
    w.sweep()
    _, subject, body = w.outbox.sent[0]
    (alert,) = w.alerts()
    assert "MIA-1" in subject
    assert "MIA-1" in body
    assert "site MIA" in body
    assert "not been acknowledged for 2 min" in body
    assert f"Alert reference {alert.id}" in body
    for detail in ("Ana", "Redfern", "P-1", "1980", "blood pressure", "Blood pressure", "mmHg"):
        assert detail not in subject + body


def test_an_alert_acknowledged_before_the_e_mail_goes_out_is_not_e_mailed(world) -> None:
    w = world
    overdue_and_escalated(w)
    with w.uow() as uow:
        sweep(uow, w.clock.now(), [w.mia])  # escalate, but do not deliver
        uow.commit()
    (stored,) = w.alerts()
    assert stored.alert.escalation_level == 1
    with w.uow() as uow:
        acked = acknowledge(
            stored.alert, Actor(w.nina, Role.NURSE), w.clock.now(), "BP measured now"
        )
        uow.chair.save_alert(replace(stored, alert=acked))
        uow.commit()
    report = deliver(w.uow, w.clock, w.outbox)
    assert report.skipped == 1
    assert w.outbox.sent == []
    (notice,) = w.notices()
    assert notice.state is NoticeState.SKIPPED
    assert notice.outcome == "acknowledged before the e-mail"


def test_a_level_overtaken_by_a_higher_one_before_delivery_is_skipped(world) -> None:
    w = world
    overdue_and_escalated(w)
    for _ in range(2):  # levels 1 and 2 recorded, nothing delivered yet
        with w.uow() as uow:
            sweep(uow, w.clock.now(), [w.mia])
            uow.commit()
        w.minutes(2)
    report = deliver(w.uow, w.clock, w.outbox)
    assert (report.sent, report.skipped) == (1, 1)
    states = {n.level: (n.state, n.outcome) for n in w.notices()}
    assert states[1] == (NoticeState.SKIPPED, "superseded by level 2")
    assert states[2][0] is NoticeState.SENT
    assert {subject.rsplit(" ", 1)[-1] for _, subject, _ in w.outbox.sent} == {"2)"}


def test_with_mail_off_the_escalation_is_recorded_and_marked_not_e_mailed(world) -> None:
    w = world
    overdue_and_escalated(w)
    off = MailOff()
    w.sweep(off)
    assert off.sent == []
    (notice,) = w.notices()
    assert (notice.state, notice.outcome) == (NoticeState.SKIPPED, "mail is off")
    (alert,) = w.alerts()
    assert alert.alert.escalation_level == 1  # the board still shows the escalation


def test_a_failing_mail_server_is_retried_then_given_up_and_never_raises(world) -> None:
    w = world
    overdue_and_escalated(w)
    w.outbox.failing = True
    w.sweep()
    (notice,) = w.notices()
    assert notice.state is NoticeState.PENDING
    assert notice.outcome == "attempt 1: 3 of 3 failed (ConnectionRefusedError)"
    # Not tried again before the retry time, whoever sweeps.
    w.minutes(0.5)
    assert deliver(w.uow, w.clock, w.outbox).retrying == 0
    for attempt in range(2, MAX_ATTEMPTS + 1):
        w.minutes(1)
        # Delivery alone (no sweep): the alert stays at level 1 while the attempts run out.
        report = deliver(w.uow, w.clock, w.outbox)
        last = attempt == MAX_ATTEMPTS
        assert (report.retrying, report.failed) == ((0, 1) if last else (1, 0)), attempt
    (notice,) = w.notices()
    assert notice.state is NoticeState.FAILED
    assert notice.attempts == MAX_ATTEMPTS
    assert w.outbox.sent == []


def test_the_server_accepting_some_recipients_counts_as_sent_with_the_failures_noted(
    world,
) -> None:
    w = world
    overdue_and_escalated(w)

    class Picky(Outbox):
        def send(self, to: str, subject: str, body: str) -> None:
            if to.startswith("pam"):
                raise TimeoutError
            super().send(to, subject, body)

    picky = Picky()
    w.sweep(picky)
    (notice,) = w.notices()
    assert (notice.state, notice.sent, notice.recipients) == (NoticeState.SENT, 2, 3)
    assert notice.outcome == "1 of 3 failed (TimeoutError)"


def test_the_nurse_told_is_the_one_who_last_acted_on_the_session(world) -> None:
    w = world
    with w.uow() as uow:
        row = uow.chair.get_session(w.session)
        assert [r.address for r in recipients(uow, row)][-1] == "nina@clinic.invalid"
        uow.chair.add_transition(
            w.session,
            TransitionRecord(
                Transition.PAUSE,
                row.state,
                row.state,
                Actor(w.noor, Role.NURSE),
                T0 + dt.timedelta(minutes=1),
                "break",
            ),
        )
        told = recipients(uow, row)
    assert [r.address for r in told] == [
        "paul@clinic.invalid",
        "pam@clinic.invalid",
        "noor@clinic.invalid",
    ]
    # Never: another site's prescriber, an inactive account, one without an address, the
    # director, the other nurse.
    assert {r.role for r in told} == {Role.PRESCRIBER, Role.NURSE}


def test_with_nobody_to_tell_the_notice_says_so(world) -> None:
    w = world
    for user_id in list(w.uow.store.users):
        edit_user(w.uow, user_id, email="")
    overdue_and_escalated(w)
    w.sweep()
    (notice,) = w.notices()
    assert notice.state is NoticeState.SKIPPED
    assert notice.outcome == "no prescriber or nurse with an e-mail address"


def test_the_escalation_interval_is_the_clinics_setting_with_its_provenance(world) -> None:
    w = world
    rules = alert_rules(5.0)
    assert rules.escalate_after_min.value == 5.0
    assert rules.escalate_after_min.provenance.tag is Tag.DESIGN
    assert "KETACLINIC_ALERT_ESCALATE_AFTER_MIN" in rules.escalate_after_min.provenance.reference
    assert alert_rules(DEFAULT_RULES.escalate_after_min.value) is DEFAULT_RULES
    w.minutes(11)
    w.sweep(after_min=5.0)
    w.minutes(4.9)
    w.sweep(after_min=5.0)
    assert w.notices() == []
    w.minutes(0.2)
    w.sweep(after_min=5.0)
    assert [n.level for n in w.notices()] == [1]


def test_a_tick_sweeps_every_site(world) -> None:
    w = world
    with w.uow() as uow:
        fll = uow.sites.by_code("FLL")
        chair = uow.sites.add_chair(fll.id, "FLL-1", "Chair 1")
        patient = uow.patients.add(
            NewPatient(fll.id, "P-2", "Bo", "Lane", dt.date(1970, 5, 6), Sex.MALE), T0
        )
        pete = uow.users.by_username("pete")
        pam = uow.users.by_username("pam")
        other = build_session(
            uow,
            patient=patient,
            chair=chair,
            nurse=replace(pete, role=Role.NURSE),
            prescriber=pam,
            now=T0,
            target=Target.RUNNING,
            rng=random.Random(3),
        )
        uow.commit()
    w.minutes(11)
    assert w.sweep().changed_sites == {w.mia, fll.id}
    with w.uow() as uow:
        rules = {a.alert.rule_key for a in uow.chair.session_alerts([other.id], open_only=True)}
    assert rules == {"nibp_overdue"}
