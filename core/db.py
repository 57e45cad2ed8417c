"""The database engine and transactions. SQLite file by default, PostgreSQL through DATABASE_URL.

Tables live with their capability (`core/<capability>/tables.py`); this module only builds the engine and hands out
sessions. Building an engine brings its database up to date with the migrations (`core/schema.py`). Every table
module is imported at the bottom, so `SQLModel.metadata` holds them all (the migration test compares against it).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

from core.schema import migrate


def utcnow() -> datetime:
    return datetime.now(UTC)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _private_sqlite_file(path: Path) -> None:
    """The database (and SQLite's -wal/-shm files, which take its mode) is for the server's user only: created
    0600 before SQLite opens it, in a 0700 directory when we create that directory; an existing one is tightened."""
    from core.datadir import PRIVATE_DIR, create_private_file, private_file

    path.parent.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    create_private_file(path)
    for suffix in ("-wal", "-shm"):
        private_file(path.with_name(path.name + suffix))


def configure_engine(url: str) -> Engine:
    """A new engine for `url` with our settings (SQLite: WAL, busy timeout, foreign keys), not yet migrated."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            _private_sqlite_file(Path(path))
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_engine(url, pool_pre_ping=True)
    event.listen(engine, "handle_error", _refuse_nul)
    return engine


def _refuse_nul(context: Any) -> Exception | None:
    """PostgreSQL refuses text with NUL characters (`\u0000`), which SQLite stores: a value carrying one is the
    caller's error (400), never a 500."""
    message = str(context.original_exception)
    if "NUL (0x00)" in message or "\\u0000 cannot be converted" in message or "contains NUL" in message:
        from core.errors import ValidationFailed

        return ValidationFailed("Request validation failed", details=[{
            "field": "", "constraint": "no_nul", "message": "Text may not contain NUL (\\u0000) characters"}])
    return None


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    engine = configure_engine(url)
    migrate(engine)  # Alembic migrations up to head (core/schema.py, core/migrations/)
    return engine


def get_engine() -> Engine:
    from core.settings import get_settings

    return engine_for(get_settings().db_url)


@contextmanager
def session_scope() -> Iterator[Session]:
    """One transaction: committed on success, rolled back on error."""
    with Session(get_engine(), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except Exception:
            session.rollback()
            raise


# Every capability's tables register themselves on SQLModel.metadata when imported.
import core.agents.tables  # noqa: E402, F401
import core.artifacts.tables  # noqa: E402, F401
import core.auth.tables  # noqa: E402, F401
import core.events.tables  # noqa: E402, F401
import core.github.tables  # noqa: E402, F401
import core.idempotency.tables  # noqa: E402, F401
import core.memory.tables  # noqa: E402, F401
import core.neural.tables  # noqa: E402, F401
import core.operations.tables  # noqa: E402, F401
import core.orchestrations.tables  # noqa: E402, F401
import core.pipelines.tables  # noqa: E402, F401
import core.schedules.tables  # noqa: E402, F401
import core.sources.tables  # noqa: E402, F401
import core.system.tables  # noqa: E402, F401
import core.webhooks.tables  # noqa: E402, F401
