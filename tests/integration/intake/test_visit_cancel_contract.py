"""The contract of cancelling a visit (``ScheduleRepository.cancel_visit``) on the in-memory
fake, SQLite and PostgreSQL: the visit leaves the schedule, its chair and start are free to
book again, and it is kept on its series with who, when and why."""

from __future__ import annotations

import datetime as dt

import pytest

from ketaclinic.domain.errors import NotFound
from ketaclinic.domain.people import NewPatient, Role, Sex
from ketaclinic.services.intake_models import NewVisit, Series, TreatmentPlan

T0 = dt.datetime(2026, 11, 20, 14, 0, tzinfo=dt.UTC)
MONDAY = dt.datetime(2026, 11, 23, 13, 0, tzinfo=dt.UTC)


def visit(chair: int, number: int, start: dt.datetime) -> NewVisit:
    return NewVisit(chair, number, start, start + dt.timedelta(hours=3), start.date())


def seed(uow_factory) -> tuple[int, int, int, Series]:  # type: ignore[no-untyped-def]
    """Site MIA with a chair, a front-desk user, and a patient with a three-visit series on
    that chair (Monday, Wednesday, Friday 13:00 UTC)."""
    with uow_factory() as uow:
        mia = uow.sites.add("MIA", "Miami", "America/New_York")
        chair = uow.sites.add_chair(mia.id, "MIA-1", "Chair 1").id
        user = uow.users.add("desk.a", "Desk A", Role.FRONT_DESK, frozenset({mia.id}), "hash")
        patient = uow.patients.add(
            NewPatient(mia.id, "P-1", "Ana", "Redfern", dt.date(1980, 1, 2), Sex.FEMALE), T0
        )
        plan = uow.schedule.add_plan(
            TreatmentPlan(0, patient.id, "feder-2021", 0.5, dt.date(2026, 11, 23), user.id, T0)
        )
        series = uow.schedule.add_series(
            Series(0, patient.id, mia.id, plan.id, "feder-2021", user.id, T0),
            [visit(chair, n + 1, MONDAY + dt.timedelta(days=2 * n)) for n in range(3)],
        )
        uow.commit()
    return chair, user.id, patient.id, series


def test_a_cancelled_visit_leaves_the_schedule_and_stays_on_its_series(uow_factory) -> None:  # type: ignore[no-untyped-def]
    chair, user, patient, series = seed(uow_factory)
    second = series.visits[1]
    at = T0 + dt.timedelta(days=1)
    with uow_factory() as uow:
        cancelled = uow.schedule.cancel_visit(second.id, user, at, "patient travelling")
        uow.commit()
    assert (cancelled.visit, cancelled.cancelled_by, cancelled.reason) == (
        second,
        user,
        "patient travelling",
    )
    with uow_factory() as uow:
        found = uow.schedule.get_series(series.id)
        assert found is not None
        assert [v.number for v in found.visits] == [1, 3]
        assert found.visit_numbered(2) is None
        assert found.visit_numbered(3) == series.visits[2]
        (kept,) = found.cancelled
        assert kept.visit == second
        assert (kept.cancelled_by, kept.cancelled_at, kept.reason) == (
            user,
            at,
            "patient travelling",
        )
        assert [v.id for v in uow.schedule.patient_visits(patient)] == [
            series.visits[0].id,
            series.visits[2].id,
        ]
        wednesday = uow.schedule.visits_between(second.site_id, second.starts_at, second.ends_at)
        assert wednesday == []
        # The chair and start are free again: another series may take exactly that slot.
        plan = uow.schedule.plans(patient)[0]
        again = uow.schedule.add_series(
            Series(0, patient, second.site_id, plan.id, "feder-2021", user, at),
            [visit(chair, 1, second.starts_at)],
        )
        uow.commit()
    assert again.visits[0].starts_at == second.starts_at


def test_cancelling_an_unknown_visit_is_not_found_and_a_rollback_undoes_it(uow_factory) -> None:  # type: ignore[no-untyped-def]
    _chair, user, _patient, series = seed(uow_factory)
    with uow_factory() as uow:
        with pytest.raises(NotFound):
            uow.schedule.cancel_visit(999_999, user, T0, "no such visit")
        uow.schedule.cancel_visit(series.visits[0].id, user, T0, "changed mind")
        uow.rollback()
    with uow_factory() as uow:
        found = uow.schedule.get_series(series.id)
        assert found is not None
        assert [v.number for v in found.visits] == [1, 2, 3]
        assert found.cancelled == ()


def test_a_cancelled_visits_id_is_never_given_to_a_new_visit(uow_factory) -> None:  # type: ignore[no-untyped-def]
    # Cancelling the newest visit, then booking again: SQLite would hand out that id again
    # (max(id) + 1 of the rows left), and a second cancel of that visit would then collide
    # with the first in cancelled_visit.
    chair, user, patient, series = seed(uow_factory)
    newest = series.visits[2]
    with uow_factory() as uow:
        uow.schedule.cancel_visit(newest.id, user, T0, "first cancel")
        uow.commit()
    with uow_factory() as uow:
        plan = uow.schedule.plans(patient)[0]
        again = uow.schedule.add_series(
            Series(0, patient, newest.site_id, plan.id, "feder-2021", user, T0),
            [visit(chair, 1, newest.starts_at), visit(chair, 2, newest.ends_at)],
        )
        uow.commit()
    new_ids = [v.id for v in again.visits]
    assert newest.id not in new_ids
    assert min(new_ids) > max(v.id for v in series.visits)
    with uow_factory() as uow:
        for new in again.visits:
            uow.schedule.cancel_visit(new.id, user, T0, "second cancel")
        uow.commit()
    with uow_factory() as uow:
        found = uow.schedule.get_series(series.id)
        assert found is not None
        assert [c.visit.id for c in found.cancelled] == [newest.id]
