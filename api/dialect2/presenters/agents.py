"""Agent resources and agent metrics (`/api/v2/agents`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from api.common.dates import iso
from api.common.visible import shown, withheld
from api.dialect2.jsonapi import BASE, to_one
from core.agents import figures
from core.agents.agents import AgentMetricsReport
from core.agents.state import AgentState


def agent(state: AgentState) -> dict[str, Any]:
    """A configuration withheld from the caller is null and named in `meta.redacted`."""
    spec = state.spec
    metrics = state.metrics
    body: dict[str, Any] = {
        "id": spec.id,
        "type": "agent",
        "attributes": {
            "name": spec.name, "agentType": spec.type, "status": state.status.value, "role": spec.role,
            "capabilities": spec.capabilities, "executor": spec.executor,
            "configuration": shown(state, "config", spec.config), "metadata": spec.metadata,
            "owner": spec.owner, "sharedWith": spec.shared_with,
            "metrics": {"tasksCompleted": metrics.tasks_completed, "tasksFailed": metrics.tasks_failed,
                        "avgResponseTime": None if metrics.average_time_ms is None else round(metrics.average_time_ms),
                        "successRate": None if metrics.success_rate is None else round(metrics.success_rate, 4)},
            "queueSize": len(state.queue),
            "createdAt": iso(spec.created_at), "updatedAt": iso(state.updated_at or spec.created_at),
            "terminatedAt": iso(state.terminated_at),
        },
        "relationships": {"swarm": to_one("swarm", spec.swarm_id),
                          "currentTask": to_one("task", state.current_task.id if state.current_task else None)},
        "links": {"self": f"{BASE}/agents/{spec.id}", "metrics": f"{BASE}/agents/{spec.id}/metrics"},
    }
    if state.redacted:
        body["meta"] = {"redacted": withheld(state, {"config": "configuration"})}
    return body


def agent_metrics(report: AgentMetricsReport, groups: list[str] | None = None) -> dict[str, Any]:
    """`GET /api/v2/agents/{id}/metrics`: `groups` (the `metrics` parameter) picks performance/resource/
    coordination. The spec's `tasksFaild` and `messagessSent` are spelled correctly here."""
    metrics = {
        "performance": {"tasksCompleted": report.tasks_completed, "tasksFailed": report.tasks_failed,
                        "avgCompletionTime": report.avg_completion_ms, "successRate": report.success_rate},
        "resource": {
            # CPU seconds per active second over the timeframe: measured. memoryUsage would be a share of a
            # limit nobody set: null; the measured peak (MB) is memoryPeak.
            "cpuUsage": figures.cpu_usage(report.cpu_time_s, report.active_ms),
            "memoryUsage": None, "memoryPeak": report.memory_peak_mb, "cpuTime": report.cpu_time_s,
            "activeTime": report.active_ms,
        },
        # Agents do not send messages of their own and nothing scores coordination: null, not made up.
        "coordination": {"messagesSent": None, "messagesReceived": report.messages_received,
                         "coordinationScore": None},
    }
    if groups:
        metrics = {name: value for name, value in metrics.items() if name in groups}
    return {"agentId": report.agent_id, "timeframe": report.timeframe, "metrics": metrics,
            "timeline": [{**point, "timestamp": iso(point["timestamp"]) if isinstance(point.get("timestamp"), datetime)
                          else point.get("timestamp")} for point in report.timeline]}
