"""Metric series and totals for `/api/system/metrics` and `/api/v2/metrics`, computed from what was measured:
request rollups (core/system/requests.py), host samples (the metrics Schedule) and business counts from the events
and projections. A figure with nothing behind it is None, never 0 or a guess; a bucket in which nothing was
measured is left out of its series.

Percentiles come from the merged latency histogram of a bucket, interpolated linearly inside the histogram bucket
that holds the rank (as Prometheus' `histogram_quantile` does); the open-ended top bucket is capped by the measured
maximum.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func
from sqlmodel import select

from core.agents.models import TaskStatus
from core.agents.tables import AgentRow, TaskRow
from core.db import session_scope
from core.errors import ValidationFailed
from core.events.tables import EventRow
from core.system.requests import BUCKET_KEYS, BUCKETS_MS
from core.system.tables import HostSampleRow, RequestRollupRow

PERIODS = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
RESOLUTIONS = {"1m": timedelta(minutes=1), "5m": timedelta(minutes=5), "1h": timedelta(hours=1)}
DEFAULT_RESOLUTION = {"1h": "1m", "24h": "5m", "7d": "1h", "30d": "1h"}
QUANTILES = (0.5, 0.9, 0.95, 0.99)
MIN_RATE_WINDOW = timedelta(seconds=60)  # a rate over less time than this means nothing: None


def _choice(value: str, allowed: dict[str, Any], field: str) -> str:
    if value not in allowed:
        raise ValidationFailed(f"Unknown {field}", details=[{
            "field": field, "constraint": "enum", "value": value, "allowed": list(allowed),
            "message": f"must be one of: {', '.join(allowed)}"}])
    return value


def window(period: str, resolution: str | None) -> tuple[str, str, datetime, datetime]:
    """(period, resolution, since, until), checked; `resolution` defaults by period."""
    _choice(period, PERIODS, "period")
    resolution = _choice(resolution or DEFAULT_RESOLUTION[period], RESOLUTIONS, "resolution")
    until = datetime.now(UTC)
    return period, resolution, until - PERIODS[period], until


class Latency(BaseModel):
    avg: float | None = None
    max: float | None = None
    p50: float | None = None
    p90: float | None = None
    p95: float | None = None
    p99: float | None = None


class RequestTotals(BaseModel):
    requests: int = 0
    client_errors: int = 0
    server_errors: int = 0
    latency_sum_ms: float = 0.0
    latency_max_ms: float = 0.0
    counts: dict[str, int] = {}
    first_minute: datetime | None = None

    def add(self, row: RequestRollupRow) -> None:
        self.requests += row.requests
        self.client_errors += row.client_errors
        self.server_errors += row.server_errors
        self.latency_sum_ms += row.latency_sum_ms
        self.latency_max_ms = max(self.latency_max_ms, row.latency_max_ms)
        merged = dict(self.counts)
        for key, count in row.buckets.items():
            merged[key] = merged.get(key, 0) + int(count)
        self.counts = merged
        minute = _utc(row.minute)
        if self.first_minute is None or minute < self.first_minute:
            self.first_minute = minute

    def latency(self) -> Latency:
        if not self.requests:
            return Latency()
        figures = {f"p{round(q * 100)}": quantile(self.counts, q, self.latency_max_ms) for q in QUANTILES}
        return Latency(avg=round(self.latency_sum_ms / self.requests, 2), max=round(self.latency_max_ms, 2),
                       **figures)


def quantile(counts: dict[str, int], q: float, maximum: float) -> float | None:
    total = sum(counts.values())
    if not total:
        return None
    rank = q * total
    seen = 0
    lower = 0.0
    for key, upper in zip(BUCKET_KEYS, (*BUCKETS_MS, None), strict=True):
        count = counts.get(key, 0)
        top = maximum if upper is None else min(upper, max(maximum, lower))
        if count and seen + count >= rank:
            return round(lower + (top - lower) * (rank - seen) / count, 2)
        seen += count
        lower = upper if upper is not None else lower
    return round(maximum, 2)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _bucket(moment: datetime, resolution: timedelta) -> datetime:
    seconds = int(resolution.total_seconds())
    epoch = int(_utc(moment).timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, UTC)


def _rollups(since: datetime, until: datetime) -> list[RequestRollupRow]:
    start = _bucket(since, RESOLUTIONS["1m"])  # the minute `since` falls in counts whole
    with session_scope() as session:
        return list(session.exec(select(RequestRollupRow).where(RequestRollupRow.minute >= start,
                                                                RequestRollupRow.minute <= until)).all())


def _samples(since: datetime, until: datetime) -> list[HostSampleRow]:
    with session_scope() as session:
        return list(session.exec(select(HostSampleRow).where(HostSampleRow.at >= since,
                                                             HostSampleRow.at <= until)).all())


def request_series(since: datetime, until: datetime, resolution: str) -> dict[datetime, RequestTotals]:
    buckets: dict[datetime, RequestTotals] = defaultdict(RequestTotals)
    for row in _rollups(since, until):
        buckets[_bucket(row.minute, RESOLUTIONS[resolution])].add(row)
    return dict(sorted(buckets.items()))


def request_totals(since: datetime, until: datetime) -> RequestTotals:
    totals = RequestTotals()
    for row in _rollups(since, until):
        totals.add(row)
    return totals


class Resources(BaseModel):
    cpu: float | None = None
    memory: float | None = None
    disk: float | None = None
    samples: int = 0


def _average(samples: list[HostSampleRow]) -> Resources:
    if not samples:
        return Resources()
    n = len(samples)
    return Resources(cpu=round(sum(s.cpu for s in samples) / n, 4), memory=round(sum(s.memory for s in samples) / n, 4),
                     disk=round(sum(s.disk for s in samples) / n, 4), samples=n)


def resource_series(since: datetime, until: datetime, resolution: str) -> dict[datetime, Resources]:
    grouped: dict[datetime, list[HostSampleRow]] = defaultdict(list)
    for sample in _samples(since, until):
        grouped[_bucket(sample.at, RESOLUTIONS[resolution])].append(sample)
    return {moment: _average(grouped[moment]) for moment in sorted(grouped)}


def resource_totals(since: datetime, until: datetime) -> Resources:
    return _average(_samples(since, until))


class Business(BaseModel):
    swarms_created: int
    tasks_completed: int
    agents_spawned: int
    avg_task_time_ms: float | None  # over the tasks completed in the period that have a measured duration


def business(since: datetime, until: datetime) -> Business:
    """Swarms created and tasks completed from the event log; agents spawned from the agents projection (agents
    have no creation event of their own); the average task time from the tasks projection's measured durations."""
    with session_scope() as session:
        def events(kind: str) -> int:
            return int(session.exec(select(func.count()).select_from(EventRow).where(
                EventRow.type == kind, EventRow.at >= since, EventRow.at <= until)).one())

        agents = int(session.exec(select(func.count()).select_from(AgentRow).where(
            AgentRow.created_at >= since, AgentRow.created_at <= until)).one())
        average = session.exec(select(func.avg(TaskRow.duration_ms)).where(
            TaskRow.status == TaskStatus.completed.value, TaskRow.completed_at >= since,  # type: ignore[operator]
            TaskRow.completed_at <= until, TaskRow.duration_ms.is_not(None))).one()  # type: ignore[union-attr]
        return Business(swarms_created=events("swarm.created"), tasks_completed=events("task.completed"),
                        agents_spawned=agents, avg_task_time_ms=None if average is None else round(float(average), 1))


def request_rate(totals: RequestTotals, since: datetime, until: datetime) -> float | None:
    """Requests per second over the time rollups cover in the period, or None under MIN_RATE_WINDOW."""
    if totals.first_minute is None:
        return None
    span = until - max(since, totals.first_minute)
    if span < MIN_RATE_WINDOW:
        return None
    return round(totals.requests / span.total_seconds(), 4)


def prune(before: datetime) -> dict[str, int]:
    """Delete rollups, host samples and diagnostic bundles older than `before` (the retention)."""
    from core.db import get_engine
    from core.system.tables import DiagnosticReportRow

    removed = {}
    with get_engine().begin() as connection:
        for name, table, column in (("request_rollups", RequestRollupRow, RequestRollupRow.minute),
                                    ("host_samples", HostSampleRow, HostSampleRow.at),
                                    ("diagnostic_reports", DiagnosticReportRow, DiagnosticReportRow.created_at)):
            result = connection.execute(table.__table__.delete().where(column < before))  # type: ignore[attr-defined]
            removed[name] = max(result.rowcount or 0, 0)
    return removed


def record_sample(sample: Any) -> None:
    """Store one host sample (core.system.host.HostResources)."""
    from core.db import get_engine

    with get_engine().begin() as connection:
        connection.execute(HostSampleRow.__table__.insert(), [{  # type: ignore[attr-defined]
            "at": datetime.now(UTC), "host": sample.host, "cpu": sample.cpu, "memory": sample.memory,
            "disk": sample.disk, "load1": sample.load1}])
