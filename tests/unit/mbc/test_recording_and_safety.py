"""Recording responses, C-SSRS results and routing positive safety screens (services/mbc.py,
services/mbc_safety.py) on the in-memory fakes."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from ketaclinic.adapters.memory_mbc import MemoryNotifier
from ketaclinic.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from ketaclinic.services import mbc, mbc_safety
from ketaclinic.services.mbc_model import ResponseSource

T0 = dt.datetime(2026, 11, 20, 14, 0, tzinfo=dt.UTC)  # the world's clock (conftest.py)
PHQ9_ITEM9 = [1, 1, 1, 1, 1, 1, 1, 1, 1]
PHQ9_CLEAR = [2, 2, 1, 1, 0, 0, 1, 1, 0]


def record(world, answers, who: str = "nurse.mia", **kwargs):
    with world.uow() as uow:
        return mbc.record_response(
            uow,
            world.clock,
            world.actor(who),
            kwargs.pop("patient", world.patient),
            kwargs.pop("instrument", "phq9"),
            answers,
            notifier=kwargs.pop("notifier", world.notifier),
            **kwargs,
        )


def stored_count(world) -> int:
    return len(world.uow.store.mbc.responses)


def audit_actions(world) -> list[tuple[str, str, str]]:
    return [
        (e.record.action.value, e.record.resource, e.record.outcome.value)
        for e in world.uow.store.audit
    ]


def test_a_staff_entry_is_scored_stored_and_audited(world) -> None:
    recorded = record(world, PHQ9_CLEAR, language="es")
    response = recorded.response
    assert response.id > 0
    assert response.total == 8
    assert response.severity == "mild"
    assert response.source is ResponseSource.STAFF_ENTRY
    assert response.entered_by == world.user_ids["nurse.mia"]
    assert response.completed_at == T0
    assert response.language == "es"
    assert recorded.task is None
    assert ("create", "questionnaire_response", "ok") in audit_actions(world)


def test_answers_keyed_by_item_id_score_the_same_as_a_list(world) -> None:
    keyed = {f"phq9_{n:02d}": v for n, v in enumerate(PHQ9_CLEAR, start=1)}
    by_list = record(world, PHQ9_CLEAR).response
    world.clock.advance(minutes=1)
    by_key = record(world, keyed).response
    assert (by_key.total, by_key.severity, by_key.flags) == (
        by_list.total,
        by_list.severity,
        by_list.flags,
    )


@pytest.mark.parametrize(
    ("answers", "field"),
    [
        (PHQ9_CLEAR[:8], "answers"),  # wrong number of items
        ([*PHQ9_CLEAR[:8], None], "answers[9]"),  # partial
        ([*PHQ9_CLEAR[:8], 4], "answers[9]"),  # out of range
        ({"phq9_01": 1}, "phq9_02"),  # partial mapping
        ({**{f"phq9_{n:02d}": 0 for n in range(1, 10)}, "phq9_10": 1}, "phq9_10"),
    ],
)
def test_bad_answers_are_refused_naming_the_item_and_nothing_is_stored(
    world, answers, field: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        record(world, answers)
    assert raised.value.field == field
    assert stored_count(world) == 0
    assert world.uow.store.mbc.tasks == {}


def test_an_unknown_or_clinician_entered_instrument_is_bad_input(world) -> None:
    with pytest.raises(InvalidInput, match="questionnaire: got 'phq99'"):
        record(world, PHQ9_CLEAR, instrument="phq99")
    with pytest.raises(InvalidInput, match="clinician's result"):
        record(world, [0] * 6, instrument="cssrs")
    assert stored_count(world) == 0


def test_a_future_completion_time_and_a_self_report_source_are_refused(world) -> None:
    with pytest.raises(InvalidInput, match="completed_at"):
        record(world, PHQ9_CLEAR, completed_at=T0 + dt.timedelta(hours=1))
    with pytest.raises(InvalidInput, match="completed_at"):
        record(world, PHQ9_CLEAR, completed_at=dt.datetime(2026, 1, 1, 9, 0))  # naive
    with pytest.raises(InvalidInput, match="one-time link"):
        record(world, PHQ9_CLEAR, source=ResponseSource.SELF_REPORT)
    assert stored_count(world) == 0


def test_a_backdated_paper_form_keeps_its_completion_time(world) -> None:
    earlier = T0 - dt.timedelta(days=3)
    response = record(world, PHQ9_CLEAR, completed_at=earlier).response
    assert response.completed_at == earlier
    assert response.recorded_at == T0


def test_a_repeated_submission_is_a_conflict_and_the_first_is_kept(world) -> None:
    first = record(world, PHQ9_CLEAR).response
    with pytest.raises(Conflict, match="already recorded"):
        record(world, [0] * 9)
    (kept,) = world.uow.store.mbc.responses.values()
    assert kept == first


def test_front_desk_may_not_record_or_read_scores_and_the_refusal_is_audited(
    world,
) -> None:
    with pytest.raises(PermissionDenied):
        record(world, PHQ9_CLEAR, who="frontdesk.mia")
    with world.uow() as uow, pytest.raises(PermissionDenied):
        mbc.patient_scores(uow, world.clock, world.actor("frontdesk.mia"), world.patient)
    assert stored_count(world) == 0
    assert audit_actions(world).count(("denied", "questionnaire_response", "denied")) == 2


def test_a_patient_of_another_site_is_not_found(world) -> None:
    with pytest.raises(NotFound):
        record(world, PHQ9_CLEAR, patient=world.fll_patient)
    assert stored_count(world) == 0
    assert ("denied", "questionnaire_response", "not_found") in audit_actions(world)


def test_item_9_raises_a_same_day_task_mailed_to_the_sites_prescribers(world) -> None:
    recorded = record(world, PHQ9_ITEM9)
    task = recorded.task
    assert task is not None
    assert task.reason == "phq9_item9_positive"
    assert task.site_id == world.mia
    assert task.response_id == recorded.response.id
    # Raised at 09:00 in Miami: due at the next local midnight, 05:00 UTC in winter.
    assert task.due_at == dt.datetime(2026, 11, 21, 5, 0, tzinfo=dt.UTC)
    assert recorded.notified == 2
    assert sorted(m.to for m in world.notifier.sent) == [
        "prescriber.mia@example.invalid",
        "second.mia@example.invalid",
    ]
    stored_task = world.uow.store.mbc.tasks[task.id]
    assert stored_task.notified_at == T0
    assert ("create", "safety_task", "ok") in audit_actions(world)


def test_the_prescriber_who_signed_the_plan_is_the_one_mailed(world) -> None:
    world.plan(world.patient, "feder-2021")  # signed by prescriber.mia
    recorded = record(world, PHQ9_ITEM9)
    assert recorded.notified == 1
    assert [m.to for m in world.notifier.sent] == ["prescriber.mia@example.invalid"]


def test_without_a_reachable_plan_signer_every_site_prescriber_is_mailed(world) -> None:
    world.plan(world.patient, "feder-2021")
    users = world.uow.store.users  # the signer leaves the clinic (no service for it yet)
    signer = world.user_ids["prescriber.mia"]
    users[signer].user = dataclasses.replace(users[signer].user, active=False)
    recorded = record(world, PHQ9_ITEM9)
    assert [m.to for m in world.notifier.sent] == ["second.mia@example.invalid"]
    assert recorded.notified == 1


def test_the_safety_mail_carries_an_internal_id_and_no_health_data(world) -> None:
    record(world, PHQ9_ITEM9)
    message = world.notifier.sent[0]
    text = message.subject + message.body
    assert f"patient {world.patient}" in message.body
    for secret in ("MRN-SECRET-1", "Ana", "Ocampo", "1980", "PHQ", "item", "suicid"):
        assert secret not in text


def test_a_failed_mail_keeps_the_task_open_and_unnotified(world) -> None:
    failing = MemoryNotifier(
        fail_for={"prescriber.mia@example.invalid", "second.mia@example.invalid"}
    )
    recorded = record(world, PHQ9_ITEM9, notifier=failing)
    assert recorded.task is not None
    assert recorded.notified == 0
    stored = world.uow.store.mbc.tasks[recorded.task.id]
    assert stored.is_open
    assert stored.notified_at is None
    assert stored_count(world) == 1


def test_a_clear_phq9_raises_no_task(world) -> None:
    assert record(world, [3, 3, 3, 3, 3, 3, 3, 3, 0]).task is None
    assert world.notifier.sent == []


def cssrs(world, **entry):
    with world.uow() as uow:
        return mbc.record_cssrs_result(
            uow,
            world.clock,
            world.actor(entry.pop("who", "prescriber.mia")),
            world.patient,
            notifier=world.notifier,
            **entry,
        )


def test_a_positive_cssrs_is_stored_as_entered_and_raises_a_task(world) -> None:
    recorded = cssrs(
        world,
        form="since_last_contact",
        risk_level="moderate",
        positive_questions=[1, 2, 3],
        q6_within_3_months=None,
        action="Safety plan",
    )
    response = recorded.response
    assert response.instrument_id == "cssrs"
    assert response.total is None
    assert response.severity == "moderate"
    assert response.cssrs is not None
    assert response.cssrs.risk_level == "moderate"
    assert response.answers["cssrs_03"] == 1
    assert recorded.task is not None
    assert recorded.task.reason == "suicide_risk_review"


def test_a_negative_low_cssrs_raises_no_task(world) -> None:
    recorded = cssrs(
        world,
        form="since_last_contact",
        risk_level="low",
        positive_questions=[],
        q6_within_3_months=None,
    )
    assert recorded.task is None


def test_a_cssrs_entry_breaking_the_skip_logic_stores_nothing(world) -> None:
    with pytest.raises(InvalidInput, match="positive_questions"):
        cssrs(
            world,
            form="since_last_contact",
            risk_level="high",
            positive_questions=[4],
            q6_within_3_months=None,
        )
    assert stored_count(world) == 0


def close(world, task_id: int, action: str, who: str = "prescriber.mia"):
    with world.uow() as uow:
        return mbc_safety.close_task(uow, world.clock, world.actor(who), task_id, action)


def test_a_task_closes_only_with_an_action_recording_who_and_when(world) -> None:
    task = record(world, PHQ9_ITEM9).task
    assert task is not None
    for empty in ("", "   "):
        with pytest.raises(InvalidInput, match="without a recorded action"):
            close(world, task.id, empty)
    with pytest.raises(InvalidInput):
        close(world, task.id, "x" * 2001)
    assert world.uow.store.mbc.tasks[task.id].is_open
    world.clock.advance(hours=2)
    closed = close(world, task.id, "  Phoned the patient; safety plan reviewed.  ")
    assert not closed.is_open
    assert closed.action == "Phoned the patient; safety plan reviewed."
    assert closed.closed_by == world.user_ids["prescriber.mia"]
    assert closed.closed_at == T0 + dt.timedelta(hours=2)
    with pytest.raises(Conflict, match="already closed"):
        close(world, task.id, "again")


def test_only_prescribers_and_directors_of_the_site_close_tasks(world) -> None:
    task = record(world, PHQ9_ITEM9).task
    assert task is not None
    with pytest.raises(PermissionDenied):
        close(world, task.id, "done", who="nurse.mia")
    with pytest.raises(NotFound):
        close(world, task.id, "done", who="prescriber.fll")
    with pytest.raises(NotFound):
        close(world, 987_654, "done")
    assert world.uow.store.mbc.tasks[task.id].is_open
    assert (
        close(world, task.id, "done", who="director.mia").closed_by
        == (world.user_ids["director.mia"])
    )


def test_open_tasks_are_listed_for_the_callers_sites_only(world) -> None:
    task = record(world, PHQ9_ITEM9).task
    with world.uow() as uow:
        mine = mbc_safety.open_tasks(uow, world.clock, world.actor("nurse.mia"))
        theirs = mbc_safety.open_tasks(uow, world.clock, world.actor("prescriber.fll"))
    assert [v.task.id for v in mine] == [task.id]
    assert mine[0].mrn == "MRN-SECRET-1"
    assert mine[0].reason_label == "PHQ-9 item 9 positive"
    assert theirs == []
    with world.uow() as uow, pytest.raises(PermissionDenied):
        mbc_safety.open_tasks(uow, world.clock, world.actor("frontdesk.mia"))


def test_a_task_is_overdue_from_the_next_local_midnight(world) -> None:
    task = record(world, PHQ9_ITEM9).task
    assert task is not None
    assert not task.overdue(task.due_at - dt.timedelta(seconds=1))
    assert task.overdue(task.due_at)


def test_the_end_of_the_local_day_follows_daylight_saving_time() -> None:
    summer = dt.datetime(2026, 7, 1, 3, 30, tzinfo=dt.UTC)  # 23:30 on 30 June in Miami (EDT)
    assert mbc_safety.end_of_local_day(summer, "America/New_York") == dt.datetime(
        2026, 7, 1, 4, 0, tzinfo=dt.UTC
    )
    winter = dt.datetime(2026, 1, 15, 12, 0, tzinfo=dt.UTC)
    assert mbc_safety.end_of_local_day(winter, "America/New_York") == dt.datetime(
        2026, 1, 16, 5, 0, tzinfo=dt.UTC
    )


def test_the_phq9_definition_still_raises_the_routed_flag() -> None:
    from ketaclinic.domain.instruments import score

    assert mbc_safety.safety_reason(score("phq9", PHQ9_ITEM9).flags) == "phq9_item9_positive"
    assert mbc_safety.safety_reason(score("phq9", PHQ9_CLEAR).flags) is None


def test_with_mail_off_a_task_is_raised_but_not_counted_as_mailed(world) -> None:
    from ketaclinic.adapters.notify.smtp import NullNotifier

    recorded = record(world, PHQ9_ITEM9, notifier=NullNotifier())
    assert recorded.task is not None
    assert recorded.notified == 0
    assert world.uow.store.mbc.tasks[recorded.task.id].notified_at is None
