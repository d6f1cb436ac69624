"""The chair board's streams share renders: streams woken by the same change take one render;
a stream woken after a render began gets a new one; a stream that goes away mid-render does not
cancel the render the others wait for; a failed render reaches every waiter and is not kept."""

from __future__ import annotations

import asyncio
import threading

import pytest

from ketaclinic.web.pages import chair_board
from ketaclinic.web.pages.chair_board import SharedRenders


class FakeRenders:
    """Stands in for render_fragment: counts renders and numbers their output; each render
    blocks until ``release`` is set, so the tests decide when a render finishes."""

    def __init__(self) -> None:
        self.calls = 0
        self.release = threading.Event()
        self.fail = False

    def __call__(self, c, actor, site_id: int, *, audited: bool) -> str:  # type: ignore[no-untyped-def]
        assert audited is False
        self.calls += 1
        number = self.calls
        self.release.wait(5)
        if self.fail:
            raise RuntimeError("database went away")
        return f"site {site_id} render {number}"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeRenders:
    renders = FakeRenders()
    monkeypatch.setattr(chair_board, "render_fragment", renders)
    return renders


def test_streams_woken_by_the_same_change_share_one_render(fake: FakeRenders) -> None:
    async def scenario() -> list[str]:
        shared = SharedRenders()
        since = asyncio.get_running_loop().time()
        first = asyncio.create_task(shared.fragment(None, None, 1, since=since))  # type: ignore[arg-type]
        await asyncio.sleep(0.01)
        others = [
            asyncio.create_task(shared.fragment(None, None, 1, since=since))  # type: ignore[arg-type]
            for _ in range(4)
        ]
        fake.release.set()
        return await asyncio.gather(first, *others)

    results = asyncio.run(scenario())
    assert results == ["site 1 render 1"] * 5
    assert fake.calls == 1


def test_a_stream_woken_after_a_render_began_gets_a_new_one(fake: FakeRenders) -> None:
    fake.release.set()

    async def scenario() -> tuple[str, str, str]:
        shared = SharedRenders()
        loop = asyncio.get_running_loop()
        old = await shared.fragment(None, None, 1, since=loop.time())  # type: ignore[arg-type]
        reused = await shared.fragment(None, None, 1, since=loop.time() - 60)  # type: ignore[arg-type]
        await asyncio.sleep(0.01)
        new = await shared.fragment(None, None, 1, since=loop.time())  # type: ignore[arg-type]
        return old, reused, new

    old, reused, new = asyncio.run(scenario())
    assert (old, reused, new) == ("site 1 render 1", "site 1 render 1", "site 1 render 2")


def test_sites_do_not_share(fake: FakeRenders) -> None:
    fake.release.set()

    async def scenario() -> list[str]:
        shared = SharedRenders()
        since = asyncio.get_running_loop().time()
        return await asyncio.gather(
            shared.fragment(None, None, 1, since=since),  # type: ignore[arg-type]
            shared.fragment(None, None, 2, since=since),  # type: ignore[arg-type]
        )

    assert sorted(asyncio.run(scenario())) == ["site 1 render 1", "site 2 render 2"]


def test_a_stream_that_leaves_does_not_cancel_the_others_render(fake: FakeRenders) -> None:
    async def scenario() -> str:
        shared = SharedRenders()
        since = asyncio.get_running_loop().time()
        leaving = asyncio.create_task(shared.fragment(None, None, 1, since=since))  # type: ignore[arg-type]
        await asyncio.sleep(0.01)
        staying = asyncio.create_task(shared.fragment(None, None, 1, since=since))  # type: ignore[arg-type]
        await asyncio.sleep(0.01)
        leaving.cancel()
        fake.release.set()
        return await staying

    assert asyncio.run(scenario()) == "site 1 render 1"
    assert fake.calls == 1


def test_a_failed_render_reaches_every_waiter_and_is_not_kept(fake: FakeRenders) -> None:
    fake.fail = True

    async def scenario() -> tuple[list[object], str]:
        shared = SharedRenders()
        loop = asyncio.get_running_loop()
        since = loop.time()
        waiting = [
            asyncio.create_task(shared.fragment(None, None, 1, since=since))  # type: ignore[arg-type]
            for _ in range(3)
        ]
        await asyncio.sleep(0.01)
        fake.release.set()
        outcomes = await asyncio.gather(*waiting, return_exceptions=True)
        fake.fail = False
        again = await shared.fragment(None, None, 1, since=since)  # type: ignore[arg-type]
        return outcomes, again

    outcomes, again = asyncio.run(scenario())
    assert all(isinstance(o, RuntimeError) for o in outcomes)
    assert again == "site 1 render 2"
