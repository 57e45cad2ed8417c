"""System health (`/api/v2/system/health`)."""

from __future__ import annotations

from typing import Any

from api.common.dates import now_iso
from core.system.health import ComponentHealth, SystemHealth

VERSION = "0.1.0"


def component(item: ComponentHealth) -> dict[str, Any]:
    """`responseTime` in milliseconds; a failed check names the error's kind instead."""
    if item.status != "healthy":
        return {"status": item.status, "error": item.error}
    body: dict[str, Any] = {"status": item.status}
    if item.target is not None:
        body["target"] = item.target
    body["responseTime"] = item.response_time_ms
    return body


def health(report: SystemHealth, *, uptime_ms: int, detailed: bool) -> dict[str, Any]:
    """Status and time for everyone; version, uptime and components (timings, Temporal's address, errors) only when
    `detailed`."""
    body: dict[str, Any] = {"status": "healthy" if report.healthy else "degraded", "timestamp": now_iso()}
    if detailed:
        body.update(version=VERSION, uptime=uptime_ms,
                    components={name: component(c) for name, c in report.components.items()})
    return body
