"""Alembic's environment: migrations always run on a connection `core.schema.migrate` hands over (in
`config.attributes["connection"]`), so the app's engine settings (SQLite pragmas, PostgreSQL search_path) apply."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=None, render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
