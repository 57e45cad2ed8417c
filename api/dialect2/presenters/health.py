"""System health (`/api/v2/system/health`): `{status, timestamp, version, uptime, components: {name: {status,
responseTime, ...}}}`."""

from __future__ import annotations

from typing import Any

from api.common.dates import now_iso
from core.system.health import ComponentHealth, SystemHealth
from core.system.version import package_version


def component(item: ComponentHealth) -> dict[str, Any]:
    """`responseTime` in milliseconds, measured for failed checks too; a failure names the error's kind."""
    body: dict[str, Any] = {"status": item.status}
    if item.target is not None:
        body["target"] = item.target
    if item.response_time_ms is not None:
        body["responseTime"] = item.response_time_ms
    if item.error is not None:
        body["error"] = item.error
    if item.details:
        body.update(item.details)
    return body


def health(report: SystemHealth, *, uptime_ms: int, detailed: bool) -> dict[str, Any]:
    """Status and time for everyone; version, uptime and components (timings, Temporal's address, errors) only when
    `detailed`. Components that are not configured (no REDIS_URL: no cache) are not listed."""
    body: dict[str, Any] = {"status": report.status, "timestamp": now_iso()}
    if detailed:
        body.update(version=package_version(), uptime=uptime_ms,
                    components={name: component(c) for name, c in report.components.items()
                                if c.status != "not_configured"})
    return body
