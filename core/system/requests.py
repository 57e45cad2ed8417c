"""Per-minute request rollups, aggregated in memory by each API process and flushed to `request_rollups`.

The request path only adds to counters of the current minute (a dict lookup and a bisect, under no lock: the ASGI
app runs on one event loop); a background task drains the minutes every STELLARFLOW_METRICS_FLUSH_INTERVAL_S and
writes one row per minute in one transaction. A metrics query flushes first, so it sees this process's requests up
to now. Rows are additive (core/system/tables.py), so a minute flushed twice is still counted once.
"""

from __future__ import annotations

import bisect
import logging
import os
import socket
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ulid import ULID

log = logging.getLogger("stellarflow.metrics")
# Upper bounds (ms) of the latency histogram; a request slower than the last one falls in "inf", whose percentiles
# are capped by the minute's measured maximum.
BUCKETS_MS: tuple[float, ...] = (1, 2, 3, 5, 7.5, 10, 15, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750, 1000, 1500,
                                 2000, 3000, 5000, 7500, 10000, 30000, 60000)
BUCKET_KEYS = tuple(f"{bound:g}" for bound in BUCKETS_MS) + ("inf",)
MAX_PENDING_MINUTES = 24 * 60  # a database that is down for a day loses the oldest minutes, not the process


@dataclass
class Minute:
    requests: int = 0
    client_errors: int = 0
    server_errors: int = 0
    latency_sum_ms: float = 0.0
    latency_max_ms: float = 0.0
    counts: list[int] = field(default_factory=lambda: [0] * len(BUCKET_KEYS))

    def merge(self, other: Minute) -> None:
        self.requests += other.requests
        self.client_errors += other.client_errors
        self.server_errors += other.server_errors
        self.latency_sum_ms += other.latency_sum_ms
        self.latency_max_ms = max(self.latency_max_ms, other.latency_max_ms)
        self.counts = [a + b for a, b in zip(self.counts, other.counts, strict=True)]

    def buckets(self) -> dict[str, int]:
        return {key: count for key, count in zip(BUCKET_KEYS, self.counts, strict=True) if count}


def process_source() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{str(ULID())[-6:]}"


class RequestAggregator:
    def __init__(self, source: str | None = None) -> None:
        self.source = source or process_source()
        self._minutes: dict[int, Minute] = {}

    def observe(self, status: int, duration_ms: float, at: float | None = None) -> None:
        minute_key = int((time.time() if at is None else at) // 60)
        minute = self._minutes.get(minute_key)
        if minute is None:
            minute = self._minutes[minute_key] = Minute()
        minute.requests += 1
        if 400 <= status < 500:
            minute.client_errors += 1
        elif status >= 500:
            minute.server_errors += 1
        minute.latency_sum_ms += duration_ms
        if duration_ms > minute.latency_max_ms:
            minute.latency_max_ms = duration_ms
        minute.counts[bisect.bisect_left(BUCKETS_MS, duration_ms)] += 1

    def drain(self) -> dict[int, Minute]:
        drained, self._minutes = self._minutes, {}
        return drained

    def restore(self, minutes: dict[int, Minute]) -> None:
        """Put back minutes a failed flush could not write (merged with any counted meanwhile)."""
        for key, minute in minutes.items():
            if key in self._minutes:
                self._minutes[key].merge(minute)
            else:
                self._minutes[key] = minute
        for key in sorted(self._minutes)[:-MAX_PENDING_MINUTES]:
            del self._minutes[key]

    def flush(self) -> int:
        """Write every pending minute; returns how many rows were written. On a database error the minutes are kept
        for the next flush."""
        minutes = self.drain()
        if not minutes:
            return 0
        try:
            write_rollups(self.source, minutes)
        except Exception:  # noqa: BLE001 - the request counts must survive a database hiccup
            log.warning("could not write request rollups; keeping %d minute(s) for the next flush", len(minutes),
                        exc_info=True)
            self.restore(minutes)
            return 0
        return len(minutes)


def write_rollups(source: str, minutes: dict[int, Minute]) -> None:
    from core.db import get_engine
    from core.system.tables import RequestRollupRow

    rows = [{"minute": datetime.fromtimestamp(key * 60, UTC), "source": source, "requests": m.requests,
             "client_errors": m.client_errors, "server_errors": m.server_errors,
             "latency_sum_ms": round(m.latency_sum_ms, 3), "latency_max_ms": round(m.latency_max_ms, 3),
             "buckets": m.buckets()} for key, m in sorted(minutes.items())]
    with get_engine().begin() as connection:
        connection.execute(RequestRollupRow.__table__.insert(), rows)  # type: ignore[attr-defined]
