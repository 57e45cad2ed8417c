"""`GET /api/v2/metrics`: totals over the period, camelCase, durations in milliseconds; null where nothing was
measured."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from api.common.dates import iso
from core.system import metrics as m

SECTIONS = ("requests", "performance", "resources", "business")


def metrics(period: str, resolution: str | None, since: datetime, until: datetime, wanted: list[str],
            requests: m.RequestTotals | None, resources: m.Resources | None,
            business: m.Business | None) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if requests is not None:
        if "requests" in wanted:
            body["requests"] = {
                "total": requests.requests,
                "successful": requests.requests - requests.client_errors - requests.server_errors,
                "failed": requests.server_errors, "clientErrors": requests.client_errors,
                "rate": m.request_rate(requests, since, until),  # requests/s over the span rollups cover
            }
        if "performance" in wanted:
            latency = requests.latency()
            body["performance"] = {"avgResponseTime": latency.avg, "p50": latency.p50, "p90": latency.p90,
                                   "p95": latency.p95, "p99": latency.p99, "maxResponseTime": latency.max}
    if resources is not None:
        body["resources"] = {"cpu": resources.cpu, "memory": resources.memory, "disk": resources.disk,
                             "diskIO": None, "networkIO": None,  # not sampled
                             "samples": resources.samples}
    if business is not None:
        body["business"] = {"swarmsCreated": business.swarms_created, "tasksCompleted": business.tasks_completed,
                            "agentsSpawned": business.agents_spawned, "avgTaskTime": business.avg_task_time_ms}
    return {"period": period, "resolution": resolution, "from": iso(since), "to": iso(until), "metrics": body}
