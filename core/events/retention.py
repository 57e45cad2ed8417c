"""How long the event log keeps events: `STELLARFLOW_EVENT_RETENTION_DAYS` (unset: forever).

Swept by the maintenance schedule that sweeps expired memory (`sweep_expired_memory`), so no schedule of its own.
The newest event is never deleted, so ids never restart (SQLite reuses the ids of an emptied table). A stream client
resuming from an id older than the oldest kept one is told so (`gap`, docs/events.md), never silently skipped.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, func, select

from core.db import get_engine, utcnow
from core.events.tables import EventRow


def sweep_old_events(days: float | None = None) -> int:
    """Delete events older than the retention; returns how many."""
    if days is None:
        from core.settings import get_settings

        days = get_settings().event_retention_days
    if days is None:
        return 0
    cutoff = utcnow() - timedelta(days=days)
    table = EventRow.__table__  # type: ignore[attr-defined]
    with get_engine().begin() as conn:
        newest = conn.execute(select(func.max(table.c.id))).scalar()
        through = conn.execute(select(func.max(table.c.id)).where(table.c.at < cutoff)).scalar()
        if newest is None or through is None:
            return 0
        # A prefix of ids, so "older than the oldest kept id" is exactly "possibly deleted" for a resuming client.
        result = conn.execute(delete(table).where(table.c.id <= min(through, newest - 1)))
        return max(result.rowcount or 0, 0)
