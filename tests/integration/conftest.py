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
    else:
        yield from _on_database(request.param, provision_db)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def factory(
    request: pytest.FixtureRequest, provision_db: Callable[[str], str]
) -> Iterator[SqlUnitOfWorkFactory]:
    """A unit-of-work factory on a fresh SQLite database and on a fresh PostgreSQL database,
    for what only a real database shows (locks, snapshots, concurrent writers)."""
    yield from _on_database(request.param, provision_db)


def _on_database(kind: str, provision_db: Callable[[str], str]) -> Iterator[SqlUnitOfWorkFactory]:
    engine = make_engine(provision_db(kind))
    yield SqlUnitOfWorkFactory(engine)
    engine.dispose()
