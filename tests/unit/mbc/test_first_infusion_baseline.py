"""The baseline is the last PCL-5 on or before the first infusion, found in storage: the first
infusion session that started, else the first booked visit of the patient's series
(services/mbc.patient_outcomes, services/mbc_timeline.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from ketaclinic.domain.errors import NotFound, PermissionDenied
from ketaclinic.domain.instruments import score
from ketaclinic.services import mbc
from ketaclinic.services.mbc_model import InfusionAnchor, QuestionnaireResponse, ResponseSource
from ketaclinic.services.mbc_timeline import InfusionSource, first_infusion, protocol_of

T0 = dt.datetime(2026, 11, 20, 14, 0, tzinfo=dt.UTC)  # 09:00 in Miami


def day(n: int, hour: int = 14) -> dt.datetime:
    return T0.replace(hour=hour) + dt.timedelta(days=n)


def answers_for(total: int) -> list[int]:
    return [min(4, max(0, total - 4 * n)) for n in range(20)]


def put(world, n: int, total: int, patient: int | None = None) -> None:
    at = day(n)
    with world.uow() as uow:
        uow.responses.add(
            QuestionnaireResponse.scored(
                score("pcl5", answers_for(total)),
                patient_id=patient or world.patient,
                source=ResponseSource.STAFF_ENTRY,
                entered_by=None,
                completed_at=at,
                language="en",
            ),
            at,
        )
        uow.commit()


def outcomes(world, who: str = "nurse.mia", patient: int | None = None):
    with world.uow() as uow:
        return mbc.patient_outcomes(uow, world.clock, world.actor(who), patient or world.patient)


def test_a_started_session_anchors_the_baseline(world) -> None:
    for n, total in ((-30, 60), (-10, 50), (-7, 48), (-3, 30)):
        put(world, n, total)
    world.infuse(world.patient, day(-7, hour=16))  # 11:00 in Miami, after that day's score
    view = outcomes(world)
    assert view.first_infusion is not None
    assert view.first_infusion.source is InfusionSource.SESSION
    assert view.first_infusion.on == day(-7).date()
    assert view.outcome is not None
    # A score on the day of the first infusion counts as baseline (taken before dosing).
    assert (view.outcome.baseline.on, view.outcome.baseline.total) == (day(-7).date(), 48)
    assert [p.total for p in view.outcome.points] == [30]
    assert view.outcome.points[0].days_since_first_infusion == 4
    assert view.baseline_rule == f"last PCL-5 on or before the first infusion ({day(-7).date()})"
    assert "the last one on or before the first infusion" in view.baseline_reason
    assert "infusion session started" in view.baseline_reason
    assert [s.total for s in view.scores] == [60, 50, 48, 30]


def test_without_a_session_the_first_booked_visit_anchors_it(world) -> None:
    for n, total in ((-20, 55), (-15, 52), (-12, 50), (-5, 35)):
        put(world, n, total)
    world.book(world.patient, "abdallah-2022", [day(-14, 13), day(-10, 13), day(-7, 13)])
    view = outcomes(world)
    assert view.first_infusion is not None
    assert view.first_infusion.source is InfusionSource.VISIT
    assert view.first_infusion.protocol_id == "abdallah-2022"
    assert view.outcome is not None
    assert view.outcome.baseline.total == 52  # day −15, the last on or before day −14
    assert [p.total for p in view.outcome.points] == [50, 35]
    assert "first booked visit of the abdallah-2022 series" in view.baseline_reason


def test_a_started_session_wins_over_an_earlier_booked_visit(world) -> None:
    for n, total in ((-20, 55), (-12, 50), (-5, 35)):
        put(world, n, total)
    world.book(world.patient, "feder-2021", [day(-14, 13)])  # booked, never infused
    world.infuse(world.patient, day(-8, 15))
    view = outcomes(world)
    assert view.first_infusion is not None
    assert view.first_infusion.source is InfusionSource.SESSION
    assert view.outcome is not None
    assert view.outcome.baseline.total == 50


def test_a_booked_visit_still_ahead_makes_the_latest_score_the_baseline(world) -> None:
    for n, total in ((-20, 55), (-6, 50)):
        put(world, n, total)
    world.book(world.patient, "feder-2021", [day(3, 13), day(5, 13)])
    view = outcomes(world)
    assert view.outcome is not None
    assert view.outcome.baseline.total == 50
    assert view.outcome.points == ()
    assert view.note.startswith("Only a baseline so far")


def test_with_no_infusion_the_first_score_is_the_baseline_and_the_view_says_why(world) -> None:
    for n, total in ((-20, 55), (-6, 40)):
        put(world, n, total)
    view = outcomes(world)
    assert view.first_infusion is None
    assert view.outcome is not None
    assert view.outcome.baseline.total == 55
    assert "no infusion session or booked visit" in view.baseline_rule
    assert "because no infusion session or booked visit is recorded yet" in view.baseline_reason


def test_a_first_infusion_before_every_score_leaves_no_baseline(world) -> None:
    put(world, -5, 40)
    world.infuse(world.patient, day(-9))
    view = outcomes(world)
    assert view.outcome is None
    assert "before the first infusion" in view.note
    assert view.scores[0].total == 40


def test_infusion_starts_are_listed_audited_and_scoped(world) -> None:
    world.infuse(world.patient, day(-9))
    world.infuse(world.patient, day(-2))
    with world.uow() as uow:
        starts = mbc.infusion_starts(uow, world.clock, world.actor("nurse.mia"), world.patient)
        audited = [
            e
            for e in uow.audit.for_patient(world.patient)
            if e.record.resource == "infusion_session"
        ]
    assert [s.started_at for s in starts] == [day(-9), day(-2)]
    assert audited
    with world.uow() as uow, pytest.raises(PermissionDenied):
        mbc.infusion_starts(uow, world.clock, world.actor("frontdesk.mia"), world.patient)
    with world.uow() as uow, pytest.raises(NotFound):
        mbc.infusion_starts(uow, world.clock, world.actor("nurse.mia"), world.fll_patient)


def test_the_plot_marks_past_visits_with_no_session_started_that_day(world) -> None:
    # Visits 9 and 4 days ago and tomorrow; the pump ran only on the first (an hour after its
    # booked start). The visit of 4 days ago has no session; tomorrow's is not past.
    world.book(world.patient, "feder-2021", [day(-9), day(-4), day(1)])
    world.infuse(world.patient, day(-9, hour=15))
    with world.uow() as uow:
        marks = mbc.infusion_marks(uow, world.clock, world.actor("nurse.mia"), world.patient)
        audited = [
            e.record.detail
            for e in uow.audit.for_patient(world.patient)
            if e.record.resource == "infusion_session"
        ]
    assert [s.started_at for s in marks.starts] == [day(-9, hour=15)]
    assert [v.starts_at for v in marks.visits_without_session] == [day(-4)]
    assert marks.visits_without_session[0].protocol_id == "feder-2021"
    assert audited == ["1 infusion starts, 1 visits without a session"]
    with world.uow() as uow, pytest.raises(PermissionDenied):
        mbc.infusion_marks(uow, world.clock, world.actor("frontdesk.mia"), world.patient)
    with world.uow() as uow, pytest.raises(NotFound):
        mbc.infusion_marks(uow, world.clock, world.actor("nurse.mia"), world.fll_patient)


def test_a_visit_still_under_way_is_not_marked_as_missed(world) -> None:
    world.book(world.patient, "feder-2021", [world.clock.now() - dt.timedelta(minutes=30)])
    with world.uow() as uow:
        marks = mbc.infusion_marks(uow, world.clock, world.actor("nurse.mia"), world.patient)
    assert marks.visits_without_session == ()


def test_the_protocol_is_the_first_series_else_the_first_plan() -> None:
    at = dt.datetime(2026, 11, 2, 14, tzinfo=dt.UTC)
    series = InfusionAnchor(1, 1, None, at, "abdallah-2022", "feder-2021")
    plan_only = InfusionAnchor(1, 1, at, None, None, "feder-2021")
    assert protocol_of(series) == "abdallah-2022"
    assert protocol_of(plan_only) == "feder-2021"
    assert protocol_of(None) is None
    assert first_infusion(InfusionAnchor(1, 1, plan_protocol="feder-2021"), "UTC") is None
    # 02:00 UTC on 3 November is still 2 November in Miami.
    late = InfusionAnchor(1, 1, dt.datetime(2026, 11, 3, 2, tzinfo=dt.UTC))
    found = first_infusion(late, "America/New_York")
    assert found is not None
    assert found.on == dt.date(2026, 11, 2)
