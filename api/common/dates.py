"""Times as both dialects write them: ISO 8601 in UTC with a `Z`, e.g. `2024-01-01T12:00:00.123456Z`."""

from __future__ import annotations

from datetime import UTC, datetime


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def iso(moment: datetime | None) -> str | None:
    """`moment` in UTC (a naive time is taken as UTC, as every stored time is); None stays None."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
