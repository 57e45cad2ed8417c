"""System health (`/api/health`)."""

from __future__ import annotations

from typing import Any

from core.system.health import ComponentHealth, SystemHealth


def component(item: ComponentHealth) -> dict[str, Any]:
    """`responseTime` in milliseconds; a failed check names the error's kind instead."""
    if item.status != "healthy":
        return {"status": item.status, "error": item.error}
    body: dict[str, Any] = {"status": item.status}
    if item.target is not None:
        body["target"] = item.target
    body["responseTime"] = item.response_time_ms
    return body


def health(report: SystemHealth, *, detailed: bool) -> dict[str, Any]:
    """The status for everyone; the components (timings, Temporal's address, errors) only when `detailed`."""
    body: dict[str, Any] = {"status": "healthy" if report.healthy else "unhealthy"}
    if detailed:
        body["components"] = {name: component(c) for name, c in report.components.items()}
    return body
