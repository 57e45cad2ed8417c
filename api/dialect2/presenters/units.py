"""Dialect 2 writes durations in whole milliseconds; the domain keeps some in seconds."""

from __future__ import annotations


def millis(s: float | None) -> int | None:
    """Seconds → whole milliseconds."""
    return None if s is None else int(round(s * 1000))
