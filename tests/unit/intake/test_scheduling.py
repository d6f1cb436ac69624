"""Booking a series, moving a visit, the day view and the end-of-series decision
(services/intake_schedule, services/intake_review).

The clinic: MIA has chairs MIA-1 and MIA-2, open Monday–Friday 08:00–18:00; a feder-2021 visit
holds a chair 180 min (20 set-up + 40 infusion + 120 observation), so three visits fit a chair a
day (08:00, 11:00, 14:00). The clock stands on Monday 23 November 2026, 07:00 in Miami (UTC−5).
"""

from __future__ import annotations

import datetime as dt

import pytest

from ketaclinic.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from ketaclinic.domain.instruments import score
from ketaclinic.services import intake_review, intake_schedule
from ketaclinic.services.intake_models import InductionDecision, NewVisit, Series, TreatmentPlan
from ketaclinic.services.mbc_model import QuestionnaireResponse, ResponseSource

MIAMI = dt.timezone(dt.timedelta(hours=-5))  # November: Eastern Standard Time
FEDER_DAYS = [dt.date(2026, 11, d) for d in (23, 25, 27, 30)] + [
    dt.date(2026, 12, 2),
    dt.date(2026, 12, 4),
]


def book(clinic, mrn="P-1", start=dt.date(2026, 11, 23), who="front_desk.mia"):  # type: ignore[no-untyped-def]
    with clinic.uow() as uow:
        return intake_schedule.book_series(
            uow, clinic.clock, clinic.actor(who), clinic.patients[mrn], start
        )


def all_visits(clinic):  # type: ignore[no-untyped-def]
    with clinic.uow() as uow:
        return [v for p in clinic.patients.values() for v in uow.schedule.patient_visits(p)]


def local(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(MIAMI).replace(tzinfo=None)


def test_a_patient_who_is_not_cleared_cannot_be_booked(clinic) -> None:
    with pytest.raises(Conflict) as refused:
        book(clinic)
    message = refused.value.message
    assert "no intake has been recorded" in message
    assert "consent version 1 is not signed" in message
    assert "no treatment plan is signed" in message
    assert all_visits(clinic) == []


def test_unsigned_eligibility_blocks_booking_even_with_consent_and_plan(clinic) -> None:
    clinic.clear()
    clinic.clock.advance(minutes=1)
    clinic.record()  # a newer intake, not yet signed
    with pytest.raises(Conflict, match="not signed by a prescriber"):
        book(clinic)


def test_a_whole_series_is_booked_on_the_protocol_dates_at_the_earliest_chair(clinic) -> None:
    clinic.clear()
    series = book(clinic)
    assert [v.local_day for v in series.visits] == FEDER_DAYS
    assert [v.number for v in series.visits] == [1, 2, 3, 4, 5, 6]
    first = series.visits[0]
    assert local(first.starts_at) == dt.datetime(2026, 11, 23, 8, 0)
    assert first.ends_at - first.starts_at == dt.timedelta(minutes=180)
    assert {v.chair_id for v in series.visits} == {clinic.chairs["MIA-1"]}
    with clinic.uow() as uow:
        entry = list(uow.audit.entries())[-1]
    assert (entry.record.resource, entry.record.patient_id) == ("series", clinic.patients["P-1"])


def test_a_series_cannot_start_in_the_past(clinic) -> None:
    clinic.clear()
    with pytest.raises(InvalidInput, match=r"start_date: got '2026-11-22'.*today \(2026-11-23\)"):
        book(clinic, start=dt.date(2026, 11, 22))


def test_slots_already_past_today_are_not_offered(clinic) -> None:
    clinic.clear()
    clinic.clock.advance(hours=2, minutes=31)  # 09:31 in Miami
    series = book(clinic)
    assert local(series.visits[0].starts_at) == dt.datetime(2026, 11, 23, 9, 45)


def test_two_patients_never_share_a_chair(clinic) -> None:
    clinic.clear("P-1")
    clinic.clear("P-2")
    one, two = book(clinic, "P-1"), book(clinic, "P-2")
    assert [v.starts_at for v in one.visits] == [v.starts_at for v in two.visits]
    assert {v.chair_id for v in two.visits} == {clinic.chairs["MIA-2"]}
    visits = all_visits(clinic)
    for a in visits:
        for b in visits:
            if a.id != b.id and a.chair_id == b.chair_id:
                assert a.ends_at <= b.starts_at or b.ends_at <= a.starts_at


def occupy(clinic, day: dt.date, spans: list[tuple[str, int, int]]) -> None:  # type: ignore[no-untyped-def]
    """Store visits of P-2 straight into the schedule: (chair, from hour, to hour) in Miami."""
    visits = []
    for number, (code, begin, end) in enumerate(spans, start=1):
        start = dt.datetime.combine(day, dt.time(begin), tzinfo=MIAMI).astimezone(dt.UTC)
        length = dt.timedelta(hours=end - begin)
        visits.append(NewVisit(clinic.chairs[code], number, start, start + length, day))
    with clinic.uow() as uow:
        plan = uow.schedule.add_plan(
            TreatmentPlan(0, clinic.patients["P-2"], "feder-2021", 0.5, day, 1, clinic.clock.now())
        )
        series = Series(
            0, clinic.patients["P-2"], clinic.mia, plan.id, "feder-2021", 1, plan.signed_at
        )
        uow.schedule.add_series(series, visits)
        uow.commit()


def fill_wednesday(clinic) -> None:  # type: ignore[no-untyped-def]
    """Both MIA chairs taken all day on Wednesday 25 November."""
    occupy(clinic, dt.date(2026, 11, 25), [("MIA-1", 8, 18), ("MIA-2", 8, 18)])


def test_a_date_without_a_free_chair_is_named_and_nothing_is_booked(clinic) -> None:
    clinic.clear()
    fill_wednesday(clinic)
    with pytest.raises(Conflict, match=r"2026-11-25: every chair \(2\) is booked"):
        book(clinic)
    with clinic.uow() as uow:
        assert uow.schedule.series_for(clinic.patients["P-1"]) == []


def test_the_refusal_names_the_earliest_series_that_fits(clinic) -> None:
    clinic.clear()
    fill_wednesday(clinic)
    with pytest.raises(Conflict) as refused:
        book(clinic)
    assert refused.value.field == "start_date"
    # From Monday the shifted Wednesday pushes the series past two weeks; Wednesday is full;
    # Friday 27 November starts a series whose dates are all free.
    assert "earliest possible: 2026-11-27 08:00 MIA-1, 2026-11-30 08:00 MIA-1" in (
        refused.value.message
    )


def test_booking_the_earliest_series_takes_the_first_one_that_fits(clinic) -> None:
    clinic.clear()
    fill_wednesday(clinic)
    with clinic.uow() as uow:
        series = intake_schedule.book_series(
            uow,
            clinic.clock,
            clinic.actor("front_desk.mia"),
            clinic.patients["P-1"],
            dt.date(2026, 11, 23),
            earliest=True,
        )
        entry = list(uow.audit.entries())[-1]
    assert [v.local_day for v in series.visits] == [
        dt.date(2026, 11, 27),
        dt.date(2026, 11, 30),
        dt.date(2026, 12, 2),
        dt.date(2026, 12, 4),
        dt.date(2026, 12, 7),
        dt.date(2026, 12, 9),
    ]
    assert entry.record.detail == "feder-2021, 6 visits, earliest"


def test_booking_the_earliest_series_when_the_dates_are_free_books_the_planned_ones(
    clinic,
) -> None:
    clinic.clear()
    with clinic.uow() as uow:
        series = intake_schedule.book_series(
            uow,
            clinic.clock,
            clinic.actor("front_desk.mia"),
            clinic.patients["P-1"],
            dt.date(2026, 11, 23),
            earliest=True,
        )
    assert [v.local_day for v in series.visits] == FEDER_DAYS


def test_the_earliest_series_avoids_the_patients_other_visit_days(clinic) -> None:
    clinic.clear()
    book(clinic)  # Mon 23 Nov – Fri 4 Dec
    with clinic.uow() as uow:
        series = intake_schedule.book_series(
            uow,
            clinic.clock,
            clinic.actor("front_desk.mia"),
            clinic.patients["P-1"],
            dt.date(2026, 11, 23),
            earliest=True,
        )
    assert series.visits[0].local_day == dt.date(2026, 12, 7)
    assert not set(FEDER_DAYS) & {v.local_day for v in series.visits}


def test_a_patient_is_not_booked_twice_on_one_day(clinic) -> None:
    clinic.clear()
    book(clinic)
    with pytest.raises(Conflict, match="already has a visit on 2026-11-25"):
        book(clinic, start=dt.date(2026, 11, 25))


def move(clinic, series, number, day, at=None, chair=None, who="front_desk.mia"):  # type: ignore[no-untyped-def]
    with clinic.uow() as uow:
        return intake_schedule.reschedule_visit(
            uow, clinic.clock, clinic.actor(who), clinic.patients["P-1"], series.id, number, day,
            at=at, chair_code=chair,
        )  # fmt: skip


def test_moving_a_visit_keeps_the_protocols_spacing_or_says_why(clinic) -> None:
    clinic.clear()
    series = book(clinic)
    with pytest.raises(InvalidInput, match=r"visits 2 and 3 are 1 day\(s\) apart"):
        move(clinic, series, 2, dt.date(2026, 11, 26))
    with pytest.raises(InvalidInput, match="must finish within 2 week"):
        move(clinic, series, 6, dt.date(2026, 12, 7))
    with pytest.raises(Conflict, match="closed on Saturdays"):
        move(clinic, series, 6, dt.date(2026, 12, 5))
    with clinic.uow() as uow:
        unchanged = uow.schedule.get_series(series.id)
    assert unchanged == series


def test_a_visit_moves_to_a_time_and_chair_the_staff_choose(clinic) -> None:
    clinic.clear()
    series = book(clinic)
    moved = move(clinic, series, 6, dt.date(2026, 12, 4), at=dt.time(14, 0), chair="MIA-2")
    last = moved.visits[5]
    assert local(last.starts_at) == dt.datetime(2026, 12, 4, 14, 0)
    assert last.chair_id == clinic.chairs["MIA-2"]
    assert moved.visits[:5] == series.visits[:5]


def test_a_visit_is_not_moved_outside_hours(clinic) -> None:
    clinic.clear()
    series = book(clinic)
    with pytest.raises(
        InvalidInput, match=r"open 08:00–18:00 on Mondays; the visit would run 16:30–19:30"
    ):
        move(clinic, series, 1, dt.date(2026, 11, 23), at=dt.time(16, 30))


def test_a_visit_is_not_moved_onto_a_full_chair(clinic) -> None:
    clinic.clear()
    series = book(clinic)  # visit 3: Friday 27 November, 08:00–11:00 on MIA-1
    occupy(clinic, dt.date(2026, 11, 27), [("MIA-1", 11, 18), ("MIA-2", 8, 18)])
    with pytest.raises(Conflict, match="every chair of MIA is booked at 2026-11-27 14:00"):
        move(clinic, series, 3, dt.date(2026, 11, 27), at=dt.time(14, 0))
    with pytest.raises(Conflict, match="chair_id"):
        move(clinic, series, 3, dt.date(2026, 11, 27), at=dt.time(14, 0), chair="MIA-2")
    with clinic.uow() as uow:
        assert uow.schedule.get_series(series.id) == series


def test_a_visit_that_has_begun_cannot_be_moved(clinic) -> None:
    clinic.clear()
    series = book(clinic)
    clinic.clock.advance(hours=1, minutes=5)  # 08:05: visit 1 began at 08:00
    with pytest.raises(Conflict, match="began"):
        move(clinic, series, 1, dt.date(2026, 11, 23), at=dt.time(11, 0))


def test_another_patients_series_is_not_found(clinic) -> None:
    clinic.clear("P-2")
    other = book(clinic, "P-2")
    before = clinic.denied()
    with pytest.raises(NotFound):
        move(clinic, other, 1, dt.date(2026, 11, 23))
    assert clinic.denied() == before + 1


def test_the_day_view_shows_each_chair_and_who_sits_there(clinic) -> None:
    clinic.clear("P-1")
    clinic.clear("P-2")
    book(clinic, "P-1")
    book(clinic, "P-2")
    with clinic.uow() as uow:
        view = intake_schedule.day_view(
            uow, clinic.clock, clinic.actor("front_desk.mia"), clinic.mia, dt.date(2026, 11, 23)
        )
    assert [c.code for c in view.chairs] == ["MIA-1", "MIA-2"]
    assert view.hours is not None
    assert view.hours.opens == dt.time(8)
    assert [(e.chair_code, e.mrn, e.start.time()) for e in view.entries] == [
        ("MIA-1", "P-1", dt.time(8)),
        ("MIA-2", "P-2", dt.time(8)),
    ]
    assert view.entries[0].of == 6


def test_another_sites_day_view_is_not_found(clinic) -> None:
    before = clinic.denied()
    with clinic.uow() as uow, pytest.raises(NotFound):
        intake_schedule.day_view(
            uow, clinic.clock, clinic.actor("front_desk.fll"), clinic.mia, dt.date(2026, 11, 23)
        )
    assert clinic.denied() == before + 1


def test_only_the_director_sets_clinic_hours_and_they_are_validated(clinic) -> None:
    from ketaclinic.domain.scheduling import OpeningHours

    saturday = (OpeningHours(5, dt.time(9), dt.time(13)),)
    with clinic.uow() as uow, pytest.raises(PermissionDenied):
        intake_schedule.set_clinic_hours(
            uow, clinic.clock, clinic.actor("front_desk.mia"), clinic.mia, saturday
        )
    with clinic.uow() as uow, pytest.raises(InvalidInput, match="slot_min"):
        intake_schedule.set_clinic_hours(
            uow, clinic.clock, clinic.actor("director.mia"), clinic.mia, saturday, slot_min=3
        )
    with clinic.uow() as uow:
        saved = intake_schedule.set_clinic_hours(
            uow, clinic.clock, clinic.actor("director.mia"), clinic.mia, saturday
        )
    assert saved.hours == saturday


def pcl5_response(clinic, day: dt.date, level: int):  # type: ignore[no-untyped-def]
    answers = {f"pcl5_{n:02d}": level for n in range(1, 21)}
    response = QuestionnaireResponse.scored(
        score("pcl5", answers),
        patient_id=clinic.patients["P-1"],
        source=ResponseSource.STAFF_ENTRY,
        entered_by=None,
        completed_at=dt.datetime.combine(day, dt.time(15), tzinfo=dt.UTC),
        language="en",
    )
    with clinic.uow() as uow:
        uow.responses.add(response, clinic.clock.now())
        uow.commit()


def review(clinic, series, who="prescriber.mia"):  # type: ignore[no-untyped-def]
    with clinic.uow() as uow:
        return intake_review.induction_review(
            uow, clinic.clock, clinic.actor(who), clinic.patients["P-1"], series.id
        )


def decide(clinic, series, decision=InductionDecision.MAINTENANCE, who="prescriber.mia"):  # type: ignore[no-untyped-def]
    with clinic.uow() as uow:
        return intake_review.record_induction_decision(
            uow, clinic.clock, clinic.actor(who), clinic.patients["P-1"], series.id, decision,
            "boosters monthly",
        )  # fmt: skip


def test_the_decision_waits_for_the_last_infusion(clinic) -> None:
    clinic.clear()
    series = book(clinic)
    assert not review(clinic, series).finished
    with pytest.raises(Conflict, match="2026-12-04; decide after it"):
        decide(clinic, series)


def test_without_follow_up_scores_the_review_shows_the_intake_baseline_only(clinic) -> None:
    clinic.clear()
    series = book(clinic)
    clinic.clock.advance(days=12)
    seen = review(clinic, series)
    assert seen.finished
    assert seen.outcome is None
    assert seen.baseline is not None
    assert (seen.baseline.on, seen.baseline.total) == (dt.date(2026, 11, 20), 40.0)


def test_follow_up_scores_are_judged_against_the_baseline(clinic) -> None:
    clinic.clear()
    series = book(clinic)
    pcl5_response(clinic, dt.date(2026, 12, 4), 1)  # total 20: −50 % from 40
    clinic.clock.advance(days=12)
    seen = review(clinic, series)
    assert seen.outcome is not None
    (point,) = seen.outcome.points
    assert (point.total, point.response, point.remission) == (20.0, True, True)


def test_the_prescriber_records_the_decision_once(clinic) -> None:
    clinic.clear()
    series = book(clinic)
    clinic.clock.advance(days=12)
    with pytest.raises(PermissionDenied):
        decide(clinic, series, who="nurse.mia")
    decided = decide(clinic, series)
    assert decided.decision is InductionDecision.MAINTENANCE
    assert decided.decided_by == clinic.actor("prescriber.mia").user_id
    assert decided.decision_note == "boosters monthly"
    with pytest.raises(Conflict, match="already recorded"):
        decide(clinic, series, InductionDecision.STOP)
