"""Agents (`/api/agents`): list items, detail, creation, termination and health."""

from __future__ import annotations

from typing import Any

from api.common.dates import iso
from api.common.visible import shown, withheld
from api.dialect1.presenters.units import seconds
from core.agents import figures
from core.agents.agents import AgentHealth
from core.agents.state import AgentState


def _metrics(state: AgentState, *, detail: bool) -> dict[str, Any]:
    metrics = state.metrics
    body: dict[str, Any] = {"tasks_completed": metrics.tasks_completed, "tasks_failed": metrics.tasks_failed,
                            "success_rate": None if metrics.success_rate is None else round(metrics.success_rate, 4),
                            "average_time": seconds(metrics.average_time_ms)}
    if detail:
        body["tasks_cancelled"] = metrics.tasks_cancelled
        body["resource_usage"] = {"cpu": figures.last_task_cpu_share(state), "memory": metrics.last_memory_mb}
    return body


def agent(state: AgentState, *, detail: bool = False) -> dict[str, Any]:
    """A list item (`current_task` is an id) or, with `detail`, `GET /api/agents/{id}` (`current_task` is
    `{id, description, progress}`, plus history, resource use, config and metadata). A config withheld from the
    caller is null and named in `redacted`."""
    spec = state.spec
    current = state.current_task
    body: dict[str, Any] = {"id": spec.id, "name": spec.name, "type": spec.type, "status": state.status.value,
                            "capabilities": spec.capabilities, "swarm_id": spec.swarm_id, "role": spec.role,
                            "owner": spec.owner, "shared_with": spec.shared_with}
    if detail:
        body["current_task"] = None if current is None else {
            "id": current.id, "description": current.description, "progress": current.progress}
        body["queue_size"] = len(state.queue)
        body["history"] = [{"task_id": h.task_id, "completed_at": iso(h.completed_at),
                            "duration": seconds(h.duration_ms), "result": h.result} for h in reversed(state.history)]
    else:
        body["current_task"] = current.id if current else None
    body["metrics"] = _metrics(state, detail=detail)
    if detail:
        body["config"] = shown(state, "config", spec.config)
        body["metadata"] = spec.metadata
        body["executor"] = spec.executor
        if state.redacted:
            body["redacted"] = withheld(state, {"config": "config"})
    body["created_at"] = iso(spec.created_at)
    body["updated_at"] = iso(state.updated_at or spec.created_at)
    return body


def agent_created(state: AgentState) -> dict[str, Any]:
    """`POST /api/agents`: the spec's create response, plus what the caller sent that it does not echo."""
    spec = state.spec
    return {"id": spec.id, "name": spec.name, "type": spec.type, "status": state.status.value,
            "capabilities": spec.capabilities, "config": shown(state, "config", spec.config),
            "metadata": spec.metadata, "swarm_id": spec.swarm_id, "executor": spec.executor, "owner": spec.owner,
            "shared_with": spec.shared_with, "created_at": iso(spec.created_at)}


def agent_terminated(state: AgentState) -> dict[str, Any]:
    return {"message": "Agent terminated successfully", "agent_id": state.spec.id, "final_status": state.status.value,
            "terminated_at": iso(state.terminated_at)}


def health(report: AgentHealth) -> dict[str, Any]:
    return {"agent_id": report.agent_id, "status": report.status, "checks": report.checks,
            # uptime in seconds, memory_usage in MB (the last task's peak), cpu_usage a share (see the package doc)
            "metrics": {"uptime": report.metrics.get("uptime"), "memory_usage": report.metrics.get("memory_usage"),
                        "cpu_usage": report.metrics.get("cpu_usage"), "queue_size": report.metrics.get("queue_size")},
            "last_heartbeat": iso(report.last_heartbeat)}
