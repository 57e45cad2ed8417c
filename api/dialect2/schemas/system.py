"""What `/api/v2/system/health` and `/api/v2/metrics` answer, for the OpenAPI document
(api/dialect2/presenters/health.py and metrics.py build them)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from api.dialect2.schemas.documents import _Open


class Component(_Open):
    """One checked component. Besides these, each carries what its check found (e.g. the pollers per queue)."""

    status: str = Field(description="healthy, degraded or unhealthy", examples=["healthy"])
    target: str | None = Field(default=None, description="where it was reached (Temporal's address)")
    responseTime: float | None = Field(default=None, description="milliseconds, to 0.01 ms; measured for failed "
                                       "checks too", examples=[3.12])
    error: str | None = Field(default=None, description="the kind of failure (an exception's class name, or what "
                              "is missing)")


class Health(_Open):
    """Status and time for everyone; `version`, `uptime` and `components` for admins only. Unconfigured components
    (no REDIS_URL: no cache) are not listed."""

    status: Literal["healthy", "degraded", "unhealthy"] = Field(
        description="unhealthy (503) while the database or Temporal is down; degraded when something else is")
    timestamp: str
    version: str | None = Field(default=None, examples=["2.0.0"])
    uptime: int | None = Field(default=None, description="milliseconds since the API started", examples=[8640000])
    components: dict[str, Component] | None = None


class RequestFigures(_Open):
    total: int = Field(ge=0, examples=[156234])
    successful: int = Field(ge=0)
    failed: int = Field(ge=0, description="answers with a 5xx status")
    clientErrors: int = Field(ge=0, description="answers with a 4xx status")
    rate: float | None = Field(default=None, description="requests per second over the span the rollups cover; "
                               "null while that span is too short")


class PerformanceFigures(_Open):
    """Response times in milliseconds; null when no request was measured."""

    avgResponseTime: float | None = None
    p50: float | None = None
    p90: float | None = None
    p95: float | None = None
    p99: float | None = None
    maxResponseTime: float | None = None


class ResourceFigures(_Open):
    """Host usage as shares (0–1), averaged over the samples; null when nothing was sampled."""

    cpu: float | None = None
    memory: float | None = None
    disk: float | None = None
    diskIO: float | None = Field(default=None, description="not sampled: always null")
    networkIO: float | None = Field(default=None, description="not sampled: always null")
    samples: int = Field(ge=0)


class BusinessFigures(_Open):
    swarmsCreated: int = Field(ge=0)
    tasksCompleted: int = Field(ge=0)
    agentsSpawned: int = Field(ge=0)
    avgTaskTime: float | None = Field(default=None, description="milliseconds over the tasks completed in the "
                                      "period that have a measured duration")


class MetricSections(_Open):
    """The sections asked for (`metrics=`; all by default)."""

    requests: RequestFigures | None = None
    performance: PerformanceFigures | None = None
    resources: ResourceFigures | None = None
    business: BusinessFigures | None = None


class Metrics(_Open):
    period: str = Field(examples=["24h"])
    resolution: str | None = Field(default=None, examples=["5m"])
    from_: str = Field(alias="from", description="the period's start (ISO 8601, UTC)")
    to: str = Field(description="the period's end")
    metrics: MetricSections
