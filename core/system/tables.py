"""Tables of the platform's own figures: per-minute request rollups written by each API process, host samples
written by the sampling Schedule, and diagnostic bundles.

Rollups are additive: an API process writes the minutes it has aggregated (a minute may arrive in more than one row
when a process flushes early, e.g. before answering a metrics query), and reads sum the rows of a bucket. So any
number of replicas write without coordination, and nothing is lost or counted twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, LargeBinary
from sqlmodel import Field, SQLModel

from core.db import utcnow


class RequestRollupRow(SQLModel, table=True):
    """One API process's requests of one minute: counts, and latencies as histogram buckets (`le` in ms → count),
    from which p50/p90/p95/p99 are computed for any bucket of minutes."""

    __tablename__ = "request_rollups"
    __table_args__ = (Index("ix_request_rollups_minute", "minute"),)
    id: int | None = Field(default=None, primary_key=True)
    minute: datetime  # the minute's start, UTC
    source: str  # which API process (host:pid:start)
    requests: int = 0
    client_errors: int = 0  # 4xx
    server_errors: int = 0  # 5xx
    latency_sum_ms: float = 0.0
    latency_max_ms: float = 0.0
    buckets: dict[str, int] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class HostSampleRow(SQLModel, table=True):
    """One sample of a worker host's resources, taken by the metrics Schedule's activity (fractions 0..1)."""

    __tablename__ = "host_samples"
    __table_args__ = (Index("ix_host_samples_at", "at"),)
    id: int | None = Field(default=None, primary_key=True)
    at: datetime
    host: str
    cpu: float
    memory: float
    disk: float
    load1: float | None = None


class DiagnosticReportRow(SQLModel, table=True):
    """A diagnostic bundle: `generating` while its DiagnosticsWorkflow runs, then `ready` with the bytes (JSON,
    gzip-compressed when asked), or `failed` with the error's kind. Kept in the database, which every API replica
    reaches, rather than on one worker's disk."""

    __tablename__ = "diagnostic_reports"
    id: str = Field(primary_key=True)  # diag-<ULID>, also the workflow id
    status: str = "generating"
    requested_by: str
    request: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    compressed: bool = False
    size: int | None = None
    bundle: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    error: str | None = None
    created_at: datetime = Field(default_factory=utcnow, index=True)
    completed_at: datetime | None = None
