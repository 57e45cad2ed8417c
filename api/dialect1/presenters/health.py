"""System health (`/api/health`): the spec's `{status, timestamp, checks: [{name, status, response_time}]}`."""

from __future__ import annotations

from typing import Any

from api.common.dates import now_iso
from core.system.health import ComponentHealth, SystemHealth

CHECK_STATUS = {"healthy": "pass", "degraded": "warn", "unhealthy": "fail"}


def check(name: str, item: ComponentHealth) -> dict[str, Any]:
    """`response_time` in milliseconds, measured for failed checks too; a failure names the error's kind."""
    body: dict[str, Any] = {"name": name, "status": CHECK_STATUS[item.status], "response_time": item.response_time_ms}
    if item.target is not None:
        body["target"] = item.target
    if item.error is not None:
        body["error"] = item.error
    if item.details:
        body["details"] = item.details
    return body


def health(report: SystemHealth, *, detailed: bool) -> dict[str, Any]:
    """Status and time for everyone; the checks (timings, Temporal's address, errors) only when `detailed`.
    Components that are not configured (no REDIS_URL: no cache) are not listed."""
    body: dict[str, Any] = {"status": report.status, "timestamp": now_iso()}
    if detailed:
        body["checks"] = [check(name, c) for name, c in report.components.items() if c.status in CHECK_STATUS]
    return body
