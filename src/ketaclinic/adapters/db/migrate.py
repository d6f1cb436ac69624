"""Applying and inspecting the Alembic migrations from code (``ketaclinic db upgrade``)."""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine


def alembic_config() -> Config:
    config = Config()
    location = resources.files("ketaclinic.adapters.db") / "migrations"
    config.set_main_option("script_location", str(location))
    return config


def upgrade(engine: Engine, revision: str = "heads") -> None:
    """Apply migrations up to ``revision`` (default: every branch head).

    Each capability owns a branch of migrations that starts from the shared schema, so
    ``heads`` rather than ``head``."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def downgrade(engine: Engine, revision: str) -> None:
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def current_revisions(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return set(MigrationContext.configure(connection).get_current_heads())


def head_revisions() -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


def current_revision(engine: Engine) -> str | None:
    """The applied revisions as one readable string (``None`` for an empty database)."""
    revisions = sorted(current_revisions(engine))
    return ", ".join(revisions) if revisions else None


def is_up_to_date(engine: Engine) -> bool:
    return current_revisions(engine) == head_revisions()
