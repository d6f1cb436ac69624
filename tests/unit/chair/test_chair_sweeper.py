"""The background runner's loop, with its tick replaced (no database): it keeps sweeping after
a failing tick, logs only the error's type, stops promptly letting the tick in flight finish,
and is off unless the settings turn it on."""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from ketaclinic.adapters import chair_sweeper
from ketaclinic.config import Settings
from ketaclinic.services.visit_notice_ports import DEFAULT_REMINDER_LEAD


def settings(tmp_path: Path, **more: object) -> Settings:
    return Settings(
        data_dir=tmp_path,
        secret_key="s" * 40,
        environment="test",
        _env_file=None,  # type: ignore[call-arg]
        **more,
    )


def fake_container(tmp_path: Path, **more: object) -> SimpleNamespace:
    return SimpleNamespace(settings=settings(tmp_path, **more))


def test_the_sweep_is_off_in_tests_unless_asked_and_every_15_s_otherwise(tmp_path) -> None:
    assert settings(tmp_path).effective_chair_sweep_s == 0
    assert settings(tmp_path, chair_sweep_s=2.5).effective_chair_sweep_s == 2.5
    development = Settings(
        data_dir=tmp_path,
        secret_key="s" * 40,
        environment="development",
        _env_file=None,  # type: ignore[call-arg]
    )
    assert development.effective_chair_sweep_s == 15.0
    assert settings(tmp_path, chair_sweep_s=0).effective_chair_sweep_s == 0


def test_a_bad_interval_is_refused_by_name(tmp_path) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="chair_sweep_s"):
        settings(tmp_path, chair_sweep_s=-1)
    with pytest.raises(ValidationError, match="alert_escalate_after_min"):
        settings(tmp_path, alert_escalate_after_min=0)


def test_start_does_nothing_when_the_sweep_is_off(tmp_path) -> None:
    async def main() -> object:
        return chair_sweeper.start(fake_container(tmp_path))  # type: ignore[arg-type]

    assert asyncio.run(main()) is None


def test_a_failing_tick_is_logged_by_type_and_the_next_one_runs(tmp_path, caplog) -> None:
    container = fake_container(tmp_path, chair_sweep_s=0.01)
    sweeper = chair_sweeper.ChairSweeper(container, 0.01)  # type: ignore[arg-type]
    calls: list[int] = []
    enough = threading.Event()

    def tick() -> object:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("SELECT … WHERE mrn = 'DEMO-0001'")  # a message that quotes data
        if len(calls) >= 3:
            enough.set()
        return SimpleNamespace(changed_sites=frozenset(), delivery=SimpleNamespace(messages=0))

    sweeper.tick = tick  # type: ignore[method-assign]

    async def main() -> None:
        task = asyncio.get_running_loop().create_task(sweeper.run())
        await asyncio.to_thread(enough.wait, 10)
        await chair_sweeper.stop((sweeper, task))
        assert task.done()

    with caplog.at_level(logging.ERROR, logger="ketaclinic.chair.sweeper"):
        asyncio.run(main())
    assert len(calls) >= 3
    assert sweeper.failures == 1
    failed = [r for r in caplog.records if r.getMessage() == "chair sweep failed"]
    assert [getattr(r, "error_type", None) for r in failed] == ["RuntimeError"]
    assert all("DEMO-0001" not in r.getMessage() for r in caplog.records)


def test_stopping_waits_for_the_tick_in_flight(tmp_path) -> None:
    container = fake_container(tmp_path, chair_sweep_s=60)
    sweeper = chair_sweeper.ChairSweeper(container, 60)  # type: ignore[arg-type]
    started, finished = threading.Event(), threading.Event()

    def tick() -> object:
        started.set()
        threading.Event().wait(0.3)  # a slow tick: a database transaction, an SMTP call
        finished.set()
        return SimpleNamespace(changed_sites=frozenset(), delivery=SimpleNamespace(messages=0))

    sweeper.tick = tick  # type: ignore[method-assign]

    async def main() -> None:
        task = asyncio.get_running_loop().create_task(sweeper.run())
        await asyncio.to_thread(started.wait, 10)
        await chair_sweeper.stop((sweeper, task))
        assert finished.is_set()  # not cut off half-way
        assert task.done()

    asyncio.run(main())
    assert sweeper.ticks == 1  # and no second tick after the stop


# --- the appointment reminders it runs beside the chair's sweep ------------------------------


def quiet_tick() -> object:
    return SimpleNamespace(changed_sites=frozenset(), delivery=SimpleNamespace(messages=0))


def test_reminders_are_off_in_tests_unless_asked_and_every_5_min_otherwise(tmp_path) -> None:
    assert settings(tmp_path).effective_visit_reminder_sweep_s == 0
    assert settings(tmp_path, visit_reminder_sweep_s=60).effective_visit_reminder_sweep_s == 60
    development = Settings(
        data_dir=tmp_path,
        secret_key="s" * 40,
        environment="development",
        _env_file=None,  # type: ignore[call-arg]
    )
    assert development.effective_visit_reminder_sweep_s == 300.0
    assert development.visit_reminder_lead_h == 24.0
    # The setting's default is the service's (the CLI and the confirmations use it too).
    assert development.visit_reminder_lead_h * 3600 == DEFAULT_REMINDER_LEAD.total_seconds()
    sweeper = chair_sweeper.ChairSweeper(  # type: ignore[arg-type]
        SimpleNamespace(settings=settings(tmp_path, visit_reminder_lead_h=36)), 15
    )
    assert sweeper.reminder_interval_s == 0
    assert sweeper.reminder_lead.total_seconds() == 36 * 3600


def test_a_bad_reminder_setting_is_refused_by_name(tmp_path) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="visit_reminder_lead_h"):
        settings(tmp_path, visit_reminder_lead_h=0.5)
    with pytest.raises(ValidationError, match="visit_reminder_lead_h"):
        settings(tmp_path, visit_reminder_lead_h=169)
    with pytest.raises(ValidationError, match="visit_reminder_sweep_s"):
        settings(tmp_path, visit_reminder_sweep_s=-1)


def test_a_slow_reminder_sweep_never_holds_up_the_chairs(tmp_path, caplog) -> None:
    container = fake_container(tmp_path)
    sweeper = chair_sweeper.ChairSweeper(container, 0.01, reminder_interval_s=0.01)  # type: ignore[arg-type]
    chair_ticks: list[int] = []
    reminders: list[int] = []
    hanging_since: list[int] = []  # the chair tick count when the hanging sweep began
    enough, release = threading.Event(), threading.Event()

    def tick() -> object:
        chair_ticks.append(1)
        if hanging_since and len(chair_ticks) >= hanging_since[0] + 3:
            enough.set()
        return quiet_tick()

    def remind() -> object:
        reminders.append(1)
        if len(reminders) == 1:
            raise RuntimeError("SELECT … WHERE email = 'rosa@example.invalid'")
        if len(reminders) == 2:
            hanging_since.append(len(chair_ticks))
            release.wait(10)  # the second sweep hangs on a slow mail server until released
        return SimpleNamespace(items=())

    sweeper.tick = tick  # type: ignore[method-assign]
    sweeper.remind = remind  # type: ignore[method-assign]

    async def main() -> None:
        task = asyncio.get_running_loop().create_task(sweeper.run())
        # Three chair ticks while the second reminder sweep hangs.
        assert await asyncio.to_thread(enough.wait, 10)
        release.set()
        await chair_sweeper.stop((sweeper, task))
        assert task.done()

    with caplog.at_level(logging.ERROR, logger="ketaclinic.chair.sweeper"):
        asyncio.run(main())
    assert len(reminders) >= 2
    assert sweeper.reminder_failures == 1
    failed = [r for r in caplog.records if r.getMessage() == "reminder sweep failed"]
    assert [getattr(r, "error_type", None) for r in failed] == ["RuntimeError"]
    assert all("rosa@" not in r.getMessage() for r in caplog.records)


def test_without_a_reminder_interval_no_reminder_sweep_runs(tmp_path) -> None:
    sweeper = chair_sweeper.ChairSweeper(fake_container(tmp_path), 0.01)  # type: ignore[arg-type]
    done = threading.Event()
    reminders: list[int] = []

    def tick() -> object:
        if sweeper.ticks >= 3:
            done.set()
        return quiet_tick()

    sweeper.tick = tick  # type: ignore[method-assign]
    sweeper.remind = lambda: reminders.append(1)  # type: ignore[assignment,method-assign,func-returns-value]

    async def main() -> None:
        task = asyncio.get_running_loop().create_task(sweeper.run())
        await asyncio.to_thread(done.wait, 10)
        await chair_sweeper.stop((sweeper, task))

    asyncio.run(main())
    assert sweeper.ticks >= 3
    assert reminders == []


def test_a_failing_reminder_sweep_does_not_skip_the_questionnaire_links(tmp_path, caplog) -> None:
    sweeper = chair_sweeper.ChairSweeper(fake_container(tmp_path), 60, reminder_interval_s=0.01)  # type: ignore[arg-type]
    links: list[int] = []
    done = threading.Event()

    def remind() -> object:
        raise RuntimeError("mail server said no to rosa@example.invalid")

    def send_self_reports() -> object:
        links.append(1)
        if len(links) == 1:
            raise OSError("the link sweep failed too")
        done.set()
        return None

    sweeper.tick = quiet_tick  # type: ignore[method-assign]
    sweeper.remind = remind  # type: ignore[method-assign]
    sweeper.send_self_reports = send_self_reports  # type: ignore[method-assign]

    async def main() -> None:
        task = asyncio.get_running_loop().create_task(sweeper.run())
        assert await asyncio.to_thread(done.wait, 10)
        await chair_sweeper.stop((sweeper, task))

    with caplog.at_level(logging.ERROR, logger="ketaclinic.chair.sweeper"):
        asyncio.run(main())
    assert len(links) >= 2
    assert sweeper.self_report_failures == 1
    assert sweeper.reminder_failures >= 2
    failed = [r for r in caplog.records if r.getMessage() == "self-report sweep failed"]
    assert [getattr(r, "error_type", None) for r in failed] == ["OSError"]
    assert all("rosa@" not in r.getMessage() for r in caplog.records)


def test_the_public_address_must_be_a_web_address(tmp_path) -> None:
    from pydantic import ValidationError

    assert settings(tmp_path).public_url == ""
    assert settings(tmp_path, public_url=" https://clinic.example.org ").public_url == (
        "https://clinic.example.org"
    )
    with pytest.raises(ValidationError, match="public_url"):
        settings(tmp_path, public_url="clinic.example.org")
    without = chair_sweeper.ChairSweeper(fake_container(tmp_path), 15)  # type: ignore[arg-type]
    assert without.send_self_reports() is None  # no address: the links wait for the command
