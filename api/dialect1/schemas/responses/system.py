"""`/api/health` and `/api/system/*` bodies (api/dialect1/presenters/health.py, system.py)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from api.dialect1.schemas.responses.common import Open, Timestamp


class HealthCheckV1(Open):
    name: str = Field(examples=["database"])
    status: Literal["pass", "warn", "fail"]
    response_time: float | None = Field(description="ms, measured for failed checks too")
    target: str | None = None
    error: str | None = Field(default=None, description="the kind of error, when the check failed")
    details: dict[str, Any] | None = None


class HealthV1(Open):
    """`checks` only for a caller that may see the deployment's internals (an admin's token)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "status": "healthy", "timestamp": "2024-01-01T12:00:00Z",
        "checks": [{"name": "database", "status": "pass", "response_time": 5.2},
                   {"name": "temporal", "status": "pass", "response_time": 3.1, "target": "localhost:7233"}]}]})

    status: Literal["healthy", "degraded", "unhealthy"]
    timestamp: Timestamp
    checks: list[HealthCheckV1] | None = None


class StatusCheckV1(Open):
    name: str
    status: str = Field(description="healthy, degraded or unhealthy")
    response_time: float | None
    error: str | None = None
    details: dict[str, Any] | None = None


class StatusMetricsV1(Open):
    agents_active: int
    tasks_queued: int
    memory_usage: float = Field(description="this host's memory in use, a share")
    cpu_usage: float = Field(description="this host's CPU busy, a share")
    cpu_window_s: float = Field(description="seconds the CPU figure was measured over")


class ClusterV1(Open):
    """Temporal's cluster, as it describes itself; what it does not tell its clients is null."""

    engine: Literal["temporal"]
    server_version: str | None
    cluster_name: str | None
    cluster_id: str | None
    namespace: str
    history_shards: int | None
    persistence: str | None
    visibility: str | None
    workers: Any = Field(default=None, description="the workers polling, as the workers check found them")
    nodes: None
    leader: None
    sync_status: None


class SystemStatusV1(Open):
    status: Literal["operational", "degraded", "unhealthy"]
    version: str
    uptime: int = Field(description="seconds this API process has run")
    components: dict[str, str] = Field(description="component → healthy, degraded, unhealthy or not_configured")
    checks: list[StatusCheckV1]
    metrics: StatusMetricsV1
    cluster: ClusterV1 | None = Field(description="null when Temporal did not answer")


class SystemConfigV1(Open):
    """The effective configuration of this API process; secrets read `[REDACTED]`, URLs lose their passwords."""

    orchestrator: dict[str, Any]
    memory: dict[str, Any]
    security: dict[str, Any]
    features: dict[str, Any]
    metrics: dict[str, Any]
    settings: dict[str, Any] = Field(description="every setting by name")


class ThroughputPoint(Open):
    timestamp: Timestamp
    value: float = Field(description="requests per minute of the bucket")
    requests: int


class LatencyPoint(Open):
    """Milliseconds."""

    timestamp: Timestamp
    p50: float | None
    p90: float | None
    p95: float | None
    p99: float | None
    avg: float | None
    max: float | None


class RatePoint(Open):
    timestamp: Timestamp
    value: float | None = Field(description="5xx answers / requests")


class ResourcePoint(Open):
    timestamp: Timestamp
    cpu: float | None
    memory: float | None
    disk: float | None


class SeriesV1(Open):
    throughput: list[ThroughputPoint]
    latency: list[LatencyPoint]
    error_rate: list[RatePoint]
    resource_usage: list[ResourcePoint]


class SystemMetricsV1(Open):
    """Buckets where something was measured."""

    period: str = Field(examples=["1h"])
    resolution: str = Field(examples=["1m"])
    from_: Timestamp = Field(alias="from")
    to: Timestamp
    metrics: SeriesV1


class DiagnosticsV1Body(Open):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "report_id": "diag-01J9Z6X1QH5V2M8T4K7W3R0ABK", "status": "ready", "estimated_time": 0,
        "download_url": "/api/system/diagnostics/diag-01J9Z6X1QH5V2M8T4K7W3R0ABK/download",
        "created_at": "2024-01-01T12:00:00Z", "size": 48213}]})
    report_id: str
    status: Literal["generating", "ready", "failed"]
    estimated_time: int = Field(description="seconds; 0 unless generating")
    download_url: str
    created_at: Timestamp | None
    size: int | None = Field(description="bytes, once ready")
    error: str | None = Field(default=None, description="why it failed")


class TimeRange(Open):
    start: Timestamp
    end: Timestamp


class DiagnosticBundleV1(Open):
    """The downloaded bundle (uncompressed); each section asked for in `include` is present, a section that could
    not be gathered reads `{"error": <kind>}`. Known secret values are removed throughout."""

    report_id: str
    generated_at: Timestamp
    time_range: TimeRange
    include: list[str]
    versions: dict[str, Any] | None = None
    config: dict[str, Any] | None = None
    logs: dict[str, Any] | None = None
    memory_dump: dict[str, Any] | None = None
    metrics: dict[str, Any] | None = None
    workers: dict[str, Any] | None = None
