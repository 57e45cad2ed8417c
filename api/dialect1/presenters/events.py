"""Events as dialect 1's `/ws` sends them (claude-flow-api.md § WebSocket Events, docs/events.md): `{type, id, data}`
with snake_case `data` and a `timestamp`; the nine types of the spec in its shapes, everything else with its
recorded fields (snake_case) plus the resource's id. Durations are in seconds, as everywhere in dialect 1."""

from __future__ import annotations

import re
from typing import Any

from core.events.audience import Audience, base_id, kind_of
from core.events.models import StoredEvent

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def snake(name: str) -> str:
    return _CAMEL.sub("_", name).lower()


def _seconds(ms: Any) -> float | None:
    return round(ms / 1000, 3) if isinstance(ms, int | float) else None


def _shape(event: StoredEvent) -> dict[str, Any]:
    d = event.data
    when = event.at.isoformat()
    match event.type:
        case "agent.status":
            return {"agent_id": d.get("agent_id"), "status": d.get("status"),
                    "previous_status": d.get("previous_status"), "timestamp": when}
        case "agent.task_assigned":
            return {"agent_id": d.get("agent_id"), "task_id": d.get("task_id"), "timestamp": when}
        case "agent.metrics":
            return {"agent_id": d.get("agent_id"), "metrics": d.get("metrics") or {}, "timestamp": when}
        case "task.progress":
            return {"task_id": d.get("task_id"), "progress": d.get("progress"),
                    "estimated_completion": d.get("estimated_completion"), "timestamp": when}
        case "task.completed":
            return {"task_id": d.get("task_id"), "result": d.get("result"), "duration": _seconds(d.get("duration")),
                    "timestamp": when}
        case "task.failed":
            return {"task_id": d.get("task_id"), "error": d.get("error"), "retry_count": d.get("retry_count"),
                    "timestamp": when}
        case "swarm.topology_changed":
            return {"swarm_id": d.get("swarm_id"), "topology": d.get("topology"),
                    "previous_topology": d.get("previous_topology"), "reason": d.get("reason"), "timestamp": when}
        case "swarm.agent_joined":
            return {"swarm_id": d.get("swarm_id"), "agent_id": d.get("agent_id"), "role": d.get("role"),
                    "timestamp": when}
        case "swarm.progress":
            return {"swarm_id": d.get("swarm_id"), "progress": d.get("progress"),
                    "tasks_completed": d.get("tasks_completed"), "tasks_remaining": d.get("tasks_remaining"),
                    "timestamp": when}
    data = {snake(k): v for k, v in d.items()}
    kind = kind_of(event.resource_id)
    if kind is not None:
        data.setdefault(f"{kind}_id", base_id(event.resource_id))
    data["timestamp"] = when
    return data


def event(item: StoredEvent, who: Audience) -> dict[str, Any]:
    """One event message. Run events carry `workflow_id` too, so `workflows` subscribers know which."""
    data = _shape(item)
    if who.kind == "run" and who.workflow_id:
        data.setdefault("workflow_id", who.workflow_id)
    return {"type": item.type, "id": item.id, "data": data}


def gap(since: int, oldest: int) -> dict[str, Any]:
    return {"type": "gap", "id": oldest - 1, "data": {
        "reason": "expired", "since": since, "oldest_id": oldest,
        "message": f"events after {since} up to {oldest - 1} are no longer kept; resuming from {oldest}"}}
