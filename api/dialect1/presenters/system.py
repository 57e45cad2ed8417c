"""`/api/system/*` bodies: the claude-flow spec's snake_case shapes, with measured figures or null."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from api.common.dates import iso
from core.system import metrics as m
from core.system.status import SystemStatus, component_states
from core.system.tables import DiagnosticReportRow

STATUS = {"healthy": "operational", "degraded": "degraded", "unhealthy": "unhealthy"}


def status(report: SystemStatus) -> dict[str, Any]:
    health = report.health
    cluster = report.cluster
    return {
        "status": STATUS[health.status],
        "version": report.version,
        "uptime": int(report.uptime_s),
        "components": component_states(health),
        "checks": [{"name": name, "status": c.status, "response_time": c.response_time_ms,
                    **({"error": c.error} if c.error else {}), **({"details": c.details} if c.details else {})}
                   for name, c in health.components.items() if c.status != "not_configured"],
        "metrics": {"agents_active": report.agents_active, "tasks_queued": report.tasks_queued,
                    "memory_usage": report.host.memory, "cpu_usage": report.host.cpu,
                    "cpu_window_s": report.host.cpu_window_s},
        "cluster": None if cluster is None else {
            "engine": "temporal", "server_version": cluster.server_version, "cluster_name": cluster.cluster_name,
            "cluster_id": cluster.cluster_id, "namespace": cluster.namespace,
            "history_shards": cluster.history_shard_count, "persistence": cluster.persistence_store,
            "visibility": cluster.visibility_store,
            "workers": health.components["workers"].details.get("workers"),
            # Temporal does not tell its clients how many nodes it runs or which leads: not reported, not invented.
            "nodes": None, "leader": None, "sync_status": None,
        },
    }


def _when(moment: datetime) -> str | None:
    return iso(moment)


def series(period: str, resolution: str, since: datetime, until: datetime,
           requests: dict[datetime, m.RequestTotals], resources: dict[datetime, m.Resources]) -> dict[str, Any]:
    """Buckets where something was measured; `throughput` in requests per minute of the bucket (of the part of it
    that has passed, for the current one), `error_rate` = 5xx / requests, latencies in milliseconds."""
    width = m.RESOLUTIONS[resolution]
    throughput, latency, errors = [], [], []
    for moment, totals in requests.items():
        minutes = max(min(width, until - moment).total_seconds() / 60, 1 / 60)
        throughput.append({"timestamp": _when(moment), "value": round(totals.requests / minutes, 3),
                           "requests": totals.requests})
        figures = totals.latency()
        latency.append({"timestamp": _when(moment), "p50": figures.p50, "p90": figures.p90, "p95": figures.p95,
                        "p99": figures.p99, "avg": figures.avg, "max": figures.max})
        errors.append({"timestamp": _when(moment),
                       "value": round(totals.server_errors / totals.requests, 5) if totals.requests else None})
    return {
        "period": period, "resolution": resolution, "from": _when(since), "to": _when(until),
        "metrics": {
            "throughput": throughput, "latency": latency, "error_rate": errors,
            "resource_usage": [{"timestamp": _when(moment), "cpu": r.cpu, "memory": r.memory, "disk": r.disk}
                               for moment, r in resources.items()],
        },
    }


def diagnostics(row: DiagnosticReportRow) -> dict[str, Any]:
    from core.system.diagnostics import ESTIMATED_TIME_S

    return {"report_id": row.id, "status": row.status,
            "estimated_time": ESTIMATED_TIME_S if row.status == "generating" else 0,
            "download_url": f"/api/system/diagnostics/{row.id}/download", "created_at": iso(row.created_at),
            "size": row.size, **({"error": row.error} if row.error else {})}
