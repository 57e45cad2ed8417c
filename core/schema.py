"""Bring an existing database up to the table models: add the columns models gained since the tables were created.

`SQLModel.metadata.create_all` creates missing tables but never alters an existing one, and there are no migrations
until the first release (then alembic). Until then a model may only *add* columns — nullable ones, or ones with a
literal server default — and this adds them, with their indexes, on SQLite and PostgreSQL when the engine is
built. Idempotent: a column that exists is left alone, so every process may run it at start; two processes racing
to add the same column both end with it (PostgreSQL `IF NOT EXISTS`, SQLite's duplicate-column error ignored).
"""

from __future__ import annotations

import logging

from sqlalchemy import Column, MetaData, inspect
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.schema import CreateIndex

log = logging.getLogger("stellarflow.db")


class SchemaUpgradeError(RuntimeError):
    """A model gained a column that cannot be added in place (NOT NULL without a default): write a migration."""


def missing_columns(connection: Connection, metadata: MetaData) -> list[Column]:
    inspector = inspect(connection)
    existing_tables = set(inspector.get_table_names())
    missing: list[Column] = []
    for table in metadata.sorted_tables:
        if table.name not in existing_tables:
            continue  # create_all made (or will make) it whole
        present = {column["name"] for column in inspector.get_columns(table.name)}
        missing.extend(column for column in table.columns if column.name not in present)
    return missing


def _default(column: Column) -> str:
    """` NOT NULL DEFAULT <value>` for a column with a plain server default, else `` (nullable)."""
    if column.server_default is None:
        if not column.nullable:
            raise SchemaUpgradeError(f"{column.table.name}.{column.name} is NOT NULL without a server default: it "
                                     "cannot be added to existing rows; make it nullable or write a migration")
        return ""
    value = getattr(column.server_default, "arg", None)
    if not isinstance(value, str):
        raise SchemaUpgradeError(f"{column.table.name}.{column.name}: only a literal server default can be added "
                                 "in place; write a migration")
    literal = "'" + value.replace("'", "''") + "'"
    return f" NOT NULL DEFAULT {literal}" if not column.nullable else f" DEFAULT {literal}"


def _add(connection: Connection, column: Column) -> None:
    dialect = connection.dialect
    kind = column.type.compile(dialect=dialect)
    table, name = dialect.identifier_preparer.quote(column.table.name), dialect.identifier_preparer.quote(column.name)
    guard = "IF NOT EXISTS " if dialect.name == "postgresql" else ""
    try:
        connection.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {guard}{name} {kind}{_default(column)}")
    except OperationalError as err:  # SQLite: another process added it first
        if "duplicate column" not in str(err).lower():
            raise
    for index in column.table.indexes:
        if column.name in index.columns:
            connection.execute(CreateIndex(index, if_not_exists=True))
    log.info("database upgraded: added column %s.%s", column.table.name, column.name)


def upgrade(engine: Engine, metadata: MetaData) -> list[str]:
    """Add every missing column of `metadata`'s existing tables; returns their `table.column` names."""
    with engine.connect() as connection:
        missing = missing_columns(connection, metadata)
    if not missing:
        return []
    with engine.begin() as connection:
        for column in missing_columns(connection, metadata):  # again, inside the transaction
            _add(connection, column)
    return [f"{column.table.name}.{column.name}" for column in missing]
