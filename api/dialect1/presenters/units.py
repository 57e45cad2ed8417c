"""Dialect 1 writes durations in seconds; the domain measures most of them in milliseconds."""

from __future__ import annotations


def seconds(ms: float | None) -> float | None:
    """Milliseconds → seconds, to the millisecond."""
    return None if ms is None else round(ms / 1000, 3)
