"""Bring a database up to the table models: Alembic migrations (`core/migrations/`), applied the same way on SQLite
and PostgreSQL.

`migrate(engine)` runs every migration the database has not had, up to the head revision. Every process runs it when
it builds its engine (`core.db.engine_for`), and `stellarflow db upgrade` runs it on demand (a deploy job). It is
cheap when current (one read of `alembic_version`) and safe when several processes start together: the upgrade
holds a lock — PostgreSQL's advisory lock, or on SQLite an exclusive lock on a file beside the database — and
Alembic reads the revision again under it, so each migration runs once.

Databases made before migrations existed (by `create_all` plus the ad-hoc column upgrade this module used to be)
have tables but no `alembic_version`. The baseline revision completes them: it creates missing tables, adds the
columns and indexes they lack (`complete_tables`, which keeps the old rule: only nullable columns or ones with a
literal server default can be added to existing rows) and upgrades the memory store's search columns. So an
existing database is upgraded, never recreated.

A model change from now on needs a migration: `alembic revision` with `script_location = core/migrations` (see
docs/deploy.md), and `tests/test_migrations.py` fails while the migrated schema and the models differ.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

from sqlalchemy import Column, MetaData, inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.schema import CreateIndex

log = logging.getLogger("stellarflow.db")
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_PG_LOCK = "hashtext('stellarflow.migrations')"


class SchemaUpgradeError(RuntimeError):
    """A model gained a column that cannot be added in place (NOT NULL without a default): write a migration."""


# ---- Alembic -------------------------------------------------------------------------------------------------


def _config(connection: Connection | None = None):  # -> alembic.config.Config
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


@lru_cache(maxsize=1)
def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None, "core/migrations has no revision"
    return head


def current_revision(connection: Connection) -> str | None:
    if "alembic_version" not in inspect(connection).get_table_names():
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


@contextlib.contextmanager
def _migration_lock(engine: Engine) -> Iterator[Connection]:
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(text(f"SELECT pg_advisory_lock({_PG_LOCK})"))
            connection.commit()
            try:
                yield connection
            finally:
                connection.rollback()
                connection.execute(text(f"SELECT pg_advisory_unlock({_PG_LOCK})"))
                connection.commit()
        return
    database = engine.url.database
    lock_path = Path(f"{database}.migrate.lock") if database and database != ":memory:" else None
    with contextlib.ExitStack() as stack:
        if lock_path is not None:
            handle = stack.enter_context(open(lock_path, "a+b"))  # noqa: SIM115 - closed by the stack
            fcntl.flock(handle, fcntl.LOCK_EX)
        with engine.connect() as connection:
            yield connection


def migrate(engine: Engine, revision: str = "head") -> tuple[str | None, str]:
    """Run the migrations `engine`'s database has not had; returns (revision before, revision after)."""
    with engine.connect() as connection:
        before = current_revision(connection)
    if before == head_revision() and revision == "head":
        return before, before
    from alembic import command

    with _migration_lock(engine) as connection:
        before = current_revision(connection)
        command.upgrade(_config(connection), revision)
        connection.commit()
        after = current_revision(connection)
    if before != after:
        log.info("database migrated from %s to %s", before or "(none)", after)
    return before, after or ""


# ---- completing tables made before migrations (used by the baseline revision) ---------------------------------


def missing_columns(connection: Connection, metadata: MetaData) -> list[Column]:
    inspector = inspect(connection)
    existing_tables = set(inspector.get_table_names())
    missing: list[Column] = []
    for table in metadata.sorted_tables:
        if table.name not in existing_tables:
            continue  # created whole
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
    log.info("database upgraded: added column %s.%s", column.table.name, column.name)


def complete_tables(connection: Connection, metadata: MetaData) -> list[str]:
    """Create `metadata`'s missing tables; add the missing columns and indexes of the ones that exist. Returns the
    `table.column` names added. Idempotent."""
    missing = missing_columns(connection, metadata)
    for column in missing:
        _add(connection, column)
    metadata.create_all(connection, checkfirst=True)
    existing = set(inspect(connection).get_table_names())
    for table in metadata.sorted_tables:
        if table.name in existing:
            for index in table.indexes:
                connection.execute(CreateIndex(index, if_not_exists=True))
    return [f"{column.table.name}.{column.name}" for column in missing]


def upgrade(engine: Engine, metadata: MetaData) -> list[str]:
    """`complete_tables` in a transaction of its own (for a metadata outside the migrations, e.g. in tests)."""
    with engine.begin() as connection:
        return complete_tables(connection, metadata)
