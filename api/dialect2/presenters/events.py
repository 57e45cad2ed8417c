"""Events as dialect 2's streams send them (stellarflow-api.md § WebSocket Events, docs/events.md):
`{type, id, timestamp, data}` with camelCase `data`. The spec's three types are renamed and shaped as it shows
(`swarm.status` → `swarm.status.changed`, `agent.task_assigned` → `agent.task.assigned`, `task.progress`); every
other event keeps its recorded type with its fields in camelCase; a run's log lines are `step.log`."""

from __future__ import annotations

import re
from typing import Any

from core.events.audience import Audience, base_id, kind_of
from core.events.models import StoredEvent

_SNAKE = re.compile(r"_([a-z0-9])")
RENAMED = {"swarm.status": "swarm.status.changed", "agent.task_assigned": "agent.task.assigned"}


def camel(name: str) -> str:
    return _SNAKE.sub(lambda m: m.group(1).upper(), name)


def _data(event: StoredEvent, who: Audience, extra: dict[str, Any]) -> dict[str, Any]:
    d = event.data
    match event.type:
        case "swarm.status":
            return {"swarmId": d.get("swarm_id"), "previousStatus": d.get("previous_status"),
                    "currentStatus": d.get("status"), "agents": extra.get("agents")}
        case "agent.task_assigned":
            return {"agentId": d.get("agent_id"), "taskId": d.get("task_id"),
                    "taskDescription": extra.get("task_description"), "estimatedTime": None}
        case "task.progress":
            return {"taskId": d.get("task_id"), "progress": d.get("progress"), "currentPhase": None,
                    "message": None, "estimatedCompletion": d.get("estimated_completion")}
    data = {camel(k): v for k, v in d.items()}
    kind = kind_of(event.resource_id)
    if kind is not None:
        data.setdefault(f"{kind}Id", base_id(event.resource_id))
    return data


def event(item: StoredEvent, who: Audience, **extra: Any) -> dict[str, Any]:
    return {"type": RENAMED.get(item.type, item.type), "id": item.id, "timestamp": item.at.isoformat(),
            "data": _data(item, who, extra)}


def gap(since: int, oldest: int) -> dict[str, Any]:
    return {"type": "stream.gap", "id": oldest - 1, "timestamp": None, "data": {
        "reason": "expired", "since": since, "oldestId": oldest,
        "message": f"events after {since} up to {oldest - 1} are no longer kept; resuming from {oldest}"}}
