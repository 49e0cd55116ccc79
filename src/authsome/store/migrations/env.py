"""Alembic environment: the daemon hands over an open connection."""

from alembic import context

from authsome.store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only `alembic` CLI use lands here
    raise RuntimeError("run migrations through authsome.store.db.migrate")

context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
