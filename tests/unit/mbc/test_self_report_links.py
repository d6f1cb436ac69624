"""One-time self-report links (services/mbc_self_report.py) on the in-memory fakes."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest

from ketaclinic.adapters.memory_mbc import MemoryNotifier
from ketaclinic.domain.errors import InvalidInput, NotFound, PermissionDenied
from ketaclinic.services import mbc_self_report as sr
from ketaclinic.services.audit import SYSTEM, Actor
from ketaclinic.services.mbc_model import ResponseSource

PUBLIC = Actor(None, "203.0.113.9")
PCL5 = {f"pcl5_{n:02d}": 2 for n in range(1, 21)}
PHQ9_ITEM9 = {f"phq9_{n:02d}": 1 for n in range(1, 10)}


def issue(world, instruments=("pcl5", "phq9"), who="nurse.mia", **kwargs):
    with world.uow() as uow:
        actor = SYSTEM if who is None else world.actor(who)
        return sr.request_self_report(
            uow, world.clock, actor, kwargs.pop("patient", world.patient), instruments, **kwargs
        )


def submit(world, token, answers, language="es", notifier=None):
    with world.uow() as uow:
        return sr.submit_self_report(
            uow,
            world.clock,
            PUBLIC,
            token,
            answers,
            language=language,
            notifier=notifier or world.notifier,
        )


def test_a_link_token_is_256_random_bits_and_only_its_hash_is_stored(world) -> None:
    issued = issue(world)
    assert len(issued.token) == 43  # 32 bytes, URL-safe base64 without padding
    assert issued.path == f"/r/{issued.token}"
    (stored,) = world.uow.store.mbc.links.values()
    assert stored.token_hash == hashlib.sha256(issued.token.encode()).hexdigest()
    assert issued.token not in repr(world.uow.store.mbc.links)
    assert issued.token not in repr(world.uow.store.audit)
    assert stored.expires_at == stored.created_at + dt.timedelta(days=7)
    assert stored.language == "es"  # the patient's preferred language
    assert issue(world).token != issued.token


def test_a_link_is_answered_once_and_stores_self_reports(world) -> None:
    issued = issue(world)
    world.clock.advance(hours=3)
    done = submit(world, issued.token, {"pcl5": PCL5, "phq9": PHQ9_ITEM9})
    assert [r.instrument_id for r in done.responses] == ["pcl5", "phq9"]
    for response in done.responses:
        assert response.source is ResponseSource.SELF_REPORT
        assert response.entered_by is None
        assert response.language == "es"
        assert response.self_report_id == issued.link.id
        assert response.completed_at == world.clock.now()
    assert done.responses[0].total == 40
    with pytest.raises(sr.LinkNotUsable) as raised:
        submit(world, issued.token, {"pcl5": PCL5, "phq9": PHQ9_ITEM9})
    assert raised.value.reason == "used"
    assert len(world.uow.store.mbc.responses) == 2


def test_safety_routing_applies_to_self_reports(world) -> None:
    issued = issue(world)
    done = submit(world, issued.token, {"pcl5": PCL5, "phq9": PHQ9_ITEM9})
    assert [t.reason for t in done.tasks] == ["phq9_item9_positive"]
    assert len(world.notifier.sent) == 2


def test_partial_answers_store_nothing_and_leave_the_link_usable(world) -> None:
    issued = issue(world)
    partial = dict(PHQ9_ITEM9)
    del partial["phq9_04"]
    with pytest.raises(InvalidInput, match="phq9_04"):
        submit(world, issued.token, {"pcl5": PCL5, "phq9": partial})
    assert sr.answer_problems(issued.link, {"pcl5": PCL5, "phq9": partial}) == {
        "phq9_04": "missing"
    }
    assert world.uow.store.mbc.responses == {}
    assert world.uow.store.mbc.links[issued.link.id].used_at is None
    assert len(submit(world, issued.token, {"pcl5": PCL5, "phq9": PHQ9_ITEM9}).responses) == 2


@pytest.mark.parametrize(
    "token",
    ["", "short", "x" * 43, "A" * 42 + "!", "../../etc/passwd", "é" * 43],
)
def test_an_unknown_or_altered_token_is_not_usable(world, token: str) -> None:
    issue(world)
    with pytest.raises(sr.LinkNotUsable) as raised:
        submit(world, token, {"pcl5": PCL5})
    assert raised.value.reason == "invalid"
    assert isinstance(raised.value, NotFound)


def test_a_one_character_change_makes_the_link_invalid(world) -> None:
    issued = issue(world)
    last = issued.token[-1]
    tampered = issued.token[:-1] + ("A" if last != "A" else "B")
    with pytest.raises(sr.LinkNotUsable, match="not valid"):
        submit(world, tampered, {"pcl5": PCL5, "phq9": PHQ9_ITEM9})
    assert world.uow.store.mbc.responses == {}


def test_an_expired_link_stores_nothing(world) -> None:
    issued = issue(world, ttl=dt.timedelta(days=2))
    world.clock.advance(days=2)
    with pytest.raises(sr.LinkNotUsable) as raised:
        submit(world, issued.token, {"pcl5": PCL5, "phq9": PHQ9_ITEM9})
    assert raised.value.reason == "expired"
    assert world.uow.store.mbc.responses == {}


@pytest.mark.parametrize(
    ("instruments", "message"),
    [
        ((), "1–5"),
        (("pcl5", "pcl5"), "each instrument once"),
        (("cadss6",), "the patient completes"),
        (("cssrs",), "the patient completes"),
        (("nope",), "the patient completes"),
    ],
)
def test_a_link_asks_only_for_patient_instruments(world, instruments, message) -> None:
    with pytest.raises(InvalidInput, match=message):
        issue(world, instruments)
    assert world.uow.store.mbc.links == {}


def test_the_expiry_is_configurable_within_bounds(world) -> None:
    assert issue(world, ttl=dt.timedelta(days=14)).link.expires_at == (
        world.clock.now() + dt.timedelta(days=14)
    )
    for bad in (dt.timedelta(minutes=5), dt.timedelta(days=61)):
        with pytest.raises(InvalidInput, match="expires_in"):
            issue(world, ttl=bad)


def test_front_desk_cannot_send_links_and_other_sites_are_not_found(world) -> None:
    with pytest.raises(PermissionDenied):
        issue(world, who="frontdesk.mia")
    with pytest.raises(NotFound):
        issue(world, who="nurse.mia", patient=world.fll_patient)
    assert world.uow.store.mbc.links == {}


def test_the_system_operator_may_send_a_link(world) -> None:
    issued = issue(world, who=None)
    assert issued.link.created_by is None


def test_the_mailed_link_is_in_the_patients_language_without_health_data(world) -> None:
    issued = issue(world, due_at=world.clock.now() + dt.timedelta(days=2))
    url = f"https://clinic.example{issued.path}"
    with world.uow() as uow:
        assert sr.mail_link(uow, world.clock, world.notifier, issued, url)
    (message,) = world.notifier.sent
    assert message.to == "ana@example.invalid"
    assert url in message.body
    assert "cuestionario" in message.body
    assert "22 de noviembre de 2026" in message.body  # due date, written as Spanish does
    for secret in ("PCL", "PHQ", "MRN-SECRET-1", "Ocampo", "PTSD", "ketamine"):
        assert secret not in message.subject + message.body
    assert world.uow.store.mbc.links[issued.link.id].mailed_at == world.clock.now()


def test_a_patient_without_e_mail_or_a_failing_server_gets_no_mail(world) -> None:
    issued = issue(world, who="prescriber.fll", patient=world.fll_patient)
    with world.uow() as uow:
        assert not sr.mail_link(uow, world.clock, world.notifier, issued, "https://x/r/t")
    mine = issue(world)
    failing = MemoryNotifier(fail_for={"ana@example.invalid"})
    with world.uow() as uow:
        assert not sr.mail_link(uow, world.clock, failing, mine, "https://x/r/t")
    assert world.uow.store.mbc.links[mine.link.id].mailed_at is None
