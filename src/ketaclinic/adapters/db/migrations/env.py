"""Alembic environment: runs migrations on the connection ketaclinic hands over."""

from __future__ import annotations

from alembic import context

from ketaclinic.adapters.db.tables import metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through ketaclinic.adapters.db.migrate, not the alembic CLI")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
