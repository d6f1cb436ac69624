"""One contract for the chair's storage port: the in-memory fake, SQLite and PostgreSQL behave
the same (STYLE.md §3) — round trips of every record, and the uniqueness the clinic relies on."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

import pytest

from ketaclinic.domain.administration import (
    Correction,
    MarEntry,
    Pause,
    StartInfusion,
)
from ketaclinic.domain.alerts import (
    DEFAULT_RULES,
    Alert,
    AlertState,
    ReadingContext,
    acknowledge,
    evaluate,
    resolve,
)
from ketaclinic.domain.discharge import AldreteScore, DischargeScale
from ketaclinic.domain.errors import Conflict
from ketaclinic.domain.people import NewPatient, Role, Sex
from ketaclinic.domain.session_lifecycle import (
    Actor,
    CheckItem,
    CheckOutcome,
    CheckResult,
    Phase,
    SessionState,
    Transition,
    TransitionRecord,
)
from ketaclinic.domain.side_effects import (
    Intervention,
    SeriousCriterion,
    Severity,
    SideEffectEntry,
    SideEffectKind,
)
from ketaclinic.domain.vitals import VitalKind, VitalReading, VitalSource
from ketaclinic.services.chair_ports import (
    FLAG_IMPLAUSIBLE,
    Baseline,
    DissociationScore,
    DoseCheck,
    EscalationNotice,
    LimitLevelSeen,
    NewReading,
    NewSession,
    NoticeState,
    PlannedDose,
    StoredAlert,
    StoredAssessment,
    Timepoint,
)

T0 = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


@dataclass
class Seed:
    site: int
    other_site: int
    chairs: list[int]
    patients: list[int]
    nurse: Actor


def seed(factory) -> Seed:
    with factory() as uow:
        mia = uow.sites.add("MIA", "Miami", "America/New_York")
        fll = uow.sites.add("FLL", "Fort Lauderdale", "America/New_York")
        chairs = [uow.sites.add_chair(mia.id, f"MIA-{n}", f"Chair {n}").id for n in (1, 2)]
        patients = [
            uow.patients.add(
                NewPatient(mia.id, f"P-{n}", "Ana", "Redfern", dt.date(1980, 1, 2), Sex.FEMALE), T0
            ).id
            for n in (1, 2)
        ]
        user = uow.users.add("nurse.a", "Nurse A", Role.NURSE, frozenset({mia.id}), "hash")
        uow.commit()
    return Seed(mia.id, fll.id, chairs, patients, Actor(user.id, Role.NURSE))


def new_session(s: Seed, chair: int = 0, patient: int = 0) -> NewSession:
    return NewSession(
        s.patients[patient], s.site, s.chairs[chair], "feder-2021", False, T0, s.nurse.user_id
    )


def test_one_open_session_per_chair_and_per_patient(uow_factory) -> None:
    s = seed(uow_factory)
    with uow_factory() as uow:
        row = uow.chair.add_session(new_session(s))
        uow.commit()
    with uow_factory() as uow, pytest.raises(Conflict):
        uow.chair.add_session(new_session(s, chair=0, patient=1))
    with uow_factory() as uow, pytest.raises(Conflict):
        uow.chair.add_session(new_session(s, chair=1, patient=0))
    with uow_factory() as uow:
        uow.chair.save_session(replace(row, state=SessionState.CANCELLED, closed_at=at(5)))
        uow.commit()
    with uow_factory() as uow:
        again = uow.chair.add_session(new_session(s, chair=0, patient=1))
        uow.commit()
    with uow_factory() as uow:
        assert uow.chair.open_session_for_chair(s.chairs[0]).id == again.id
        assert uow.chair.open_sessions_for_patients(s.patients) == {s.patients[1]: again}
        assert [r.id for r in uow.chair.list_sessions([s.site])] == [again.id, row.id]
        assert [r.id for r in uow.chair.list_sessions([s.site], open_only=True)] == [again.id]
        assert uow.chair.list_sessions([s.other_site]) == []


def test_uncommitted_sessions_are_rolled_back(uow_factory) -> None:
    s = seed(uow_factory)
    with uow_factory() as uow:
        uow.chair.add_session(new_session(s))
    with uow_factory() as uow:
        assert uow.chair.open_session_for_chair(s.chairs[0]) is None


def test_a_session_keeps_its_state_baseline_dose_and_times(uow_factory) -> None:
    s = seed(uow_factory)
    with uow_factory() as uow:
        row = uow.chair.add_session(new_session(s))
        updated = replace(
            row,
            state=SessionState.RUNNING,
            updated_at=at(30),
            escort_name="Sam",
            escort_phone="555",
            weight_kg=80.5,
            baseline=Baseline(at(10), 120, 80, 70, 98),
            planned=PlannedDose(
                40, 0.4, 100, 150, DoseCheck(LimitLevelSeen.SOFT, "why", s.nurse.user_id)
            ),
            infusion_started_at=at(30),
        )
        uow.chair.save_session(updated)
        uow.chair.add_transition(
            row.id,
            TransitionRecord(
                Transition.BEGIN_CHECKS,
                SessionState.CHECKED_IN,
                SessionState.PRE_INFUSION_CHECKS,
                s.nurse,
                at(5),
            ),
        )
        uow.chair.add_check(
            row.id,
            CheckResult(CheckItem.ESCORT_CONFIRMED, CheckOutcome.PASSED, s.nurse, at(6), "ok"),
        )
        uow.chair.add_check(
            row.id,
            CheckResult(
                CheckItem.BASELINE_VITALS_WITHIN_LIMITS,
                CheckOutcome.FAILED,
                s.nurse,
                at(7),
                "186/104",
                hard=True,
            ),
        )
        uow.commit()
    with uow_factory() as uow:
        assert uow.chair.get_session(row.id) == updated
        (record,) = uow.chair.transitions(row.id)
        assert (record.to_state, record.at, record.by) == (
            SessionState.PRE_INFUSION_CHECKS,
            at(5),
            s.nurse,
        )
        checks = uow.chair.checks(row.id)
    assert [(c.item, c.outcome, c.hard) for c in checks] == [
        (CheckItem.ESCORT_CONFIRMED, CheckOutcome.PASSED, False),
        (CheckItem.BASELINE_VITALS_WITHIN_LIMITS, CheckOutcome.FAILED, True),
    ]


def test_the_administration_record_round_trips_and_refuses_a_second_entry_1(uow_factory) -> None:
    s = seed(uow_factory)
    start = StartInfusion(40, 0.4, 100, 150, "LOT-1", "PUMP-7")
    entries = [
        MarEntry(1, at(0), s.nurse, start),
        MarEntry(2, at(10), s.nurse, Pause("break")),
        MarEntry(3, at(12), s.nurse, Correction(2, Pause("patient asked"), "wrong reason", at(9))),
        MarEntry(4, at(13), s.nurse, Correction(1, None, "double charted")),
    ]
    with uow_factory() as uow:
        row = uow.chair.add_session(new_session(s))
        uow.chair.add_mar_entry(row.id, entries[0], at(0), DoseCheck(LimitLevelSeen.OK))
        for entry in entries[1:]:
            uow.chair.add_mar_entry(row.id, entry, entry.at)
        uow.commit()
    with uow_factory() as uow:
        stored = uow.chair.mar_entries(row.id)
        with pytest.raises(Conflict):
            uow.chair.add_mar_entry(row.id, MarEntry(1, at(20), s.nurse, start), at(20))
    assert [e.entry for e in stored] == entries
    assert stored[0].check == DoseCheck(LimitLevelSeen.OK)
    assert stored[1].check is None


def test_readings_keep_their_flag_and_only_usable_ones_count_as_latest(uow_factory) -> None:
    s = seed(uow_factory)
    readings = [
        VitalReading(VitalKind.BP_SYSTOLIC, 120, at(0), VitalSource.MANUAL, "8480-6"),
        VitalReading(VitalKind.HEART_RATE, 70, at(0), VitalSource.MONITOR, "147842"),
        VitalReading(VitalKind.BP_SYSTOLIC, 60, at(5), VitalSource.MONITOR, "150021"),
    ]
    with uow_factory() as uow:
        row = uow.chair.add_session(new_session(s))
        ids = uow.chair.add_readings(
            s.patients[0], readings, ["", "", FLAG_IMPLAUSIBLE], at(6), session_id=row.id
        )
        uow.chair.add_readings(
            s.patients[1], readings[:1], ["no_active_session"], at(6), session_id=None
        )
        uow.commit()
    with uow_factory() as uow:
        stored = uow.chair.session_readings(row.id)
        recent = uow.chair.session_readings(row.id, since=at(1))
        latest = uow.chair.latest_reading_times(row.id)
    assert [r.id for r in stored] == ids
    assert [r.reading for r in stored] == readings
    assert [r.flag for r in recent] == [FLAG_IMPLAUSIBLE]
    assert latest == {VitalKind.BP_SYSTOLIC: at(0), VitalKind.HEART_RATE: at(0)}


def test_a_batch_larger_than_one_insert_statement_keeps_every_reading_and_id(uow_factory) -> None:
    # 1,203 readings: SQLite sends them as three multi-row INSERTs (500 rows each at most).
    s = seed(uow_factory)
    readings = [
        VitalReading(VitalKind.HEART_RATE, 40 + n % 120, at(n / 10), VitalSource.MONITOR, "8867-4")
        for n in range(1203)
    ]
    flags = ["" if n % 7 else FLAG_IMPLAUSIBLE for n in range(1203)]
    with uow_factory() as uow:
        row = uow.chair.add_session(new_session(s))
        ids = uow.chair.add_readings(s.patients[0], readings, flags, at(200), session_id=row.id)
        uow.commit()
    with uow_factory() as uow:
        stored = {r.id: r for r in uow.chair.session_readings(row.id)}
    assert len(set(ids)) == 1203
    assert [stored[i].reading for i in ids] == readings
    assert [stored[i].flag for i in ids] == flags


def test_the_newest_reading_of_each_vital_and_a_thinned_trend(uow_factory) -> None:
    s = seed(uow_factory)
    with uow_factory() as uow:
        row = uow.chair.add_session(new_session(s))
        other = uow.chair.add_session(new_session(s, chair=1, patient=1))
        batch = [
            NewReading(
                s.patients[0],
                VitalReading(VitalKind.HEART_RATE, 60 + m, at(m), VitalSource.MONITOR),
                "",
                at(m),
                row.id,
            )
            for m in range(0, 60, 1)
        ]
        batch.append(
            NewReading(
                s.patients[0],
                VitalReading(VitalKind.HEART_RATE, 200, at(61), VitalSource.MONITOR),
                FLAG_IMPLAUSIBLE,
                at(61),
                row.id,
            )
        )
        batch.append(
            NewReading(
                s.patients[1],
                VitalReading(VitalKind.SPO2, 97, at(5), VitalSource.MONITOR),
                "",
                at(5),
                other.id,
            )
        )
        batch.append(
            NewReading(
                s.patients[1],
                VitalReading(VitalKind.SPO2, 99, at(5), VitalSource.MONITOR),
                "no_active_session",
                at(5),
                None,
            )
        )
        uow.chair.add_reading_batch(batch)
        uow.chair.touch_sessions([row.id, other.id], at(70))
        uow.commit()
    with uow_factory() as uow:
        latest = uow.chair.latest_readings([row.id, other.id], since=at(30))
        trend = uow.chair.series(
            row.id, [VitalKind.HEART_RATE], since=at(0), until=at(60), max_points=6
        )
        assert uow.chair.get_session(row.id).updated_at == at(70)
        assert len(uow.chair.session_readings(row.id)) == 61
    assert [(r.reading.kind, r.reading.value) for r in latest[row.id]] == [
        (VitalKind.HEART_RATE, 119)
    ]
    assert other.id not in latest  # its only reading is older than ``since``
    with uow_factory() as uow:
        everything = uow.chair.latest_readings([other.id], since=at(0))
    assert [r.reading.value for r in everything[other.id]] == [97]
    # 60 usable points (minute m holds 60 + m), at most 6: six 10-minute slices, each showing
    # its newest reading; the last slice is open, and the implausible 200 is left out.
    assert [v for _, v in trend[VitalKind.HEART_RATE]] == [69, 79, 89, 99, 109, 119]
    assert [at_ for at_, _ in trend[VitalKind.HEART_RATE]] == [
        at(m) for m in (9, 19, 29, 39, 49, 59)
    ]


def test_a_boards_records_are_read_for_several_sessions_at_once(uow_factory) -> None:
    # What the chair board reads per card (trend, MAR, side effects) comes from one query per
    # kind of record for all the chairs; each session gets exactly what it would alone.
    s = seed(uow_factory)
    start = StartInfusion(40, 0.4, 100, 150, "LOT-1", "PUMP-7")
    effect = SideEffectEntry(SideEffectKind.DIZZINESS, Severity.MILD, at(12), s.nurse)
    with uow_factory() as uow:
        first = uow.chair.add_session(new_session(s))
        second = uow.chair.add_session(new_session(s, chair=1, patient=1))
        uow.chair.add_reading_batch(
            [
                NewReading(
                    s.patients[n],
                    VitalReading(kind, base + m // 4, at(m), VitalSource.MONITOR),
                    "",
                    at(m),
                    row.id,
                )
                for n, row in enumerate((first, second))
                for kind, base in ((VitalKind.HEART_RATE, 60 + 40 * n), (VitalKind.SPO2, 90))
                for m in range(0, 30, 2)
            ]
        )
        uow.chair.add_mar_entry(second.id, MarEntry(1, at(0), s.nurse, start), at(0))
        uow.chair.add_mar_entry(second.id, MarEntry(2, at(9), s.nurse, Pause("break")), at(9))
        uow.chair.add_side_effect(first.id, effect, at(13))
        uow.chair.add_side_effect(second.id, replace(effect, onset_at=at(14)), at(14))
        uow.chair.add_side_effect(second.id, replace(effect, onset_at=at(3)), at(15))
        uow.commit()
    both = [first.id, second.id]
    kinds = [VitalKind.HEART_RATE]
    with uow_factory() as uow:
        trends = uow.chair.series_of(both, kinds, since=at(10), until=at(30), max_points=4)
        alone = {
            sid: uow.chair.series(sid, kinds, since=at(10), until=at(30), max_points=4)
            for sid in both
        }
        mar = uow.chair.mar_entries_of([*both, 10_000])
        effects = uow.chair.side_effects_of(both)
        effects_alone = {sid: uow.chair.side_effects(sid) for sid in both}
        assert uow.chair.series_of([], kinds, since=at(0), until=at(30), max_points=4) == {}
        quiet = uow.chair.series_of(both, kinds, since=at(40), until=at(50), max_points=4)
    assert trends == alone
    # Five-minute slices from minute 10; the newest even minute of each, the last slice open.
    newest = (14, 18, 24, 28)
    assert trends[first.id] == {VitalKind.HEART_RATE: [(at(m), 60 + m // 4) for m in newest]}
    assert [v for _, v in trends[second.id][VitalKind.HEART_RATE]] == [103, 104, 106, 107]
    assert quiet == {}  # no reading in the window: left out
    assert list(mar) == [second.id]  # the first session has no entries, 10,000 is no session
    assert [e.entry.id for e in mar[second.id]] == [1, 2]
    assert effects == effects_alone
    assert [e.entry.onset_at for e in effects[second.id]] == [at(3), at(14)]
    assert [e.session_id for e in effects[first.id]] == [first.id]


def _alert(s: Seed, row_id: int, spo2: float, minute: float) -> StoredAlert:
    reading = VitalReading(VitalKind.SPO2, spo2, at(minute), VitalSource.MONITOR, "150456")
    (finding,) = evaluate([reading], ReadingContext(Phase.INFUSION), DEFAULT_RULES)
    alert = Alert(id=0, first=finding, latest=finding, raised_at=at(minute))
    return StoredAlert(alert, row_id, s.patients[0], s.site, "monitor")


def test_one_open_alert_per_rule_and_the_life_cycle_round_trips(uow_factory) -> None:
    s = seed(uow_factory)
    with uow_factory() as uow:
        row = uow.chair.add_session(new_session(s))
        first = uow.chair.add_alert(_alert(s, row.id, 89, 1))
        uow.commit()
    assert first.id > 0
    with uow_factory() as uow, pytest.raises(Conflict):
        uow.chair.add_alert(_alert(s, row.id, 88, 2))
    acked = replace(first, alert=acknowledge(first.alert, s.nurse, at(3), "airway"))
    done = replace(acked, alert=resolve(acked.alert, s.nurse, at(4), "settled"))
    with uow_factory() as uow:
        uow.chair.save_alert(acked)
        uow.commit()
    with uow_factory() as uow:
        assert uow.chair.get_alert(first.id) == acked
        uow.chair.save_alert(done)
        second = uow.chair.add_alert(_alert(s, row.id, 87, 5))
        uow.commit()
    with uow_factory() as uow:
        assert uow.chair.get_alert(first.id).alert.state is AlertState.RESOLVED
        assert [a.id for a in uow.chair.session_alerts([row.id])] == [second.id, first.id]
        assert [a.id for a in uow.chair.session_alerts([row.id], open_only=True)] == [second.id]
        assert [a.id for a in uow.chair.site_alerts([s.site])] == [second.id]
        assert uow.chair.site_alerts([s.other_site]) == []
        assert uow.chair.get_alert(second.id).alert.first.threshold.provenance.reference


def test_side_effects_scores_and_assessments_round_trip(uow_factory) -> None:
    s = seed(uow_factory)
    effect = SideEffectEntry(
        SideEffectKind.OTHER,
        Severity.SEVERE,
        at(10),
        s.nurse,
        frozenset({Intervention.OXYGEN, Intervention.OTHER}),
        frozenset({SeriousCriterion.HOSPITALISATION}),
        other_text="rash",
        intervention_text="cool pack",
        resolved_at=at(30),
    )
    score = DissociationScore(0, Timepoint.PRE_DOSE, (1, 0, 2, 0, 0, 1), 4, s.nurse, at(1))
    with uow_factory() as uow:
        row = uow.chair.add_session(new_session(s))
        stored_effect = uow.chair.add_side_effect(row.id, effect, at(11))
        stored_score = uow.chair.add_dissociation(replace(score, session_id=row.id))
        assessment = uow.chair.add_assessment(
            StoredAssessment(
                row.id,
                at(200),
                s.nurse,
                DischargeScale.ALDRETE,
                AldreteScore(2, 2, 1, 2, 2),
                None,
                True,
                True,
                False,
                False,
                ("observation_time: 80 of 120 min",),
            )
        )
        uow.chair.review_side_effect(stored_effect.id, s.nurse.user_id, at(40))
        uow.commit()
    with uow_factory() as uow:
        (effect_back,) = uow.chair.side_effects(row.id)
        assert uow.chair.dissociation_scores(row.id) == [stored_score]
        assert uow.chair.assessments(row.id) == [assessment]
    assert effect_back.entry == effect
    assert (effect_back.reviewed_by, effect_back.reviewed_at) == (s.nurse.user_id, at(40))
    assert effect_back.entry.flagged_for_prescriber


def test_one_escalation_notice_per_alert_and_level(uow_factory) -> None:
    s = seed(uow_factory)
    with uow_factory() as uow:
        row = uow.chair.add_session(new_session(s))
        alert = uow.chair.add_alert(_alert(s, row.id, 89, 1))
        first = uow.chair.add_escalation(EscalationNotice(alert.id, row.id, s.site, 1, at(3)))
        uow.commit()
    assert first is not None
    assert first.id > 0
    assert first.state is NoticeState.PENDING
    with uow_factory() as uow:
        # A second sweeper recording the same level stores nothing, and its transaction goes on.
        assert (
            uow.chair.add_escalation(EscalationNotice(alert.id, row.id, s.site, 1, at(3))) is None
        )
        second = uow.chair.add_escalation(EscalationNotice(alert.id, row.id, s.site, 2, at(5)))
        uow.commit()
    with uow_factory() as uow:
        assert uow.chair.escalations([row.id]) == [first, second]
        assert uow.chair.escalations([row.id + 1000]) == []
        assert uow.chair.escalations([]) == []


def test_a_notice_is_claimed_by_one_caller_until_its_claim_runs_out(uow_factory) -> None:
    s = seed(uow_factory)
    with uow_factory() as uow:
        row = uow.chair.add_session(new_session(s))
        alert = uow.chair.add_alert(_alert(s, row.id, 89, 1))
        for level in (1, 2, 3):
            uow.chair.add_escalation(EscalationNotice(alert.id, row.id, s.site, level, at(level)))
        uow.commit()
    with uow_factory() as uow:
        claimed = uow.chair.claim_escalations(at(10), at(12), limit=2)
        uow.commit()
    assert [(n.level, n.attempts, n.claimed_until) for n in claimed] == [
        (1, 1, at(12)),
        (2, 1, at(12)),
    ]
    with uow_factory() as uow:
        # Held ones are not handed out again; the free one is.
        assert [n.level for n in uow.chair.claim_escalations(at(11), at(30))] == [3]
        uow.commit()
    with uow_factory() as uow:
        uow.chair.finish_escalation(claimed[0].id, NoticeState.SENT, at(11), recipients=3, sent=3)
        uow.chair.finish_escalation(
            claimed[1].id,
            NoticeState.PENDING,
            at(11),
            recipients=3,
            outcome="attempt 1: 3 of 3 failed",
            retry_at=at(20),
        )
        uow.commit()
    with uow_factory() as uow:
        assert uow.chair.claim_escalations(at(19), at(25)) == []
        uow.rollback()
    with uow_factory() as uow:
        (again,) = uow.chair.claim_escalations(at(20), at(25))
        uow.commit()
    assert (again.level, again.attempts, again.outcome) == (2, 2, "attempt 1: 3 of 3 failed")
    with uow_factory() as uow:
        sent, retried, third = uow.chair.escalations([row.id])
    assert (sent.state, sent.sent, sent.recipients, sent.finished_at) == (
        NoticeState.SENT,
        3,
        3,
        at(11),
    )
    assert sent.claimed_until is None
    assert (retried.state, retried.claimed_until, retried.finished_at) == (
        NoticeState.PENDING,
        at(25),
        None,
    )
    assert third.attempts == 1


def test_an_uncommitted_claim_leaves_the_notice_free(uow_factory) -> None:
    s = seed(uow_factory)
    with uow_factory() as uow:
        row = uow.chair.add_session(new_session(s))
        alert = uow.chair.add_alert(_alert(s, row.id, 89, 1))
        uow.chair.add_escalation(EscalationNotice(alert.id, row.id, s.site, 1, at(3)))
        uow.commit()
    with uow_factory() as uow:
        assert len(uow.chair.claim_escalations(at(4), at(6))) == 1
    with uow_factory() as uow:
        (notice,) = uow.chair.claim_escalations(at(4), at(6))
    assert notice.attempts == 1
