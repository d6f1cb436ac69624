"""Fixtures shared by the storage contract tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from ketaclinic.adapters.db.engine import make_engine
from ketaclinic.adapters.db.uow import SqlUnitOfWorkFactory
from ketaclinic.adapters.memory import MemoryUnitOfWorkFactory


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def uow_factory(
    request: pytest.FixtureRequest, provision_db: Callable[[str], str]
) -> Iterator[object]:
    """One contract, three stores (STYLE.md §3): a unit-of-work factory on the in-memory fake,
    on a fresh SQLite database and on a fresh PostgreSQL database."""
    if request.param == "memory":
        yield MemoryUnitOfWorkFactory()
        return
    engine = make_engine(provision_db(request.param))
    yield SqlUnitOfWorkFactory(engine)
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def factory(
    request: pytest.FixtureRequest, provision_db: Callable[[str], str]
) -> Iterator[SqlUnitOfWorkFactory]:
    """A unit-of-work factory on a fresh SQLite database and on a fresh PostgreSQL database,
    for what only a real database shows (locks, snapshots, concurrent writers)."""
    engine = make_engine(provision_db(request.param))
    yield SqlUnitOfWorkFactory(engine)
    engine.dispose()
