"""The composition root: the one place where adapters are built and handed to the services,
the web app and the CLI. Nothing here runs at import time."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from argon2 import PasswordHasher
from sqlalchemy.engine import Engine

from ketaclinic.adapters.db.engine import make_engine
from ketaclinic.adapters.db.uow import SqlUnitOfWorkFactory
from ketaclinic.adapters.notify.smtp import EXTRAS_KEY, build_notifier
from ketaclinic.config import Settings
from ketaclinic.services.auth import LoginPolicy, Passwords, Tokens
from ketaclinic.services.ports import Clock, SystemClock, UnitOfWorkFactory


@dataclass
class Container:
    settings: Settings
    engine: Engine
    uow: UnitOfWorkFactory
    clock: Clock
    passwords: Passwords
    tokens: Tokens
    login_policy: LoginPolicy
    extras: dict[str, object] = field(default_factory=dict)

    def dispose(self) -> None:
        self.engine.dispose()


def build(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    fast_password_hashing: bool = False,
) -> Container:
    """Build every adapter from settings.

    ``fast_password_hashing`` lowers argon2's cost for test suites only; production uses the
    library's defaults (argon2id, RFC 9106 low-memory profile).
    """
    settings = settings or Settings()
    settings.check_safe()
    engine = make_engine(settings.effective_database_url)
    hasher = (
        PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
        if fast_password_hashing
        else PasswordHasher()
    )
    return Container(
        settings=settings,
        engine=engine,
        uow=SqlUnitOfWorkFactory(engine),
        clock=clock or SystemClock(),
        passwords=Passwords(hasher),
        tokens=Tokens(
            settings.effective_secret_key(), dt.timedelta(seconds=settings.token_max_age_s)
        ),
        login_policy=LoginPolicy(
            max_failures=settings.login_max_failures,
            lockout=dt.timedelta(seconds=settings.login_lockout_s),
        ),
        extras={EXTRAS_KEY: build_notifier(settings)},
    )
