"""Migrations (Alembic, `core/migrations/`), the same way on SQLite and PostgreSQL (each half of the session runs
these on a fresh database of its kind): a fresh database migrates to exactly the models' schema; a database made
before migrations existed (tables from `create_all`, columns the ownership work added missing, a memory store from
before `filter_terms`) is completed and keeps its rows; processes starting together migrate once; and
`stellarflow db upgrade` does it on demand."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, inspect, text
from sqlmodel import SQLModel

import core.db  # noqa: F401  (every table model registered on SQLModel.metadata)
from core.db import configure_engine
from core.schema import SchemaUpgradeError, current_revision, head_revision, migrate, upgrade

ROOT = Path(__file__).resolve().parents[1]
# Objects the models do not describe: the memory store's full-text search, made by the baseline's own DDL.
FULL_TEXT = {"memory_fts", "memory_fts_data", "memory_fts_idx", "memory_fts_docsize", "memory_fts_config",
             "search_vector", "ix_memory_entries_search", "ix_memory_entries_filter_terms"}
ADDED_LATER = {("workflows", "owner"), ("workflows", "shared_with"), ("runs", "started_by")}


def _differences(engine) -> list:
    def include(obj, name, kind, reflected, compare_to) -> bool:
        return name not in FULL_TEXT and name != "alembic_version"

    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_object": include, "compare_type": True})
        return compare_metadata(context, SQLModel.metadata)


def test_a_fresh_database_migrates_to_exactly_the_models(fresh_database_url: str) -> None:
    engine = configure_engine(fresh_database_url)
    try:
        assert migrate(engine) == (None, head_revision())
        assert _differences(engine) == [], "models and migrations differ: write a migration (core/schema.py)"
        with engine.connect() as connection:
            assert current_revision(connection) == head_revision()
        assert migrate(engine) == (head_revision(), head_revision())  # current: nothing to do
    finally:
        engine.dispose()


def test_a_database_from_before_migrations_is_completed_and_keeps_its_rows(fresh_database_url: str) -> None:
    engine = configure_engine(fresh_database_url)
    try:
        SQLModel.metadata.create_all(engine)  # how every release before migrations made its tables
        with engine.begin() as connection:
            connection.execute(text("DROP INDEX IF EXISTS ix_workflows_owner"))
            connection.execute(text("DROP INDEX IF EXISTS ix_runs_started_by"))
            for table, column in sorted(ADDED_LATER):
                connection.execute(text(f"ALTER TABLE {table} DROP COLUMN {column}"))
            if engine.dialect.name == "postgresql":  # a memory store from before its filter tokens
                connection.execute(text("ALTER TABLE memory_entries DROP COLUMN filter_terms"))
            now = datetime.now(UTC)
            connection.execute(text("INSERT INTO workflows (id, name, version, content_hash, source, status, "
                                    "created_at, updated_at) VALUES ('wf-old', 'old', 1, 'h', 'api', 'active', :now, "
                                    ":now)"), {"now": now})
            connection.execute(text("INSERT INTO runs (id, workflow_id, version, status, seq, inputs, state, "
                                    "created_at) VALUES ('run-old', 'wf-old', 1, 'succeeded', 0, '{}', '{}', :now)"),
                               {"now": now})
        with engine.connect() as connection:
            assert current_revision(connection) is None

        assert migrate(engine) == (None, head_revision())
        assert _differences(engine) == []
        indexes = {i["name"] for table in ("workflows", "runs") for i in inspect(engine).get_indexes(table)}
        assert {"ix_workflows_owner", "ix_runs_started_by"} <= indexes
        with engine.connect() as connection:
            owner = connection.execute(text("SELECT owner, shared_with FROM workflows WHERE id = 'wf-old'")).one()
            assert tuple(owner) == (None, None)  # made before owners: admins only may change it
            assert connection.execute(text("SELECT started_by FROM runs WHERE id = 'run-old'")).scalar_one() is None
        assert migrate(engine) == (head_revision(), head_revision())
    finally:
        engine.dispose()


def test_processes_starting_together_migrate_once(fresh_database_url: str) -> None:
    engines = [configure_engine(fresh_database_url) for _ in range(4)]
    results: list[tuple] = []
    errors: list[BaseException] = []

    def run(engine) -> None:
        try:
            results.append(migrate(engine))
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=run, args=(engine,)) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for engine in engines:
        engine.dispose()
    assert not errors, errors
    assert sorted(results, key=str) == sorted([(None, head_revision())] + [(head_revision(), head_revision())] * 3,
                                              key=str)


def test_stellarflow_db_upgrade(fresh_database_url: str, tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": fresh_database_url, "STELLARFLOW_DATA_DIR": str(tmp_path)}
    command = [sys.executable, "-c", "import cli; cli.main()"]

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*command, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)

    behind = cli("db", "revision")
    assert behind.returncode == 1 and f"database (none), code {head_revision()}" in behind.stdout, behind
    first = cli("db", "upgrade")
    assert first.returncode == 0, first.stdout + first.stderr
    assert f"migrated from an unversioned database to {head_revision()}" in first.stdout
    again = cli("db", "upgrade")
    assert again.returncode == 0 and f"at revision {head_revision()} (current)" in again.stdout, again
    assert cli("db", "revision").returncode == 0


@pytest.mark.database("sqlite", reason="the rule is the same on both; this checks the refusal itself")
def test_a_column_that_cannot_be_added_in_place_is_refused(tmp_path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'strict.db'}")
    before = MetaData()
    Table("things", before, Column("id", Integer, primary_key=True))
    before.create_all(engine)
    after = MetaData()
    Table("things", after, Column("id", Integer, primary_key=True), Column("needed", String, nullable=False))
    with pytest.raises(SchemaUpgradeError, match="things.needed is NOT NULL"):
        upgrade(engine, after)
