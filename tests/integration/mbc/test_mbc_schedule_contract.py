"""One contract for the ports issue 3 added to measurement-based care, held by the in-memory
fake, SQLite and PostgreSQL alike: a patient's infusion anchors (read from what the chair and
the schedule stored), self-report schedule settings and claimed slots, a page of responses, and
safety tasks of a site whatever their status."""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import replace

import pytest

from ketaclinic.adapters.db.engine import make_engine
from ketaclinic.adapters.db.uow import SqlUnitOfWorkFactory
from ketaclinic.domain.errors import Conflict
from ketaclinic.domain.instruments import score
from ketaclinic.domain.people import NewPatient, Role, Sex
from ketaclinic.domain.session_lifecycle import SessionState
from ketaclinic.services.chair_ports import NewSession
from ketaclinic.services.intake_models import NewVisit, Series, TreatmentPlan
from ketaclinic.services.mbc_model import (
    InfusionAnchor,
    QuestionnaireResponse,
    RequestOutcome,
    ResponseSource,
    ScheduleSettings,
    SlotKind,
)

T0 = dt.datetime(2026, 11, 20, 14, 0, tzinfo=dt.UTC)


def seed(uow_factory) -> dict[str, int]:
    with uow_factory() as uow:
        mia = uow.sites.add("MIA", "Miami", "America/New_York")
        fll = uow.sites.add("FLL", "Fort Lauderdale", "America/New_York")
        chairs = [uow.sites.add_chair(mia.id, f"MIA-{n}", f"Chair {n}") for n in (1, 2)]
        patients = [
            uow.patients.add(
                NewPatient(site, f"P-{n}", "Ana", "Ocampo", dt.date(1980, 1, 2), Sex.FEMALE), T0
            )
            for n, site in enumerate((mia.id, mia.id, mia.id, fll.id), start=1)
        ]
        nurse = uow.users.add("nurse.a", "Nurse A", Role.NURSE, frozenset({mia.id}), "hash")
        uow.commit()
    ids = {"mia": mia.id, "fll": fll.id, "nurse": nurse.id}
    ids |= {f"chair{n}": c.id for n, c in enumerate(chairs, start=1)}
    ids |= {f"p{n}": p.id for n, p in enumerate(patients, start=1)}
    return ids


def plan(uow, ids, patient: str, protocol: str, signed_at: dt.datetime) -> int:
    return uow.schedule.add_plan(
        TreatmentPlan(0, ids[patient], protocol, 0.5, signed_at.date(), ids["nurse"], signed_at)
    ).id


def book(uow, ids, patient: str, protocol: str, starts: list[dt.datetime], chair: str) -> Series:
    plan_id = plan(uow, ids, patient, protocol, min(starts) - dt.timedelta(days=5))
    return uow.schedule.add_series(
        Series(0, ids[patient], ids["mia"], plan_id, protocol, ids["nurse"], T0),
        [
            NewVisit(ids[chair], n, at, at + dt.timedelta(hours=2), at.date())
            for n, at in enumerate(starts, start=1)
        ],
    )


def session(uow, ids, patient: str, chair: str, started: dt.datetime | None, protocol: str) -> int:
    row = uow.chair.add_session(
        NewSession(ids[patient], ids["mia"], ids[chair], protocol, False, T0, ids["nurse"])
    )
    state = SessionState.DISCHARGED if started else SessionState.CANCELLED
    uow.chair.save_session(replace(row, state=state, infusion_started_at=started, closed_at=T0))
    return row.id


def test_anchors_come_from_sessions_visits_and_plans(uow_factory) -> None:
    ids = seed(uow_factory)
    day = dt.timedelta(days=1)
    with uow_factory() as uow:
        # p1: two series (the later-booked one has the earlier visit) and two started sessions
        # plus one cancelled before starting.
        book(uow, ids, "p1", "feder-2021", [T0 + 9 * day, T0 + 11 * day], "chair1")
        book(uow, ids, "p1", "abdallah-2022", [T0 + 2 * day, T0 + 20 * day], "chair2")
        session(uow, ids, "p1", "chair1", T0 + 5 * day, "abdallah-2022")
        session(uow, ids, "p1", "chair1", T0 + 3 * day, "abdallah-2022")
        session(uow, ids, "p1", "chair1", None, "abdallah-2022")
        # p2: two plans, no series, no session. p3: nothing. p4: another site.
        plan(uow, ids, "p2", "abdallah-2022", T0 + day)
        plan(uow, ids, "p2", "feder-2021", T0)
        plan(uow, ids, "p4", "feder-2021", T0)
        uow.commit()
    with uow_factory() as uow:
        anchors = uow.infusion_history.anchors(frozenset({ids["mia"]}))
        one = uow.infusion_history.anchor(ids["p1"])
        empty = uow.infusion_history.anchor(ids["p3"])
        starts = uow.infusion_history.session_starts(ids["p1"])
        unknown = uow.infusion_history.anchor(999_999)
    assert set(anchors) == {ids["p1"], ids["p2"]}
    assert anchors[ids["p1"]] == InfusionAnchor(
        patient_id=ids["p1"],
        site_id=ids["mia"],
        first_session_at=T0 + 3 * day,
        first_visit_at=T0 + 2 * day,
        first_visit_protocol="abdallah-2022",
        plan_protocol="abdallah-2022",  # the first signed plan (book() signs 5 days ahead)
    )
    assert one == anchors[ids["p1"]]
    assert anchors[ids["p2"]] == InfusionAnchor(ids["p2"], ids["mia"], plan_protocol="feder-2021")
    assert empty == InfusionAnchor(ids["p3"], ids["mia"])
    assert unknown is None
    assert [s.started_at for s in starts] == [T0 + 3 * day, T0 + 5 * day]
    assert {s.protocol_id for s in starts} == {"abdallah-2022"}


def test_booked_visits_list_every_series_oldest_first_without_cancelled_ones(uow_factory) -> None:
    ids = seed(uow_factory)
    day = dt.timedelta(days=1)
    with uow_factory() as uow:
        late = book(uow, ids, "p1", "feder-2021", [T0 + 9 * day, T0 + 11 * day], "chair1")
        book(uow, ids, "p1", "abdallah-2022", [T0 + 2 * day], "chair2")
        book(uow, ids, "p2", "feder-2021", [T0 + 4 * day], "chair2")
        uow.commit()
    with uow_factory() as uow:
        series = uow.schedule.get_series(late.id)
        uow.schedule.cancel_visit(series.visits[1].id, ids["nurse"], T0, "patient unwell")
        uow.commit()
    with uow_factory() as uow:
        visits = uow.infusion_history.booked_visits(ids["p1"])
        none = uow.infusion_history.booked_visits(ids["p3"])
    assert [(v.starts_at, v.ends_at, v.local_day, v.protocol_id) for v in visits] == [
        (
            T0 + 2 * day,
            T0 + 2 * day + dt.timedelta(hours=2),
            (T0 + 2 * day).date(),
            "abdallah-2022",
        ),
        (T0 + 9 * day, T0 + 9 * day + dt.timedelta(hours=2), (T0 + 9 * day).date(), "feder-2021"),
    ]
    assert visits[1].visit_id == series.visits[0].id
    assert none == []


def test_schedule_settings_are_saved_and_replaced(uow_factory) -> None:
    ids = seed(uow_factory)
    first = ScheduleSettings("feder-2021", ("pcl5", "phq9"), 48, ("pcl5",), 4, ids["nurse"], T0)
    with uow_factory() as uow:
        assert uow.self_report_schedules.settings("feder-2021") is None
        uow.self_report_schedules.save_settings(first)
        uow.self_report_schedules.save_settings(ScheduleSettings("a-proto", (), 12, (), 0))
        uow.commit()
    changed = replace(first, before_infusion=(), after_weeks=0, updated_at=T0 + dt.timedelta(1))
    with uow_factory() as uow:
        assert uow.self_report_schedules.settings("feder-2021") == first
        uow.self_report_schedules.save_settings(changed)
        uow.commit()
    with uow_factory() as uow:
        assert uow.self_report_schedules.all_settings() == [
            ScheduleSettings("a-proto", (), 12, (), 0),
            changed,
        ]


def claim(uow, ids, key: str, outcome=RequestOutcome.NO_EMAIL, patient: str = "p1", **extra):
    site = "fll" if patient == "p4" else "mia"
    return uow.self_report_schedules.claim(
        patient_id=ids[patient],
        site_id=ids[site],
        slot_key=key,
        kind=SlotKind.BEFORE_INFUSION,
        due_at=T0 + dt.timedelta(hours=len(key)),
        instrument_ids=("pcl5", "phq9"),
        created_at=T0,
        outcome=outcome,
        **extra,
    )


def test_a_slot_is_claimed_once_and_the_refusal_leaves_the_unit_usable(uow_factory) -> None:
    ids = seed(uow_factory)
    with uow_factory() as uow:
        first = claim(uow, ids, "visit-1")
        with pytest.raises(Conflict):
            claim(uow, ids, "visit-1", RequestOutcome.PENDING)
        other_patient = claim(uow, ids, "visit-1", patient="p2")
        uow.commit()
    with uow_factory() as uow:
        assert [r.id for r in uow.self_report_schedules.for_patient(ids["p1"])] == [first.id]
        stored = uow.self_report_schedules.get(first.id)
        assert stored == first
        assert stored.kind is SlotKind.BEFORE_INFUSION
        assert stored.instrument_ids == ("pcl5", "phq9")
        assert uow.self_report_schedules.get(other_patient.id).patient_id == ids["p2"]


def test_notices_are_those_needing_a_person_and_close_once(uow_factory) -> None:
    ids = seed(uow_factory)
    with uow_factory() as uow:
        link = uow.self_report_links.add(
            patient_id=ids["p1"],
            site_id=ids["mia"],
            token_hash="c" * 64,
            instrument_ids=("pcl5",),
            created_by=None,
            created_at=T0,
            expires_at=T0 + dt.timedelta(days=2),
            language="en",
            due_at=None,
        )
        mailed = claim(uow, ids, "visit-10", RequestOutcome.PENDING, link_id=link.id)
        no_email = claim(uow, ids, "visit-2")
        failed = claim(uow, ids, "series-1-week-1", RequestOutcome.PENDING)
        elsewhere = claim(uow, ids, "visit-3", patient="p4")
        uow.self_report_schedules.set_outcome(mailed.id, RequestOutcome.MAILED)
        uow.self_report_schedules.set_outcome(failed.id, RequestOutcome.MAIL_FAILED)
        uow.commit()
    with uow_factory() as uow:
        notices = uow.self_report_schedules.open_notices(frozenset({ids["mia"]}))
        assert [n.id for n in notices] == [no_email.id, failed.id]  # by due time
        assert uow.self_report_schedules.get(mailed.id).link_id == link.id
        assert not uow.self_report_schedules.close_notice(mailed.id, closed_by=1, closed_at=T0)
        assert uow.self_report_schedules.close_notice(
            no_email.id, closed_by=ids["nurse"], closed_at=T0
        )
        assert not uow.self_report_schedules.close_notice(
            no_email.id, closed_by=ids["nurse"], closed_at=T0
        )
        uow.commit()
    with uow_factory() as uow:
        done = uow.self_report_schedules.get(no_email.id)
        assert (done.notice_closed_by, done.notice_closed_at) == (ids["nurse"], T0)
        assert [n.id for n in uow.self_report_schedules.open_notices(frozenset({ids["mia"]}))] == [
            failed.id
        ]
        fll = uow.self_report_schedules.open_notices(frozenset({ids["fll"]}))
        assert [n.id for n in fll] == [elsewhere.id]


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_two_sweeps_claiming_at_once_store_one_claim(kind, provision_db) -> None:
    """The second claim waits for the first transaction and is then refused by the database."""
    engine = make_engine(provision_db(kind))
    factory = SqlUnitOfWorkFactory(engine)
    ids = seed(factory)
    outcomes: list[str] = []
    first = factory()
    first.__enter__()
    claim(first, ids, "visit-7")

    def second() -> None:
        with factory() as uow:
            try:
                claim(uow, ids, "visit-7")
                uow.commit()
                outcomes.append("claimed")
            except Conflict:
                outcomes.append("refused")

    thread = threading.Thread(target=second)
    thread.start()
    thread.join(0.5)  # it is waiting for the first transaction
    first.commit()
    first.__exit__(None, None, None)
    thread.join(30)
    assert outcomes == ["refused"]
    with factory() as uow:
        assert len(uow.self_report_schedules.for_patient(ids["p1"])) == 1
    engine.dispose()


def test_responses_page_newest_first_with_the_total(uow_factory) -> None:
    ids = seed(uow_factory)
    with uow_factory() as uow:
        for n in range(5):
            at = T0 + dt.timedelta(days=n)
            uow.responses.add(
                QuestionnaireResponse.scored(
                    score("phq9", [n % 4] * 9),
                    patient_id=ids["p1"],
                    source=ResponseSource.SELF_REPORT,
                    entered_by=None,
                    completed_at=at,
                    language="en",
                ),
                at,
            )
        uow.commit()
    with uow_factory() as uow:
        page, total = uow.responses.page_for_patient(ids["p1"], limit=2, offset=1)
        rest, _ = uow.responses.page_for_patient(ids["p1"], limit=10, offset=3)
        none, zero = uow.responses.page_for_patient(ids["p2"], limit=10)
    assert total == 5
    assert [r.completed_at for r in page] == [T0 + dt.timedelta(days=3), T0 + dt.timedelta(days=2)]
    assert [r.total for r in rest] == [9, 0]
    assert (none, zero) == ([], 0)


def test_safety_tasks_of_sites_come_newest_first_whatever_their_status(uow_factory) -> None:
    ids = seed(uow_factory)
    with uow_factory() as uow:
        made = [
            uow.safety_tasks.add(
                patient_id=ids[p],
                site_id=ids[s],
                response_id=None,
                reason="phq9_item9_positive",
                raised_at=T0 + dt.timedelta(hours=n),
                due_at=T0 + dt.timedelta(days=1),
            )
            for n, (p, s) in enumerate((("p1", "mia"), ("p2", "mia"), ("p4", "fll")))
        ]
        uow.safety_tasks.close(made[0].id, closed_by=ids["nurse"], closed_at=T0, action="Called")
        uow.commit()
    with uow_factory() as uow:
        mia = uow.safety_tasks.for_sites(frozenset({ids["mia"]}))
        both = uow.safety_tasks.for_sites(frozenset({ids["mia"], ids["fll"]}), limit=2)
    assert [t.id for t in mia] == [made[1].id, made[0].id]
    assert not mia[1].is_open
    assert [t.id for t in both] == [made[2].id, made[1].id]
