"""What a process does before its first request: open the database, so its tables exist (a fresh install works)
and a broken database URL fails start-up rather than the first request."""

from __future__ import annotations

from core.db import get_engine


def open_database() -> None:
    get_engine()


def upgrade_database(url: str) -> tuple[str | None, str]:
    """Run the migrations the database at `url` has not had (`stellarflow db upgrade`); returns (before, after)."""
    from core.db import configure_engine
    from core.schema import migrate

    engine = configure_engine(url)
    try:
        return migrate(engine)
    finally:
        engine.dispose()


def database_revision(url: str) -> tuple[str | None, str]:
    """(the database's revision, the code's head revision), without changing anything."""
    from core.db import configure_engine
    from core.schema import current_revision, head_revision

    engine = configure_engine(url)
    try:
        with engine.connect() as connection:
            return current_revision(connection), head_revision()
    finally:
        engine.dispose()
