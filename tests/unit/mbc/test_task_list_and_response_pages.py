"""Listing safety tasks (prescribers and directors, own sites) and paging through a patient's
questionnaire responses (services/mbc_safety.list_tasks, services/mbc.response_page)."""

from __future__ import annotations

import datetime as dt

import pytest

from ketaclinic.domain.errors import InvalidInput, NotFound, PermissionDenied
from ketaclinic.services import mbc, mbc_safety

PHQ9_ITEM9 = [1, 1, 1, 1, 1, 1, 1, 1, 1]


def record(world, minutes_ago: int, answers=PHQ9_ITEM9):
    with world.uow() as uow:
        return mbc.record_response(
            uow,
            world.clock,
            world.actor("nurse.mia"),
            world.patient,
            "phq9",
            answers,
            notifier=world.notifier,
            completed_at=world.clock.now() - dt.timedelta(minutes=minutes_ago),
        )


def tasks(world, who: str, **kwargs):
    with world.uow() as uow:
        return mbc_safety.list_tasks(uow, world.clock, world.actor(who), **kwargs)


def test_prescribers_list_open_tasks_and_with_all_the_closed_ones_too(world) -> None:
    first = record(world, 30).task
    world.clock.advance(minutes=10)
    second = record(world, 20).task
    assert first is not None
    assert second is not None
    with world.uow() as uow:
        mbc_safety.close_task(uow, world.clock, world.actor("prescriber.mia"), first.id, "Called")
    assert [v.task.id for v in tasks(world, "prescriber.mia")] == [second.id]
    everything = tasks(world, "director.mia", open_only=False)
    assert [v.task.id for v in everything] == [second.id, first.id]  # newest first
    assert everything[1].task.action == "Called"
    assert [v.task.id for v in tasks(world, "prescriber.mia", site_id=world.mia)] == [second.id]
    assert tasks(world, "prescriber.mia", site_id=world.fll) == []
    assert tasks(world, "prescriber.fll", open_only=False) == []
    actions = [(e.record.action.value, e.record.resource) for e in world.uow.store.audit]
    assert ("read", "safety_task_list") in actions


def test_nurses_and_front_desk_may_not_list_tasks_over_the_api(world) -> None:
    for who in ("nurse.mia", "frontdesk.mia"):
        with pytest.raises(PermissionDenied):
            tasks(world, who)
    with pytest.raises(InvalidInput):
        tasks(world, "prescriber.mia", limit=0)


def test_responses_come_a_page_at_a_time_newest_first(world) -> None:
    clear = [0] * 9
    made = [record(world, minutes, clear).response.id for minutes in (50, 40, 30, 20, 10)]
    with world.uow() as uow:
        page = mbc.response_page(uow, world.clock, world.actor("nurse.mia"), world.patient, limit=2)
        last = mbc.response_page(
            uow, world.clock, world.actor("nurse.mia"), world.patient, limit=2, offset=4
        )
    assert [r.id for r in page.responses] == made[::-1][:2]
    assert (page.total, page.next_offset) == (5, 2)
    assert [r.id for r in last.responses] == [made[0]]
    assert last.next_offset is None


def test_a_bad_page_or_another_sites_patient_is_refused(world) -> None:
    actor = world.actor("nurse.mia")
    with world.uow() as uow:
        for limit, offset, field in ((0, 0, "_count"), (101, 0, "_count"), (10, -1, "_offset")):
            with pytest.raises(InvalidInput) as caught:
                mbc.response_page(
                    uow, world.clock, actor, world.patient, limit=limit, offset=offset
                )
            assert caught.value.field == field
        with pytest.raises(NotFound):
            mbc.response_page(uow, world.clock, actor, world.fll_patient)
        with pytest.raises(PermissionDenied):
            mbc.response_page(uow, world.clock, world.actor("frontdesk.mia"), world.patient)
