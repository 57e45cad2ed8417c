"""A database created before the ownership columns existed is brought up to date when the engine is built
(core/schema.py), on SQLite and on PostgreSQL: the columns and their indexes are added, old rows keep working with
no owner (admins only may change them), and running it again changes nothing."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, inspect, text
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

import core.db  # noqa: F401  (every table model registered on SQLModel.metadata)
from core.schema import SchemaUpgradeError, upgrade

PG_URL = os.environ.get("STELLARFLOW_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PG_SCHEMA = "stellarflow_upgrade_test"
ADDED = {("workflows", "owner"), ("workflows", "shared_with"), ("runs", "started_by")}


def _postgres(url: str) -> Engine | None:
    try:
        import psycopg

        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), connect_timeout=3,
                             autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE")
            connection.execute(f"CREATE SCHEMA {PG_SCHEMA}")
    except Exception:  # noqa: BLE001 - no server here: the SQLite case still runs
        return None
    return create_engine(f"{url}?options=-csearch_path%3D{PG_SCHEMA}")


@pytest.fixture(params=["sqlite", "postgresql"])
def old_database(request: pytest.FixtureRequest, tmp_path) -> Iterator[Engine]:
    """Today's tables without the columns added for ownership, holding a workflow and a run from before."""
    if request.param == "sqlite":
        engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    else:
        found = _postgres(PG_URL)
        if found is None:
            pytest.skip(f"PostgreSQL is unreachable at {PG_URL.split('@')[-1]}")
        engine = found
    SQLModel.metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(text("DROP INDEX IF EXISTS ix_workflows_owner"))
        connection.execute(text("DROP INDEX IF EXISTS ix_runs_started_by"))
        for table, column in sorted(ADDED):
            connection.execute(text(f"ALTER TABLE {table} DROP COLUMN {column}"))
        now = datetime.now(UTC)
        connection.execute(text("INSERT INTO workflows (id, name, version, content_hash, source, status, created_at, "
                                "updated_at) VALUES ('wf-old', 'old', 1, 'h', 'api', 'active', :now, :now)"),
                           {"now": now})
        connection.execute(text("INSERT INTO runs (id, workflow_id, version, status, seq, inputs, state, created_at) "
                                "VALUES ('run-old', 'wf-old', 1, 'succeeded', 0, '{}', '{}', :now)"), {"now": now})
    yield engine
    engine.dispose()


def _columns(engine: Engine) -> set[tuple[str, str]]:
    inspector = inspect(engine)
    return {(table, column["name"]) for table in ("workflows", "runs") for column in inspector.get_columns(table)}


def test_missing_columns_and_their_indexes_are_added_once(old_database: Engine) -> None:
    assert not ADDED & _columns(old_database)
    added = upgrade(old_database, SQLModel.metadata)
    assert set(tuple(name.split(".")) for name in added) == ADDED
    assert ADDED <= _columns(old_database)
    indexes = {index["name"] for table in ("workflows", "runs") for index in inspect(old_database).get_indexes(table)}
    assert {"ix_workflows_owner", "ix_runs_started_by"} <= indexes
    with old_database.connect() as connection:
        row = connection.execute(text("SELECT owner, shared_with FROM workflows WHERE id = 'wf-old'")).one()
        assert tuple(row) == (None, None)  # made before owners: admins only may change it
        assert connection.execute(text("SELECT started_by FROM runs WHERE id = 'run-old'")).scalar_one() is None
    assert upgrade(old_database, SQLModel.metadata) == []  # current: nothing to do


def test_a_column_that_cannot_be_added_in_place_is_refused(tmp_path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'strict.db'}")
    before = MetaData()
    Table("things", before, Column("id", Integer, primary_key=True))
    before.create_all(engine)
    after = MetaData()
    Table("things", after, Column("id", Integer, primary_key=True), Column("needed", String, nullable=False))
    with pytest.raises(SchemaUpgradeError, match="things.needed is NOT NULL"):
        upgrade(engine, after)
