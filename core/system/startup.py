"""What a process does before its first request: open the database, so its tables exist (a fresh install works)
and a broken database URL fails start-up rather than the first request."""

from __future__ import annotations

from core.db import get_engine


def open_database() -> None:
    get_engine()
